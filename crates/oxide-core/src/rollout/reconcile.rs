//! The promotion journal (`promotion_intents`, `promotions`) and crash recovery.
//!
//! `promote` commits an intent row (`pending`) BEFORE the target ref moves; after the
//! compare-and-swap ONE transaction writes the promotion row, the workflow `promote`
//! transition, the `rollout.promoted` audit event and marks the intent `done`. A process
//! killed in between leaves a `pending` intent whose owner is dead; [`reconcile`] (run at the
//! start of promote, status and the desktop's open) then looks at the ref:
//!
//! - it holds the intent's commit (or has moved on past it) and the commit's trailers name the
//!   proposal: the promotion happened — it is recorded exactly as `promote` would have;
//! - otherwise the ref never moved to it: the intent is `abandoned` (audited); the commit
//!   object stays unreferenced.
//!
//! A promotion is recorded at most once (`promotions` is keyed by the proposal).

use git2::{Oid, Repository};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::RolloutError;
use crate::audit::{self, NewEvent};
use crate::clock::Stamp;
use crate::gitops::{self, promote as gp};
use crate::workflow::{self, PromotionEvidence, State};
use crate::{Error, Workspace};

/// A row of `promotion_intents`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Intent {
    pub id: i64,
    pub proposal_id: String,
    pub target_ref: String,
    pub old_head: String,
    pub new_commit: String,
    pub person: String,
    pub keyid: String,
    /// JSON array of the counted approvals' key ids.
    pub approvals: String,
    pub carried_over: bool,
    /// JSON `[[gate, ok], ...]`.
    pub gates: String,
    pub status: String,
    pub owner_pid: i64,
    pub owner_start: i64,
    pub owner_token: String,
    pub checkout: String,
}

const INTENT_COLS: &str = "id, proposal_id, target_ref, old_head, new_commit, person, keyid, \
    approval_keyids, carried_over, gates, status, owner_pid, owner_start, owner_token, checkout";

fn intent_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Intent> {
    Ok(Intent {
        id: r.get(0)?,
        proposal_id: r.get(1)?,
        target_ref: r.get(2)?,
        old_head: r.get(3)?,
        new_commit: r.get(4)?,
        person: r.get(5)?,
        keyid: r.get(6)?,
        approvals: r.get(7)?,
        carried_over: r.get::<_, i64>(8)? != 0,
        gates: r.get(9)?,
        status: r.get(10)?,
        owner_pid: r.get(11)?,
        owner_start: r.get(12)?,
        owner_token: r.get(13)?,
        checkout: r.get(14)?,
    })
}

/// The fields of a new intent.
pub(crate) struct NewIntent<'a> {
    pub proposal_id: &'a str,
    pub target_ref: &'a str,
    pub old_head: &'a str,
    pub new_commit: &'a str,
    pub person: &'a str,
    pub keyid: &'a str,
    pub approvals: &'a [String],
    pub carried_over: bool,
    pub gates: &'a [(String, bool)],
    pub owner: &'a crate::checks::runs::Owner,
    pub checkout: bool,
}

/// Writes a `pending` intent with its audit event (`rollout.promote_intent`), in the caller's
/// transaction. Refused when the proposal already has a pending intent.
pub(crate) fn insert_intent(
    conn: &Connection,
    n: &NewIntent<'_>,
    stamp: &Stamp<'_>,
) -> Result<i64, Error> {
    if let Some(other) = pending_for(conn, n.proposal_id)? {
        return Err(RolloutError::InProgress {
            id: n.proposal_id.into(),
            pid: other.owner_pid,
        }
        .into());
    }
    conn.execute(
        "INSERT INTO promotion_intents (proposal_id, target_ref, old_head, new_commit, person,
             keyid, approval_keyids, carried_over, gates, status, owner_pid, owner_start, owner_token,
             at, checkout)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', ?10, ?11, ?12, ?13, ?14)",
        params![
            n.proposal_id,
            n.target_ref,
            n.old_head,
            n.new_commit,
            n.person,
            n.keyid,
            serde_json::to_string(n.approvals).unwrap_or_else(|_| "[]".into()),
            n.carried_over as i64,
            serde_json::to_string(n.gates).unwrap_or_else(|_| "[]".into()),
            n.owner.pid,
            n.owner.start,
            n.owner.token,
            stamp.at,
            if n.checkout { "pending" } else { "none" },
        ],
    )?;
    let id = conn.last_insert_rowid();
    audit::append(
        conn,
        NewEvent {
            actor: stamp.actor,
            kind: "rollout.promote_intent",
            subject: n.proposal_id,
            payload: json!({"intent": id, "target_ref": n.target_ref, "old": n.old_head,
                            "new": n.new_commit, "person": n.person}),
        },
        stamp.at,
    )?;
    Ok(id)
}

