//! The wrapper envelope (one JSON object per line), its validation and normalization, the
//! fingerprint, and the anomaly triggers that the fallback modes act on. Pure functions.
//!
//! Layout: `fingerprint` (normalization of gates and environment, and the fingerprint),
//! `anomaly` (the triggers and what each fallback mode does about them); this file holds the
//! envelope's types, the field checks and [`bind`].

mod anomaly;
mod fingerprint;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::workspace::config::FallbackMode;

/// Version of the envelope format this build reads (`envelope_version`, default 1).
pub const ENVELOPE_VERSION: u32 = 1;
/// Version of the binder's derivation rules; part of both keys.
pub const BINDER_VERSION: i64 = 1;
/// Version of the anomaly trigger set (see `docs/binder.md`).
pub const ANOMALY_TRIGGERS_VERSION: &str = "binder-anomaly/1";
/// Version of the fingerprint normalization.
pub const FINGERPRINT_VERSION: u32 = 1;

const MAX_ID: usize = 256;
const MAX_CODE: usize = 128;
const MAX_GATES: usize = 256;
const MAX_REFS: usize = 64;
const MAX_REF: usize = 1024;
const MAX_ENV: usize = 128;

pub use anomaly::{anomalies, mode_str, stricter, Anomaly, AnomalyAction};
pub use fingerprint::{
    fingerprint, gate_set, gates_env, normalize_env, normalize_version, GatesEnv, GatesEnvFn,
    VOLATILE_ENV_KEYS,
};

/// What the wrapper observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Signal {
    /// The task's gates passed.
    Pass,
    /// A gate failed; `taskspec.failure_reason_code` is required.
    Fail,
    /// A guard/policy denied the action; `policy_reason_code` is expected.
    Deny,
    /// The wrapper itself could not decide (infrastructure error).
    Error,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Pass => "pass",
            Signal::Fail => "fail",
            Signal::Deny => "deny",
            Signal::Error => "error",
        }
    }
}

/// A gate's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GateStatus {
    Pass,
    Fail,
    Skip,
    Error,
}

/// The wrapper's declared fallback policy (same spelling as `[binder] fallback_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WrapperPolicy {
    Strict,
    Hybrid,
    Lenient,
}

impl WrapperPolicy {
    pub fn mode(self) -> FallbackMode {
        match self {
            WrapperPolicy::Strict => FallbackMode::Strict,
            WrapperPolicy::Hybrid => FallbackMode::Hybrid,
            WrapperPolicy::Lenient => FallbackMode::Lenient,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub kind: String,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Action {
    pub kind: String,
}

/// What was attempted, on what, and (for failures) why it failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    pub scope: String,
    pub target: Target,
    pub action: Action,
    /// Required when `signal` is `fail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason_code: Option<String>,
}

/// One gate evaluated by the wrapper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    pub name: String,
    pub version: String,
    pub status: GateStatus,
}

/// A wrapper envelope: the outcome of one validation task, as `binder ingest` reads it
/// (one JSON object per line). Unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "OXIDE wrapper envelope v1")]
pub struct Envelope {
    /// Format version; absent means 1. Other values are quarantined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envelope_version: Option<u32>,
    pub event_id: String,
    pub sequence: u64,
    pub run_id: String,
    pub group_id: String,
    pub task_id: String,
    pub signal: Signal,
    pub wrapper_policy: WrapperPolicy,
    pub taskspec: TaskSpec,
    /// Set by guard/policy denials only; never replaces `failure_reason_code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_reason_code: Option<String>,
    /// Deprecated alias of `taskspec.failure_reason_code`; both present and different is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_code: Option<String>,
    #[serde(default)]
    pub gates: Vec<Gate>,
    /// Flat map of environment facts (strings, numbers, booleans).
    #[serde(default)]
    pub env: BTreeMap<String, Value>,
    /// References to the evidence (logs, artifacts); at least one.
    pub evidence_refs: Vec<String>,
    /// RFC 3339 timestamp of the observation.
    pub observed_at: String,
}

/// Why a line was not accepted: a stable code and a message that says what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: &'static str,
    pub message: String,
}

fn reject(code: &'static str, message: impl Into<String>) -> Rejection {
    Rejection {
        code,
        message: message.into(),
    }
}

/// What an accepted envelope contributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derivation {
    /// Supports the capsule of its derived key (`inferred` when only an anomaly let it).
    Support { inferred: bool },
    /// A pass that contradicts the capsules of its condition.
    Contradiction,
    /// Stored as a fact, derives nothing.
    None,
}

impl Derivation {
    pub fn as_str(self) -> &'static str {
        match self {
            Derivation::Support { .. } => "support",
            Derivation::Contradiction => "contradiction",
            Derivation::None => "none",
        }
    }
}

