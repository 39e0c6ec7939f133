//! The CI contract (`.oxide/checks.toml`) and `validate`: each check runs in a temporary
//! worktree of the proposal branch with a cleared environment, a process-group timeout,
//! capped output and streamed progress (inside a bubblewrap sandbox unless the contract says `sandbox = false`); each result becomes a
//! wrapper envelope for the binder, and the proposal moves through `workflow`.
//! See `docs/workflow.md`.

pub mod config;
pub mod harness;
pub mod import;
pub mod recover;
pub mod runner;
pub mod runs;
pub mod validate;

pub use config::{parse, CheckSpec, ChecksConfig};
pub use runner::{run_check, CheckResult, CheckRunStatus, RunOptions, ValidationProgress};
pub use validate::{validate, CheckRow, ProgressPage, ValidateReport};

use crate::store::StoreError;

/// Where the contract lives in the repository.
pub const CHECKS_PATH: &str = ".oxide/checks.toml";

/// Errors of the `checks` room.
#[derive(Debug, thiserror::Error)]
pub enum ChecksError {
    #[error("{path} is not a valid CI contract: {why}")]
    BadConfig { path: String, why: String },
    #[error("{path} defines no [[check]] at {at}; add at least one check and commit it — a proposal is never validated by zero checks")]
    NoChecks { path: String, at: String },
    #[error("{path} has no required check (every [[check]] says `required = false`), so it would validate any change; make at least one check required (drop `required = false` from it) and commit it")]
    NoRequiredCheck { path: String },
    #[error("proposal {proposal} is being validated by process {pid} (run {run}); wait for it to finish")]
    Busy {
        proposal: String,
        pid: i64,
        run: String,
    },
    #[error("checks run sandboxed, but the sandbox cannot start on this machine: {why}. To fix: {fix}. Nothing was run or written")]
    SandboxUnavailable { why: String, fix: String },
    #[error("validation run {run} of proposal {proposal} was taken over (marked abandoned) while it ran; its results were discarded — validate again")]
    RunLost { run: String, proposal: String },
    #[error("{what}: {why}")]
    Io { what: String, why: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for ChecksError {
    fn from(e: rusqlite::Error) -> Self {
        ChecksError::Store(StoreError::from(e))
    }
}

impl ChecksError {
    pub fn code(&self) -> &'static str {
        match self {
            ChecksError::BadConfig { .. } => "CHECKS_BAD_CONFIG",
            ChecksError::NoChecks { .. } => "CHECKS_NONE",
            ChecksError::NoRequiredCheck { .. } => "CHECKS_NONE_REQUIRED",
            ChecksError::Busy { .. } => "CHECKS_BUSY",
            ChecksError::SandboxUnavailable { .. } => "CHECKS_SANDBOX_UNAVAILABLE",
            ChecksError::RunLost { .. } => "CHECKS_RUN_LOST",
            ChecksError::Io { .. } => "CHECKS_IO",
            ChecksError::Store(e) => e.code(),
        }
    }

    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            ChecksError::BadConfig { .. }
            | ChecksError::NoChecks { .. }
            | ChecksError::NoRequiredCheck { .. }
            | ChecksError::Busy { .. } => crate::ErrorKind::Invalid,
            // The sandbox gate: no check is run unsandboxed in its place.
            ChecksError::SandboxUnavailable { .. } => crate::ErrorKind::Refused,
            ChecksError::Io { .. } | ChecksError::RunLost { .. } => crate::ErrorKind::Internal,
            ChecksError::Store(e) => e.kind(),
        }
    }
}
