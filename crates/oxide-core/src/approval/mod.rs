//! The approve stage (orchestrator): gathers a proposal's facts now ([`current`]), signs a
//! person's approval or rejection with their keyring key ([`sign`]) or admits an envelope
//! signed elsewhere ([`submit`]), and reads the approvals back with their statuses and the
//! two-person tally ([`status`], [`verify`], [`inbox`], [`preview`], [`export`]).
//!
//! Decisions are the signing room's pure functions (`signing::verify`, `signing::tally`);
//! this module only gathers their inputs — the bundle digest recomputed from the stored
//! bundle, the base commit, the proposal branch commit (re-derived and compared by
//! `gitops::verify_branch`: a forged or moved branch refuses), its tree, the policy decision
//! under the policy committed now, the latest passed validation of that commit — and writes
//! the approval with its audit event and the `workflow` transition in one transaction. See
//! `docs/approvals.md`.

use std::path::{Path, PathBuf};

use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::clock::{format_ts, Stamp};
use crate::signing::approvals::{self, NewApproval, StoredApproval};
use crate::signing::dsse;
use crate::signing::registry::{Registry, Role, Standing};
use crate::signing::statement::{ApprovalPredicate, Decision, Statement};
use crate::signing::tally::{self, Ballot, Requirement, Tally};
use crate::signing::verify::{self as sverify, ApprovalStatus, Checked, Current, Ledger};
use crate::workflow::{self, ApprovalEvidence, State};
use crate::{canon, Error, Workspace};

/// Errors of the approval orchestrator. Gate refusals are `Refused` (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("proposal {id} is {state}; only a validated (or approved) proposal can be approved or rejected. Nothing was signed")]
    NotReady { id: String, state: State },
    #[error("the policy in force denies proposal {id}: {denials}. Nothing was signed")]
    PolicyDenied { id: String, denials: String },
    #[error("proposal {id} has no passed validation of its current branch commit; run `oxide validate {id}` first. Nothing was signed")]
    NotValidated { id: String },
    #[error("{person} cannot sign: {why}. Nothing was signed")]
    NotRegistered { person: String, why: String },
    #[error("{person} {what} proposal {id} and cannot approve or reject it (two-person rule). Nothing was signed")]
    ConflictOfInterest {
        person: String,
        id: String,
        what: &'static str,
    },
    #[error("a rejection needs a reason: pass --reason TEXT. Nothing was signed")]
    ReasonRequired,
    #[error("the proposal branch cannot be trusted: {0}. Nothing was signed")]
    BranchForged(String),
    #[error("proposal {id} cannot be trusted: {why}. Nothing was signed")]
    Tampered { id: String, why: String },
    #[error("the envelope is {status} for proposal {id}: {problems}. Nothing was stored")]
    EnvelopeRefused {
        id: String,
        status: ApprovalStatus,
        problems: String,
    },
    #[error(
        "[approvals] lifetime_hours is {0}; it must be a positive number of hours (default 168)"
    )]
    BadLifetime(f64),
    #[error("cannot write {path}: {why}")]
    Export { path: String, why: String },
}

impl ApprovalError {
    pub fn code(&self) -> &'static str {
        match self {
            ApprovalError::NotReady { .. } => "APPROVAL_NOT_READY",
            ApprovalError::PolicyDenied { .. } => "APPROVAL_POLICY_DENIED",
            ApprovalError::NotValidated { .. } => "APPROVAL_NOT_VALIDATED",
            ApprovalError::NotRegistered { .. } => "APPROVAL_NOT_REGISTERED",
            ApprovalError::ConflictOfInterest { .. } => "APPROVAL_CONFLICT_OF_INTEREST",
            ApprovalError::ReasonRequired => "APPROVAL_REASON_REQUIRED",
            ApprovalError::BranchForged(_) => "APPROVAL_BRANCH_FORGED",
            ApprovalError::Tampered { .. } => "APPROVAL_TAMPERED",
            ApprovalError::EnvelopeRefused { .. } => "APPROVAL_ENVELOPE_REFUSED",
            ApprovalError::BadLifetime(_) => "APPROVAL_BAD_LIFETIME",
            ApprovalError::Export { .. } => "APPROVAL_EXPORT",
        }
    }

    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            ApprovalError::ReasonRequired | ApprovalError::BadLifetime(_) => {
                crate::ErrorKind::Invalid
            }
            ApprovalError::Export { .. } => crate::ErrorKind::Internal,
            _ => crate::ErrorKind::Refused,
        }
    }
}

