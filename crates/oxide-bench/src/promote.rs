//! `oxide-bench promote`: `oxide promote` on a repository of 20,000 files against the fastest
//! git CLI way to make the same commit and move the ref, in the same run.
//!
//! Set-up per round (not timed): a manual proposal editing 10 files on the current `main`,
//! imported, validated (one required check) and approved by an approver; the promoter is a
//! lead with a key in gnome-keyring's Secret Service (run inside a D-Bus session with the
//! keyring unlocked: `scripts/bench promote`). Timed: the `oxide --json promote ID --person
//! LEAD` process (re-checks every gate, signs the commit with SSHSIG, journals the intent,
//! moves `main` by compare-and-swap, records promotion + transition + audit event, updates
//! the checked-out working tree, signs an audit checkpoint).
//!
//! Reference: git plumbing making the same commit — same tree, parent, message, author and
//! committer, SSH-signed by `git commit-tree -S` through ssh-keygen and an ssh-agent — and
//! moving a ref by compare-and-swap (`git update-ref <ref> <new> <old>`), in two forms: from
//! the tree the proposal branch already holds (`commit-tree` + `update-ref`, the fastest), and
//! rebuilding that tree from the base on a temporary index (`read-tree`, `hash-object`,
//! `update-index`, `write-tree`, `commit-tree`, `update-ref`). The reference signs with a key
//! made for this run and held only by the agent (the person's key never leaves the keyring),
//! so its commit differs from oxide's in the signature alone (checked: same tree, parent,
//! message, author, committer).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oxide_journeys::signing::SignedRepo;
use oxide_journeys::{manual_bundle, Run};
use serde_json::json;

use crate::fixture::{err, git, git_with, Person};
use crate::{report, timeline};

const DIRS: usize = 200;
const FILES_PER_DIR: usize = 100;
const EDITED: usize = 10;
const ROUNDS: usize = 5;

fn file_path(d: usize, f: usize) -> String {
    format!("pkg{d:03}/mod{f:03}.txt")
}

fn content(d: usize, f: usize, value: usize) -> String {
    format!("# generated file {d}/{f}\nname = \"pkg{d}-mod{f}\"\nvalue = {value}\nenabled = true\n")
}

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

/// An ssh-agent for this run, stopped on drop.
struct Agent {
    sock: String,
    pid: String,
}

