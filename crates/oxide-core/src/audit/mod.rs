//! The append-only, hash-chained audit log: append (inside the caller's transaction),
//! list, verify and export as JSON Lines.
//!
//! Browsing a long chain (pages, filters, search, jumps, counts) is `timeline.rs`.
//!
//! `hash = sha256(RFC 8785 of {seq, ts, actor, kind, subject, payload, prev})` and `prev` is the
//! previous event's hash (`null` for the first). Anyone can re-check an export with a JCS
//! library and sha256; `docs/audit.md` shows how.

use std::io::Write;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canon;
use crate::store::StoreError;

pub mod devices;
pub mod timeline;
pub use timeline::{
    count_matching, events_per_day, for_each_matching, position_of, query, seq_at_position,
    DayKindCount, Jump, Order, TimelineFilter, TimelinePage, TimelineQuery,
};

/// Errors of the `audit` room.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("audit payload must be a JSON object, got {0}")]
    BadPayload(String),
    #[error("cannot write the export to {path}: {why}")]
    Export { path: String, why: String },
    #[error(transparent)]
    Canon(#[from] canon::CanonError),
    /// A timeline query that cannot be answered as asked (bad time, limit, cursors, search).
    #[error("{0}")]
    BadQuery(String),
    #[error("there is no audit event {0}; `oxide audit list` shows the seqs that exist")]
    NoSuchEvent(i64),
}

impl From<rusqlite::Error> for AuditError {
    fn from(e: rusqlite::Error) -> Self {
        AuditError::Store(StoreError::from(e))
    }
}

impl AuditError {
    pub fn code(&self) -> &'static str {
        match self {
            AuditError::Store(e) => e.code(),
            AuditError::BadPayload(_) => "AUDIT_BAD_PAYLOAD",
            AuditError::Export { .. } => "AUDIT_EXPORT",
            AuditError::Canon(e) => e.code(),
            AuditError::BadQuery(_) => "AUDIT_BAD_QUERY",
            AuditError::NoSuchEvent(_) => "AUDIT_NO_SUCH_EVENT",
        }
    }

    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            AuditError::Store(e) => e.kind(),
            AuditError::Export { .. } | AuditError::BadQuery(_) | AuditError::NoSuchEvent(_) => {
                crate::ErrorKind::Invalid
            }
            AuditError::BadPayload(_) | AuditError::Canon(_) => crate::ErrorKind::Internal,
        }
    }
}

/// One event of the chain, as stored, listed and exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AuditEvent {
    pub seq: i64,
    pub ts: String,
    pub actor: String,
    pub kind: String,
    pub subject: String,
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub payload: Payload,
    pub prev: Option<String>,
    pub hash: String,
}

/// An event's payload as stored: its RFC 8785 text, handed on as JSON without being parsed
/// into a tree (a timeline page reads 50 of them; building and dropping each one's tree was
/// most of a page's cost). Serializes as the JSON object it is; [`Payload::value`] parses it
/// for the few readers that look inside. A stored text that is not JSON at all (a damaged
/// database file) is carried as a JSON string of that text, as before, so a listing still
/// shows it and `audit verify` names the event.
#[derive(Clone)]
pub struct Payload(Box<serde_json::value::RawValue>);

impl Payload {
    /// From the stored text (`append` writes canonical JSON).
    pub fn from_stored(text: &str) -> Payload {
        match serde_json::value::RawValue::from_string(text.to_string()) {
            Ok(raw) => Payload(raw),
            Err(_) => Payload::not_json(text),
        }
    }

    /// A stored text that is not JSON, carried as a JSON string of it.
    fn not_json(text: &str) -> Payload {
        let quoted = Value::String(text.to_string()).to_string();
        match serde_json::value::RawValue::from_string(quoted) {
            Ok(raw) => Payload(raw),
            // A JSON string literal is always valid JSON.
            Err(_) => Payload(Box::<serde_json::value::RawValue>::default()),
        }
    }

    /// From a JSON value: its RFC 8785 text.
    pub fn from_value(v: &Value) -> Result<Payload, canon::CanonError> {
        let text = canon::canonical_string(v)?;
        Ok(Payload::from_stored(&text))
    }

    /// The JSON text.
    pub fn text(&self) -> &str {
        self.0.get()
    }

