//! Unit tests of the policy room over the real default policy and regorus.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::*;

pub(crate) fn default_set() -> PolicySet {
    let mut files = BTreeMap::new();
    files.insert("oxide.rego".to_string(), DEFAULT_POLICY.to_string());
    files.insert(
        "oxide_test.rego".to_string(),
        DEFAULT_POLICY_TESTS.to_string(),
    );
    PolicySet::from_files(files).unwrap()
}

fn set_of(text: &str) -> PolicySet {
    let mut files = BTreeMap::new();
    files.insert("p.rego".to_string(), text.to_string());
    PolicySet::from_files(files).unwrap()
}

pub(crate) fn base_input() -> Value {
    json!({
        "version": INPUT_VERSION,
        "proposal": {
            "id": "p1",
            "digest": format!("sha256:{}", "0".repeat(64)),
            "state": "validated",
            "failure_reason_code": null,
            "ops": [{"op": "text_edit", "path": "src/a.txt", "lines_added": 1, "lines_removed": 1}],
            "touched_paths": ["src/a.txt"],
            "lines_added": 1,
            "lines_removed": 1,
            "risk_hints": []
        },
        "skill": {"digest": "sha256:1", "source": "manual", "submitted_by": "alice"},
        "provenance": {"synthesizer": "manual", "model": null, "model_digest": null},
        "validation": {"ran": true, "run_id": "r1", "branch_commit": "c1", "head_commit": "c1",
                       "checks": [{"name": "unit", "status": "passed", "required": true, "sandboxed": true}]},
        "capsules": [],
        "actor": "alice",
        "settings": {"target_branch": "main", "rollout_mode": "shadow", "fallback_mode": "strict"}
    })
}

/// A policy that allows everything, at low risk.
const ALLOW_ALL: &str = r#"package oxide
decision := {"risk": "low", "required": {"count": 1, "roles": []}, "denials": [], "warnings": [], "escalations": []}
"#;

#[test]
fn no_policy_allows_an_unvalidated_proposal() {
    let allow_all = set_of(ALLOW_ALL);
    assert_eq!(
        allow_all.evaluate("p1", &base_input()).outcome,
        Outcome::Allowed
    );
    let cases: Vec<(&str, Value)> = vec![
        ("never ran", json!({"ran": false, "checks": []})),
        (
            "no run facts",
            json!({"ran": true, "checks": base_input()["validation"]["checks"]}),
        ),
        (
            "another commit",
            json!({"ran": true, "run_id": "r1", "branch_commit": "c0", "head_commit": "c1",
                   "checks": base_input()["validation"]["checks"]}),
        ),
        (
            "no branch",
            json!({"ran": true, "run_id": "r1", "branch_commit": "c1", "head_commit": null,
                   "checks": base_input()["validation"]["checks"]}),
        ),
        (
            "only optional checks",
            json!({"ran": true, "run_id": "r1", "branch_commit": "c1", "head_commit": "c1",
                   "checks": [{"name": "lint", "status": "passed", "required": false, "sandboxed": true}]}),
        ),
        (
            "required check failed",
            json!({"ran": true, "run_id": "r1", "branch_commit": "c1", "head_commit": "c1",
                   "checks": [{"name": "unit", "status": "failed", "required": true, "sandboxed": true}]}),
        ),
    ];
    for (what, facts) in cases {
        let mut input = base_input();
        input["validation"] = facts;
        for (name, set) in [("allow-all", &allow_all), ("default", &default_set())] {
            let d = set.evaluate("p1", &input);
            assert_eq!(d.outcome, Outcome::Denied, "{name}, {what}: {d:#?}");
            assert!(
                d.denials
                    .iter()
                    .any(|x| x.policy_reason_code == NOT_VALIDATED
                        || x.policy_reason_code == "REQUIRED_CHECK_FAILED"),
                "{name}, {what}: {d:#?}"
            );
        }
        let d = allow_all.evaluate("p1", &input);
        assert_eq!(
            d.policy_reason_code.as_deref(),
            Some(NOT_VALIDATED),
            "{what}"
        );
        assert_eq!(d.denials[0].rule, "oxide.evaluator", "{what}");
    }
}

#[test]
fn default_policy_tests_pass() {
    let report = run_tests(&default_set());
    assert!(report.passed >= 9, "{report:#?}");
    assert_eq!(report.failed, 0, "{report:#?}");
}

#[test]
fn default_policy_allows_a_small_change() {
    let d = default_set().evaluate("p1", &base_input());
    assert_eq!(d.outcome, Outcome::Allowed, "{d:#?}");
    assert_eq!(d.risk, Risk::Low);
    assert_eq!(d.required.count, 1);
    assert_eq!(d.policy_reason_code, None);
    assert!(d.policy_digest.starts_with("sha256:"));
}

