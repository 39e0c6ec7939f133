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

use super::timeline::{after_time, at_or_after, check_limit, cursors, parse_time};
use super::{
    event_hash, AuditError, AuditEvent, AuditVerify, Jump, Order, TimelineFilter, TimelinePage,
    TimelineQuery,
};
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

// ---------------------------------------------------------------------------------------
// One device's chain as the Timeline pages it (the desktop's device chip): the same keyset
// pages, cursors, jumps and filters as `audit::query` over this device's own chain, served
// by the indexes of migrations/0020_audit_device_filters.sql:
//
// | filter | driver |
// | --- | --- |
// | none (and time range) | the key (device, seq), a seq range |
// | `subject` (with kinds/actor) | `audit_device_events_by_subject`; kinds/actor checked on its rows |
// | `actor` + `kinds` | `audit_device_events_by_actor_kind`, one walk per kind merged in seq order |
// | `actor` | `audit_device_events_by_actor` |
// | `kinds` | `audit_device_events_by_kind`, one walk per kind merged in seq order |
//
// The text search is this database's own (FTS5 over audit_events): for another device's
// chain it is refused with AUDIT_BAD_QUERY rather than answered by a scan.

/// A device filter checked and turned into what the SQL needs.
#[derive(Debug, Clone)]
struct DevResolved {
    kinds: Vec<String>,
    actor: Option<String>,
    subject: Option<String>,
    /// The time range as an exclusive seq range of this device's chain.
    lo: i64,
    hi: i64,
}

