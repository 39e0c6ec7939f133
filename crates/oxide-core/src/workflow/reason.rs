//! The reason codes the workflow's guards record (`failure_reason_code` /
//! `policy_reason_code` of a proposal and of its guard records). Rooms that hand a reason to a
//! transition name it from here; no decision code spells one as a literal.

/// A required check failed without a code of its own (`fail_validation`'s default).
pub const CHECK_FAILED: &str = "CHECK_FAILED";
/// Quarantine: the bundle's base commit is not in the repository.
pub const BASE_MISSING: &str = crate::proposal::apply::codes::BASE_MISSING;
/// Quarantine: the intent does not apply at its own base commit.
pub const INTENT_DOES_NOT_APPLY: &str = "INTENT_DOES_NOT_APPLY";
/// Quarantine: the proposal branch does not point at the commit its bundle makes (rewritten
/// before or during validation).
pub const BRANCH_FORGED: &str = "BRANCH_FORGED";
/// Quarantine: the bundle's instance-key signature or digest does not verify (REC-001): the
/// stored bundle, its digest, its signature or the key pointer was changed after admission.
pub const SIGNING_BUNDLE_INVALID: &str = "SIGNING_BUNDLE_INVALID";
/// Supersede: the target branch moved and the intent no longer applies to its head.
pub const TARGET_MOVED: &str = "TARGET_MOVED";
/// Supersede: a newer bundle for the same skill replaces the proposal.
pub const RESYNTHESIZED: &str = "RESYNTHESIZED";
/// Reject: a person said no.
pub const REJECTED: &str = "REJECTED";
/// Approve denied: fewer valid approvals than required.
pub const APPROVALS_INSUFFICIENT: &str = "APPROVALS_INSUFFICIENT";
/// Approve denied: a required role has no valid approval.
pub const APPROVAL_ROLE_MISSING: &str = "APPROVAL_ROLE_MISSING";
/// Approve denied: a valid rejection from a required role blocks the proposal.
pub const APPROVAL_BLOCKED: &str = "APPROVAL_BLOCKED";
/// Approve denied: one person is counted more than once (two keys are still one person).
pub const APPROVAL_SAME_PERSON: &str = "APPROVAL_SAME_PERSON";
/// Approve denied: the initiator or the skill's submitter is counted.
pub const APPROVAL_CONFLICT_OF_INTEREST: &str = "APPROVAL_CONFLICT_OF_INTEREST";
/// Promote denied: a promotion gate did not pass.
pub const PROMOTION_GATE_FAILED: &str = "PROMOTION_GATE_FAILED";
/// Promote denied: no promotion commit.
pub const PROMOTION_NO_COMMIT: &str = "PROMOTION_NO_COMMIT";
/// Supersede: the proposal was promoted on another clone (the remote's target branch carries
/// its promotion commit) in a way this clone cannot record as its own promotion (see
/// docs/sync.md).
pub const PROMOTED_ELSEWHERE: &str = "PROMOTED_ELSEWHERE";
