//! Binder v1 (seed 001, K0-K3): wrapper envelopes -> bindings -> capsules, eligibility,
//! rollout modes and the query primitives. Owns the `binder_*` tables and `mv_*` views.
//!
//! - [`ingest_file`] / [`ingest::ingest_reader`]: JSON Lines in, quarantine for bad lines.
//! - [`capsules`] / [`matching_capsules`]: capsules with eligibility and reasons.
//! - [`advice`]: what the workspace's rollout mode lets consumers (policy, skill discovery)
//!   see: nothing in shadow, eligible capsules as advice in guided, eligible capsules that
//!   may gate in prescriptive.
//! - [`query`]: the `mv_*` views with a total order; [`quarantine`]; [`capsule_detail`].

pub mod envelope;
pub mod ingest;
mod query;

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, ToSql};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::audit::AuditError;
use crate::store::StoreError;
use crate::workspace::config::{BinderSettings, RolloutMode};

pub use envelope::{Envelope, Signal, ANOMALY_TRIGGERS_VERSION, BINDER_VERSION};
pub use ingest::{IngestOptions, IngestReport};
pub use query::{derived_dump, quarantine, query, QuarantineItem, QueryFilter, VIEWS};

/// Errors of the `binder` room. (Bad envelope lines are not errors: they are quarantined.)
#[derive(Debug, thiserror::Error)]
pub enum BinderError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("cannot open {path}: {why}; give a readable JSON Lines file of envelopes")]
    Open { path: String, why: String },
    #[error("reading {source_name} failed: {why}; batches before the failure are stored, run the same file again to finish (replays are idempotent)")]
    Read { source_name: String, why: String },
    #[error("unknown view `{0}`; the views are mv_recent_failures_by_taskspec, mv_gate_rollup_by_failure_reason_code, mv_guard_denials_by_policy_reason_code")]
    UnknownView(String),
    #[error("filter `{filter}` does not apply to {view}; its columns are {columns}")]
    BadFilter {
        view: String,
        filter: String,
        columns: String,
    },
    #[error("no capsule with upsert key `{0}`; list them with `oxide binder capsules`")]
    UnknownCapsule(String),
}

impl From<rusqlite::Error> for BinderError {
    fn from(e: rusqlite::Error) -> Self {
        BinderError::Store(StoreError::from(e))
    }
}

impl BinderError {
    pub fn code(&self) -> &'static str {
        match self {
            BinderError::Store(e) => e.code(),
            BinderError::Audit(e) => e.code(),
            BinderError::Open { .. } => "BINDER_OPEN",
            BinderError::Read { .. } => "BINDER_READ",
            BinderError::UnknownView(_) => "BINDER_UNKNOWN_VIEW",
            BinderError::BadFilter { .. } => "BINDER_BAD_FILTER",
            BinderError::UnknownCapsule(_) => "BINDER_UNKNOWN_CAPSULE",
        }
    }

    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            BinderError::Store(e) => e.kind(),
            BinderError::Audit(e) => e.kind(),
            BinderError::Read { .. } => crate::ErrorKind::Internal,
            BinderError::Open { .. }
            | BinderError::UnknownView(_)
            | BinderError::BadFilter { .. }
            | BinderError::UnknownCapsule(_) => crate::ErrorKind::Invalid,
        }
    }
}

/// Ingests the JSON Lines file at `path` into the workspace's database, under the
/// workspace's `[binder] fallback_mode`, as `actor`, at the workspace clock's time.
pub fn ingest_file(
    ws: &mut crate::Workspace,
    path: &Path,
    actor: &str,
) -> Result<IngestReport, crate::Error> {
    let settings = ws.settings()?;
    let file = std::fs::File::open(path).map_err(|e| BinderError::Open {
        path: path.display().to_string(),
        why: e.to_string(),
    })?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(BinderError::Open {
            path: path.display().to_string(),
            why: "it is a directory".into(),
        }
        .into());
    }
    let opts = IngestOptions::new(
        &path.display().to_string(),
        actor,
        settings.binder.fallback_mode,
        &ws.clock().now_rfc3339(),
    );
    Ok(ingest::ingest_reader(ws.store_mut(), file, &opts)?)
}

/// Thresholds for prescriptive eligibility, and the instant it is judged at.
#[derive(Debug, Clone, Copy)]
pub struct EligibilityParams {
    pub min_confidence: f64,
    pub min_support: u32,
    pub staleness_days: u32,
    pub now: OffsetDateTime,
}

impl EligibilityParams {
    pub fn from_settings(s: &BinderSettings, now: OffsetDateTime) -> Self {
        EligibilityParams {
            min_confidence: s.min_confidence,
            min_support: s.min_support,
            staleness_days: s.staleness_days,
            now,
        }
    }

