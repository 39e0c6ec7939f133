//! The `approvals` table (signing room): each approval's DSSE envelope stored verbatim, with
//! index columns copied from it (proposal, key id, person, decision, nonce, bundle digest,
//! times). The columns are for finding rows only; statuses are always computed from the
//! envelope ([`super::verify`]), and [`StoredApproval::row_problems`] reports a row whose
//! columns disagree with its envelope (an edit of the database file). One approval, one
//! nonce: a second row with a nonce already stored is refused.

use std::collections::HashMap;

use rusqlite::{params, Connection, Row};
use serde::{Deserialize, Serialize};

use super::statement::{Decision, Statement};
use super::verify::Checked;
use super::SigningError;
use crate::audit::{self, NewEvent};
use crate::clock::Stamp;

/// One stored approval row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct StoredApproval {
    pub id: i64,
    pub proposal_id: String,
    /// The DSSE envelope JSON, exactly as signed.
    pub envelope: String,
    pub keyid: String,
    pub person: String,
    pub decision: Decision,
    pub nonce: String,
    pub bundle_digest: String,
    pub issued_at: String,
    pub expires_at: String,
    pub stored_at: String,
    pub audit_seq: i64,
}

/// The index columns of a new row, read from its (already verified) envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApproval<'a> {
    pub proposal_id: &'a str,
    pub envelope: &'a str,
    pub keyid: &'a str,
    pub statement: &'a Statement,
}

const COLUMNS: &str = "id, proposal_id, envelope, keyid, person, decision, nonce, \
    bundle_digest, issued_at, expires_at, stored_at, audit_seq";

fn from_row(r: &Row<'_>) -> rusqlite::Result<StoredApproval> {
    let decision: String = r.get(5)?;
    Ok(StoredApproval {
        id: r.get(0)?,
        proposal_id: r.get(1)?,
        envelope: r.get(2)?,
        keyid: r.get(3)?,
        person: r.get(4)?,
        decision: Decision::parse(&decision).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                5,
                rusqlite::types::Type::Text,
                format!("approvals.decision holds '{decision}'").into(),
            )
        })?,
        nonce: r.get(6)?,
        bundle_digest: r.get(7)?,
        issued_at: r.get(8)?,
        expires_at: r.get(9)?,
        stored_at: r.get(10)?,
        audit_seq: r.get(11)?,
    })
}

/// Stores an approval with its `signing.approval` audit event, in the caller's transaction.
/// A nonce already stored is [`SigningError::NonceReused`] (nothing written).
pub fn insert(
    conn: &Connection,
    new: &NewApproval<'_>,
    stamp: &Stamp<'_>,
) -> Result<StoredApproval, SigningError> {
    let p = &new.statement.predicate;
    let used: i64 = conn.query_row(
        "SELECT count(*) FROM approvals WHERE nonce = ?1",
        params![p.nonce],
        |r| r.get(0),
    )?;
    if used > 0 {
        return Err(SigningError::NonceReused(p.nonce.clone()));
    }
    let bundle_digest = new
        .statement
        .subject
        .first()
        .map(|s| format!("sha256:{}", s.digest.sha256))
        .unwrap_or_default();
    let ev = audit::append(
        conn,
        NewEvent {
            actor: stamp.actor,
            kind: "signing.approval",
            subject: new.proposal_id,
            payload: serde_json::json!({
                "person": p.person,
                "keyid": new.keyid,
                "decision": p.decision,
                "nonce": p.nonce,
                "bundle_digest": bundle_digest,
                "envelope_digest": crate::canon::sha256_bytes(new.envelope.as_bytes()),
            }),
        },
        stamp.at,
    )?;
    conn.execute(
        "INSERT INTO approvals (proposal_id, envelope, keyid, person, decision, nonce,
             bundle_digest, issued_at, expires_at, stored_at, audit_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            new.proposal_id,
            new.envelope,
            new.keyid,
            p.person,
            p.decision.as_str(),
            p.nonce,
            bundle_digest,
            p.issued_at,
            p.expires_at,
            stamp.at,
            ev.seq
        ],
    )?;
    Ok(StoredApproval {
        id: conn.last_insert_rowid(),
        proposal_id: new.proposal_id.into(),
        envelope: new.envelope.into(),
        keyid: new.keyid.into(),
        person: p.person.clone(),
        decision: p.decision,
        nonce: p.nonce.clone(),
        bundle_digest,
        issued_at: p.issued_at.clone(),
        expires_at: p.expires_at.clone(),
        stored_at: stamp.at.into(),
        audit_seq: ev.seq,
    })
}

/// A proposal's approvals, oldest first.
pub fn for_proposal(conn: &Connection, proposal: &str) -> Result<Vec<StoredApproval>, SigningError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM approvals WHERE proposal_id = ?1 ORDER BY id"
    ))?;
    let rows = stmt
        .query_map(params![proposal], from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// A person's approvals (by the index column), newest first.
pub fn by_person(conn: &Connection, person: &str) -> Result<Vec<StoredApproval>, SigningError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM approvals WHERE person = ?1 ORDER BY id DESC"
    ))?;
    let rows = stmt
        .query_map(params![person], from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// How many stored approvals (of any proposal) use each nonce of `proposal`'s approvals.
pub fn nonce_uses(conn: &Connection, proposal: &str) -> Result<HashMap<String, u32>, SigningError> {
    let mut stmt = conn.prepare(
        "SELECT nonce, count(*) FROM approvals
         WHERE nonce IN (SELECT nonce FROM approvals WHERE proposal_id = ?1)
         GROUP BY nonce",
    )?;
    let rows = stmt
        .query_map(params![proposal], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

impl StoredApproval {
    /// Where the row's index columns disagree with what its envelope says (`checked` is the
    /// envelope's verification): each is a sign the database was edited.
    pub fn row_problems(&self, checked: &Checked) -> Vec<String> {
        let Some(p) = &checked.predicate else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut check = |col: &str, row: &str, env: &str| {
            if row != env {
                out.push(format!(
                    "approval {}: the row's {col} '{row}' differs from its envelope's '{env}' (the database was edited)",
                    self.id
                ));
            }
        };
        check("keyid", &self.keyid, &checked.keyid);
        check("person", &self.person, &p.person);
        check("decision", self.decision.as_str(), p.decision.as_str());
        check("nonce", &self.nonce, &p.nonce);
        check("issued_at", &self.issued_at, &p.issued_at);
        check("expires_at", &self.expires_at, &p.expires_at);
        check(
            "proposal",
            &self.proposal_id,
            checked.subject.as_deref().unwrap_or(""),
        );
        check(
            "bundle_digest",
            &self.bundle_digest,
            checked.subject_digest.as_deref().unwrap_or(""),
        );
        out
    }
}
