//! `oxide-bench gitops`: on a generated repository of 20,000 files, make a proposal branch,
//! apply a 10-file intent and commit — `gitops::prepare_branch` (git2, object database only)
//! against the fastest git CLI way to make the same commit without a checkout, in the same
//! run: plumbing on a temporary index (`read-tree`, `hash-object`, `update-index`,
//! `write-tree`, `commit-tree`, `update-ref`; [`crate::fixture::plumbing_commit`]). Both make
//! the very same commit (same id, checked). Reports medians and the ratio (target ≤ 1.0).

use std::path::Path;
use std::time::{Duration, Instant};

use git2::{Oid, Repository, Signature};
use oxide_core::gitops::{self, BotIdentity};
use oxide_core::proposal::{
    Base, Bundle, Intent, Op, Provenance, Synthesizer, BUNDLE_SCHEMA_VERSION,
};

use crate::fixture::{err, git, plumbing_commit, Person};

const DIRS: usize = 200;
const FILES_PER_DIR: usize = 100;
const EDITED: usize = 10;
const ROUNDS: usize = 5;

fn file_path(d: usize, f: usize) -> String {
    format!("pkg{d:03}/mod{f:03}.txt")
}

fn content(d: usize, f: usize) -> String {
    format!("# generated file {d}/{f}\nname = \"pkg{d}-mod{f}\"\nvalue = 1\nenabled = true\n")
}

/// A repository whose `main` holds DIRS × FILES_PER_DIR files, written straight into the
/// object database, with the working tree checked out by `git reset --hard` (like a user's).
fn generate(dir: &Path) -> Result<Oid, String> {
    let repo = Repository::init(dir).map_err(err("init"))?;
    let mut root = repo.treebuilder(None).map_err(err("treebuilder"))?;
    for d in 0..DIRS {
        let mut sub = repo.treebuilder(None).map_err(err("treebuilder"))?;
        for f in 0..FILES_PER_DIR {
            let blob = repo.blob(content(d, f).as_bytes()).map_err(err("blob"))?;
            sub.insert(format!("mod{f:03}.txt"), blob, 0o100644)
                .map_err(err("insert"))?;
        }
        let t = sub.write().map_err(err("write tree"))?;
        root.insert(format!("pkg{d:03}"), t, 0o040000)
            .map_err(err("insert"))?;
    }
    let tree = repo
        .find_tree(root.write().map_err(err("write root"))?)
        .map_err(err("find tree"))?;
    let sig = Signature::now("Bench", "bench@oxide.invalid").map_err(err("sig"))?;
    let c = repo
        .commit(Some("refs/heads/main"), &sig, &sig, "generated", &tree, &[])
        .map_err(err("commit"))?;
    repo.set_head("refs/heads/main").map_err(err("set head"))?;
    git(dir, &["reset", "-q", "--hard", "main"])?;
    Ok(c)
}

/// The 10 edited files of round `round`.
fn targets(round: usize) -> Vec<(usize, usize)> {
    (0..EDITED)
        .map(|i| {
            (
                (i * 19 + round * 7) % DIRS,
                (i * 13 + round) % FILES_PER_DIR,
            )
        })
        .collect()
}

fn bundle(base: Oid, round: usize) -> Bundle {
    Bundle {
        schema_version: BUNDLE_SCHEMA_VERSION.into(),
        skill_digest: oxide_core::canon::sha256_bytes(b"bench-skill"),
        base: Base {
            branch: "main".into(),
            commit: base.to_string(),
        },
        intent: Intent {
            rationale: format!("bench round {round}: raise value in {EDITED} files"),
            risk_hints: vec![],
            ops: targets(round)
                .into_iter()
                .map(|(d, f)| Op::TextEdit {
                    path: file_path(d, f),
                    find: "value = 1\n".into(),
                    replace: format!("value = {}\n", round + 2),
                })
                .collect(),
        },
        provenance: Provenance {
            synthesizer: Synthesizer::Manual,
            model: None,
            model_digest: None,
            options: None,
            prompt_template_version: None,
            prompt_sha256: None,
            response_sha256: None,
        },
        created_at: "2026-11-21T05:00:00Z".into(),
        supersedes: None,
    }
}