/// The first seq of `device`'s imported chain whose time satisfies `pred` (false then true
/// along the chain), by binary search over seq: about 20 point lookups on the key.
fn dev_first_seq_where(
    conn: &Connection,
    device: &str,
    pred: impl Fn(&str) -> bool,
) -> Result<Option<i64>, AuditError> {
    let (min, max): (Option<i64>, Option<i64>) = conn
        .prepare_cached(
            "SELECT (SELECT min(seq) FROM audit_device_events WHERE device = ?1), \
                    (SELECT max(seq) FROM audit_device_events WHERE device = ?1)",
        )?
        .query_row([device], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let (Some(mut lo), Some(mut hi)) = (min, max) else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT seq, ts FROM audit_device_events WHERE device = ?1 AND seq >= ?2 ORDER BY seq LIMIT 1",
    )?;
    let mut probe = |x: i64| -> Result<Option<(i64, bool)>, AuditError> {
        Ok(stmt
            .query_row(params![device, x], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?
            .map(|(s, ts)| (s, pred(&ts))))
    };
    match probe(hi)? {
        Some((_, true)) => {}
        _ => return Ok(None),
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match probe(mid)? {
            Some((_, true)) => hi = mid,
            _ => lo = mid + 1,
        }
    }
    Ok(probe(lo)?.map(|(s, _)| s))
}

fn dev_resolve(
    conn: &Connection,
    device: &str,
    f: &TimelineFilter,
) -> Result<DevResolved, AuditError> {
    if device.trim().is_empty() {
        return Err(AuditError::BadQuery(
            "an empty device: name a device keyid (the Timeline's device list shows them)".into(),
        ));
    }
    if f.search.is_some() {
        return Err(AuditError::BadQuery(format!(
            "text search covers this device's own chain only; for device {device} filter by kind, actor, subject or time"
        )));
    }
    let mut kinds: Vec<String> = Vec::new();
    for k in &f.kinds {
        if k.trim().is_empty() {
            return Err(AuditError::BadQuery(
                "an empty kind: name a kind such as workflow.validate".into(),
            ));
        }
        if !kinds.contains(k) {
            kinds.push(k.clone());
        }
    }
    let nonempty = |what: &str, v: &Option<String>| -> Result<Option<String>, AuditError> {
        match v {
            Some(s) if s.is_empty() => Err(AuditError::BadQuery(format!(
                "an empty {what}: leave it out to match every {what}"
            ))),
            other => Ok(other.clone()),
        }
    };
    let actor = nonempty("actor", &f.actor)?;
    let subject = nonempty("subject", &f.subject)?;
    let since = f.since.as_deref().map(parse_time).transpose()?;
    let until = f.until.as_deref().map(parse_time).transpose()?;
    if let (Some(s), Some(u)) = (&since, &until) {
        if s >= u {
            return Err(AuditError::BadQuery(format!(
                "since ({}) is not before until ({}): the range is empty",
                f.since.as_deref().unwrap_or_default(),
                f.until.as_deref().unwrap_or_default()
            )));
        }
    }
    let mut lo = 0i64;
    let mut hi = i64::MAX;
    if let Some(t) = since {
        let text = f.since.clone().unwrap_or_default();
        lo = match dev_first_seq_where(conn, device, |ts| at_or_after(ts, &t, &text))? {
            Some(s) => s - 1,
            None => i64::MAX - 1,
        };
    }
    if let Some(t) = until {
        let text = f.until.clone().unwrap_or_default();
        if let Some(s) = dev_first_seq_where(conn, device, |ts| at_or_after(ts, &t, &text))? {
            hi = s;
        }
    }
    Ok(DevResolved {
        kinds,
        actor,
        subject,
        lo,
        hi,
    })
}

const DEV_E_COLS: &str = "e.seq, e.ts, e.actor, e.kind, e.subject, e.payload, e.prev, e.hash";

/// The SQL for `device`'s matching events with `lo < seq < hi`, in seq order (`desc`), at
/// most `limit` (-1 = all).
fn dev_select_sql(
    device: &str,
    r: &DevResolved,
    cols: &str,
    lo: i64,
    hi: i64,
    desc: bool,
    limit: i64,
) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value as Sql;
    let dev = || Sql::Text(device.to_string());
    let mut p: Vec<Sql> = Vec::new();
    let mut arms: Vec<String> = Vec::new();
    if let Some(s) = &r.subject {
        let mut sql = format!(
            "SELECT {cols} FROM audit_device_events e INDEXED BY audit_device_events_by_subject \
             WHERE e.device = ? AND e.subject = ? AND e.seq > ? AND e.seq < ?"
        );
        p.extend([
            dev(),
            Sql::Text(s.clone()),
            Sql::Integer(lo),
            Sql::Integer(hi),
        ]);
        if !r.kinds.is_empty() {
            sql.push_str(" AND e.kind IN (");
            sql.push_str(&vec!["?"; r.kinds.len()].join(", "));
            sql.push(')');
            p.extend(r.kinds.iter().cloned().map(Sql::Text));
        }
        if let Some(a) = &r.actor {
            sql.push_str(" AND e.actor = ?");
            p.push(Sql::Text(a.clone()));
        }
        arms.push(sql);
    } else if !r.kinds.is_empty() {
        for k in &r.kinds {
            match &r.actor {
                Some(a) => {
                    arms.push(format!(
                        "SELECT {cols} FROM audit_device_events e INDEXED BY audit_device_events_by_actor_kind \
                         WHERE e.device = ? AND e.actor = ? AND e.kind = ? AND e.seq > ? AND e.seq < ?"
                    ));
                    p.extend([dev(), Sql::Text(a.clone())]);
                }
                None => {
                    arms.push(format!(
                        "SELECT {cols} FROM audit_device_events e INDEXED BY audit_device_events_by_kind \
                         WHERE e.device = ? AND e.kind = ? AND e.seq > ? AND e.seq < ?"
                    ));
                    p.push(dev());
                }
            }
            p.extend([Sql::Text(k.clone()), Sql::Integer(lo), Sql::Integer(hi)]);
        }
    } else if let Some(a) = &r.actor {
        arms.push(format!(
            "SELECT {cols} FROM audit_device_events e INDEXED BY audit_device_events_by_actor \
             WHERE e.device = ? AND e.actor = ? AND e.seq > ? AND e.seq < ?"
        ));
        p.extend([
            dev(),
            Sql::Text(a.clone()),
            Sql::Integer(lo),
            Sql::Integer(hi),
        ]);
    } else {
        arms.push(format!(
            "SELECT {cols} FROM audit_device_events e WHERE e.device = ? AND e.seq > ? AND e.seq < ?"
        ));
        p.extend([dev(), Sql::Integer(lo), Sql::Integer(hi)]);
    }
    // A compound's ORDER BY names a result column; SQLite merges the ordered arms.
    let order_col = if arms.len() > 1 { "seq" } else { "e.seq" };
    let dir = if desc { "DESC" } else { "ASC" };
    let mut sql = arms.join(" UNION ALL ");
    sql.push_str(&format!(" ORDER BY {order_col} {dir} LIMIT ?"));
    p.push(Sql::Integer(limit));
    (sql, p)
}