    /// The workspace's `[binder]` thresholds, judged now by the workspace's clock: what every
    /// shell asks capsules about (the CLI and the desktop app build no parameters themselves).
    pub fn for_workspace(ws: &crate::Workspace) -> Result<Self, crate::Error> {
        Ok(Self::from_settings(
            &ws.settings()?.binder,
            ws.clock().now(),
        ))
    }
}

/// Why a capsule is not prescriptively eligible.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Reason {
    /// `low_support`, `low_confidence`, `stale`, `policy_conflict` or `inferred_only`.
    pub code: String,
    pub message: String,
}

/// A learned failure (or guard denial) pattern with its evidence counts and eligibility.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Capsule {
    pub upsert_key: String,
    pub condition_key: String,
    /// `failure` or `denial`.
    pub kind: String,
    pub scope: String,
    pub target_kind: String,
    pub target_id: String,
    pub action_kind: String,
    pub failure_reason_code: Option<String>,
    pub policy_reason_code: Option<String>,
    pub fingerprint_hash: String,
    pub binder_version: i64,
    pub support_count: i64,
    /// Passes observed under the same condition (taskspec + fingerprint).
    pub contradiction_count: i64,
    /// Guard denials observed under the same condition.
    pub denial_count: i64,
    /// Supporting envelopes that only an anomaly trigger in lenient mode let through.
    pub inferred_count: i64,
    /// `support / (support + contradictions + 2)`, rounded to 4 decimals.
    pub confidence: f64,
    pub first_seen_ts: String,
    pub last_seen_ts: String,
    /// Whole days from `last_seen_ts` to the judging instant.
    pub age_days: i64,
    pub eligible: bool,
    /// Empty when eligible; otherwise every reason, in a fixed order.
    pub reasons: Vec<Reason>,
}

/// The confidence formula (docs/binder.md): a Laplace-style estimate that needs repeated
/// support and is pulled down by every contradiction.
pub fn confidence(support: i64, contradictions: i64) -> f64 {
    let s = support.max(0) as f64;
    let c = contradictions.max(0) as f64;
    let raw = s / (s + c + 2.0);
    (raw * 10_000.0).round() / 10_000.0
}

/// Eligibility reasons for a capsule's counts, in the documented order.
pub fn judge(c: &Capsule, p: &EligibilityParams) -> Vec<Reason> {
    let mut r = Vec::new();
    let mut add = |code: &str, message: String| {
        r.push(Reason {
            code: code.into(),
            message,
        })
    };
    if c.support_count < i64::from(p.min_support) {
        add(
            "low_support",
            format!(
                "{} supporting envelopes; at least {} are needed",
                c.support_count, p.min_support
            ),
        );
    }
    if c.confidence < p.min_confidence {
        add(
            "low_confidence",
            format!(
                "confidence {:.4} (support {}, contradictions {}) is below {}",
                c.confidence, c.support_count, c.contradiction_count, p.min_confidence
            ),
        );
    }
    if c.age_days > i64::from(p.staleness_days) {
        add(
            "stale",
            format!(
                "last seen {} days ago ({}); the limit is {} days",
                c.age_days, c.last_seen_ts, p.staleness_days
            ),
        );
    }
    if c.kind == "failure" && c.denial_count > 0 {
        add(
            "policy_conflict",
            format!(
                "{} guard/policy denials under the same condition; a prescription would be denied",
                c.denial_count
            ),
        );
    }
    if c.support_count > 0 && c.inferred_count == c.support_count {
        add(
            "inferred_only",
            "all support comes from anomalous envelopes accepted in lenient mode".into(),
        );
    }
    r
}

/// Which capsules to return.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CapsuleFilter {
    #[serde(default)]
    pub eligible_only: bool,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub target_kind: Option<String>,
    #[serde(default)]
    pub target_id: Option<String>,
    #[serde(default)]
    pub action_kind: Option<String>,
    #[serde(default)]
    pub failure_reason_code: Option<String>,
    #[serde(default)]
    pub policy_reason_code: Option<String>,
}

const CAPSULE_SELECT: &str = "SELECT c.upsert_key, c.condition_key, c.kind, c.scope, c.target_kind, c.target_id, c.action_kind, c.failure_reason_code, c.policy_reason_code, c.fingerprint_hash, c.binder_version, s.support_count, s.inferred_count, s.first_seen_ts, s.last_seen_ts, coalesce(d.pass_count, 0), coalesce(d.deny_count, 0) FROM binder_capsules c JOIN binder_capsule_stats s ON s.capsule_id = c.id LEFT JOIN binder_conditions d ON d.condition_key = c.condition_key";

