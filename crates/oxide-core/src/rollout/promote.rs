//! `oxide promote ID`: the only way a proposal reaches the target branch.
//!
//! 1. [`reconcile`](super::reconcile) finishes or abandons what a killed promotion left.
//! 2. Every gate of [`readiness`](super::readiness) is computed now; the first that fails
//!    refuses (exit 3, nothing written) — except `up_to_date`, where a moved target either
//!    carries the approvals over a trivial rebase (re-validating there first) or supersedes
//!    the proposal. A bundle failing REC-001 is quarantined (audited) as everywhere else.
//! 3. The promotion commit is built in the object database (parent: the target head; tree: the
//!    proposal branch's, or the rebased one), signed SSHSIG with the promoter's keyring key —
//!    only after every gate held, the re-validation of a carried-over proposal included (it
//!    runs on an unsigned commit of the same tree and parent).
//! 4. Critical section, under SQLite's write lock: the proposal is still `approved`, its
//!    bundle and instance-key signature still hold, no promotion or pending intent exists, the approval rows are exactly those judged, no
//!    counted key and not the promoter's was revoked meanwhile; the intent is journaled.
//! 5. Compare-and-swap of the target ref from the judged head to the commit (refused if it
//!    moved meanwhile: the intent is abandoned, nothing promoted).
//! 6. One transaction: promotion row, workflow `promote`, `rollout.promoted`, intent done.
//! 7. A checked-out target gets the changed paths written (they were clean, gate `worktree`),
//!    then an audit checkpoint is signed.

use std::ffi::OsString;

use git2::Oid;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::readiness::{assess, Assessment, Gate, GateStatus};
use super::reconcile::{self, NewIntent};
use super::RolloutError;
use crate::checks::{CheckRunStatus, ValidationProgress};
use crate::clock::{format_ts, Stamp};
use crate::gitops::{self, promote as gp};
use crate::signing::sshsig;
use crate::workflow::{self, State, SupersedeEvidence};
use crate::{canon, Error, Workspace};

/// What `promote` did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Promoted {
    pub id: String,
    pub state: State,
    /// The signed promotion commit now at the target head.
    pub commit: String,
    pub target_branch: String,
    pub person: String,
    pub keyid: String,
    /// Key ids of the approvals that counted (the commit's `Oxide-Approval` trailers).
    pub approvals: Vec<String>,
    /// The approvals were carried over a trivial rebase (re-validated on the moved target).
    pub carried_over: bool,
    /// The audit checkpoint signed afterwards (`seq` of the head it covers).
    pub checkpoint_seq: Option<i64>,
    /// What did not follow the promotion (e.g. the checked-out files), to be retried.
    pub warnings: Vec<String>,
    /// The committed `[[canary]]` checks run on the promotion (`None`: the contract has none);
    /// a failure rolled it back (`state` is then `rolled_back`).
    pub canary: Option<super::CanaryOutcome>,
}

fn git_err(e: git2::Error) -> Error {
    gitops::GitopsError::from(e).into()
}

/// The refusal for a failed gate.
fn refusal(a: &Assessment, person: &str, g: &GateStatus) -> RolloutError {
    let (id, why) = (a.row.id.clone(), g.message.clone());
    match g.code.as_deref().unwrap_or("") {
        "ROLLOUT_NOT_APPROVED" => RolloutError::NotApproved {
            id,
            state: a.row.state,
        },
        "ROLLOUT_BUNDLE_INVALID" => RolloutError::BundleInvalid { id, why },
        "ROLLOUT_BRANCH_MOVED" => RolloutError::BranchMoved { id, why },
        "ROLLOUT_NOT_VALIDATED" => RolloutError::NotValidated { id, why },
        "ROLLOUT_POLICY_DENIED" => RolloutError::PolicyDenied { id, why },
        "ROLLOUT_POLICY_CHANGED" => RolloutError::PolicyChanged { id, why },
        "ROLLOUT_APPROVALS" => RolloutError::Approvals { id, why },
        "ROLLOUT_TARGET_MOVED" => RolloutError::TargetMoved { id, why },
        "ROLLOUT_NOT_PROMOTER" => RolloutError::NotPromoter {
            person: person.to_string(),
            why,
        },
        "ROLLOUT_WORKTREE_DIRTY" => RolloutError::WorktreeDirty { id, paths: why },
        other => RolloutError::Journal(format!(
            "gate {} failed with {other}: {why}",
            g.gate.as_str()
        )),
    }
}

