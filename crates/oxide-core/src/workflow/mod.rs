//! The proposal state machine. The transition table (`TABLE`) is the one place that says which
//! state may move where; each transition is one guarded public function. Every evaluation —
//! passed or denied — writes a guard evaluation record (`transitions`) and an audit event in
//! the caller's transaction, together with the state change when the guard passed. An illegal
//! transition is an error that writes nothing. See `docs/workflow.md`.

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::audit::{self, NewEvent};
use crate::canon;
use crate::clock::Stamp;
use crate::proposal::{Bundle, BUNDLE_SCHEMA_VERSION};
use crate::signing::{self, SigningError};
use crate::store::StoreError;

mod guards;
pub mod import;
pub mod reason;
pub mod rows;
pub mod table;
pub use guards::*;
pub use import::{import, import_bundle, ImportReport};
pub use rows::ProposalRow;
pub use table::{can, sources, table_edges, target, State, TableEdge, Transition, TABLE};

use State as S;
use Transition as T;

/// Errors of the `workflow` room.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error("no proposal '{0}'; list them with `oxide proposal list`")]
    NotFound(String),
    #[error("proposal {id} is {from}; `{transition}` is only allowed from {allowed}. Nothing was changed")]
    Illegal {
        id: String,
        from: State,
        transition: &'static str,
        allowed: String,
    },
    #[error("this bundle is already proposal {id} (state {state}); bundles are immutable, re-synthesise to supersede it")]
    Duplicate { id: String, state: State },
    #[error("the bundle cannot be admitted: {0}. Nothing was written")]
    BadBundle(String),
    #[error("unknown state '{0}'; the states are {states}", states = State::names())]
    UnknownState(String),
    #[error("proposal {id} has state '{state}' in the database, which this build does not know (the states are {states}); the database was written by a newer or altered OXIDE: upgrade, or restore it from a backup", states = State::names())]
    CorruptState { id: String, state: String },
    #[error("proposal {id} changed state concurrently (expected {from}); retry")]
    Raced { id: String, from: State },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
    #[error(transparent)]
    Canon(#[from] canon::CanonError),
    #[error(transparent)]
    Signing(#[from] SigningError),
}

impl From<rusqlite::Error> for WorkflowError {
    fn from(e: rusqlite::Error) -> Self {
        WorkflowError::Store(StoreError::from(e))
    }
}

impl WorkflowError {
    pub fn code(&self) -> &'static str {
        match self {
            WorkflowError::NotFound(_) => "WORKFLOW_NOT_FOUND",
            WorkflowError::Illegal { .. } => "WORKFLOW_ILLEGAL_TRANSITION",
            WorkflowError::Duplicate { .. } => "WORKFLOW_DUPLICATE",
            WorkflowError::BadBundle(_) => "WORKFLOW_BAD_BUNDLE",
            WorkflowError::Raced { .. } => "WORKFLOW_RACED",
            WorkflowError::UnknownState(_) => "WORKFLOW_UNKNOWN_STATE",
            WorkflowError::CorruptState { .. } => "WORKFLOW_CORRUPT_STATE",
            WorkflowError::Store(e) => e.code(),
            WorkflowError::Audit(e) => e.code(),
            WorkflowError::Canon(e) => e.code(),
            WorkflowError::Signing(e) => e.code(),
        }
    }

    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            WorkflowError::NotFound(_)
            | WorkflowError::Duplicate { .. }
            | WorkflowError::BadBundle(_)
            | WorkflowError::UnknownState(_) => crate::ErrorKind::Invalid,
            WorkflowError::Illegal { .. } => crate::ErrorKind::Refused,
            WorkflowError::Raced { .. }
            | WorkflowError::CorruptState { .. }
            | WorkflowError::Canon(_) => crate::ErrorKind::Internal,
            WorkflowError::Store(e) => e.kind(),
            WorkflowError::Audit(e) => e.kind(),
            WorkflowError::Signing(e) => e.kind(),
        }
    }
}

/// A guard evaluation record, as stored in `transitions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct GuardRecord {
    pub id: i64,
    pub proposal: String,
    pub from: State,
    pub to: State,
    pub guard: String,
    /// `passed` or `denied`.
    pub outcome: String,
    pub failure_reason_code: Option<String>,
    pub policy_reason_code: Option<String>,
    pub inputs_digest: String,
    pub at: String,
    pub audit_seq: i64,
}

