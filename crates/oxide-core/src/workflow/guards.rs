//! One guarded public function per transition (all but `admit`, which creates the row), with
//! the evidence each guard judges. Each goes through `run`: legality from `TABLE`, the
//! guard's verdict, the record and audit event, and the state change when it passed.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{reason, run, GuardRecord, Verdict, WorkflowError, T};
use crate::clock::Stamp;

/// One check's outcome as the validation guards see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckOutcome {
    pub name: String,
    pub required: bool,
    pub passed: bool,
    pub failure_reason_code: Option<String>,
}

/// What validation produced: the run and every check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationEvidence {
    pub run_id: String,
    pub branch_commit: String,
    pub checks: Vec<CheckOutcome>,
}

impl ValidationEvidence {
    fn first_required_failure(&self) -> Option<&CheckOutcome> {
        self.checks.iter().find(|c| c.required && !c.passed)
    }
}

/// `proposed → validated`. Guard: every required check passed.
pub fn pass_validation(
    conn: &Connection,
    id: &str,
    ev: &ValidationEvidence,
    stamp: &Stamp<'_>,
) -> Result<GuardRecord, WorkflowError> {
    run(
        conn,
        id,
        T::PassValidation,
        json!(ev),
        None,
        |_| match ev.first_required_failure() {
            None => Verdict::pass(),
            Some(c) => Verdict::Deny {
                failure_reason_code: c.failure_reason_code.clone(),
                policy_reason_code: None,
                why: format!("required check '{}' did not pass", c.name),
            },
        },
        stamp,
    )
}

/// `proposed → failed_validation`. Guard: some required check failed; the proposal takes the
/// first failing check's `failure_reason_code`.
pub fn fail_validation(
    conn: &Connection,
    id: &str,
    ev: &ValidationEvidence,
    stamp: &Stamp<'_>,
) -> Result<GuardRecord, WorkflowError> {
    run(
        conn,
        id,
        T::FailValidation,
        json!(ev),
        None,
        |_| match ev.first_required_failure() {
            Some(c) => Verdict::Pass {
                failure_reason_code: Some(
                    c.failure_reason_code
                        .clone()
                        .unwrap_or_else(|| reason::CHECK_FAILED.into()),
                ),
                policy_reason_code: None,
            },
            None => Verdict::Deny {
                failure_reason_code: None,
                policy_reason_code: None,
                why: "every required check passed".into(),
            },
        },
        stamp,
    )
}

/// `proposed → quarantined`: the bundle turned out malformed (e.g. its base commit is not in
/// the repository). Guard: a reason code is given.
pub fn quarantine(
    conn: &Connection,
    id: &str,
    failure_reason_code: &str,
    message: &str,
    stamp: &Stamp<'_>,
) -> Result<GuardRecord, WorkflowError> {
    run(
        conn,
        id,
        T::Quarantine,
        json!({"failure_reason_code": failure_reason_code, "message": message}),
        None,
        |_| reason_given(failure_reason_code, true),
        stamp,
    )
}

fn reason_given(code: &str, failure: bool) -> Verdict {
    if code.trim().is_empty() {
        Verdict::Deny {
            failure_reason_code: None,
            policy_reason_code: None,
            why: "no reason code given".into(),
        }
    } else if failure {
        Verdict::Pass {
            failure_reason_code: Some(code.into()),
            policy_reason_code: None,
        }
    } else {
        Verdict::Pass {
            failure_reason_code: None,
            policy_reason_code: Some(code.into()),
        }
    }
}

/// Why a proposal is superseded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupersedeEvidence {
    /// `TARGET_MOVED` (the target branch moved and the intent no longer applies to its head)
    /// or `RESYNTHESIZED` (a newer bundle replaces it).
    pub failure_reason_code: String,
    pub target_head: Option<String>,
    pub superseded_by: Option<String>,
    pub problems: Vec<String>,
}

