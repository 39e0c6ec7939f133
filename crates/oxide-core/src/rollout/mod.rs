//! The promote stage and what follows it (orchestrator, above `approval`): the gate list
//! a proposal must pass to reach the target branch ([`readiness`]), the promotion itself —
//! every gate re-checked in one critical section, a signed commit, a compare-and-swap ref
//! update — ([`promote`]), and crash recovery from the intent journal, the ref and its
//! trailers ([`reconcile`]). After a promotion the committed `[[canary]]` checks run on it
//! ([`canary`]); a failure rolls it back automatically, and a lead or maintainer can roll
//! back by hand ([`rollback`]: a signed revert commit, its own intent journal); the drill
//! rehearses both on a scratch branch ([`drill`]); `memory_set` ops of a proposal become
//! runtime-memory versions at promotion and are restored at rollback ([`runtime_memory`]).
//! See docs/promotion.md and docs/runbooks/rollback.md.
//!
//! Decisions stay with the rooms: `workflow` (legality, the `promote`/`supersede` guards),
//! `signing` (bundle signature, approvals' verification and tally, SSHSIG), `policy` (the
//! decision under the policy committed now), `checks` (validation), `gitops` (git plumbing).
//! This module gathers their answers, acts, and owns `promotions` and `promotion_intents`.

pub mod canary;
pub mod desk;
pub mod drill;
pub mod promote;
pub mod readiness;
pub mod reconcile;
pub mod rollback;
pub mod runtime_memory;

pub use promote::{promote, Promoted};
pub use readiness::{readiness, CarryOver, Gate, GateStatus, Readiness};
pub use reconcile::{
    promotion, promotions, reconcile, verify_promotion_commit, Promotion, ReconcileReport,
    VerifiedPromotion,
};

pub use canary::{CanaryOutcome, CanaryStatus};
pub use desk::{queue, view, PromoteItem, PromoteQueue, PromotionPage, RolloutView};
pub use drill::{drill, DrillReport};
pub use rollback::{rollback, RolledBack, Trigger};

use crate::workflow::State;
use crate::{Error, ErrorKind, Workspace};

/// Errors of the rollout orchestrator. Every gate refusal is [`ErrorKind::Refused`] (exit 3)
/// and names the rule that said no; nothing was promoted.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    #[error("proposal {id} is {state}; only an approved proposal can be promoted (gate `state`). Nothing was promoted")]
    NotApproved { id: String, state: State },
    #[error("proposal {id} failed its bundle check (gate `bundle`): {why}. Nothing was promoted")]
    BundleInvalid { id: String, why: String },
    #[error("the proposal branch of {id} cannot be trusted (gate `branch`): {why}. Nothing was promoted")]
    BranchMoved { id: String, why: String },
    #[error("proposal {id} has no passed validation of its current branch commit (gate `validation`): {why}. Nothing was promoted")]
    NotValidated { id: String, why: String },
    #[error(
        "the policy in force denies proposal {id} (gate `policy`): {why}. Nothing was promoted"
    )]
    PolicyDenied { id: String, why: String },
    #[error("the policy changed after the decision on proposal {id} (gate `policy`): {why}. Nothing was promoted")]
    PolicyChanged { id: String, why: String },
    #[error("the approvals of proposal {id} do not satisfy the rules (gate `approvals`): {why}. Nothing was promoted")]
    Approvals { id: String, why: String },
    #[error("proposal {id} was superseded (gate `up_to_date`): {why}. Nothing was promoted; propose the change again on the current target")]
    Superseded { id: String, why: String },
    #[error("the target branch moved while proposal {id} was being promoted (gate `up_to_date`): {why}. Nothing was promoted; run `oxide promote {id}` again")]
    TargetMoved { id: String, why: String },
    #[error("{person} cannot promote (gate `promoter`): {why}. Nothing was promoted")]
    NotPromoter { person: String, why: String },
    #[error("the checked-out target branch has local changes in {paths} that the promotion of {id} would overwrite (gate `worktree`); commit or stash them first. Nothing was promoted")]
    WorktreeDirty { id: String, paths: String },
    #[error("proposal {id} is being promoted by process {pid}; wait for it to finish")]
    InProgress { id: String, pid: i64 },
    #[error("no person given and {why}; pass --person ID")]
    NoPerson { why: String },
    #[error("re-validation of proposal {id} on the moved target failed (gate `validation`): {why}. The proposal is superseded; nothing was promoted")]
    RevalidationFailed { id: String, why: String },
    #[error("the promotion journal is inconsistent: {0}")]
    Journal(String),
    // ---- rollback, canary, drill (H2)
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
}

