//! The rollback drill (seed: "run quarterly rollback drills with audit evidence"): rehearses
//! promote → canary → rollback with the real mechanisms on a scratch branch
//! `oxide/drill/<time>` made at the target head — a signed scratch "promotion" commit (CAS),
//! the committed canaries on a worktree of it, a signed revert commit (CAS) — then checks the
//! result (the revert restores the base tree, both signatures verify against the committed
//! registry, the target branch did not move) and records the evidence as the audit event
//! `rollout.drill`. The target branch, the proposals and the runtime memory are never touched.

use git2::{Oid, Repository};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::canary;
use super::rollback::{commit_signer, identity, rollback_signer, sshsig_pem};
use super::RolloutError;
use crate::audit::{self, NewEvent};
use crate::checks::runner::CheckRunStatus;
use crate::checks::validate::CheckRow;
use crate::gitops::revert::{self, RevertTree};
use crate::gitops::{self, GitopsError};
use crate::signing::Registry;
use crate::{Error, Workspace};

/// The evidence of a drill (also the payload of its `rollout.drill` audit event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct DrillReport {
    /// `true` when every step worked and every check held.
    pub ok: bool,
    pub person: String,
    pub keyid: String,
    /// The scratch branch (`oxide/drill/<time>`), kept as evidence.
    pub branch: String,
    pub target: String,
    /// The target head the drill started from (unchanged).
    pub base: String,
    pub promotion_commit: String,
    pub revert_commit: String,
    /// The committed canaries run on the scratch promotion (empty: the contract has none).
    pub canaries: Vec<CheckRow>,
    pub canary_passed: bool,
    /// Both scratch commits' SSH signatures verify against the committed registry.
    pub signatures_verified: bool,
    /// The revert commit's tree is the base tree.
    pub restored_base_tree: bool,
    /// The target branch is where it was.
    pub target_unchanged: bool,
    pub duration_ms: u64,
    pub started_at: String,
    /// The audit event holding this evidence.
    pub audit_seq: i64,
}

fn drill_err(step: &str, why: impl ToString) -> Error {
    RolloutError::DrillFailed {
        step: step.to_string(),
        why: why.to_string(),
    }
    .into()
}