impl GuardRecord {
    pub fn passed(&self) -> bool {
        self.outcome == "passed"
    }
}

/// What a guard concluded.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass {
        failure_reason_code: Option<String>,
        policy_reason_code: Option<String>,
    },
    Deny {
        failure_reason_code: Option<String>,
        policy_reason_code: Option<String>,
        why: String,
    },
}

impl Verdict {
    fn pass() -> Verdict {
        Verdict::Pass {
            failure_reason_code: None,
            policy_reason_code: None,
        }
    }
    fn deny_policy(code: &str, why: impl Into<String>) -> Verdict {
        Verdict::Deny {
            failure_reason_code: None,
            policy_reason_code: Some(code.into()),
            why: why.into(),
        }
    }
}

fn load(conn: &Connection, id: &str) -> Result<(ProposalRow, State), WorkflowError> {
    let row = rows::get(conn, id)?.ok_or_else(|| WorkflowError::NotFound(id.to_string()))?;
    let state = row.state;
    Ok((row, state))
}

/// A state word from a person or a shell (`--state`, IPC); unknown words are
/// `WORKFLOW_UNKNOWN_STATE`, naming the states.
pub fn parse_state(s: &str) -> Result<State, WorkflowError> {
    State::parse(s).ok_or_else(|| WorkflowError::UnknownState(s.to_string()))
}

/// A proposal row by id or digest; unknown ids are `WORKFLOW_NOT_FOUND`.
pub fn require(conn: &Connection, id: &str) -> Result<ProposalRow, WorkflowError> {
    Ok(load(conn, id)?.0)
}

fn illegal(id: &str, from: State, t: Transition) -> WorkflowError {
    WorkflowError::Illegal {
        id: id.to_string(),
        from,
        transition: t.name(),
        allowed: sources(t)
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Checks legality for an existing proposal without writing anything.
pub fn check_legal(conn: &Connection, id: &str, t: Transition) -> Result<State, WorkflowError> {
    let (row, from) = load(conn, id)?;
    target(from, t).ok_or_else(|| illegal(&row.id, from, t))
}

/// Writes the guard record of `edge` (passed or denied) and its audit event.
fn write_record(
    conn: &Connection,
    proposal: &str,
    edge: &TableEdge,
    verdict: &Verdict,
    inputs: &Value,
    stamp: &Stamp<'_>,
) -> Result<GuardRecord, WorkflowError> {
    let TableEdge {
        transition: t,
        from,
        to,
    } = *edge;
    let inputs_digest = canon::digest(inputs)?;
    let (outcome, frc, prc, why) = match verdict {
        Verdict::Pass {
            failure_reason_code,
            policy_reason_code,
        } => ("passed", failure_reason_code, policy_reason_code, None),
        Verdict::Deny {
            failure_reason_code,
            policy_reason_code,
            why,
        } => (
            "denied",
            failure_reason_code,
            policy_reason_code,
            Some(why.as_str()),
        ),
    };
    let kind = if outcome == "passed" {
        format!("workflow.{}", t.name())
    } else {
        format!("workflow.{}.denied", t.name())
    };
    let ev = audit::append(
        conn,
        NewEvent {
            actor: stamp.actor,
            kind: &kind,
            subject: proposal,
            payload: json!({
                "from": from.as_str(),
                "to": to.as_str(),
                "guard": t.name(),
                "outcome": outcome,
                "failure_reason_code": frc,
                "policy_reason_code": prc,
                "inputs_digest": inputs_digest,
                "inputs": inputs,
                "why": why,
            }),
        },
        stamp.at,
    )?;
    conn.execute(
        "INSERT INTO transitions (proposal_id, from_state, to_state, guard, outcome,
             failure_reason_code, policy_reason_code, inputs_digest, at, audit_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            proposal,
            from.as_str(),
            to.as_str(),
            t.name(),
            outcome,
            frc,
            prc,
            inputs_digest,
            stamp.at,
            ev.seq
        ],
    )?;
    Ok(GuardRecord {
        id: conn.last_insert_rowid(),
        proposal: proposal.to_string(),
        from,
        to,
        guard: t.name().into(),
        outcome: outcome.into(),
        failure_reason_code: frc.clone(),
        policy_reason_code: prc.clone(),
        inputs_digest,
        at: stamp.at.into(),
        audit_seq: ev.seq,
    })
}

/// The one path every transition of an existing proposal takes: legality from `TABLE`
/// (illegal → error, nothing written), the guard over the row and its inputs, the record and
/// audit event, and the state change when the guard passed — all on `conn` (the caller's
/// transaction).
fn run(
    conn: &Connection,
    id: &str,
    t: Transition,
    inputs: Value,
    superseded_by: Option<&str>,
    guard: impl FnOnce(&ProposalRow) -> Verdict,
    stamp: &Stamp<'_>,
) -> Result<GuardRecord, WorkflowError> {
    let (row, from) = load(conn, id)?;
    let to = target(from, t).ok_or_else(|| illegal(&row.id, from, t))?;
    let verdict = guard(&row);
    let edge = TableEdge {
        transition: t,
        from,
        to,
    };
    let rec = write_record(conn, &row.id, &edge, &verdict, &inputs, stamp)?;
    if let Verdict::Pass {
        failure_reason_code,
        policy_reason_code,
    } = &verdict
    {
        let change = rows::StateChange {
            from,
            to,
            failure_reason_code: failure_reason_code.as_deref(),
            policy_reason_code: policy_reason_code.as_deref(),
            superseded_by,
        };
        let n = rows::set_state(conn, &row.id, &change, stamp.at)?;
        if n != 1 {
            return Err(WorkflowError::Raced { id: row.id, from });
        }
    }
    Ok(rec)
}

/// Structural checks a bundle must pass before it may become a proposal. (Applicability
/// against the base commit is checked by the caller — `propose`/`proposal import` — with git.)
fn admit_guard(bundle: &Bundle) -> Result<(), String> {
    if bundle.schema_version != BUNDLE_SCHEMA_VERSION {
        return Err(format!(
            "schema_version is '{}', expected '{BUNDLE_SCHEMA_VERSION}'",
            bundle.schema_version
        ));
    }
    canon::parse_digest(&bundle.skill_digest).map_err(|_| {
        format!(
            "skill_digest '{}' is not sha256:<64 hex>",
            bundle.skill_digest
        )
    })?;
    let c = &bundle.base.commit;
    if c.len() != 40 || !c.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("base.commit '{c}' is not a full 40-hex commit id"));
    }
    if bundle.base.branch.trim().is_empty() {
        return Err("base.branch is empty".into());
    }
    if bundle.intent.ops.is_empty() {
        return Err("intent.ops is empty; a proposal must change something".into());
    }
    if crate::clock::parse_ts(&bundle.created_at).is_none() {
        return Err(format!(
            "created_at '{}' is not RFC 3339",
            bundle.created_at
        ));
    }
    Ok(())
}

