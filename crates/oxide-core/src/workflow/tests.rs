use super::*;
use crate::proposal::{Base, Intent, Op, Provenance, Synthesizer};
use crate::store::Store;

const TS: &str = "2026-11-21T05:00:00.000Z";

fn stamp() -> Stamp<'static> {
    Stamp::new("t", TS)
}

fn bundle(n: usize) -> Bundle {
    Bundle {
        schema_version: BUNDLE_SCHEMA_VERSION.into(),
        skill_digest: canon::sha256_bytes(b"skill"),
        base: Base {
            branch: "main".into(),
            commit: "a".repeat(40),
        },
        intent: Intent {
            rationale: format!("test {n}"),
            risk_hints: vec![],
            ops: vec![Op::CreateFile {
                path: format!("f{n}.txt"),
                content: "x\n".into(),
            }],
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
        created_at: TS.into(),
        supersedes: None,
    }
}

/// A store whose instance key (which signs admitted bundles; OS keyring) already exists, so
/// that what a test counts is what the transitions write.
fn store() -> (tempfile::TempDir, Store) {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(&d.path().join("s.sqlite3")).unwrap();
    crate::signing::instance_key(s.conn(), crate::clock::parse_ts(TS).unwrap()).unwrap();
    (d, s)
}

/// Guard records, and audit events after the instance key's creation.
fn counts(c: &Connection) -> (i64, i64) {
    let t = c
        .query_row("SELECT count(*) FROM transitions", [], |r| r.get(0))
        .unwrap();
    let a = c
        .query_row(
            "SELECT count(*) FROM audit_events WHERE kind != 'signing.instance_key_created'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    (t, a)
}

/// A proposal placed in `state` (admitted, then moved by the row function directly — the
/// test's way to reach every state without walking the whole pipeline).
fn proposal_in(store: &mut Store, n: usize, state: State) -> String {
    store
        .write(|tx| -> Result<String, WorkflowError> {
            let row = admit(tx, &bundle(n), &alice(), &stamp())?;
            rows::set_state(
                tx,
                &row.id,
                &rows::StateChange {
                    from: S::Proposed,
                    to: state,
                    failure_reason_code: None,
                    policy_reason_code: None,
                    superseded_by: None,
                },
                TS,
            )?;
            Ok(row.id)
        })
        .unwrap()
}

/// Calls transition `t` on `id` with inputs its guard accepts.
fn fire(conn: &Connection, id: &str, t: Transition) -> Result<GuardRecord, WorkflowError> {
    let passing = ValidationEvidence {
        run_id: "r".into(),
        branch_commit: "b".repeat(40),
        checks: vec![CheckOutcome {
            name: "unit".into(),
            required: true,
            passed: true,
            failure_reason_code: None,
        }],
    };
    let failing = ValidationEvidence {
        checks: vec![CheckOutcome {
            name: "unit".into(),
            required: true,
            passed: false,
            failure_reason_code: Some("CHECK_FAILED".into()),
        }],
        ..passing.clone()
    };
    match t {
        T::Admit => unreachable!("admit creates rows; tested separately"),
        T::PassValidation => pass_validation(conn, id, &passing, &stamp()),
        T::FailValidation => fail_validation(conn, id, &failing, &stamp()),
        T::Quarantine => quarantine(conn, id, "BASE_MISSING", "gone", &stamp()),
        T::Supersede => supersede(
            conn,
            id,
            &SupersedeEvidence {
                failure_reason_code: "TARGET_MOVED".into(),
                target_head: Some("c".repeat(40)),
                superseded_by: None,
                problems: vec!["/intent/ops/0: no longer applies".into()],
            },
            &stamp(),
        ),
        T::Approve => approve(
            conn,
            id,
            &ApprovalEvidence {
                required_count: 1,
                required_roles: vec!["approver".into()],
                valid_approvers: vec!["alice".into()],
                roles_covered: vec!["approver".into()],
                ..Default::default()
            },
            &stamp(),
        ),
        T::Deny => deny(conn, id, "POLICY_DENY", "no", &stamp()),
        T::Reject => reject(conn, id, "alice", "not wanted", &stamp()),
        T::Promote => promote(
            conn,
            id,
            &PromotionEvidence {
                commit: "d".repeat(40),
                gates: vec![("policy".into(), true)],
            },
            &stamp(),
        ),
        T::RollBack => roll_back(conn, id, "CANARY_FAILED", &"e".repeat(40), &stamp()),
    }
}

#[test]
fn every_state_transition_pair_follows_the_table() {
    let (_d, mut store) = store();
    let mut n = 0;
    let mut allowed_seen = 0;
    for from in State::ALL {
        for t in Transition::ALL {
            if t == T::Admit {
                continue;
            }
            n += 1;
            let id = proposal_in(&mut store, n, from);
            let before = counts(store.conn());
            let res = store.write(|tx| fire(tx, &id, t));
            let after = counts(store.conn());
            let state = rows::get(store.conn(), &id).unwrap().unwrap().state;
            match target(from, t) {
                Some(to) => {
                    allowed_seen += 1;
                    let rec = res.unwrap_or_else(|e| panic!("{from} --{}--> {to}: {e}", t.name()));
                    assert!(rec.passed(), "{from} {t:?}");
                    assert_eq!(after, (before.0 + 1, before.1 + 1), "{from} {t:?}");
                    assert_eq!(state, to);
                    assert_eq!(rec.from, from);
                    assert_eq!(rec.to, to);
                }
                None => {
                    let err = res.expect_err(&format!("{from} {t:?} must be illegal"));
                    assert_eq!(err.code(), "WORKFLOW_ILLEGAL_TRANSITION");
                    assert_eq!(err.kind(), crate::ErrorKind::Refused);
                    assert_eq!(after, before, "{from} {t:?} wrote nothing");
                    assert_eq!(state, from);
                }
            }
        }
    }
    assert_eq!(
        allowed_seen,
        TABLE.len() - 1,
        "every non-admit table row exercised"
    );
}

#[test]
fn admit_writes_row_record_and_event_once() {
    let (_d, mut store) = store();
    let row = store
        .write(|tx| admit(tx, &bundle(1), &alice(), &Stamp::new("alice", TS)))
        .unwrap();
    assert_eq!(row.state, S::Proposed);
    assert_eq!(row.id, canon::short_id(&bundle(1).digest().unwrap()));
    assert_eq!(counts(store.conn()), (1, 1));
    let h = history(store.conn(), &row.id).unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(
        (h[0].from.as_str(), h[0].to.as_str()),
        ("discovered", "proposed")
    );
    // Event 1 is the instance key's creation (`store()`).
    let ev = crate::audit::list(store.conn(), Some(1), None).unwrap();
    assert_eq!(ev[0].kind, "workflow.admit");
    assert_eq!(ev[0].seq, h[0].audit_seq);
    // REC-001: the bundle was signed by the instance key in the admission transaction.
    let canonical = canon::canonical_bytes(&bundle(1)).unwrap();
    crate::signing::bundle_sig::verify(store.conn(), &row.id, &row.digest, &canonical).unwrap();
    let err =
        crate::signing::bundle_sig::verify(store.conn(), &row.id, &row.digest, b"{}").unwrap_err();
    assert_eq!(err.code(), "SIGNING_BUNDLE_INVALID");

    // The same bundle again: refused, nothing written.
    let err = store
        .write(|tx| admit(tx, &bundle(1), &alice(), &Stamp::new("alice", TS)))
        .unwrap_err();
    assert_eq!(err.code(), "WORKFLOW_DUPLICATE");
    assert_eq!(counts(store.conn()), (1, 1));
}

#[test]
fn malformed_bundles_are_refused_writing_nothing() {
    let (_d, mut store) = store();
    let mut cases = Vec::new();
    let mut b = bundle(1);
    b.schema_version = "v0".into();
    cases.push(b);
    let mut b = bundle(1);
    b.base.commit = "abc".into();
    cases.push(b);
    let mut b = bundle(1);
    b.intent.ops.clear();
    cases.push(b);
    let mut b = bundle(1);
    b.skill_digest = "md5:x".into();
    cases.push(b);
    let mut b = bundle(1);
    b.supersedes = Some("nope".into());
    cases.push(b);
    for b in cases {
        let err = store
            .write(|tx| admit(tx, &b, &alice(), &stamp()))
            .unwrap_err();
        assert_eq!(err.code(), "WORKFLOW_BAD_BUNDLE", "{err}");
        assert_eq!(err.kind(), crate::ErrorKind::Invalid);
    }
    assert_eq!(counts(store.conn()), (0, 0));
    assert!(rows::list(store.conn(), None).unwrap().is_empty());
}

#[test]
fn denied_guard_records_and_audits_without_moving() {
    let (_d, mut store) = store();
    let id = proposal_in(&mut store, 1, State::Validated);
    let before = counts(store.conn());
    let rec = store
        .write(|tx| {
            approve(
                tx,
                &id,
                &ApprovalEvidence {
                    required_count: 2,
                    required_roles: vec!["lead".into()],
                    valid_approvers: vec!["alice".into()],
                    roles_covered: vec!["approver".into()],
                    ..Default::default()
                },
                &stamp(),
            )
        })
        .unwrap();
    assert!(!rec.passed());
    assert_eq!(
        rec.policy_reason_code.as_deref(),
        Some("APPROVALS_INSUFFICIENT")
    );
    assert_eq!(counts(store.conn()), (before.0 + 1, before.1 + 1));
    assert_eq!(
        rows::get(store.conn(), &id).unwrap().unwrap().state,
        S::Validated
    );
    let ev = crate::audit::list(store.conn(), None, None).unwrap();
    assert_eq!(ev.last().unwrap().kind, "workflow.approve.denied");
}

#[test]
fn policy_denial_keeps_failure_reason_code() {
    let (_d, mut store) = store();
    let id = proposal_in(&mut store, 1, State::Proposed);
    store
        .write(|tx| {
            // Fail validation first (sets failure_reason_code), then force back to validated
            // to check a later policy denial does not overwrite it.
            fire(tx, &id, T::FailValidation)?;
            rows::set_state(
                tx,
                &id,
                &rows::StateChange {
                    from: S::FailedValidation,
                    to: S::Validated,
                    failure_reason_code: None,
                    policy_reason_code: None,
                    superseded_by: None,
                },
                TS,
            )?;
            deny(tx, &id, "POLICY_GOVERNANCE", "governance file", &stamp())
        })
        .unwrap();
    let row = rows::get(store.conn(), &id).unwrap().unwrap();
    assert_eq!(row.state, S::Denied);
    assert_eq!(row.failure_reason_code.as_deref(), Some("CHECK_FAILED"));
    assert_eq!(row.policy_reason_code.as_deref(), Some("POLICY_GOVERNANCE"));
}

#[test]
fn unknown_proposal_is_not_found() {
    let (_d, mut store) = store();
    let err = store.write(|tx| fire(tx, "nope", T::Approve)).unwrap_err();
    assert_eq!(err.code(), "WORKFLOW_NOT_FOUND");
    assert_eq!(counts(store.conn()), (0, 0));
}

#[test]
fn table_is_consistent_with_states() {
    for (i, s) in State::ALL.iter().enumerate() {
        assert_eq!(State::ALL[i], *s);
        // The spelling in SQL and in JSON is serde's.
        assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
        assert_eq!(State::parse(s.as_str()), Some(*s));
    }
    // No duplicate (transition, from) pairs: the table is a function.
    for (i, a) in TABLE.iter().enumerate() {
        for b in &TABLE[i + 1..] {
            assert!(!(a.0 == b.0 && a.1 == b.1), "duplicate {a:?}");
        }
    }
    // Exits are terminal except promoted → rolled_back; nothing leaves rolled_back.
    for t in Transition::ALL {
        for s in [
            S::NoOp,
            S::Quarantined,
            S::Denied,
            S::Rejected,
            S::Superseded,
            S::RolledBack,
        ] {
            assert_eq!(target(s, t), None, "{s} {t:?}");
        }
    }
}

/// docs/workflow.md draws the state machine exactly as `TABLE` says (`state_diagram`);
/// `OXIDE_BLESS=1` rewrites the block.
#[test]
fn docs_workflow_md_diagram_is_current() {
    const START: &str = "<!-- state-diagram:start";
    const END: &str = "<!-- state-diagram:end -->";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/workflow.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let a = text
        .find(START)
        .expect("docs/workflow.md has a state-diagram block");
    let a = a + text[a..].find('\n').unwrap() + 1;
    let b = text.find(END).expect("the block ends");
    let want = table::state_diagram();
    if text[a..b] != want && std::env::var("OXIDE_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, format!("{}{want}{}", &text[..a], &text[b..])).unwrap();
        return;
    }
    assert_eq!(
        &text[a..b],
        want,
        "docs/workflow.md's diagram is stale; regenerate with OXIDE_BLESS=1 cargo test -p oxide-core workflow::tests::docs"
    );
    // Every row of the table is an arrow of the diagram.
    for (t, from, to) in TABLE {
        assert!(want.contains(&format!("{from} --> {to}: {}", t.name())));
    }
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    fn any_transition() -> impl Strategy<Value = Transition> {
        (1..Transition::ALL.len()).prop_map(|i| Transition::ALL[i])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Any sequence of attempted transitions: the state is exactly the table's fold over
        /// the legal ones, each legal step wrote one record + one event, illegal ones nothing,
        /// and the history replays the path.
        #[test]
        fn random_walks_follow_the_table(steps in proptest::collection::vec(any_transition(), 0..12)) {
            let (_d, mut store) = store();
            let id = store.write(|tx| admit(tx, &bundle(0), &alice(), &stamp())).unwrap().id;
            let mut expected = State::Proposed;
            let mut legal = 1i64;
            for t in steps {
                let before = counts(store.conn());
                let res = store.write(|tx| fire(tx, &id, t));
                match target(expected, t) {
                    Some(to) => {
                        prop_assert!(res.is_ok(), "{expected} {t:?}");
                        expected = to;
                        legal += 1;
                    }
                    None => {
                        prop_assert_eq!(res.unwrap_err().code(), "WORKFLOW_ILLEGAL_TRANSITION");
                        prop_assert_eq!(counts(store.conn()), before);
                    }
                }
            }
            prop_assert_eq!(rows::get(store.conn(), &id).unwrap().unwrap().state, expected);
            prop_assert_eq!(counts(store.conn()), (legal, legal));
            let h = history(store.conn(), &id).unwrap();
            for w in h.windows(2) {
                prop_assert_eq!(&w[0].to, &w[1].from, "the records chain");
            }
            prop_assert_eq!(h.last().unwrap().to.as_str(), expected.as_str());
            prop_assert!(crate::audit::verify(store.conn()).unwrap().ok);
        }
    }
}

/// The initiator these tests admit under (a resolved person).
fn alice() -> crate::signing::whoami::Initiator {
    crate::signing::whoami::Initiator::Person("alice".into())
}