/// A proposal's facts now: what an approval binds, what the policy requires, who may not count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Facts {
    pub current: Current,
    pub state: State,
    pub required: Requirement,
    /// The policy's denials now (`CODE: message`); empty when it allows.
    pub denials: Vec<String>,
    /// Who created the proposal (a person resolved on the proposing device, or the endorsed
    /// person of the device it arrived from; never the audit actor).
    pub initiator: Option<String>,
    /// When no single person was resolved on this (the proposing) device: everyone who held a
    /// key here then, and everyone with a key made in this database. None of them counts.
    #[serde(default)]
    pub could_have_initiated: Vec<String>,
    pub submitter: Option<String>,
    /// The stored digest disagrees with the stored bundle (an edited database).
    pub problems: Vec<String>,
}

fn git_err(e: git2::Error) -> Error {
    crate::gitops::GitopsError::from(e).into()
}

/// The digest of a validation run's checks as the approver saw them.
fn checks_digest(checks: &[crate::checks::validate::StoredCheck]) -> Result<String, Error> {
    let v: Vec<_> = checks
        .iter()
        .map(|c| {
            serde_json::json!({"name": c.name, "required": c.required,
                               "status": c.status.as_str(), "exit_code": c.exit_code,
                               "sandboxed": c.sandboxed})
        })
        .collect();
    Ok(canon::digest(&v)?)
}

/// `(initiator, could_have_initiated, problem)`, see [`creators`].
type Creators = (Option<String>, Vec<String>, Option<String>);

/// Who may not count as having created proposal `id`: `(initiator, could_have_initiated,
/// problem)` (docs/roles.md, "Who initiated a proposal"), from the admission's audit event
/// (`workflow::rows::checked_initiator`); `problem` when the proposal row was edited. For an
/// unresolved proposal, everyone who held a key on the proposing device then, everyone with a
/// key made in this database, and every person of today's committed registry whose key this
/// keyring holds (a registry hidden when proposing, or a registration made after, changes
/// nothing).
fn creators(ws: &Workspace, id: &str) -> Result<Creators, Error> {
    let conn = ws.store().conn();
    let (recorded, problem) = workflow::rows::checked_initiator(conn, id)?;
    Ok(match recorded {
        Some(crate::signing::whoami::Initiator::Person(p)) => (Some(p), Vec::new(), problem),
        Some(crate::signing::whoami::Initiator::Unresolved(held)) => {
            let mut all = held;
            all.extend(crate::signing::whoami::persons_with_local_keys(conn)?);
            let registered: Vec<String> = Registry::committed(ws)?
                .persons
                .iter()
                .map(|p| p.id.clone())
                .collect();
            all.extend(crate::signing::whoami::held_persons(&registered)?.0);
            all.sort();
            all.dedup();
            (None, all, problem)
        }
        None => (None, Vec::new(), problem),
    })
}

/// The facts of proposal `id` now. A proposal branch that does not point at the commit its
/// bundle makes is [`ApprovalError::BranchForged`].
#[tracing::instrument(name = "approval.current", skip_all, fields(proposal = id))]
pub fn current(ws: &Workspace, id: &str) -> Result<Facts, Error> {
    let conn = ws.store().conn();
    let row = workflow::require(conn, id)?;
    let digest = row.bundle.digest()?;
    let mut problems = Vec::new();
    if digest != row.digest {
        problems.push(format!(
            "the stored bundle's digest is {digest}, but the proposal row says {} (the database was edited)",
            row.digest
        ));
    }
    if crate::gitops::stored_branch(conn, &row.id)?.is_none() {
        return Err(ApprovalError::NotValidated { id: row.id }.into());
    }
    let repo = git2::Repository::open(ws.root()).map_err(git_err)?;
    let settings = ws.settings()?;
    let bot = crate::gitops::BotIdentity::from(&settings.workflow);
    let commit = crate::gitops::verify_branch(&repo, &row.id, &row.bundle, &bot)
        .map_err(|e| ApprovalError::BranchForged(e.to_string()))?;
    let tree = repo
        .find_commit(commit)
        .map_err(git_err)?
        .tree_id()
        .to_string();
    let (decision, _) = crate::policy::proposal_decision(ws, &row, &crate::actor::from_env())?;
    let checks = crate::checks::validate::latest_results(conn, &row.id)?;
    let run = checks.first().map(|c| c.run_id.clone());
    let run_commit = match &run {
        Some(r) => crate::checks::validate::run_commit(conn, r)?,
        None => None,
    };
    let passed = !checks.is_empty()
        && checks.iter().any(|c| c.required)
        && checks
            .iter()
            .filter(|c| c.required)
            .all(|c| c.status == crate::checks::CheckRunStatus::Passed)
        && run_commit.as_deref() == Some(commit.to_string().as_str());
    let (validation_run, checks_digest) = if passed {
        (run, Some(checks_digest(&checks)?))
    } else {
        (None, None)
    };
    let submitter = crate::skill::get(
        conn,
        row.skill_id.as_deref().unwrap_or(&row.bundle.skill_digest),
    )?
    .map(|s| s.submitted_by);
    let (initiator, could_have_initiated, edited) = creators(ws, &row.id)?;
    problems.extend(edited);
    Ok(Facts {
        current: Current {
            proposal_id: row.id.clone(),
            bundle_digest: digest,
            base_commit: row.bundle.base.commit.clone(),
            branch_commit: commit.to_string(),
            result_tree: tree,
            policy_digest: decision.policy_digest.clone(),
            risk: decision.risk.as_str().to_string(),
            validation_run,
            checks_digest,
        },
        state: row.state,
        required: Requirement {
            count: decision.required.count,
            roles: decision.required.roles.clone(),
        },
        denials: decision
            .denials
            .iter()
            .map(|d| format!("{}: {}", d.policy_reason_code, d.message))
            .collect(),
        initiator,
        could_have_initiated,
        submitter,
        problems,
    })
}

