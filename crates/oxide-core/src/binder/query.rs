//! What the binder shows of its tables: the quarantine list, the `mv_*` query views (seed
//! 001's stable query primitives) and the derived-state dump that idempotency tests compare.

use rusqlite::{params, Connection, ToSql};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::BinderError;

/// A quarantined line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct QuarantineItem {
    pub source: String,
    /// 1-based line number in `source`.
    pub line: i64,
    pub code: String,
    pub message: String,
    pub line_digest: String,
    pub excerpt: String,
    pub byte_len: i64,
    pub quarantined_at: String,
}

/// Quarantined lines, oldest first (then by source, line and digest).
pub fn quarantine(
    conn: &Connection,
    limit: Option<u32>,
) -> Result<Vec<QuarantineItem>, BinderError> {
    let mut st = conn.prepare(
        "SELECT source, line, code, message, line_digest, excerpt, byte_len, quarantined_at
         FROM binder_quarantine ORDER BY quarantined_at, source, line, line_digest LIMIT ?1",
    )?;
    let limit = limit.map_or(-1, i64::from);
    let items = st
        .query_map(params![limit], |r| {
            Ok(QuarantineItem {
                source: r.get(0)?,
                line: r.get(1)?,
                code: r.get(2)?,
                message: r.get(3)?,
                line_digest: r.get(4)?,
                excerpt: r.get(5)?,
                byte_len: r.get(6)?,
                quarantined_at: r.get(7)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(items)
}

/// The query primitives: (view, columns, total order).
pub const VIEWS: &[(&str, &[&str], &str)] = &[
    (
        "mv_recent_failures_by_taskspec",
        &[
            "scope",
            "target_kind",
            "target_id",
            "action_kind",
            "failure_reason_code",
            "failures",
            "first_failure_ts",
            "last_failure_ts",
        ],
        "last_failure_ts DESC, scope, target_kind, target_id, action_kind, failure_reason_code",
    ),
    (
        "mv_gate_rollup_by_failure_reason_code",
        &[
            "failure_reason_code",
            "gate",
            "envelopes",
            "gate_failures",
            "gate_passes",
        ],
        "failure_reason_code, gate",
    ),
    (
        "mv_guard_denials_by_policy_reason_code",
        &[
            "policy_reason_code",
            "scope",
            "target_kind",
            "target_id",
            "action_kind",
            "denials",
            "last_denied_ts",
        ],
        "policy_reason_code, denials DESC, scope, target_kind, target_id, action_kind",
    ),
];

/// Equality filters on a view's columns, and a row limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct QueryFilter {
    /// (column, value) pairs; every pair must hold.
    #[serde(default)]
    pub equals: Vec<(String, String)>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Rows of one query view, in its total order.
#[tracing::instrument(name = "binder.query", skip_all, fields(view = view))]
pub fn query(
    conn: &Connection,
    view: &str,
    filter: &QueryFilter,
) -> Result<Vec<Map<String, Value>>, BinderError> {
    let (name, columns, order) = VIEWS
        .iter()
        .find(|(n, _, _)| *n == view)
        .ok_or_else(|| BinderError::UnknownView(view.to_string()))?;
    let mut sql = format!("SELECT {} FROM {name} WHERE 1 = 1", columns.join(", "));
    let mut args: Vec<&dyn ToSql> = Vec::new();
    for (col, val) in &filter.equals {
        if !columns.contains(&col.as_str()) {
            return Err(BinderError::BadFilter {
                view: name.to_string(),
                filter: col.clone(),
                columns: columns.join(", "),
            });
        }
        args.push(val);
        sql.push_str(&format!(" AND {col} = ?{}", args.len()));
    }
    sql.push_str(&format!(" ORDER BY {order}"));
    let limit = filter.limit.map_or(-1, i64::from);
    sql.push_str(&format!(" LIMIT {limit}"));
    let mut st = conn.prepare(&sql)?;
    let rows = st
        .query_map(args.as_slice(), |r| {
            let mut m = Map::new();
            for (i, c) in columns.iter().enumerate() {
                let v = match r.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => Value::Null,
                    rusqlite::types::ValueRef::Integer(n) => Value::from(n),
                    rusqlite::types::ValueRef::Real(f) => Value::from(f),
                    rusqlite::types::ValueRef::Text(t) => {
                        Value::String(String::from_utf8_lossy(t).into_owned())
                    }
                    rusqlite::types::ValueRef::Blob(b) => Value::String(hex::encode(b)),
                };
                m.insert(c.to_string(), v);
            }
            Ok(m)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Every row of the derived tables (bindings, capsules, conditions) in key order, one JSON
/// array per line. Two snapshots derived the same state iff these texts are equal.
pub fn derived_dump(conn: &Connection) -> Result<String, BinderError> {
    let mut out = String::new();
    // Internal row ids depend on ingest order and are left out.
    for (table, sql) in [
        (
            "binder_bindings",
            "SELECT * FROM binder_bindings ORDER BY run_id, task_id, group_id, binder_version",
        ),
        (
            "binder_capsules",
            "SELECT c.upsert_key, c.condition_key, c.kind, c.scope, c.target_kind, c.target_id, c.action_kind, c.failure_reason_code, c.policy_reason_code, c.fingerprint_hash, c.binder_version, s.support_count, s.inferred_count, s.first_seen_ts, s.last_seen_ts FROM binder_capsules c JOIN binder_capsule_stats s ON s.capsule_id = c.id ORDER BY c.upsert_key",
        ),
        (
            "binder_conditions",
            "SELECT * FROM binder_conditions ORDER BY condition_key",
        ),
    ] {
        let mut st = conn.prepare(sql)?;
        let n = st.column_count();
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let mut v = vec![Value::String(table.into())];
            for i in 0..n {
                v.push(match r.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => Value::Null,
                    rusqlite::types::ValueRef::Integer(n) => Value::from(n),
                    rusqlite::types::ValueRef::Real(f) => Value::from(f),
                    rusqlite::types::ValueRef::Text(t) => {
                        Value::String(String::from_utf8_lossy(t).into_owned())
                    }
                    rusqlite::types::ValueRef::Blob(b) => Value::String(hex::encode(b)),
                });
            }
            out.push_str(&Value::Array(v).to_string());
            out.push('\n');
        }
    }
    Ok(out)
}