/// The same change as new file contents for the plumbing: (path, file holding the content),
/// written under `dir`.
fn new_contents(dir: &Path, round: usize) -> Result<Vec<(String, std::path::PathBuf)>, String> {
    targets(round)
        .into_iter()
        .enumerate()
        .map(|(i, (d, f))| {
            let file = dir.join(format!("r{round}-{i}.txt"));
            let text = content(d, f).replace("value = 1\n", &format!("value = {}\n", round + 2));
            std::fs::write(&file, text).map_err(err("write a new content"))?;
            Ok((file_path(d, f), file))
        })
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

pub fn run() -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(err("tempdir"))?;
    let dir = tmp.path().join("repo");
    std::fs::create_dir_all(&dir).map_err(err("mkdir"))?;
    let t = Instant::now();
    let base = generate(&dir)?;
    eprintln!(
        "generated {} files in {:.1} s",
        DIRS * FILES_PER_DIR,
        t.elapsed().as_secs_f64()
    );
    let repo = Repository::open(&dir).map_err(err("open"))?;
    let bot = BotIdentity::default();
    let wts = tempfile::tempdir().map_err(err("tempdir"))?;

    let mut ours = Vec::new();
    let mut cli = Vec::new();
    for round in 0..ROUNDS {
        // git2: branch + apply + commit, in the object database.
        let b = bundle(base, round);
        let t = Instant::now();
        let info = gitops::prepare_branch(&repo, &format!("bench{round}"), &b, &bot)
            .map_err(|e| e.to_string())?;
        ours.push(t.elapsed());
        let changed = git(
            &dir,
            &["diff", "--name-only", &info.base_commit, &info.head_commit],
        )?;
        if changed.lines().count() != EDITED {
            return Err(format!(
                "git2 branch changed {} files",
                changed.lines().count()
            ));
        }

        // git CLI: the same commit by plumbing on a temporary index. Its inputs (the new
        // contents, the message and identities of the commit to make) are written first.
        let files = new_contents(wts.path(), round)?;
        let made = repo
            .find_commit(Oid::from_str(&info.head_commit).map_err(err("oid"))?)
            .map_err(err("find the git2 commit"))?;
        let msg_file = wts.path().join(format!("r{round}.msg"));
        std::fs::write(&msg_file, made.message_raw_bytes()).map_err(err("message"))?;
        let (author, committer) = (Person::of(&made.author()), Person::of(&made.committer()));
        let t = Instant::now();
        let commit = plumbing_commit(
            &dir,
            wts.path(),
            &base.to_string(),
            &files,
            &msg_file,
            &author,
            &committer,
            &format!("refs/heads/cli{round}"),
            "",
        )?;
        cli.push(t.elapsed());
        if commit != info.head_commit {
            return Err(format!(
                "the plumbing made commit {commit}, git2 made {}: not the same commit",
                info.head_commit
            ));
        }
        eprintln!(
            "round {round}: git2 {} ms, git plumbing {} ms",
            ms(ours[round]),
            ms(cli[round])
        );
    }
    let (omin, cmin) = (*ours.iter().min().unwrap(), *cli.iter().min().unwrap());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "?".into());
    let (o, c) = (median(ours), median(cli));
    let ratio = o.as_secs_f64() / c.as_secs_f64();
    let verdict = if ratio <= 1.0 { "met" } else { "NOT met" };
    println!(
        "gitops: git2 {} ms, git plumbing {} ms (medians of {ROUNDS}), ratio {ratio:.3} — target ≤ 1.0 {verdict}",
        ms(o),
        ms(c)
    );
    let body = format!(
        "## gitops: proposal branch + 10-file intent + commit\n\n\
         Repository: {} files ({DIRS} directories × {FILES_PER_DIR}), generated in the run. Each round \
         edits {EDITED} different files (`text_edit`). `oxide` = `gitops::prepare_branch` (git2: \
         base commit → `proposal::apply_ops` over the tree → `TreeUpdateBuilder` → bot commit \
         with trailers → branch ref; no checkout). Reference = the fastest git CLI way to make \
         the same commit without touching a working tree: plumbing on a temporary index \
         (`GIT_INDEX_FILE=tmp git read-tree <base>`, `git hash-object -w --stdin-paths` of the \
         {EDITED} new contents, `git update-index --index-info`, `git write-tree`, \
         `git commit-tree -p <base>` with the same message, author and committer, \
         `git update-ref` creating the branch); the new contents, message and identities are \
         its inputs, written beforehand and not timed. Both make the very same commit (equal \
         ids, checked every round). Medians of {ROUNDS} rounds.\n\n\
         | | oxide (git2) | git plumbing | ratio | target |\n|---|---|---|---|---|\n\
         | median | {} ms | {} ms | {ratio:.3} | ≤ 1.0 ({verdict}) |\n\
         | fastest | {} ms | {} ms | {:.3} | |\n\n\
         Load average when the run ended: {load} on 2 cores. The plumbing's cost is mostly \
         reading the base tree into a {}-entry index and writing it back; git2 writes only the \
         {EDITED} changed blobs and the trees above them.\n",
        DIRS * FILES_PER_DIR,
        ms(o),
        ms(c),
        ms(omin),
        ms(cmin),
        omin.as_secs_f64() / cmin.as_secs_f64(),
        DIRS * FILES_PER_DIR,
    );
    crate::report::write_section("gitops", &body)
}