/// One approval as shown: its status now, and whether it counted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ApprovalView {
    pub approval_id: i64,
    /// The key's registered owner (the row's person when the key is unknown).
    pub person: String,
    /// The slot it filled when it counted, else the person's highest registered role
    /// (`none` when the registry does not know them).
    pub role: String,
    pub roles: Vec<Role>,
    pub keyid: String,
    pub decision: Decision,
    pub status: ApprovalStatus,
    pub problems: Vec<String>,
    pub reason: String,
    pub issued_at: String,
    pub expires_at: String,
    pub counted: bool,
    /// Why it did not count (absent when it counted).
    pub why: Option<String>,
}

/// `approvals ID`: every approval with its status, the tally and what is missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ApprovalsReport {
    pub id: String,
    pub state: State,
    pub facts: Option<Facts>,
    pub approvals: Vec<ApprovalView>,
    pub tally: Tally,
    /// Proposal-level problems (a forged branch, an edited bundle, a missing approval row).
    pub problems: Vec<String>,
}

fn highest_role(roles: &[Role]) -> &'static str {
    if roles.contains(&Role::Maintainer) {
        "maintainer"
    } else if roles.contains(&Role::Lead) {
        "lead"
    } else if roles.contains(&Role::Approver) {
        "approver"
    } else {
        "none"
    }
}

/// Local revocations (`keys revoke`) from the signing room's key list.
fn ledger(conn: &rusqlite::Connection, proposal: &str) -> Result<Ledger, Error> {
    let mut l = Ledger {
        nonce_uses: approvals::nonce_uses(conn, proposal)?,
        ..Ledger::default()
    };
    l.local_revocations
        .extend(crate::signing::keys::revocations(conn)?);
    Ok(l)
}

/// Every stored approval of a proposal, verified against `current`, then tallied.
struct Evaluated {
    rows: Vec<StoredApproval>,
    checked: Vec<Checked>,
    tally: Tally,
}

fn evaluate(
    conn: &rusqlite::Connection,
    facts: &Facts,
    registry: &Registry,
    now: OffsetDateTime,
) -> Result<Evaluated, Error> {
    let rows = approvals::for_proposal(conn, &facts.current.proposal_id)?;
    let ledger = ledger(conn, &facts.current.proposal_id)?;
    let mut scratch = Vec::new();
    let mut checked = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut c = sverify::verify_with(
            r.envelope.as_bytes(),
            &facts.current,
            registry,
            now,
            &ledger,
            &mut scratch,
        );
        let edits = r.row_problems(&c);
        if !edits.is_empty() {
            c.status = ApprovalStatus::Invalid;
            c.problems.extend(edits);
        }
        checked.push(c);
    }
    let ballots: Vec<Ballot<'_>> = rows
        .iter()
        .zip(&checked)
        .map(|(r, c)| Ballot {
            approval_id: r.id,
            person: c.person.as_deref().unwrap_or(&r.person),
            keyid: &r.keyid,
            decision: c.decision.unwrap_or(r.decision),
            status: c.status,
            roles: &c.roles,
        })
        .collect();
    let tally = tally::tally_excluding(
        &facts.required,
        &ballots,
        facts.initiator.as_deref(),
        &facts.could_have_initiated,
        facts.submitter.as_deref(),
    );
    Ok(Evaluated {
        rows,
        checked,
        tally,
    })
}

