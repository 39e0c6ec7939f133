//! Classification of one line: blank, bound (with its key ids) or rejected with a reason,
//! and the memo of the gates/environment validation that wrappers repeat line after line.

use std::collections::BTreeMap;
use std::hash::Hasher;

use serde_json::Value;

use super::intern::{Fx, Interner, KeyIds};
use super::read::RawLine;
use super::MAX_LINE_BYTES;
use crate::binder::envelope::{self, Binding, Envelope, Gate, GatesEnv, Rejection};
use crate::workspace::config::FallbackMode;

/// What a line is.
pub(super) enum Outcome {
    Blank,
    Bound(Box<Binding>, u64, KeyIds),
    Rejected {
        line: u64,
        rejection: Rejection,
        digest: String,
        excerpt: String,
        byte_len: u64,
    },
}

fn excerpt(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(400)])
        .chars()
        .take(200)
        .collect()
}

/// A memo of [`envelope::gates_env`] keyed by the gates and environment exactly as received:
/// wrappers repeat a few gate sets and environments across thousands of envelopes, so their
/// validation, normalization, serialization and fingerprint are computed once per distinct
/// pair. A hit needs equal inputs (the hash only finds candidates); failures are not kept.
#[derive(Default)]
pub(super) struct GatesEnvMemo {
    map: hashbrown::HashTable<MemoEntry>,
}

/// (hash, gates as received, environment as received, what they give)
type MemoEntry = (u64, Vec<Gate>, BTreeMap<String, Value>, GatesEnv);

impl GatesEnvMemo {
    const LIMIT: usize = 100_000;

    /// `None` for an environment with nested values (never valid, so never memoized).
    fn hash(gates: &[Gate], env: &BTreeMap<String, Value>) -> Option<u64> {
        let mut h = Fx::default();
        for g in gates {
            h.write(g.name.as_bytes());
            h.write_u8(0xff);
            h.write(g.version.as_bytes());
            h.write_u8(0xff);
            h.write_u8(g.status as u8);
        }
        h.write_u8(0xfe);
        for (k, v) in env {
            h.write(k.as_bytes());
            h.write_u8(0xff);
            match v {
                Value::String(s) => {
                    h.write_u8(0);
                    h.write(s.as_bytes());
                    h.write_u8(0xff);
                }
                Value::Number(n) => {
                    h.write_u8(1);
                    h.write_u64(
                        n.as_u64()
                            .or(n.as_i64().map(|i| i as u64))
                            .unwrap_or_else(|| n.as_f64().map_or(0, f64::to_bits)),
                    );
                }
                Value::Bool(b) => h.write_u8(2 + u8::from(*b)),
                Value::Null => h.write_u8(4),
                Value::Array(_) | Value::Object(_) => return None,
            }
        }
        Some(h.finish())
    }

    pub(super) fn get(
        &mut self,
        gates: &[Gate],
        env: &BTreeMap<String, Value>,
    ) -> Result<GatesEnv, Rejection> {
        let Some(h) = Self::hash(gates, env) else {
            return envelope::gates_env(gates, env);
        };
        if let Some((_, _, _, out)) = self.map.find(h, |(eh, g, e, _)| {
            *eh == h && g.as_slice() == gates && e == env
        }) {
            return Ok(out.clone());
        }
        let out = envelope::gates_env(gates, env)?;
        if self.map.len() >= Self::LIMIT {
            self.map.clear();
        }
        self.map
            .insert_unique(h, (h, gates.to_vec(), env.clone(), out.clone()), |e| e.0);
        Ok(out)
    }
}

