//! Unit tests of the binder room: the seed's five tests (semantics_split, binder_idempotency,
//! fingerprint_stability, wrapper_fallback, query_determinism), the permutation/duplication
//! property, the quarantine rules and the published envelope schema.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::envelope::{self, Envelope};
use super::ingest::{ingest_reader, IngestOptions};
use super::*;
use crate::store::Store;
use crate::workspace::config::FallbackMode;

const NOW: &str = "2026-03-01T00:00:00.000Z";

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("state.sqlite3")).unwrap();
    (dir, s)
}

/// A valid `fail` envelope; `n` varies the idempotency key.
fn env(n: u32, signal: &str) -> Value {
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
            "target": {"kind": "file", "id": "src/lib.rs"},
            "action": {"kind": "edit"},
            "failure_reason_code": "TEST_FAILED"
        },
        "gates": [
            {"name": "unit", "version": "v1.2.0", "status": if signal == "fail" { "fail" } else { "pass" }},
            {"name": "lint", "version": "3", "status": "pass"}
        ],
        "env": {"os": "linux", "rust": "1.85"},
        "evidence_refs": [format!("log://{n}")],
        "observed_at": format!("2026-02-{:02}T10:00:00Z", 1 + n % 28)
    });
    if signal != "fail" {
        v["taskspec"]
            .as_object_mut()
            .unwrap()
            .remove("failure_reason_code");
    }
    if signal == "deny" {
        v["policy_reason_code"] = json!("GOVERNANCE_FILE");
    }
    v
}

fn lines(vals: &[Value]) -> String {
    vals.iter().map(|v| format!("{v}\n")).collect()
}

fn ingest(s: &mut Store, text: &str, mode: FallbackMode) -> IngestReport {
    let opts = IngestOptions::new("test.jsonl", "tester", mode, NOW);
    ingest_reader(s, text.as_bytes(), &opts).unwrap()
}

fn params() -> EligibilityParams {
    EligibilityParams::from_settings(
        &BinderSettings::default(),
        crate::clock::parse_ts(NOW).unwrap(),
    )
}

fn bind_one(v: &Value, mode: FallbackMode) -> Result<envelope::Binding, envelope::Rejection> {
    let e: Envelope = serde_json::from_value(v.clone()).unwrap();
    envelope::bind(e, mode, &mut envelope::gates_env)
}

#[test]
fn semantics_split() {
    // A guard denial sets policy_reason_code and keeps failure_reason_code.
    let mut d = env(1, "deny");
    d["taskspec"]["failure_reason_code"] = json!("TEST_FAILED");
    let b = bind_one(&d, FallbackMode::Strict).unwrap();
    assert_eq!(b.failure_reason_code.as_deref(), Some("TEST_FAILED"));
    assert_eq!(b.policy_reason_code.as_deref(), Some("GOVERNANCE_FILE"));

    // `reason_code` is an alias of failure_reason_code.
    let mut a = env(2, "fail");
    a["taskspec"]
        .as_object_mut()
        .unwrap()
        .remove("failure_reason_code");
    a["reason_code"] = json!("TEST_FAILED");
    let b = bind_one(&a, FallbackMode::Strict).unwrap();
    assert_eq!(b.failure_reason_code.as_deref(), Some("TEST_FAILED"));
    assert_eq!(b.policy_reason_code, None);

    // Both present and different: refused with its own code.
    let mut c = env(3, "fail");
    c["reason_code"] = json!("OTHER");
    assert_eq!(
        bind_one(&c, FallbackMode::Lenient).unwrap_err().code,
        "BINDER_REASON_CODE_CONFLICT"
    );
    // Both present and equal: fine.
    let mut c2 = env(3, "fail");
    c2["reason_code"] = json!("TEST_FAILED");
    assert!(bind_one(&c2, FallbackMode::Strict).is_ok());

    // A policy reason on a failure is refused: it would blur the split.
    let mut p = env(4, "fail");
    p["policy_reason_code"] = json!("GOVERNANCE_FILE");
    assert_eq!(
        bind_one(&p, FallbackMode::Lenient).unwrap_err().code,
        "BINDER_POLICY_REASON_WITHOUT_DENY"
    );

    // Through the store: the denial capsule keeps both codes apart.
    let (_d, mut s) = store();
    ingest(&mut s, &lines(&[d]), FallbackMode::Strict);
    let caps = capsules(s.conn(), &CapsuleFilter::default(), &params()).unwrap();
    assert_eq!(caps.len(), 1);
    assert_eq!(caps[0].kind, "denial");
    assert_eq!(caps[0].failure_reason_code.as_deref(), Some("TEST_FAILED"));
    assert_eq!(
        caps[0].policy_reason_code.as_deref(),
        Some("GOVERNANCE_FILE")
    );
    let rows = query(
        s.conn(),
        "mv_guard_denials_by_policy_reason_code",
        &QueryFilter::default(),
    )
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["policy_reason_code"], json!("GOVERNANCE_FILE"));
}