impl Evaluated {
    fn views(&self) -> Vec<ApprovalView> {
        self.rows
            .iter()
            .zip(&self.checked)
            .map(|(r, c)| {
                let counted = self.tally.counted.iter().find(|x| x.approval_id == r.id);
                let why = self
                    .tally
                    .not_counted
                    .iter()
                    .find(|x| x.approval_id == r.id)
                    .map(|x| x.why.clone());
                ApprovalView {
                    approval_id: r.id,
                    person: c.person.clone().unwrap_or_else(|| r.person.clone()),
                    role: counted
                        .map(|x| x.slot.clone())
                        .unwrap_or_else(|| highest_role(&c.roles).to_string()),
                    roles: c.roles.clone(),
                    keyid: r.keyid.clone(),
                    decision: c.decision.unwrap_or(r.decision),
                    status: c.status,
                    problems: c.problems.clone(),
                    reason: c
                        .predicate
                        .as_ref()
                        .map(|p| p.reason.clone())
                        .unwrap_or_default(),
                    issued_at: r.issued_at.clone(),
                    expires_at: r.expires_at.clone(),
                    counted: counted.is_some(),
                    why,
                }
            })
            .collect()
    }

    fn evidence(&self, facts: &Facts) -> ApprovalEvidence {
        ApprovalEvidence {
            required_count: facts.required.count,
            required_roles: facts.required.roles.clone(),
            valid_approvers: self
                .tally
                .counted
                .iter()
                .map(|c| c.person.clone())
                .collect(),
            roles_covered: self.tally.counted.iter().map(|c| c.slot.clone()).collect(),
            counted: self.tally.counted.clone(),
            not_counted: self.tally.not_counted.clone(),
            blocking: self.tally.blocking.clone(),
            initiator: facts.initiator.clone(),
            could_have_initiated: facts.could_have_initiated.clone(),
            submitter: facts.submitter.clone(),
        }
    }
}

/// Approvals whose `signing.approval` audit event names a nonce no stored row carries: a row
/// deleted from the database file.
fn missing_rows(
    conn: &rusqlite::Connection,
    id: &str,
    rows: &[StoredApproval],
) -> Result<Vec<String>, Error> {
    let events = crate::audit::for_subject(conn, id)?;
    Ok(events
        .iter()
        .filter(|e| e.kind == "signing.approval")
        .filter_map(|e| {
            let nonce = e.payload.str_field("nonce")?;
            (!rows.iter().any(|r| r.nonce == nonce)).then(|| {
                format!(
                    "the {} by {} recorded in audit event {} is missing from the database (a deleted approval)",
                    e.payload.str_field("decision").as_deref().unwrap_or("approval"),
                    e.payload.str_field("person").as_deref().unwrap_or("?"),
                    e.seq
                )
            })
        })
        .collect())
}

/// `approvals ID`: each approval with its status now, the tally and what is missing. A
/// forged branch or an edited bundle is reported (every approval is then judged against
/// facts that cannot match), never hidden.
#[tracing::instrument(name = "approval.status", skip_all, fields(proposal = id))]
pub fn status(ws: &Workspace, id: &str) -> Result<ApprovalsReport, Error> {
    let conn = ws.store().conn();
    let row = workflow::require(conn, id)?;
    let registry = Registry::committed(ws)?;
    let now = ws.clock().now();
    let mut problems = Vec::new();
    let facts = match current(ws, &row.id) {
        Ok(f) => Some(f),
        Err(Error::Approval(ApprovalError::BranchForged(why))) => {
            problems.push(format!("the proposal branch cannot be trusted: {why}"));
            None
        }
        Err(Error::Approval(e @ ApprovalError::NotValidated { .. })) => {
            problems.push(e.to_string());
            None
        }
        Err(e) => return Err(e),
    };
    // Without trustworthy facts every approval is judged against facts that match nothing.
    let (initiator, could_have_initiated, edited) = creators(ws, &row.id)?;
    if facts.is_none() {
        problems.extend(edited);
    }
    let judged = facts.clone().unwrap_or_else(|| Facts {
        current: Current {
            proposal_id: row.id.clone(),
            bundle_digest: String::new(),
            base_commit: String::new(),
            branch_commit: "(forged branch)".into(),
            result_tree: String::new(),
            policy_digest: String::new(),
            risk: String::new(),
            validation_run: None,
            checks_digest: None,
        },
        state: row.state,
        required: Requirement {
            count: crate::policy::engine::critical_required().count,
            roles: crate::policy::engine::critical_required().roles,
        },
        denials: Vec::new(),
        initiator,
        could_have_initiated,
        submitter: None,
        problems: Vec::new(),
    });
    problems.extend(judged.problems.iter().cloned());
    let ev = evaluate(conn, &judged, &registry, now)?;
    problems.extend(missing_rows(conn, &row.id, &ev.rows)?);
    Ok(ApprovalsReport {
        id: row.id,
        state: row.state,
        approvals: ev.views(),
        tally: ev.tally,
        facts,
        problems,
    })
}