#[test]
fn failure_reason_code_is_carried_never_overwritten() {
    let mut input = base_input();
    input["proposal"]["failure_reason_code"] = json!("UNIT_FAILED");
    input["validation"]["checks"][0]["status"] = json!("failed");
    let d = default_set().evaluate("p1", &input);
    assert_eq!(d.outcome, Outcome::Denied);
    assert_eq!(
        d.policy_reason_code.as_deref(),
        Some("REQUIRED_CHECK_FAILED")
    );
    assert_eq!(d.failure_reason_code.as_deref(), Some("UNIT_FAILED"));
}

fn assert_policy_error(d: &Decision, needle: &str) {
    assert_eq!(d.outcome, Outcome::Denied, "{d:#?}");
    assert_eq!(d.policy_reason_code.as_deref(), Some(POLICY_ERROR));
    assert_eq!(d.risk, Risk::Critical);
    assert_eq!(d.denials.len(), 1);
    assert_eq!(d.denials[0].rule, FAIL_CLOSED_RULE);
    assert!(
        d.denials[0].message.contains(needle),
        "message {:?} should mention {needle:?}",
        d.denials[0].message
    );
}

#[test]
fn syntax_error_fails_closed() {
    let set = set_of("package oxide\n\ndecision := {\"risk\": \n");
    assert!(set.load_error().is_some());
    assert_policy_error(&set.evaluate("p", &base_input()), "does not load");
}

#[test]
fn recursion_fails_closed() {
    let set = set_of(
        "package oxide\n\nf(x) := y if { y := f(x + 1) }\n\ndecision := {\"risk\": \"low\", \"required\": {\"count\": f(1), \"roles\": []}, \"denials\": [], \"warnings\": [], \"escalations\": []}\n",
    );
    assert_policy_error(&set.evaluate("p", &base_input()), "recursion");
}

#[test]
fn rule_recursion_fails_closed() {
    let set = set_of(
        "package oxide\n\na := b\n\nb := a\n\ndecision := {\"risk\": \"low\", \"required\": {\"count\": 1, \"roles\": []}, \"denials\": [], \"warnings\": [], \"escalations\": []} if a\n",
    );
    assert_policy_error(&set.evaluate("p", &base_input()), "recursion");
}

#[test]
fn runaway_loop_hits_the_time_limit() {
    let set = set_of(
        "package oxide\n\nn := count([1 | some a in numbers.range(1, 20000); some b in numbers.range(1, 20000)])\n\ndecision := {\"risk\": \"low\", \"required\": {\"count\": 1, \"roles\": []}, \"denials\": [], \"warnings\": [], \"escalations\": []} if n > 0\n",
    );
    let t = std::time::Instant::now();
    let d = set.evaluate("p", &base_input());
    assert_policy_error(&d, "evaluating");
    assert!(t.elapsed() < EVAL_TIME_LIMIT * 4, "took {:?}", t.elapsed());
}

#[test]
fn missing_input_field_fails_closed() {
    let mut input = base_input();
    input["proposal"]
        .as_object_mut()
        .unwrap()
        .remove("touched_paths");
    assert_policy_error(&default_set().evaluate("p", &input), "touched_paths");
}

#[test]
fn policy_reading_an_absent_field_fails_closed() {
    let set = set_of(
        "package oxide\n\ndecision := {\"risk\": input.proposal.no_such_field, \"required\": {\"count\": 1, \"roles\": []}, \"denials\": [], \"warnings\": [], \"escalations\": []}\n",
    );
    assert_policy_error(&set.evaluate("p", &base_input()), "undefined");
}

#[test]
fn wrong_types_fail_closed() {
    for (decision, needle) in [
        ("\"allow\"", "wrong shape"),
        (
            "{\"risk\": \"tiny\", \"required\": {\"count\": 1, \"roles\": []}, \"denials\": [], \"warnings\": [], \"escalations\": []}",
            "wrong shape",
        ),
        (
            "{\"risk\": \"low\", \"required\": {\"count\": \"one\", \"roles\": []}, \"denials\": [], \"warnings\": [], \"escalations\": []}",
            "wrong shape",
        ),
        (
            "{\"risk\": \"low\", \"required\": {\"count\": 0, \"roles\": []}, \"denials\": [], \"warnings\": [], \"escalations\": []}",
            "between 1 and 16",
        ),
        (
            "{\"risk\": \"low\", \"required\": {\"count\": 1, \"roles\": []}, \"denials\": [{\"policy_reason_code\": \"nope nope\", \"message\": \"m\", \"rule\": \"r\"}], \"warnings\": [], \"escalations\": []}",
            "UPPER_SNAKE",
        ),
    ] {
        let set = set_of(&format!("package oxide\n\ndecision := {decision}\n"));
        assert_policy_error(&set.evaluate("p", &base_input()), needle);
    }
}

