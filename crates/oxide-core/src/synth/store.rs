//! The synth room's tables (migration 0005): the replay store and the attempt log.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// A stored answer to one synthesis request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayEntry {
    pub request_sha256: String,
    pub content: String,
    pub done_reason: Option<String>,
    pub response_sha256: String,
    pub created_at: String,
}

/// The stored answer for a request key, if any.
pub fn replay_get(
    conn: &Connection,
    request_sha256: &str,
) -> rusqlite::Result<Option<ReplayEntry>> {
    conn.query_row(
        "SELECT request_sha256, content, done_reason, response_sha256, created_at
         FROM synth_replay WHERE request_sha256 = ?1",
        params![request_sha256],
        |r| {
            Ok(ReplayEntry {
                request_sha256: r.get(0)?,
                content: r.get(1)?,
                done_reason: r.get(2)?,
                response_sha256: r.get(3)?,
                created_at: r.get(4)?,
            })
        },
    )
    .optional()
}

/// Stores (or refreshes) the answer to a request. An identical answer keeps its first
/// `created_at`; a different answer replaces the entry (the newest answer is what replays).
pub fn replay_put(
    conn: &Connection,
    entry: &ReplayEntry,
    model: &str,
    model_digest: &str,
    request_canonical: &str,
    ts: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO synth_replay (request_sha256, model, model_digest, request, content,
                                   done_reason, response_sha256, created_at, last_used_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (request_sha256) DO UPDATE SET
             content = excluded.content,
             done_reason = excluded.done_reason,
             created_at = CASE WHEN synth_replay.response_sha256 = excluded.response_sha256
                               THEN synth_replay.created_at ELSE excluded.created_at END,
             response_sha256 = excluded.response_sha256,
             last_used_at = excluded.last_used_at",
        params![
            entry.request_sha256,
            model,
            model_digest,
            request_canonical,
            entry.content,
            entry.done_reason,
            entry.response_sha256,
            entry.created_at,
            ts
        ],
    )?;
    Ok(())
}

/// Marks a stored answer as used by a replay.
pub fn replay_touch(conn: &Connection, request_sha256: &str, ts: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE synth_replay SET last_used_at = ?2 WHERE request_sha256 = ?1",
        params![request_sha256, ts],
    )?;
    Ok(())
}

/// One `propose` attempt as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Attempt {
    pub id: i64,
    pub skill_id: String,
    /// `proposed`, `existing` (the same bundle was already a proposal) or `no_op`.
    pub outcome: String,
    pub proposal_id: Option<String>,
    pub failure_reason_code: Option<String>,
    pub message: String,
    /// `ollama` (asked the server) or `replay` (answered from the replay store).
    pub source: String,
    pub model: String,
    pub model_digest: String,
    pub request_sha256: Option<String>,
    pub base_commit: Option<String>,
    pub duration_ms: i64,
    pub at: String,
    pub audit_seq: i64,
}

pub(crate) fn attempt_insert(conn: &Connection, a: &Attempt) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO synth_attempts (skill_id, outcome, proposal_id, failure_reason_code, message,
             source, model, model_digest, request_sha256, base_commit, duration_ms, at, audit_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            a.skill_id,
            a.outcome,
            a.proposal_id,
            a.failure_reason_code,
            a.message,
            a.source,
            a.model,
            a.model_digest,
            a.request_sha256,
            a.base_commit,
            a.duration_ms,
            a.at,
            a.audit_seq
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Attempts, newest first, optionally for one skill.
pub fn attempts(
    conn: &Connection,
    skill_id: Option<&str>,
    limit: u32,
) -> rusqlite::Result<Vec<Attempt>> {
    let mut stmt = conn.prepare(
        "SELECT id, skill_id, outcome, proposal_id, failure_reason_code, message, source, model,
                model_digest, request_sha256, base_commit, duration_ms, at, audit_seq
         FROM synth_attempts WHERE (?1 IS NULL OR skill_id = ?1) ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![skill_id, limit], |r| {
        Ok(Attempt {
            id: r.get(0)?,
            skill_id: r.get(1)?,
            outcome: r.get(2)?,
            proposal_id: r.get(3)?,
            failure_reason_code: r.get(4)?,
            message: r.get(5)?,
            source: r.get(6)?,
            model: r.get(7)?,
            model_digest: r.get(8)?,
            request_sha256: r.get(9)?,
            base_commit: r.get(10)?,
            duration_ms: r.get(11)?,
            at: r.get(12)?,
            audit_seq: r.get(13)?,
        })
    })?;
    rows.collect()
}

/// How many attempts ended in `no_op` (the `no_op` count `status` shows: no-ops leave no
/// proposal row).
pub fn no_op_count(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row(
        "SELECT count(*) FROM synth_attempts WHERE outcome = 'no_op'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u64)
}