/// Classifies one raw line.
pub(super) fn classify(
    raw: RawLine<'_>,
    line: u64,
    mode: FallbackMode,
    memo: &mut GatesEnvMemo,
    keys: &mut Interner,
) -> Outcome {
    let rejected = |rejection: Rejection, raw: &RawLine| Outcome::Rejected {
        line,
        rejection,
        digest: crate::canon::sha256_bytes(raw.bytes),
        excerpt: excerpt(raw.bytes),
        byte_len: raw.bytes.len() as u64,
    };
    if let Some((len, digest)) = raw.too_long {
        return Outcome::Rejected {
            line,
            rejection: Rejection {
                code: "BINDER_LINE_TOO_LONG",
                message: format!(
                    "line is {len} bytes; the limit is {} bytes per envelope",
                    MAX_LINE_BYTES
                ),
            },
            digest,
            excerpt: excerpt(raw.bytes),
            byte_len: len,
        };
    }
    let text = match std::str::from_utf8(raw.bytes) {
        Ok(t) => t,
        Err(e) => {
            return rejected(
                Rejection {
                    code: "BINDER_NOT_UTF8",
                    message: format!(
                        "line is not UTF-8 (invalid byte at offset {}); envelopes are UTF-8 JSON",
                        e.valid_up_to()
                    ),
                },
                &raw,
            )
        }
    };
    if text.trim().is_empty() {
        return Outcome::Blank;
    }
    let env: Envelope = match serde_json::from_str(text) {
        Ok(e) => e,
        Err(e) => {
            use serde_json::error::Category;
            let code = match e.classify() {
                Category::Syntax | Category::Eof => "BINDER_MALFORMED_JSON",
                Category::Data | Category::Io => {
                    let m = e.to_string();
                    if m.starts_with("missing field") {
                        "BINDER_MISSING_FIELD"
                    } else if m.starts_with("unknown field") {
                        "BINDER_UNKNOWN_FIELD"
                    } else {
                        "BINDER_SCHEMA_VIOLATION"
                    }
                }
            };
            return rejected(
                Rejection {
                    code,
                    message: format!(
                        "{e}; see docs/schemas/envelope.schema.json for the envelope format"
                    ),
                },
                &raw,
            );
        }
    };
    match envelope::bind(env, mode, &mut |g, e| memo.get(g, e)) {
        Ok(b) => {
            let ids = keys.ids(&b);
            Outcome::Bound(Box::new(b), line, ids)
        }
        Err(r) => rejected(r, &raw),
    }
}

#[cfg(test)]
mod memo_tests {
    use serde_json::json;

    use super::*;

    fn gate(name: &str, version: &str, status: &str) -> Gate {
        serde_json::from_value(json!({"name": name, "version": version, "status": status})).unwrap()
    }

    fn env(v: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    /// The memo answers exactly what `gates_env` answers, for inputs that differ only in a
    /// value's type, a gate's status or order, or in whitespace that normalization removes.
    #[test]
    fn memo_answers_what_gates_env_answers() {
        let inputs = [
            (vec![gate("unit", "v1", "pass")], env(json!({"rust": 1}))),
            (vec![gate("unit", "v1", "pass")], env(json!({"rust": "1"}))),
            (vec![gate("unit", "v1", "fail")], env(json!({"rust": "1"}))),
            (vec![gate("unit", "v1", "pass")], env(json!({"rust": true}))),
            (vec![gate("unit", "v1", "pass")], env(json!({"rust": null}))),
            (vec![gate("unit", "v1", "pass")], env(json!({"rust": 1.5}))),
            (vec![gate("unit", "v1", "pass")], env(json!({"rust": -1}))),
            (
                vec![gate("lint", "2", "pass"), gate("unit", "v1", "pass")],
                env(json!({"os": "linux"})),
            ),
            (
                vec![gate("unit", "v1", "pass"), gate("lint", "2", "pass")],
                env(json!({"os": "linux"})),
            ),
            (
                vec![gate(" unit ", "v1", "pass")],
                env(json!({"OS": " linux "})),
            ),
        ];
        let mut memo = GatesEnvMemo::default();
        for round in 0..2 {
            for (g, e) in &inputs {
                assert_eq!(
                    memo.get(g, e).unwrap(),
                    envelope::gates_env(g, e).unwrap(),
                    "round {round}: {g:?} {e:?}"
                );
            }
        }
    }

    /// Invalid inputs are refused every time (never memoized), and nested environments are
    /// refused without being hashed.
    #[test]
    fn memo_never_keeps_a_refusal() {
        let mut memo = GatesEnvMemo::default();
        let dup = vec![gate("unit", "v1", "pass"), gate("unit", "v2", "pass")];
        for _ in 0..2 {
            let r = memo.get(&dup, &BTreeMap::new()).unwrap_err();
            assert_eq!(r.code, "BINDER_DUPLICATE_GATE");
        }
        let nested = env(json!({"os": {"name": "linux"}}));
        for _ in 0..2 {
            let r = memo.get(&[], &nested).unwrap_err();
            assert_eq!(r.code, "BINDER_ENV_NOT_FLAT");
        }
        assert_eq!(memo.map.len(), 0);
    }
}
