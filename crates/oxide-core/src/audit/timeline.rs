//! The maintainer's timeline: keyset pages over the chain in both directions, filters, a
//! text search, jumps to a seq or a time, counts and ranks for a scrollbar scaled to the whole
//! history — every query served by an index (migrations/0014_audit_timeline.sql), so a page
//! costs the same at one million events as at ten.
//!
//! Which index serves which filter (pages walk seq order; a one-column index on X is ordered
//! by (X, seq) because seq is the rowid):
//!
//! | filter | driver |
//! | --- | --- |
//! | none (and time range) | the table itself, a seq range |
//! | `search` (with anything) | `audit_fts` (FTS5, rowid = seq, walked in seq order); the other filters are checked on each hit |
//! | `subject` (with kinds/actor) | `audit_events_by_subject`; kinds/actor checked on its rows |
//! | `actor` + `kinds` | `audit_events_by_actor_kind`, one walk per kind merged in seq order |
//! | `actor` | `audit_events_by_actor` |
//! | `kinds` | `audit_events_by_kind`, one walk per kind merged in seq order |
//!
//! Several kinds are one `UNION ALL` whose arms each walk one index range in seq order, and
//! SQLite merges them (`MERGE (UNION ALL)`) instead of sorting. `since`/`until` become a seq
//! range found by binary search over the chain (the chain is appended in time order, one
//! writer at a time with the workspace clock): about 20 point lookups. If a clock ever
//! stepped back, a bound lands on one of the events around the step; the filter never
//! reads outside the found range, so what is listed is exactly that seq range.

use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{row_to_event_only, AuditError, AuditEvent};

/// Events per page when the query names no limit.
pub const DEFAULT_LIMIT: u32 = 50;
/// The most events one page may ask for.
pub const MAX_LIMIT: u32 = 1000;

/// Which events: every field narrows (all must hold). Empty = the whole chain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(default)]
pub struct TimelineFilter {
    /// Any of these kinds (exact, e.g. `workflow.validate`); empty = every kind.
    pub kinds: Vec<String>,
    /// Exactly this actor.
    pub actor: Option<String>,
    /// Exactly this subject (a proposal id, a skill id, a workspace path).
    pub subject: Option<String>,
    /// Events at or after this time (RFC 3339, or a date `YYYY-MM-DD` = its midnight UTC).
    pub since: Option<String>,
    /// Events before this time (exclusive; same forms as `since`).
    pub until: Option<String>,
    /// Words that must all start a word of the kind, actor or subject
    /// (`valid` finds `workflow.validate`; `p-1a2b` finds subject `p-1a2b3c`).
    pub search: Option<String>,
}

impl TimelineFilter {
    /// True when nothing narrows the chain.
    pub fn is_empty(&self) -> bool {
        self == &TimelineFilter::default()
    }
}

/// The reading order of a page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum Order {
    #[default]
    NewestFirst,
    OldestFirst,
}

/// Where a page opens instead of an end of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum Jump {
    /// The page opens at this seq (or the nearest matching event beyond it in reading
    /// order).
    Seq(i64),
    /// Newest first: opens at the newest event at or before this time; oldest first: at the
    /// oldest event at or after it.
    Time(String),
}

/// One page request. Without cursors the page opens at the reading order's start (newest
/// first: the newest event). `before` alone reads older events (seq < before) nearest first,
/// `after` alone newer ones (seq > after) nearest first; both bound a range read in
/// reading order. The page is always returned in reading order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(default)]
pub struct TimelineQuery {
    pub filter: TimelineFilter,
    pub order: Order,
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub jump: Option<Jump>,
    /// 1..=1000; default 50.
    pub limit: Option<u32>,
}

/// One page of the timeline, in reading order, with the cursors to the pages around it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TimelinePage {
    pub events: Vec<AuditEvent>,
    /// Matching events newer than this page exist.
    pub has_newer: bool,
    /// Matching events older than this page exist.
    pub has_older: bool,
    /// Pass as `after` to read the events newer than this page (its newest seq).
    pub newer_cursor: Option<i64>,
    /// Pass as `before` to read the events older than this page (its oldest seq).
    pub older_cursor: Option<i64>,
    /// With a jump: the event the page opened at (the first in reading order).
    pub anchor: Option<i64>,
}

