//! Issue 3 journeys: `oxide binder ...` through the real binary, real SQLite, real git repo.

use oxide_journeys::TestRepo;
use serde_json::{json, Value};

fn envelope(n: u32, signal: &str, target: &str) -> Value {
    let mut v = json!({
        "event_id": format!("ev-{n}"),
        "sequence": n,
        "run_id": format!("run-{}", n / 10),
        "group_id": "g1",
        "task_id": format!("task-{n}"),
        "signal": signal,
        "wrapper_policy": "lenient",
        "taskspec": {
            "scope": "repo",
            "target": {"kind": "file", "id": target},
            "action": {"kind": "edit"},
        },
        "gates": [
            {"name": "unit", "version": "1.0", "status": if signal == "fail" { "fail" } else { "pass" }},
            {"name": "lint", "version": "2", "status": "pass"}
        ],
        "env": {"os": "linux"},
        "evidence_refs": [format!("ci://log/{n}")],
        "observed_at": format!("2026-10-{:02}T12:00:00Z", 1 + n % 28),
    });
    match signal {
        "fail" => v["taskspec"]["failure_reason_code"] = json!("TEST_FAILED"),
        "deny" => v["policy_reason_code"] = json!("GOVERNANCE_FILE"),
        _ => {}
    }
    v
}

fn write_lines(repo: &TestRepo, name: &str, lines: &[String]) -> String {
    let p = repo.data.path().join(name);
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p.display().to_string()
}

/// Replace the [binder] section of .oxide/oxide.toml.
fn set_binder(repo: &TestRepo, body: &str) {
    let p = repo.path().join(".oxide/oxide.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    let start = text.find("[binder]").expect("[binder] section");
    let end = text[start + 1..]
        .find("\n[")
        .map(|i| start + 1 + i + 1)
        .unwrap_or(text.len());
    let new = format!("{}[binder]\n{body}\n\n{}", &text[..start], &text[end..]);
    std::fs::write(&p, new).unwrap();
    // Settings take effect once committed on the target branch (working-tree edits are drafts).
    oxide_journeys::git(repo.path(), &["add", ".oxide"]);
    oxide_journeys::git(
        repo.path(),
        &["commit", "-q", "--allow-empty", "-m", "governance"],
    );
}

fn snapshot() -> Vec<String> {
    let mut lines: Vec<String> = (0..12)
        .map(|n| envelope(n, "fail", "src/lib.rs").to_string())
        .collect();
    lines.push(envelope(20, "pass", "src/lib.rs").to_string());
    lines.push(envelope(21, "deny", "src/main.rs").to_string());
    lines.push("{\"event_id\": \"broken".into());
    let mut no_reason = envelope(30, "fail", "src/x.rs");
    no_reason["taskspec"]
        .as_object_mut()
        .unwrap()
        .remove("failure_reason_code");
    lines.push(no_reason.to_string());
    lines
}

#[test]
fn binder_ingest_twice_second_run_all_duplicates_and_no_capsule_change() {
    let repo = TestRepo::new();
    repo.init();
    let file = write_lines(&repo, "envelopes.jsonl", &snapshot());

    let first = repo
        .oxide(&["--json", "binder", "ingest", &file])
        .expect(0)
        .json();
    assert_eq!(first["accepted"], 14, "{first}");
    assert_eq!(first["duplicates"], 0);
    assert_eq!(first["quarantined"], 2);
    let caps1 = repo
        .oxide(&["--json", "binder", "capsules"])
        .expect(0)
        .json();
    assert_eq!(caps1["capsules"].as_array().unwrap().len(), 2, "{caps1}");

    let second = repo
        .oxide(&["--json", "binder", "ingest", &file])
        .expect(0)
        .json();
    assert_eq!(second["accepted"], 0, "{second}");
    assert_eq!(second["duplicates"], 16, "every line is a duplicate");
    assert_eq!(second["quarantined"], 0);
    assert_eq!(second["capsules_touched"], 0);
    assert_eq!(second["source_digest"], first["source_digest"]);
    let caps2 = repo
        .oxide(&["--json", "binder", "capsules"])
        .expect(0)
        .json();
    assert_eq!(caps1["capsules"], caps2["capsules"], "no capsule changed");

    // One summary audit event per run, with the counts and the file digest; chain intact.
    let events = repo.oxide(&["--json", "audit", "list"]).expect(0).json();
    let ingests: Vec<&Value> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "binder.ingest")
        .collect();
    assert_eq!(ingests.len(), 2);
    assert_eq!(ingests[0]["subject"], first["source_digest"]);
    let v = repo.oxide(&["--json", "audit", "verify"]).expect(0).json();
    assert_eq!(v["ok"], true);
}

