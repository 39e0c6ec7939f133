//! What a binding keeps of an envelope's gates and environment: both normalized, serialized
//! for storage, and fingerprinted.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::{check_id, reject, Gate, Rejection, FINGERPRINT_VERSION, MAX_ENV, MAX_GATES, MAX_REF};

/// Environment keys that change from run to run without changing the condition; dropped
/// before fingerprinting.
pub const VOLATILE_ENV_KEYS: &[&str] = &[
    "build_id",
    "build_number",
    "ci_job_id",
    "date",
    "host",
    "hostname",
    "pid",
    "run_id",
    "time",
    "timestamp",
    "tmpdir",
];

/// `v1.2.3+build` -> `1.2.3`: trimmed, lower-case, leading `v` and build metadata removed.
pub fn normalize_version(v: &str) -> String {
    // Trim, drop one leading `v`/`V` and any `+build` suffix, lower-case: ASCII
    // lower-casing maps neither `v` nor `+` elsewhere, so one allocation does it.
    let v = v.trim();
    let v = v
        .strip_prefix('v')
        .or_else(|| v.strip_prefix('V'))
        .unwrap_or(v);
    let v = v.split('+').next().unwrap_or(v);
    v.to_ascii_lowercase()
}

/// The environment as fingerprinted and stored: keys trimmed and lower-cased, volatile keys
/// dropped, values as trimmed strings. Nested values are refused.
pub fn normalize_env(env: &BTreeMap<String, Value>) -> Result<BTreeMap<String, String>, Rejection> {
    if env.len() > MAX_ENV {
        return Err(reject(
            "BINDER_ENV_TOO_LARGE",
            format!("`env` has {} keys; the limit is {MAX_ENV}", env.len()),
        ));
    }
    let mut out = BTreeMap::new();
    for (k, v) in env {
        let key = k.trim().to_ascii_lowercase();
        check_id("env key", &key)?;
        if VOLATILE_ENV_KEYS.contains(&key.as_str()) {
            continue;
        }
        let value = match v {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => String::new(),
            Value::Array(_) | Value::Object(_) => {
                return Err(reject(
                    "BINDER_ENV_NOT_FLAT",
                    format!("`env.{k}` is nested; env values must be strings, numbers or booleans"),
                ))
            }
        };
        if value.len() > MAX_REF {
            return Err(reject(
                "BINDER_FIELD_TOO_LONG",
                format!("`env.{k}` is {} bytes; the limit is {MAX_REF}", value.len()),
            ));
        }
        if out.insert(key.clone(), value).is_some() {
            return Err(reject(
                "BINDER_ENV_DUPLICATE_KEY",
                format!("`env` has two keys that normalize to `{key}`"),
            ));
        }
    }
    Ok(out)
}

/// The gate set as fingerprinted: `(name, normalized version)`, sorted, statuses excluded
/// (they are the outcome, not the condition).
pub fn gate_set(gates: &[Gate]) -> Vec<(String, String)> {
    let mut set: Vec<(String, String)> = gates
        .iter()
        .map(|g| (g.name.trim().to_string(), normalize_version(&g.version)))
        .collect();
    set.sort();
    set.dedup();
    set
}

/// `sha256:<hex>` of the RFC 8785 bytes of
/// `{"env": {...normalized}, "fingerprint_version": 1, "gates": [[name, version], ...]}`.
pub fn fingerprint(gates: &[(String, String)], env: &BTreeMap<String, String>) -> String {
    #[derive(Serialize)]
    struct Fp<'a> {
        env: &'a BTreeMap<String, String>,
        fingerprint_version: u32,
        gates: &'a [(String, String)],
    }
    crate::canon::digest(&Fp {
        env,
        fingerprint_version: FINGERPRINT_VERSION,
        gates,
    })
    .expect("strings and integers always canonicalize")
}

/// What a binding keeps of an envelope's gates and environment: validated, normalized,
/// serialized for storage and fingerprinted. A pure function of the two ([`gates_env`]), so
/// a caller may memoize it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatesEnv {
    /// JSON array sorted by name: `[{name, version, status}]`, names trimmed, versions normalized.
    pub gates_json: String,
    /// JSON object of the normalized environment.
    pub env_json: String,
    pub fingerprint_hash: String,
}

/// Validates, normalizes, serializes and fingerprints an envelope's gates and environment.
pub fn gates_env(gates: &[Gate], env: &BTreeMap<String, Value>) -> Result<GatesEnv, Rejection> {
    if gates.len() > MAX_GATES {
        return Err(reject(
            "BINDER_TOO_MANY_GATES",
            format!("{} gates; the limit is {MAX_GATES}", gates.len()),
        ));
    }
    let mut gates = gates.to_vec();
    for g in &mut gates {
        check_id("gates[].name", &g.name)?;
        check_id("gates[].version", &g.version)?;
        g.name = g.name.trim().to_string();
        g.version = normalize_version(&g.version);
    }
    gates.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    if let Some(w) = gates.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(reject(
            "BINDER_DUPLICATE_GATE",
            format!(
                "gate `{}` appears twice; each gate once per envelope",
                w[0].name
            ),
        ));
    }
    let env = normalize_env(env)?;
    Ok(GatesEnv {
        fingerprint_hash: fingerprint(&gate_set(&gates), &env),
        gates_json: serde_json::to_string(&gates).expect("gates serialize"),
        env_json: serde_json::to_string(&env).expect("env serializes"),
    })
}

/// Computes [`gates_env`] (callers may memoize it).
pub type GatesEnvFn<'a> =
    dyn FnMut(&[Gate], &BTreeMap<String, Value>) -> Result<GatesEnv, Rejection> + 'a;