/// `verify ID`: is the proposal's approval sound now?
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct VerifyReport {
    pub id: String,
    pub state: State,
    /// Every approval valid and the two-person rule satisfied, with nothing tampered.
    pub ok: bool,
    pub problems: Vec<String>,
    pub approvals: Vec<ApprovalView>,
    pub tally: Tally,
}

/// `verify ID`: every stored approval verified against the facts now (signature, registry,
/// subject, staleness, expiry, nonce, row edits) and the tally; `ok` when there is no problem.
pub fn verify(ws: &Workspace, id: &str) -> Result<VerifyReport, Error> {
    let r = status(ws, id)?;
    let mut problems = r.problems.clone();
    for a in &r.approvals {
        for p in &a.problems {
            problems.push(format!(
                "{} by {} ({}): {}: {p}",
                a.decision, a.person, a.keyid, a.status
            ));
        }
    }
    for b in &r.tally.blocking {
        problems.push(format!("{} rejected the proposal", b.person));
    }
    if !r.tally.missing.is_empty() {
        problems.push(format!(
            "the two-person rule is not satisfied: missing {}",
            r.tally.missing.join(", ")
        ));
    }
    if r.approvals.is_empty() {
        problems.push("the proposal has no approvals".into());
    }
    Ok(VerifyReport {
        id: r.id,
        state: r.state,
        ok: problems.is_empty(),
        problems,
        approvals: r.approvals,
        tally: r.tally,
    })
}

/// What `approve` did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SignReport {
    pub id: String,
    pub approval_id: i64,
    pub keyid: String,
    pub person: String,
    pub decision: Decision,
    /// The DSSE envelope, as stored.
    #[cfg_attr(feature = "ts", ts(type = "unknown"))]
    pub envelope: serde_json::Value,
    /// The proposal's state afterwards.
    pub state: State,
    pub counted: bool,
    pub why: Option<String>,
    pub tally: Tally,
    /// The audit checkpoint signed afterwards (`seq` of the head it covers).
    pub checkpoint_seq: Option<i64>,
}

fn lifetime(ws: &Workspace) -> Result<time::Duration, Error> {
    let h = ws.settings()?.approvals.lifetime_hours;
    if !(h.is_finite() && h > 0.0 && h <= 24.0 * 366.0 * 10.0) {
        return Err(ApprovalError::BadLifetime(h).into());
    }
    Ok(time::Duration::seconds_f64(h * 3600.0))
}

/// Only a validated (or already approved) proposal can be signed for.
fn ready(id: &str, state: State) -> Result<(), ApprovalError> {
    if matches!(state, State::Validated | State::Approved) {
        Ok(())
    } else {
        Err(ApprovalError::NotReady {
            id: id.to_string(),
            state,
        })
    }
}

/// The gates every signature passes before anything is signed or stored.
fn gate(facts: &Facts, person: &str) -> Result<(), ApprovalError> {
    let id = &facts.current.proposal_id;
    ready(id, facts.state)?;
    if let Some(p) = facts.problems.first() {
        return Err(ApprovalError::Tampered {
            id: id.clone(),
            why: p.clone(),
        });
    }
    if !facts.denials.is_empty() {
        return Err(ApprovalError::PolicyDenied {
            id: id.clone(),
            denials: facts.denials.join("; "),
        });
    }
    if facts.current.validation_run.is_none() {
        return Err(ApprovalError::NotValidated { id: id.clone() });
    }
    if facts.initiator.as_deref() == Some(person) {
        return Err(ApprovalError::ConflictOfInterest {
            person: person.into(),
            id: id.clone(),
            what: "initiated",
        });
    }
    if facts.submitter.as_deref() == Some(person) {
        return Err(ApprovalError::ConflictOfInterest {
            person: person.into(),
            id: id.clone(),
            what: "submitted the skill of",
        });
    }
    Ok(())
}