fn pending_for(conn: &Connection, proposal: &str) -> Result<Option<Intent>, Error> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {INTENT_COLS} FROM promotion_intents WHERE proposal_id = ?1 AND status = 'pending'"
            ),
            [proposal],
            intent_row,
        )
        .optional()?)
}

pub(crate) fn intent(conn: &Connection, id: i64) -> Result<Intent, Error> {
    conn.query_row(
        &format!("SELECT {INTENT_COLS} FROM promotion_intents WHERE id = ?1"),
        [id],
        intent_row,
    )
    .optional()?
    .ok_or_else(|| RolloutError::Journal(format!("intent {id} is gone")).into())
}

fn pending(conn: &Connection) -> Result<Vec<Intent>, Error> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {INTENT_COLS} FROM promotion_intents WHERE status = 'pending' ORDER BY id"
    ))?;
    let rows = stmt.query_map([], intent_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Marks a pending intent abandoned (the ref never moved to its commit), audited.
pub(crate) fn abandon(
    conn: &Connection,
    intent: &Intent,
    why: &str,
    stamp: &Stamp<'_>,
) -> Result<(), Error> {
    let n = conn.execute(
        "UPDATE promotion_intents SET status = 'abandoned', finished_at = ?2
         WHERE id = ?1 AND status = 'pending'",
        params![intent.id, stamp.at],
    )?;
    if n != 1 {
        return Err(
            RolloutError::Journal(format!("intent {} is no longer pending", intent.id)).into(),
        );
    }
    audit::append(
        conn,
        NewEvent {
            actor: stamp.actor,
            kind: "rollout.promote_abandoned",
            subject: &intent.proposal_id,
            payload: json!({"intent": intent.id, "target_ref": intent.target_ref,
                            "old": intent.old_head, "new": intent.new_commit, "why": why}),
        },
        stamp.at,
    )?;
    Ok(())
}

/// A recorded promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Promotion {
    pub proposal_id: String,
    pub target_ref: String,
    pub old_head: String,
    pub commit: String,
    pub person: String,
    pub keyid: String,
    pub approvals: Vec<String>,
    pub carried_over: bool,
    pub at: String,
    pub audit_seq: i64,
}

/// The promotion of a proposal, if it was promoted.
pub fn promotion(conn: &Connection, proposal: &str) -> Result<Option<Promotion>, Error> {
    Ok(conn
        .query_row(
            "SELECT proposal_id, target_ref, old_head, commit_id, person, keyid, approval_keyids,
                    carried_over, at, audit_seq FROM promotions WHERE proposal_id = ?1",
            [proposal],
            |r| {
                let approvals: String = r.get(6)?;
                Ok(Promotion {
                    proposal_id: r.get(0)?,
                    target_ref: r.get(1)?,
                    old_head: r.get(2)?,
                    commit: r.get(3)?,
                    person: r.get(4)?,
                    keyid: r.get(5)?,
                    approvals: serde_json::from_str(&approvals).unwrap_or_default(),
                    carried_over: r.get::<_, i64>(7)? != 0,
                    at: r.get(8)?,
                    audit_seq: r.get(9)?,
                })
            },
        )
        .optional()?)
}