impl RolloutError {
    pub fn code(&self) -> &'static str {
        match self {
            RolloutError::NotApproved { .. } => "ROLLOUT_NOT_APPROVED",
            RolloutError::BundleInvalid { .. } => "ROLLOUT_BUNDLE_INVALID",
            RolloutError::BranchMoved { .. } => "ROLLOUT_BRANCH_MOVED",
            RolloutError::NotValidated { .. } => "ROLLOUT_NOT_VALIDATED",
            RolloutError::PolicyDenied { .. } => "ROLLOUT_POLICY_DENIED",
            RolloutError::PolicyChanged { .. } => "ROLLOUT_POLICY_CHANGED",
            RolloutError::Approvals { .. } => "ROLLOUT_APPROVALS",
            RolloutError::Superseded { .. } => "ROLLOUT_SUPERSEDED",
            RolloutError::TargetMoved { .. } => "ROLLOUT_TARGET_MOVED",
            RolloutError::NotPromoter { .. } => "ROLLOUT_NOT_PROMOTER",
            RolloutError::WorktreeDirty { .. } => "ROLLOUT_WORKTREE_DIRTY",
            RolloutError::InProgress { .. } => "ROLLOUT_IN_PROGRESS",
            RolloutError::NoPerson { .. } => "ROLLOUT_NO_PERSON",
            RolloutError::RevalidationFailed { .. } => "ROLLOUT_REVALIDATION_FAILED",
            RolloutError::Journal(_) => "ROLLOUT_JOURNAL",
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
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            RolloutError::NoPerson { .. }
            | RolloutError::ReasonRequired
            | RolloutError::RollbackBusy { .. } => ErrorKind::Invalid,
            RolloutError::Io { .. } | RolloutError::DrillFailed { .. } => ErrorKind::Internal,
            RolloutError::InProgress { .. } | RolloutError::Journal(_) => ErrorKind::Internal,
            _ => ErrorKind::Refused,
        }
    }
}

/// Who acts when no person is named: the person chosen on this device (the desktop's "who I
/// am", [`crate::signing::whoami`]), else the only person whose key this database knows and
/// this machine's keyring holds (`ROLLOUT_NO_PERSON` otherwise, naming the candidates).
pub fn resolve_person(ws: &Workspace, given: Option<&str>) -> Result<String, Error> {
    if let Some(p) = given {
        return Ok(crate::signing::check_person_id(p.trim())?.to_string());
    }
    if let Some(file) = crate::signing::whoami::default_file() {
        if let Some(p) = crate::signing::whoami::read(&file)? {
            return Ok(p);
        }
    }
    let mut persons: Vec<String> = crate::signing::keys::list(ws.store().conn())?
        .into_iter()
        .filter(|k| k.purpose == crate::signing::KeyPurpose::Person && k.revoked_at.is_none())
        .filter_map(|k| k.person)
        .collect();
    persons.sort();
    persons.dedup();
    let mut held = Vec::new();
    for p in persons {
        match crate::signing::keys::person_key(&p) {
            Ok(_) => held.push(p),
            Err(crate::signing::SigningError::NoKey { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    match held.len() {
        1 => Ok(held.remove(0)),
        0 => Err(RolloutError::NoPerson {
            why: "this machine's keyring holds no person's key known to this workspace".into(),
        }
        .into()),
        _ => Err(RolloutError::NoPerson {
            why: format!(
                "this machine's keyring holds keys of several persons ({})",
                held.join(", ")
            ),
        }
        .into()),
    }
}