/// `proposed | validated | approved | failed_validation → superseded`. Guard: the target moved
/// and the intent no longer applies (at least one problem), or a successor is named.
pub fn supersede(
    conn: &Connection,
    id: &str,
    ev: &SupersedeEvidence,
    stamp: &Stamp<'_>,
) -> Result<GuardRecord, WorkflowError> {
    run(
        conn,
        id,
        T::Supersede,
        json!(ev),
        ev.superseded_by.as_deref(),
        |_| {
            if ev.superseded_by.is_some() || !ev.problems.is_empty() {
                reason_given(&ev.failure_reason_code, true)
            } else {
                Verdict::Deny {
                    failure_reason_code: None,
                    policy_reason_code: None,
                    why: "the intent still applies and no successor is named".into(),
                }
            }
        },
        stamp,
    )
}

/// What the approval gate established (computed by the approval orchestrator from the
/// signing room's verification and two-person tally). The guard record carries all of it:
/// the approvals that counted (and the slot each filled) and why the others did not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ApprovalEvidence {
    pub required_count: u32,
    pub required_roles: Vec<String>,
    /// Persons with a valid approval over this bundle digest.
    pub valid_approvers: Vec<String>,
    /// Roles those valid approvals cover.
    pub roles_covered: Vec<String>,
    /// The approvals that counted, one per distinct person, each in one required slot.
    #[serde(default)]
    pub counted: Vec<crate::signing::tally::Counted>,
    /// The approvals that did not count, and why.
    #[serde(default)]
    pub not_counted: Vec<crate::signing::tally::NotCounted>,
    /// Valid rejections from a required role: they block.
    #[serde(default)]
    pub blocking: Vec<crate::signing::tally::Blocking>,
    /// Who created the proposal and who submitted its skill: they never count.
    #[serde(default)]
    pub initiator: Option<String>,
    #[serde(default)]
    pub submitter: Option<String>,
    /// When no single initiator was resolved on the proposing device: every person who could
    /// have proposed (docs/roles.md). They never count either.
    #[serde(default)]
    pub could_have_initiated: Vec<String>,
}

impl ApprovalEvidence {
    /// What is wrong with the tally itself (empty: it holds): a blocking rejection, a person
    /// counted twice, the initiator or submitter counted, a required slot without its person.
    fn tally_problem(&self) -> Option<(&'static str, String)> {
        if let Some(b) = self.blocking.first() {
            return Some((
                reason::APPROVAL_BLOCKED,
                format!(
                    "{} rejected the proposal (approval {})",
                    b.person, b.approval_id
                ),
            ));
        }
        let mut persons: Vec<&str> = self.counted.iter().map(|c| c.person.as_str()).collect();
        persons.sort_unstable();
        if let Some(w) = persons.windows(2).find(|w| w[0] == w[1]) {
            return Some((
                reason::APPROVAL_SAME_PERSON,
                format!("{} is counted more than once", w[0]),
            ));
        }
        for excluded in [&self.initiator, &self.submitter].into_iter().flatten() {
            if persons.contains(&excluded.as_str()) {
                return Some((
                    reason::APPROVAL_CONFLICT_OF_INTEREST,
                    format!("{excluded} created the proposal or its skill and cannot approve it"),
                ));
            }
        }
        if let Some(p) = self
            .could_have_initiated
            .iter()
            .find(|p| persons.contains(&p.as_str()))
        {
            return Some((
                reason::APPROVAL_CONFLICT_OF_INTEREST,
                format!("{p} could have created the proposal (no single initiator was resolved on its device) and cannot approve it"),
            ));
        }
        if self.counted.is_empty() {
            return None;
        }
        let mut open: Vec<&str> = self.required_roles.iter().map(String::as_str).collect();
        while open.len() < self.required_count as usize {
            open.push("approver");
        }
        for c in &self.counted {
            if let Some(i) = open.iter().position(|r| *r == c.slot) {
                open.swap_remove(i);
            }
        }
        if !open.is_empty() {
            return Some((
                reason::APPROVAL_ROLE_MISSING,
                format!("no counted approval fills the required slot(s) {open:?}"),
            ));
        }
        None
    }
}

