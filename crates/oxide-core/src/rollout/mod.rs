//! The promote stage and what follows it (orchestrator): canary checks on the promoted commit
//! (`canary.rs`), rollbacks with signed revert commits and their intent journal
//! (`rollback.rs`), the rollback drill (`drill.rs`), runtime-memory targets of a proposal
//! (`runtime_memory.rs`). See docs/runbooks/rollback.md.

pub mod canary;
pub mod drill;
pub mod rollback;
pub mod runtime_memory;

pub use canary::{CanaryOutcome, CanaryStatus};
pub use drill::{drill, DrillReport};
pub use rollback::{rollback, RolledBack, Trigger};

/// Errors of the `rollout` room (codes `ROLLOUT_*`).
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error("proposal {id} has no verifiable promotion: {why}. Nothing was changed")]
    NoPromotion { id: String, why: String },
    #[error("{person} may not roll back: rolling back needs the role lead or maintainer in .oxide/approvers.toml as committed on the target (docs/roles.md), and {person} holds {roles}. Nothing was changed")]
    RollbackRole { person: String, roles: String },
    #[error("{person}'s keyring key {keyid} is not a valid registered key of {person} in .oxide/approvers.toml as committed on the target ({why}); a revert commit signed with it would not verify. Register the key (`oxide approvers add`), commit it, and retry. Nothing was changed")]
    SignerNotRegistered {
        person: String,
        keyid: String,
        why: String,
    },
    #[error("the revert of promotion commit {commit} does not apply cleanly on the target head {head} (conflicting paths: {paths}); later changes touched the same lines. Revert by hand with a reviewed proposal. Nothing was changed")]
    RevertConflict {
        commit: String,
        head: String,
        paths: String,
    },
    #[error("the target {target} moved during the rollback (expected {expected}, found {found}); nothing was rolled back — retry")]
    RollbackRaced {
        target: String,
        expected: String,
        found: String,
    },
    #[error("runtime memory {namespace}/{key} changed after the promotion (it wrote version {promoted}, the current version is {current}); restoring the previous value would discard that change. Nothing was changed")]
    MemoryConflict {
        namespace: String,
        key: String,
        promoted: i64,
        current: i64,
    },
    #[error("a rollback needs a reason: pass --reason TEXT (what went wrong)")]
    ReasonRequired,
    #[error("proposal {id} is being rolled back by process {pid}; wait for it to finish")]
    RollbackBusy { id: String, pid: i64 },
    #[error("{what}: {why}")]
    Io { what: String, why: String },
    #[error("the rollback drill failed at '{step}': {why}. The target branch was not touched")]
    DrillFailed { step: String, why: String },
    #[error("no person given and none can be chosen: {why}; pass --person ID")]
    PersonRequired { why: String },
}

impl RolloutError {
    pub fn code(&self) -> &'static str {
        match self {
            RolloutError::NoPromotion { .. } => "ROLLOUT_NO_PROMOTION",
            RolloutError::RollbackRole { .. } => "ROLLOUT_ROLLBACK_ROLE",
            RolloutError::SignerNotRegistered { .. } => "ROLLOUT_SIGNER_NOT_REGISTERED",
            RolloutError::RevertConflict { .. } => "ROLLOUT_REVERT_CONFLICT",
            RolloutError::RollbackRaced { .. } => "ROLLOUT_ROLLBACK_RACED",
            RolloutError::MemoryConflict { .. } => "ROLLOUT_MEMORY_CONFLICT",
            RolloutError::ReasonRequired => "ROLLOUT_REASON_REQUIRED",
            RolloutError::RollbackBusy { .. } => "ROLLOUT_ROLLBACK_BUSY",
            RolloutError::Io { .. } => "ROLLOUT_IO",
            RolloutError::DrillFailed { .. } => "ROLLOUT_DRILL_FAILED",
            RolloutError::PersonRequired { .. } => "ROLLOUT_PERSON_REQUIRED",
        }
    }

    pub fn kind(&self) -> crate::ErrorKind {
        use crate::ErrorKind::*;
        match self {
            RolloutError::NoPromotion { .. }
            | RolloutError::RollbackRole { .. }
            | RolloutError::SignerNotRegistered { .. }
            | RolloutError::RevertConflict { .. }
            | RolloutError::RollbackRaced { .. }
            | RolloutError::MemoryConflict { .. } => Refused,
            RolloutError::ReasonRequired
            | RolloutError::RollbackBusy { .. }
            | RolloutError::PersonRequired { .. } => Invalid,
            RolloutError::Io { .. } | RolloutError::DrillFailed { .. } => Internal,
        }
    }
}