#[test]
fn binder_idempotency() {
    let (_d, mut s) = store();
    let snapshot: Vec<Value> = (0..50)
        .map(|n| env(n, if n % 5 == 0 { "pass" } else { "fail" }))
        .collect();
    let text = lines(&snapshot);
    let first = ingest(&mut s, &text, FallbackMode::Strict);
    assert_eq!(first.accepted, 50);
    assert_eq!(first.duplicates, 0);
    let dump1 = derived_dump(s.conn()).unwrap();
    let second = ingest(&mut s, &text, FallbackMode::Strict);
    assert_eq!(second.accepted, 0);
    assert_eq!(second.duplicates, 50);
    assert_eq!(second.quarantined, 0);
    assert_eq!(second.capsules_touched, 0);
    assert_eq!(dump1, derived_dump(s.conn()).unwrap());
    let n: i64 = s
        .conn()
        .query_row("SELECT count(*) FROM binder_bindings", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 50);
    // Same file digest both times; two audit events per run (started + summary).
    assert_eq!(first.source_digest, second.source_digest);
    let kinds: Vec<String> = crate::audit::list(s.conn(), None, None)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| *k == "binder.ingest").count(),
        2,
        "{kinds:?}"
    );

    // Same idempotency key with different facts: quarantined, the stored row is untouched.
    let mut changed = snapshot[1].clone();
    changed["observed_at"] = json!("2026-02-27T00:00:00Z");
    let third = ingest(&mut s, &lines(&[changed]), FallbackMode::Strict);
    assert_eq!(third.quarantined, 1);
    assert_eq!(dump1, derived_dump(s.conn()).unwrap());
    let q = quarantine(s.conn(), None).unwrap();
    assert_eq!(q[0].code, "BINDER_IDEMPOTENCY_CONFLICT");
}

#[test]
fn fingerprint_stability() {
    let a = bind_one(&env(1, "fail"), FallbackMode::Strict).unwrap();
    // Reordered gates, re-spelled versions, reordered/renamed-case env keys, volatile keys,
    // and other statuses: the same condition, the same fingerprint.
    let mut v = env(2, "fail");
    v["gates"] = json!([
        {"name": "lint", "version": " V3 ", "status": "pass"},
        {"name": "unit", "version": "1.2.0+build.7", "status": "fail"}
    ]);
    v["env"] = json!({"RUST": "1.85 ", "OS": "linux", "hostname": "ci-17", "pid": 42});
    let b = bind_one(&v, FallbackMode::Strict).unwrap();
    assert_eq!(a.fingerprint_hash, b.fingerprint_hash);
    // Stable across reruns and builds: pinned value.
    let gates = vec![
        ("lint".to_string(), "3".to_string()),
        ("unit".to_string(), "1.2.0".to_string()),
    ];
    let env_n: std::collections::BTreeMap<String, String> = [
        ("os".to_string(), "linux".to_string()),
        ("rust".to_string(), "1.85".to_string()),
    ]
    .into();
    assert_eq!(a.fingerprint_hash, envelope::fingerprint(&gates, &env_n));
    assert_eq!(
        a.fingerprint_hash,
        crate::canon::sha256_bytes(
            br#"{"env":{"os":"linux","rust":"1.85"},"fingerprint_version":1,"gates":[["lint","3"],["unit","1.2.0"]]}"#
        )
    );
    // A different version or environment is a different condition.
    let mut c = env(3, "fail");
    c["gates"][0]["version"] = json!("1.3.0");
    assert_ne!(
        a.fingerprint_hash,
        bind_one(&c, FallbackMode::Strict).unwrap().fingerprint_hash
    );
    let mut d = env(4, "fail");
    d["env"]["os"] = json!("macos");
    assert_ne!(
        a.fingerprint_hash,
        bind_one(&d, FallbackMode::Strict).unwrap().fingerprint_hash
    );
}

