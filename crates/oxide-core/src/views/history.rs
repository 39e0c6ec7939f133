//! A proposal's own timeline: every guard record (passed transitions and denials), every
//! validation run with its checks, every policy decision, and every other audit event about
//! it — each with the audit seq that records it, in chain order.
//!
//! Each typed entry comes from its room's records (`workflow::history`,
//! `checks::validate::runs_for`, `policy::record::decisions_for`); the audit events about the
//! proposal (`audit::for_subject`) link them to the chain and fill in what no room keeps a
//! typed record of (a branch created, a run abandoned). A room that lands later with its own
//! records (approvals, promotion, rollback) adds one [`HistoryEntry`] variant and one source
//! in [`proposal_history`]; until then its events show as [`HistoryEntry::Event`].

use std::collections::BTreeMap;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::audit::{self, AuditEvent};
use crate::checks::validate::RunSummary;
use crate::policy::record::RecordedDecision;
use crate::workflow::{self, GuardRecord, State};

/// One step of a proposal's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HistoryEntry {
    /// A guard evaluation: a transition that passed, or a denial that moved nothing.
    Guard {
        audit_seq: i64,
        at: String,
        record: GuardRecord,
    },
    /// A validation run (its `checks.run_started` event) with its checks' results.
    /// `audit_seq` is `None` only when the chain lacks the event that claimed the run (a
    /// damaged database: `audit verify` says where); such a run is listed last.
    CheckRun {
        audit_seq: Option<i64>,
        at: String,
        run: RunSummary,
    },
    /// A policy decision over the proposal.
    PolicyDecision {
        audit_seq: i64,
        at: String,
        decision: RecordedDecision,
    },
    /// Any other audit event about the proposal.
    Event {
        audit_seq: i64,
        at: String,
        event: AuditEvent,
    },
}

impl HistoryEntry {
    /// The audit seq recording this step (`None`: see [`HistoryEntry::CheckRun`]).
    pub fn audit_seq(&self) -> Option<i64> {
        match self {
            HistoryEntry::Guard { audit_seq, .. }
            | HistoryEntry::PolicyDecision { audit_seq, .. }
            | HistoryEntry::Event { audit_seq, .. } => Some(*audit_seq),
            HistoryEntry::CheckRun { audit_seq, .. } => *audit_seq,
        }
    }
}

/// A proposal's history, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ProposalHistory {
    pub id: String,
    pub state: State,
    pub entries: Vec<HistoryEntry>,
}

/// The history of proposal `id` (an id or a digest; unknown: `WORKFLOW_NOT_FOUND`).
#[tracing::instrument(name = "views.proposal_history", skip_all)]
pub fn proposal_history(conn: &Connection, id: &str) -> Result<ProposalHistory, crate::Error> {
    let row = workflow::require(conn, id)?;
    let mut events: BTreeMap<i64, AuditEvent> = audit::for_subject(conn, &row.id)?
        .into_iter()
        .map(|e| (e.seq, e))
        .collect();
    let mut entries = Vec::new();
    for record in workflow::history(conn, &row.id)? {
        events.remove(&record.audit_seq);
        entries.push(HistoryEntry::Guard {
            audit_seq: record.audit_seq,
            at: record.at.clone(),
            record,
        });
    }
    for decision in crate::policy::record::decisions_for(conn, &row.id)? {
        events.remove(&decision.audit_seq);
        entries.push(HistoryEntry::PolicyDecision {
            audit_seq: decision.audit_seq,
            at: decision.decided_at.clone(),
            decision,
        });
    }
    // A run is linked to the chain by the event that claimed it.
    let started: BTreeMap<String, i64> = events
        .values()
        .filter(|e| e.kind == "checks.run_started")
        .filter_map(|e| Some((e.payload.str_field("run_id")?, e.seq)))
        .collect();
    for run in crate::checks::validate::runs_for(conn, &row.id)? {
        // Every run is claimed with its event in one transaction; a run without one means
        // the chain was damaged: keep the run visible (last) rather than drop it.
        let seq = started.get(&run.run_id).copied();
        if let Some(s) = seq {
            events.remove(&s);
        }
        entries.push(HistoryEntry::CheckRun {
            audit_seq: seq,
            at: run.started_at.clone(),
            run,
        });
    }
    // Approvals (issue 12's signing room) and promotion records plug in here as typed
    // sources; until they land, their audit events are the `Event` entries below.
    for (seq, event) in events {
        entries.push(HistoryEntry::Event {
            audit_seq: seq,
            at: event.ts.clone(),
            event,
        });
    }
    entries.sort_by_key(|e| e.audit_seq().unwrap_or(i64::MAX));
    Ok(ProposalHistory {
        id: row.id,
        state: row.state,
        entries,
    })
}