/// Every recorded promotion, oldest first.
pub fn promotions(conn: &Connection) -> Result<Vec<Promotion>, Error> {
    let ids: Vec<String> = conn
        .prepare("SELECT proposal_id FROM promotions ORDER BY at, proposal_id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(promotion(conn, &id)?);
    }
    Ok(out)
}

/// The one transaction after the ref moved: the promotion row, the workflow `promote`
/// transition (guard record + its audit event), the `rollout.promoted` audit event, and the
/// intent `done` — all on `conn` (the caller's transaction). `extra` goes into the event.
pub(crate) fn finish(
    conn: &Connection,
    intent: &Intent,
    extra: serde_json::Value,
    stamp: &Stamp<'_>,
) -> Result<(), Error> {
    let n = conn.execute(
        "UPDATE promotion_intents SET status = 'done', finished_at = ?2
         WHERE id = ?1 AND status = 'pending'",
        params![intent.id, stamp.at],
    )?;
    if n != 1 {
        return Err(
            RolloutError::Journal(format!("intent {} is no longer pending", intent.id)).into(),
        );
    }
    let gates: Vec<(String, bool)> = serde_json::from_str(&intent.gates).unwrap_or_default();
    let rec = workflow::promote(
        conn,
        &intent.proposal_id,
        &PromotionEvidence {
            commit: intent.new_commit.clone(),
            gates,
        },
        stamp,
    )?;
    if !rec.passed() {
        return Err(RolloutError::Journal(format!(
            "the workflow guard refused recording promotion {} of {}",
            intent.new_commit, intent.proposal_id
        ))
        .into());
    }
    // the proposal's `memory_set` ops become runtime-memory versions naming it.
    let memory = super::runtime_memory::apply_promotion(
        conn,
        &intent.proposal_id,
        &intent.person,
        stamp.at,
    )?;
    let approvals: Vec<String> = serde_json::from_str(&intent.approvals).unwrap_or_default();
    let ev = audit::append(
        conn,
        NewEvent {
            actor: stamp.actor,
            kind: "rollout.promoted",
            subject: &intent.proposal_id,
            payload: json!({"commit": intent.new_commit, "target_ref": intent.target_ref,
                            "old": intent.old_head, "person": intent.person,
                            "keyid": intent.keyid, "approvals": approvals,
                            "carried_over": intent.carried_over, "intent": intent.id,
                            "memory": memory, "detail": extra}),
        },
        stamp.at,
    )?;
    conn.execute(
        "INSERT INTO promotions (proposal_id, target_ref, old_head, commit_id, person, keyid,
             approval_keyids, carried_over, intent_id, at, audit_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            intent.proposal_id,
            intent.target_ref,
            intent.old_head,
            intent.new_commit,
            intent.person,
            intent.keyid,
            intent.approvals,
            intent.carried_over as i64,
            intent.id,
            stamp.at,
            ev.seq
        ],
    )?;
    Ok(())
}

/// Marks the checked-out target's files as updated for an intent.
pub(crate) fn checkout_done(conn: &Connection, intent: i64) -> Result<(), Error> {
    conn.execute(
        "UPDATE promotion_intents SET checkout = 'done' WHERE id = ?1 AND checkout = 'pending'",
        [intent],
    )?;
    Ok(())
}

/// What [`reconcile`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ReconcileReport {
    /// Proposals whose promotion was found on the ref and recorded now.
    pub finished: Vec<String>,
    /// Proposals whose interrupted promotion never moved the ref.
    pub abandoned: Vec<String>,
    /// Proposals whose checked-out files were brought up to the promotion now.
    pub checkouts: Vec<String>,
    /// What could not be repaired now (retried next time).
    pub problems: Vec<String>,
    /// Proposals whose interrupted rollback was found on the ref and recorded now.
    pub rollbacks: Vec<String>,
}

/// Whether the ref's head is `commit` or has it in its history.
fn reached(repo: &Repository, head: Option<Oid>, commit: Oid) -> bool {
    match head {
        Some(h) if h == commit => true,
        Some(h) => repo.graph_descendant_of(h, commit).unwrap_or(false),
        None => false,
    }
}

