//! Size limits of an intent, checked in code.

use super::super::types::{Intent, Op};
use super::Problem;

/// Most operations in one intent.
pub const MAX_OPS: usize = 200;
/// Longest rationale, in bytes.
pub const MAX_RATIONALE_BYTES: usize = 16 * 1024;
/// Most risk hints, and the longest one in bytes.
pub const MAX_RISK_HINTS: usize = 32;
pub const MAX_RISK_HINT_BYTES: usize = 1024;
/// Most RFC 6902 operations in one `json_patch`.
pub const MAX_PATCH_OPS: usize = 1000;
pub const LIMIT: &str = "LIMIT";

/// Size limits of an intent (pure). These are checked in code, not in the JSON Schema sent
/// to Ollama: large `maxLength`/`maxItems` bounds make its grammar huge.
pub fn check_limits(intent: &Intent) -> Vec<Problem> {
    let mut out = Vec::new();
    if intent.rationale.len() > MAX_RATIONALE_BYTES {
        out.push(Problem::new(
            "/intent/rationale",
            LIMIT,
            format!(
                "the rationale is {} bytes; at most {MAX_RATIONALE_BYTES}",
                intent.rationale.len()
            ),
        ));
    }
    if intent.risk_hints.len() > MAX_RISK_HINTS {
        out.push(Problem::new(
            "/intent/risk_hints",
            LIMIT,
            format!(
                "{} risk hints; at most {MAX_RISK_HINTS}",
                intent.risk_hints.len()
            ),
        ));
    }
    for (i, h) in intent.risk_hints.iter().enumerate() {
        if h.len() > MAX_RISK_HINT_BYTES {
            out.push(Problem::new(
                format!("/intent/risk_hints/{i}"),
                LIMIT,
                format!(
                    "the risk hint is {} bytes; at most {MAX_RISK_HINT_BYTES}",
                    h.len()
                ),
            ));
        }
    }
    if intent.ops.len() > MAX_OPS {
        out.push(Problem::new(
            "/intent/ops",
            LIMIT,
            format!(
                "{} operations; at most {MAX_OPS} in one intent",
                intent.ops.len()
            ),
        ));
    }
    for (i, op) in intent.ops.iter().enumerate() {
        if let Op::JsonPatch { patch, .. } = op {
            if patch.len() > MAX_PATCH_OPS {
                out.push(Problem::new(
                    format!("/intent/ops/{i}/patch"),
                    LIMIT,
                    format!("{} patch operations; at most {MAX_PATCH_OPS}", patch.len()),
                ));
            }
        }
    }
    out
}