#[test]
fn binder_quarantine_lists_every_bad_line_with_code_source_and_line() {
    let repo = TestRepo::new();
    repo.init();
    let p = repo.data.path().join("bad.jsonl");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(format!("{}\n", envelope(1, "fail", "a")).as_bytes());
    bytes.extend_from_slice(b"\xc3\x28 not utf-8\n");
    bytes.extend_from_slice(format!("{{\"pad\": \"{}\"}}\n", "x".repeat(100_000)).as_bytes());
    let mut both = envelope(2, "fail", "a");
    both["reason_code"] = json!("SOMETHING_ELSE");
    bytes.extend_from_slice(format!("{both}\n").as_bytes());
    std::fs::write(&p, &bytes).unwrap();
    let r = repo
        .oxide(&["--json", "binder", "ingest", p.to_str().unwrap()])
        .expect(0)
        .json();
    assert_eq!(
        (r["accepted"].as_u64(), r["quarantined"].as_u64()),
        (Some(1), Some(3))
    );

    let q = repo
        .oxide(&["--json", "binder", "quarantine"])
        .expect(0)
        .json();
    let items = q["items"].as_array().unwrap();
    let got: Vec<(i64, &str)> = items
        .iter()
        .map(|i| (i["line"].as_i64().unwrap(), i["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            (2, "BINDER_NOT_UTF8"),
            (3, "BINDER_LINE_TOO_LONG"),
            (4, "BINDER_REASON_CODE_CONFLICT")
        ]
    );
    for i in items {
        assert_eq!(i["source"], p.to_str().unwrap());
        assert!(!i["message"].as_str().unwrap().is_empty());
    }
}

#[test]
fn binder_capsules_eligibility_and_rollout_mode_from_settings() {
    let repo = TestRepo::new();
    repo.init();
    set_binder(
        &repo,
        "rollout_mode = \"guided\"\nfallback_mode = \"strict\"\nmin_support = 5\nmin_confidence = 0.7\nstaleness_days = 36500",
    );
    let file = write_lines(&repo, "e.jsonl", &snapshot());
    repo.oxide(&["--json", "binder", "ingest", &file]).expect(0);

    let all = repo
        .oxide(&["--json", "binder", "capsules"])
        .expect(0)
        .json();
    assert_eq!(all["rollout_mode"], "guided");
    assert_eq!(all["surfacing"], "advice");
    let caps = all["capsules"].as_array().unwrap();
    let failure = caps.iter().find(|c| c["kind"] == "failure").unwrap();
    for key in [
        "upsert_key",
        "support_count",
        "contradiction_count",
        "confidence",
        "eligible",
        "last_seen_ts",
    ] {
        assert!(failure.get(key).is_some(), "contract key {key}");
    }
    assert_eq!(failure["support_count"], 12);
    assert_eq!(failure["contradiction_count"], 1);
    assert_eq!(failure["eligible"], true, "{failure}");
    let denial = caps.iter().find(|c| c["kind"] == "denial").unwrap();
    assert_eq!(denial["eligible"], false);
    assert_eq!(denial["reasons"][0]["code"], "low_support");

    let eligible = repo
        .oxide(&["--json", "binder", "capsules", "--eligible"])
        .expect(0)
        .json();
    assert_eq!(eligible["capsules"].as_array().unwrap().len(), 1);

    // Detail: support and contradictions per day add up to the counts.
    let key = failure["upsert_key"].as_str().unwrap();
    let d = repo
        .oxide(&["--json", "binder", "capsule", key])
        .expect(0)
        .json();
    let t = d["timeline"].as_array().unwrap();
    let sup: i64 = t.iter().map(|p| p["support"].as_i64().unwrap()).sum();
    let con: i64 = t
        .iter()
        .map(|p| p["contradictions"].as_i64().unwrap())
        .sum();
    assert_eq!((sup, con), (12, 1));
    let e = repo
        .oxide(&["--json", "binder", "capsule", "sha256:nope"])
        .expect(2);
    assert_eq!(e.error_code(), "BINDER_UNKNOWN_CAPSULE");

    // Stricter thresholds in the settings make the same capsule ineligible, with a reason.
    set_binder(
        &repo,
        "rollout_mode = \"prescriptive\"\nmin_support = 50\nstaleness_days = 36500",
    );
    let again = repo
        .oxide(&[
            "--json",
            "binder",
            "capsules",
            "--reason-code",
            "TEST_FAILED",
        ])
        .expect(0)
        .json();
    assert_eq!(again["surfacing"], "gate");
    assert_eq!(again["capsules"][0]["eligible"], false);
    assert_eq!(again["capsules"][0]["reasons"][0]["code"], "low_support");
}

#[test]
fn binder_query_views_are_deterministic_and_checked() {
    let repo = TestRepo::new();
    repo.init();
    let file = write_lines(&repo, "e.jsonl", &snapshot());
    repo.oxide(&["--json", "binder", "ingest", &file]).expect(0);
    for view in [
        "mv_recent_failures_by_taskspec",
        "mv_gate_rollup_by_failure_reason_code",
        "mv_guard_denials_by_policy_reason_code",
    ] {
        let a = repo
            .oxide(&["--json", "binder", "query", view])
            .expect(0)
            .json();
        let b = repo
            .oxide(&["--json", "binder", "query", view])
            .expect(0)
            .json();
        assert!(!a["rows"].as_array().unwrap().is_empty(), "{view}");
        assert_eq!(a, b, "{view}");
    }
    let rollup = repo
        .oxide(&[
            "--json",
            "binder",
            "query",
            "mv_gate_rollup_by_failure_reason_code",
            "--where",
            "gate=unit",
        ])
        .expect(0)
        .json();
    assert_eq!(
        rollup["rows"],
        json!([{"failure_reason_code": "TEST_FAILED", "gate": "unit", "envelopes": 12,
                "gate_failures": 12, "gate_passes": 0}])
    );
    let bad = repo
        .oxide(&["--json", "binder", "query", "mv_nope"])
        .expect(2);
    assert_eq!(bad.error_code(), "BINDER_UNKNOWN_VIEW");
    let bad = repo
        .oxide(&[
            "--json",
            "binder",
            "query",
            "mv_recent_failures_by_taskspec",
            "--where",
            "1=1",
        ])
        .expect(2);
    assert_eq!(bad.error_code(), "BINDER_BAD_FILTER");
}

#[test]
fn binder_fallback_mode_from_settings_changes_derivation() {
    let mut mismatch = envelope(1, "fail", "src/a.rs");
    mismatch["gates"][0]["status"] = json!("pass");
    let lines = vec![mismatch.to_string()];
    for (mode, accepted, capsules) in [("strict", 0, 0), ("hybrid", 1, 0), ("lenient", 1, 1)] {
        let repo = TestRepo::new();
        repo.init();
        set_binder(&repo, &format!("fallback_mode = \"{mode}\""));
        let file = write_lines(&repo, "m.jsonl", &lines);
        let r = repo
            .oxide(&["--json", "binder", "ingest", &file])
            .expect(0)
            .json();
        assert_eq!(r["accepted"], accepted, "{mode}: {r}");
        assert_eq!(r["fallback_mode"], mode);
        let c = repo
            .oxide(&["--json", "binder", "capsules"])
            .expect(0)
            .json();
        assert_eq!(c["capsules"].as_array().unwrap().len(), capsules, "{mode}");
        if mode == "strict" {
            let q = repo
                .oxide(&["--json", "binder", "quarantine"])
                .expect(0)
                .json();
            assert_eq!(q["items"][0]["code"], "BINDER_ANOMALY_GATE_SIGNAL_MISMATCH");
        }
    }
}

#[test]
fn binder_ingest_of_a_missing_file_is_refused_and_writes_nothing() {
    let repo = TestRepo::new();
    repo.init();
    let before = repo.oxide(&["--json", "audit", "verify"]).expect(0).json();
    let r = repo
        .oxide(&["--json", "binder", "ingest", "/nonexistent/envelopes.jsonl"])
        .expect(2);
    assert_eq!(r.error_code(), "BINDER_OPEN");
    let after = repo.oxide(&["--json", "audit", "verify"]).expect(0).json();
    assert_eq!(before["events"], after["events"], "nothing written");
}