/// The registry's word on `person`'s key `keyid` now: registered to them and valid.
fn registered(
    registry: &Registry,
    person: &str,
    keyid: &str,
    now: OffsetDateTime,
) -> Result<Vec<Role>, ApprovalError> {
    let refuse = |why: String| ApprovalError::NotRegistered {
        person: person.into(),
        why,
    };
    let Some(k) = registry.lookup(keyid, now) else {
        return Err(refuse(format!(
            "their key {keyid} is not in the trust registry committed on the target branch; add it with `oxide approvers add --person {person} ...` and commit .oxide/approvers.toml"
        )));
    };
    if k.person != person {
        return Err(refuse(format!(
            "key {keyid} is registered to '{}', not to them",
            k.person
        )));
    }
    match &k.standing {
        Standing::Valid => Ok(k.roles.to_vec()),
        other => Err(refuse(format!(
            "their key {keyid} is not valid now in the registry ({other:?})"
        ))),
    }
}

/// The role a signer claims: a missing slot they fit, else their highest role.
fn claimed_role(facts: &Facts, roles: &[Role]) -> String {
    let slots = tally::slots(&facts.required);
    slots
        .iter()
        .find(|s| *s != "approver" && tally::fits(s, roles))
        .cloned()
        .unwrap_or_else(|| highest_role(roles).to_string())
}

/// `approve ID --person P [--reject --reason TEXT]`: signs the decision with P's keyring key
/// over the facts now, stores the envelope (with its audit event), and — in the same
/// transaction — moves the proposal to `approved` when the tally is satisfied, or to
/// `rejected` when this is a rejection that counts. Then signs an audit checkpoint.
#[tracing::instrument(name = "approval.sign", skip_all, fields(proposal = id, person = person))]
pub fn sign(
    ws: &mut Workspace,
    id: &str,
    person: &str,
    decision: Decision,
    reason: &str,
    actor: &str,
) -> Result<SignReport, Error> {
    if decision == Decision::Reject && reason.trim().is_empty() {
        return Err(ApprovalError::ReasonRequired.into());
    }
    // The facts signed, the registry that admits the signer, the lifetime and the tally all
    // read one snapshot of the committed governance.
    let _pin = ws.pin_governance()?;
    let row = workflow::require(ws.store().conn(), id)?;
    ready(&row.id, row.state)?;
    let facts = current(ws, &row.id)?;
    gate(&facts, person)?;
    let registry = Registry::committed(ws)?;
    let now = ws.clock().now();
    let key = crate::signing::keys::person_key(person)?;
    let keyid = key.keyid().to_string();
    let roles = registered(&registry, person, &keyid, now)?;
    let mut nonce = [0u8; 32];
    OsRng.fill_bytes(&mut nonce);
    let c = &facts.current;
    let predicate = ApprovalPredicate {
        decision,
        reason: reason.trim().to_string(),
        person: person.to_string(),
        role: claimed_role(&facts, &roles),
        base_commit: c.base_commit.clone(),
        branch_commit: c.branch_commit.clone(),
        result_tree: c.result_tree.clone(),
        policy_digest: c.policy_digest.clone(),
        validation_run: c.validation_run.clone().unwrap_or_default(),
        checks_digest: c.checks_digest.clone().unwrap_or_default(),
        risk: c.risk.clone(),
        issued_at: format_ts(now),
        expires_at: format_ts(now + lifetime(ws)?),
        nonce: hex::encode(nonce),
    };
    let statement = Statement::new(&c.proposal_id, &c.bundle_digest, predicate);
    let envelope = dsse::sign(dsse::PAYLOAD_TYPE, &statement.to_payload(), &key).to_json();
    drop(key);
    store(ws, &facts, &registry, &envelope, actor)
}

/// Admits an envelope signed elsewhere (another DSSE implementation, another desktop) for
/// proposal `id`: it must be `valid` against the facts now and signed by a key of the
/// committed registry; then it is stored and tallied exactly like [`sign`]'s.
#[tracing::instrument(name = "approval.submit", skip_all, fields(proposal = id))]
pub fn submit(
    ws: &mut Workspace,
    id: &str,
    envelope: &[u8],
    actor: &str,
) -> Result<SignReport, Error> {
    // One snapshot of the committed governance, as in [`sign`].
    let _pin = ws.pin_governance()?;
    let row = workflow::require(ws.store().conn(), id)?;
    ready(&row.id, row.state)?;
    let facts = current(ws, &row.id)?;
    let registry = Registry::committed(ws)?;
    let now = ws.clock().now();
    let text = std::str::from_utf8(envelope).map_err(|_| ApprovalError::EnvelopeRefused {
        id: facts.current.proposal_id.clone(),
        status: ApprovalStatus::Invalid,
        problems: "the envelope is not UTF-8 JSON".into(),
    })?;
    let checked = sverify::verify(envelope, &facts.current, &registry, now, &Ledger::default());
    if checked.status != ApprovalStatus::Valid {
        return Err(ApprovalError::EnvelopeRefused {
            id: facts.current.proposal_id.clone(),
            status: checked.status,
            problems: checked.problems.join("; "),
        }
        .into());
    }
    let person = checked.person.clone().unwrap_or_default();
    gate(&facts, &person)?;
    store(ws, &facts, &registry, text, actor)
}

