//! The `proposals` table (workflow room). Rows are created by `workflow::admit` and their
//! state is changed only by `workflow`'s guarded transitions (`set_state` is crate-private):
//! no other code path writes a proposal's state. A row's state is parsed into [`State`] here,
//! once; a spelling this build does not know is `WORKFLOW_CORRUPT_STATE`.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use super::table::State;
use super::WorkflowError;
use crate::proposal::Bundle;
use crate::signing::whoami::Initiator;

/// One proposal as stored: the immutable bundle and its current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ProposalRow {
    pub id: String,
    pub digest: String,
    pub skill_id: Option<String>,
    pub state: State,
    pub bundle: Bundle,
    pub failure_reason_code: Option<String>,
    pub policy_reason_code: Option<String>,
    pub superseded_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A stored state spelling this build does not know (carried through rusqlite's row mapping).
#[derive(Debug)]
pub(crate) struct UnknownStoredState {
    pub id: String,
    pub state: String,
}

impl std::fmt::Display for UnknownStoredState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "proposal {} has unknown state {}", self.id, self.state)
    }
}

impl std::error::Error for UnknownStoredState {}

/// Maps a row-reading error, turning an unknown stored state into its own error.
pub(crate) fn read_err(e: rusqlite::Error) -> WorkflowError {
    if let rusqlite::Error::FromSqlConversionFailure(_, _, inner) = &e {
        if let Some(u) = inner.downcast_ref::<UnknownStoredState>() {
            return WorkflowError::CorruptState {
                id: u.id.clone(),
                state: u.state.clone(),
            };
        }
    }
    WorkflowError::from(e)
}

/// Parses a stored state (`col` is the column index, for the error).
pub(crate) fn stored_state(id: &str, text: String, col: usize) -> rusqlite::Result<State> {
    State::parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            col,
            rusqlite::types::Type::Text,
            Box::new(UnknownStoredState {
                id: id.to_string(),
                state: text,
            }),
        )
    })
}

const COLUMNS: &str = "id, digest, skill_id, state, bundle, failure_reason_code, \
    policy_reason_code, superseded_by, created_at, updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ProposalRow> {
    let id: String = r.get(0)?;
    let state = stored_state(&id, r.get(3)?, 3)?;
    let bundle_text: String = r.get(4)?;
    let bundle: Bundle = serde_json::from_str(&bundle_text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(ProposalRow {
        id,
        digest: r.get(1)?,
        skill_id: r.get(2)?,
        state,
        bundle,
        failure_reason_code: r.get(5)?,
        policy_reason_code: r.get(6)?,
        superseded_by: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

/// Inserts a new row. Called by `workflow::admit` inside its transaction. The initiator is
/// the person the caller resolved (never the stamp's actor, which is only the audit label).
pub(crate) fn insert(
    conn: &Connection,
    id: &str,
    digest: &str,
    state: State,
    bundle_canonical: &str,
    initiator: &Initiator,
    stamp: &crate::clock::Stamp<'_>,
) -> rusqlite::Result<()> {
    let (person, candidates) = match initiator {
        Initiator::Person(p) => (Some(p.as_str()), None),
        Initiator::Unresolved(c) => (
            None,
            Some(serde_json::to_string(c).expect("a list of strings is JSON")),
        ),
    };
    conn.execute(
        "INSERT INTO proposals (id, digest, skill_id, state, bundle, created_at, updated_at,
                                initiator, initiator_candidates)
         VALUES (?1, ?2, NULL, ?3, ?4, ?5, ?5, ?6, ?7)",
        params![
            id,
            digest,
            state.as_str(),
            bundle_canonical,
            stamp.at,
            person,
            candidates
        ],
    )?;
    Ok(())
}

/// Who created the proposal, when one person is known: the person resolved on the proposing
/// device, or the endorsed person of the device it arrived from (for a row from before
/// migration 0021: the audit actor of its `admit`). `None` when it was not resolved (see
/// [`initiator_record`]). The two-person rule excludes this person.
pub fn initiator(conn: &Connection, id: &str) -> Result<Option<String>, WorkflowError> {
    Ok(initiator_record(conn, id)?.and_then(|i| i.person().map(str::to_string)))
}

/// The proposal's initiator as recorded: one person, or (unresolved on this device) the
/// persons who could have proposed. `None`: no such proposal, or a row from before either
/// was recorded.
pub fn initiator_record(conn: &Connection, id: &str) -> Result<Option<Initiator>, WorkflowError> {
    let row = conn
        .query_row(
            "SELECT initiator, initiator_candidates FROM proposals WHERE id = ?1",
            params![id],
            |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, Option<String>>(1)?,
                ))
            },
        )
        .optional()
        .map_err(read_err)?;
    Ok(match row {
        Some((Some(p), _)) => Some(Initiator::Person(p)),
        Some((None, Some(c))) => Some(Initiator::Unresolved(serde_json::from_str(&c).map_err(
            |e| WorkflowError::CorruptState {
                id: id.to_string(),
                state: format!("initiator_candidates {c:?} ({e})"),
            },
        )?)),
        _ => None,
    })
}

