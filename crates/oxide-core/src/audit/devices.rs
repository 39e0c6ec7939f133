//! Other devices' audit chains (issue 13 item 6, issue 14's `device` filter): segments that
//! arrived through `oxide sync` and verified there (the chain, and a checkpoint signed by the
//! device's endorsed key) are kept here exactly as their device's chain holds them, per
//! device, in that device's seq order. They never join this database's own chain: each
//! device's chain stays verifiable on its own ([`verify_device`]).
//!
//! The timeline shows them together with this device's events ([`merged`], ordered by time,
//! then device, then seq) or one device at a time ([`device_events`]).

use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{event_hash, AuditError, AuditEvent, AuditVerify};
use crate::canon;

/// One event with the device whose chain holds it (`device` = a device keyid; this
/// database's own events carry the label the caller gave, e.g. its device keyid).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct DeviceEvent {
    pub device: String,
    #[serde(flatten)]
    pub event: AuditEvent,
}

/// Which events of one device or of all: the same narrowing as the timeline's filter (kind,
/// actor, subject exact; seq bounds), applied to the imported rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(default)]
pub struct DeviceQuery {
    pub kinds: Vec<String>,
    pub actor: Option<String>,
    pub subject: Option<String>,
    /// Only seq > after (within one device's chain).
    pub after: Option<i64>,
    /// Only seq < before (within one device's chain).
    pub before: Option<i64>,
    pub newest_first: bool,
    pub limit: Option<u32>,
}

const DEV_COLS: &str = "seq, ts, actor, kind, subject, payload, prev, hash";

