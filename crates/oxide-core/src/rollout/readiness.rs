//! The promotion gates, in the order `promote` applies them, each with its verdict now: the
//! list the desktop shows next to the Promote button and the one `promote` refuses on.
//!
//! 1. `state` — the proposal is `approved`.
//! 2. `bundle` — its bundle's digest and instance-key signature hold (REC-001).
//! 3. `branch` — the proposal branch points at the commit the bundle makes, the one recorded.
//! 4. `validation` — the latest validation passed, on exactly that commit.
//! 5. `policy` — the decision under the policy committed on the target now denies nothing,
//!    and that policy is the one the approvals were given under (same digest).
//! 6. `approvals` — verified, non-stale approvals of distinct persons fill every required
//!    slot (never the initiator's or the skill submitter's), and no required role rejected.
//! 7. `up_to_date` — the target head is the proposal's base ("strict up-to-date"), or it
//!    moved and [`CarryOver`] says the approvals can be carried over a trivial rebase (then
//!    `promote` re-validates on the new head first).
//! 8. `promoter` — the person holds `lead` or `maintainer` in the committed registry, and
//!    their keyring key is registered to them and valid.
//! 9. `worktree` — a checked-out target has no local changes in the paths the promotion
//!    writes.

use std::collections::BTreeSet;

use git2::{Oid, Repository};
use serde::{Deserialize, Serialize};

use crate::approval;
use crate::gitops::{self, promote as gp, BotIdentity};
use crate::signing::registry::{Registry, Role, Standing};
use crate::signing::{dsse, statement::Statement};
use crate::workflow::{self, ProposalRow, State};
use crate::{canon, Error, Workspace};

/// A promotion gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Gate {
    State,
    Bundle,
    Branch,
    Validation,
    Policy,
    Approvals,
    UpToDate,
    Promoter,
    Worktree,
}

impl Gate {
    pub const ALL: [Gate; 9] = [
        Gate::State,
        Gate::Bundle,
        Gate::Branch,
        Gate::Validation,
        Gate::Policy,
        Gate::Approvals,
        Gate::UpToDate,
        Gate::Promoter,
        Gate::Worktree,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Gate::State => "state",
            Gate::Bundle => "bundle",
            Gate::Branch => "branch",
            Gate::Validation => "validation",
            Gate::Policy => "policy",
            Gate::Approvals => "approvals",
            Gate::UpToDate => "up_to_date",
            Gate::Promoter => "promoter",
            Gate::Worktree => "worktree",
        }
    }
}

/// One gate's verdict now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct GateStatus {
    pub gate: Gate,
    pub ok: bool,
    /// The `ROLLOUT_*` code `promote` refuses with when this gate fails (`null` when ok).
    pub code: Option<String>,
    /// What holds, or exactly what is missing (which approval, which check, which rule).
    pub message: String,
}

/// The target moved: can the proposal be carried over (trivial rebase) or is it superseded?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CarryOver {
    pub head: String,
    /// The intent applies to the new head.
    pub applies: bool,
    /// The proposal's own diff is byte-identical there.
    pub trivial: bool,
    /// `[rollout] trivial_rebase_keeps_approvals` in the committed settings.
    pub allowed: bool,
    /// Paths whose change differs on the new head (not trivial), or the intent's problems.
    pub differences: Vec<String>,
}

impl CarryOver {
    /// Promote would re-validate on the new head and keep the approvals.
    pub fn possible(&self) -> bool {
        self.applies && self.trivial && self.allowed
    }
}

/// `readiness ID`: every gate's verdict for promoting proposal `id` as `person`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Readiness {
    pub id: String,
    pub state: State,
    pub person: Option<String>,
    /// Every gate ok (with a possible carry-over, `promote` still re-validates first and may
    /// then supersede).
    pub ready: bool,
    pub gates: Vec<GateStatus>,
    pub target_branch: String,
    pub target_head: Option<String>,
    pub base_commit: String,
    pub branch_commit: Option<String>,
    /// Present when the target moved past the base.
    pub carry_over: Option<CarryOver>,
    /// Key ids of the approvals that count now.
    pub approvals: Vec<String>,
}

