//! The proposal history and the chart read models over a real SQLite database, built through
//! the rooms' own write paths (admit, guarded transitions, policy records, binder ingest).

use serde_json::json;

use crate::binder::ingest::{ingest_reader, IngestOptions};
use crate::clock::Stamp;
use crate::policy::{Decision, Risk};
use crate::proposal::{manual_bundle, Op};
use crate::store::Store;
use crate::workflow::State;
use crate::workflow::{self as guards, ApprovalEvidence, PromotionEvidence, ValidationEvidence};
use crate::workspace::config::FallbackMode;

use super::charts::{self, Milestone};
use super::history::{proposal_history, HistoryEntry};

fn store() -> (tempfile::TempDir, Store) {
    let d = tempfile::tempdir().unwrap();
    let s = Store::open(&d.path().join("s.sqlite3")).unwrap();
    (d, s)
}

fn admit(store: &mut Store, n: u32, at: &str) -> String {
    let b = manual_bundle(
        &"a".repeat(40),
        &format!("change {n}"),
        vec![Op::CreateFile {
            path: format!("f{n}.txt"),
            content: "x\n".into(),
        }],
    );
    store
        .write(|tx| crate::workflow::admit(tx, &b, &alice(), &Stamp::new("alice", at)))
        .unwrap()
        .id
}

fn validate(store: &mut Store, id: &str, at: &str) {
    store
        .write(|tx| {
            guards::pass_validation(
                tx,
                id,
                &ValidationEvidence {
                    run_id: "r1".into(),
                    branch_commit: "b".repeat(40),
                    checks: vec![],
                },
                &Stamp::new("alice", at),
            )
        })
        .unwrap();
}

fn approve(store: &mut Store, id: &str, at: &str) {
    store
        .write(|tx| {
            guards::approve(
                tx,
                id,
                &ApprovalEvidence {
                    required_count: 1,
                    required_roles: vec!["approver".into()],
                    valid_approvers: vec!["bob".into()],
                    roles_covered: vec!["approver".into()],
                    ..Default::default()
                },
                &Stamp::new("bob", at),
            )
        })
        .unwrap();
}

fn promote(store: &mut Store, id: &str, at: &str) {
    store
        .write(|tx| {
            guards::promote(
                tx,
                id,
                &PromotionEvidence {
                    commit: "c".repeat(40),
                    gates: vec![("approvals".into(), true)],
                },
                &Stamp::new("bob", at),
            )
        })
        .unwrap();
}

fn decide(store: &mut Store, id: &str, risk: &str, denied: bool, at: &str) {
    let d: Decision = serde_json::from_value(json!({
        "version": "1", "subject": id, "input_digest": crate::canon::sha256_bytes(b"in"),
        "policy_digest": crate::canon::sha256_bytes(b"policy"),
        "outcome": if denied { "denied" } else { "allowed" }, "risk": risk,
        "required": {"count": 1, "roles": ["approver"]},
        "denials": [], "warnings": [], "escalations": [],
        "policy_reason_code": if denied { Some("oxide.protected_path") } else { None },
        "failure_reason_code": null
    }))
    .unwrap();
    store
        .write(|tx| crate::policy::record::record(tx, Some(id), &json!({}), &d, "alice", at))
        .unwrap();
}