fn to_event(r: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<AuditEvent> {
    let payload = super::Payload::from_stored(r.get_ref(first + 5)?.as_str()?);
    Ok(AuditEvent {
        seq: r.get(first)?,
        ts: r.get(first + 1)?,
        actor: r.get(first + 2)?,
        kind: r.get(first + 3)?,
        subject: r.get(first + 4)?,
        payload,
        prev: r.get(first + 6)?,
        hash: r.get(first + 7)?,
    })
}

/// The newest imported event of `device`: `(seq, hash)`.
pub fn device_head(conn: &Connection, device: &str) -> Result<Option<(i64, String)>, AuditError> {
    Ok(conn
        .query_row(
            "SELECT seq, hash FROM audit_device_events WHERE device = ?1 ORDER BY seq DESC LIMIT 1",
            [device],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Imported event `seq` of `device`.
pub fn device_event(
    conn: &Connection,
    device: &str,
    seq: i64,
) -> Result<Option<AuditEvent>, AuditError> {
    Ok(conn
        .query_row(
            &format!("SELECT {DEV_COLS} FROM audit_device_events WHERE device = ?1 AND seq = ?2"),
            params![device, seq],
            |r| to_event(r, 0),
        )
        .optional()?)
}

/// Checks that `events` continue the chain that ends at `after` (`(seq, hash)`, `None` = the
/// chain's start): consecutive seqs, each `prev` the previous hash, each hash recomputed from
/// its content. `Err(seq, why)` names the first event that does not hold.
pub fn check_segment(
    after: Option<(i64, &str)>,
    events: &[AuditEvent],
) -> Result<(), (i64, String)> {
    let (mut expected, mut prev) = match after {
        Some((s, h)) => (s + 1, Some(h.to_string())),
        None => (1, None),
    };
    for e in events {
        if e.seq != expected {
            return Err((
                e.seq,
                format!(
                    "event {} follows event {}: the chain has a gap or a repeat",
                    e.seq,
                    expected - 1
                ),
            ));
        }
        if e.prev != prev {
            return Err((
                e.seq,
                format!(
                    "event {} does not link to event {} (its prev is wrong)",
                    e.seq,
                    e.seq - 1
                ),
            ));
        }
        let h = event_hash(
            e.seq,
            &e.ts,
            &e.actor,
            &e.kind,
            &e.subject,
            &e.payload.value(),
            &e.prev,
        )
        .map_err(|err| (e.seq, err.to_string()))?;
        if h != e.hash {
            return Err((
                e.seq,
                format!(
                    "event {} was altered: its content does not match its hash",
                    e.seq
                ),
            ));
        }
        prev = Some(e.hash.clone());
        expected += 1;
    }
    Ok(())
}

/// Appends verified events of `device` after its current head, in the caller's transaction.
/// The segment is checked again here ([`check_segment`] against the stored head), so nothing
/// that does not extend the stored chain is ever written. Returns how many were appended.
pub fn import_device_events(
    conn: &Connection,
    device: &str,
    events: &[AuditEvent],
) -> Result<u64, AuditError> {
    let head = device_head(conn, device)?;
    check_segment(head.as_ref().map(|(s, h)| (*s, h.as_str())), events)
        .map_err(|(_, why)| AuditError::BadQuery(format!("device {device}: {why}")))?;
    let mut st = conn.prepare_cached(
        "INSERT INTO audit_device_events (device, seq, ts, actor, kind, subject, payload, prev, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for e in events {
        st.execute(params![
            device,
            e.seq,
            e.ts,
            e.actor,
            e.kind,
            e.subject,
            canon::canonical_string(&e.payload.value())?,
            e.prev,
            e.hash
        ])?;
    }
    Ok(events.len() as u64)
}

/// Re-checks one device's imported chain from its first event: every hash recomputed from
/// the stored content, every link, no gap.
pub fn verify_device(conn: &Connection, device: &str) -> Result<AuditVerify, AuditError> {
    let mut st = conn.prepare(&format!(
        "SELECT {DEV_COLS} FROM audit_device_events WHERE device = ?1 ORDER BY seq"
    ))?;
    let events = st
        .query_map([device], |r| to_event(r, 0))?
        .collect::<Result<Vec<_>, _>>()?;
    let n = events.len() as u64;
    Ok(match check_segment(None, &events) {
        Ok(()) => AuditVerify {
            ok: true,
            events: n,
            first_bad_seq: None,
            problem: None,
        },
        Err((seq, why)) => AuditVerify {
            ok: false,
            events: n,
            first_bad_seq: Some(seq),
            problem: Some(why),
        },
    })
}

/// The devices with imported events and how many each has.
pub fn devices(conn: &Connection) -> Result<Vec<(String, u64)>, AuditError> {
    let mut st = conn.prepare(
        "SELECT device, count(*) FROM audit_device_events GROUP BY device ORDER BY device",
    )?;
    let rows = st
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

fn residual(q: &DeviceQuery, sql: &mut String, p: &mut Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value as Sql;
    if !q.kinds.is_empty() {
        sql.push_str(" AND kind IN (");
        sql.push_str(&vec!["?"; q.kinds.len()].join(", "));
        sql.push(')');
        p.extend(q.kinds.iter().cloned().map(Sql::Text));
    }
    if let Some(a) = &q.actor {
        sql.push_str(" AND actor = ?");
        p.push(Sql::Text(a.clone()));
    }
    if let Some(s) = &q.subject {
        sql.push_str(" AND subject = ?");
        p.push(Sql::Text(s.clone()));
    }
}

fn limit_of(q: &DeviceQuery) -> Result<i64, AuditError> {
    match q.limit {
        None => Ok(-1),
        Some(0) => Err(AuditError::BadQuery(
            "limit 0: give at least 1, or leave it out for every event".into(),
        )),
        Some(n) => Ok(i64::from(n)),
    }
}

/// One remote device's imported events (its own seq order), narrowed by `q`.
pub fn device_events(
    conn: &Connection,
    device: &str,
    q: &DeviceQuery,
) -> Result<Vec<AuditEvent>, AuditError> {
    use rusqlite::types::Value as Sql;
    let limit = limit_of(q)?;
    let mut sql = format!(
        "SELECT {DEV_COLS} FROM audit_device_events WHERE device = ? AND seq > ? AND seq < ?"
    );
    let mut p = vec![
        Sql::Text(device.to_string()),
        Sql::Integer(q.after.unwrap_or(i64::MIN)),
        Sql::Integer(q.before.unwrap_or(i64::MAX)),
    ];
    residual(q, &mut sql, &mut p);
    let dir = if q.newest_first { "DESC" } else { "ASC" };
    sql.push_str(&format!(" ORDER BY seq {dir} LIMIT ?"));
    p.push(Sql::Integer(limit));
    let mut st = conn.prepare(&sql)?;
    let rows = st
        .query_map(params_from_iter(p), |r| to_event(r, 0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// This device's events (labelled `local_device`) and every imported device's, together,
/// ordered by time, then device, then seq (oldest first unless `q.newest_first`); `q`'s
/// kind/actor/subject narrow both; seq bounds do not apply (seqs are per device).
pub fn merged(
    conn: &Connection,
    local_device: &str,
    q: &DeviceQuery,
) -> Result<Vec<DeviceEvent>, AuditError> {
    use rusqlite::types::Value as Sql;
    let limit = limit_of(q)?;
    let mut p: Vec<Sql> = Vec::new();
    let mut local = format!("SELECT ? AS device, {DEV_COLS} FROM audit_events WHERE 1 = 1");
    p.push(Sql::Text(local_device.to_string()));
    residual(q, &mut local, &mut p);
    let mut remote = format!("SELECT device, {DEV_COLS} FROM audit_device_events WHERE 1 = 1");
    residual(q, &mut remote, &mut p);
    let dir = if q.newest_first { "DESC" } else { "ASC" };
    let sql =
        format!("{local} UNION ALL {remote} ORDER BY ts {dir}, device {dir}, seq {dir} LIMIT ?");
    p.push(Sql::Integer(limit));
    let mut st = conn.prepare(&sql)?;
    let rows = st
        .query_map(params_from_iter(p), |r| {
            Ok(DeviceEvent {
                device: r.get(0)?,
                event: to_event(r, 1)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{append, list, NewEvent};

    fn store() -> (tempfile::TempDir, crate::store::Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = crate::store::Store::open(&dir.path().join("s.sqlite3")).unwrap();
        (dir, s)
    }

    fn chain(n: usize) -> Vec<AuditEvent> {
        let (_d, s) = store();
        for i in 0..n {
            append(
                s.conn(),
                NewEvent {
                    actor: "a",
                    kind: "k",
                    subject: &format!("s{i}"),
                    payload: serde_json::json!({"i": i}),
                },
                &format!("2026-11-30T10:00:0{i}Z"),
            )
            .unwrap();
        }
        list(s.conn(), None, None).unwrap()
    }

    #[test]
    fn segments_import_in_order_and_tampering_is_refused() {
        let events = chain(4);
        let (_d, s) = store();
        let c = s.conn();
        assert_eq!(import_device_events(c, "dev", &events[..2]).unwrap(), 2);
        // The rest continues the stored head.
        assert_eq!(import_device_events(c, "dev", &events[2..]).unwrap(), 2);
        assert!(verify_device(c, "dev").unwrap().ok);
        assert_eq!(device_head(c, "dev").unwrap().unwrap().0, 4);
        // A repeat, a gap and an edit are refused, nothing written.
        assert!(import_device_events(c, "dev", &events[3..]).is_err());
        let other = chain(6);
        assert!(import_device_events(c, "dev2", &other[1..]).is_err());
        let mut edited = other.clone();
        edited[2].actor = "mallory".into();
        assert_eq!(check_segment(None, &edited).unwrap_err().0, 3);
        assert!(import_device_events(c, "dev2", &edited).is_err());
        assert!(device_head(c, "dev2").unwrap().is_none());
        // Together with the local chain, by time.
        for e in &events {
            append(
                c,
                NewEvent {
                    actor: "me",
                    kind: "k",
                    subject: "x",
                    payload: serde_json::json!({}),
                },
                &e.ts,
            )
            .unwrap();
        }
        let all = merged(c, "local", &DeviceQuery::default()).unwrap();
        assert_eq!(all.len(), 8);
        assert_eq!(all[0].device, "dev");
        assert_eq!(all[1].device, "local");
        let only = device_events(
            c,
            "dev",
            &DeviceQuery {
                subject: Some("s1".into()),
                ..DeviceQuery::default()
            },
        )
        .unwrap();
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].seq, 2);
    }
}
