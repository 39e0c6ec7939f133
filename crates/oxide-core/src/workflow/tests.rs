use super::*;
use crate::proposal::{Base, Intent, Op, Provenance, Synthesizer};
use crate::store::Store;

const TS: &str = "2026-11-21T05:00:00.000Z";

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

fn store() -> (tempfile::TempDir, Store) {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(&d.path().join("s.sqlite3")).unwrap();
    (d, s)
}

fn counts(c: &Connection) -> (i64, i64) {
    let t = c
        .query_row("SELECT count(*) FROM transitions", [], |r| r.get(0))
        .unwrap();
    let a = c
        .query_row("SELECT count(*) FROM audit_events", [], |r| r.get(0))
        .unwrap();
    (t, a)
}

/// A proposal placed in `state` (admitted, then moved by the row function directly — the
/// test's way to reach every state without walking the whole pipeline).
fn proposal_in(store: &mut Store, n: usize, state: State) -> String {
    store
        .write(|tx| -> Result<String, WorkflowError> {
            let row = admit(tx, &bundle(n), "t", TS)?;
            rows::set_state(
                tx,
                &row.id,
                "proposed",
                state.as_str(),
                None,
                None,
                None,
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
        T::PassValidation => pass_validation(conn, id, &passing, "t", TS),
        T::FailValidation => fail_validation(conn, id, &failing, "t", TS),
        T::Quarantine => quarantine(conn, id, "BASE_MISSING", "gone", "t", TS),
        T::Supersede => supersede(
            conn,
            id,
            &SupersedeEvidence {
                failure_reason_code: "TARGET_MOVED".into(),
                target_head: Some("c".repeat(40)),
                superseded_by: None,
                problems: vec!["/intent/ops/0: no longer applies".into()],
            },
            "t",
            TS,
        ),
        T::Approve => approve(
            conn,
            id,
            &ApprovalEvidence {
                required_count: 1,
                required_roles: vec!["approver".into()],
                valid_approvers: vec!["alice".into()],
                roles_covered: vec!["approver".into()],
            },
            "t",
            TS,
        ),
        T::Deny => deny(conn, id, "POLICY_DENY", "no", "t", TS),
        T::Reject => reject(conn, id, "alice", "not wanted", "t", TS),
        T::Promote => promote(
            conn,
            id,
            &PromotionEvidence {
                commit: "d".repeat(40),
                gates: vec![("policy".into(), true)],
            },
            "t",
            TS,
        ),
        T::RollBack => roll_back(conn, id, "CANARY_FAILED", &"e".repeat(40), "t", TS),
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
                    assert_eq!(state, to.as_str());
                    assert_eq!(rec.from, from.as_str());
                    assert_eq!(rec.to, to.as_str());
                }
                None => {
                    let err = res.expect_err(&format!("{from} {t:?} must be illegal"));
                    assert_eq!(err.code(), "WORKFLOW_ILLEGAL_TRANSITION");
                    assert_eq!(err.kind(), crate::ErrorKind::Refused);
                    assert_eq!(after, before, "{from} {t:?} wrote nothing");
                    assert_eq!(state, from.as_str());
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
        .write(|tx| admit(tx, &bundle(1), "alice", TS))
        .unwrap();
    assert_eq!(row.state, "proposed");
    assert_eq!(row.id, canon::short_id(&bundle(1).digest().unwrap()));
    assert_eq!(counts(store.conn()), (1, 1));
    let h = history(store.conn(), &row.id).unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(
        (h[0].from.as_str(), h[0].to.as_str()),
        ("discovered", "proposed")
    );
    let ev = crate::audit::list(store.conn(), None, None).unwrap();
    assert_eq!(ev[0].kind, "workflow.admit");
    assert_eq!(ev[0].seq, h[0].audit_seq);

    // The same bundle again: refused, nothing written.
    let err = store
        .write(|tx| admit(tx, &bundle(1), "alice", TS))
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
        let err = store.write(|tx| admit(tx, &b, "t", TS)).unwrap_err();
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
                },
                "t",
                TS,
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
        "validated"
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
                "failed_validation",
                "validated",
                None,
                None,
                None,
                TS,
            )?;
            deny(tx, &id, "POLICY_GOVERNANCE", "governance file", "t", TS)
        })
        .unwrap();
    let row = rows::get(store.conn(), &id).unwrap().unwrap();
    assert_eq!(row.state, "denied");
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
        assert_eq!(s.as_str(), crate::STATES[i]);
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
            let id = store.write(|tx| admit(tx, &bundle(0), "t", TS)).unwrap().id;
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
            prop_assert_eq!(rows::get(store.conn(), &id).unwrap().unwrap().state, expected.as_str());
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