/// `validated → approved`. Guard: enough valid approvals from distinct persons (never the
/// initiator or the skill's submitter), every required role slot filled, no blocking rejection.
pub fn approve(
    conn: &Connection,
    id: &str,
    ev: &ApprovalEvidence,
    stamp: &Stamp<'_>,
) -> Result<GuardRecord, WorkflowError> {
    run(
        conn,
        id,
        T::Approve,
        json!(ev),
        None,
        |_| {
            let missing: Vec<_> = ev
                .required_roles
                .iter()
                .filter(|r| !ev.roles_covered.contains(r))
                .collect();
            if let Some((code, why)) = ev.tally_problem().filter(|(c, _)| {
                *c == reason::APPROVAL_BLOCKED
                    || *c == reason::APPROVAL_SAME_PERSON
                    || *c == reason::APPROVAL_CONFLICT_OF_INTEREST
            }) {
                Verdict::deny_policy(code, why)
            } else if (ev.valid_approvers.len() as u32) < ev.required_count {
                Verdict::deny_policy(
                    reason::APPROVALS_INSUFFICIENT,
                    format!(
                        "{} valid approval(s), {} required",
                        ev.valid_approvers.len(),
                        ev.required_count
                    ),
                )
            } else if !missing.is_empty() {
                Verdict::deny_policy(
                    reason::APPROVAL_ROLE_MISSING,
                    format!("no valid approval from role(s) {missing:?}"),
                )
            } else if let Some((code, why)) = ev.tally_problem() {
                Verdict::deny_policy(code, why)
            } else {
                Verdict::pass()
            }
        },
        stamp,
    )
}

/// `validated | approved → denied`: a policy said no. Guard: a `policy_reason_code` is given
/// (it never overwrites the proposal's `failure_reason_code`).
pub fn deny(
    conn: &Connection,
    id: &str,
    policy_reason_code: &str,
    message: &str,
    stamp: &Stamp<'_>,
) -> Result<GuardRecord, WorkflowError> {
    run(
        conn,
        id,
        T::Deny,
        json!({"policy_reason_code": policy_reason_code, "message": message}),
        None,
        |_| reason_given(policy_reason_code, false),
        stamp,
    )
}

/// `validated | approved → rejected`: a person said no. Guard: the person and a reason given.
pub fn reject(
    conn: &Connection,
    id: &str,
    person: &str,
    reason: &str,
    stamp: &Stamp<'_>,
) -> Result<GuardRecord, WorkflowError> {
    run(
        conn,
        id,
        T::Reject,
        json!({"person": person, "reason": reason}),
        None,
        |_| {
            if person.trim().is_empty() || reason.trim().is_empty() {
                Verdict::Deny {
                    failure_reason_code: None,
                    policy_reason_code: None,
                    why: "a rejection needs the person and a reason".into(),
                }
            } else {
                Verdict::Pass {
                    failure_reason_code: Some(reason::REJECTED.into()),
                    policy_reason_code: None,
                }
            }
        },
        stamp,
    )
}

/// What the promotion gates established (computed by the rollout/policy/signing rooms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotionEvidence {
    pub commit: String,
    /// Gate name → passed.
    pub gates: Vec<(String, bool)>,
}

/// `approved → promoted`. Guard: a commit and every gate passed.
pub fn promote(
    conn: &Connection,
    id: &str,
    ev: &PromotionEvidence,
    stamp: &Stamp<'_>,
) -> Result<GuardRecord, WorkflowError> {
    run(
        conn,
        id,
        T::Promote,
        json!(ev),
        None,
        |_| match ev.gates.iter().find(|(_, ok)| !ok) {
            Some((g, _)) => Verdict::deny_policy(
                reason::PROMOTION_GATE_FAILED,
                format!("gate '{g}' did not pass"),
            ),
            None if ev.commit.is_empty() => {
                Verdict::deny_policy(reason::PROMOTION_NO_COMMIT, "no promotion commit")
            }
            None => Verdict::pass(),
        },
        stamp,
    )
}

/// `promoted → rolled_back`. Guard: a reason code and the revert commit are given.
pub fn roll_back(
    conn: &Connection,
    id: &str,
    failure_reason_code: &str,
    revert_commit: &str,
    stamp: &Stamp<'_>,
) -> Result<GuardRecord, WorkflowError> {
    run(
        conn,
        id,
        T::RollBack,
        json!({"failure_reason_code": failure_reason_code, "revert_commit": revert_commit}),
        None,
        |_| {
            if revert_commit.is_empty() {
                Verdict::Deny {
                    failure_reason_code: None,
                    policy_reason_code: None,
                    why: "no revert commit".into(),
                }
            } else {
                reason_given(failure_reason_code, true)
            }
        },
        stamp,
    )
}