/// A filter checked and turned into what the SQL needs.
#[derive(Debug, Clone)]
struct Resolved {
    kinds: Vec<String>,
    actor: Option<String>,
    subject: Option<String>,
    /// FTS5 query text.
    fts: Option<String>,
    /// The time range as an exclusive seq range.
    lo: i64,
    hi: i64,
}

fn bad(why: impl Into<String>) -> AuditError {
    AuditError::BadQuery(why.into())
}

/// Parses a time a person or shell gave: RFC 3339, or `YYYY-MM-DD` (midnight UTC).
pub fn parse_time(s: &str) -> Result<OffsetDateTime, AuditError> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let date_fmt = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(s, &date_fmt) {
        return Ok(d.midnight().assume_utc());
    }
    Err(bad(format!(
        "'{s}' is not a time: give RFC 3339 (2026-11-30T16:00:00Z) or a date (2026-11-30)"
    )))
}

/// The row of `audit_terms` recorded once any event had a kind, actor or subject that is not
/// plain ASCII (FTS5 folds diacritics, `audit_terms` does not, so it can no longer list every
/// word a prefix matches).
pub const NON_ASCII_TERM: &str = "-non-ascii";

/// How many whole words a search word may stand for before the FTS5 prefix query is used.
const MAX_EXPANDED: usize = 32;

/// The FTS5 query for a person's search words: every word must match (a prefix of a token).
/// A plain ASCII word is looked up in `audit_terms` first and asked as the whole words it
/// starts (`("promote" OR "promoted")`), which FTS5 walks lazily newest first; a word that
/// starts no word at all is asked as itself (it finds nothing, at once). Other words (with
/// separators, non-ASCII, or standing for many words) are quoted token prefixes. Quoting
/// keeps FTS5 operators (`OR`, `NEAR`, `*`, `:`) as plain text.
fn fts_query(conn: &Connection, search: &str) -> Result<Option<String>, AuditError> {
    let words: Vec<&str> = search.split_whitespace().collect();
    if words.is_empty() {
        return Ok(None);
    }
    let mut parts = Vec::new();
    let mut expandable: Option<bool> = None;
    for w in words {
        if !w.chars().any(char::is_alphanumeric) {
            return Err(bad(format!(
                "search word '{w}' has no letters or digits; search matches the starts of words in kind, actor and subject"
            )));
        }
        let quoted = w.replace('"', "\"\"");
        if w.chars().all(|c| c.is_ascii_alphanumeric()) {
            let ok = match expandable {
                Some(ok) => ok,
                None => {
                    let ok = !conn
                        .prepare_cached("SELECT 1 FROM audit_terms WHERE term = ?1")?
                        .exists([NON_ASCII_TERM])?;
                    expandable = Some(ok);
                    ok
                }
            };
            if ok {
                let lower = w.to_ascii_lowercase();
                // The words in [lower, lower with its last character raised by one).
                let mut upper = lower.clone().into_bytes();
                if let Some(last) = upper.last_mut() {
                    *last += 1;
                }
                let upper = String::from_utf8(upper).unwrap_or_default();
                let terms = conn
                    .prepare_cached(
                        "SELECT term FROM audit_terms WHERE term >= ?1 AND term < ?2 LIMIT ?3",
                    )?
                    .query_map(
                        rusqlite::params![lower, upper, (MAX_EXPANDED + 1) as i64],
                        |r| r.get::<_, String>(0),
                    )?
                    .collect::<Result<Vec<_>, _>>()?;
                if terms.is_empty() {
                    parts.push(format!("\"{quoted}\""));
                    continue;
                }
                if terms.len() <= MAX_EXPANDED {
                    let alts: Vec<String> = terms.iter().map(|t| format!("\"{t}\"")).collect();
                    parts.push(format!("({})", alts.join(" OR ")));
                    continue;
                }
            }
        }
        parts.push(format!("\"{quoted}\"*"));
    }
    Ok(Some(parts.join(" AND ")))
}

pub(super) fn check_limit(limit: Option<u32>) -> Result<i64, AuditError> {
    match limit {
        None => Ok(i64::from(DEFAULT_LIMIT)),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(i64::from(n)),
        Some(n) => Err(bad(format!(
            "limit {n} is out of range: ask for 1 to {MAX_LIMIT} events a page"
        ))),
    }
}