/// A validated, normalized envelope: exactly the values stored as a binding.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub run_id: String,
    pub task_id: String,
    pub group_id: String,
    pub binder_version: i64,
    pub event_id: String,
    pub sequence: i64,
    pub signal: Signal,
    pub wrapper_policy: FallbackMode,
    pub effective_mode: FallbackMode,
    pub scope: String,
    pub target_kind: String,
    pub target_id: String,
    pub action_kind: String,
    pub failure_reason_code: Option<String>,
    pub policy_reason_code: Option<String>,
    pub fingerprint_hash: String,
    pub gates_json: String,
    pub env_json: String,
    pub evidence_json: String,
    pub observed_at: String,
    pub anomalies_json: String,
    pub derivation: Derivation,
}

fn check_id(field: &str, v: &str) -> Result<(), Rejection> {
    if v.trim().is_empty() {
        return Err(reject(
            "BINDER_EMPTY_FIELD",
            format!("`{field}` is empty; give a non-empty value"),
        ));
    }
    if v.len() > MAX_ID {
        return Err(reject(
            "BINDER_FIELD_TOO_LONG",
            format!("`{field}` is {} bytes; the limit is {MAX_ID}", v.len()),
        ));
    }
    // printable ASCII (the usual case) has no control characters; anything else is decoded
    let printable_ascii = v.bytes().all(|c| (0x20..0x7f).contains(&c));
    if !printable_ascii && v.chars().any(char::is_control) {
        return Err(reject(
            "BINDER_CONTROL_CHARACTER",
            format!("`{field}` contains control characters; remove them"),
        ));
    }
    Ok(())
}