/// Everything `promote` needs beyond the verdicts.
pub(crate) struct Assessment {
    pub readiness: Readiness,
    pub row: ProposalRow,
    pub repo: Repository,
    pub target_ref: String,
    pub head: Option<Oid>,
    /// The tree the promotion commit will carry (the branch's, or the rebased one).
    pub tree: Option<Oid>,
    pub rebase: Option<gp::Rebase>,
    /// (approval row id, keyid) of the counted approvals.
    pub counted: Vec<(i64, String)>,
    /// A digest of every approval row as read (id, keyid, envelope): re-checked under the lock.
    pub approvals_digest: String,
    pub promoter: Option<Promoter>,
}

/// The promoter's identity and key id (the key stays in the keyring until signing).
#[derive(Debug, Clone)]
pub(crate) struct Promoter {
    pub person: String,
    pub name: String,
    pub keyid: String,
}

impl Assessment {
    pub fn failing(&self) -> Vec<&GateStatus> {
        self.readiness.gates.iter().filter(|g| !g.ok).collect()
    }
}

fn ok(gate: Gate, message: impl Into<String>) -> GateStatus {
    GateStatus {
        gate,
        ok: true,
        code: None,
        message: message.into(),
    }
}

fn no(gate: Gate, code: &str, message: impl Into<String>) -> GateStatus {
    GateStatus {
        gate,
        ok: false,
        code: Some(code.to_string()),
        message: message.into(),
    }
}

fn git_err(e: git2::Error) -> Error {
    gitops::GitopsError::from(e).into()
}

/// `readiness(ws, id, person)`: the gates now (nothing is written).
#[tracing::instrument(name = "rollout.readiness", skip_all, fields(proposal = id))]
pub fn readiness(ws: &Workspace, id: &str, person: Option<&str>) -> Result<Readiness, Error> {
    Ok(assess(ws, id, person)?.readiness)
}

/// The policy digests the stored approve-decisions were given under.
fn approved_under(rows: &[crate::signing::approvals::StoredApproval]) -> BTreeSet<String> {
    rows.iter()
        .filter(|r| r.decision == crate::signing::statement::Decision::Approve)
        .filter_map(|r| dsse::open(r.envelope.as_bytes()).ok())
        .filter_map(|o| serde_json::from_slice::<Statement>(&o.payload).ok())
        .map(|s| s.predicate.policy_digest)
        .collect()
}

