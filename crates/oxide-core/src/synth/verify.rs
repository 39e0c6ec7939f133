//! A model answer checked into an intent: JSON, the intent schema, no governance path, and
//! applicable at the base. Each failure is a `Fault` with its `SYNTH_*` reason code.

use serde_json::Value;

use super::ollama::{reason, ChatAnswer, Fault};
use crate::proposal::{self, apply_ops, schema, BaseFiles, Intent};

/// Turns the model's text into a checked intent against the base (pure but for reading the
/// base through `files`).
pub fn evaluate_answer(answer: &ChatAnswer, files: &dyn BaseFiles) -> Result<Intent, Fault> {
    let value: Value = match serde_json::from_str(&answer.content) {
        Ok(v) => v,
        Err(e) => {
            let cut = answer.done_reason.as_deref() == Some("length");
            return Err(Fault::new(
                reason::OUTPUT_NOT_JSON,
                if cut {
                    format!("the model stopped early (done_reason length; raise num_ctx) and its answer is not complete JSON: {e}")
                } else {
                    format!("the model's answer is not JSON: {e}")
                },
            ));
        }
    };
    let problems = schema::check_intent(&value);
    if !problems.is_empty() {
        return Err(Fault::new(
            reason::OUTPUT_SCHEMA,
            summarize(
                "the model's answer does not match the intent schema",
                &problems,
            ),
        ));
    }
    let intent: Intent = serde_json::from_value(value).map_err(|e| {
        Fault::new(
            reason::OUTPUT_SCHEMA,
            format!("the model's answer does not match the intent types: {e}"),
        )
    })?;
    let limits = proposal::apply::check_limits(&intent);
    if !limits.is_empty() {
        return Err(Fault::new(
            reason::OUTPUT_SCHEMA,
            summarize(
                "the model's answer is over the intent's size limits",
                &limits,
            ),
        ));
    }
    let governance: Vec<_> = intent
        .ops
        .iter()
        .enumerate()
        .filter(|(_, op)| op.path().is_some_and(proposal::paths::is_governance))
        .map(|(i, _)| {
            proposal::Problem::new(
                format!("/intent/ops/{i}/path"),
                "PATH_GOVERNANCE",
                "a governance file",
            )
        })
        .collect();
    if !governance.is_empty() {
        return Err(Fault::new(
            reason::GOVERNANCE_PATH,
            summarize(
                "the intent touches governance files, which O.X.I.D.E never proposes",
                &governance,
            ),
        ));
    }
    if let Err(problems) = apply_ops(files, &intent.ops) {
        return Err(Fault::new(
            reason::INTENT_NOT_APPLICABLE,
            summarize("the intent does not apply to the base commit", &problems),
        ));
    }
    Ok(intent)
}

fn summarize(what: &str, problems: &[proposal::Problem]) -> String {
    let mut s = format!("{what}: ");
    for (i, p) in problems.iter().take(3).enumerate() {
        if i > 0 {
            s.push_str("; ");
        }
        s.push_str(&format!("{} {}", p.pointer, p.message));
    }
    if problems.len() > 3 {
        s.push_str(&format!("; and {} more", problems.len() - 3));
    }
    s
}