pub use crate::signing::whoami::Initiator;

/// Who proposes now on this device, for [`admit`] (docs/roles.md, "Who initiated a
/// proposal"): `signing::whoami::initiator_here`, for the callers above `workflow`.
pub fn initiator_here(ws: &crate::Workspace) -> Result<Initiator, crate::Error> {
    signing::whoami::initiator_here(ws)
}

/// `admit`: a bundle becomes proposal `<short id of its digest>` in state `proposed`, with its
/// guard record (`discovered → proposed`) and audit event, all on `conn` — call it inside one
/// `Store::write`. A bundle failing the guard, or already admitted, is an error writing
/// nothing (there is no proposal yet to hang a denied record on). `initiator` is who created
/// it as the caller resolved it (`signing::whoami::initiator_here` locally, the endorsed
/// person of the publishing device through sync) — never the stamp's actor.
#[tracing::instrument(name = "workflow.admit", skip_all)]
pub fn admit(
    conn: &Connection,
    bundle: &Bundle,
    initiator: &signing::whoami::Initiator,
    stamp: &Stamp<'_>,
) -> Result<ProposalRow, WorkflowError> {
    admit_guard(bundle).map_err(WorkflowError::BadBundle)?;
    let digest = bundle.digest()?;
    let id = canon::short_id(&digest);
    if let Some(existing) = rows::get(conn, &id)? {
        return Err(WorkflowError::Duplicate {
            id: existing.id,
            state: existing.state,
        });
    }
    if let Some(prev) = &bundle.supersedes {
        if rows::get(conn, prev)?.is_none() {
            return Err(WorkflowError::BadBundle(format!(
                "supersedes '{prev}', which is not a known proposal"
            )));
        }
    }
    let canonical = canon::canonical_string(bundle)?;
    let now = crate::clock::parse_ts(stamp.at).ok_or_else(|| {
        WorkflowError::BadBundle(format!("admission time '{}' is not RFC 3339", stamp.at))
    })?;
    rows::insert(
        conn,
        &id,
        &digest,
        S::Proposed,
        &canonical,
        initiator,
        stamp,
    )?;
    // REC-001: the instance key signs the bundle in the admission transaction.
    signing::bundle_sig::sign(conn, &id, &digest, now)?;
    let who = match initiator {
        signing::whoami::Initiator::Person(p) => json!(p),
        signing::whoami::Initiator::Unresolved(c) => json!({"unresolved": c}),
    };
    let inputs = json!({"bundle_digest": digest, "synthesizer": bundle.provenance.synthesizer,
                        "initiator": who});
    let edge = TableEdge {
        transition: T::Admit,
        from: S::Discovered,
        to: S::Proposed,
    };
    write_record(conn, &id, &edge, &Verdict::pass(), &inputs, stamp)?;
    rows::get(conn, &id)?.ok_or(WorkflowError::NotFound(id))
}