#[test]
fn digest_covers_every_file_and_its_name() {
    let a = default_set();
    let mut files = a.files().clone();
    files.insert("extra.rego".into(), "package extra\n".into());
    let b = PolicySet::from_files(files.clone()).unwrap();
    assert_ne!(a.digest(), b.digest());
    let mut renamed = files.clone();
    let t = renamed.remove("extra.rego").unwrap();
    renamed.insert("extra2.rego".into(), t);
    assert_ne!(b.digest(), PolicySet::from_files(renamed).unwrap().digest());
    assert_eq!(b.digest(), PolicySet::from_files(files).unwrap().digest());
}

#[test]
fn record_export_and_simulate_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = crate::store::Store::open(&dir.path().join("s.sqlite3")).unwrap();
    let set = default_set();
    let mut inputs = vec![];
    for lines in [1u64, 60, 150, 300] {
        let mut i = base_input();
        i["proposal"]["lines_added"] = json!(lines);
        inputs.push(i);
    }
    store
        .write(|tx| -> Result<(), PolicyError> {
            for (n, i) in inputs.iter().enumerate() {
                let d = set.evaluate(&format!("p{n}"), i);
                record(
                    tx,
                    Some(&format!("p{n}")),
                    i,
                    &d,
                    "tester",
                    "2026-01-01T00:00:00.000Z",
                )?;
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(decisions_for(store.conn(), "p2").unwrap().len(), 1);
    let snap = dir.path().join("snap.jsonl");
    assert_eq!(export_snapshot(store.conn(), &snap).unwrap(), 4);
    let entries = read_snapshot(&snap).unwrap();
    let same = simulate(&set, &entries);
    assert_eq!(same.changed, 0);
    // Raise the medium threshold: 60 lines is no longer medium; 150 still is.
    let mut files = set.files().clone();
    let text =
        files["oxide.rego"].replace("medium_change_lines := 50", "medium_change_lines := 100");
    files.insert("oxide.rego".into(), text);
    let raised = PolicySet::from_files(files).unwrap();
    let r = simulate(&raised, &entries);
    assert_eq!(r.flipped, vec![entries[1].decision_id], "{r:#?}");
    assert_eq!(r.decisions[1].changes[0], "risk: medium -> low");
    // Append-only.
    let err = store
        .conn()
        .execute("DELETE FROM policy_decisions", [])
        .unwrap_err();
    assert!(err.to_string().contains("append-only"));
    assert!(crate::audit::verify(store.conn()).unwrap().ok);
}

#[test]
fn bad_snapshot_line_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.jsonl");
    std::fs::write(&p, "{\"nope\": 1}\n").unwrap();
    let e = read_snapshot(&p).unwrap_err();
    assert_eq!(e.code(), "POLICY_BAD_SNAPSHOT");
    assert!(e.to_string().contains("line 1"));
}

#[test]
fn find_tests_reads_packages() {
    let t = find_tests(default_set().files());
    assert!(t
        .iter()
        .all(|(_, r)| r.starts_with("data.oxide_test.test_")));
    assert!(t.len() >= 9);
}

/// The committed schemas match the Rust types; `OXIDE_BLESS=1` rewrites them.
#[test]
fn schemas_in_docs_are_current() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schemas");
    let bless = std::env::var("OXIDE_BLESS").is_ok_and(|v| v == "1");
    for (name, schema) in schemas() {
        let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        let path = dir.join(name);
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == text,
            "docs/schemas/{name} is stale; regenerate with OXIDE_BLESS=1 cargo test -p oxide-core policy::tests::schemas"
        );
    }
}

