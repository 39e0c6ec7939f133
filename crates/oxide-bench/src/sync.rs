//! `oxide-bench sync`: `oxide sync` of 1,000 approved proposals (bundles, bundle signatures,
//! branch commits, validation runs, approvals, the device's audit chain with its checkpoint)
//! through a bare repository, against `git push` / `git fetch` of the same refs, in the same
//! run.
//!
//! Set-up (not timed), as the two-clone journey (tests/tests/sync.rs) does it: a bare
//! repository, clone 1 with an approver's key, clone 2 with a lead's, both registered in the
//! committed trust registry; on clone 1, N proposals (`OXIDE_BENCH_SYNC_PROPOSALS`, default
//! 1,000) each creating one file, imported, validated and approved. Timed: clone 1's first
//! `oxide --json sync` (endorses the device, publishes, pushes) against `git push` of the very
//! refs it pushed (`refs/oxide/devices/*`) from clone 1 to a second bare repository; then
//! clone 2's `oxide --json sync` (fetches, verifies every signature, chain and digest, applies,
//! publishes its own state) against `git fetch` of the same refs into a plain clone. Needs a
//! D-Bus session with gnome-keyring unlocked: `scripts/bench sync`.

use std::path::Path;
use std::time::{Duration, Instant};

use oxide_journeys::signing::unique_person;
use oxide_journeys::{manual_bundle, Run, TestRepo};
use serde_json::{json, Value};

use crate::fixture::{err, git};
use crate::{report, timeline};

const CHECKS: &str = "[[check]]\nname = \"unit\"\nrun = [\"true\"]\nenv = [\"PATH\"]\ntimeout_s = 30\nrequired = true\nsandbox = false\n";

fn ox(repo: &TestRepo, args: &[&str], actor: &str) -> Result<Value, String> {
    let r: Run = repo.oxide_env(args, &[("OXIDE_ACTOR", actor)]);
    if r.code != 0 {
        return Err(format!(
            "oxide {args:?} exited {}: {}{}",
            r.code, r.stdout, r.stderr
        ));
    }
    serde_json::from_str(&r.stdout).map_err(err("oxide's JSON"))
}

fn refs(dir: &Path, prefix: &str) -> Result<Vec<String>, String> {
    let out = git(
        dir,
        &["for-each-ref", "--format=%(refname) %(objectname)", prefix],
    )?;
    Ok(out.lines().map(str::to_string).collect())
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// Removes the bench persons' keyring items at the end.
struct Forget(Vec<String>);

impl Drop for Forget {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::process::Command::new("secret-tool")
                .args([
                    "clear",
                    "service",
                    "dev.oxide.review",
                    "username",
                    &format!("person:{p}"),
                ])
                .status();
        }
    }
}

