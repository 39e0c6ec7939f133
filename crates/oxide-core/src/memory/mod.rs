//! Runtime memory shared by the host brain and O.X.I.D.E (seed 000, R-009): behavior and
//! personality state as versioned entries. Nothing is overwritten: every change is a new
//! version carrying the previous value, who changed it, which proposal (if any), why and when,
//! recorded with an audit event in the same transaction.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::audit::{self, NewEvent};
use crate::{canon, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    #[error("unknown memory namespace '{0}'; use 'behavior' or 'personality'")]
    BadNamespace(String),
    #[error("memory key must be 1 to 200 characters, got {0}")]
    BadKey(usize),
    #[error("memory entry {namespace}/{key} is already at version {current}; re-read it and try again (expected {expected})")]
    Conflict {
        namespace: String,
        key: String,
        expected: i64,
        current: i64,
    },
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
    #[error(transparent)]
    Canon(#[from] canon::CanonError),
}

impl From<rusqlite::Error> for MemoryError {
    fn from(e: rusqlite::Error) -> Self {
        MemoryError::Audit(audit::AuditError::from(e))
    }
}

impl From<crate::store::StoreError> for MemoryError {
    fn from(e: crate::store::StoreError) -> Self {
        MemoryError::Audit(audit::AuditError::from(e))
    }
}

impl MemoryError {
    pub fn code(&self) -> &'static str {
        match self {
            MemoryError::BadNamespace(_) => "MEMORY_BAD_NAMESPACE",
            MemoryError::BadKey(_) => "MEMORY_BAD_KEY",
            MemoryError::Conflict { .. } => "MEMORY_CONFLICT",
            MemoryError::Audit(e) => e.code(),
            MemoryError::Canon(e) => e.code(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            MemoryError::BadNamespace(_)
            | MemoryError::BadKey(_)
            | MemoryError::Conflict { .. } => ErrorKind::Invalid,
            MemoryError::Audit(e) => e.kind(),
            MemoryError::Canon(_) => ErrorKind::Internal,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Namespace {
    Behavior,
    Personality,
}

impl Namespace {
    pub fn as_str(self) -> &'static str {
        match self {
            Namespace::Behavior => "behavior",
            Namespace::Personality => "personality",
        }
    }

    pub fn parse(s: &str) -> Result<Namespace, MemoryError> {
        match s {
            "behavior" => Ok(Namespace::Behavior),
            "personality" => Ok(Namespace::Personality),
            other => Err(MemoryError::BadNamespace(other.to_string())),
        }
    }
}

/// One version of one key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryEntry {
    pub namespace: Namespace,
    pub key: String,
    pub version: i64,
    pub value: Option<Value>,
    pub previous_value: Option<Value>,
    pub changed_by: String,
    pub proposal_id: Option<String>,
    pub reason: String,
    pub changed_at: String,
    pub audit_seq: i64,
}

/// A change to make.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub namespace: Namespace,
    pub key: &'a str,
    /// `None` clears the key (recorded as a version like any other).
    pub value: Option<Value>,
    pub changed_by: &'a str,
    pub proposal_id: Option<&'a str>,
    pub reason: &'a str,
    /// Optimistic concurrency: the version the caller read (0 for a new key).
    pub expected_version: Option<i64>,
}

fn current_version(conn: &Connection, ns: Namespace, key: &str) -> Result<i64, MemoryError> {
    Ok(conn.query_row(
        "SELECT coalesce(max(version), 0) FROM memory_entries WHERE namespace = ?1 AND key = ?2",
        params![ns.as_str(), key],
        |r| r.get(0),
    )?)
}

/// Records a new version. Call inside a write transaction.
pub fn set(conn: &Connection, change: Change<'_>, ts: &str) -> Result<MemoryEntry, MemoryError> {
    let klen = change.key.chars().count();
    if !(1..=200).contains(&klen) {
        return Err(MemoryError::BadKey(klen));
    }
    let current = current_version(conn, change.namespace, change.key)?;
    if let Some(expected) = change.expected_version {
        if expected != current {
            return Err(MemoryError::Conflict {
                namespace: change.namespace.as_str().into(),
                key: change.key.into(),
                expected,
                current,
            });
        }
    }
    let previous: Option<String> = conn
        .query_row(
            "SELECT value FROM memory_entries WHERE namespace = ?1 AND key = ?2 AND version = ?3",
            params![change.namespace.as_str(), change.key, current],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    let value_text = change
        .value
        .as_ref()
        .map(canon::canonical_string)
        .transpose()?;
    let version = current + 1;
    let ev = audit::append(
        conn,
        NewEvent {
            actor: change.changed_by,
            kind: "memory.set",
            subject: &format!("memory:{}/{}", change.namespace.as_str(), change.key),
            payload: json!({
                "version": version,
                "value_digest": value_text.as_deref().map(|t| canon::sha256_bytes(t.as_bytes())),
                "proposal": change.proposal_id,
                "reason": change.reason,
            }),
        },
        ts,
    )?;
    conn.execute(
        "INSERT INTO memory_entries (namespace, key, version, value, previous_value, changed_by,
             proposal_id, reason, changed_at, audit_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            change.namespace.as_str(),
            change.key,
            version,
            value_text,
            previous,
            change.changed_by,
            change.proposal_id,
            change.reason,
            ts,
            ev.seq
        ],
    )?;
    Ok(MemoryEntry {
        namespace: change.namespace,
        key: change.key.to_string(),
        version,
        value: change.value,
        previous_value: previous.and_then(|p| serde_json::from_str(&p).ok()),
        changed_by: change.changed_by.to_string(),
        proposal_id: change.proposal_id.map(str::to_string),
        reason: change.reason.to_string(),
        changed_at: ts.to_string(),
        audit_seq: ev.seq,
    })
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MemoryEntry> {
    let ns: String = r.get(0)?;
    let parse = |t: Option<String>| t.and_then(|t| serde_json::from_str(&t).ok());
    Ok(MemoryEntry {
        namespace: if ns == "personality" {
            Namespace::Personality
        } else {
            Namespace::Behavior
        },
        key: r.get(1)?,
        version: r.get(2)?,
        value: parse(r.get(3)?),
        previous_value: parse(r.get(4)?),
        changed_by: r.get(5)?,
        proposal_id: r.get(6)?,
        reason: r.get(7)?,
        changed_at: r.get(8)?,
        audit_seq: r.get(9)?,
    })
}

const COLS: &str = "namespace, key, version, value, previous_value, changed_by, proposal_id, reason, changed_at, audit_seq";

/// The current version of a key.
pub fn get(
    conn: &Connection,
    ns: Namespace,
    key: &str,
) -> Result<Option<MemoryEntry>, MemoryError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLS} FROM memory_entries WHERE namespace = ?1 AND key = ?2 ORDER BY version DESC LIMIT 1"),
            params![ns.as_str(), key],
            row,
        )
        .optional()?)
}

