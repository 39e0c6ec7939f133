//! Issue 5 journeys through the real `oxide` binary: proposal import → validate (checks in a
//! temporary worktree) → state, guard records, envelopes in the binder; timeouts, the
//! environment allow-list, SIGKILL recovery, a moved target, and the untouched checkout.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use oxide_journeys::{git, wait_for_file, TestRepo};
use serde_json::{json, Value};

/// A repository whose committed CI contract is `checks_toml`.
fn repo_with_checks(checks_toml: &str) -> TestRepo {
    let repo = TestRepo::with_files(&[
        ("README.md", "# test repo\n"),
        ("src/config.txt", "retries = 3\n"),
    ]);
    repo.init();
    std::fs::write(repo.path().join(".oxide/checks.toml"), checks_toml).unwrap();
    git(repo.path(), &["add", ".oxide"]);
    git(repo.path(), &["commit", "-q", "-m", "governance"]);
    repo
}

fn head(repo: &TestRepo) -> String {
    git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string()
}

/// Writes a manual bundle that edits src/config.txt and adds a file; returns its path.
fn bundle_file(repo: &TestRepo, name: &str, ops: Value) -> std::path::PathBuf {
    let b = json!({
        "schema_version": "oxide.proposal/v1",
        "skill_digest": format!("sha256:{}", "ab".repeat(32)),
        "base": {"branch": "main", "commit": head(repo)},
        "intent": {"rationale": format!("Raise retries ({name})"), "risk_hints": [], "ops": ops},
        "provenance": {"synthesizer": "manual", "model": null, "model_digest": null,
                        "options": null, "prompt_template_version": null,
                        "prompt_sha256": null, "response_sha256": null},
        "created_at": "2026-11-21T05:00:00Z"
    });
    let p = repo.data.path().join(format!("{name}.json"));
    std::fs::write(&p, serde_json::to_vec_pretty(&b).unwrap()).unwrap();
    p
}

fn default_ops() -> Value {
    json!([
        {"op": "text_edit", "path": "src/config.txt", "find": "retries = 3", "replace": "retries = 5"},
        {"op": "create_file", "path": "NEW.txt", "content": "hello\n"}
    ])
}

fn import(repo: &TestRepo, name: &str) -> String {
    let f = bundle_file(repo, name, default_ops());
    let r = repo
        .oxide(&["--json", "proposal", "import", f.to_str().unwrap()])
        .expect(0)
        .json();
    assert_eq!(r["state"], "proposed");
    r["id"].as_str().unwrap().to_string()
}

/// HEAD, the index file's bytes, and every working file's bytes (outside .git).
type Snapshot = (String, Vec<u8>, Vec<(String, Vec<u8>)>);