/// Finishes or abandons every pending intent whose owner process is gone (see the module
/// docs), then brings a checked-out target's files up to finished promotions whose checkout a
/// crash interrupted. Idempotent; cheap when there is nothing pending.
#[tracing::instrument(name = "rollout.reconcile", skip_all)]
pub fn reconcile(ws: &mut Workspace, actor: &str) -> Result<ReconcileReport, Error> {
    // Rollbacks and canary runs interrupted by a crash (their own journals).
    let mut report = ReconcileReport {
        rollbacks: super::rollback::reconcile_rollbacks(ws, actor)?,
        ..Default::default()
    };
    super::canary::recover(ws)?;
    let todo = pending(ws.store().conn())?;
    let checkouts = checkout_pending(ws.store().conn())?;
    if todo.is_empty() && checkouts.is_empty() {
        return Ok(report);
    }
    let repo =
        Repository::open(ws.root()).map_err(|e| Error::from(gitops::GitopsError::from(e)))?;
    for i in todo {
        if crate::checks::runs::is_live(i.owner_pid, Some(i.owner_start), Some(&i.owner_token)) {
            continue;
        }
        let ts = ws.clock().now_rfc3339();
        let new = Oid::from_str(&i.new_commit).ok();
        let head = gp::ref_target(&repo, &i.target_ref)?;
        // The commit must be a promotion of this proposal, signed by the intent's promoter
        // with a key the committed registry gives them.
        let names_it = new.is_some()
            && verify_promotion_commit(ws, &i.new_commit)
                .is_ok_and(|v| v.trailers.proposal == i.proposal_id && v.person == i.person);
        let moved = new.is_some_and(|n| reached(&repo, head, n));
        if moved && names_it {
            let state = workflow::require(ws.store().conn(), &i.proposal_id)?.state;
            if state != State::Approved {
                return Err(RolloutError::Journal(format!(
                    "{} holds promotion commit {} of proposal {}, which is {state}",
                    i.target_ref, i.new_commit, i.proposal_id
                ))
                .into());
            }
            ws.store_mut().write(|tx| {
                finish(
                    tx,
                    &i,
                    json!({"reconciled": true, "head": head.map(|h| h.to_string())}),
                    &Stamp::new(actor, &ts),
                )
            })?;
            report.finished.push(i.proposal_id.clone());
        } else {
            let why = if moved {
                "the ref holds the commit, but it is not a promotion of this proposal signed by its promoter"
            } else {
                "the ref never moved to the promotion commit"
            };
            ws.store_mut()
                .write(|tx| abandon(tx, &i, why, &Stamp::new(actor, &ts)))?;
            report.abandoned.push(i.proposal_id.clone());
        }
    }
    for i in checkout_pending(ws.store().conn())? {
        if crate::checks::runs::is_live(i.owner_pid, Some(i.owner_start), Some(&i.owner_token)) {
            continue;
        }
        match repair_checkout(&repo, &i) {
            Ok(()) => {
                ws.store_mut().write(|tx| checkout_done(tx, i.id))?;
                report.checkouts.push(i.proposal_id.clone());
            }
            Err(e) => report.problems.push(format!(
                "the checked-out files of promotion {} were not updated: {e}",
                i.new_commit
            )),
        }
    }
    Ok(report)
}

