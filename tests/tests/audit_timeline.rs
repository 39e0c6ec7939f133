//! Issue 14 journeys through the real `oxide` binary: `audit list` and `audit export` with
//! the timeline's filters, cursors, order, search and JSON Lines; bad input refused with exit
//! 2 and nothing written; `proposal history` with every step linked to its audit event.

use oxide_journeys::{git, manual_bundle, TestRepo};
use serde_json::{json, Value};

/// A repository with a passing, unsandboxed check, two imported proposals and one of them
/// validated and evaluated: events of several kinds about several subjects.
fn busy_repo() -> (TestRepo, String, String) {
    let repo = TestRepo::with_files(&[
        ("README.md", "# test repo\n"),
        ("src/config.txt", "retries = 3\n"),
    ]);
    repo.init();
    std::fs::write(
        repo.path().join(".oxide/checks.toml"),
        "[[check]]\nname = \"unit\"\nrun = [\"true\"]\nenv = [\"PATH\"]\ntimeout_s = 30\nrequired = true\nsandbox = false\n",
    )
    .unwrap();
    git(repo.path(), &["add", ".oxide"]);
    git(repo.path(), &["commit", "-q", "-m", "governance"]);
    let head = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string();
    let ops = |to: &str| {
        json!([{"op": "text_edit", "path": "src/config.txt", "find": "retries = 3",
                "replace": format!("retries = {to}")}])
    };
    let a = repo.import_bundle(
        "a",
        &manual_bundle(
            &head,
            &"ab".repeat(32),
            "Raise retries",
            ops("5"),
            "2026-11-21T05:00:00Z",
        ),
    );
    let b = repo.import_bundle(
        "b",
        &manual_bundle(
            &head,
            &"cd".repeat(32),
            "Lower retries",
            ops("1"),
            "2026-11-21T05:00:00Z",
        ),
    );
    let v = repo.oxide(&["--json", "validate", &a]).expect(0).json();
    assert_eq!(v["state"], "validated", "{v:#}");
    repo.oxide(&["--json", "policy", "eval", &a]).expect(0);
    (repo, a, b)
}

fn list(repo: &TestRepo, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--json", "audit", "list"];
    all.extend_from_slice(args);
    repo.oxide(&all).expect(0).json()["events"]
        .as_array()
        .unwrap()
        .clone()
}