/// Every version of a key, oldest first.
pub fn history(
    conn: &Connection,
    ns: Namespace,
    key: &str,
) -> Result<Vec<MemoryEntry>, MemoryError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLS} FROM memory_entries WHERE namespace = ?1 AND key = ?2 ORDER BY version"
    ))?;
    let rows = stmt
        .query_map(params![ns.as_str(), key], row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Every version a proposal wrote (any key), in the order written.
pub fn by_proposal(conn: &Connection, proposal: &str) -> Result<Vec<MemoryEntry>, MemoryError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLS} FROM memory_entries WHERE proposal_id = ?1 ORDER BY audit_seq"
    ))?;
    let rows = stmt
        .query_map(params![proposal], row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn change<'a>(value: Option<Value>, by: &'a str, expected: Option<i64>) -> Change<'a> {
        Change {
            namespace: Namespace::Behavior,
            key: "review.tone",
            value,
            changed_by: by,
            proposal_id: None,
            reason: "test",
            expected_version: expected,
        }
    }

    #[test]
    fn versions_keep_full_history_with_audit() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Store::open(&d.path().join("m.sqlite3")).unwrap();
        s.write(|tx| {
            set(
                tx,
                change(Some(json!("terse")), "host", Some(0)),
                "2026-01-01T00:00:00Z",
            )
        })
        .unwrap();
        s.write(|tx| {
            set(
                tx,
                change(Some(json!("warm")), "oxide", Some(1)),
                "2026-01-02T00:00:00Z",
            )
        })
        .unwrap();
        s.write(|tx| set(tx, change(None, "alice", None), "2026-01-03T00:00:00Z"))
            .unwrap();
        let h = history(s.conn(), Namespace::Behavior, "review.tone").unwrap();
        assert_eq!(h.len(), 3);
        assert_eq!(h[1].previous_value, Some(json!("terse")));
        assert_eq!(h[1].value, Some(json!("warm")));
        assert_eq!(h[2].value, None);
        assert_eq!(h[2].changed_by, "alice");
        assert_eq!(
            get(s.conn(), Namespace::Behavior, "review.tone")
                .unwrap()
                .unwrap()
                .version,
            3
        );
        assert!(get(s.conn(), Namespace::Personality, "review.tone")
            .unwrap()
            .is_none());
        let seqs: Vec<i64> = h.iter().map(|e| e.audit_seq).collect();
        assert_eq!(seqs, vec![1, 2, 3]);
        assert!(audit::verify(s.conn()).unwrap().ok);
    }

    #[test]
    fn stale_writer_is_refused_and_writes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Store::open(&d.path().join("m.sqlite3")).unwrap();
        s.write(|tx| set(tx, change(Some(json!(1)), "a", Some(0)), "t1"))
            .unwrap();
        let err = s
            .write(|tx| set(tx, change(Some(json!(2)), "b", Some(0)), "t2"))
            .unwrap_err();
        assert_eq!(err.code(), "MEMORY_CONFLICT");
        assert_eq!(
            history(s.conn(), Namespace::Behavior, "review.tone")
                .unwrap()
                .len(),
            1
        );
        assert_eq!(audit::count(s.conn()).unwrap(), 1);
        assert!(s
            .conn()
            .execute("UPDATE memory_entries SET value = '3'", [])
            .is_err());
        assert_eq!(
            Namespace::parse("mood").unwrap_err().code(),
            "MEMORY_BAD_NAMESPACE"
        );
    }
}