    /// The payload parsed. Text the raw check let through but no value can hold (a lone
    /// surrogate escape, nesting deeper than 128) comes back as a JSON string of the text,
    /// never as `null`, so a reader looking for a field finds none and says so.
    pub fn value(&self) -> Value {
        serde_json::from_str(self.0.get())
            .unwrap_or_else(|_| Value::String(self.0.get().to_string()))
    }

    /// A string field of an object payload.
    pub fn str_field(&self, key: &str) -> Option<String> {
        match self.value() {
            Value::Object(mut m) => match m.remove(key) {
                Some(Value::String(s)) => Some(s),
                _ => None,
            },
            _ => None,
        }
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text()
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

impl Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Payload {
    /// Any JSON (from an export, a synced device chain), kept as its RFC 8785 text: the
    /// bytes its hash covers.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let text = canon::canonical_string(&v).map_err(serde::de::Error::custom)?;
        serde_json::value::RawValue::from_string(text)
            .map(Payload)
            .map_err(serde::de::Error::custom)
    }
}

/// What a room asks to record.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub actor: &'a str,
    pub kind: &'a str,
    pub subject: &'a str,
    pub payload: Value,
}

/// The outcome of `verify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AuditVerify {
    pub ok: bool,
    pub events: u64,
    pub first_bad_seq: Option<i64>,
    /// What is wrong at `first_bad_seq`, in words.
    pub problem: Option<String>,
}

#[derive(Serialize)]
struct HashedPart<'a> {
    seq: i64,
    ts: &'a str,
    actor: &'a str,
    kind: &'a str,
    subject: &'a str,
    payload: &'a Value,
    prev: &'a Option<String>,
}

/// The hash an event must carry.
pub fn event_hash(
    seq: i64,
    ts: &str,
    actor: &str,
    kind: &str,
    subject: &str,
    payload: &Value,
    prev: &Option<String>,
) -> Result<String, canon::CanonError> {
    canon::digest(&HashedPart {
        seq,
        ts,
        actor,
        kind,
        subject,
        payload,
        prev,
    })
}

/// An event's payload as the RFC 8785 text its hash covers.
pub fn canonical_payload(ev: &AuditEvent) -> Result<String, AuditError> {
    Ok(canon::canonical_string(&ev.payload.value())?)
}

/// Appends one event. Call it with the transaction that makes the change it records.
#[tracing::instrument(name = "audit.append", skip_all, fields(kind = ev.kind, subject = ev.subject))]
pub fn append(conn: &Connection, ev: NewEvent<'_>, ts: &str) -> Result<AuditEvent, AuditError> {
    if !ev.payload.is_object() {
        return Err(AuditError::BadPayload(ev.payload.to_string()));
    }
    let head: Option<(i64, String)> = conn
        .prepare_cached("SELECT seq, hash FROM audit_head WHERE id = 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (seq, prev) = match head {
        Some((s, h)) => (s + 1, Some(h)),
        None => (1, None),
    };
    let hash = event_hash(seq, ts, ev.actor, ev.kind, ev.subject, &ev.payload, &prev)?;
    let payload_text = canon::canonical_string(&ev.payload)?;
    conn.prepare_cached(
        "INSERT INTO audit_events (seq, ts, actor, kind, subject, payload, prev, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        seq,
        ts,
        ev.actor,
        ev.kind,
        ev.subject,
        payload_text,
        prev,
        hash
    ])?;
    conn.prepare_cached(
        "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?1, ?2)
         ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
    )?
    .execute(params![seq, hash])?;
    // The timeline's word index (derived, unhashed; see migrations/0014_audit_timeline.sql).
    conn.prepare_cached(
        "INSERT INTO audit_fts (rowid, kind, actor, subject) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![seq, ev.kind, ev.actor, ev.subject])?;
    // Its words, for the search's prefix lookup (migrations/0019_audit_day_kind_terms.sql).
    let mut add_term =
        conn.prepare_cached("INSERT OR IGNORE INTO audit_terms (term) VALUES (?1)")?;
    for field in [ev.kind, ev.actor, ev.subject] {
        if field.is_ascii() {
            for word in field.split(|c: char| !c.is_ascii_alphanumeric()) {
                if !word.is_empty() {
                    add_term.execute([word.to_ascii_lowercase()])?;
                }
            }
        } else {
            add_term.execute([timeline::NON_ASCII_TERM])?;
        }
    }
    Ok(AuditEvent {
        seq,
        ts: ts.to_string(),
        actor: ev.actor.to_string(),
        kind: ev.kind.to_string(),
        subject: ev.subject.to_string(),
        payload: Payload::from_stored(&payload_text),
        prev,
        hash,
    })
}