/// Every gate is judged on one snapshot of the target branch: the governance is pinned at its
/// tip (inside the caller's pin, if any), and that tip is the head the gates name, the one a
/// promotion's compare-and-swap then requires.
pub(crate) fn assess(ws: &Workspace, id: &str, person: Option<&str>) -> Result<Assessment, Error> {
    let pin = ws.pin_governance()?;
    let conn = ws.store().conn();
    let row = workflow::require(conn, id)?;
    let id = row.id.clone();
    let settings = ws.settings()?;
    let target_branch = settings.workflow.target_branch.clone();
    let target_ref = format!("refs/heads/{target_branch}");
    let repo = Repository::open(ws.root()).map_err(git_err)?;
    let mut gates = Vec::with_capacity(Gate::ALL.len());

    // 1. state
    gates.push(if row.state == State::Approved {
        ok(Gate::State, "approved")
    } else {
        no(
            Gate::State,
            "ROLLOUT_NOT_APPROVED",
            format!(
                "the proposal is {}; only an approved proposal is promoted",
                row.state
            ),
        )
    });

    // 2. bundle (REC-001): the digest recomputed and the instance-key signature.
    let canonical = canon::canonical_bytes(&row.bundle)?;
    gates.push(
        match crate::signing::bundle_sig::verify(conn, &id, &row.digest, &canonical) {
            Ok(_) => ok(
                Gate::Bundle,
                format!("digest {} signed by the instance key", row.digest),
            ),
            Err(e @ crate::signing::SigningError::BundleInvalid { .. }) => {
                no(Gate::Bundle, "ROLLOUT_BUNDLE_INVALID", e.to_string())
            }
            Err(e) => return Err(e.into()),
        },
    );

    // 3. branch
    let bot = BotIdentity::from(&settings.workflow);
    let recorded = gitops::stored_branch(conn, &id)?;
    let mut branch_commit = None;
    gates.push(
        match (
            &recorded,
            gitops::verify_branch(&repo, &id, &row.bundle, &bot),
        ) {
            (None, _) => no(
                Gate::Branch,
                "ROLLOUT_BRANCH_MOVED",
                "no proposal branch was recorded; validate the proposal first",
            ),
            (Some(b), Ok(c)) if b.head_commit == c.to_string() => {
                branch_commit = Some(c);
                ok(Gate::Branch, format!("{} at {c}", b.branch))
            }
            (Some(b), Ok(c)) => no(
                Gate::Branch,
                "ROLLOUT_BRANCH_MOVED",
                format!(
                    "{} was recorded at {}, the bundle makes {c}",
                    b.branch, b.head_commit
                ),
            ),
            (Some(_), Err(e)) => no(Gate::Branch, "ROLLOUT_BRANCH_MOVED", e.to_string()),
        },
    );

    // 4–6 from the approval room's facts (validation, policy now, tally).
    let facts = match approval::current(ws, &id) {
        Ok(f) => Some(f),
        Err(Error::Approval(
            approval::ApprovalError::BranchForged(_) | approval::ApprovalError::NotValidated { .. },
        )) => None,
        Err(e) => return Err(e),
    };
    // 4. validation
    gates.push(match &facts {
        Some(f) if f.current.validation_run.is_some() => ok(
            Gate::Validation,
            format!(
                "run {} passed on {}",
                f.current.validation_run.as_deref().unwrap_or(""),
                f.current.branch_commit
            ),
        ),
        Some(f) => no(
            Gate::Validation,
            "ROLLOUT_NOT_VALIDATED",
            format!(
                "no passed validation of branch commit {}; run `oxide validate {id}`",
                f.current.branch_commit
            ),
        ),
        None => no(
            Gate::Validation,
            "ROLLOUT_NOT_VALIDATED",
            "no trusted, validated branch commit",
        ),
    });
    // 5. policy
    let rows = crate::signing::approvals::for_proposal(conn, &id)?;
    let under = approved_under(&rows);
    gates.push(match &facts {
        Some(f) if !f.denials.is_empty() => no(
            Gate::Policy,
            "ROLLOUT_POLICY_DENIED",
            f.denials.join("; "),
        ),
        Some(f) if !under.is_empty() && !under.contains(&f.current.policy_digest) => no(
            Gate::Policy,
            "ROLLOUT_POLICY_CHANGED",
            format!(
                "the policy committed on {target_branch} now is {}, the approvals were given under {}",
                f.current.policy_digest,
                under.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
        ),
        Some(f) => ok(
            Gate::Policy,
            format!(
                "risk {} under the committed policy {}",
                f.current.risk, f.current.policy_digest
            ),
        ),
        None => no(
            Gate::Policy,
            "ROLLOUT_POLICY_DENIED",
            "no decision without a trusted, validated branch commit",
        ),
    });
    // 6. approvals
    let report = approval::status(ws, &id)?;
    let counted: Vec<(i64, String)> = report
        .tally
        .counted
        .iter()
        .map(|c| (c.approval_id, c.keyid.clone()))
        .collect();
    let mut why: Vec<String> = report.problems.clone();
    for b in &report.tally.blocking {
        why.push(format!("{} rejected it", b.person));
    }
    if !report.tally.missing.is_empty() {
        why.push(format!("missing {}", report.tally.missing.join(", ")));
    }
    for n in &report.tally.not_counted {
        why.push(format!("approval {} not counted: {}", n.approval_id, n.why));
    }
    gates.push(
        if report.tally.satisfied && report.tally.blocking.is_empty() && report.problems.is_empty()
        {
            ok(
                Gate::Approvals,
                format!(
                    "{} counted: {}",
                    report.tally.counted.len(),
                    report
                        .tally
                        .counted
                        .iter()
                        .map(|c| format!("{} as {}", c.person, c.slot))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        } else {
            if report.approvals.is_empty() {
                why.insert(0, "no approvals".into());
            }
            no(Gate::Approvals, "ROLLOUT_APPROVALS", why.join("; "))
        },
    );
    let approvals_digest = canon::digest(
        &rows
            .iter()
            .map(|r| (r.id, &r.keyid, &r.envelope))
            .collect::<Vec<_>>(),
    )?;

    // 7. up_to_date: the pinned tip, the commit every gate above read the governance from.
    let head = pin.commit();
    let mut carry_over = None;
    let mut rebase = None;
    let branch_tree = match branch_commit {
        Some(c) => Some(repo.find_commit(c).map_err(git_err)?.tree_id()),
        None => None,
    };
    let mut tree = branch_tree;
    gates.push(match head {
        None => no(
            Gate::UpToDate,
            "ROLLOUT_TARGET_MOVED",
            format!("the target branch {target_branch} does not exist"),
        ),
        Some(h) if h.to_string() == row.bundle.base.commit => ok(
            Gate::UpToDate,
            format!("{target_branch} is at the base {h}"),
        ),
        Some(h) => {
            let allowed = settings.rollout.trivial_rebase_keeps_approvals;
            let msg;
            if let Some(bc) = branch_commit {
                let r = gp::rebase_onto(&repo, &row.bundle, bc, h)?;
                let mut differences = r.differences.clone();
                differences.extend(
                    r.problems
                        .iter()
                        .map(|p| format!("{} {}", p.pointer, p.message)),
                );
                let co = CarryOver {
                    head: h.to_string(),
                    applies: r.tree.is_some(),
                    trivial: r.trivial,
                    allowed,
                    differences,
                };
                tree = None;
                msg = if co.possible() {
                    tree = r.tree;
                    format!(
                        "{target_branch} moved to {h}; the proposal's diff is identical there (trivial rebase): promote re-validates it there and keeps the approvals"
                    )
                } else if !co.applies {
                    format!(
                        "{target_branch} moved to {h} and the intent no longer applies ({}): promote supersedes it",
                        co.differences.join("; ")
                    )
                } else if !co.trivial {
                    format!(
                        "{target_branch} moved to {h} and the proposal's diff differs there ({}): promote supersedes it",
                        co.differences.join(", ")
                    )
                } else {
                    format!(
                        "{target_branch} moved to {h}; the diff is identical there, but the committed settings do not carry approvals over a trivial rebase ([rollout] trivial_rebase_keeps_approvals): promote supersedes it"
                    )
                };
                carry_over = Some(co);
                rebase = Some(r);
            } else {
                msg = format!("{target_branch} moved to {h}, past the base {}", row.bundle.base.commit);
            }
            if carry_over.as_ref().is_some_and(CarryOver::possible) {
                ok(Gate::UpToDate, msg)
            } else {
                no(Gate::UpToDate, "ROLLOUT_TARGET_MOVED", msg)
            }
        }
    });

    // 8. promoter
    let registry = Registry::committed(ws)?;
    let now = ws.clock().now();
    let mut promoter = None;
    gates.push(match person {
        None => no(Gate::Promoter, "ROLLOUT_NOT_PROMOTER", "no person named"),
        Some(p) => match promoter_gate(conn, &registry, p, now)? {
            Ok(pr) => {
                let g = ok(
                    Gate::Promoter,
                    format!("{} ({}) with key {}", pr.person, pr.name, pr.keyid),
                );
                promoter = Some(pr);
                g
            }
            Err(why) => no(Gate::Promoter, "ROLLOUT_NOT_PROMOTER", why),
        },
    });

    // 9. worktree
    gates.push(match (head, tree) {
        (Some(h), Some(t)) if gp::checked_out(&repo, &target_ref) => {
            let head_tree = repo.find_commit(h).map_err(git_err)?.tree_id();
            let paths: Vec<String> = gp::tree_changes(&repo, head_tree, t)?
                .into_iter()
                .map(|c| c.path)
                .collect();
            let dirty = gp::dirty_paths(&repo, &paths)?;
            if dirty.is_empty() {
                ok(
                    Gate::Worktree,
                    format!(
                        "{target_branch} is checked out; the {} path(s) it changes are clean",
                        paths.len()
                    ),
                )
            } else {
                no(
                    Gate::Worktree,
                    "ROLLOUT_WORKTREE_DIRTY",
                    format!("local changes in {}", dirty.join(", ")),
                )
            }
        }
        _ if !gp::checked_out(&repo, &target_ref) => ok(
            Gate::Worktree,
            format!("{target_branch} is not checked out here"),
        ),
        _ => ok(
            Gate::Worktree,
            "judged on the tree to promote, once the target is up to date",
        ),
    });

    let ready = gates.iter().all(|g| g.ok);
    Ok(Assessment {
        readiness: Readiness {
            id: id.clone(),
            state: row.state,
            person: person.map(str::to_string),
            ready,
            gates,
            target_branch,
            target_head: head.map(|h| h.to_string()),
            base_commit: row.bundle.base.commit.clone(),
            branch_commit: branch_commit.map(|c| c.to_string()),
            carry_over,
            approvals: counted.iter().map(|(_, k)| k.clone()).collect(),
        },
        row,
        repo,
        target_ref,
        head,
        tree,
        rebase,
        counted,
        approvals_digest,
        promoter,
    })
}

/// The `promoter` gate: a registered lead or maintainer whose keyring key is registered to
/// them, valid now and not revoked on this machine. `Ok(Err(why))` when refused.
pub(crate) fn promoter_gate(
    conn: &rusqlite::Connection,
    registry: &Registry,
    person: &str,
    now: time::OffsetDateTime,
) -> Result<Result<Promoter, String>, Error> {
    let roles = registry.roles_of(person);
    if !roles
        .iter()
        .any(|r| matches!(r, Role::Lead | Role::Maintainer))
    {
        return Ok(Err(if roles.is_empty() {
            format!("{person} is not in the trust registry committed on the target branch")
        } else {
            format!(
                "{person} holds {}; promoting needs the lead or maintainer role (docs/roles.md)",
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }));
    }
    let key = match crate::signing::keys::person_key(person) {
        Ok(k) => k,
        Err(e @ crate::signing::SigningError::NoKey { .. }) => return Ok(Err(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    let keyid = key.keyid().to_string();
    drop(key);
    let Some(k) = registry.lookup(&keyid, now) else {
        return Ok(Err(format!(
            "their keyring key {keyid} is not registered in the committed trust registry"
        )));
    };
    if k.person != person {
        return Ok(Err(format!("key {keyid} is registered to '{}'", k.person)));
    }
    if k.standing != Standing::Valid {
        return Ok(Err(format!(
            "their key {keyid} is not valid now ({:?})",
            k.standing
        )));
    }
    if let Some(info) = crate::signing::keys::find(conn, &keyid)? {
        if let Some(at) = info.revoked_at {
            return Ok(Err(format!(
                "their key {keyid} was revoked on this machine at {at}"
            )));
        }
    }
    Ok(Ok(Promoter {
        person: person.to_string(),
        name: k.name.to_string(),
        keyid,
    }))
}
