//! `policy_decisions`: every decision recorded (append-only) with its full input and output
//! and an audit event, in the caller's transaction; a proposal's decisions; the proposals
//! with their latest decision.

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{Decision, PolicyError};
use crate::audit::{self, NewEvent};
use crate::canon;

/// A decision as recorded: its row id and audit sequence number, and the decision itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct RecordedDecision {
    pub decision_id: i64,
    pub audit_seq: i64,
    pub decided_at: String,
    #[serde(flatten)]
    pub decision: Decision,
}

/// Records one decision with its full input, in the caller's transaction, with an audit
/// event (`policy.decision`, or `policy.error` when it failed closed).
pub fn record(
    tx: &Connection,
    proposal_id: Option<&str>,
    input: &Value,
    decision: &Decision,
    actor: &str,
    ts: &str,
) -> Result<RecordedDecision, PolicyError> {
    let input_text = canon::canonical_string(input)?;
    let output_text = canon::canonical_string(decision)?;
    let kind = if decision.is_policy_error() {
        "policy.error"
    } else {
        "policy.decision"
    };
    let ev = audit::append(
        tx,
        NewEvent {
            actor,
            kind,
            subject: &decision.subject,
            payload: json!({
                "outcome": decision.outcome,
                "risk": decision.risk,
                "required": decision.required,
                "policy_reason_code": decision.policy_reason_code,
                "failure_reason_code": decision.failure_reason_code,
                "denials": decision.denials,
                "policy_digest": decision.policy_digest,
                "input_digest": decision.input_digest,
            }),
        },
        ts,
    )?;
    tx.execute(
        "INSERT INTO policy_decisions (proposal_id, subject, input, input_digest, output,
             policy_digest, outcome, risk, policy_reason_code, decided_at, actor, audit_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            proposal_id,
            decision.subject,
            input_text,
            decision.input_digest,
            output_text,
            decision.policy_digest,
            decision.outcome.as_str(),
            decision.risk.as_str(),
            decision.policy_reason_code,
            ts,
            actor,
            ev.seq
        ],
    )?;
    Ok(RecordedDecision {
        decision_id: tx.last_insert_rowid(),
        audit_seq: ev.seq,
        decided_at: ts.to_string(),
        decision: decision.clone(),
    })
}

/// Decisions recorded for a proposal, newest first.
pub fn decisions_for(
    conn: &Connection,
    proposal_id: &str,
) -> Result<Vec<RecordedDecision>, PolicyError> {
    let mut stmt = conn.prepare(
        "SELECT id, audit_seq, decided_at, output FROM policy_decisions
         WHERE proposal_id = ?1 ORDER BY id DESC",
    )?;
    let rows = stmt.query_map([proposal_id], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, seq, at, text) = row?;
        let decision = serde_json::from_str(&text).map_err(|e| PolicyError::Corrupt {
            id,
            why: e.to_string(),
        })?;
        out.push(RecordedDecision {
            decision_id: id,
            audit_seq: seq,
            decided_at: at,
            decision,
        });
    }
    Ok(out)
}

/// One proposal and its latest recorded policy decision (the desktop's risk-gate list).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ProposalGate {
    pub id: String,
    pub state: crate::workflow::State,
    pub rationale: String,
    pub failure_reason_code: Option<String>,
    pub policy_reason_code: Option<String>,
    pub latest: Option<RecordedDecision>,
}

/// Every proposal, newest first, with its latest recorded decision (none evaluated: `None`).
pub fn proposal_gates(conn: &Connection) -> Result<Vec<ProposalGate>, crate::Error> {
    let rows = crate::workflow::rows::list(conn, None)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let latest = decisions_for(conn, &r.id)?.into_iter().next();
        out.push(ProposalGate {
            id: r.id,
            state: r.state,
            rationale: r.bundle.intent.rationale,
            failure_reason_code: r.failure_reason_code,
            policy_reason_code: r.policy_reason_code,
            latest,
        });
    }
    Ok(out)
}

/// A proposal's risk as one recorded decision judged it, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskPoint {
    pub proposal_id: String,
    pub risk: super::Risk,
    pub decided_at: String,
    pub denied: bool,
}

/// Every recorded decision about a proposal, oldest first, as (proposal, risk, time): the
/// charts' proposals by risk over time.
pub fn risk_points(conn: &Connection) -> Result<Vec<RiskPoint>, PolicyError> {
    let mut stmt = conn.prepare(
        "SELECT proposal_id, risk, decided_at, outcome FROM policy_decisions
         WHERE proposal_id IS NOT NULL ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (proposal_id, risk, decided_at, outcome) = row?;
        let risk = serde_json::from_value(Value::String(risk.clone())).map_err(|_| {
            PolicyError::Corrupt {
                id: 0,
                why: format!(
                    "policy_decisions.risk holds `{risk}`, which is no risk of this build"
                ),
            }
        })?;
        out.push(RiskPoint {
            proposal_id,
            risk,
            decided_at,
            denied: outcome == "denied",
        });
    }
    Ok(out)
}