/// Supersedes proposal `id` (target moved; the intent no longer applies, or its diff changed,
/// or carry-over is off, or re-validation failed there) and returns the refusal.
fn supersede(
    ws: &mut Workspace,
    id: &str,
    head: &str,
    code: &str,
    problems: Vec<String>,
    actor: &str,
) -> Result<RolloutError, Error> {
    let ts = ws.clock().now_rfc3339();
    let problems = if problems.is_empty() {
        vec![format!("the target moved to {head}")]
    } else {
        problems
    };
    ws.store_mut().write(|tx| {
        workflow::supersede(
            tx,
            id,
            &SupersedeEvidence {
                failure_reason_code: code.into(),
                target_head: Some(head.into()),
                superseded_by: None,
                problems: problems.clone(),
            },
            &Stamp::new(actor, &ts),
        )
    })?;
    Ok(RolloutError::Superseded {
        id: id.into(),
        why: format!("the target branch moved to {head}: {}", problems.join("; ")),
    })
}

/// `promote(ws, id, person, actor, env, progress)`: see the module docs. `env_source` and
/// `progress` serve the checks run on a moved target (trivial-rebase carry-over).
#[tracing::instrument(name = "rollout.promote", skip_all, fields(proposal = id, person = person))]
pub fn promote(
    ws: &mut Workspace,
    id: &str,
    person: &str,
    actor: &str,
    env_source: &dyn Fn(&str) -> Option<OsString>,
    progress: &mut dyn FnMut(ValidationProgress),
) -> Result<Promoted, Error> {
    let person = crate::signing::check_person_id(person)?.to_string();
    super::reconcile(ws, actor)?;
    // One snapshot of the governance for the whole decision: the gates, the re-validation's
    // checks contract and the signed commit all read the target branch as it is now, and the
    // compare-and-swap below lands only on that same tip.
    let pin = ws.pin_governance()?;
    let a = assess(ws, id, Some(&person))?;
    let id = a.row.id.clone();

    // The gates, in order. A bundle failing REC-001 is quarantined (committed) first; a moved
    // target that cannot carry the approvals over supersedes the proposal.
    let mut moved_away = false;
    for g in a.failing() {
        match g.gate {
            Gate::Bundle => {
                let ts = ws.clock().now_rfc3339();
                let r = ws
                    .store_mut()
                    .write(|tx| workflow::check_bundle(tx, &id, &Stamp::new(actor, &ts)))?;
                return Err(match r {
                    Err(e) => RolloutError::BundleInvalid {
                        id,
                        why: e.to_string(),
                    }
                    .into(),
                    Ok(()) => refusal(&a, &person, g).into(),
                });
            }
            Gate::UpToDate => moved_away = true,
            _ => return Err(refusal(&a, &person, g).into()),
        }
    }
    if moved_away {
        let head = a.head.map(|h| h.to_string()).unwrap_or_default();
        let Some(co) = &a.readiness.carry_over else {
            let g = a
                .readiness
                .gates
                .iter()
                .find(|g| g.gate == Gate::UpToDate)
                .expect("the up_to_date gate");
            return Err(refusal(&a, &person, g).into());
        };
        let problems = if !co.applies {
            co.differences.clone()
        } else if !co.trivial {
            vec![format!(
                "the proposal's diff differs on the new head in {}",
                co.differences.join(", ")
            )]
        } else {
            vec!["the committed settings do not carry approvals over a trivial rebase ([rollout] trivial_rebase_keeps_approvals = false)".into()]
        };
        return Err(supersede(
            ws,
            &id,
            &head,
            workflow::reason::TARGET_MOVED,
            problems,
            actor,
        )?
        .into());
    }
    // Every gate holds; a moved target means a carry-over over a trivial rebase.
    let carry = a
        .readiness
        .carry_over
        .as_ref()
        .is_some_and(super::CarryOver::possible);

    // REC-001 once more in a write transaction (quarantines if it fails now).
    let ts = ws.clock().now_rfc3339();
    ws.store_mut()
        .write(|tx| workflow::check_bundle(tx, &id, &Stamp::new(actor, &ts)))?
        .map_err(|e| RolloutError::BundleInvalid {
            id: id.clone(),
            why: e.to_string(),
        })?;

    // A carried-over proposal is re-validated on the moved target before anything is signed
    // or moved: on an UNSIGNED commit of the same tree and parent (no promotion trailers), so
    // a failed re-validation leaves no signed promotion commit anyone could push.
    let mut revalidation = serde_json::Value::Null;
    if carry {
        let head = a.head.expect("a moved head");
        let probe = revalidation_commit(ws, &a)?;
        let label = format!("promote-{id}-{}", &probe.to_string()[..12]);
        let results = crate::checks::validate::run_contract_at(
            ws, &a.repo, probe, head, &label, env_source, progress,
        )?;
        let failed: Vec<String> = results
            .iter()
            .filter(|r| r.required && r.status != CheckRunStatus::Passed)
            .map(|r| format!("required check '{}' {}", r.name, r.status.as_str()))
            .collect();
        revalidation = json!({
            "head": head.to_string(),
            "rebased_from": a.row.bundle.base.commit,
            "checks": results.iter().map(|r| json!({"name": r.name, "required": r.required,
                "status": r.status.as_str(), "exit_code": r.exit_code})).collect::<Vec<_>>(),
        });
        if !failed.is_empty() {
            let e = supersede(
                ws,
                &id,
                &head.to_string(),
                workflow::reason::CHECK_FAILED,
                failed
                    .iter()
                    .map(|f| format!("re-validation on the moved target: {f}"))
                    .collect(),
                actor,
            )?;
            return Err(RolloutError::RevalidationFailed {
                id: id.clone(),
                why: match e {
                    RolloutError::Superseded { why, .. } => why,
                    other => other.to_string(),
                },
            }
            .into());
        }
    }

    // Every gate held: only now is the promotion commit made and signed.
    let commit = build_signed(ws, &a, &person)?;

    // The critical section: re-check what the database holds, journal the intent.
    let promoter = a.promoter.clone().expect("the promoter gate passed");
    let old = a.head.expect("a target head");
    let approvals: Vec<String> = a.counted.iter().map(|(_, k)| k.clone()).collect();
    let gates: Vec<(String, bool)> = a
        .readiness
        .gates
        .iter()
        .map(|g| (g.gate.as_str().to_string(), g.ok))
        .collect();
    let checkout = gp::checked_out(&a.repo, &a.target_ref);
    let (owner, _registration) = crate::checks::runs::claim().map_err(|e| {
        RolloutError::Journal(format!("cannot record the owner of the promotion: {e}"))
    })?;
    let ts = ws.clock().now_rfc3339();
    let intent_id = ws.store_mut().write(|tx| -> Result<i64, Error> {
        recheck(tx, &a, &promoter.keyid)?;
        reconcile::insert_intent(
            tx,
            &NewIntent {
                proposal_id: &id,
                target_ref: &a.target_ref,
                old_head: &old.to_string(),
                new_commit: &commit.to_string(),
                person: &person,
                keyid: &promoter.keyid,
                approvals: &approvals,
                carried_over: carry,
                gates: &gates,
                owner: &owner,
                checkout,
            },
            &Stamp::new(actor, &ts),
        )
    })?;
    let intent = reconcile::intent(ws.store().conn(), intent_id)?;

    // The ref moves only from the head every gate was judged on.
    if let Err(e) = gp::cas_update(
        &a.repo,
        &a.target_ref,
        commit,
        old,
        &format!("oxide: promote {id}"),
    ) {
        let ts = ws.clock().now_rfc3339();
        let why = e.to_string();
        ws.store_mut()
            .write(|tx| reconcile::abandon(tx, &intent, &why, &Stamp::new(actor, &ts)))?;
        return Err(match e {
            gitops::GitopsError::RefMoved { .. } => RolloutError::TargetMoved { id, why }.into(),
            other => other.into(),
        });
    }

    let ts = ws.clock().now_rfc3339();
    ws.store_mut().write(|tx| {
        reconcile::finish(
            tx,
            &intent,
            json!({"revalidation": revalidation}),
            &Stamp::new(actor, &ts),
        )
    })?;

    // The promotion is recorded; the checked-out files follow (a failure here, e.g. a stale
    // index.lock, is reported and retried by reconcile, never undoes the promotion).
    let mut warnings = Vec::new();
    if checkout {
        let written = (|| -> Result<(), Error> {
            let old_tree = a.repo.find_commit(old).map_err(git_err)?.tree_id();
            let new_tree = a.repo.find_commit(commit).map_err(git_err)?.tree_id();
            let paths: Vec<String> = gp::tree_changes(&a.repo, old_tree, new_tree)?
                .into_iter()
                .map(|c| c.path)
                .collect();
            gp::checkout_paths(&a.repo, new_tree, &paths)?;
            Ok(())
        })();
        match written {
            Ok(()) => ws
                .store_mut()
                .write(|tx| reconcile::checkout_done(tx, intent_id))?,
            Err(e) => warnings.push(format!(
                "the checked-out {} was not updated ({e}); the next `oxide status` retries",
                a.readiness.target_branch
            )),
        }
    }
    // Landed: the canary reads the governance the promotion put in force.
    drop(pin);
    let now = ws.clock().now();
    // Autocommit: the checkpoint row is durable before the keyring witness names it.
    let cp = crate::signing::checkpoint::create(ws.store().conn(), now)?;
    let canary = super::canary::after_promotion(
        ws,
        &id,
        &commit.to_string(),
        &person,
        env_source,
        progress,
    )?;
    let state = workflow::require(ws.store().conn(), &id)?.state;
    Ok(Promoted {
        id,
        state,
        commit: commit.to_string(),
        target_branch: a.readiness.target_branch.clone(),
        person,
        keyid: promoter.keyid,
        approvals,
        carried_over: carry,
        checkpoint_seq: Some(cp.seq),
        warnings,
        canary,
    })
}

