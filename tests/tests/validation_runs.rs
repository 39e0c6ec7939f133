//! Issue 11 item 10 through the real `oxide` binary: validation runs are owned (pid, process
//! start time, random token). Recovery deletes only worktrees of runs it marked abandoned and
//! only at `<temp dir>/<name>` — never a path from the database or git metadata; a reused pid
//! is not taken for the owner; a run taken over while it ran is not flipped back to finished.
//! The database is edited with the `sqlite3` shell (installed by scripts/setup.sh), as a local
//! attacker with the database file would.

use std::path::Path;
use std::process::{Command, Stdio};

use oxide_journeys::{git, wait_for_file, TestRepo};
use serde_json::{json, Value};

fn repo_with_checks(checks_toml: &str) -> TestRepo {
    let repo = TestRepo::with_files(&[("README.md", "# t\n"), ("src.txt", "retries = 3\n")]);
    repo.init();
    std::fs::write(repo.path().join(".oxide/checks.toml"), checks_toml).unwrap();
    git(repo.path(), &["add", ".oxide"]);
    git(repo.path(), &["commit", "-q", "-m", "governance"]);
    repo
}

fn import(repo: &TestRepo) -> String {
    let head = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string();
    let b = json!({
        "schema_version": "oxide.proposal/v1",
        "skill_digest": format!("sha256:{}", "ab".repeat(32)),
        "base": {"branch": "main", "commit": head},
        "intent": {"rationale": "Raise retries", "risk_hints": [], "ops": [
            {"op": "text_edit", "path": "src.txt", "find": "retries = 3", "replace": "retries = 5"}
        ]},
        "provenance": {"synthesizer": "manual", "model": null, "model_digest": null,
                        "options": null, "prompt_template_version": null,
                        "prompt_sha256": null, "response_sha256": null},
        "created_at": "2026-11-21T05:00:00Z"
    });
    let f = repo.data.path().join("b.json");
    std::fs::write(&f, b.to_string()).unwrap();
    repo.oxide(&["--json", "proposal", "import", f.to_str().unwrap()])
        .expect(0)
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn sql(db: &Path, statement: &str) -> String {
    let o = Command::new("sqlite3")
        .args(["-cmd", ".timeout 10000"])
        .arg(db)
        .arg(statement)
        .output()
        .expect("sqlite3 (scripts/setup.sh installs it)");
    assert!(
        o.status.success(),
        "sqlite3 {statement}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A pid with no process behind it.
fn dead_pid() -> i64 {
    (400_000..4_000_000)
        .step_by(7919)
        .find(|p| !Path::new(&format!("/proc/{p}")).exists())
        .unwrap()
}

fn start_time(pid: u32) -> i64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = stat.rsplit_once(')').unwrap().1;
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

const PASSING: &str = "[[check]]\nname = \"unit\"\nrun = [\"true\"]\nenv = [\"PATH\"]\n";

#[test]
fn recovery_never_deletes_a_path_from_the_database_or_git_metadata() {
    let repo = repo_with_checks(PASSING);
    let id = import(&repo);
    let victims = tempfile::tempdir_in("/var/tmp").unwrap();
    let (v1, v2) = (victims.path().join("db"), victims.path().join("meta"));
    for v in [&v1, &v2] {
        std::fs::create_dir_all(v.join(".git")).unwrap();
        std::fs::write(v.join("precious.txt"), "keep me").unwrap();
    }
    // A forged running run of a dead process whose worktree path is someone's folder.
    sql(
        &repo.db(),
        &format!(
            "INSERT INTO validation_runs (id, proposal_id, status, pid, worktree_name, worktree_path, started_at)
             VALUES ('forged', '{id}', 'running', {}, 'oxide-validate-forged', '{}', '2026-01-01T00:00:00Z')",
            dead_pid(),
            v1.display()
        ),
    );
    // A forged registered worktree (git metadata) of a finished run, pointing at another folder.
    let meta = repo.path().join(".git/worktrees/oxide-validate-meta");
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(meta.join("gitdir"), format!("{}/.git\n", v2.display())).unwrap();
    std::fs::write(meta.join("commondir"), "../..\n").unwrap();
    std::fs::write(meta.join("HEAD"), "ref: refs/heads/main\n").unwrap();
    sql(
        &repo.db(),
        &format!(
            "INSERT INTO validation_runs (id, proposal_id, status, pid, worktree_name, worktree_path, started_at, finished_at)
             VALUES ('old', '{id}', 'finished', 1, 'oxide-validate-meta', '{}', '2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z')",
            v2.display()
        ),
    );

    let v = repo.oxide(&["--json", "validate", &id]).expect(0).json();
    assert_eq!(v["state"], "validated", "{v:#}");
    assert_eq!(v["recovered_runs"], json!(["forged"]));
    for v in [&v1, &v2] {
        assert_eq!(
            std::fs::read_to_string(v.join("precious.txt")).unwrap(),
            "keep me",
            "{} was deleted",
            v.display()
        );
    }
    assert_eq!(
        sql(
            &repo.db(),
            "SELECT status FROM validation_runs WHERE id = 'forged'"
        ),
        "abandoned"
    );
    // The forged registration is gone (only the registration).
    assert!(!meta.exists());
    assert_eq!(git(repo.path(), &["worktree", "list"]).lines().count(), 1);
}

#[test]
fn a_reused_pid_is_not_the_owner_and_a_live_owner_keeps_its_run() {
    let repo = repo_with_checks(PASSING);
    let id = import(&repo);
    // A live process that is not oxide holds the recorded pid.
    let mut other = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = other.id();
    let start = start_time(pid);
    let insert = |run: &str, start: i64| {
        sql(
            &repo.db(),
            &format!(
                "INSERT INTO validation_runs (id, proposal_id, status, pid, worktree_name, worktree_path, started_at, owner_start, owner_token)
                 VALUES ('{run}', '{id}', 'running', {pid}, 'oxide-validate-{run}', '/nonexistent/{run}', '2026-01-01T00:00:00Z', {start}, 'aa')"
            ),
        )
    };
    // Recorded with this pid and its start time: the owner lives, the proposal is busy.
    insert("owned", start);
    let n = repo.oxide(&["--json", "status"]).expect(0).json()["audit_events"].clone();
    let r = repo.oxide(&["--json", "validate", &id]).expect(2);
    assert_eq!(r.error_code(), "CHECKS_BUSY");
    assert_eq!(
        repo.oxide(&["--json", "status"]).expect(0).json()["audit_events"],
        n,
        "the refusal wrote nothing"
    );
    // The same pid with another start time is a reused pid: that run is abandoned.
    sql(&repo.db(), "DELETE FROM validation_runs WHERE id = 'owned'");
    insert("reused", start + 1);
    let v = repo.oxide(&["--json", "validate", &id]).expect(0).json();
    assert_eq!(v["state"], "validated", "{v:#}");
    assert_eq!(v["recovered_runs"], json!(["reused"]));
    assert!(
        other.try_wait().unwrap().is_none(),
        "the other process was not touched"
    );
    other.kill().unwrap();
    other.wait().unwrap();
}

#[test]
fn a_run_taken_over_while_it_ran_is_not_flipped_back_to_finished() {
    let marks = tempfile::tempdir().unwrap();
    let (started, release) = (marks.path().join("started"), marks.path().join("release"));
    let repo = repo_with_checks(&format!(
        "[[check]]\nname = \"waits\"\nrun = \"touch {s}; while [ ! -e {r} ]; do sleep 0.05; done\"\nshell = true\nenv = [\"PATH\"]\ntimeout_s = 60\n# Talks to the test through host files.\nsandbox = false\n",
        s = started.display(),
        r = release.display()
    ));
    let id = import(&repo);
    let first = repo
        .oxide_command(&["--json", "validate", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_file(&started, "the check started");
    // What a racing recovery did: the run is marked abandoned under the running process.
    sql(
        &repo.db(),
        &format!("UPDATE validation_runs SET status = 'abandoned' WHERE proposal_id = '{id}'"),
    );
    std::fs::write(&release, "").unwrap();
    let out = first.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["code"], "CHECKS_RUN_LOST", "{v:#}");
    // Nothing of the run was recorded: still abandoned, no results, still proposed.
    assert_eq!(
        sql(
            &repo.db(),
            &format!("SELECT status FROM validation_runs WHERE proposal_id = '{id}'")
        ),
        "abandoned"
    );
    assert_eq!(sql(&repo.db(), "SELECT count(*) FROM check_results"), "0");
    let show = repo
        .oxide(&["--json", "proposal", "show", &id])
        .expect(0)
        .json();
    assert_eq!(show["state"], "proposed");
}
