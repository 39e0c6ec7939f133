//! Issue 2 journeys through the real `oxide` binary.

use oxide_journeys::{oxide_raw, TestRepo};

#[test]
fn init_then_verify_is_ok_and_idempotent() {
    let repo = TestRepo::new();
    let first = repo.init();
    let created: Vec<&str> = first["created"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for f in [
        ".oxide/oxide.toml",
        ".oxide/checks.toml",
        ".oxide/approvers.toml",
        ".oxide/policy/README.md",
        ".oxide/policy/oxide.rego",
        ".oxide/policy/oxide_test.rego",
    ] {
        assert!(created.contains(&f), "init created {f}: {created:?}");
    }
    assert!(first["db"].as_str().unwrap().ends_with("oxide.sqlite3"));
    for f in [
        ".oxide/oxide.toml",
        ".oxide/checks.toml",
        ".oxide/approvers.toml",
        ".oxide/policy",
    ] {
        assert!(repo.path().join(f).exists(), "{f} written");
    }
    let second = repo.init();
    assert_eq!(second["created"].as_array().unwrap().len(), 0, "idempotent");

    let v = repo.oxide(&["--json", "audit", "verify"]).expect(0).json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["events"], 1);
    assert!(v["first_bad_seq"].is_null());

    let st = repo.oxide(&["--json", "status"]).expect(0).json();
    assert_eq!(st["audit_events"], 1);
    assert_eq!(st["proposals"]["proposed"], 0);
    assert_eq!(st["proposals"].as_object().unwrap().len(), 12);

    let list = repo.oxide(&["--json", "audit", "list"]).expect(0).json();
    let ev = &list["events"][0];
    for k in ["seq", "ts", "actor", "kind", "subject", "prev", "hash"] {
        assert!(ev.get(k).is_some(), "audit event has {k}");
    }
    assert_eq!(ev["kind"], "workspace.init");
    assert_eq!(ev["actor"], "tester");
}

#[test]
fn tampered_payload_is_named_by_seq_with_exit_3() {
    let repo = TestRepo::new();
    repo.init();
    // Two more events: re-running init after deleting a default file records a new event.
    std::fs::remove_file(repo.path().join(".oxide/checks.toml")).unwrap();
    repo.init();
    std::fs::remove_file(repo.path().join(".oxide/approvers.toml")).unwrap();
    repo.init();
    assert_eq!(
        repo.oxide(&["--json", "audit", "verify"]).expect(0).json()["events"],
        3
    );

    // Edit seq 2's payload with the real sqlite3 tool (dropping the append-only trigger first,
    // as anyone holding the file could).
    let st = std::process::Command::new("sqlite3")
        .arg(repo.db())
        .arg("DROP TRIGGER audit_events_no_update; UPDATE audit_events SET payload = '{\"created\":[]}' WHERE seq = 2;")
        .status()
        .expect("sqlite3 tool installed");
    assert!(st.success());

    let run = repo.oxide(&["--json", "audit", "verify"]).expect(3);
    let v = run.json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["first_bad_seq"], 2);
    let human = repo.oxide(&["audit", "verify"]).expect(3);
    assert!(human.stderr.contains("event 2"), "{}", human.stderr);
}

#[test]
fn export_writes_json_lines() {
    let repo = TestRepo::new();
    repo.init();
    let out = repo.data.path().join("audit.jsonl");
    let r = repo
        .oxide(&["--json", "audit", "export", out.to_str().unwrap()])
        .expect(0)
        .json();
    assert_eq!(r["events"], 1);
    let text = std::fs::read_to_string(&out).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["seq"], 1);
    assert!(line["hash"].as_str().unwrap().starts_with("sha256:"));
}

#[test]
fn init_outside_git_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("s.sqlite3");
    let r = oxide_raw(
        dir.path(),
        &["--json", "--db", db.to_str().unwrap(), "init"],
        &[],
    )
    .expect(2);
    assert_eq!(r.error_code(), "WORKSPACE_NOT_GIT");
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("git init"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    assert!(!db.exists());
}

#[test]
fn text_file_as_db_is_refused_untouched() {
    let repo = TestRepo::new();
    let txt = repo.data.path().join("notes.txt");
    std::fs::write(&txt, "not a database\n").unwrap();
    let r = oxide_raw(
        repo.path(),
        &["--json", "--db", txt.to_str().unwrap(), "init"],
        &[],
    )
    .expect(2);
    assert_eq!(r.error_code(), "STORE_NOT_OXIDE_DB");
    assert_eq!(std::fs::read_to_string(&txt).unwrap(), "not a database\n");
    assert!(!repo.path().join(".oxide").exists(), "nothing written");
}

#[test]
fn newer_schema_is_refused_untouched() {
    let repo = TestRepo::new();
    repo.init();
    let st = std::process::Command::new("sqlite3")
        .arg(repo.db())
        .arg("PRAGMA user_version = 999; PRAGMA journal_mode = DELETE;")
        .output()
        .unwrap();
    assert!(st.status.success());
    let before = std::fs::read(repo.db()).unwrap();
    let r = repo.oxide(&["--json", "status"]).expect(2);
    assert_eq!(r.error_code(), "STORE_SCHEMA_TOO_NEW");
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("999"));
    assert_eq!(std::fs::read(repo.db()).unwrap(), before);
}

#[test]
fn unknown_command_and_flag_are_usage_errors() {
    let repo = TestRepo::new();
    let r = repo.oxide(&["--json", "frobnicate"]).expect(2);
    assert_eq!(r.error_code(), "USAGE");
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("frobnicate"));
    let r = repo.oxide(&["status", "--bogus"]).expect(2);
    assert!(r.stderr.contains("--bogus"));
    assert!(r.stdout.is_empty());
    assert!(!repo.db().exists(), "nothing written");
}

#[test]
fn workspace_defaults_to_the_repository_around_cwd() {
    let repo = TestRepo::new();
    std::fs::create_dir_all(repo.path().join("sub/dir")).unwrap();
    let xdg = repo.data.path().join("xdg");
    let r = oxide_raw(
        &repo.path().join("sub/dir"),
        &["--json", "init"],
        &[("XDG_DATA_HOME", xdg.to_str().unwrap())],
    )
    .expect(0);
    let j = r.json();
    assert_eq!(
        std::path::Path::new(j["workspace"].as_str().unwrap()),
        repo.path().canonicalize().unwrap()
    );
    assert!(
        j["db"].as_str().unwrap().starts_with(xdg.to_str().unwrap()),
        "db under XDG data dir: {j}"
    );
}
