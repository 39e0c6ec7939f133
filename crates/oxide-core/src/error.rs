//! The error every public entry point returns: one variant per room, each with stable codes.

use serde::Serialize;

/// How a failure is classed for exit codes (`2` invalid, `3` refused, `1` internal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum ErrorKind {
    /// The caller's input was wrong; nothing was written.
    Invalid,
    /// A gate said no; nothing was promoted.
    Refused,
    /// Anything else (I/O, database, a bug).
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Canon(#[from] crate::canon::CanonError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    #[error(transparent)]
    Workspace(#[from] crate::workspace::WorkspaceError),
    #[error(transparent)]
    Memory(#[from] crate::memory::MemoryError),
    #[error(transparent)]
    Skill(#[from] crate::skill::SkillError),
    #[error(transparent)]
    Synth(#[from] crate::synth::SynthError),
    #[error(transparent)]
    Proposal(#[from] crate::proposal::ProposalError),
    #[error(transparent)]
    Binder(#[from] crate::binder::BinderError),
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    #[error(transparent)]
    Workflow(#[from] crate::workflow::WorkflowError),
    #[error(transparent)]
    Gitops(#[from] crate::gitops::GitopsError),
    #[error(transparent)]
    Checks(#[from] crate::checks::ChecksError),
    #[error(transparent)]
    Signing(#[from] crate::signing::SigningError),
    #[error(transparent)]
    Approval(#[from] crate::approval::ApprovalError),
    #[error(transparent)]
    Govern(#[from] crate::govern::GovernError),
    #[error(transparent)]
    Rollout(#[from] crate::rollout::RolloutError),
    #[error(transparent)]
    Sync(#[from] crate::sync::SyncError),
}

impl Error {
    /// The stable code that crosses IPC and `--json`; the UI matches on this, never on text.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Canon(e) => e.code(),
            Error::Store(e) => e.code(),
            Error::Audit(e) => e.code(),
            Error::Workspace(e) => e.code(),
            Error::Memory(e) => e.code(),
            Error::Skill(e) => e.code(),
            Error::Synth(e) => e.code(),
            Error::Proposal(e) => e.code(),
            Error::Binder(e) => e.code(),
            Error::Policy(e) => e.code(),
            Error::Workflow(e) => e.code(),
            Error::Gitops(e) => e.code(),
            Error::Checks(e) => e.code(),
            Error::Signing(e) => e.code(),
            Error::Approval(e) => e.code(),
            Error::Govern(e) => e.code(),
            Error::Rollout(e) => e.code(),
            Error::Sync(e) => e.code(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Canon(_) => ErrorKind::Internal,
            Error::Store(e) => e.kind(),
            Error::Audit(e) => e.kind(),
            Error::Workspace(e) => e.kind(),
            Error::Memory(e) => e.kind(),
            Error::Skill(e) => e.kind(),
            Error::Synth(e) => e.kind(),
            Error::Proposal(e) => e.kind(),
            Error::Binder(e) => e.kind(),
            Error::Policy(e) => e.kind(),
            Error::Workflow(e) => e.kind(),
            Error::Gitops(e) => e.kind(),
            Error::Checks(e) => e.kind(),
            Error::Signing(e) => e.kind(),
            Error::Approval(e) => e.kind(),
            Error::Govern(e) => e.kind(),
            Error::Rollout(e) => e.kind(),
            Error::Sync(e) => e.kind(),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Store(e.into())
    }
}

/// `{code, message}`: how an error crosses IPC and `--json`.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ErrorDto {
    pub code: String,
    pub message: String,
}

impl From<&Error> for ErrorDto {
    fn from(e: &Error) -> Self {
        ErrorDto {
            code: e.code().to_string(),
            message: e.to_string(),
        }
    }
}