fn check_code(field: &str, v: &str) -> Result<(), Rejection> {
    let ok = !v.is_empty()
        && v.len() <= MAX_CODE
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(reject(
            "BINDER_BAD_REASON_CODE",
            format!(
                "`{field}` must be 1-{MAX_CODE} characters of A-Z a-z 0-9 _ . : - (got {:?})",
                truncate(v, 60)
            ),
        ))
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Validates and normalizes one parsed envelope under the workspace's fallback mode.
/// `prep` is [`gates_env`] or a memo of it.
pub fn bind(
    e: Envelope,
    workspace_mode: FallbackMode,
    prep: &mut GatesEnvFn<'_>,
) -> Result<Binding, Rejection> {
    if let Some(v) = e.envelope_version {
        if v != ENVELOPE_VERSION {
            return Err(reject(
                "BINDER_UNSUPPORTED_VERSION",
                format!("envelope_version {v} is not supported; this build reads version {ENVELOPE_VERSION}"),
            ));
        }
    }
    check_id("event_id", &e.event_id)?;
    check_id("run_id", &e.run_id)?;
    check_id("group_id", &e.group_id)?;
    check_id("task_id", &e.task_id)?;
    check_id("taskspec.scope", &e.taskspec.scope)?;
    check_id("taskspec.target.kind", &e.taskspec.target.kind)?;
    check_id("taskspec.target.id", &e.taskspec.target.id)?;
    check_id("taskspec.action.kind", &e.taskspec.action.kind)?;
    let sequence = i64::try_from(e.sequence).map_err(|_| {
        reject(
            "BINDER_BAD_SEQUENCE",
            format!("`sequence` {} is larger than {}", e.sequence, i64::MAX),
        )
    })?;

    // Semantics split (K0): `reason_code` is an alias of `failure_reason_code`.
    let failure_reason_code = match (&e.taskspec.failure_reason_code, &e.reason_code) {
        (Some(a), Some(b)) if a != b => {
            return Err(reject(
                "BINDER_REASON_CODE_CONFLICT",
                format!("`reason_code` ({b}) is an alias of `taskspec.failure_reason_code` ({a}) but differs; send one of them"),
            ))
        }
        (Some(a), _) => Some(a.clone()),
        (None, b) => b.clone(),
    };
    if let Some(c) = &failure_reason_code {
        check_code("failure_reason_code", c)?;
    }
    if let Some(c) = &e.policy_reason_code {
        check_code("policy_reason_code", c)?;
        if e.signal != Signal::Deny {
            return Err(reject(
                "BINDER_POLICY_REASON_WITHOUT_DENY",
                format!(
                    "`policy_reason_code` is set on a `{}` envelope; only guard/policy denials (`deny`) carry it",
                    e.signal.as_str()
                ),
            ));
        }
    }
    if e.signal == Signal::Fail && failure_reason_code.is_none() {
        return Err(reject(
            "BINDER_FAILURE_REASON_REQUIRED",
            "a `fail` envelope needs `taskspec.failure_reason_code` (or its alias `reason_code`)",
        ));
    }
    if e.evidence_refs.is_empty() {
        return Err(reject(
            "BINDER_EVIDENCE_REQUIRED",
            "`evidence_refs` is empty; give at least one reference to the evidence",
        ));
    }
    if e.evidence_refs.len() > MAX_REFS {
        return Err(reject(
            "BINDER_TOO_MANY_EVIDENCE_REFS",
            format!(
                "{} evidence refs; the limit is {MAX_REFS}",
                e.evidence_refs.len()
            ),
        ));
    }
    for r in &e.evidence_refs {
        if r.trim().is_empty() || r.len() > MAX_REF || r.chars().any(char::is_control) {
            return Err(reject(
                "BINDER_BAD_EVIDENCE_REF",
                format!("evidence refs must be 1-{MAX_REF} bytes without control characters"),
            ));
        }
    }
    let found = anomalies(&e);
    let GatesEnv {
        gates_json,
        env_json,
        fingerprint_hash,
    } = prep(&e.gates, &e.env)?;
    let observed = crate::clock::parse_ts(e.observed_at.trim()).ok_or_else(|| {
        reject(
            "BINDER_BAD_TIMESTAMP",
            format!(
                "`observed_at` {:?} is not an RFC 3339 timestamp",
                truncate(&e.observed_at, 60)
            ),
        )
    })?;
    if !(1..=9999).contains(&observed.to_offset(time::UtcOffset::UTC).year()) {
        return Err(reject(
            "BINDER_BAD_TIMESTAMP",
            "`observed_at` must fall in the years 0001-9999 (UTC)",
        ));
    }
    let observed_at = format_observed(observed);

    // Fallback modes and anomaly triggers (K3).
    let effective_mode = stricter(workspace_mode, e.wrapper_policy.mode());
    let worst = found
        .iter()
        .map(|a| (a.action(effective_mode), *a))
        .max_by_key(|(act, _)| *act);
    if let Some((AnomalyAction::Quarantine, a)) = worst {
        return Err(reject(
            a.quarantine_code(),
            format!(
                "anomaly `{}` ({ANOMALY_TRIGGERS_VERSION}) under {} mode; fix the wrapper or ingest with a more lenient fallback_mode",
                a.code(),
                mode_str(effective_mode)
            ),
        ));
    }
    let derivation = match worst.map(|(act, _)| act) {
        Some(AnomalyAction::BindOnly) => Derivation::None,
        anomaly => {
            let inferred = anomaly == Some(AnomalyAction::Derive);
            match e.signal {
                Signal::Pass => Derivation::Contradiction,
                Signal::Fail | Signal::Deny | Signal::Error => Derivation::Support { inferred },
            }
        }
    };

    let anomalies_json = if found.is_empty() {
        "[]".to_string()
    } else {
        serde_json::to_string(&found.iter().map(|a| a.code()).collect::<Vec<_>>())
            .expect("strings serialize")
    };
    Ok(Binding {
        gates_json,
        env_json,
        evidence_json: serde_json::to_string(&e.evidence_refs).expect("refs serialize"),
        run_id: e.run_id,
        task_id: e.task_id,
        group_id: e.group_id,
        binder_version: BINDER_VERSION,
        event_id: e.event_id,
        sequence,
        signal: e.signal,
        wrapper_policy: e.wrapper_policy.mode(),
        effective_mode,
        scope: e.taskspec.scope,
        target_kind: e.taskspec.target.kind,
        target_id: e.taskspec.target.id,
        action_kind: e.taskspec.action.kind,
        failure_reason_code,
        policy_reason_code: e.policy_reason_code,
        fingerprint_hash,
        observed_at,
        anomalies_json,
        derivation,
    })
}

/// Fixed-width UTC text (`2026-02-01T10:00:00.000Z`), so text order is time order.
pub fn format_observed(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    if !(0..=9999).contains(&t.year()) {
        return format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        );
    }
    // The common case without the formatting machinery (one of the parser's hot spots).
    let mut b = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut n: u32| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, t.year() as u32);
    put(5, 2, u32::from(u8::from(t.month())));
    put(8, 2, u32::from(t.day()));
    put(11, 2, u32::from(t.hour()));
    put(14, 2, u32::from(t.minute()));
    put(17, 2, u32::from(t.second()));
    put(20, 3, u32::from(t.millisecond()));
    String::from_utf8(b.to_vec()).expect("ASCII digits")
}

/// The JSON Schema (2020-12) of [`Envelope`], as published in `docs/schemas/`.
pub fn envelope_schema() -> Value {
    let schema = schemars::schema_for!(Envelope);
    let mut v = serde_json::to_value(&schema).expect("schema serializes");
    if let Some(obj) = v.as_object_mut() {
        obj.insert(
            "$id".into(),
            Value::String("https://oxide-review.invalid/schemas/envelope/v1.json".into()),
        );
        obj.insert(
            "description".into(),
            Value::String(format!(
                "Wrapper envelope, envelope_version {ENVELOPE_VERSION} (binder_version {BINDER_VERSION}). One JSON object per line of a `binder ingest` file. Semantic rules beyond this schema (reason-code alias, anomaly triggers) are in docs/binder.md."
            )),
        );
    }
    v
}
