//! The `policy` room: risk and policy gates written in Rego (v1), evaluated in-process with
//! regorus under execution limits, fail-closed; every decision recorded with its full input,
//! output and policy digest (`policy_decisions`), replayable by `policy sim`.
//!
//! - [`engine`]: loading `.oxide/policy/`, the policy digest, evaluation.
//! - [`input`]: assembling the input document from the other rooms' values (pure).
//! - [`types`]: the versioned input/output contracts (JSON Schemas in `docs/schemas/`).
//! - [`evaluate`]: a proposal's (or a bare document's) decision in a workspace, with the
//!   denial it leads to through `workflow`.
//! - [`record`]: `policy_decisions` (append-only) and the proposals' latest decisions.
//! - [`snapshot`]: recorded decisions as JSON Lines, out and back in.
//! - [`sim`]: replaying recorded inputs through another policy.
//! - [`test_runner`]: `policy test` (`test_*` rules).
//! - this file: the room's errors, constants and schemas.

pub mod engine;
pub mod evaluate;
pub mod input;
pub mod record;
mod recursion;
pub mod sim;
pub mod snapshot;
pub mod test_runner;
pub mod types;

use serde_json::Value;

use crate::audit;
use crate::canon;
use crate::store::StoreError;

pub use engine::{PolicySet, ENTRYPOINT, EVAL_TIME_LIMIT};
pub use evaluate::*;
pub use record::*;
pub use sim::*;
pub use snapshot::*;
pub use test_runner::*;
pub use types::*;

/// The default policy `oxide init` writes to `.oxide/policy/oxide.rego`.
pub const DEFAULT_POLICY: &str = include_str!("default/oxide.rego");
/// Its tests, `.oxide/policy/oxide_test.rego`.
pub const DEFAULT_POLICY_TESTS: &str = include_str!("default/oxide_test.rego");
/// The policy room's default files for `oxide init` (`crate::setup` gathers them).
pub const DEFAULT_FILES: &[(&str, &str)] = &[
    (".oxide/policy/oxide.rego", DEFAULT_POLICY),
    (".oxide/policy/oxide_test.rego", DEFAULT_POLICY_TESTS),
];
/// Warning code: the deciding policy is not the one committed on the target branch.
pub const POLICY_NOT_COMMITTED: &str = "POLICY_NOT_COMMITTED";
/// The policy folder inside a workspace.
pub const POLICY_DIR: &str = ".oxide/policy";
/// Version tag of each snapshot line.
pub const SNAPSHOT_VERSION: &str = "oxide.policy.snapshot/v1";

/// Errors of the `policy` room. Faults of the policy itself are not errors: they are
/// decisions denied with `POLICY_ERROR`.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("no policy found in {dir}: it must be a folder holding *.rego files; run `oxide init` to write the default policy")]
    NoPolicy { dir: String },
    #[error("cannot read {path}: {why}")]
    Read { path: String, why: String },
    #[error("the policy at {path} is too large ({why}); split or shrink it")]
    TooLarge { path: String, why: String },
    #[error("{path} line {line}: {why}; nothing was evaluated. A snapshot is what `oxide policy snapshot export` writes")]
    BadSnapshot {
        path: String,
        line: usize,
        why: String,
    },
    #[error("{path} is not a JSON input document: {why}")]
    BadInput { path: String, why: String },
    #[error("cannot write {path}: {why}; nothing was written")]
    Write { path: String, why: String },
    #[error("no proposal '{0}'; list them with `oxide proposal list`")]
    UnknownProposal(String),
    #[error("recorded decision {id} is unreadable: {why}")]
    Corrupt { id: i64, why: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
    #[error(transparent)]
    Canon(#[from] canon::CanonError),
}

impl From<rusqlite::Error> for PolicyError {
    fn from(e: rusqlite::Error) -> Self {
        PolicyError::Store(StoreError::from(e))
    }
}

impl PolicyError {
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::NoPolicy { .. } => "POLICY_NOT_FOUND",
            PolicyError::Read { .. } => "POLICY_READ",
            PolicyError::TooLarge { .. } => "POLICY_TOO_LARGE",
            PolicyError::BadSnapshot { .. } => "POLICY_BAD_SNAPSHOT",
            PolicyError::BadInput { .. } => "POLICY_BAD_INPUT",
            PolicyError::Write { .. } => "POLICY_WRITE",
            PolicyError::Corrupt { .. } => "POLICY_CORRUPT_RECORD",
            PolicyError::UnknownProposal(_) => "POLICY_UNKNOWN_PROPOSAL",
            PolicyError::Store(e) => e.code(),
            PolicyError::Audit(e) => e.code(),
            PolicyError::Canon(e) => e.code(),
        }
    }

    pub fn kind(&self) -> crate::ErrorKind {
        use crate::ErrorKind::*;
        match self {
            PolicyError::NoPolicy { .. }
            | PolicyError::Read { .. }
            | PolicyError::TooLarge { .. }
            | PolicyError::BadSnapshot { .. }
            | PolicyError::BadInput { .. }
            | PolicyError::UnknownProposal(_)
            | PolicyError::Write { .. } => Invalid,
            PolicyError::Corrupt { .. } | PolicyError::Canon(_) => Internal,
            PolicyError::Store(e) => e.kind(),
            PolicyError::Audit(e) => e.kind(),
        }
    }
}

/// JSON Schemas of the input and output contracts, as written to `docs/schemas/`.
pub fn schemas() -> Vec<(&'static str, Value)> {
    vec![
        (
            "policy-input.schema.json",
            serde_json::to_value(schemars::schema_for!(PolicyInput)).expect("schema is JSON"),
        ),
        (
            "policy-output.schema.json",
            serde_json::to_value(schemars::schema_for!(PolicyOutput)).expect("schema is JSON"),
        ),
        (
            "policy-decision.schema.json",
            serde_json::to_value(schemars::schema_for!(Decision)).expect("schema is JSON"),
        ),
    ]
}

#[cfg(test)]
mod tests;
