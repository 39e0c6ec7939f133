//! The two-person rule (REC-002) — PURE: which approvals count toward the policy's
//! requirement, and why the others do not.
//!
//! - Only `valid` approvals count (statuses come from [`super::verify`]).
//! - The proposal's initiator and the skill's submitter never count (nor block).
//! - Counting is per distinct person, never per key: a second valid approval of a person who
//!   already counts (another key of theirs) does not count again.
//! - The requirement is slots: `roles` lists one role per person (`approver` = anyone in the
//!   registry, `lead` and `maintainer` = a person holding that role in the committed
//!   registry), padded with `approver` slots up to `count`. Persons are matched to slots by
//!   a maximum bipartite matching, so a lead fills a lead slot when one is open, and a
//!   person fills one slot only (critical: two distinct leads and a maintainer).
//! - A valid rejection from a person who could fill one of the required slots blocks: the
//!   proposal cannot be approved until it is superseded.

use serde::{Deserialize, Serialize};

use super::registry::Role;
use super::statement::Decision;
use super::verify::ApprovalStatus;

/// One stored approval as the tally sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ballot<'a> {
    pub approval_id: i64,
    /// The key's registered owner (for an invalid envelope: the person it claims).
    pub person: &'a str,
    pub keyid: &'a str,
    pub decision: Decision,
    pub status: ApprovalStatus,
    /// The person's roles in the committed registry.
    pub roles: &'a [Role],
}

/// The policy's requirement: `count` distinct persons, `roles` one per slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Requirement {
    pub count: u32,
    pub roles: Vec<String>,
}

/// An approval that counted, and the slot it filled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Counted {
    pub approval_id: i64,
    pub person: String,
    pub keyid: String,
    /// The required role whose slot this person fills.
    pub slot: String,
}

/// An approval that did not count, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct NotCounted {
    pub approval_id: i64,
    pub person: String,
    pub keyid: String,
    pub decision: Decision,
    pub status: ApprovalStatus,
    pub why: String,
}

/// A valid rejection that blocks the proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Blocking {
    pub approval_id: i64,
    pub person: String,
    pub keyid: String,
}

/// The tally: satisfied when every slot is filled and nothing blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Tally {
    pub required: Requirement,
    /// The slots, in order (roles padded with `approver` up to `count`).
    pub slots: Vec<String>,
    pub counted: Vec<Counted>,
    pub not_counted: Vec<NotCounted>,
    pub blocking: Vec<Blocking>,
    /// The slot roles still open ("lead" here is "needs a lead").
    pub missing: Vec<String>,
    pub satisfied: bool,
}

/// The slots of a requirement.
pub fn slots(req: &Requirement) -> Vec<String> {
    let mut s = req.roles.clone();
    while s.len() < req.count as usize {
        s.push("approver".into());
    }
    s
}

/// Whether a person with `roles` may fill a slot of role `slot`.
pub fn fits(slot: &str, roles: &[Role]) -> bool {
    match slot {
        "approver" => !roles.is_empty(),
        "lead" => roles.contains(&Role::Lead),
        "maintainer" => roles.contains(&Role::Maintainer),
        _ => false,
    }
}

/// Kuhn's augmenting path: tries to give person `p` a slot, moving others when needed.
fn augment(
    p: usize,
    edges: &[Vec<usize>],
    seen: &mut [bool],
    slot_owner: &mut [Option<usize>],
) -> bool {
    for &s in &edges[p] {
        if seen[s] {
            continue;
        }
        seen[s] = true;
        if slot_owner[s].is_none_or(|q| augment(q, edges, seen, slot_owner)) {
            slot_owner[s] = Some(p);
            return true;
        }
    }
    false
}