#[test]
fn wrapper_fallback() {
    // fail without a failing gate (gate_signal_mismatch), error signal, deny without a policy
    // reason, fail without gates.
    let mut mismatch = env(1, "fail");
    mismatch["gates"][0]["status"] = json!("pass");
    let error = env(2, "error");
    let mut deny_np = env(3, "deny");
    deny_np
        .as_object_mut()
        .unwrap()
        .remove("policy_reason_code");
    let mut no_gates = env(4, "fail");
    no_gates["gates"] = json!([]);
    let clean = env(5, "fail");
    let all = [mismatch, error, deny_np, no_gates, clean];

    let derivations = |mode: FallbackMode| -> Vec<String> {
        all.iter()
            .map(|v| match bind_one(v, mode) {
                Ok(b) => match b.derivation {
                    envelope::Derivation::Support { inferred: true } => "support(inferred)".into(),
                    d => d.as_str().to_string(),
                },
                Err(r) => format!("quarantine:{}", r.code),
            })
            .collect()
    };
    assert_eq!(
        derivations(FallbackMode::Strict),
        [
            "quarantine:BINDER_ANOMALY_GATE_SIGNAL_MISMATCH",
            "none",
            "quarantine:BINDER_ANOMALY_DENY_WITHOUT_POLICY_REASON",
            "quarantine:BINDER_ANOMALY_NO_GATES",
            "support",
        ]
    );
    assert_eq!(
        derivations(FallbackMode::Hybrid),
        ["none", "none", "none", "none", "support"]
    );
    assert_eq!(
        derivations(FallbackMode::Lenient),
        [
            "support(inferred)",
            "support(inferred)",
            "support(inferred)",
            "support(inferred)",
            "support"
        ]
    );
    // The envelope's own wrapper_policy can only make it stricter.
    let mut strict_wrapper = all[0].clone();
    strict_wrapper["wrapper_policy"] = json!("strict");
    assert!(bind_one(&strict_wrapper, FallbackMode::Lenient).is_err());

    // Strict never mints a capsule without an explicit failure or denial wrapper.
    let (_d, mut s) = store();
    let r = ingest(&mut s, &lines(&all[..4]), FallbackMode::Strict);
    assert_eq!((r.accepted, r.quarantined), (1, 3));
    assert!(capsules(s.conn(), &CapsuleFilter::default(), &params())
        .unwrap()
        .is_empty());
    // Lenient mints, but inferred-only capsules are never eligible.
    let (_d2, mut s2) = store();
    ingest(&mut s2, &lines(&all[..4]), FallbackMode::Lenient);
    let caps = capsules(s2.conn(), &CapsuleFilter::default(), &params()).unwrap();
    assert_eq!(caps.len(), 4, "{caps:#?}");
    assert!(caps
        .iter()
        .all(|c| c.reasons.iter().any(|r| r.code == "inferred_only")));
}