/// The first seq (in chain order) whose time is at or after `t` (`strict`: after it), by a
/// search over seq (the predicate must be false then true along the chain). `None`: no event
/// satisfies it.
///
/// The chain is appended in time order at a fairly even pace, so each step guesses where `t`
/// falls between the two times it knows (interpolation) instead of always halving; a guess
/// that does not at least halve the range is followed by a plain halving, so the worst case
/// stays about twice a binary search's ~20 point lookups and the usual case is a handful.
fn first_seq_where(
    conn: &Connection,
    t: &OffsetDateTime,
    t_text: &str,
    strict: bool,
) -> Result<Option<i64>, AuditError> {
    let pred = |ts: &str| {
        if strict {
            after_time(ts, t, t_text)
        } else {
            at_or_after(ts, t, t_text)
        }
    };
    let nanos = |ts: &str| {
        OffsetDateTime::parse(ts, &Rfc3339)
            .ok()
            .map(|x| x.unix_timestamp_nanos())
    };
    let target = t.unix_timestamp_nanos();
    // Two subqueries: SQLite answers a lone min() or max() from the end of the b-tree, but
    // `SELECT min(seq), max(seq)` together scans every row.
    let (min, max): (Option<i64>, Option<i64>) = conn
        .prepare_cached(
            "SELECT (SELECT min(seq) FROM audit_events), (SELECT max(seq) FROM audit_events)",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let (Some(mut lo), Some(mut hi)) = (min, max) else {
        return Ok(None);
    };
    let mut stmt = conn
        .prepare_cached("SELECT seq, ts FROM audit_events WHERE seq >= ?1 ORDER BY seq LIMIT 1")?;
    // The first event at or after seq `x`: its seq, whether it satisfies the predicate, its
    // time as nanoseconds (None: not a parseable time).
    let mut probe = |x: i64| -> Result<Option<(i64, bool, Option<i128>)>, AuditError> {
        Ok(stmt
            .query_row([x], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .optional()?
            .map(|(s, ts)| (s, pred(&ts), nanos(&ts))))
    };
    let mut t_hi = match probe(hi)? {
        Some((_, true, n)) => n,
        _ => return Ok(None),
    };
    let mut t_lo = match probe(lo)? {
        Some((s, true, _)) => return Ok(Some(s)),
        Some((_, false, n)) => n,
        None => None,
    };
    // Smallest x in [lo, hi] whose first event at or after x satisfies pred; `lo` is known
    // false, `hi` known true.
    // Widths in i128: seqs are whatever the file holds (a row at i64::MIN must not overflow).
    let mut halve = false;
    while i128::from(hi) - i128::from(lo) > 1 {
        let width = i128::from(hi) - i128::from(lo);
        let offset = match (halve, t_lo, t_hi) {
            (false, Some(a), Some(b)) if b > a => {
                let frac = ((target - a) as f64 / (b - a) as f64).clamp(0.0, 1.0);
                ((width as f64) * frac).round() as i128
            }
            _ => width / 2,
        };
        // In (lo, hi): fits i64 because lo and hi do.
        let guess = (i128::from(lo) + offset.clamp(1, width - 1)) as i64;
        match probe(guess)? {
            Some((_, true, n)) => {
                hi = guess;
                t_hi = n;
            }
            Some((_, false, n)) => {
                lo = guess;
                t_lo = n;
            }
            None => {
                hi = guess;
            }
        }
        // A guess that left more than half the range: halve next time.
        halve = !halve && (i128::from(hi) - i128::from(lo)) * 2 > width;
    }
    Ok(probe(hi)?.map(|(s, _, _)| s))
}

/// `ts >= t`, comparing instants (stored times have varying fraction digits); a stored time
/// that does not parse compares as text.
pub(super) fn at_or_after(ts: &str, t: &OffsetDateTime, t_text: &str) -> bool {
    match OffsetDateTime::parse(ts, &Rfc3339) {
        Ok(x) => x >= *t,
        Err(_) => ts >= t_text,
    }
}

pub(super) fn after_time(ts: &str, t: &OffsetDateTime, t_text: &str) -> bool {
    match OffsetDateTime::parse(ts, &Rfc3339) {
        Ok(x) => x > *t,
        Err(_) => ts > t_text,
    }
}

fn resolve(conn: &Connection, f: &TimelineFilter) -> Result<Resolved, AuditError> {
    let mut kinds: Vec<String> = Vec::new();
    for k in &f.kinds {
        if k.trim().is_empty() {
            return Err(bad("an empty kind: name a kind such as workflow.validate"));
        }
        if !kinds.contains(k) {
            kinds.push(k.clone());
        }
    }
    let nonempty = |what: &str, v: &Option<String>| -> Result<Option<String>, AuditError> {
        match v {
            Some(s) if s.is_empty() => Err(bad(format!(
                "an empty {what}: leave it out to match every {what}"
            ))),
            other => Ok(other.clone()),
        }
    };
    let actor = nonempty("actor", &f.actor)?;
    let subject = nonempty("subject", &f.subject)?;
    let fts = match &f.search {
        Some(s) => fts_query(conn, s)?,
        None => None,
    };
    let since = f.since.as_deref().map(parse_time).transpose()?;
    let until = f.until.as_deref().map(parse_time).transpose()?;
    if let (Some(s), Some(u)) = (&since, &until) {
        if s >= u {
            return Err(bad(format!(
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
        match first_seq_where(conn, &t, &text, false)? {
            // The timeline lists seqs from 1 on (`lo` starts at 0).
            Some(s) => lo = s.saturating_sub(1).max(0),
            None => lo = i64::MAX - 1,
        }
    }
    if let Some(t) = until {
        let text = f.until.clone().unwrap_or_default();
        if let Some(s) = first_seq_where(conn, &t, &text, false)? {
            hi = s;
        }
    }
    Ok(Resolved {
        kinds,
        actor,
        subject,
        fts,
        lo,
        hi,
    })
}

const COLS: &str = "e.seq, e.ts, e.actor, e.kind, e.subject, e.payload, e.prev, e.hash";

/// The SQL for the matching events with `lo < seq < hi`, in seq order (`desc`), at most
/// `limit` (-1 = all), skipping `offset`.
fn select_sql(
    r: &Resolved,
    cols: &str,
    lo: i64,
    hi: i64,
    desc: bool,
    limit: i64,
    offset: i64,
) -> (String, Vec<Sql>) {
    let mut params: Vec<Sql> = Vec::new();
    let mut arms: Vec<String> = Vec::new();
    let dir = if desc { "DESC" } else { "ASC" };
    let push_residual =
        |sql: &mut String, params: &mut Vec<Sql>, kinds: bool, actor: bool, subject: bool| {
            if kinds && !r.kinds.is_empty() {
                sql.push_str(" AND e.kind IN (");
                for (i, k) in r.kinds.iter().enumerate() {
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    sql.push('?');
                    params.push(Sql::Text(k.clone()));
                }
                sql.push(')');
            }
            if actor {
                if let Some(a) = &r.actor {
                    sql.push_str(" AND e.actor = ?");
                    params.push(Sql::Text(a.clone()));
                }
            }
            if subject {
                if let Some(s) = &r.subject {
                    sql.push_str(" AND e.subject = ?");
                    params.push(Sql::Text(s.clone()));
                }
            }
        };
    let mut order_col = "e.seq";
    if let Some(m) = &r.fts {
        // FTS5 walks its rowids (= seq) in order itself when asked by rowid.
        order_col = "audit_fts.rowid";
        let mut sql = format!(
            "SELECT {cols} FROM audit_fts CROSS JOIN audit_events e ON e.seq = audit_fts.rowid \
             WHERE audit_fts MATCH ? AND audit_fts.rowid > ? AND audit_fts.rowid < ?"
        );
        params.extend([Sql::Text(m.clone()), Sql::Integer(lo), Sql::Integer(hi)]);
        push_residual(&mut sql, &mut params, true, true, true);
        arms.push(sql);
    } else if r.subject.is_some() {
        let mut sql = format!(
            "SELECT {cols} FROM audit_events e INDEXED BY audit_events_by_subject \
             WHERE e.subject = ? AND e.seq > ? AND e.seq < ?"
        );
        params.extend([
            Sql::Text(r.subject.clone().unwrap_or_default()),
            Sql::Integer(lo),
            Sql::Integer(hi),
        ]);
        push_residual(&mut sql, &mut params, true, true, false);
        arms.push(sql);
    } else if !r.kinds.is_empty() {
        for k in &r.kinds {
            let sql = match &r.actor {
                Some(a) => {
                    params.push(Sql::Text(a.clone()));
                    format!(
                        "SELECT {cols} FROM audit_events e INDEXED BY audit_events_by_actor_kind \
                         WHERE e.actor = ? AND e.kind = ? AND e.seq > ? AND e.seq < ?"
                    )
                }
                None => format!(
                    "SELECT {cols} FROM audit_events e INDEXED BY audit_events_by_kind \
                     WHERE e.kind = ? AND e.seq > ? AND e.seq < ?"
                ),
            };
            params.extend([Sql::Text(k.clone()), Sql::Integer(lo), Sql::Integer(hi)]);
            arms.push(sql);
        }
    } else if let Some(a) = &r.actor {
        arms.push(format!(
            "SELECT {cols} FROM audit_events e INDEXED BY audit_events_by_actor \
             WHERE e.actor = ? AND e.seq > ? AND e.seq < ?"
        ));
        params.extend([Sql::Text(a.clone()), Sql::Integer(lo), Sql::Integer(hi)]);
    } else {
        arms.push(format!(
            "SELECT {cols} FROM audit_events e WHERE e.seq > ? AND e.seq < ?"
        ));
        params.extend([Sql::Integer(lo), Sql::Integer(hi)]);
    }
    if arms.len() > 1 {
        // A compound's ORDER BY names a result column; SQLite merges the ordered arms.
        order_col = "seq";
    }
    let mut sql = arms.join(" UNION ALL ");
    sql.push_str(&format!(" ORDER BY {order_col} {dir} LIMIT ? OFFSET ?"));
    params.extend([Sql::Integer(limit), Sql::Integer(offset)]);
    (sql, params)
}

/// At most `limit` matching events with `lo < seq < hi` in seq order (`desc`), and whether
/// another one follows them (read as a row, never turned into an event).
fn fetch(
    conn: &Connection,
    r: &Resolved,
    lo: i64,
    hi: i64,
    desc: bool,
    limit: i64,
) -> Result<(Vec<AuditEvent>, bool), AuditError> {
    if lo.saturating_add(1) >= hi {
        return Ok((Vec::new(), false));
    }
    let (sql, params) = select_sql(r, COLS, lo, hi, desc, limit + 1, 0);
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    let mut events = Vec::with_capacity(limit as usize);
    while let Some(row) = rows.next()? {
        if events.len() as i64 == limit {
            return Ok((events, true));
        }
        events.push(row_to_event_only(row)?);
    }
    Ok((events, false))
}

fn exists(conn: &Connection, r: &Resolved, lo: i64, hi: i64) -> Result<bool, AuditError> {
    if lo.saturating_add(1) >= hi {
        return Ok(false);
    }
    let (sql, params) = select_sql(r, "e.seq", lo, hi, false, 1, 0);
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(stmt.exists(params_from_iter(params))?)
}

fn count_in(conn: &Connection, r: &Resolved, lo: i64, hi: i64) -> Result<u64, AuditError> {
    if lo.saturating_add(1) >= hi {
        return Ok(0);
    }
    if r.kinds.is_empty() && r.actor.is_none() && r.subject.is_none() && r.fts.is_none() {
        // Every event of a seq range: the chain's seqs are consecutive (`append` numbers
        // head + 1; events are never deleted), so the count is the distance between the
        // range's first and last event — two b-tree lookups instead of a walk over every
        // row (a second at a million events, holding the workspace while the page waits).
        let (first, last): (Option<i64>, Option<i64>) = conn
            .prepare_cached(
                "SELECT (SELECT min(seq) FROM audit_events WHERE seq > ?1), \
                        (SELECT max(seq) FROM audit_events WHERE seq < ?2)",
            )?
            .query_row([lo, hi], |row| Ok((row.get(0)?, row.get(1)?)))?;
        return Ok(match (first, last) {
            (Some(f), Some(l)) if l >= f => (l - f + 1) as u64,
            _ => 0,
        });
    }
    let (inner, params) = select_sql(r, "e.seq", lo, hi, false, -1, 0);
    let sql = format!("SELECT count(*) FROM ({inner})");
    let mut stmt = conn.prepare_cached(&sql)?;
    let n: i64 = stmt.query_row(params_from_iter(params), |row| row.get(0))?;
    Ok(n as u64)
}

/// Cursor checks shared by `query` and `export`: returns the exclusive seq bounds.
pub(super) fn cursors(q: &TimelineQuery) -> Result<(Option<i64>, Option<i64>), AuditError> {
    if q.jump.is_some() && (q.before.is_some() || q.after.is_some()) {
        return Err(bad(
            "a jump opens a page by itself: give either a jump or before/after cursors, not both",
        ));
    }
    if let (Some(a), Some(b)) = (q.after, q.before) {
        if a >= b {
            return Err(bad(format!(
                "after ({a}) must be less than before ({b}): no event lies between them"
            )));
        }
    }
    Ok((q.after, q.before))
}

/// One page of the timeline (see [`TimelineQuery`]). Bad input (a bad time, an out-of-range
/// limit, contradicting cursors) is `AUDIT_BAD_QUERY`, reading nothing.
#[tracing::instrument(name = "audit.query", skip_all)]
pub fn query(conn: &Connection, q: &TimelineQuery) -> Result<TimelinePage, AuditError> {
    let limit = check_limit(q.limit)?;
    let (mut after, mut before) = cursors(q)?;
    let r = resolve(conn, &q.filter)?;
    let newest_first = q.order == Order::NewestFirst;
    let jumping = q.jump.is_some();
    match &q.jump {
        Some(Jump::Seq(n)) if newest_first => before = Some(n.saturating_add(1)),
        Some(Jump::Seq(n)) => after = Some(n.saturating_sub(1)),
        Some(Jump::Time(t)) => {
            let at = parse_time(t)?;
            if newest_first {
                // Open at the newest event at or before `t`: read below the first one after it.
                before = first_seq_where(conn, &at, t, true)?;
            } else {
                after = Some(
                    first_seq_where(conn, &at, t, false)?
                        .map_or(i64::MAX - 1, |s| s.saturating_sub(1).max(0)),
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
    let (events, overflow) = fetch(conn, &r, lo, hi, desc, limit)?;
    // Beyond the page in the reading direction: the extra row; behind the start: a probe of
    // the rest of the window (events at or above `hi`, at or below `lo`).
    let above = exists(conn, &r, hi.saturating_sub(1), r.hi)?;
    let below = exists(conn, &r, r.lo, lo.saturating_add(1))?;
    Ok(assemble_page(
        events,
        PageEdges {
            overflow,
            above,
            below,
            desc,
            newest_first,
            lo,
            hi,
            jumping,
        },
    ))
}

/// What a page read found around itself, to turn its rows into a [`TimelinePage`].
pub(super) struct PageEdges {
    /// A row past the page in the reading direction exists.
    pub overflow: bool,
    /// Matching events at or above `hi` / at or below `lo` exist.
    pub above: bool,
    pub below: bool,
    /// The rows were read newest first.
    pub desc: bool,
    pub newest_first: bool,
    /// The exclusive seq window read.
    pub lo: i64,
    pub hi: i64,
    pub jumping: bool,
}

/// The page in reading order with its flags and cursors (this device's chain and a synced
/// device's alike).
pub(super) fn assemble_page(mut events: Vec<AuditEvent>, e: PageEdges) -> TimelinePage {
    let (has_newer, has_older) = if e.desc {
        (e.above, e.overflow || e.below)
    } else {
        (e.overflow || e.above, e.below)
    };
    let seqs = events.iter().map(|e| e.seq);
    let (min_seq, max_seq) = (seqs.clone().min(), seqs.max());
    if e.desc != e.newest_first {
        events.reverse();
    }
    let (newer_cursor, older_cursor) = match (max_seq, min_seq) {
        (Some(max), Some(min)) => (Some(max), Some(min)),
        _ => (
            (e.hi != i64::MAX).then(|| e.hi - 1),
            (e.lo > 0 && e.lo < i64::MAX - 1).then(|| e.lo + 1),
        ),
    };
    let anchor = if e.jumping {
        events.first().map(|e| e.seq)
    } else {
        None
    };
    TimelinePage {
        events,
        has_newer,
        has_older,
        newer_cursor,
        older_cursor,
        anchor,
    }
}

/// How many events match `filter` (for a scrollbar scaled to the whole filtered history).
/// Walks the serving index's range: milliseconds per hundred thousand matches.
#[tracing::instrument(name = "audit.count_matching", skip_all)]
pub fn count_matching(conn: &Connection, filter: &TimelineFilter) -> Result<u64, AuditError> {
    let r = resolve(conn, filter)?;
    count_in(conn, &r, r.lo, r.hi)
}

/// The rank of event `seq` among the events matching `filter` in reading order: how many
/// matching events come before it (0 = it opens the timeline). `seq` need not match itself.
#[tracing::instrument(name = "audit.position_of", skip_all)]
pub fn position_of(
    conn: &Connection,
    filter: &TimelineFilter,
    order: Order,
    seq: i64,
) -> Result<u64, AuditError> {
    let r = resolve(conn, filter)?;
    match order {
        Order::NewestFirst => count_in(conn, &r, seq.max(r.lo), r.hi),
        Order::OldestFirst => count_in(conn, &r, r.lo, seq.min(r.hi)),
    }
}

/// The seq of the matching event at `position` in reading order (0 = the first), for a
/// scrollbar dragged to a fraction of the history; `None` past the end. Steps over
/// `position` index entries, so prefer a cursor or a jump when one is at hand.
#[tracing::instrument(name = "audit.seq_at_position", skip_all)]
pub fn seq_at_position(
    conn: &Connection,
    filter: &TimelineFilter,
    order: Order,
    position: u64,
) -> Result<Option<i64>, AuditError> {
    let r = resolve(conn, filter)?;
    if r.lo.saturating_add(1) >= r.hi {
        return Ok(None);
    }
    let offset = i64::try_from(position).map_err(|_| bad("position is too large"))?;
    let (sql, params) = select_sql(
        &r,
        "e.seq",
        r.lo,
        r.hi,
        order == Order::NewestFirst,
        1,
        offset,
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    Ok(stmt
        .query_row(params_from_iter(params), |row| row.get(0))
        .optional()?)
}

/// `EXPLAIN QUERY PLAN` of the page query `q` would run, one line per plan step (for the
/// index test and the benchmark's report).
pub fn explain(conn: &Connection, q: &TimelineQuery) -> Result<Vec<String>, AuditError> {
    let limit = check_limit(q.limit)?;
    let (after, before) = cursors(q)?;
    let r = resolve(conn, &q.filter)?;
    let lo = after.map_or(r.lo, |a| a.max(r.lo));
    let hi = before.map_or(r.hi, |b| b.min(r.hi));
    let desc = match (after, before) {
        (Some(_), None) => false,
        (None, Some(_)) => true,
        _ => q.order == Order::NewestFirst,
    };
    let (sql, params) = select_sql(&r, COLS, lo, hi, desc, limit + 1, 0);
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let lines = stmt
        .query_map(params_from_iter(params), |row| row.get::<_, String>(3))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(lines)
}

/// The events matching `q`'s filter and cursors, in its reading order, handed to `each`
/// one by one (`limit` `None` = all, streamed; a limit may exceed a page's). Which end a
/// limited read starts at follows [`query`]: `before` alone reads the events just below
/// it, `after` alone those just above it. Returns how many were handed over.
pub fn for_each_matching(
    conn: &Connection,
    q: &TimelineQuery,
    mut each: impl FnMut(AuditEvent) -> Result<(), AuditError>,
) -> Result<u64, AuditError> {
    let (after, before) = cursors(q)?;
    if q.jump.is_some() {
        return Err(bad("a listing takes a range (after/before), not a jump"));
    }
    let limit = match q.limit {
        None => -1,
        Some(0) => {
            return Err(bad(
                "limit 0: give at least 1, or leave it out for every event",
            ))
        }
        Some(n) => i64::from(n),
    };
    let r = resolve(conn, &q.filter)?;
    let lo = after.map_or(r.lo, |a| a.max(r.lo));
    let hi = before.map_or(r.hi, |b| b.min(r.hi));
    if lo.saturating_add(1) >= hi {
        return Ok(0);
    }
    let newest_first = q.order == Order::NewestFirst;
    let desc = match (limit, after, before) {
        (-1, _, _) => newest_first,
        (_, Some(_), None) => false,
        (_, None, Some(_)) => true,
        _ => newest_first,
    };
    let (sql, params) = select_sql(&r, COLS, lo, hi, desc, limit, 0);
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    let mut n = 0u64;
    if desc == newest_first {
        while let Some(row) = rows.next()? {
            each(row_to_event_only(row)?)?;
            n += 1;
        }
    } else {
        // A limited read from the far end: at most `limit` rows, handed over in reading order.
        let mut buf = Vec::new();
        while let Some(row) = rows.next()? {
            buf.push(row_to_event_only(row)?);
        }
        for e in buf.into_iter().rev() {
            each(e)?;
            n += 1;
        }
    }
    Ok(n)
}

/// How many events of one kind happened on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct DayKindCount {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    pub kind: String,
    pub count: u64,
}

/// Events per UTC day and kind among those matching `filter`, by day then kind (the
/// events-per-day chart), counted by SQLite. With no filter but a time range, the count is
/// one walk over `audit_events_by_day_kind` (migration 0019): the (day, kind) pairs are
/// already grouped there, so no event row is read and nothing is sorted; the window's days
/// bound the walk and its seq range makes it exact. Other filters count the rows their own
/// index serves (see the table at the top of this module).
#[tracing::instrument(name = "audit.events_per_day", skip_all)]
pub fn events_per_day(
    conn: &Connection,
    filter: &TimelineFilter,
) -> Result<Vec<DayKindCount>, AuditError> {
    let (sql, params) = match per_day_sql(conn, filter)? {
        Some(q) => q,
        None => return Ok(Vec::new()),
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params_from_iter(params), |row| {
            Ok(DayKindCount {
                day: row.get(0)?,
                kind: row.get(1)?,
                count: row.get::<_, i64>(2)? as u64,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The day (`YYYY-MM-DD`, UTC) `days` away from the time `t` a filter gave.
fn day_bound(t: &str, days: i64) -> Result<String, AuditError> {
    let d = parse_time(t)?.to_offset(time::UtcOffset::UTC).date();
    Ok((d + time::Duration::days(days)).to_string())
}

/// The SQL `events_per_day` runs (`None`: the filter's range is empty).
fn per_day_sql(
    conn: &Connection,
    filter: &TimelineFilter,
) -> Result<Option<(String, Vec<Sql>)>, AuditError> {
    let r = resolve(conn, filter)?;
    if r.lo.saturating_add(1) >= r.hi {
        return Ok(None);
    }
    let only_time =
        r.kinds.is_empty() && r.actor.is_none() && r.subject.is_none() && r.fts.is_none();
    if !only_time {
        let (inner, params) = select_sql(
            &r,
            "e.seq, e.ts AS ts, e.kind AS kind",
            r.lo,
            r.hi,
            false,
            -1,
            0,
        );
        return Ok(Some((
            format!(
                "SELECT substr(ts, 1, 10) AS day, kind, count(*) FROM ({inner}) \
                 GROUP BY day, kind ORDER BY day, kind"
            ),
            params,
        )));
    }
    // The window's days (a day of margin each side: the seq range below is the exact
    // bound; the days only keep the walk inside the window).
    let first = match &filter.since {
        Some(t) => day_bound(t, -1)?,
        None => String::new(),
    };
    let last = match &filter.until {
        Some(t) => day_bound(t, 1)?,
        None => "9999-12-31".to_string(),
    };
    Ok(Some((
        "SELECT substr(ts, 1, 10) AS day, kind, count(*) FROM audit_events \
         INDEXED BY audit_events_by_day_kind \
         WHERE substr(ts, 1, 10) >= ? AND substr(ts, 1, 10) <= ? AND seq > ? AND seq < ? \
         GROUP BY substr(ts, 1, 10), kind ORDER BY substr(ts, 1, 10), kind"
            .to_string(),
        vec![
            Sql::Text(first),
            Sql::Text(last),
            Sql::Integer(r.lo),
            Sql::Integer(r.hi),
        ],
    )))
}

/// `EXPLAIN QUERY PLAN` of what `events_per_day` runs for `filter` (for the index test).
pub fn explain_events_per_day(
    conn: &Connection,
    filter: &TimelineFilter,
) -> Result<Vec<String>, AuditError> {
    let Some((sql, params)) = per_day_sql(conn, filter)? else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let lines = stmt
        .query_map(params_from_iter(params), |row| row.get::<_, String>(3))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(lines)
}

#[cfg(test)]
mod tests;