fn checkout_snapshot(dir: &Path) -> Snapshot {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push((
                    p.strip_prefix(root).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files);
    files.sort();
    (
        git(dir, &["rev-parse", "HEAD"]),
        std::fs::read(dir.join(".git/index")).unwrap(),
        files,
    )
}

fn audit_count(repo: &TestRepo) -> u64 {
    repo.oxide(&["--json", "status"]).expect(0).json()["audit_events"]
        .as_u64()
        .unwrap()
}

fn pid_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn wait_dead(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while pid_alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    !pid_alive(pid)
}

const PASSING: &str = r#"
[[check]]
name = "has-new-file"
run = ["test", "-f", "NEW.txt"]
env = ["PATH"]
timeout_s = 30

[[check]]
name = "retries-raised"
run = "grep -q 'retries = 5' src/config.txt && echo raised"
shell = true
env = ["PATH"]
timeout_s = 30
"#;

#[test]
fn workflow_validate_passes_and_leaves_the_checkout_untouched() {
    let repo = repo_with_checks(PASSING);
    std::fs::write(repo.path().join("dirty.txt"), "uncommitted work\n").unwrap();
    std::fs::write(repo.path().join("README.md"), "# edited, not staged\n").unwrap();
    let before = checkout_snapshot(repo.path());

    let id = import(&repo, "pass");
    let v = repo.oxide(&["--json", "validate", &id]).expect(0).json();
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["state"], "validated");
    let checks = v["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2);
    for c in checks {
        for k in ["name", "status", "exit_code", "duration_ms"] {
            assert!(c.get(k).is_some(), "check has {k}: {c}");
        }
        assert_eq!(c["status"], "passed", "{c}");
        assert_eq!(c["exit_code"], 0);
    }
    assert_eq!(
        checkout_snapshot(repo.path()),
        before,
        "HEAD, index and working files are byte-identical"
    );

    // The branch exists with the bot commit and trailers; no worktree is left registered.
    let branch = format!("oxide/proposals/{id}");
    let log = git(repo.path(), &["log", "-1", "--format=%an%n%B", &branch]);
    assert!(log.starts_with("O.X.I.D.E\n"), "{log}");
    assert!(log.contains("Oxide-Proposal: sha256:"), "{log}");
    assert!(log.contains("Oxide-Skill: sha256:abab"), "{log}");
    assert_eq!(git(repo.path(), &["worktree", "list"]).lines().count(), 1);

    // Read views.
    let list = repo.oxide(&["--json", "proposal", "list"]).expect(0).json();
    assert_eq!(list["proposals"][0]["id"], id.as_str());
    let only = repo
        .oxide(&["--json", "proposal", "list", "--state", "validated"])
        .expect(0)
        .json();
    assert_eq!(only["proposals"].as_array().unwrap().len(), 1);
    let none = repo
        .oxide(&["--json", "proposal", "list", "--state", "approved"])
        .expect(0)
        .json();
    assert!(none["proposals"].as_array().unwrap().is_empty());
    let bad = repo
        .oxide(&["--json", "proposal", "list", "--state", "bogus"])
        .expect(2);
    assert_eq!(bad.error_code(), "WORKFLOW_UNKNOWN_STATE");

    let show = repo
        .oxide(&["--json", "proposal", "show", &id])
        .expect(0)
        .json();
    assert_eq!(show["state"], "validated");
    assert_eq!(show["bundle"]["base"]["branch"], "main");
    assert_eq!(show["branch"]["branch"], branch.as_str());
    assert_eq!(show["checks"][1]["output"], "raised\n");

    let hist = repo
        .oxide(&["--json", "proposal", "history", &id])
        .expect(0)
        .json();
    let t = hist["transitions"].as_array().unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!(
        (t[0]["from"].as_str(), t[0]["to"].as_str()),
        (Some("discovered"), Some("proposed"))
    );
    assert_eq!(
        (t[1]["from"].as_str(), t[1]["to"].as_str()),
        (Some("proposed"), Some("validated"))
    );
    assert_eq!(t[1]["guard"], "pass_validation");
    assert_eq!(t[1]["outcome"], "passed");

    // Validating again is an illegal transition: exit 3, nothing written.
    let n = audit_count(&repo);
    let again = repo.oxide(&["--json", "validate", &id]).expect(3);
    assert_eq!(again.error_code(), "WORKFLOW_ILLEGAL_TRANSITION");
    assert_eq!(audit_count(&repo), n);
    assert_eq!(
        repo.oxide(&["--json", "audit", "verify"]).expect(0).json()["ok"],
        true
    );
}

#[test]
fn workflow_failing_check_fails_validation_and_feeds_the_binder() {
    let repo = repo_with_checks(
        r#"
[[check]]
name = "unit"
run = "echo 'assertion failed: retries'; exit 4"
shell = true
env = ["PATH"]

[[check]]
name = "style"
run = ["false"]
env = ["PATH"]
required = false
"#,
    );
    let id = import(&repo, "fail");
    let r = repo.oxide(&["--json", "validate", &id]).expect(3);
    let v = r.json();
    assert_eq!(v["state"], "failed_validation");
    assert_eq!(v["failure_reason_code"], "CHECK_FAILED");
    assert_eq!(v["checks"][0]["status"], "failed");
    assert_eq!(v["checks"][0]["exit_code"], 4);
    assert!(
        r.stderr.contains("assertion failed: retries"),
        "streamed: {}",
        r.stderr
    );

    let show = repo
        .oxide(&["--json", "proposal", "show", &id])
        .expect(0)
        .json();
    assert_eq!(show["state"], "failed_validation");
    assert_eq!(show["failure_reason_code"], "CHECK_FAILED");

    // Both envelopes reached the binder: the failure shows in its failure view.
    let q = repo
        .oxide(&[
            "--json",
            "binder",
            "query",
            "mv_recent_failures_by_taskspec",
        ])
        .expect(0)
        .json();
    let rows = q["rows"].as_array().unwrap();
    let text = serde_json::to_string(rows).unwrap();
    assert!(text.contains("CHECK_FAILED"), "{text}");
    assert!(text.contains("\"unit\""), "{text}");
}

#[test]
fn workflow_timeout_kills_the_check_and_its_children() {
    let marker = tempfile::tempdir().unwrap();
    let pidfile = marker.path().join("grandchild.pid");
    let repo = repo_with_checks(&format!(
        r#"
[[check]]
name = "hangs"
run = "sleep 300 & echo $! > {}; sleep 300"
shell = true
env = ["PATH"]
# Talks to the test through files and pids on the host: explicitly unsandboxed.
sandbox = false
timeout_s = 1
"#,
        pidfile.display()
    ));
    let id = import(&repo, "slow");
    let t0 = Instant::now();
    let v = repo.oxide(&["--json", "validate", &id]).expect(3).json();
    assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", t0.elapsed());
    assert_eq!(v["state"], "failed_validation");
    assert_eq!(v["failure_reason_code"], "CHECK_TIMEOUT");
    assert_eq!(v["checks"][0]["status"], "timed_out");
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(wait_dead(pid), "grandchild {pid} is still running");
}

#[test]
fn workflow_check_sees_only_the_allow_list() {
    let repo = repo_with_checks(
        r#"
[[check]]
name = "env"
run = ["env"]
env = ["PATH", "OXIDE_TEST_KEEP", "NOT_SET_ANYWHERE"]
"#,
    );
    let id = import(&repo, "env");
    repo.oxide_env(
        &["--json", "validate", &id],
        &[
            ("OXIDE_TEST_KEEP", "kept"),
            ("OXIDE_TEST_SECRET", "hunter2"),
        ],
    )
    .expect(0);
    let show = repo
        .oxide(&["--json", "proposal", "show", &id])
        .expect(0)
        .json();
    let out = show["checks"][0]["output"].as_str().unwrap();
    let mut names: Vec<&str> = out.lines().filter_map(|l| l.split('=').next()).collect();
    names.sort();
    assert_eq!(names, ["OXIDE_TEST_KEEP", "PATH"], "{out}");
    assert!(out.contains("OXIDE_TEST_KEEP=kept"));
    assert!(!out.contains("hunter2"));
}

#[test]
fn workflow_sigkill_mid_run_recovers_cleanly() {
    let marks = tempfile::tempdir().unwrap();
    let started = marks.path().join("started");
    let pidfile = marks.path().join("sleeper.pid");
    // First run: marks itself started and hangs. Second run: the mark exists → passes.
    let repo = repo_with_checks(&format!(
        r#"
[[check]]
name = "slow-once"
run = "if [ -e {s} ]; then exit 0; fi; sleep 120 & echo $! > {p}; touch {s}; wait"
shell = true
env = ["PATH"]
# Talks to the test through files and pids on the host: explicitly unsandboxed.
sandbox = false
timeout_s = 300
"#,
        s = started.display(),
        p = pidfile.display()
    ));
    let id = import(&repo, "kill");
    let mut child = repo
        .oxide_command(&["--json", "validate", &id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_file(&started, "the check started");
    std::thread::sleep(Duration::from_millis(100));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // No half transition: still proposed, one guard record; a worktree is left registered.
    let show = repo
        .oxide(&["--json", "proposal", "show", &id])
        .expect(0)
        .json();
    assert_eq!(show["state"], "proposed");
    assert_eq!(show["transitions"].as_array().unwrap().len(), 1);
    assert!(git(repo.path(), &["worktree", "list"]).contains("oxide-validate-"));
    let sleeper: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    // Again: the stale run is cleaned (processes, worktree, registration), then it passes.
    let v = repo.oxide(&["--json", "validate", &id]).expect(0).json();
    assert_eq!(v["state"], "validated");
    assert_eq!(v["recovered_runs"].as_array().unwrap().len(), 1);
    let wts = git(repo.path(), &["worktree", "list", "--porcelain"]);
    assert!(!wts.contains("oxide-validate-"), "{wts}");
    assert!(
        wait_dead(sleeper),
        "the killed run's process {sleeper} was cleaned up"
    );
    let kinds: Vec<String> = repo.oxide(&["--json", "audit", "list"]).expect(0).json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert!(
        kinds.contains(&"checks.run_abandoned".to_string()),
        "{kinds:?}"
    );
    assert_eq!(
        repo.oxide(&["--json", "audit", "verify"]).expect(0).json()["ok"],
        true
    );
}

#[test]
fn workflow_moved_target_supersedes_when_the_intent_breaks() {
    let repo = repo_with_checks(PASSING);
    let id = import(&repo, "moved");
    std::fs::write(repo.path().join("src/config.txt"), "retries = 4\n").unwrap();
    git(
        repo.path(),
        &["commit", "-qam", "someone else changed retries"],
    );
    let v = repo.oxide(&["--json", "validate", &id]).expect(3).json();
    assert_eq!(v["state"], "superseded");
    assert_eq!(v["failure_reason_code"], "TARGET_MOVED");
    let hist = repo
        .oxide(&["--json", "proposal", "history", &id])
        .expect(0)
        .json();
    assert_eq!(hist["transitions"][1]["guard"], "supersede");
    assert!(
        git(repo.path(), &["branch", "--list", "oxide/proposals/*"])
            .trim()
            .is_empty(),
        "no branch for a superseded proposal"
    );
}

#[test]
fn workflow_import_refuses_bad_bundles_writing_nothing() {
    let repo = repo_with_checks(PASSING);
    let n = audit_count(&repo);
    let f = bundle_file(
        &repo,
        "nomatch",
        json!([{"op": "text_edit", "path": "src/config.txt", "find": "nope", "replace": "x"}]),
    );
    let r = repo
        .oxide(&["--json", "proposal", "import", f.to_str().unwrap()])
        .expect(2)
        .json();
    assert_eq!(r["ok"], false);
    assert_eq!(r["problems"][0]["pointer"], "/intent/ops/0/find");

    let f = bundle_file(&repo, "forged", default_ops());
    let mut b: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
    b["provenance"]["synthesizer"] = json!("ollama");
    std::fs::write(&f, serde_json::to_vec(&b).unwrap()).unwrap();
    let r = repo
        .oxide(&["--json", "proposal", "import", f.to_str().unwrap()])
        .expect(2)
        .json();
    assert_eq!(r["problems"][0]["pointer"], "/provenance/synthesizer");

    let nf = repo
        .oxide(&["--json", "validate", "doesnotexist"])
        .expect(2);
    assert_eq!(nf.error_code(), "WORKFLOW_NOT_FOUND");
    assert_eq!(audit_count(&repo), n, "nothing written");
    assert!(
        repo.oxide(&["--json", "proposal", "list"]).expect(0).json()["proposals"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn workflow_without_checks_refuses_to_validate() {
    let repo = TestRepo::new();
    repo.init();
    git(repo.path(), &["add", ".oxide"]);
    git(
        repo.path(),
        &[
            "commit",
            "-q",
            "-m",
            "governance with the commented default",
        ],
    );
    std::fs::create_dir_all(repo.path().join("src")).unwrap();
    std::fs::write(repo.path().join("src/config.txt"), "retries = 3\n").unwrap();
    git(repo.path(), &["add", "src"]);
    git(repo.path(), &["commit", "-q", "-m", "src"]);
    let id = import(&repo, "nochecks");
    let r = repo.oxide(&["--json", "validate", &id]).expect(2);
    assert_eq!(r.error_code(), "CHECKS_NONE");
    let show = repo
        .oxide(&["--json", "proposal", "show", &id])
        .expect(0)
        .json();
    assert_eq!(show["state"], "proposed");
}

#[test]
fn workflow_propose_then_validate_leaves_the_checkout_untouched() {
    use oxide_journeys::fake_ollama::{Behavior, FakeOllama, DIGEST, MODEL};
    let repo = TestRepo::with_files(&[("README.md", "# demo\nhello world\n")]);
    repo.init();
    std::fs::write(
        repo.path().join(".oxide/oxide.toml"),
        format!("[synth]\nmodel = \"{MODEL}\"\nmodel_digest = \"{DIGEST}\"\nseed = 42\nnum_ctx = 8192\ntimeout_s = 5\n"),
    )
    .unwrap();
    std::fs::write(
        repo.path().join(".oxide/checks.toml"),
        "[[check]]\nname = \"greets\"\nrun = [\"grep\", \"-q\", \"hello oxide\", \"README.md\"]\nenv = [\"PATH\"]\n",
    )
    .unwrap();
    git(repo.path(), &["add", ".oxide"]);
    git(repo.path(), &["commit", "-q", "-m", "governance"]);
    let skill = repo.data.path().join("skill.json");
    std::fs::write(
        &skill,
        json!({"title": "Greet oxide", "description": "Say hello to oxide.", "source": "manual",
               "submitted_by": "ana", "targets": ["README.md"]})
        .to_string(),
    )
    .unwrap();
    let sk = repo
        .oxide(&["--json", "skill", "add", skill.to_str().unwrap()])
        .expect(0)
        .json();
    let server = FakeOllama::start(Behavior::answering(&json!({
        "rationale": "Greet oxide.",
        "risk_hints": [],
        "ops": [{"op": "text_edit", "path": "README.md", "find": "hello world", "replace": "hello oxide"}]
    })));
    // Uncommitted work in the checkout must survive both stages byte for byte.
    std::fs::write(repo.path().join("notes.txt"), "mine\n").unwrap();
    std::fs::write(
        repo.path().join("README.md"),
        "# demo\nhello world\nlocal edit\n",
    )
    .unwrap();
    let before = checkout_snapshot(repo.path());
    let p = repo
        .oxide_env(
            &["--json", "propose", "--skill", sk["id"].as_str().unwrap()],
            &[("OLLAMA_HOST", &server.host())],
        )
        .expect(0)
        .json();
    assert_eq!(p["state"], "proposed", "{p}");
    assert_eq!(checkout_snapshot(repo.path()), before, "after propose");
    let v = repo
        .oxide(&["--json", "validate", p["id"].as_str().unwrap()])
        .expect(0)
        .json();
    assert_eq!(v["state"], "validated", "{v}");
    assert_eq!(checkout_snapshot(repo.path()), before, "after validate");
}

#[test]
fn workflow_second_validate_of_a_running_proposal_is_refused() {
    let marks = tempfile::tempdir().unwrap();
    let started = marks.path().join("started");
    let release = marks.path().join("release");
    let repo = repo_with_checks(&format!(
        r#"
[[check]]
name = "waits"
run = "touch {s}; while [ ! -e {r} ]; do sleep 0.05; done"
shell = true
env = ["PATH"]
# Talks to the test through files and pids on the host: explicitly unsandboxed.
sandbox = false
timeout_s = 60
"#,
        s = started.display(),
        r = release.display()
    ));
    let id = import(&repo, "busy");
    let first = repo
        .oxide_command(&["--json", "validate", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_file(&started, "the first run's check started");
    let n = audit_count(&repo);
    let second = repo.oxide(&["--json", "validate", &id]).expect(2);
    assert_eq!(second.error_code(), "CHECKS_BUSY");
    assert_eq!(audit_count(&repo), n, "the refusal wrote nothing");
    std::fs::write(&release, "").unwrap();
    let out = first.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "validated");
}