/// One event from a row of `seq, ts, actor, kind, subject, payload, prev, hash`; the payload
/// is kept as its stored JSON text (checked to be JSON, not built into a tree).
fn row_to_event_only(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEvent> {
    let payload = Payload::from_stored(r.get_ref(5)?.as_str()?);
    Ok(AuditEvent {
        seq: r.get(0)?,
        ts: r.get(1)?,
        actor: r.get(2)?,
        kind: r.get(3)?,
        subject: r.get(4)?,
        payload,
        prev: r.get(6)?,
        hash: r.get(7)?,
    })
}

const SELECT: &str = "SELECT seq, ts, actor, kind, subject, payload, prev, hash FROM audit_events";

/// Events with `seq > after`, oldest first, at most `limit` (the first CLI contract; the
/// timeline's pages are [`query`]).
pub fn list(
    conn: &Connection,
    after: Option<i64>,
    limit: Option<u32>,
) -> Result<Vec<AuditEvent>, AuditError> {
    let mut stmt = conn.prepare(&format!("{SELECT} WHERE seq > ?1 ORDER BY seq LIMIT ?2"))?;
    let rows = stmt
        .query_map(
            params![after.unwrap_or(0), limit.map(i64::from).unwrap_or(-1)],
            row_to_event_only,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Events about one subject, oldest first.
pub fn for_subject(conn: &Connection, subject: &str) -> Result<Vec<AuditEvent>, AuditError> {
    let mut stmt = conn.prepare(&format!("{SELECT} WHERE subject = ?1 ORDER BY seq"))?;
    let rows = stmt
        .query_map([subject], row_to_event_only)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Number of events.
pub fn count(conn: &Connection) -> Result<u64, AuditError> {
    Ok(
        conn.query_row("SELECT count(*) FROM audit_events", [], |r| {
            r.get::<_, i64>(0)
        })? as u64,
    )
}

/// An event's columns as stored, borrowed from the row.
#[derive(Clone, Copy)]
struct StoredRow<'a> {
    seq: i64,
    ts: &'a str,
    actor: &'a str,
    kind: &'a str,
    subject: &'a str,
    payload_text: &'a str,
    prev: Option<&'a str>,
}

/// The bytes `hash` is the sha256 of, built from an event's stored columns: RFC 8785 of
/// `{seq, ts, actor, kind, subject, payload, prev}` with the stored payload text (canonical
/// JSON, as `append` wrote it) spliced in verbatim, so no JSON is parsed. Equal to what
/// [`event_hash`] hashes for every event `append` writes (tested); for a payload text that is
/// not canonical the result differs from the recorded hash, so such an edit is found too.
fn hashed_bytes(buf: &mut Vec<u8>, e: &StoredRow<'_>) -> Result<(), canon::CanonError> {
    let StoredRow {
        seq,
        ts,
        actor,
        kind,
        subject,
        payload_text,
        prev,
    } = *e;
    let string = |buf: &mut Vec<u8>, s: &str| -> Result<(), canon::CanonError> {
        buf.extend_from_slice(&canon::canonical_bytes(&s)?);
        Ok(())
    };
    buf.clear();
    // Keys in RFC 8785 order (UTF-16 code units): actor kind payload prev seq subject ts.
    buf.extend_from_slice(br#"{"actor":"#);
    string(buf, actor)?;
    buf.extend_from_slice(br#","kind":"#);
    string(buf, kind)?;
    buf.extend_from_slice(br#","payload":"#);
    buf.extend_from_slice(payload_text.as_bytes());
    buf.extend_from_slice(br#","prev":"#);
    match prev {
        Some(p) => string(buf, p)?,
        None => buf.extend_from_slice(b"null"),
    }
    buf.extend_from_slice(br#","seq":"#);
    buf.extend_from_slice(seq.to_string().as_bytes());
    buf.extend_from_slice(br#","subject":"#);
    string(buf, subject)?;
    buf.extend_from_slice(br#","ts":"#);
    string(buf, ts)?;
    buf.push(b'}');
    Ok(())
}

/// Walks the whole chain and names the first event that does not hold: edited (hash mismatch),
/// deleted or inserted (seq gap, prev mismatch), reordered (prev mismatch), or a truncated tail
/// (head record ahead of the last event).
///
/// Each event's hash is recomputed from its stored bytes without parsing its payload
/// ([`hashed_bytes`]), so verifying costs about as much as hashing an export of the chain;
/// only the first event that does not hold is looked at closely, to say what is wrong.
/// The same walk as [`verify_step`], in one go.
#[tracing::instrument(name = "audit.verify", skip_all)]
pub fn verify(conn: &Connection) -> Result<AuditVerify, AuditError> {
    verify_from(conn, None)
}

/// `verify` for the events after a known-good one: `after = Some((seq, hash))` trusts event
/// `seq` to carry `hash` (e.g. a signed checkpoint says so) and walks only the later events
/// (`events` counts those), failing at `seq + 1` when it does not link to `hash`.
/// `None` walks the whole chain.
pub fn verify_from(
    conn: &Connection,
    after: Option<(i64, &str)>,
) -> Result<AuditVerify, AuditError> {
    let mut cursor: Option<VerifyCursor> = after.map(|(seq, hash)| VerifyCursor {
        last_seq: seq,
        prev: Some(hash.to_string()),
        events: 0,
    });
    loop {
        let step = verify_step(conn, cursor.as_ref(), u32::MAX)?;
        match step.verdict {
            Some(verdict) => return Ok(verdict),
            None => cursor = step.cursor,
        }
    }
}

/// Where a chunked verification stands: the last event checked and the hash the next one must
/// link to. Opaque to callers; pass back what `verify_step` returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct VerifyCursor {
    pub last_seq: i64,
    pub prev: Option<String>,
    pub events: u64,
}

/// One chunk of a verification: the verdict once the walk ended (a bad event or the end of
/// the chain), else the cursor to continue from. `checked` and `total` are for progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct VerifyStep {
    pub checked: u64,
    /// The head's seq: how many events the chain should hold.
    pub total: u64,
    pub cursor: Option<VerifyCursor>,
    pub verdict: Option<AuditVerify>,
}

/// Verifies at most `max` events after `cursor` (from the start when `None`), so a caller can
/// show progress and stay responsive on a long chain; `verify` is this in one go.
#[tracing::instrument(name = "audit.verify_step", skip_all, fields(max))]
pub fn verify_step(
    conn: &Connection,
    cursor: Option<&VerifyCursor>,
    max: u32,
) -> Result<VerifyStep, AuditError> {
    let head: Option<(i64, String)> = conn
        .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let total = head.as_ref().map_or(0, |(s, _)| (*s).max(0) as u64);
    // The first chunk has no lower bound, so a row inserted below seq 1 is still seen.
    let (after, mut prev, mut events) = match cursor {
        Some(c) => (c.last_seq, c.prev.clone(), c.events),
        None => (i64::MIN, None, 0),
    };
    let mut expected_seq = if cursor.is_some() { after + 1 } else { 1 };
    let mut buf = Vec::with_capacity(1024);
    let bad = |seq: i64, events: u64, why: String| VerifyStep {
        checked: events,
        total,
        cursor: None,
        verdict: Some(AuditVerify {
            ok: false,
            events,
            first_bad_seq: Some(seq),
            problem: Some(why),
        }),
    };
    let max = max.max(1);
    let mut stmt = conn.prepare(&format!("{SELECT} WHERE seq > ?1 ORDER BY seq LIMIT ?2"))?;
    let mut rows = stmt.query(params![after, i64::from(max)])?;
    let mut in_chunk = 0u64;
    while let Some(r) = rows.next()? {
        events += 1;
        in_chunk += 1;
        let seq: i64 = r.get(0)?;
        if seq != expected_seq {
            let missing = expected_seq;
            return Ok(bad(
                missing.min(seq),
                events,
                format!("event {missing} is missing: the chain jumps to {seq}"),
            ));
        }
        let text = |i: usize| -> rusqlite::Result<&str> {
            r.get_ref(i)?.as_str().map_err(rusqlite::Error::from)
        };
        let row_prev: Option<&str> = match r.get_ref(6)? {
            rusqlite::types::ValueRef::Null => None,
            v => Some(v.as_str().map_err(rusqlite::Error::from)?),
        };
        if row_prev != prev.as_deref() {
            return Ok(bad(seq, events, format!("event {seq} does not follow event {}: its prev link is wrong (reordered, inserted or an earlier event was removed)", seq - 1)));
        }
        let hash = text(7)?;
        let stored = StoredRow {
            seq,
            ts: text(1)?,
            actor: text(2)?,
            kind: text(3)?,
            subject: text(4)?,
            payload_text: text(5)?,
            prev: row_prev,
        };
        hashed_bytes(&mut buf, &stored)?;
        if canon::sha256_bytes(&buf) != hash {
            let payload_text = stored.payload_text;
            let canonical_payload = serde_json::from_str::<Value>(payload_text)
                .ok()
                .and_then(|v| canon::canonical_string(&v).ok());
            let why = if canonical_payload.as_deref() != Some(payload_text) {
                format!("event {seq} has a payload that is not canonical JSON (edited)")
            } else {
                format!("event {seq} was altered: its content does not match its hash")
            };
            return Ok(bad(seq, events, why));
        }
        prev = Some(hash.to_string());
        expected_seq += 1;
    }
    if in_chunk == u64::from(max) {
        return Ok(VerifyStep {
            checked: events,
            total,
            cursor: Some(VerifyCursor {
                last_seq: expected_seq - 1,
                prev,
                events,
            }),
            verdict: None,
        });
    }
    match head {
        Some((seq, hash)) if seq != expected_seq - 1 || Some(&hash) != prev.as_ref() => Ok(bad(
            expected_seq.min(seq.max(1)),
            events,
            format!("the log ends at event {} but event {seq} was recorded as the last: events were removed from the end", expected_seq - 1),
        )),
        None if events > 0 || cursor.is_some() => Ok(bad(1, events, "the chain's head record is missing".into())),
        _ => Ok(VerifyStep {
            checked: events,
            total,
            cursor: None,
            verdict: Some(AuditVerify { ok: true, events, first_bad_seq: None, problem: None }),
        }),
    }
}

/// The head record: the last appended event's `(seq, hash)`, if any event was appended.
pub fn head(conn: &Connection) -> Result<Option<(i64, String)>, AuditError> {
    Ok(conn
        .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?)
}

/// The event with sequence number `seq`, as stored.
pub fn event(conn: &Connection, seq: i64) -> Result<Option<AuditEvent>, AuditError> {
    Ok(conn
        .query_row(&format!("{SELECT} WHERE seq = ?1"), [seq], |r| {
            row_to_event_only(r)
        })
        .optional()?)
}

/// Writes every event as one JSON line (`seq, ts, actor, kind, subject, payload, prev, hash`),
/// atomically: a temporary file renamed into place.
pub fn export(conn: &Connection, path: &std::path::Path) -> Result<u64, AuditError> {
    export_matching(
        conn,
        path,
        &TimelineQuery {
            order: Order::OldestFirst,
            ..TimelineQuery::default()
        },
    )
}

/// Writes the events matching `q` (filter, cursors, order; `limit` `None` = all) as JSON
/// Lines, atomically. Bad input writes nothing (the query is checked before the file is made).
pub fn export_matching(
    conn: &Connection,
    path: &std::path::Path,
    q: &TimelineQuery,
) -> Result<u64, AuditError> {
    let err = |why: String| AuditError::Export {
        path: path.display().to_string(),
        why,
    };
    // Check the query (times, cursors, search words) before any file exists.
    timeline::for_each_matching(
        conn,
        &TimelineQuery {
            limit: Some(1),
            ..q.clone()
        },
        |_| Ok(()),
    )?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile_in(dir).map_err(|e| err(e.to_string()))?;
    let written = (|| {
        let mut w = std::io::BufWriter::new(&mut tmp.1);
        let n = timeline::for_each_matching(conn, q, |e| {
            serde_json::to_writer(&mut w, &e).map_err(|e| err(e.to_string()))?;
            w.write_all(b"\n").map_err(|e| err(e.to_string()))
        })?;
        w.flush().map_err(|e| err(e.to_string()))?;
        drop(w);
        tmp.1.sync_all().map_err(|e| err(e.to_string()))?;
        Ok(n)
    })();
    let n = match written {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp.0);
            return Err(e);
        }
    };
    std::fs::rename(&tmp.0, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp.0);
        err(e.to_string())
    })?;
    Ok(n)
}

fn tempfile_in(dir: &std::path::Path) -> std::io::Result<(std::path::PathBuf, std::fs::File)> {
    for i in 0..100u32 {
        let p = dir.join(format!(".oxide-export-{}-{i}.tmp", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
        {
            Ok(f) => return Ok((p, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("no free temporary file name"))
}

#[cfg(test)]
mod tests;