fn row_to_capsule(r: &rusqlite::Row<'_>, p: &EligibilityParams) -> rusqlite::Result<Capsule> {
    let nonempty = |s: String| if s.is_empty() { None } else { Some(s) };
    let support: i64 = r.get(11)?;
    let contradictions: i64 = r.get(15)?;
    let last: String = r.get(14)?;
    let age_days = crate::clock::parse_ts(&last)
        .map(|t| (p.now - t).whole_days().max(0))
        .unwrap_or(0);
    let mut c = Capsule {
        upsert_key: r.get(0)?,
        condition_key: r.get(1)?,
        kind: r.get(2)?,
        scope: r.get(3)?,
        target_kind: r.get(4)?,
        target_id: r.get(5)?,
        action_kind: r.get(6)?,
        failure_reason_code: nonempty(r.get(7)?),
        policy_reason_code: nonempty(r.get(8)?),
        fingerprint_hash: r.get(9)?,
        binder_version: r.get(10)?,
        support_count: support,
        contradiction_count: contradictions,
        denial_count: r.get(16)?,
        inferred_count: r.get(12)?,
        confidence: confidence(support, contradictions),
        first_seen_ts: r.get(13)?,
        last_seen_ts: last,
        age_days,
        eligible: false,
        reasons: Vec::new(),
    };
    c.reasons = judge(&c, p);
    c.eligible = c.reasons.is_empty();
    Ok(c)
}

/// Capsules matching `filter`, judged at `p.now`. Order: confidence, then support (both
/// descending), then upsert key — total and deterministic.
#[tracing::instrument(name = "binder.capsules", skip_all)]
pub fn capsules(
    conn: &Connection,
    filter: &CapsuleFilter,
    p: &EligibilityParams,
) -> Result<Vec<Capsule>, BinderError> {
    let mut sql = format!("{CAPSULE_SELECT} WHERE 1 = 1");
    let mut args: Vec<&dyn ToSql> = Vec::new();
    let cols: [(&str, &Option<String>); 7] = [
        ("c.kind", &filter.kind),
        ("c.scope", &filter.scope),
        ("c.target_kind", &filter.target_kind),
        ("c.target_id", &filter.target_id),
        ("c.action_kind", &filter.action_kind),
        ("c.failure_reason_code", &filter.failure_reason_code),
        ("c.policy_reason_code", &filter.policy_reason_code),
    ];
    for (col, v) in cols.iter() {
        if let Some(v) = v {
            args.push(v);
            sql.push_str(&format!(" AND {col} = ?{}", args.len()));
        }
    }
    let mut st = conn.prepare(&sql)?;
    let mut out = st
        .query_map(args.as_slice(), |r| row_to_capsule(r, p))?
        .collect::<Result<Vec<_>, _>>()?;
    if filter.eligible_only {
        out.retain(|c| c.eligible);
    }
    out.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(b.support_count.cmp(&a.support_count))
            .then(a.upsert_key.cmp(&b.upsert_key))
    });
    Ok(out)
}

/// Every capsule matching a filter, for maintainers, with the workspace's rollout mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CapsuleList {
    pub rollout_mode: RolloutMode,
    pub surfacing: Surfacing,
    pub capsules: Vec<Capsule>,
}

/// Capsules for maintainers (whatever the rollout mode), judged now under the workspace's
/// `[binder]` thresholds.
pub fn capsule_list(
    ws: &crate::Workspace,
    filter: &CapsuleFilter,
) -> Result<CapsuleList, crate::Error> {
    let settings = ws.settings()?.binder;
    let p = EligibilityParams::from_settings(&settings, ws.clock().now());
    Ok(CapsuleList {
        rollout_mode: settings.rollout_mode,
        surfacing: surfacing(settings.rollout_mode),
        capsules: capsules(ws.store().conn(), filter, &p)?,
    })
}

/// What a consumer (policy, synthesis, skill discovery) asks about.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TargetQuery {
    pub scope: String,
    pub target_kind: String,
    pub target_id: String,
    /// Any action when absent.
    #[serde(default)]
    pub action_kind: Option<String>,
}

/// Every capsule (eligible or not, with reasons) for one target.
pub fn matching_capsules(
    conn: &Connection,
    target: &TargetQuery,
    p: &EligibilityParams,
) -> Result<Vec<Capsule>, BinderError> {
    capsules(
        conn,
        &CapsuleFilter {
            scope: Some(target.scope.clone()),
            target_kind: Some(target.target_kind.clone()),
            target_id: Some(target.target_id.clone()),
            action_kind: target.action_kind.clone(),
            ..CapsuleFilter::default()
        },
        p,
    )
}