impl Agent {
    fn start() -> Result<Agent, String> {
        let out = Command::new("ssh-agent")
            .arg("-s")
            .output()
            .map_err(err("start ssh-agent (package openssh-client)"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let var = |name: &str| {
            text.split(';')
                .find_map(|p| p.trim().strip_prefix(&format!("{name}=")))
                .map(str::to_string)
                .ok_or_else(|| format!("ssh-agent did not say {name}: {text}"))
        };
        Ok(Agent {
            sock: var("SSH_AUTH_SOCK")?,
            pid: var("SSH_AGENT_PID")?,
        })
    }

    /// Adds a key made for this run (through stdin; it is never written to a file) and
    /// returns its OpenSSH public key.
    fn add_fresh_key(&self) -> Result<String, String> {
        use std::io::Write as _;
        let key = oxide_core::signing::keys::SecretKey::generate();
        let private = key
            .to_ssh_private()
            .to_openssh(ssh_key::LineEnding::LF)
            .map_err(err("encode the reference key"))?;
        let mut child = Command::new("ssh-add")
            .arg("-q")
            .arg("-")
            .env("SSH_AUTH_SOCK", &self.sock)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(err("ssh-add"))?;
        child
            .stdin
            .take()
            .ok_or("ssh-add's stdin")?
            .write_all(private.as_bytes())
            .map_err(err("give the key to ssh-add"))?;
        let o = child.wait_with_output().map_err(err("ssh-add"))?;
        if !o.status.success() {
            return Err(format!("ssh-add: {}", String::from_utf8_lossy(&o.stderr)));
        }
        Ok(key.openssh_public("oxide-bench-reference"))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.pid).status();
    }
}

fn ok(r: Run, what: &str) -> Result<serde_json::Value, String> {
    if r.code != 0 {
        return Err(format!(
            "{what} exited {}: {}{}",
            r.code, r.stdout, r.stderr
        ));
    }
    serde_json::from_str(&r.stdout).map_err(err(what))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The parts of a commit that must match: tree, parents, author, committer, message.
fn shape(repo: &Path, commit: &str) -> Result<String, String> {
    let raw = git(repo, &["cat-file", "commit", commit])?;
    let mut out = String::new();
    let mut in_sig = false;
    for line in raw.split_inclusive('\n') {
        if line.starts_with("gpgsig ") {
            in_sig = true;
            continue;
        }
        if in_sig && line.starts_with(' ') {
            continue;
        }
        in_sig = false;
        out.push_str(line);
    }
    Ok(out)
}

pub fn run() -> Result<(), String> {
    let oxide = timeline::sibling_bin("OXIDE_BIN", "oxide")?;
    std::env::set_var("OXIDE_BIN", &oxide);
    let t = Instant::now();
    let s = SignedRepo::new(&[("ana", "approver"), ("lee", "lead")]);
    let (ana, lee) = (s.person(0).to_string(), s.person(1).to_string());
    let repo = s.repo.path().to_path_buf();
    for d in 0..DIRS {
        let dir = repo.join(format!("pkg{d:03}"));
        std::fs::create_dir_all(&dir).map_err(err("mkdir"))?;
        for f in 0..FILES_PER_DIR {
            std::fs::write(dir.join(format!("mod{f:03}.txt")), content(d, f, 1))
                .map_err(err("write a file"))?;
        }
    }
    git(&repo, &["add", "-A"])?;
    git(&repo, &["commit", "-q", "-m", "20,000 files"])?;
    eprintln!(
        "promote: repository of {} files ready in {:.1} s",
        DIRS * FILES_PER_DIR,
        t.elapsed().as_secs_f64()
    );
    let agent = Agent::start()?;
    let public = agent.add_fresh_key()?;
    let signing_key = format!("key::{public}");
    let scratch = tempfile::tempdir().map_err(err("temp dir"))?;

    let (mut ours, mut direct, mut rebuilt) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let old = git(&repo, &["rev-parse", "main"])?.trim().to_string();
        let ops: Vec<serde_json::Value> = targets(round)
            .into_iter()
            .map(|(d, f)| {
                json!({"op": "text_edit", "path": file_path(d, f),
                       "find": "value = 1\n",
                       "replace": format!("value = {}\n", 2 + round)})
            })
            .collect();
        let b = manual_bundle(
            &old,
            &oxide_journeys::signing::random_hex32(),
            &format!("bench round {round}: raise value in {EDITED} files"),
            json!(ops),
            "2026-11-21T05:00:00Z",
        );
        let f = scratch.path().join(format!("bundle-{round}.json"));
        std::fs::write(&f, b.to_string()).map_err(err("write the bundle"))?;
        let id = ok(
            s.run(&["--json", "proposal", "import", f.to_str().unwrap()], &[]),
            "proposal import",
        )?["id"]
            .as_str()
            .ok_or("no id")?
            .to_string();
        ok(
            s.run(&["--json", "validate", "--quiet", &id], &[]),
            "validate",
        )?;
        let a = ok(s.approve(&id, &ana), "approve")?;
        if a["state"] != "approved" {
            return Err(format!("the proposal is not approved: {a}"));
        }
        let branch = oxide_core::gitops::branch_name(&id);
        let branch_tree = git(&repo, &["rev-parse", &format!("{branch}^{{tree}}")])?
            .trim()
            .to_string();

        let t = Instant::now();
        let p = ok(
            s.run(&["--json", "promote", &id, "--person", &lee], &[]),
            "oxide promote",
        )?;
        ours.push(t.elapsed());
        let new = git(&repo, &["rev-parse", "main"])?.trim().to_string();
        if p["state"] != "promoted" || p["commit"].as_str() != Some(new.as_str()) {
            return Err(format!("promote did not move main to its commit: {p}"));
        }

        // The reference's inputs (not timed): the message, author and committer of oxide's
        // commit, the new contents as files.
        let made = git2::Repository::open(&repo).map_err(err("open"))?;
        let c = made
            .find_commit(git2::Oid::from_str(&new).map_err(err("oid"))?)
            .map_err(err("find the promotion commit"))?;
        let msg = scratch.path().join(format!("msg-{round}"));
        std::fs::write(&msg, c.message_raw_bytes()).map_err(err("message"))?;
        let (author, committer) = (Person::of(&c.author()), Person::of(&c.committer()));
        drop(c);
        let files: Vec<(String, PathBuf)> = targets(round)
            .into_iter()
            .enumerate()
            .map(|(i, (d, f))| {
                let p = scratch.path().join(format!("new-{round}-{i}"));
                std::fs::write(&p, content(d, f, 2 + round)).map(|_| (file_path(d, f), p))
            })
            .collect::<Result<_, _>>()
            .map_err(err("write the new contents"))?;
        let env_commit: Vec<(&str, &str)> = vec![
            ("GIT_AUTHOR_NAME", author.name.as_str()),
            ("GIT_AUTHOR_EMAIL", author.email.as_str()),
            ("GIT_AUTHOR_DATE", author.date.as_str()),
            ("GIT_COMMITTER_NAME", committer.name.as_str()),
            ("GIT_COMMITTER_EMAIL", committer.email.as_str()),
            ("GIT_COMMITTER_DATE", committer.date.as_str()),
            ("SSH_AUTH_SOCK", agent.sock.as_str()),
        ];
        let commit_tree = |tree: &str| -> Result<String, String> {
            git_with(
                &repo,
                &[
                    "-c",
                    "gpg.format=ssh",
                    "-c",
                    &format!("user.signingkey={signing_key}"),
                    "commit-tree",
                    tree,
                    "-p",
                    &old,
                    "-S",
                    "-F",
                    msg.to_str().unwrap(),
                ],
                &env_commit,
                None,
            )
        };
        let want = shape(&repo, &new)?;

        // (a) From the branch's tree: commit-tree + update-ref.
        let refname = format!("refs/bench/direct-{round}");
        git(&repo, &["update-ref", &refname, &old])?;
        let t = Instant::now();
        let commit = commit_tree(&branch_tree)?;
        git_with(&repo, &["update-ref", &refname, &commit, &old], &[], None)?;
        direct.push(t.elapsed());
        if shape(&repo, &commit)? != want {
            return Err(format!("the plumbing commit {commit} is not oxide's {new} (tree, parent, message or identities differ)"));
        }

        // (b) Rebuilding the tree from the base on a temporary index.
        let refname = format!("refs/bench/rebuilt-{round}");
        git(&repo, &["update-ref", &refname, &old])?;
        let index = scratch.path().join("tmp.index");
        let _ = std::fs::remove_file(&index);
        let idx = [("GIT_INDEX_FILE", index.to_str().unwrap())];
        let t = Instant::now();
        git_with(&repo, &["read-tree", &old], &idx, None)?;
        let paths: String = files
            .iter()
            .map(|(_, p)| format!("{}\n", p.display()))
            .collect();
        let blobs = git_with(
            &repo,
            &["hash-object", "-w", "--stdin-paths"],
            &[],
            Some(paths.as_bytes()),
        )?;
        let info: String = files
            .iter()
            .zip(blobs.lines())
            .map(|((path, _), blob)| format!("100644 {blob}\t{path}\n"))
            .collect();
        git_with(
            &repo,
            &["update-index", "--index-info"],
            &idx,
            Some(info.as_bytes()),
        )?;
        let tree = git_with(&repo, &["write-tree"], &idx, None)?;
        let commit = commit_tree(&tree)?;
        git_with(&repo, &["update-ref", &refname, &commit, &old], &[], None)?;
        rebuilt.push(t.elapsed());
        if tree != branch_tree || shape(&repo, &commit)? != want {
            return Err(format!(
                "the rebuilt tree {tree} / commit {commit} is not oxide's {new}"
            ));
        }
        eprintln!(
            "promote: round {round}: oxide promote {}, plumbing from the tree {}, rebuilt on a temporary index {}",
            ms(ours[round]),
            ms(direct[round]),
            ms(rebuilt[round])
        );
    }
    let (o, d, r) = (median(ours), median(direct), median(rebuilt));
    let body = format!(
        "## promote: `oxide promote` on a 20,000-file repository vs git plumbing\n\n\
         `scripts/bench promote` — `oxide` measured: {build}; load average {load} on 2 cores \
         at the end. Repository: {files} files ({DIRS} directories × {FILES_PER_DIR}) plus a \
         committed check contract and trust registry; `main` checked out. Each of {ROUNDS} \
         rounds promotes a proposal editing {EDITED} files on the current `main` (imported, \
         validated and approved beforehand, not timed) with the whole `oxide --json promote \
         ID --person LEAD` process: every gate re-checked, the commit signed with SSHSIG by \
         the lead's key from gnome-keyring, the intent journaled, `main` moved by \
         compare-and-swap, the promotion recorded with its transition and audit event, the \
         checked-out files updated, an audit checkpoint signed. The references make the same \
         commit (same tree, parent, message, author and committer, checked; SSH-signed by \
         `git commit-tree -S` through ssh-keygen and an ssh-agent holding a key made for the \
         run) and move a ref by compare-and-swap (`git update-ref <ref> <new> <old>`); they \
         leave the working tree alone. Medians.\n\n{table}\n\
         Ratio oxide / fastest reference: {ratio:.1}×. What the difference buys: the gates, \
         the keyring, the intent journal and the records in one database transaction, the \
         checkout of the changed files and the signed checkpoint.\n",
        build = timeline::build_of(&oxide),
        load = timeline::load_average(),
        files = DIRS * FILES_PER_DIR,
        ratio = o.as_secs_f64() / d.as_secs_f64(),
        table = report::table(
            &["", "median", "÷ plumbing from the tree"],
            &[
                vec!["`oxide promote` (process)".into(), ms(o), format!("{:.1}", o.as_secs_f64() / d.as_secs_f64())],
                vec![
                    "git plumbing from the branch's tree: `commit-tree -S`, `update-ref`".into(),
                    ms(d),
                    "1.0".into(),
                ],
                vec![
                    "git plumbing on a temporary index: `read-tree`, `hash-object`, `update-index`, `write-tree`, `commit-tree -S`, `update-ref`".into(),
                    ms(r),
                    format!("{:.1}", r.as_secs_f64() / d.as_secs_f64()),
                ],
            ],
        ),
    );
    report::write_section("promote", &body)?;
    print!("{body}");
    Ok(())
}