fn seqs(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

#[test]
fn audit_list_filters_pages_and_streams() {
    let (repo, a, b) = busy_repo();
    let all = list(&repo, &[]);
    let n = all.len() as i64;
    assert!(n >= 8, "a mix of events: {all:#?}");
    assert_eq!(
        seqs(&all),
        (1..=n).collect::<Vec<_>>(),
        "oldest first, every event"
    );
    for k in ["seq", "ts", "actor", "kind", "subject", "prev", "hash"] {
        assert!(all[0].get(k).is_some(), "contract key {k}");
    }
    let of = |pred: &dyn Fn(&Value) -> bool| -> Vec<i64> {
        all.iter()
            .filter(|e| pred(e))
            .map(|e| e["seq"].as_i64().unwrap())
            .collect()
    };

    // Newest first and keyset pages both ways.
    let newest = list(&repo, &["--reverse", "--limit", "3"]);
    assert_eq!(seqs(&newest), vec![n, n - 1, n - 2]);
    let below = list(
        &repo,
        &[
            "--reverse",
            "--before",
            &(n - 2).to_string(),
            "--limit",
            "2",
        ],
    );
    assert_eq!(seqs(&below), vec![n - 3, n - 4]);
    let before_oldest_first = list(&repo, &["--before", "5", "--limit", "2"]);
    assert_eq!(
        seqs(&before_oldest_first),
        vec![3, 4],
        "the events just below 5"
    );
    let between = list(&repo, &["--after", "2", "--before", "6"]);
    assert_eq!(seqs(&between), vec![3, 4, 5]);

    // Kinds (repeatable), actor, subject, together.
    let admits = list(&repo, &["--kind", "workflow.admit"]);
    assert_eq!(seqs(&admits), of(&|e| e["kind"] == "workflow.admit"));
    assert_eq!(admits.len(), 2);
    let two = list(
        &repo,
        &["--kind", "workflow.admit", "--kind", "workspace.init"],
    );
    assert_eq!(
        seqs(&two),
        of(&|e| e["kind"] == "workflow.admit" || e["kind"] == "workspace.init")
    );
    assert_eq!(
        seqs(&list(&repo, &["--actor", "tester"])),
        of(&|e| e["actor"] == "tester")
    );
    assert!(list(&repo, &["--actor", "nobody"]).is_empty());
    let about_a = list(&repo, &["--subject", &a]);
    assert_eq!(seqs(&about_a), of(&|e| e["subject"] == a.as_str()));
    assert!(
        about_a.len() >= 3,
        "admit, run, validation, policy: {about_a:#?}"
    );
    let admit_b = list(
        &repo,
        &[
            "--subject",
            &b,
            "--kind",
            "workflow.admit",
            "--actor",
            "tester",
        ],
    );
    assert_eq!(admit_b.len(), 1);
    assert_eq!(admit_b[0]["subject"], b.as_str());

    // Search: word prefixes over kind, actor and subject.
    let valid = list(&repo, &["--search", "valid"]);
    assert!(!valid.is_empty());
    assert!(
        valid
            .iter()
            .all(|e| e["kind"].as_str().unwrap().contains("valid")),
        "{valid:#?}"
    );
    let prefix = &a[..6];
    assert_eq!(
        seqs(&list(&repo, &["--search", prefix])),
        of(&|e| e["subject"].as_str().unwrap().starts_with(prefix))
    );

    // Time range: every event is from now, so a range in the past is empty and one
    // starting at an event's own time starts at that event.
    assert!(list(&repo, &["--until", "2000-01-01"]).is_empty());
    assert_eq!(
        list(&repo, &["--since", "2000-01-01T00:00:00Z"]).len() as i64,
        n
    );
    let t4 = all[3]["ts"].as_str().unwrap();
    let since4 = list(&repo, &["--since", t4]);
    assert!(seqs(&since4).iter().all(|s| *s >= 4) && seqs(&since4).contains(&4));
    assert!(seqs(&list(&repo, &["--until", t4])).iter().all(|s| *s < 4));

    // JSON Lines: one event a line, no envelope, the same events.
    let out = repo.oxide(&[
        "audit",
        "list",
        "--json-lines",
        "--reverse",
        "--kind",
        "workflow.admit",
    ]);
    let out = out.expect(0);
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON event"))
        .collect();
    assert_eq!(
        seqs(&lines),
        seqs(&admits).into_iter().rev().collect::<Vec<_>>()
    );
    assert!(lines
        .iter()
        .all(|e| e.get("hash").is_some() && e.get("payload").is_some()));
}

#[test]
fn audit_export_takes_the_filters_of_list() {
    let (repo, a, _) = busy_repo();
    let file = repo.data.path().join("a.jsonl");
    let r = repo
        .oxide(&[
            "--json",
            "audit",
            "export",
            file.to_str().unwrap(),
            "--subject",
            &a,
            "--reverse",
        ])
        .expect(0)
        .json();
    let want = list(&repo, &["--subject", &a, "--reverse"]);
    assert_eq!(r["events"], want.len());
    let lines: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(seqs(&lines), seqs(&want));
    assert!(lines.iter().all(|e| e["subject"] == a.as_str()));
    // The export's lines are the events as `audit list` gives them (payload and hash too).
    assert_eq!(lines, want);
}

#[test]
fn bad_timeline_input_exits_2_and_writes_nothing() {
    let (repo, _, _) = busy_repo();
    let file = repo.data.path().join("never.jsonl");
    let cases: &[(&[&str], &str, &str)] = &[
        (&["--since", "yesterday"], "AUDIT_BAD_QUERY", "not a time"),
        (&["--until", "2026-13-40"], "AUDIT_BAD_QUERY", "not a time"),
        (
            &["--since", "2026-02-01", "--until", "2026-01-01"],
            "AUDIT_BAD_QUERY",
            "not before until",
        ),
        (
            &["--after", "5", "--before", "3"],
            "AUDIT_BAD_QUERY",
            "must be less than before",
        ),
        (
            &["--after", "4", "--before", "4"],
            "AUDIT_BAD_QUERY",
            "must be less than before",
        ),
        (&["--limit", "0"], "USAGE", "--limit 0"),
        (&["--limit", "many"], "USAGE", "invalid value"),
        (&["--limit", "-3"], "USAGE", ""),
        (
            &["--search", "***"],
            "AUDIT_BAD_QUERY",
            "no letters or digits",
        ),
        (&["--kind", ""], "AUDIT_BAD_QUERY", "empty kind"),
    ];
    for (args, code, says) in cases {
        let mut list_args = vec!["--json", "audit", "list"];
        list_args.extend_from_slice(args);
        let r = repo.oxide(&list_args).expect(2);
        assert_eq!(r.error_code(), *code, "{args:?}: {}", r.stdout);
        assert!(
            r.stderr.contains(says),
            "{args:?} says {says}: {}",
            r.stderr
        );
        let mut export_args = vec!["--json", "audit", "export", file.to_str().unwrap()];
        export_args.extend_from_slice(args);
        let r = repo.oxide(&export_args).expect(2);
        assert_eq!(r.error_code(), *code, "export {args:?}");
        assert!(!file.exists(), "export {args:?} wrote nothing");
        // JSON Lines mode refuses before printing any event.
        let mut jl = vec!["audit", "list", "--json-lines"];
        jl.extend_from_slice(args);
        let r = repo.oxide(&jl).expect(2);
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
    }
    let leftovers: Vec<_> = std::fs::read_dir(repo.data.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".oxide-export-"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary export file left");
}

#[test]
fn proposal_history_links_every_step_to_its_audit_event() {
    let (repo, a, _) = busy_repo();
    let h = repo
        .oxide(&["--json", "proposal", "history", &a])
        .expect(0)
        .json();
    // The contract's key keeps its shape: the guard records.
    let transitions = h["transitions"].as_array().unwrap();
    let guards: Vec<&str> = transitions
        .iter()
        .map(|t| t["guard"].as_str().unwrap())
        .collect();
    assert_eq!(guards, vec!["admit", "pass_validation"], "{h:#}");
    let entries = h["events"].as_array().unwrap();
    let types: Vec<&str> = entries
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    for t in ["guard", "check_run", "policy_decision"] {
        assert!(types.contains(&t), "history has a {t}: {types:?}");
    }
    // Every step names its audit event; the steps are in chain order and cover every event
    // about the proposal exactly once.
    let entry_seqs: Vec<i64> = entries
        .iter()
        .map(|e| {
            e["audit_seq"]
                .as_i64()
                .expect("each step has its audit seq")
        })
        .collect();
    let mut sorted = entry_seqs.clone();
    sorted.sort();
    assert_eq!(entry_seqs, sorted, "in chain order");
    let about = list(&repo, &["--subject", &a]);
    assert_eq!(entry_seqs, seqs(&about));
    for e in entries {
        let seq = e["audit_seq"].as_i64().unwrap();
        let ev = about.iter().find(|x| x["seq"] == seq).unwrap();
        match e["type"].as_str().unwrap() {
            "guard" => assert!(ev["kind"].as_str().unwrap().starts_with("workflow.")),
            "check_run" => {
                assert_eq!(ev["kind"], "checks.run_started");
                assert_eq!(e["run"]["run_id"], ev["payload"]["run_id"]);
                assert_eq!(e["run"]["checks"][0]["name"], "unit");
            }
            "policy_decision" => assert!(ev["kind"].as_str().unwrap().starts_with("policy.")),
            _ => {}
        }
    }
    let human = repo.oxide(&["proposal", "history", &a]).expect(0);
    assert!(human.stdout.contains("pass_validation"), "{}", human.stdout);
    let missing = repo
        .oxide(&["--json", "proposal", "history", "nope"])
        .expect(2);
    assert_eq!(missing.error_code(), "WORKFLOW_NOT_FOUND");
}