#[test]
fn a_proposal_history_is_every_record_in_chain_order() {
    let (_d, mut s) = store();
    let id = admit(&mut s, 1, "2026-03-02T10:00:00Z");
    let other = admit(&mut s, 2, "2026-03-02T10:00:01Z");
    // A denied guard (approval without evidence) moves nothing but is in the history.
    s.write(|tx| {
        guards::approve(
            tx,
            &id,
            &ApprovalEvidence {
                required_count: 1,
                required_roles: vec!["approver".into()],
                valid_approvers: vec![],
                roles_covered: vec![],
                ..Default::default()
            },
            &Stamp::new("bob", "2026-03-02T10:00:02Z"),
        )
    })
    .unwrap_err();
    validate(&mut s, &id, "2026-03-02T10:01:00Z");
    decide(&mut s, &id, "medium", false, "2026-03-02T10:02:00Z");
    approve(&mut s, &id, "2026-03-02T11:00:00Z");
    let h = proposal_history(s.conn(), &id).unwrap();
    assert_eq!(h.state, State::Approved);
    let shape: Vec<String> = h
        .entries
        .iter()
        .map(|e| match e {
            HistoryEntry::Guard { record, .. } => {
                format!("guard:{}:{}", record.guard, record.outcome)
            }
            HistoryEntry::PolicyDecision { decision, .. } => {
                format!("policy:{}", decision.decision.risk.as_str())
            }
            HistoryEntry::CheckRun { .. } => "run".into(),
            HistoryEntry::Event { event, .. } => format!("event:{}", event.kind),
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            "guard:admit:passed",
            "guard:pass_validation:passed",
            "policy:medium",
            "guard:approve:passed"
        ],
        "the refused approval wrote nothing (illegal from proposed), so it is not there"
    );
    // Each entry's seq is an audit event about this proposal, in order, none twice.
    let seqs: Vec<i64> = h.entries.iter().map(|e| e.audit_seq().unwrap()).collect();
    let about: Vec<i64> = crate::audit::for_subject(s.conn(), &id)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, about);
    // A denied guard is a record too.
    s.write(|tx| {
        guards::approve(
            tx,
            &other,
            &ApprovalEvidence {
                required_count: 1,
                required_roles: vec![],
                valid_approvers: vec![],
                roles_covered: vec![],
                ..Default::default()
            },
            &Stamp::new("bob", "2026-03-02T12:00:00Z"),
        )
    })
    .ok();
    validate(&mut s, &other, "2026-03-02T12:01:00Z");
    s.write(|tx| {
        guards::approve(
            tx,
            &other,
            &ApprovalEvidence {
                required_count: 2,
                required_roles: vec!["approver".into()],
                valid_approvers: vec!["bob".into()],
                roles_covered: vec!["approver".into()],
                ..Default::default()
            },
            &Stamp::new("bob", "2026-03-02T12:02:00Z"),
        )
    })
    .unwrap();
    let h = proposal_history(s.conn(), &other).unwrap();
    let last = h.entries.last().unwrap();
    match last {
        HistoryEntry::Guard { record, .. } => {
            assert_eq!(record.outcome, "denied");
            assert_eq!(record.to, State::Approved);
        }
        other => panic!("a denied approval record, got {other:?}"),
    }
    assert_eq!(h.state, State::Validated);
    let e = proposal_history(s.conn(), "nope").unwrap_err();
    assert_eq!(e.code(), "WORKFLOW_NOT_FOUND");
}