/// Under the write lock: nothing the gates judged in the database changed since (what they
/// judged in git is on the target branch, which the compare-and-swap then guards).
fn recheck(tx: &rusqlite::Connection, a: &Assessment, promoter_keyid: &str) -> Result<(), Error> {
    let id = &a.row.id;
    let row = workflow::require(tx, id)?;
    if row.state != State::Approved {
        return Err(RolloutError::NotApproved {
            id: id.clone(),
            state: row.state,
        }
        .into());
    }
    if row.digest != a.row.digest
        || canon::canonical_bytes(&row.bundle)? != canon::canonical_bytes(&a.row.bundle)?
    {
        return Err(RolloutError::BundleInvalid {
            id: id.clone(),
            why: "the stored bundle changed while the gates were checked".into(),
        }
        .into());
    }
    let canonical = canon::canonical_bytes(&row.bundle)?;
    if let Err(e) = crate::signing::bundle_sig::verify(tx, id, &row.digest, &canonical) {
        return Err(match e {
            e @ crate::signing::SigningError::BundleInvalid { .. } => RolloutError::BundleInvalid {
                id: id.clone(),
                why: e.to_string(),
            }
            .into(),
            other => other.into(),
        });
    }
    if let Some(p) = reconcile::promotion(tx, id)? {
        return Err(RolloutError::NotApproved {
            id: format!("{id} (already promoted as {})", p.commit),
            state: row.state,
        }
        .into());
    }
    let rows = crate::signing::approvals::for_proposal(tx, id)?;
    let digest = canon::digest(
        &rows
            .iter()
            .map(|r| (r.id, &r.keyid, &r.envelope))
            .collect::<Vec<_>>(),
    )?;
    if digest != a.approvals_digest {
        return Err(RolloutError::Approvals {
            id: id.clone(),
            why: "the approvals changed while the gates were checked; run promote again".into(),
        }
        .into());
    }
    for (keyid, at) in crate::signing::keys::revocations(tx)? {
        if keyid == promoter_keyid {
            return Err(RolloutError::NotPromoter {
                person: a
                    .promoter
                    .as_ref()
                    .map(|p| p.person.clone())
                    .unwrap_or_default(),
                why: format!("their key {keyid} was revoked at {at}"),
            }
            .into());
        }
        if a.counted.iter().any(|(_, kid)| *kid == keyid) {
            return Err(RolloutError::Approvals {
                id: id.clone(),
                why: format!("counted approval key {keyid} was revoked at {at}"),
            }
            .into());
        }
    }
    Ok(())
}