/// Stores a signed envelope (one transaction: the row and its audit event, then the
/// transition the tally calls for), then signs an audit checkpoint.
fn store(
    ws: &mut Workspace,
    facts: &Facts,
    registry: &Registry,
    envelope: &str,
    actor: &str,
) -> Result<SignReport, Error> {
    let now = ws.clock().now();
    let ts = format_ts(now);
    let checked = sverify::verify(
        envelope.as_bytes(),
        &facts.current,
        registry,
        now,
        &Ledger::default(),
    );
    let Some(p) = checked
        .predicate
        .clone()
        .filter(|_| checked.status == ApprovalStatus::Valid)
    else {
        return Err(ApprovalError::EnvelopeRefused {
            id: facts.current.proposal_id.clone(),
            status: checked.status,
            problems: checked.problems.join("; "),
        }
        .into());
    };
    let statement = Statement::new(&facts.current.proposal_id, &facts.current.bundle_digest, p);
    let id = facts.current.proposal_id.clone();
    // REC-001: the bundle's instance-key signature holds before anyone's approval is stored.
    let bundle = ws
        .store_mut()
        .write(|tx| workflow::check_bundle(tx, &id, &Stamp::new(actor, &ts)))?;
    bundle?;
    let (stored, tally, state) = ws.store_mut().write(|tx| -> Result<_, Error> {
        let stamp = Stamp::new(actor, &ts);
        let stored = approvals::insert(
            tx,
            &NewApproval {
                proposal_id: &id,
                envelope,
                keyid: &checked.keyid,
                statement: &statement,
            },
            &stamp,
        )?;
        let ev = evaluate(tx, facts, registry, now)?;
        let mut state = facts.state;
        let blocks = ev.tally.blocking.iter().any(|b| b.approval_id == stored.id);
        if blocks && workflow::can(state, workflow::Transition::Reject) {
            state =
                workflow::reject(tx, &id, &stored.person, &statement.predicate.reason, &stamp)?.to;
        } else if ev.tally.satisfied && state == State::Validated {
            let rec = workflow::approve(tx, &id, &ev.evidence(facts), &stamp)?;
            if rec.passed() {
                state = rec.to;
            }
        }
        Ok((stored, ev.tally, state))
    })?;
    let checkpoint_seq = checkpoint(ws)?;
    let counted = tally.counted.iter().any(|c| c.approval_id == stored.id);
    let why = tally
        .not_counted
        .iter()
        .find(|n| n.approval_id == stored.id)
        .map(|n| n.why.clone());
    Ok(SignReport {
        id,
        approval_id: stored.id,
        keyid: stored.keyid,
        person: stored.person,
        decision: stored.decision,
        envelope: serde_json::from_str(envelope).unwrap_or(serde_json::Value::Null),
        state,
        counted,
        why,
        tally,
        checkpoint_seq,
    })
}

/// Signs an audit checkpoint of the head with this device's key after every approval or
/// rejection (and the transition it caused), so a later rewrite of these events is caught.
fn checkpoint(ws: &mut Workspace) -> Result<Option<i64>, Error> {
    let now = ws.clock().now();
    // Autocommit: the checkpoint row is durable before the keyring witness names it.
    let cp = crate::signing::checkpoint::create(ws.store().conn(), now)?;
    Ok(Some(cp.seq))
}

/// What a signature would bind, shown before signing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SigningPreview {
    pub id: String,
    pub person: String,
    pub keyid: String,
    pub roles: Vec<Role>,
    pub role: String,
    pub bundle_digest: String,
    pub base_commit: String,
    pub branch_commit: String,
    pub result_tree: String,
    pub policy_digest: String,
    pub risk: String,
    pub validation_run: Option<String>,
    pub checks_digest: Option<String>,
    pub issued_at: String,
    pub expires_at: String,
    /// Why signing would be refused now (empty: it would be accepted).
    pub refusals: Vec<String>,
}