#[test]
fn query_determinism() {
    let snapshot: Vec<Value> = (0..120)
        .map(|n| {
            let mut v = env(n, ["fail", "fail", "pass", "deny"][n as usize % 4]);
            v["taskspec"]["target"]["id"] = json!(format!("src/m{}.rs", n % 7));
            if n % 4 < 2 {
                v["taskspec"]["failure_reason_code"] = json!(format!("R{}", n % 3));
            }
            v
        })
        .collect();
    let (_a, mut s1) = store();
    let (_b, mut s2) = store();
    ingest(&mut s1, &lines(&snapshot), FallbackMode::Strict);
    let mut rev = snapshot.clone();
    rev.reverse();
    ingest(&mut s2, &lines(&rev), FallbackMode::Strict);
    for (view, _, _) in VIEWS {
        let f = QueryFilter::default();
        let r1 = query(s1.conn(), view, &f).unwrap();
        assert!(!r1.is_empty(), "{view} is empty");
        assert_eq!(r1, query(s1.conn(), view, &f).unwrap());
        assert_eq!(r1, query(s2.conn(), view, &f).unwrap(), "{view}");
    }
    let f = QueryFilter {
        equals: vec![("failure_reason_code".into(), "R1".into())],
        limit: Some(3),
    };
    let r = query(s1.conn(), "mv_recent_failures_by_taskspec", &f).unwrap();
    assert_eq!(r.len(), 3);
    assert_eq!(
        r,
        query(s2.conn(), "mv_recent_failures_by_taskspec", &f).unwrap()
    );
    // Total order: last_failure_ts descending, then the key columns.
    let keys: Vec<(String, String)> = r
        .iter()
        .map(|m| {
            (
                m["last_failure_ts"].as_str().unwrap().to_string(),
                m["target_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    assert_eq!(keys, sorted);
    let c1 = capsules(s1.conn(), &CapsuleFilter::default(), &params()).unwrap();
    assert_eq!(
        c1,
        capsules(s2.conn(), &CapsuleFilter::default(), &params()).unwrap()
    );
    assert!(matches!(
        query(s1.conn(), "mv_nope", &QueryFilter::default()),
        Err(BinderError::UnknownView(_))
    ));
    assert!(matches!(
        query(
            s1.conn(),
            "mv_gate_rollup_by_failure_reason_code",
            &QueryFilter {
                equals: vec![("scope; DROP TABLE x".into(), "1".into())],
                limit: None
            }
        ),
        Err(BinderError::BadFilter { .. })
    ));
}

#[test]
fn quarantine_keeps_every_bad_line_with_code_and_line() {
    let (_d, mut s) = store();
    let long = format!("{{\"x\": \"{}\"}}", "a".repeat(70_000));
    let mut missing = env(9, "fail");
    missing.as_object_mut().unwrap().remove("run_id");
    let mut unknown = env(10, "fail");
    unknown["extra"] = json!(1);
    let mut bad_ts = env(11, "fail");
    bad_ts["observed_at"] = json!("yesterday");
    let mut no_reason = env(12, "fail");
    no_reason["taskspec"]
        .as_object_mut()
        .unwrap()
        .remove("failure_reason_code");
    let mut no_evidence = env(13, "fail");
    no_evidence["evidence_refs"] = json!([]);
    let mut text = Vec::new();
    text.extend_from_slice(format!("{}\n", env(1, "fail")).as_bytes());
    text.extend_from_slice(b"{not json\n");
    text.extend_from_slice(b"\xff\xfe{}\n");
    text.extend_from_slice(format!("{long}\n").as_bytes());
    text.extend_from_slice(b"\n");
    for v in [missing, unknown, bad_ts, no_reason, no_evidence] {
        text.extend_from_slice(format!("{v}\r\n").as_bytes());
    }
    let opts = IngestOptions::new("bad.jsonl", "tester", FallbackMode::Strict, NOW);
    let r = ingest_reader(&mut s, &text[..], &opts).unwrap();
    assert_eq!((r.lines, r.blank, r.accepted, r.quarantined), (10, 1, 1, 8));
    let q = quarantine(s.conn(), None).unwrap();
    let got: Vec<(i64, &str)> = q.iter().map(|i| (i.line, i.code.as_str())).collect();
    assert_eq!(
        got,
        [
            (2, "BINDER_MALFORMED_JSON"),
            (3, "BINDER_NOT_UTF8"),
            (4, "BINDER_LINE_TOO_LONG"),
            (6, "BINDER_MISSING_FIELD"),
            (7, "BINDER_UNKNOWN_FIELD"),
            (8, "BINDER_BAD_TIMESTAMP"),
            (9, "BINDER_FAILURE_REASON_REQUIRED"),
            (10, "BINDER_EVIDENCE_REQUIRED"),
        ]
    );
    assert!(q
        .iter()
        .all(|i| i.source == "bad.jsonl" && !i.message.is_empty()));
    assert_eq!(q[2].byte_len, long.len() as i64);
    assert!(q[2].excerpt.len() <= 200);
    // Replaying the same file: every line is a duplicate, nothing new is quarantined.
    let r2 = ingest_reader(&mut s, &text[..], &opts).unwrap();
    assert_eq!((r2.accepted, r2.duplicates, r2.quarantined), (0, 9, 0));
    assert_eq!(r2.already_quarantined, 8);
}

#[test]
fn eligibility_degrades_with_contradictions_staleness_and_denials() {
    let (_d, mut s) = store();
    let fails: Vec<Value> = (0..10).map(|n| env(n, "fail")).collect();
    ingest(&mut s, &lines(&fails), FallbackMode::Strict);
    let p = params();
    let c = &capsules(s.conn(), &CapsuleFilter::default(), &p).unwrap()[0];
    assert_eq!(c.support_count, 10);
    assert_eq!(c.confidence, confidence(10, 0));
    assert!(c.eligible, "{c:#?}");
    // Stale: judged 60 days later.
    let later = EligibilityParams {
        now: p.now + time::Duration::days(60),
        ..p
    };
    let stale = &capsules(s.conn(), &CapsuleFilter::default(), &later).unwrap()[0];
    assert_eq!(stale.reasons[0].code, "stale");
    // Contradictions: passes under the same condition.
    let passes: Vec<Value> = (100..110).map(|n| env(n, "pass")).collect();
    ingest(&mut s, &lines(&passes), FallbackMode::Strict);
    let c = &capsules(s.conn(), &CapsuleFilter::default(), &p).unwrap()[0];
    assert_eq!(c.contradiction_count, 10);
    assert_eq!(c.reasons[0].code, "low_confidence");
    assert!(!c.eligible);
    // A denial under the same condition makes the failure capsule policy-incompatible.
    ingest(&mut s, &lines(&[env(200, "deny")]), FallbackMode::Strict);
    let all = capsules(s.conn(), &CapsuleFilter::default(), &p).unwrap();
    let failure = all.iter().find(|c| c.kind == "failure").unwrap();
    assert!(failure.reasons.iter().any(|r| r.code == "policy_conflict"));
    // Timeline of the detail view adds up.
    let d = capsule_detail(s.conn(), &failure.upsert_key, &p).unwrap();
    let (sup, con) = d
        .timeline
        .iter()
        .fold((0, 0), |a, t| (a.0 + t.support, a.1 + t.contradictions));
    assert_eq!((sup, con), (10, 10));
}

#[test]
fn rollout_modes_gate_what_consumers_see() {
    let (_d, mut s) = store();
    let fails: Vec<Value> = (0..10).map(|n| env(n, "fail")).collect();
    ingest(&mut s, &lines(&fails), FallbackMode::Strict);
    let now = params().now;
    let mut settings = BinderSettings::default();
    let a = advice(s.conn(), &CapsuleFilter::default(), &settings, now).unwrap();
    assert_eq!(a.surfacing, Surfacing::Hidden);
    assert!(a.capsules.is_empty() && !a.may_gate);
    settings.rollout_mode = RolloutMode::Guided;
    let a = advice(s.conn(), &CapsuleFilter::default(), &settings, now).unwrap();
    assert_eq!((a.capsules.len(), a.may_gate), (1, false));
    settings.rollout_mode = RolloutMode::Prescriptive;
    let a = advice(s.conn(), &CapsuleFilter::default(), &settings, now).unwrap();
    assert_eq!((a.capsules.len(), a.may_gate), (1, true));
    let m = matching_capsules(
        s.conn(),
        &TargetQuery {
            scope: "repo".into(),
            target_kind: "file".into(),
            target_id: "src/lib.rs".into(),
            action_kind: None,
        },
        &params(),
    )
    .unwrap();
    assert_eq!(m.len(), 1);
}

#[test]
fn envelope_schema_is_published_and_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/schemas/envelope.schema.json");
    let text = format!(
        "{}\n",
        serde_json::to_string_pretty(&envelope_schema()).unwrap()
    );
    if std::env::var_os("OXIDE_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "docs/schemas/envelope.schema.json is stale; regenerate with OXIDE_BLESS=1 cargo test -p oxide-core binder"
    );
    // The schema accepts what the binder accepts.
    let schema = envelope_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&env(1, "fail")));
    let mut bad = env(1, "fail");
    bad["signal"] = json!("maybe");
    assert!(!validator.is_valid(&bad));
}

fn arb_snapshot() -> impl Strategy<Value = Vec<Value>> {
    prop::collection::vec((0u32..40, 0usize..4, 0u32..3), 1..40).prop_map(|xs| {
        let mut seen = std::collections::BTreeSet::new();
        xs.into_iter()
            .filter(|(n, _, _)| seen.insert(*n))
            .map(|(n, s, t)| {
                let mut v = env(n, ["fail", "pass", "deny", "error"][s]);
                v["taskspec"]["target"]["id"] = json!(format!("t{t}"));
                v
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn permutation_and_duplication_give_identical_derived_tables(
        snapshot in arb_snapshot(),
        seed in any::<u64>(),
        dups in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
        mode in prop::sample::select(vec![FallbackMode::Strict, FallbackMode::Hybrid, FallbackMode::Lenient]),
    ) {
        let (_a, mut s1) = store();
        ingest(&mut s1, &lines(&snapshot), mode);
        let reference = derived_dump(s1.conn()).unwrap();

        // Shuffle deterministically from the seed, then add duplicates, in small batches.
        let mut shuffled: Vec<Value> = snapshot.clone();
        for d in &dups {
            shuffled.push(snapshot[d.index(snapshot.len())].clone());
        }
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let (_b, mut s2) = store();
        let mut opts = IngestOptions::new("p.jsonl", "tester", mode, NOW);
        opts.batch_lines = 3;
        opts.window_lines = 7;
        let r = ingest_reader(&mut s2, lines(&shuffled).as_bytes(), &opts).unwrap();
        prop_assert_eq!(r.duplicates, dups.len() as u64);
        prop_assert_eq!(derived_dump(s2.conn()).unwrap(), reference);
    }
}

/// Migration 0008 re-creates `binder_bindings` clustered by the idempotency key: rows stored
/// under schema 7 survive, the key stays unique, and the views read the new table.
#[test]
fn bindings_survive_the_clustering_migration() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = rusqlite::Connection::open(dir.path().join("old.sqlite3")).unwrap();
    crate::store::migrations().to_version(&mut conn, 7).unwrap();
    let row = "INSERT INTO binder_bindings (run_id, task_id, group_id, binder_version, event_id, sequence, signal, wrapper_policy, effective_mode, scope, target_kind, target_id, action_kind, failure_reason_code, policy_reason_code, fingerprint_hash, gates, env, evidence_refs, observed_at, anomalies, derivation)
               VALUES ('r1', ?1, 'g', 1, 'e1', 0, 'fail', 'strict', 'strict', 'repo', 'file', 'a.rs', 'edit', 'E1', NULL, 'sha256:00', '[]', '{}', '[\"x\"]', ?2, '[]', 'support')";
    conn.execute(row, rusqlite::params!["t1", "2026-01-01T00:00:00.000Z"])
        .unwrap();
    conn.execute(row, rusqlite::params!["t2", "2026-01-02T00:00:00.000Z"])
        .unwrap();
    crate::store::migrations().to_latest(&mut conn).unwrap();

    let ddl: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'binder_bindings'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(ddl.contains("WITHOUT ROWID"), "{ddl}");
    let tasks: Vec<String> = conn
        .prepare("SELECT task_id FROM binder_bindings ORDER BY task_id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tasks, ["t1", "t2"]);
    let again = conn.execute(row, rusqlite::params!["t1", "2026-01-03T00:00:00.000Z"]);
    assert!(again.is_err(), "the idempotency key must stay unique");
    let (failures, last): (i64, String) = conn
        .query_row(
            "SELECT failures, last_failure_ts FROM mv_recent_failures_by_taskspec",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((failures, last.as_str()), (2, "2026-01-02T00:00:00.000Z"));
}

/// The ingest checkpoints beside the writer while it runs and hands checkpointing back to
/// SQLite when it ends.
#[test]
fn ingest_restores_automatic_checkpoints() {
    let (_d, mut s) = store();
    ingest(
        &mut s,
        &lines(&[env(1, "fail"), env(2, "pass")]),
        FallbackMode::Strict,
    );
    let pages: i64 = s
        .conn()
        .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
        .unwrap();
    assert_eq!(pages, 1000);
    let ignoring: i64 = s
        .conn()
        .query_row("PRAGMA ignore_check_constraints", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        ignoring, 0,
        "CHECK constraints are enforced again after an ingest"
    );
}

/// The ingest skips re-checking the CHECK constraints of values it builds from closed
/// enums; `PRAGMA integrity_check` confirms every stored row satisfies them, under every
/// fallback mode and signal, and does report a row that does not.
#[test]
fn ingested_rows_satisfy_the_check_constraints() {
    let (_d, mut s) = store();
    let mut vals = Vec::new();
    for (n, signal) in ["fail", "pass", "deny", "error"].iter().enumerate() {
        vals.push(env(n as u32, signal));
        let mut strict = env(100 + n as u32, signal);
        strict["wrapper_policy"] = json!("strict");
        vals.push(strict);
        let mut hybrid = env(200 + n as u32, signal);
        hybrid["wrapper_policy"] = json!("hybrid");
        vals.push(hybrid);
    }
    for mode in [
        FallbackMode::Strict,
        FallbackMode::Hybrid,
        FallbackMode::Lenient,
    ] {
        ingest(&mut s, &lines(&vals), mode);
    }
    let stored: i64 = s
        .conn()
        .query_row("SELECT count(*) FROM binder_bindings", [], |r| r.get(0))
        .unwrap();
    assert!(stored >= 6, "{stored}");
    let check = |s: &Store| -> String {
        s.conn()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(check(&s), "ok");
    s.conn()
        .execute_batch(
            "PRAGMA ignore_check_constraints = ON;
             UPDATE binder_bindings SET signal = 'maybe' WHERE task_id = (SELECT min(task_id) FROM binder_bindings);
             PRAGMA ignore_check_constraints = OFF;",
        )
        .unwrap();
    assert_ne!(check(&s), "ok", "integrity_check must see a violated CHECK");
}

/// Windows spanning several parser batches derive what one big window derives, and a
/// replay in small windows changes nothing.
#[test]
fn window_size_does_not_change_what_is_derived() {
    let mut vals = Vec::new();
    for n in 0..40 {
        let signal = ["fail", "pass", "deny", "fail"][n as usize % 4];
        vals.push(env(n, signal));
    }
    let text = lines(&vals);
    let (_a, mut one) = store();
    ingest(&mut one, &text, FallbackMode::Lenient);
    let reference = derived_dump(one.conn()).unwrap();
    for (batch, window) in [(1, 1), (2, 5), (3, 7), (40, 40), (7, 3)] {
        let (_b, mut s) = store();
        let mut opts = IngestOptions::new("w.jsonl", "tester", FallbackMode::Lenient, NOW);
        opts.batch_lines = batch;
        opts.window_lines = window;
        let r = ingest_reader(&mut s, text.as_bytes(), &opts).unwrap();
        assert_eq!(r.accepted, 40, "batch {batch} window {window}");
        assert_eq!(
            derived_dump(s.conn()).unwrap(),
            reference,
            "batch {batch} window {window}"
        );
        let again = ingest_reader(&mut s, text.as_bytes(), &opts).unwrap();
        assert_eq!(
            (again.accepted, again.duplicates, again.capsules_touched),
            (0, 40, 0)
        );
        assert_eq!(
            derived_dump(s.conn()).unwrap(),
            reference,
            "replay, batch {batch} window {window}"
        );
    }
}

/// A reader that fails midway: the ingest reports the read error, keeps what it committed
/// complete, and hands the connection back with CHECK constraints and automatic checkpoints
/// on.
#[test]
fn a_failed_read_restores_the_connection() {
    struct FailsAfter {
        data: Vec<u8>,
        at: usize,
    }
    impl std::io::Read for FailsAfter {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if self.at >= self.data.len() {
                return Err(std::io::Error::other("disk went away"));
            }
            let n = out.len().min(self.data.len() - self.at).min(64);
            out[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }
    let (_d, mut s) = store();
    let vals: Vec<Value> = (0..10).map(|n| env(n, "fail")).collect();
    let mut opts = IngestOptions::new("broken.jsonl", "tester", FallbackMode::Strict, NOW);
    opts.batch_lines = 2;
    opts.window_lines = 4;
    let reader = FailsAfter {
        data: lines(&vals).into_bytes(),
        at: 0,
    };
    let err = ingest_reader(&mut s, reader, &opts).unwrap_err();
    assert!(err.to_string().contains("disk went away"), "{err}");
    let pragma = |name: &str| -> i64 {
        s.conn()
            .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(pragma("ignore_check_constraints"), 0);
    assert_eq!(pragma("wal_autocheckpoint"), 1000);
    let integrity: String = s
        .conn()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
}