#[test]
fn charts_count_states_risks_lead_times_and_reasons() {
    let (_d, mut s) = store();
    // Day 1 (Monday 2026-03-02): three proposals admitted, two validated.
    let a = admit(&mut s, 1, "2026-03-02T09:00:00Z");
    let b = admit(&mut s, 2, "2026-03-02T09:00:01Z");
    let c = admit(&mut s, 3, "2026-03-02T09:00:02Z");
    validate(&mut s, &a, "2026-03-02T10:00:00Z");
    validate(&mut s, &b, "2026-03-02T10:00:00Z");
    decide(&mut s, &a, "low", false, "2026-03-02T10:05:00Z");
    decide(&mut s, &b, "high", false, "2026-03-02T10:05:00Z");
    decide(&mut s, &b, "critical", false, "2026-03-02T10:06:00Z");
    // Day 2: a approved after 1 h... b after 3 h; a promoted after 5 h.
    approve(&mut s, &a, "2026-03-03T11:00:00Z");
    approve(&mut s, &b, "2026-03-03T13:00:00Z");
    promote(&mut s, &a, "2026-03-03T15:00:00Z");
    decide(&mut s, &c, "medium", true, "2026-03-03T16:00:00Z");
    // Next week: c validated and approved after 10 minutes.
    validate(&mut s, &c, "2026-03-09T08:00:00Z");
    approve(&mut s, &c, "2026-03-09T08:10:00Z");

    let by_state = charts::proposals_by_state(s.conn()).unwrap();
    let at = |day: &str, st: State| {
        by_state
            .iter()
            .find(|p| p.day == day && p.state == st)
            .map(|p| p.count)
    };
    assert_eq!(at("2026-03-02", State::Proposed), Some(1));
    assert_eq!(at("2026-03-02", State::Validated), Some(2));
    assert_eq!(at("2026-03-02", State::Approved), None, "not yet seen");
    assert_eq!(at("2026-03-03", State::Validated), Some(0));
    assert_eq!(at("2026-03-03", State::Approved), Some(1));
    assert_eq!(at("2026-03-03", State::Promoted), Some(1));
    assert_eq!(at("2026-03-09", State::Proposed), Some(0));
    assert_eq!(at("2026-03-09", State::Approved), Some(2));

    let by_risk = charts::proposals_by_risk(s.conn()).unwrap();
    let risk = |day: &str, r: Risk| {
        by_risk
            .iter()
            .find(|p| p.day == day && p.risk == r)
            .map(|p| p.count)
    };
    assert_eq!(risk("2026-03-02", Risk::Low), Some(1));
    assert_eq!(
        risk("2026-03-02", Risk::Critical),
        Some(1),
        "b's last decision that day"
    );
    assert_eq!(risk("2026-03-02", Risk::High), None);
    assert_eq!(risk("2026-03-03", Risk::Medium), Some(1));

    let lead = charts::lead_times(s.conn()).unwrap();
    let week = |w: &str, m: Milestone| {
        lead.iter()
            .find(|l| l.week == w && l.milestone == m)
            .cloned()
    };
    let approved = week("2026-03-02", Milestone::Approved).unwrap();
    // a: 25 h, b: 27 h (validated day 1 10:00, approved day 2 11:00 / 13:00).
    assert_eq!(approved.proposals, 2);
    assert_eq!(approved.median_seconds, 25.0 * 3600.0);
    assert_eq!(approved.p90_seconds, 27.0 * 3600.0);
    let promoted = week("2026-03-02", Milestone::Promoted).unwrap();
    assert_eq!(
        (promoted.proposals, promoted.median_seconds),
        (1, 29.0 * 3600.0)
    );
    let next = week("2026-03-09", Milestone::Approved).unwrap();
    assert_eq!((next.proposals, next.p90_seconds), (1, 600.0));

    // Binder: two denials with one code, one with another; failures by code.
    let lines = [
        ("deny", None, Some("oxide.protected_path")),
        ("deny", None, Some("oxide.protected_path")),
        ("deny", None, Some("oxide.too_big")),
        ("fail", Some("E_TEST"), None),
        ("fail", Some("E_TEST"), None),
        ("fail", Some("E_TEST"), None),
        ("fail", Some("E_LINT"), None),
        ("pass", None, None),
    ]
    .iter()
    .enumerate()
    .map(|(i, (signal, frc, prc))| {
        let mut v = json!({
            "event_id": format!("ev-{i}"), "sequence": i, "run_id": "run-1",
            "group_id": "g", "task_id": format!("t-{i}"), "signal": signal,
            "wrapper_policy": "strict",
            "taskspec": {"scope": "repo", "target": {"kind": "file", "id": format!("src/{i}.rs")},
                         "action": {"kind": "edit"}},
            "gates": [{"name": "unit", "version": "1", "status": if *signal == "fail" { "fail" } else { "pass" }}],
            "env": {"os": "linux"}, "evidence_refs": [format!("ci://runs/1/{i}")],
            "observed_at": "2026-03-02T10:00:00Z"
        });
        if let Some(c) = frc {
            v["taskspec"]["failure_reason_code"] = json!(c);
        }
        if let Some(c) = prc {
            v["policy_reason_code"] = json!(c);
        }
        v.to_string()
    })
    .collect::<Vec<_>>()
    .join("\n");
    let opts = IngestOptions::new(
        "test",
        "alice",
        FallbackMode::Strict,
        "2026-03-10T00:00:00Z",
    );
    let rep = ingest_reader(&mut s, lines.as_bytes(), &opts).unwrap();
    assert_eq!(rep.accepted, 8, "{rep:?}");
    let denials = charts::denials_by_policy_reason(s.conn()).unwrap();
    let pairs: Vec<(&str, u64)> = denials.iter().map(|r| (r.code.as_str(), r.count)).collect();
    assert_eq!(
        pairs,
        vec![("oxide.protected_path", 2), ("oxide.too_big", 1)]
    );
    let failures = charts::failures_by_failure_reason(s.conn()).unwrap();
    let pairs: Vec<(&str, u64)> = failures
        .iter()
        .map(|r| (r.code.as_str(), r.count))
        .collect();
    assert_eq!(pairs, vec![("E_TEST", 3), ("E_LINT", 1)]);

    // Events per day by kind, all and since a day.
    let all = charts::charts(s.conn(), &Default::default()).unwrap();
    let admits = all
        .events_per_day
        .iter()
        .find(|d| d.day == "2026-03-02" && d.kind == "workflow.admit")
        .unwrap();
    assert_eq!(admits.count, 3);
    let total: u64 = all.events_per_day.iter().map(|d| d.count).sum();
    assert_eq!(total, crate::audit::count(s.conn()).unwrap());
    let recent = crate::audit::events_per_day(
        s.conn(),
        &crate::audit::TimelineFilter {
            since: Some("2026-03-09".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(recent.iter().all(|d| d.day.as_str() >= "2026-03-09"));
    let on = |day: &str| -> u64 {
        recent
            .iter()
            .filter(|d| d.day == day)
            .map(|d| d.count)
            .sum()
    };
    assert_eq!(on("2026-03-09"), 2, "c validated and approved");
    assert!(on("2026-03-10") >= 1, "the binder ingest: {recent:?}");
}

/// The initiator these tests admit under (a resolved person).
fn alice() -> crate::signing::whoami::Initiator {
    crate::signing::whoami::Initiator::Person("alice".into())
}