/// Counts `ballots` against `req`. `initiator` (who created the proposal) and `submitter`
/// (who submitted its skill) never count.
pub fn tally(
    req: &Requirement,
    ballots: &[Ballot<'_>],
    initiator: Option<&str>,
    submitter: Option<&str>,
) -> Tally {
    tally_excluding(req, ballots, initiator, &[], submitter)
}

/// [`tally`], when the proposing device could not resolve one initiator: every person of
/// `could_have_initiated` (who held a key on that device) is kept out like the initiator.
pub fn tally_excluding(
    req: &Requirement,
    ballots: &[Ballot<'_>],
    initiator: Option<&str>,
    could_have_initiated: &[String],
    submitter: Option<&str>,
) -> Tally {
    let slots = slots(req);
    let mut not_counted = Vec::new();
    let mut blocking = Vec::new();
    let skip = |b: &Ballot<'_>, why: String| NotCounted {
        approval_id: b.approval_id,
        person: b.person.to_string(),
        keyid: b.keyid.to_string(),
        decision: b.decision,
        status: b.status,
        why,
    };
    // Persons whose valid rejection stands: their approvals do not count either.
    let rejecting: Vec<&str> = ballots
        .iter()
        .filter(|b| b.status == ApprovalStatus::Valid && b.decision == Decision::Reject)
        .map(|b| b.person)
        .collect();
    // Candidates: one ballot per distinct person (the first valid approval).
    let mut candidates: Vec<&Ballot<'_>> = Vec::new();
    for b in ballots {
        if b.status != ApprovalStatus::Valid {
            not_counted.push(skip(b, format!("the approval is {}", b.status)));
        } else if Some(b.person) == initiator {
            not_counted.push(skip(
                b,
                format!(
                    "{} initiated the proposal and cannot {} it",
                    b.person, b.decision
                ),
            ));
        } else if could_have_initiated.iter().any(|p| p == b.person) {
            not_counted.push(skip(
                b,
                format!(
                    "{} could have initiated the proposal and cannot {} it: no single person was resolved as its initiator on the device it was made on, and {} has a key there",
                    b.person, b.decision, b.person
                ),
            ));
        } else if Some(b.person) == submitter {
            not_counted.push(skip(
                b,
                format!(
                    "{} submitted the proposal's skill and cannot {} it",
                    b.person, b.decision
                ),
            ));
        } else if b.decision == Decision::Reject {
            if slots.iter().any(|s| fits(s, b.roles)) {
                blocking.push(Blocking {
                    approval_id: b.approval_id,
                    person: b.person.to_string(),
                    keyid: b.keyid.to_string(),
                });
                not_counted.push(skip(
                    b,
                    format!(
                        "{} rejected the proposal; a rejection from a required role blocks it",
                        b.person
                    ),
                ));
            } else {
                not_counted.push(skip(
                    b,
                    format!("{} holds none of the required roles {:?}", b.person, slots),
                ));
            }
        } else if rejecting.contains(&b.person) {
            not_counted.push(skip(b, format!("{} also rejected the proposal", b.person)));
        } else if candidates.iter().any(|c| c.person == b.person) {
            not_counted.push(skip(
                b,
                format!(
                    "{} already counts once (one person counts once, whatever the number of keys)",
                    b.person
                ),
            ));
        } else {
            candidates.push(b);
        }
    }
    let edges: Vec<Vec<usize>> = candidates
        .iter()
        .map(|b| {
            (0..slots.len())
                .filter(|&s| fits(&slots[s], b.roles))
                .collect()
        })
        .collect();
    let mut slot_owner: Vec<Option<usize>> = vec![None; slots.len()];
    for p in 0..candidates.len() {
        let mut seen = vec![false; slots.len()];
        augment(p, &edges, &mut seen, &mut slot_owner);
    }
    let mut counted = Vec::new();
    for (p, b) in candidates.iter().enumerate() {
        match slot_owner.iter().position(|o| *o == Some(p)) {
            Some(s) => counted.push(Counted {
                approval_id: b.approval_id,
                person: b.person.to_string(),
                keyid: b.keyid.to_string(),
                slot: slots[s].clone(),
            }),
            None if edges[p].is_empty() => not_counted.push(skip(
                b,
                format!(
                    "{} holds none of the required roles {:?} in the committed registry",
                    b.person, slots
                ),
            )),
            None => not_counted.push(skip(
                b,
                format!("every slot {} could fill is already filled", b.person),
            )),
        }
    }
    counted.sort_by_key(|c| c.approval_id);
    not_counted.sort_by_key(|n| n.approval_id);
    let missing: Vec<String> = slot_owner
        .iter()
        .zip(&slots)
        .filter(|(o, _)| o.is_none())
        .map(|(_, s)| s.clone())
        .collect();
    let satisfied = blocking.is_empty() && missing.is_empty() && !slots.is_empty();
    Tally {
        required: req.clone(),
        slots,
        counted,
        not_counted,
        blocking,
        missing,
        satisfied,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ApprovalStatus as A;
    use Decision as D;

    const APPROVER: &[Role] = &[Role::Approver];
    const LEAD: &[Role] = &[Role::Lead];
    const MAINT: &[Role] = &[Role::Maintainer];

    fn b<'a>(id: i64, person: &'a str, key: &'a str, roles: &'a [Role]) -> Ballot<'a> {
        Ballot {
            approval_id: id,
            person,
            keyid: key,
            decision: D::Approve,
            status: A::Valid,
            roles,
        }
    }

    fn req(count: u32, roles: &[&str]) -> Requirement {
        Requirement {
            count,
            roles: roles.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn one_person_with_two_keys_counts_once() {
        let t = tally(
            &req(2, &["approver", "approver"]),
            &[b(1, "alice", "k1", APPROVER), b(2, "alice", "k2", APPROVER)],
            None,
            None,
        );
        assert!(!t.satisfied);
        assert_eq!(t.counted.len(), 1);
        assert_eq!(t.missing, vec!["approver"]);
        assert!(t.not_counted[0].why.contains("already counts once"));
    }

    #[test]
    fn everyone_who_could_have_initiated_is_kept_out_and_told_why() {
        let ballots = [
            b(1, "ana", "k1", APPROVER),
            b(2, "lee", "k2", LEAD),
            b(3, "bo", "k3", APPROVER),
        ];
        let could = ["ana".to_string(), "lee".to_string()];
        let t = tally_excluding(&req(2, &["approver", "lead"]), &ballots, None, &could, None);
        assert!(!t.satisfied, "{t:?}");
        assert_eq!(t.counted.len(), 1);
        assert_eq!(t.counted[0].person, "bo");
        assert_eq!(t.missing, vec!["lead"]);
        for who in ["ana", "lee"] {
            let n = t.not_counted.iter().find(|n| n.person == who).unwrap();
            assert!(n.why.contains("could have initiated"), "{n:?}");
        }
        // A rejection from someone who could have initiated does not block either.
        let mut r = b(4, "lee", "k4", LEAD);
        r.decision = D::Reject;
        let t = tally_excluding(
            &req(1, &["approver"]),
            &[r, b(5, "bo", "k5", APPROVER)],
            None,
            &could,
            None,
        );
        assert!(t.satisfied && t.blocking.is_empty(), "{t:?}");
    }

    #[test]
    fn initiator_and_submitter_do_not_count() {
        let ballots = [b(1, "ivan", "k1", LEAD), b(2, "sue", "k2", APPROVER)];
        let t = tally(&req(1, &["approver"]), &ballots, Some("ivan"), Some("sue"));
        assert!(!t.satisfied);
        assert!(t.counted.is_empty());
        assert!(t.not_counted[0].why.contains("initiated"));
        assert!(t.not_counted[1].why.contains("submitted"));
    }

    #[test]
    fn high_risk_needs_a_lead_and_matching_puts_the_lead_in_the_lead_slot() {
        let r = req(2, &["lead", "approver"]);
        // Two approvers: the lead slot stays open.
        let t = tally(
            &r,
            &[b(1, "a", "k1", APPROVER), b(2, "b", "k2", APPROVER)],
            None,
            None,
        );
        assert!(!t.satisfied);
        assert_eq!(t.missing, vec!["lead"]);
        // A lead who signed first would fill the approver slot greedily; matching moves them.
        let both: &[Role] = &[Role::Approver, Role::Lead];
        let t = tally(
            &r,
            &[b(1, "l", "k1", both), b(2, "a", "k2", APPROVER)],
            None,
            None,
        );
        assert!(t.satisfied, "{t:#?}");
        let lead = t.counted.iter().find(|c| c.person == "l").unwrap();
        assert_eq!(lead.slot, "lead");
    }

    #[test]
    fn critical_needs_two_distinct_leads_and_a_maintainer() {
        let r = req(3, &["lead", "lead", "maintainer"]);
        let lm: &[Role] = &[Role::Lead, Role::Maintainer];
        let t = tally(
            &r,
            &[b(1, "x", "k1", lm), b(2, "y", "k2", LEAD)],
            None,
            None,
        );
        assert!(!t.satisfied);
        assert_eq!(t.counted.len(), 2);
        assert_eq!(t.missing.len(), 1);
        let t = tally(
            &r,
            &[
                b(1, "x", "k1", lm),
                b(2, "y", "k2", LEAD),
                b(3, "z", "k3", MAINT),
            ],
            None,
            None,
        );
        assert!(t.satisfied, "{t:#?}");
    }

    #[test]
    fn a_valid_reject_from_a_required_role_blocks() {
        let r = req(2, &["lead", "approver"]);
        let mut rej = b(3, "l2", "k3", LEAD);
        rej.decision = D::Reject;
        let t = tally(
            &r,
            &[
                b(1, "l", "k1", LEAD),
                b(2, "a", "k2", APPROVER),
                rej.clone(),
            ],
            None,
            None,
        );
        assert!(!t.satisfied);
        assert_eq!(t.blocking.len(), 1);
        // A stale rejection does not block; nor does one from outside the registry's roles.
        rej.status = A::Stale;
        let t = tally(
            &r,
            &[b(1, "l", "k1", LEAD), b(2, "a", "k2", APPROVER), rej],
            None,
            None,
        );
        assert!(t.satisfied, "{t:#?}");
        let mut outsider = b(4, "o", "k4", &[]);
        outsider.decision = D::Reject;
        let t = tally(
            &req(1, &["lead"]),
            &[b(1, "l", "k1", LEAD), outsider],
            None,
            None,
        );
        assert!(t.satisfied);
    }

    #[test]
    fn statuses_other_than_valid_do_not_count_and_say_why() {
        for s in [A::Stale, A::Expired, A::Revoked, A::Invalid] {
            let mut x = b(1, "a", "k", APPROVER);
            x.status = s;
            let t = tally(&req(1, &["approver"]), &[x], None, None);
            assert!(!t.satisfied);
            assert!(t.not_counted[0].why.contains(s.as_str()));
        }
    }

    #[test]
    fn a_person_without_roles_never_fills_a_slot() {
        let t = tally(&req(1, &["approver"]), &[b(1, "n", "k", &[])], None, None);
        assert!(!t.satisfied);
        assert!(t.not_counted[0].why.contains("none of the required roles"));
    }
}