fn checkout_pending(conn: &Connection) -> Result<Vec<Intent>, Error> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {INTENT_COLS} FROM promotion_intents WHERE status = 'done' AND checkout = 'pending' ORDER BY id"
    ))?;
    let rows = stmt.query_map([], intent_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A crash between the ref update and the checkout left the checked-out target's files at
/// the old head: the paths the promotion changed that still hold exactly the old content
/// (nobody edited them since) are brought to the current head's; anything else is left alone.
fn repair_checkout(repo: &Repository, i: &Intent) -> Result<(), Error> {
    let git = |e: git2::Error| Error::from(gitops::GitopsError::from(e));
    if !gp::checked_out(repo, &i.target_ref) {
        return Ok(());
    }
    let (Ok(old), Ok(new)) = (Oid::from_str(&i.old_head), Oid::from_str(&i.new_commit)) else {
        return Ok(());
    };
    let old_tree = repo.find_commit(old).map_err(git)?.tree().map_err(git)?;
    let new_tree = repo.find_commit(new).map_err(git)?.tree_id();
    let Some(head) = gp::ref_target(repo, &i.target_ref)? else {
        return Ok(());
    };
    let head_tree = repo.find_commit(head).map_err(git)?.tree_id();
    let mut safe = Vec::new();
    for c in gp::tree_changes(repo, old_tree.id(), new_tree)? {
        let p = std::path::Path::new(&c.path);
        let on_disk = std::fs::read(repo.workdir().unwrap_or(repo.path()).join(p)).ok();
        let at_old = old_tree
            .get_path(p)
            .ok()
            .and_then(|e| repo.find_blob(e.id()).ok())
            .map(|b| b.content().to_vec());
        if on_disk == at_old {
            safe.push(c.path);
        }
    }
    gp::checkout_paths(repo, head_tree, &safe)?;
    Ok(())
}

/// A promotion commit that verified: its trailers and who signed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct VerifiedPromotion {
    pub commit: String,
    pub trailers: gp::PromotionTrailers,
    /// The signer, as the committed registry knows the key (it equals `Oxide-Promoted-By`).
    pub person: String,
    pub keyid: String,
}

/// Checks a commit found on a ref (e.g. received through sync) as a promotion: it carries
/// `Oxide-*` promotion trailers, an SSHSIG signature (namespace `git`) over exactly its
/// content, by a key the committed registry gives to the person its `Oxide-Promoted-By`
/// names, valid at the commit's time and not revoked; that person holds `lead` or
/// `maintainer`. `ROLLOUT_JOURNAL` says what does not hold.
pub fn verify_promotion_commit(ws: &Workspace, commit: &str) -> Result<VerifiedPromotion, Error> {
    let bad = |why: String| -> Error {
        RolloutError::Journal(format!("commit {commit} is not a valid promotion: {why}")).into()
    };
    let repo =
        Repository::open(ws.root()).map_err(|e| Error::from(gitops::GitopsError::from(e)))?;
    let oid = Oid::from_str(commit).map_err(|_| bad("not a commit id".into()))?;
    let c = repo
        .find_commit(oid)
        .map_err(|e| bad(e.message().to_string()))?;
    let trailers = c
        .message()
        .and_then(gp::parse_trailers)
        .ok_or_else(|| bad("it carries no promotion trailers".into()))?;
    let (sig, content) =
        gp::signature_of(&repo, oid)?.ok_or_else(|| bad("it is unsigned".into()))?;
    let v = crate::signing::sshsig::verify(&sig, crate::signing::sshsig::GIT_NAMESPACE, &content)?;
    let registry = crate::signing::registry::Registry::committed(ws)?;
    let at = time::OffsetDateTime::from_unix_timestamp(c.committer().when().seconds())
        .map_err(|_| bad("its commit time is out of range".into()))?;
    let k = registry
        .lookup(&v.keyid, at)
        .ok_or_else(|| bad(format!("key {} is not in the committed registry", v.keyid)))?;
    if k.person != trailers.promoted_by {
        return Err(bad(format!(
            "signed by {}'s key, but Oxide-Promoted-By says {}",
            k.person, trailers.promoted_by
        )));
    }
    if k.standing != crate::signing::registry::Standing::Valid {
        return Err(bad(format!(
            "key {} is not valid ({:?})",
            v.keyid, k.standing
        )));
    }
    if !k.roles.iter().any(|r| {
        matches!(
            r,
            crate::signing::registry::Role::Lead | crate::signing::registry::Role::Maintainer
        )
    }) {
        return Err(bad(format!(
            "{} is neither a lead nor a maintainer",
            k.person
        )));
    }
    Ok(VerifiedPromotion {
        commit: commit.to_string(),
        person: k.person.to_string(),
        keyid: v.keyid,
        trailers,
    })
}