/// How the rollout mode lets capsules reach consumers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Surfacing {
    /// shadow: capsules are computed and kept, never shown to consumers.
    Hidden,
    /// guided: eligible capsules are shown as suggestions; nothing is applied or gated.
    Advice,
    /// prescriptive: eligible capsules may gate (the policy room decides how).
    Gate,
}

pub fn surfacing(mode: RolloutMode) -> Surfacing {
    match mode {
        RolloutMode::Shadow => Surfacing::Hidden,
        RolloutMode::Guided => Surfacing::Advice,
        RolloutMode::Prescriptive => Surfacing::Gate,
    }
}

/// What consumers may use: the eligible capsules matching `filter`, or none in shadow mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Advice {
    pub rollout_mode: RolloutMode,
    pub surfacing: Surfacing,
    /// True only in prescriptive mode.
    pub may_gate: bool,
    pub capsules: Vec<Capsule>,
}

pub fn advice(
    conn: &Connection,
    filter: &CapsuleFilter,
    settings: &BinderSettings,
    now: OffsetDateTime,
) -> Result<Advice, BinderError> {
    let s = surfacing(settings.rollout_mode);
    let capsules = match s {
        Surfacing::Hidden => Vec::new(),
        Surfacing::Advice | Surfacing::Gate => capsules(
            conn,
            &CapsuleFilter {
                eligible_only: true,
                ..filter.clone()
            },
            &EligibilityParams::from_settings(settings, now),
        )?,
    };
    Ok(Advice {
        rollout_mode: settings.rollout_mode,
        surfacing: s,
        may_gate: s == Surfacing::Gate,
        capsules,
    })
}

/// One point of a capsule's history: envelopes observed that day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TimelinePoint {
    /// `YYYY-MM-DD` (UTC) of `observed_at`.
    pub day: String,
    pub support: i64,
    pub contradictions: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CapsuleDetail {
    pub capsule: Capsule,
    pub timeline: Vec<TimelinePoint>,
}

/// A capsule with its support and contradictions per day, oldest first.
pub fn capsule_detail(
    conn: &Connection,
    upsert_key: &str,
    p: &EligibilityParams,
) -> Result<CapsuleDetail, BinderError> {
    let capsule = conn
        .query_row(
            &format!("{CAPSULE_SELECT} WHERE c.upsert_key = ?1"),
            params![upsert_key],
            |r| row_to_capsule(r, p),
        )
        .optional()?
        .ok_or_else(|| BinderError::UnknownCapsule(upsert_key.to_string()))?;
    let mut st = conn.prepare(
        "SELECT substr(observed_at, 1, 10), signal, failure_reason_code, policy_reason_code, derivation
         FROM binder_bindings
         WHERE scope = ?1 AND target_kind = ?2 AND target_id = ?3 AND action_kind = ?4
           AND fingerprint_hash = ?5 AND binder_version = ?6 AND derivation != 'none'",
    )?;
    let rows = st.query_map(
        params![
            capsule.scope,
            capsule.target_kind,
            capsule.target_id,
            capsule.action_kind,
            capsule.fingerprint_hash,
            capsule.binder_version
        ],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
            ))
        },
    )?;
    let mut days: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
    let want_failure = capsule.failure_reason_code.clone().unwrap_or_default();
    let want_policy = capsule.policy_reason_code.clone().unwrap_or_default();
    for row in rows {
        let (day, signal, failure, policy, derivation) = row?;
        let e = days.entry(day).or_default();
        if derivation == "contradiction" {
            e.1 += 1;
            continue;
        }
        let signal = match signal.as_str() {
            "fail" => Signal::Fail,
            "deny" => Signal::Deny,
            "error" => Signal::Error,
            _ => Signal::Pass,
        };
        let (f, pc) = ingest::capsule_codes(signal, failure.as_deref(), policy.as_deref());
        if f == want_failure.as_str() && pc == want_policy.as_str() {
            e.0 += 1;
        }
    }
    let timeline = days
        .into_iter()
        .filter(|(_, (s, c))| *s > 0 || *c > 0)
        .map(|(day, (support, contradictions))| TimelinePoint {
            day,
            support,
            contradictions,
        })
        .collect();
    Ok(CapsuleDetail { capsule, timeline })
}

/// The JSON Schema of the envelope, as published at `docs/schemas/envelope.schema.json`.
pub fn envelope_schema() -> Value {
    envelope::envelope_schema()
}

#[cfg(test)]
mod tests;