pub fn run() -> Result<(), String> {
    let n: usize = std::env::var("OXIDE_BENCH_SYNC_PROPOSALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let oxide = timeline::sibling_bin("OXIDE_BIN", "oxide")?;
    std::env::set_var("OXIDE_BIN", &oxide);
    let approver = unique_person("approver");
    let lead = unique_person("lead");
    let _forget = Forget(vec![approver.clone(), lead.clone()]);

    let c1 = TestRepo::with_files(&[("README.md", "# team\n")]);
    ox(&c1, &["--json", "init"], "bench")?;
    std::fs::write(c1.path().join(".oxide/checks.toml"), CHECKS).map_err(err("checks"))?;
    ox(
        &c1,
        &["--json", "keys", "generate", "--person", &approver],
        &approver,
    )?;
    ox(
        &c1,
        &[
            "--json",
            "approvers",
            "add",
            "--person",
            &approver,
            "--name",
            &approver,
            "--role",
            "approver",
        ],
        &approver,
    )?;
    git(c1.path(), &["add", "-A"])?;
    git(
        c1.path(),
        &["commit", "-q", "-m", "governance: checks, the approver"],
    )?;
    let bare = tempfile::tempdir().map_err(err("temp"))?;
    git(bare.path(), &["init", "-q", "--bare", "-b", "main"])?;
    let url = format!("file://{}", bare.path().display());
    git(c1.path(), &["remote", "add", "origin", &url])?;
    git(c1.path(), &["push", "-q", "origin", "main"])?;
    git(
        c1.path(),
        &["branch", "-q", "--set-upstream-to=origin/main", "main"],
    )?;
    let c2 = TestRepo {
        dir: tempfile::tempdir().map_err(err("temp"))?,
        data: tempfile::tempdir().map_err(err("temp"))?,
    };
    git(c2.path(), &["clone", "-q", &url, "."])?;
    ox(&c2, &["--json", "init"], "bench")?;
    ox(
        &c2,
        &["--json", "keys", "generate", "--person", &lead],
        &lead,
    )?;
    ox(
        &c2,
        &[
            "--json",
            "approvers",
            "add",
            "--person",
            &lead,
            "--name",
            &lead,
            "--role",
            "lead",
        ],
        &lead,
    )?;
    git(c2.path(), &["add", "-A"])?;
    git(c2.path(), &["commit", "-q", "-m", "governance: the lead"])?;
    git(c2.path(), &["push", "-q", "origin", "main"])?;
    git(c1.path(), &["pull", "-q", "--ff-only"])?;
    // The plain clone the fetch reference fetches into, and the bare repository the push
    // reference pushes to, both holding main as the remote does.
    let c3 = tempfile::tempdir().map_err(err("temp"))?;
    git(c3.path(), &["clone", "-q", &url, "."])?;
    let bare2 = tempfile::tempdir().map_err(err("temp"))?;
    git(bare2.path(), &["init", "-q", "--bare", "-b", "main"])?;
    git(
        c1.path(),
        &["push", "-q", bare2.path().to_str().unwrap(), "main"],
    )?;

    let t = Instant::now();
    let base = git(c1.path(), &["rev-parse", "main"])?.trim().to_string();
    for i in 0..n {
        let b = manual_bundle(
            &base,
            &oxide_journeys::signing::random_hex32(),
            &format!("bench proposal {i}"),
            json!([{"op": "create_file", "path": format!("bench/{i:05}.txt"), "content": format!("{i}\n")}]),
            "2026-11-30T10:00:00Z",
        );
        let id = c1.import_bundle(&format!("p{i}"), &b);
        ox(&c1, &["--json", "validate", "--quiet", &id], "tester")?;
        let a = ox(
            &c1,
            &["--json", "approve", &id, "--person", &approver],
            &approver,
        )?;
        // The default policy calls a new file high risk: the approver's approval counts and
        // a lead's is still missing (clone 2's lead would give it after the sync).
        if a["decision"] != "approve" || a["counted"] != true {
            return Err(format!("proposal {i}: the approval did not count: {a}"));
        }
        if (i + 1) % 100 == 0 {
            eprintln!(
                "sync: {} proposals approved on clone 1 ({:.0} s)",
                i + 1,
                t.elapsed().as_secs_f64()
            );
        }
    }
    let setup_s = t.elapsed().as_secs_f64();

    // Clone 1 publishes: oxide sync vs git push of the same refs.
    let t = Instant::now();
    let pushed = ox(&c1, &["--json", "sync"], &approver)?;
    let sync1 = t.elapsed();
    let published = refs(bare.path(), "refs/oxide/")?;
    let t = Instant::now();
    git(
        c1.path(),
        &[
            "push",
            "-q",
            bare2.path().to_str().unwrap(),
            "refs/oxide/devices/*:refs/oxide/devices/*",
        ],
    )?;
    let push = t.elapsed();
    if refs(bare2.path(), "refs/oxide/")? != published {
        return Err("the git push reference did not push the refs oxide sync published".into());
    }

    // Clone 2 receives: oxide sync vs git fetch of the same refs.
    let t = Instant::now();
    let received = ox(&c2, &["--json", "sync", "--person", &lead], &lead)?;
    let sync2 = t.elapsed();
    let t = Instant::now();
    git(
        c3.path(),
        &[
            "fetch",
            "-q",
            "origin",
            "refs/oxide/devices/*:refs/oxide/remotes/origin/devices/*",
        ],
    )?;
    let fetch = t.elapsed();
    let (on_c2, states) = {
        let db = rusqlite::Connection::open(c2.db()).map_err(err("open clone 2's database"))?;
        let mut st = db
            .prepare("SELECT state, count(*) FROM proposals GROUP BY state ORDER BY state")
            .map_err(err("clone 2's proposals"))?;
        let rows: Vec<(String, i64)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|r| r.collect())
            .map_err(err("clone 2's proposals"))?;
        let total: i64 = rows.iter().map(|(_, c)| c).sum();
        let text = rows
            .iter()
            .map(|(s, c)| format!("{c} {s}"))
            .collect::<Vec<_>>()
            .join(", ");
        (total, text)
    };
    if on_c2 < n as i64 {
        return Err(format!(
            "clone 2 holds {on_c2} proposals after sync ({states}), expected {n}: {received}"
        ));
    }
    eprintln!(
        "sync: clone 1 oxide sync {} vs git push {}; clone 2 oxide sync {} vs git fetch {}",
        secs(sync1),
        secs(push),
        secs(sync2),
        secs(fetch)
    );
    let body = format!(
        "## sync: `oxide sync` of {n} proposals with approvals vs `git push` / `git fetch`\n\n\
         `scripts/bench sync` — `oxide` measured: {build}; load average {load} on 2 cores at \
         the end. A bare repository (`file://`) and two clones, each with its own database and \
         keyring person (an approver on clone 1, a lead on clone 2) in the committed trust \
         registry. On clone 1, {n} proposals each creating one file were imported, validated \
         (one required check) and approved by the approver (high risk: a lead's approval is \
         still missing) ({setup_s:.0} s of set-up, not timed); {refs} refs \
         under `refs/oxide/` were published. One run each (a first sync is done once).\n\n{table}\n\
         Clone 1's sync endorses the device, writes the signed state (bundles, bundle \
         signatures, validation runs, approvals, the audit chain and its checkpoint, a signed \
         manifest) and pushes; clone 2's fetches, verifies every signature, chain and digest \
         before using anything, re-admits the {n} proposals with their approvals (clone 2 \
         holds {states} after it, checked) and publishes its own state.\n\n\
         Reports: clone 1 `{pushed}`; clone 2 `{received}`.\n",
        build = timeline::build_of(&oxide),
        load = timeline::load_average(),
        refs = published.len(),
        pushed = summary(&pushed),
        received = summary(&received),
        table = report::table(
            &["", "oxide sync", "git", "ratio"],
            &[
                vec![
                    "clone 1 publishes (reference: `git push` of the same `refs/oxide/devices/*`)"
                        .into(),
                    secs(sync1),
                    secs(push),
                    format!("{:.1}", sync1.as_secs_f64() / push.as_secs_f64()),
                ],
                vec![
                    "clone 2 receives (reference: `git fetch` of the same refs into a plain clone)"
                        .into(),
                    secs(sync2),
                    secs(fetch),
                    format!("{:.1}", sync2.as_secs_f64() / fetch.as_secs_f64()),
                ],
            ],
        ),
    );
    report::write_section("sync", &body)?;
    print!("{body}");
    Ok(())
}

/// The sync report's counts (its scalar and list-length fields), for the section.
fn summary(v: &Value) -> String {
    let Some(o) = v.as_object() else {
        return v.to_string();
    };
    o.iter()
        .map(|(k, x)| match x {
            Value::Array(a) => format!("{k}: {}", a.len()),
            Value::Object(m) => format!("{k}: {{{}}}", m.len()),
            other => format!("{k}: {other}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