/// REC-001, before a gate acts on proposal `id`: its bundle's instance-key signature and
/// digest (`signing::bundle_sig::verify`, over the canonical bytes of the bundle the gate will
/// act on). When they do not hold, the proposal is quarantined on `conn` (guarded transition,
/// guard record, audit event, reason `SIGNING_BUNDLE_INVALID`) where the table allows it, and
/// the refusal comes back as `Ok(Err(..))`: the caller commits the quarantine, then reports
/// the refusal (exit 3). A keyring that cannot be reached is an error (nothing judged).
pub fn check_bundle(
    conn: &Connection,
    id: &str,
    stamp: &Stamp<'_>,
) -> Result<Result<(), SigningError>, WorkflowError> {
    let (row, state) = load(conn, id)?;
    let canonical = canon::canonical_bytes(&row.bundle)?;
    match signing::bundle_sig::verify(conn, &row.id, &row.digest, &canonical) {
        Ok(_) => Ok(Ok(())),
        Err(e @ SigningError::BundleInvalid { .. }) => {
            if can(state, T::Quarantine) {
                quarantine(
                    conn,
                    &row.id,
                    reason::SIGNING_BUNDLE_INVALID,
                    &e.to_string(),
                    stamp,
                )?;
            }
            Ok(Err(e))
        }
        Err(e) => Err(e.into()),
    }
}

/// A proposal's guard evaluation records, oldest first.
pub fn history(conn: &Connection, id: &str) -> Result<Vec<GuardRecord>, WorkflowError> {
    let (row, _) = load(conn, id)?;
    records(conn, Some(&row.id))
}

/// Every proposal's guard evaluation records, oldest first (the charts' proposals over time
/// and lead times).
pub fn all_records(conn: &Connection) -> Result<Vec<GuardRecord>, WorkflowError> {
    records(conn, None)
}

fn records(conn: &Connection, proposal: Option<&str>) -> Result<Vec<GuardRecord>, WorkflowError> {
    const COLS: &str = "SELECT id, proposal_id, from_state, to_state, guard, outcome,
        failure_reason_code, policy_reason_code, inputs_digest, at, audit_seq FROM transitions";
    // Two statements, so the one proposal's read walks `transitions_by_proposal`.
    let mut stmt = match proposal {
        Some(_) => conn.prepare(&format!("{COLS} WHERE proposal_id = ?1 ORDER BY id"))?,
        None => conn.prepare(&format!("{COLS} WHERE ?1 IS NULL ORDER BY id"))?,
    };
    let recs = stmt.query_map(params![proposal], |r| {
        let proposal: String = r.get(1)?;
        Ok(GuardRecord {
            id: r.get(0)?,
            from: rows::stored_state(&proposal, r.get(2)?, 2)?,
            to: rows::stored_state(&proposal, r.get(3)?, 3)?,
            proposal,
            guard: r.get(4)?,
            outcome: r.get(5)?,
            failure_reason_code: r.get(6)?,
            policy_reason_code: r.get(7)?,
            inputs_digest: r.get(8)?,
            at: r.get(9)?,
            audit_seq: r.get(10)?,
        })
    })?;
    recs.collect::<Result<_, _>>().map_err(rows::read_err)
}

#[cfg(test)]
mod tests;