/// Runs a drill as `person` (who must be allowed to roll back: lead or maintainer with a
/// registered keyring key). See the module docs.
#[tracing::instrument(name = "rollout.drill", skip_all)]
pub fn drill(ws: &mut Workspace, person: &str) -> Result<DrillReport, Error> {
    let started = std::time::Instant::now();
    let now = ws.clock().now();
    let started_at = ws.clock().now_rfc3339();
    let registry = Registry::committed(ws)?;
    let key = rollback_signer(&registry, person, now)?;
    let who = identity(&registry, person, now)?;
    let repo = Repository::open(ws.root()).map_err(|e| Error::from(GitopsError::from(e)))?;
    let target = ws.target_branch()?;
    let target_ref = format!("refs/heads/{target}");
    let base = repo
        .refname_to_id(&target_ref)
        .map_err(|_| Error::from(GitopsError::NoTarget(target.clone())))?;
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z-{}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        std::process::id()
    );
    let branch = format!("oxide/drill/{stamp}");
    let branch_ref = format!("refs/heads/{branch}");
    if repo.refname_to_id(&branch_ref).is_ok() {
        return Err(drill_err(
            "scratch branch",
            format!("{branch} exists already"),
        ));
    }

    // 1. The scratch change and its signed "promotion" on the scratch branch.
    let base_commit = repo.find_commit(base).map_err(|e| drill_err("base", e))?;
    let base_tree = base_commit.tree_id();
    let note = format!("rollback drill {stamp} by {person}\n");
    let blob = repo
        .blob(note.as_bytes())
        .map_err(|e| drill_err("scratch change", e))?;
    let base_tree_obj = repo
        .find_tree(base_tree)
        .map_err(|e| drill_err("scratch change", e))?;
    let mut upd = git2::build::TreeUpdateBuilder::new();
    upd.upsert(
        format!("oxide-drill/{stamp}.txt"),
        blob,
        git2::FileMode::Blob,
    );
    let tree = upd
        .create_updated(&repo, &base_tree_obj)
        .map_err(|e| drill_err("scratch change", e))?;
    repo.reference(&branch_ref, base, false, "oxide: rollback drill")
        .map_err(|e| drill_err("scratch branch", e))?;
    let sign = |buf: &str| sshsig_pem(&key, buf.as_bytes());
    let promo_msg = format!(
        "oxide: promote rollback drill {stamp}\n\nA rehearsal on a scratch branch; never the target.\n\n\
         Oxide-Drill: {stamp}\nOxide-Promoted-By: {person}\n"
    );
    let promo = revert::signed_commit(&repo, tree, base, &promo_msg, &who, &mut |b| sign(b))?;
    if !revert::cas_ref(&repo, &branch_ref, promo, base, "oxide: drill promotion")? {
        return Err(drill_err(
            "promotion",
            format!("{branch} moved during the drill"),
        ));
    }

    // 2. The committed canaries on a worktree of the scratch promotion.
    let canaries = canary::canaries_at(&repo, base)?;
    let results = if canaries.is_empty() {
        Vec::new()
    } else {
        let opts = canary::run_options(ws, &repo);
        let name = format!("{}drill-{}", gitops::WORKTREE_PREFIX, std::process::id());
        canary::run_in_worktree(
            &repo,
            &name,
            promo,
            &canaries,
            &opts,
            &|k| std::env::var_os(k),
            &mut |_| {},
        )?
    };
    let canary_passed = results
        .iter()
        .all(|r| !r.required || r.status == CheckRunStatus::Passed);

    // 3. The signed revert on the scratch branch.
    let tree = match revert::revert_tree(&repo, promo, promo)? {
        RevertTree::Clean(t) => t,
        RevertTree::Conflict(paths) => {
            return Err(drill_err(
                "revert",
                format!("conflicts in {}", paths.join(", ")),
            ))
        }
    };
    let revert_msg = format!(
        "oxide: roll back rollback drill {stamp}\n\nThis reverts commit {promo}.\n\n\
         Oxide-Rollback-Of: {promo}\nOxide-Drill: {stamp}\nOxide-Reason-Code: ROLLBACK_DRILL\n\
         Oxide-Rolled-Back-By: {person}\n"
    );
    let rev = revert::signed_commit(&repo, tree, promo, &revert_msg, &who, &mut |b| sign(b))?;
    if !revert::cas_ref(&repo, &branch_ref, rev, promo, "oxide: drill rollback")? {
        return Err(drill_err(
            "rollback",
            format!("{branch} moved during the drill"),
        ));
    }

    // 4. The checks of the result.
    let signed_by_person = |c: Oid| {
        commit_signer(&repo, c, &registry)
            .map(|(p, _)| p == person)
            .unwrap_or(false)
    };
    let signatures_verified = signed_by_person(promo) && signed_by_person(rev);
    let restored_base_tree = repo
        .find_commit(rev)
        .map(|c| c.tree_id() == base_tree)
        .unwrap_or(false);
    let target_unchanged = repo.refname_to_id(&target_ref).ok() == Some(base);
    let ok = canary_passed && signatures_verified && restored_base_tree && target_unchanged;
    let mut report = DrillReport {
        ok,
        person: person.to_string(),
        keyid: key.keyid().to_string(),
        branch,
        target,
        base: base.to_string(),
        promotion_commit: promo.to_string(),
        revert_commit: rev.to_string(),
        canaries: results.iter().map(CheckRow::from).collect(),
        canary_passed,
        signatures_verified,
        restored_base_tree,
        target_unchanged,
        duration_ms: started.elapsed().as_millis() as u64,
        started_at,
        audit_seq: 0,
    };
    let ts = ws.clock().now_rfc3339();
    let payload = serde_json::to_value(&report).map_err(|e| drill_err("evidence", e))?;
    let seq = ws.store_mut().write(|tx| -> Result<i64, Error> {
        let ev = audit::append(
            tx,
            NewEvent {
                actor: person,
                kind: "rollout.drill",
                subject: &report.branch,
                payload: json!({"evidence": payload}),
            },
            &ts,
        )?;
        Ok(ev.seq)
    })?;
    report.audit_seq = seq;
    if let Err(e) = crate::signing::checkpoint::create(ws.store().conn(), ws.clock().now()) {
        tracing::warn!(error = %e, "could not sign an audit checkpoint after the drill");
    }
    Ok(report)
}
