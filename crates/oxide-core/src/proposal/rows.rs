//! The `proposals` table (proposal room). Rows are created by `workflow::admit` and their
//! state is changed only by `workflow`'s guarded transitions (`set_state` is crate-private):
//! no other code path writes a proposal's state.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use super::types::Bundle;

/// One proposal as stored: the immutable bundle and its current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ProposalRow {
    pub id: String,
    pub digest: String,
    pub skill_id: Option<String>,
    pub state: String,
    pub bundle: Bundle,
    pub failure_reason_code: Option<String>,
    pub policy_reason_code: Option<String>,
    pub superseded_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str = "id, digest, skill_id, state, bundle, failure_reason_code, \
    policy_reason_code, superseded_by, created_at, updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ProposalRow> {
    let bundle_text: String = r.get(4)?;
    let bundle: Bundle = serde_json::from_str(&bundle_text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(ProposalRow {
        id: r.get(0)?,
        digest: r.get(1)?,
        skill_id: r.get(2)?,
        state: r.get(3)?,
        bundle,
        failure_reason_code: r.get(5)?,
        policy_reason_code: r.get(6)?,
        superseded_by: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

/// Inserts a new row. Called by `workflow::admit` inside its transaction.
pub(crate) fn insert(
    conn: &Connection,
    id: &str,
    digest: &str,
    skill_id: Option<&str>,
    state: &str,
    bundle_canonical: &str,
    ts: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO proposals (id, digest, skill_id, state, bundle, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![id, digest, skill_id, state, bundle_canonical, ts],
    )?;
    Ok(())
}

/// Changes a row's state and reason codes. Only `workflow` calls this, inside the same
/// transaction as the guard record and the audit event. A denial's `policy_reason_code` never
/// overwrites `failure_reason_code` (each is set only when given).
#[allow(clippy::too_many_arguments)]
pub(crate) fn set_state(
    conn: &Connection,
    id: &str,
    from: &str,
    to: &str,
    failure_reason_code: Option<&str>,
    policy_reason_code: Option<&str>,
    superseded_by: Option<&str>,
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
            from,
            to,
            failure_reason_code,
            policy_reason_code,
            superseded_by,
            ts
        ],
    )
}

/// A proposal by id (the short id) or by full digest.
pub fn get(conn: &Connection, id_or_digest: &str) -> rusqlite::Result<Option<ProposalRow>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM proposals WHERE id = ?1 OR digest = ?1"),
        params![id_or_digest],
        from_row,
    )
    .optional()
}

/// Proposals, newest first, optionally only those in `state`.
pub fn list(conn: &Connection, state: Option<&str>) -> rusqlite::Result<Vec<ProposalRow>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM proposals WHERE (?1 IS NULL OR state = ?1)
         ORDER BY created_at DESC, id"
    ))?;
    let rows = stmt.query_map(params![state], from_row)?;
    rows.collect()
}