/// The initiator as the proposal's admission recorded it in its audit event (`workflow.admit`,
/// `inputs.initiator`; hash-chained, so an edit shows), checked against the row: `(initiator,
/// problem)`. The initiator is the audit copy when there is one, else the row's (a proposal
/// admitted before the audit event carried it). `problem` says how the row's `initiator` /
/// `initiator_candidates` differ from the admission's (an edited database).
pub fn checked_initiator(
    conn: &Connection,
    id: &str,
) -> Result<(Option<Initiator>, Option<String>), WorkflowError> {
    let row = initiator_record(conn, id)?;
    let Some(recorded) = admission_record(conn, id)? else {
        return Ok((row, None));
    };
    let Some(admitted) = parse_admitted(&recorded) else {
        return Ok((
            row,
            Some(format!(
                "the admission of proposal {id} recorded an initiator that cannot be read ({recorded})"
            )),
        ));
    };
    let problem = (row.as_ref() != Some(&admitted)).then(|| {
        format!(
            "the proposal row names {} as who initiated proposal {id}, but its admission recorded {} (the database was edited)",
            describe(row.as_ref()),
            describe(Some(&admitted))
        )
    });
    Ok((Some(admitted), problem))
}

/// The initiator as the admission's audit event recorded it (`None`: a proposal admitted
/// before the event carried it, or an event that cannot be read — see [`checked_initiator`]).
pub fn admitted_initiator(conn: &Connection, id: &str) -> Result<Option<Initiator>, WorkflowError> {
    Ok(admission_record(conn, id)?
        .as_ref()
        .and_then(parse_admitted))
}

/// `inputs.initiator` of the proposal's `workflow.admit` audit event, as stored.
fn admission_record(
    conn: &Connection,
    id: &str,
) -> Result<Option<serde_json::Value>, WorkflowError> {
    Ok(crate::audit::for_subject(conn, id)?
        .into_iter()
        .find(|e| e.kind == "workflow.admit")
        .and_then(|e| e.payload.value()["inputs"].get("initiator").cloned()))
}

/// PURE: `"person"` or `{"unresolved": [...]}` (what `workflow::admit` writes).
fn parse_admitted(recorded: &serde_json::Value) -> Option<Initiator> {
    match recorded {
        serde_json::Value::String(p) => Some(Initiator::Person(p.clone())),
        serde_json::Value::Object(o) => o
            .get("unresolved")
            .and_then(|c| serde_json::from_value::<Vec<String>>(c.clone()).ok())
            .map(Initiator::Unresolved),
        _ => None,
    }
}

fn describe(i: Option<&Initiator>) -> String {
    match i {
        Some(Initiator::Person(p)) => format!("'{p}'"),
        Some(Initiator::Unresolved(c)) => format!("nobody (could have: {})", c.join(", ")),
        None => "nobody at all".into(),
    }
}

/// A state change of one row: from, to, and the codes it sets (each only when given, so a
/// denial's `policy_reason_code` never overwrites `failure_reason_code`).
pub(crate) struct StateChange<'a> {
    pub from: State,
    pub to: State,
    pub failure_reason_code: Option<&'a str>,
    pub policy_reason_code: Option<&'a str>,
    pub superseded_by: Option<&'a str>,
}

/// Changes a row's state and reason codes. Only `workflow` calls this, inside the same
/// transaction as the guard record and the audit event. Returns the rows changed (0 when the
/// row was not in `change.from`).
pub(crate) fn set_state(
    conn: &Connection,
    id: &str,
    change: &StateChange<'_>,
    ts: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE proposals SET state = ?3,
             failure_reason_code = coalesce(?4, failure_reason_code),
             policy_reason_code = coalesce(?5, policy_reason_code),
             superseded_by = coalesce(?6, superseded_by),
             updated_at = ?7
         WHERE id = ?1 AND state = ?2",
        params![
            id,
            change.from.as_str(),
            change.to.as_str(),
            change.failure_reason_code,
            change.policy_reason_code,
            change.superseded_by,
            ts
        ],
    )
}

/// A proposal by id (the short id) or by full digest.
pub fn get(conn: &Connection, id_or_digest: &str) -> Result<Option<ProposalRow>, WorkflowError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM proposals WHERE id = ?1 OR digest = ?1"),
        params![id_or_digest],
        from_row,
    )
    .optional()
    .map_err(read_err)
}

/// Proposals, newest first, optionally only those in `state`.
pub fn list(conn: &Connection, state: Option<State>) -> Result<Vec<ProposalRow>, WorkflowError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM proposals WHERE (?1 IS NULL OR state = ?1)
         ORDER BY created_at DESC, id"
    ))?;
    let rows = stmt
        .query_map(params![state.map(State::as_str)], from_row)?
        .collect::<Result<_, _>>();
    rows.map_err(read_err)
}

/// Proposals created at or after `since` (RFC 3339, as stored), newest first, at most
/// `limit` of them, in any of `states` (every state when empty). The policy's rolling
/// window of recent proposals reads the proposals table through this.
pub fn recent(
    conn: &Connection,
    since: &str,
    states: &[State],
    limit: u32,
) -> Result<Vec<ProposalRow>, WorkflowError> {
    let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
    let states = serde_json::to_string(&states).expect("a list of strings is JSON");
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM proposals
         WHERE created_at >= ?1
           AND (json_array_length(?2) = 0 OR state IN (SELECT value FROM json_each(?2)))
         ORDER BY created_at DESC, id LIMIT ?3"
    ))?;
    let rows = stmt
        .query_map(params![since, states, limit], from_row)?
        .collect::<Result<_, _>>();
    rows.map_err(read_err)
}

/// How many proposals are in each state (states without proposals absent).
pub fn count_by_state(conn: &Connection) -> Result<Vec<(State, u64)>, WorkflowError> {
    let mut stmt = conn.prepare("SELECT state, count(*) FROM proposals GROUP BY state")?;
    let rows = stmt
        .query_map([], |r| {
            let state: String = r.get(0)?;
            let n: i64 = r.get(1)?;
            Ok((stored_state("(count)", state, 0)?, n as u64))
        })?
        .collect::<Result<_, _>>();
    rows.map_err(read_err)
}