fn dev_fetch(
    conn: &Connection,
    device: &str,
    r: &DevResolved,
    lo: i64,
    hi: i64,
    desc: bool,
    limit: i64,
) -> Result<Vec<AuditEvent>, AuditError> {
    if lo.saturating_add(1) >= hi {
        return Ok(Vec::new());
    }
    let (sql, p) = dev_select_sql(device, r, DEV_E_COLS, lo, hi, desc, limit);
    let mut st = conn.prepare_cached(&sql)?;
    let rows = st
        .query_map(params_from_iter(p), |r| to_event(r, 0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

fn dev_exists(
    conn: &Connection,
    device: &str,
    r: &DevResolved,
    lo: i64,
    hi: i64,
) -> Result<bool, AuditError> {
    if lo.saturating_add(1) >= hi {
        return Ok(false);
    }
    let (sql, p) = dev_select_sql(device, r, "e.seq", lo, hi, false, 1);
    Ok(conn.prepare_cached(&sql)?.exists(params_from_iter(p))?)
}

/// The window a page request reads: `(lo, hi, desc)` (exclusive seq bounds, walk direction).
fn dev_window(
    conn: &Connection,
    device: &str,
    q: &TimelineQuery,
    r: &DevResolved,
) -> Result<(i64, i64, bool), AuditError> {
    let (mut after, mut before) = cursors(q)?;
    let newest_first = q.order == Order::NewestFirst;
    match &q.jump {
        Some(Jump::Seq(n)) if newest_first => before = Some(n.saturating_add(1)),
        Some(Jump::Seq(n)) => after = Some(n.saturating_sub(1)),
        Some(Jump::Time(t)) => {
            let at = parse_time(t)?;
            if newest_first {
                before = dev_first_seq_where(conn, device, |ts| after_time(ts, &at, t))?;
            } else {
                after = Some(
                    dev_first_seq_where(conn, device, |ts| at_or_after(ts, &at, t))?
                        .map_or(i64::MAX - 1, |s| s - 1),
                );
            }
        }
        None => {}
    }
    let lo = after.map_or(r.lo, |a| a.max(r.lo));
    let hi = before.map_or(r.hi, |b| b.min(r.hi));
    let desc = match (after, before) {
        (Some(_), None) => false,
        (None, Some(_)) => true,
        _ => newest_first,
    };
    Ok((lo, hi, desc))
}

/// One page of `device`'s imported chain, exactly as [`super::query`] pages this device's
/// own (`TimelineQuery`: order, before/after cursors, a jump to a seq or a time, kind,
/// actor, subject and time filters). A text search is refused (`AUDIT_BAD_QUERY`): it is
/// served by this database's own index only. A device with no imported event is an empty
/// page.
#[tracing::instrument(name = "audit.device_page", skip_all)]
pub fn device_page(
    conn: &Connection,
    device: &str,
    q: &TimelineQuery,
) -> Result<TimelinePage, AuditError> {
    let limit = check_limit(q.limit)?;
    let r = dev_resolve(conn, device, &q.filter)?;
    let (lo, hi, desc) = dev_window(conn, device, q, &r)?;
    let newest_first = q.order == Order::NewestFirst;
    let mut events = dev_fetch(conn, device, &r, lo, hi, desc, limit + 1)?;
    let overflow = events.len() as i64 > limit;
    events.truncate(limit as usize);
    let above = dev_exists(conn, device, &r, hi.saturating_sub(1), r.hi)?;
    let below = dev_exists(conn, device, &r, r.lo, lo.saturating_add(1))?;
    Ok(super::timeline::assemble_page(
        events,
        super::timeline::PageEdges {
            overflow,
            above,
            below,
            desc,
            newest_first,
            lo,
            hi,
            jumping: q.jump.is_some(),
        },
    ))
}

/// How many of `device`'s imported events match `filter` (the Timeline's count and
/// scrollbar scale). Unfiltered: the distance between the range's first and last seq (a
/// device's chain is imported only as consecutive seqs), two lookups on the key.
#[tracing::instrument(name = "audit.device_count", skip_all)]
pub fn device_count(
    conn: &Connection,
    device: &str,
    filter: &TimelineFilter,
) -> Result<u64, AuditError> {
    let r = dev_resolve(conn, device, filter)?;
    if r.lo.saturating_add(1) >= r.hi {
        return Ok(0);
    }
    if r.kinds.is_empty() && r.actor.is_none() && r.subject.is_none() {
        let (first, last): (Option<i64>, Option<i64>) = conn
            .prepare_cached(
                "SELECT (SELECT min(seq) FROM audit_device_events WHERE device = ?1 AND seq > ?2), \
                        (SELECT max(seq) FROM audit_device_events WHERE device = ?1 AND seq < ?3)",
            )?
            .query_row(params![device, r.lo, r.hi], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?;
        return Ok(match (first, last) {
            (Some(f), Some(l)) if l >= f => (l - f + 1) as u64,
            _ => 0,
        });
    }
    let (inner, p) = dev_select_sql(device, &r, "e.seq", r.lo, r.hi, false, -1);
    let n: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM ({inner})"))?
        .query_row(params_from_iter(p), |row| row.get(0))?;
    Ok(n as u64)
}

/// `EXPLAIN QUERY PLAN` of the page query [`device_page`] would run (for the index test).
pub fn explain_device_page(
    conn: &Connection,
    device: &str,
    q: &TimelineQuery,
) -> Result<Vec<String>, AuditError> {
    let limit = check_limit(q.limit)?;
    let r = dev_resolve(conn, device, &q.filter)?;
    let (lo, hi, desc) = dev_window(conn, device, q, &r)?;
    let (sql, p) = dev_select_sql(device, &r, DEV_E_COLS, lo, hi, desc, limit + 1);
    let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let lines = st
        .query_map(params_from_iter(p), |row| row.get::<_, String>(3))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(lines)
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

    /// A device chain of `n` events: kinds alternate a/b, actors x/y every two, subject
    /// `p-<i % 5>`, one event a minute.
    fn remote_chain(n: usize) -> Vec<AuditEvent> {
        let (_d, s) = store();
        for i in 0..n {
            append(
                s.conn(),
                NewEvent {
                    actor: if (i / 2) % 2 == 0 { "x" } else { "y" },
                    kind: if i % 2 == 0 { "k.a" } else { "k.b" },
                    subject: &format!("p-{}", i % 5),
                    payload: serde_json::json!({"i": i}),
                },
                &format!("2026-11-30T{:02}:{:02}:00Z", i / 60, i % 60),
            )
            .unwrap();
        }
        list(s.conn(), None, None).unwrap()
    }

    fn seqs(p: &TimelinePage) -> Vec<i64> {
        p.events.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn a_device_chain_pages_and_filters_like_the_local_one() {
        let (_d, s) = store();
        let c = s.conn();
        let events = remote_chain(120);
        import_device_events(c, "dev", &events).unwrap();
        // Another device's events never leak into this one's pages.
        import_device_events(c, "other", &remote_chain(30)).unwrap();
        let page = |q: TimelineQuery| device_page(c, "dev", &q).unwrap();

        // Newest first, keyset pages both ways.
        let p1 = page(TimelineQuery {
            limit: Some(10),
            ..TimelineQuery::default()
        });
        assert_eq!(seqs(&p1), (111..=120).rev().collect::<Vec<_>>());
        assert!(p1.has_older && !p1.has_newer);
        let p2 = page(TimelineQuery {
            before: p1.older_cursor,
            limit: Some(10),
            ..TimelineQuery::default()
        });
        assert_eq!(seqs(&p2), (101..=110).rev().collect::<Vec<_>>());
        let back = page(TimelineQuery {
            after: p2.newer_cursor,
            limit: Some(10),
            ..TimelineQuery::default()
        });
        assert_eq!(seqs(&back), seqs(&p1));
        // Oldest first, and jumps to a seq and to a time.
        let oldest = page(TimelineQuery {
            order: Order::OldestFirst,
            limit: Some(3),
            ..TimelineQuery::default()
        });
        assert_eq!(seqs(&oldest), vec![1, 2, 3]);
        let at = page(TimelineQuery {
            jump: Some(Jump::Seq(50)),
            limit: Some(2),
            ..TimelineQuery::default()
        });
        assert_eq!((seqs(&at), at.anchor), (vec![50, 49], Some(50)));
        let t = page(TimelineQuery {
            jump: Some(Jump::Time("2026-11-30T01:00:30Z".into())),
            limit: Some(1),
            ..TimelineQuery::default()
        });
        assert_eq!(seqs(&t), vec![61], "the newest event at or before 01:00:30");

        // Filters: every row matches, the count agrees with a plain filter over the chain.
        let filters = [
            TimelineFilter {
                kinds: vec!["k.a".into()],
                ..TimelineFilter::default()
            },
            TimelineFilter {
                kinds: vec!["k.a".into(), "k.b".into()],
                actor: Some("y".into()),
                ..TimelineFilter::default()
            },
            TimelineFilter {
                actor: Some("x".into()),
                ..TimelineFilter::default()
            },
            TimelineFilter {
                subject: Some("p-3".into()),
                kinds: vec!["k.b".into()],
                ..TimelineFilter::default()
            },
            TimelineFilter {
                since: Some("2026-11-30T00:30:00Z".into()),
                until: Some("2026-11-30T01:10:00Z".into()),
                ..TimelineFilter::default()
            },
        ];
        for f in filters {
            let want: Vec<i64> = events
                .iter()
                .rev()
                .filter(|e| {
                    (f.kinds.is_empty() || f.kinds.contains(&e.kind))
                        && f.actor.as_ref().is_none_or(|a| &e.actor == a)
                        && f.subject.as_ref().is_none_or(|s| &e.subject == s)
                        && f.since.as_ref().is_none_or(|t| e.ts.as_str() >= t.as_str())
                        && f.until.as_ref().is_none_or(|t| e.ts.as_str() < t.as_str())
                })
                .map(|e| e.seq)
                .collect();
            assert!(!want.is_empty(), "{f:?}");
            let mut got = Vec::new();
            let mut before = None;
            loop {
                let p = page(TimelineQuery {
                    filter: f.clone(),
                    before,
                    limit: Some(7),
                    ..TimelineQuery::default()
                });
                got.extend(seqs(&p));
                if !p.has_older {
                    break;
                }
                before = p.older_cursor;
            }
            assert_eq!(got, want, "{f:?}");
            assert_eq!(device_count(c, "dev", &f).unwrap(), want.len() as u64);
        }
        assert_eq!(
            device_count(c, "dev", &TimelineFilter::default()).unwrap(),
            120
        );
        assert_eq!(
            device_count(c, "nobody", &TimelineFilter::default()).unwrap(),
            0
        );

        // Bad input is refused, saying what to do.
        let search = TimelineQuery {
            filter: TimelineFilter {
                search: Some("k".into()),
                ..TimelineFilter::default()
            },
            ..TimelineQuery::default()
        };
        let e = device_page(c, "dev", &search).unwrap_err();
        assert_eq!(e.code(), "AUDIT_BAD_QUERY");
        assert!(e.to_string().contains("text search"), "{e}");
        let e = device_page(
            c,
            "dev",
            &TimelineQuery {
                limit: Some(0),
                ..TimelineQuery::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.code(), "AUDIT_BAD_QUERY");
        assert_eq!(
            device_page(c, "", &TimelineQuery::default())
                .unwrap_err()
                .code(),
            "AUDIT_BAD_QUERY"
        );
    }

    /// Every filter's page is one walk over its index, in seq order: no table scan, no sort.
    #[test]
    fn every_device_filter_is_served_by_an_index() {
        let (_d, s) = store();
        let c = s.conn();
        import_device_events(c, "dev", &remote_chain(40)).unwrap();
        let cases: [(TimelineFilter, &str); 6] = [
            (TimelineFilter::default(), "PRIMARY KEY"),
            (
                TimelineFilter {
                    since: Some("2026-11-30T00:10:00Z".into()),
                    ..TimelineFilter::default()
                },
                "PRIMARY KEY",
            ),
            (
                TimelineFilter {
                    kinds: vec!["k.a".into(), "k.b".into()],
                    ..TimelineFilter::default()
                },
                "audit_device_events_by_kind",
            ),
            (
                TimelineFilter {
                    actor: Some("x".into()),
                    ..TimelineFilter::default()
                },
                "audit_device_events_by_actor",
            ),
            (
                TimelineFilter {
                    actor: Some("x".into()),
                    kinds: vec!["k.a".into()],
                    ..TimelineFilter::default()
                },
                "audit_device_events_by_actor_kind",
            ),
            (
                TimelineFilter {
                    subject: Some("p-1".into()),
                    actor: Some("x".into()),
                    ..TimelineFilter::default()
                },
                "audit_device_events_by_subject",
            ),
        ];
        for (filter, index) in cases {
            for (order, before) in [
                (Order::NewestFirst, None),
                (Order::OldestFirst, None),
                (Order::NewestFirst, Some(20)),
            ] {
                let q = TimelineQuery {
                    filter: filter.clone(),
                    order,
                    before,
                    ..TimelineQuery::default()
                };
                let plan = explain_device_page(c, "dev", &q).unwrap();
                eprintln!("{filter:?} {order:?} {before:?}: {plan:?}");
                assert!(
                    plan.iter()
                        .any(|l| l.contains(index) && l.contains("device=?")),
                    "{filter:?}: {plan:?}"
                );
                assert!(
                    !plan
                        .iter()
                        .any(|l| l.contains("TEMP B-TREE") || l.starts_with("SCAN")),
                    "{filter:?} {order:?} sorts or scans: {plan:?}"
                );
            }
        }
    }
}