/// What `person` would sign for proposal `id` now, and any gate that would refuse it.
pub fn preview(ws: &Workspace, id: &str, person: &str) -> Result<SigningPreview, Error> {
    let facts = current(ws, id)?;
    let registry = Registry::committed(ws)?;
    let now = ws.clock().now();
    let keyid = crate::signing::keys::person_key(person)?
        .keyid()
        .to_string();
    let mut refusals = Vec::new();
    if let Err(e) = gate(&facts, person) {
        refusals.push(e.to_string());
    }
    let roles = match registered(&registry, person, &keyid, now) {
        Ok(r) => r,
        Err(e) => {
            refusals.push(e.to_string());
            Vec::new()
        }
    };
    let c = facts.current.clone();
    Ok(SigningPreview {
        id: c.proposal_id,
        person: person.into(),
        keyid,
        role: claimed_role(&facts, &roles),
        roles,
        bundle_digest: c.bundle_digest,
        base_commit: c.base_commit,
        branch_commit: c.branch_commit,
        result_tree: c.result_tree,
        policy_digest: c.policy_digest,
        risk: c.risk,
        validation_run: c.validation_run,
        checks_digest: c.checks_digest,
        issued_at: format_ts(now),
        expires_at: format_ts(now + lifetime(ws)?),
        refusals,
    })
}

/// One proposal waiting for a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct InboxItem {
    pub id: String,
    pub state: State,
    pub rationale: String,
    pub risk: String,
    pub created_at: String,
    /// e.g. "needs a lead" (second-person approval) or "needs an approver".
    pub label: String,
    /// The open slots.
    pub missing: Vec<String>,
    /// Approvals already given, with their status.
    pub given: Vec<ApprovalView>,
}

/// A person's inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Inbox {
    pub person: String,
    pub roles: Vec<Role>,
    pub items: Vec<InboxItem>,
    /// Proposals whose facts could not be gathered (e.g. a forged branch), with why.
    pub problems: Vec<String>,
}

/// `inbox`: validated proposals waiting for `person` — an open slot their registered roles
/// fit, no counting approval or rejection of theirs yet, and they are neither the initiator
/// nor the skill's submitter — newest first.
pub fn inbox(ws: &Workspace, person: &str) -> Result<Inbox, Error> {
    let conn = ws.store().conn();
    let registry = Registry::committed(ws)?;
    let roles = registry.roles_of(person).to_vec();
    let now = ws.clock().now();
    let mut items = Vec::new();
    let mut problems = Vec::new();
    for row in workflow::rows::list(conn, Some(State::Validated))? {
        let facts = match current(ws, &row.id) {
            Ok(f) => f,
            Err(e) => {
                problems.push(format!("{}: {e}", row.id));
                continue;
            }
        };
        if facts.initiator.as_deref() == Some(person)
            || facts.could_have_initiated.iter().any(|p| p == person)
            || facts.submitter.as_deref() == Some(person)
            || !facts.denials.is_empty()
        {
            continue;
        }
        let ev = evaluate(conn, &facts, &registry, now)?;
        let mine = ev.rows.iter().zip(&ev.checked).any(|(r, c)| {
            c.person.as_deref().unwrap_or(&r.person) == person && c.status == ApprovalStatus::Valid
        });
        let Some(slot) = ev.tally.missing.iter().find(|s| tally::fits(s, &roles)) else {
            continue;
        };
        if mine {
            continue;
        }
        let label = match slot.as_str() {
            "approver" => "needs an approver".to_string(),
            s => format!("needs a {s}"),
        };
        items.push(InboxItem {
            id: row.id.clone(),
            state: row.state,
            rationale: row
                .bundle
                .intent
                .rationale
                .lines()
                .next()
                .unwrap_or("")
                .to_string(),
            risk: facts.current.risk.clone(),
            created_at: row.created_at.clone(),
            label,
            missing: ev.tally.missing.clone(),
            given: ev.views(),
        });
    }
    Ok(Inbox {
        person: person.into(),
        roles,
        items,
        problems,
    })
}

/// `approvals ID --export DIR`: one `<id>-<n>-<person>.dsse.json` per approval, the envelope
/// exactly as stored (public data only: payload and signature). Returns the files written.
pub fn export(ws: &Workspace, id: &str, dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let conn = ws.store().conn();
    let row = workflow::require(conn, id)?;
    let rows = approvals::for_proposal(conn, &row.id)?;
    let err = |p: &Path, e: std::io::Error| ApprovalError::Export {
        path: p.display().to_string(),
        why: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
    let mut out = Vec::new();
    for r in rows {
        let safe: String = r
            .person
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = dir.join(format!("{}-{}-{safe}.dsse.json", row.id, r.id));
        std::fs::write(&path, r.envelope.as_bytes()).map_err(|e| err(&path, e))?;
        out.push(path);
    }
    Ok(out)
}