/// The commit a carried-over proposal is re-validated on: the promotion's tree on the judged
/// target head, unsigned and without promotion trailers (it never becomes a promotion; only
/// the scratch worktree of the checks refers to it).
fn revalidation_commit(ws: &Workspace, a: &Assessment) -> Result<Oid, Error> {
    let head = a.head.expect("a target head");
    let tree = a.tree.expect("a tree to promote");
    let who = gp::Identity {
        name: "oxide re-validation".into(),
        email: "revalidation@oxide.invalid".into(),
    };
    let content = gp::commit_content(
        &a.repo,
        head,
        tree,
        &format!(
            "oxide: re-validation of proposal {} (unsigned, never promoted)\n",
            a.row.id
        ),
        &who,
        ws.clock().now().unix_timestamp(),
    )?;
    a.repo
        .odb()
        .and_then(|odb| odb.write(git2::ObjectType::Commit, content.as_bytes()))
        .map_err(git_err)
}

/// The promotion commit, written to the object database signed by the promoter (no ref moves):
/// parent = the judged target head, tree = the branch's (or the rebased) tree, the trailers.
fn build_signed(ws: &Workspace, a: &Assessment, person: &str) -> Result<Oid, Error> {
    let promoter = a.promoter.as_ref().expect("the promoter gate passed");
    let head = a.head.expect("a target head");
    let tree = a.tree.expect("a tree to promote");
    let title = a
        .row
        .bundle
        .intent
        .rationale
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    let trailers = gp::PromotionTrailers {
        proposal: a.row.id.clone(),
        bundle_digest: a.row.digest.clone(),
        approvals: a.counted.iter().map(|(_, k)| k.clone()).collect(),
        promoted_by: person.to_string(),
        rebased_from: a
            .rebase
            .as_ref()
            .filter(|_| head.to_string() != a.row.bundle.base.commit)
            .map(|_| a.row.bundle.base.commit.clone()),
    };
    let message = gp::promotion_message(&title, &trailers);
    let who = gp::Identity {
        name: if promoter.name.trim().is_empty() {
            person.to_string()
        } else {
            promoter.name.clone()
        },
        email: format!("{person}@oxide.invalid"),
    };
    let now = ws.clock().now();
    let content = gp::commit_content(&a.repo, head, tree, &message, &who, now.unix_timestamp())?;
    let key = crate::signing::keys::person_key(person)?;
    if key.keyid() != promoter.keyid {
        return Err(RolloutError::NotPromoter {
            person: person.into(),
            why: format!(
                "the keyring key changed while the gates were checked ({} → {})",
                promoter.keyid,
                key.keyid()
            ),
        }
        .into());
    }
    let signature = sshsig::sign(&key, sshsig::GIT_NAMESPACE, content.as_bytes())?;
    drop(key);
    // Our own signature must verify over exactly what is written, with the promoter's key.
    let v = sshsig::verify(&signature, sshsig::GIT_NAMESPACE, content.as_bytes())?;
    if v.keyid != promoter.keyid {
        return Err(RolloutError::Journal("the commit signature names another key".into()).into());
    }
    let oid = gp::write_signed(&a.repo, &content, &signature)?;
    tracing::debug!(commit = %oid, at = %format_ts(now), "promotion commit written");
    Ok(oid)
}
