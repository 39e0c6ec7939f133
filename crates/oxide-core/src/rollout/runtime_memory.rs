//! Runtime-memory targets of a proposal: the `memory_set` ops of a promoted bundle
//! become new versions of the behavior/personality entries (history names the proposal), and a
//! rollback writes the version before back — only when nothing changed the entry since.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::RolloutError;
use crate::memory::{self, Change, Namespace};
use crate::proposal::{Bundle, MemoryNamespace, Op};
use crate::Error;

/// The `reason` of the versions a promotion writes (how a rollback finds them).
pub fn promoted_reason(id: &str) -> String {
    format!("promoted proposal {id}")
}

/// The `reason` of the versions a rollback writes.
pub fn rolled_back_reason(id: &str) -> String {
    format!("rolled back proposal {id}")
}

fn namespace(ns: MemoryNamespace) -> Namespace {
    match ns {
        MemoryNamespace::Behavior => Namespace::Behavior,
        MemoryNamespace::Personality => Namespace::Personality,
    }
}

/// One memory entry written by a promotion or a rollback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct MemoryWrite {
    pub namespace: String,
    pub key: String,
    pub version: i64,
    #[cfg_attr(feature = "ts", ts(type = "unknown"))]
    pub value: Option<Value>,
}

impl From<&memory::MemoryEntry> for MemoryWrite {
    fn from(e: &memory::MemoryEntry) -> Self {
        MemoryWrite {
            namespace: e.namespace.as_str().to_string(),
            key: e.key.clone(),
            version: e.version,
            value: e.value.clone(),
        }
    }
}

/// Writes the bundle's `memory_set` ops as new versions naming proposal `id`, in the caller's
/// transaction (the promotion's). `changed_by` is the promoter. A `null` value clears the key.
pub fn apply_promotion(
    tx: &Connection,
    id: &str,
    changed_by: &str,
    ts: &str,
) -> Result<Vec<MemoryWrite>, Error> {
    let bundle: Bundle = crate::workflow::require(tx, id)?.bundle;
    let reason = promoted_reason(id);
    let mut out = Vec::new();
    for op in &bundle.intent.ops {
        if let Op::MemorySet {
            namespace: ns,
            key,
            value,
        } = op
        {
            let e = memory::set(
                tx,
                Change {
                    namespace: namespace(*ns),
                    key,
                    value: (!value.is_null()).then(|| value.clone()),
                    changed_by,
                    proposal_id: Some(id),
                    reason: &reason,
                    expected_version: None,
                },
                ts,
            )?;
            out.push(MemoryWrite::from(&e));
        }
    }
    Ok(out)
}

/// What a rollback of `id` will restore: each entry its promotion wrote, with the value before.
#[derive(Debug, Clone, PartialEq)]
pub struct Restore {
    pub namespace: Namespace,
    pub key: String,
    /// The version the promotion wrote (must still be the current one).
    pub promoted_version: i64,
    pub previous: Option<Value>,
}

/// The restores a rollback of `id` needs, refused (`ROLLOUT_MEMORY_CONFLICT`) when an entry
/// changed after the promotion: restoring would silently discard that later change.
pub fn restore_plan(conn: &Connection, id: &str) -> Result<Vec<Restore>, Error> {
    let reason = promoted_reason(id);
    let mut plan = Vec::new();
    for e in memory::by_proposal(conn, id)?
        .into_iter()
        .filter(|e| e.reason == reason)
    {
        let current = memory::get(conn, e.namespace, &e.key)?.map_or(0, |c| c.version);
        if current != e.version {
            return Err(RolloutError::MemoryConflict {
                namespace: e.namespace.as_str().into(),
                key: e.key,
                promoted: e.version,
                current,
            }
            .into());
        }
        plan.push(Restore {
            namespace: e.namespace,
            key: e.key,
            promoted_version: e.version,
            previous: e.previous_value,
        });
    }
    Ok(plan)
}

/// Writes the restores in the caller's transaction (the rollback's), each as a new version
/// naming the proposal; the version check is repeated inside the transaction.
pub fn restore_in_tx(
    tx: &Connection,
    plan: &[Restore],
    id: &str,
    changed_by: &str,
    ts: &str,
) -> Result<Vec<MemoryWrite>, Error> {
    let reason = rolled_back_reason(id);
    let mut out = Vec::new();
    for r in plan {
        let e = memory::set(
            tx,
            Change {
                namespace: r.namespace,
                key: &r.key,
                value: r.previous.clone(),
                changed_by,
                proposal_id: Some(id),
                reason: &reason,
                expected_version: Some(r.promoted_version),
            },
            ts,
        )
        .map_err(|e| match e {
            memory::MemoryError::Conflict {
                namespace,
                key,
                expected,
                current,
            } => Error::from(RolloutError::MemoryConflict {
                namespace,
                key,
                promoted: expected,
                current,
            }),
            other => other.into(),
        })?;
        out.push(MemoryWrite::from(&e));
    }
    Ok(out)
}