#[test]
fn assembled_input_satisfies_the_contract_and_evaluates() {
    use crate::proposal::{Base, Bundle, Intent, Op, Provenance, Synthesizer};
    let bundle = Bundle {
        schema_version: crate::proposal::BUNDLE_SCHEMA_VERSION.into(),
        skill_digest: format!("sha256:{}", "1".repeat(64)),
        base: Base {
            branch: "main".into(),
            commit: "0".repeat(40),
        },
        intent: Intent {
            rationale: "r".into(),
            risk_hints: vec![],
            ops: vec![Op::CreateFile {
                path: ".github/workflows/x.yml".into(),
                content: "on: push\n".into(),
            }],
        },
        provenance: Provenance {
            synthesizer: Synthesizer::Replay,
            model: Some("m".into()),
            model_digest: Some("d".into()),
            options: None,
            prompt_template_version: None,
            prompt_sha256: None,
            response_sha256: None,
        },
        created_at: "2026-01-01T00:00:00Z".into(),
        supersedes: None,
    };
    let input = input::assemble(
        &bundle,
        "sha256:b",
        &input::ProposalMeta {
            id: Some("p".into()),
            state: crate::workflow::State::Proposed,
            failure_reason_code: None,
        },
        &|_| None,
        SkillFacts {
            digest: "sha256:s".into(),
            source: SkillSourceFact::Host,
            submitted_by: None,
        },
        ValidationFacts {
            ran: false,
            checks: vec![],
            ..Default::default()
        },
        vec![],
        "tester",
        &crate::workspace::Settings::default(),
    );
    let d = default_set().evaluate("p", &serde_json::to_value(&input).unwrap());
    assert_eq!(d.risk, Risk::Critical);
    assert_eq!(d.policy_reason_code.as_deref(), Some("GOVERNANCE_BY_OXIDE"));
    assert!(d.warnings.iter().any(|w| w.code == "CHECKS_NOT_RUN"));
}

#[test]
fn parallel_replay_keeps_snapshot_order_and_matches_sequential() {
    let set = default_set();
    let entries: Vec<SnapshotEntry> = (0..700)
        .map(|i| {
            let mut input = base_input();
            input["proposal"]["lines_added"] = json!(i % 320);
            let recorded = set.evaluate(&format!("p{i}"), &input);
            SnapshotEntry {
                version: SNAPSHOT_VERSION.into(),
                decision_id: i as i64 + 1,
                subject: format!("p{i}"),
                input,
                recorded,
            }
        })
        .collect();
    let report = simulate(&set, &entries);
    let ids: Vec<i64> = report.decisions.iter().map(|d| d.decision_id).collect();
    assert_eq!(ids, (1..=700).collect::<Vec<i64>>());
    assert_eq!(report.changed, 0);
    let sequential: Vec<SimDecision> = entries.iter().map(|e| replay_one(&set, e)).collect();
    assert_eq!(report.decisions, sequential);
}

#[cfg(unix)]
#[test]
fn symlinks_in_the_policy_folder_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("oxide.rego"), DEFAULT_POLICY).unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("extra.rego"), "package extra\n").unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("extra.rego"),
        dir.path().join("extra.rego"),
    )
    .unwrap();
    let e = PolicySet::load(dir.path()).unwrap_err();
    assert_eq!(e.code(), "POLICY_READ");
    assert!(e.to_string().contains("symbolic links"), "{e}");
}

#[test]
fn a_runtime_memory_change_is_at_least_medium_whatever_the_policy_says() {
    let mut input = base_input();
    input["proposal"]["memory"] = json!([{"namespace": "behavior", "key": "review.tone"}]);
    // The default policy escalates it to medium (two approvers) and allows it.
    let d = default_set().evaluate("p1", &input);
    assert_eq!(d.outcome, Outcome::Allowed, "{d:#?}");
    assert_eq!(d.risk, Risk::Medium, "{d:#?}");
    assert!(
        d.escalations
            .iter()
            .any(|e| e.rule == "oxide.memory_change"),
        "{d:#?}"
    );
    // A policy that knows nothing of memory and says low is denied by the evaluator.
    let d = set_of(ALLOW_ALL).evaluate("p1", &input);
    assert_eq!(d.outcome, Outcome::Denied, "{d:#?}");
    assert_eq!(
        d.policy_reason_code.as_deref(),
        Some(MEMORY_RISK_TOO_LOW),
        "{d:#?}"
    );
    assert!(
        d.denials[0].message.contains("behavior/review.tone"),
        "{d:#?}"
    );
    // Without memory entries the same policy is not touched by the rule.
    let d = set_of(ALLOW_ALL).evaluate("p1", &base_input());
    assert_eq!(d.outcome, Outcome::Allowed, "{d:#?}");
}

#[test]
fn memory_ops_are_facts_of_their_own_not_paths() {
    use crate::proposal::{MemoryNamespace, Op};
    let bundle = input::tests_bundle(vec![
        Op::TextEdit {
            path: "src/a.txt".into(),
            find: "a".into(),
            replace: "b".into(),
        },
        Op::MemorySet {
            namespace: MemoryNamespace::Personality,
            key: "tone".into(),
            value: json!("warm"),
        },
    ]);
    let facts = input::proposal_facts(&bundle, "sha256:x", &Default::default(), &|_| None);
    assert_eq!(facts.touched_paths, ["src/a.txt"]);
    assert_eq!(facts.ops.len(), 1);
    assert_eq!(
        facts.memory,
        [MemoryFact {
            namespace: "personality".into(),
            key: "tone".into()
        }]
    );
}
