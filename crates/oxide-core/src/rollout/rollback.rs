//! Rolling back a promotion (REC-006): a revert commit of the promotion commit made on the
//! CURRENT target head, signed (SSHSIG, namespace `git`) by the person rolling back (for an
//! automatic rollback after a failed canary: the promoter), with trailers
//! `Oxide-Rollback-Of`, `Oxide-Proposal`, `Oxide-Reason-Code`; the target ref moved by
//! compare-and-swap; then ONE transaction: the `rollbacks` row, the workflow `RollBack`
//! transition, the audit event, the restored runtime-memory versions and the binder envelope
//! (signal `fail`, the `failure_reason_code`). The envelope goes to the binder right after.
//!
//! Crash safety: the intent (`rollback_intents`, with its owner) is committed BEFORE the ref
//! moves. [`reconcile`] (run before every rollback, and by `oxide status`) finishes a pending
//! intent of a dead owner whose revert commit the ref holds (or has moved past) AND verifies
//! (the revert of the recorded promotion on the intent's old head, with its trailers, signed
//! by the intent's lead/maintainer key), and abandons it otherwise. A proposal is rolled back at most once: the transition needs `promoted`, the
//! `rollbacks` row's key is the proposal, and one pending intent per proposal.

use std::collections::BTreeMap;

use git2::{Oid, Repository};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::runtime_memory::{self, MemoryWrite};
use super::RolloutError;
use crate::audit::{self, NewEvent};
use crate::binder::envelope::{
    Action, Envelope, Gate, GateStatus, Signal, Target, TaskSpec, WrapperPolicy,
};
use crate::checks::runs;
use crate::clock::Stamp;
use crate::gitops::promote as gp;
use crate::gitops::revert::{self, RevertTree};
use crate::gitops::GitopsError;
use crate::signing::{sshsig, Registry, Role, SecretKey, Standing};
use crate::workflow::{self, State, Transition};
use crate::workspace::config::FallbackMode;
use crate::{canon, Error, Workspace};

/// Reason code of a rollback after a failed canary.
pub const CANARY_FAILED: &str = "CANARY_FAILED";
/// Reason code of a rollback asked for by a person.
pub const MANUAL_ROLLBACK: &str = "MANUAL_ROLLBACK";

/// What started a rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Trigger {
    /// A person (`oxide rollback ID --reason`, the desktop's Roll back).
    Manual,
    /// The canary run `run` of the promotion failed.
    Canary { run: String },
}

impl Trigger {
    fn as_str(&self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Canary { .. } => "canary",
        }
    }
    fn reason_code(&self) -> &'static str {
        match self {
            Trigger::Manual => MANUAL_ROLLBACK,
            Trigger::Canary { .. } => CANARY_FAILED,
        }
    }
    fn canary_run(&self) -> Option<&str> {
        match self {
            Trigger::Manual => None,
            Trigger::Canary { run } => Some(run),
        }
    }
}

/// What `rollback` did (`{"id", "state", "commit"}` are the CLI contract's keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct RolledBack {
    pub id: String,
    pub state: State,
    /// The signed revert commit now on the target.
    pub commit: String,
    pub failure_reason_code: String,
    pub promotion_commit: String,
    pub person: String,
    pub keyid: String,
    /// Runtime-memory entries written back to their value before the promotion.
    pub memory_restored: Vec<MemoryWrite>,
}

/// The promotion being rolled back, as recorded and as verified in git.
#[derive(Debug, Clone)]
struct Promotion {
    commit: Oid,
    target_ref: String,
}

fn git_err(e: git2::Error) -> Error {
    GitopsError::from(e).into()
}

fn no_promotion(id: &str, why: impl Into<String>) -> Error {
    RolloutError::NoPromotion {
        id: id.to_string(),
        why: why.into(),
    }
    .into()
}

/// SSHSIG (namespace `git`, sha512) of `data` with `key`, armored as git stores it.
pub(crate) fn sshsig_pem(key: &SecretKey, data: &[u8]) -> Result<String, String> {
    sshsig::sign(key, sshsig::GIT_NAMESPACE, data).map_err(|e| e.to_string())
}

/// Who signed commit `oid` (SSHSIG in its `gpgsig` header), verified against the committed
/// registry: (person id, keyid), or why it does not verify.
pub(crate) fn commit_signer(
    repo: &Repository,
    oid: Oid,
    registry: &Registry,
) -> Result<(String, String), String> {
    let (sig, data) = repo
        .extract_signature(&oid, None)
        .map_err(|_| format!("commit {oid} is not signed"))?;
    let armored = sig
        .as_str()
        .ok_or_else(|| format!("commit {oid} has a signature that is not text"))?;
    let keyid = sshsig::verify(armored, sshsig::GIT_NAMESPACE, &data)
        .map_err(|e| format!("the signature of commit {oid} does not verify: {e}"))?
        .keyid;
    let when = repo
        .find_commit(oid)
        .map(|c| c.committer().when().seconds())
        .map_err(|e| e.to_string())?;
    let at = time::OffsetDateTime::from_unix_timestamp(when).map_err(|e| e.to_string())?;
    let standing = registry.lookup(&keyid, at).ok_or_else(|| {
        format!("commit {oid} is signed by key {keyid}, which is not in the committed registry")
    })?;
    if standing.standing != Standing::Valid {
        return Err(format!(
            "commit {oid} is signed by key {keyid} of {}, which was not valid then ({:?})",
            standing.person, standing.standing
        ));
    }
    Ok((standing.person.to_string(), keyid))
}

/// The promotion of `id`: recorded, carrying `Oxide-Proposal: <id>`, signed by a registered
/// key, and in the history of the target head. A database edit cannot invent one.
fn verified_promotion(
    conn: &Connection,
    repo: &Repository,
    registry: &Registry,
    id: &str,
) -> Result<(Promotion, Oid), Error> {
    let recorded = super::reconcile::promotion(conn, id)?
        .ok_or_else(|| no_promotion(id, "no promotion is recorded"))?;
    let (commit, target_ref) = (recorded.commit, recorded.target_ref);
    let oid = Oid::from_str(&commit).map_err(|_| {
        no_promotion(
            id,
            format!("the recorded commit '{commit}' is not an object id"),
        )
    })?;
    let c = repo.find_commit(oid).map_err(|_| {
        no_promotion(
            id,
            format!("the promotion commit {commit} is not in the repository"),
        )
    })?;
    let msg = c.message().unwrap_or_default();
    if revert::trailer(msg, "Oxide-Proposal").as_deref() != Some(id) {
        return Err(no_promotion(
            id,
            format!("commit {commit} does not carry the trailer `Oxide-Proposal: {id}`"),
        ));
    }
    commit_signer(repo, oid, registry).map_err(|why| no_promotion(id, why))?;
    let head = repo
        .refname_to_id(&target_ref)
        .map_err(|_| no_promotion(id, format!("the target {target_ref} does not exist")))?;
    if !revert::reachable(repo, oid, head)? {
        return Err(no_promotion(
            id,
            format!("the promotion commit {commit} is not in the history of {target_ref} ({head})"),
        ));
    }
    Ok((
        Promotion {
            commit: oid,
            target_ref,
        },
        head,
    ))
}

/// May `person` roll back, and with which key? Lead or maintainer in the committed registry,
/// holding a keyring key that is a valid registered key of theirs.
pub(crate) fn rollback_signer(
    registry: &Registry,
    person: &str,
    now: time::OffsetDateTime,
) -> Result<SecretKey, Error> {
    let roles = registry.roles_of(person);
    if !roles
        .iter()
        .any(|r| matches!(r, Role::Lead | Role::Maintainer))
    {
        return Err(RolloutError::RollbackRole {
            person: person.to_string(),
            roles: if roles.is_empty() {
                "no role (not in the registry)".into()
            } else {
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        }
        .into());
    }
    let key = crate::signing::keys::person_key(person)?;
    let bad = |why: String| -> Error {
        RolloutError::SignerNotRegistered {
            person: person.to_string(),
            keyid: key.keyid().to_string(),
            why,
        }
        .into()
    };
    match registry.lookup(key.keyid(), now) {
        None => return Err(bad("not registered".into())),
        Some(s) if s.person != person => {
            return Err(bad(format!("it is registered to {}", s.person)))
        }
        Some(s) if s.standing != Standing::Valid => return Err(bad(format!("{:?}", s.standing))),
        Some(_) => {}
    }
    Ok(key)
}

/// The author/committer of commits signed by `person`: the registry name, `<id>@oxide.invalid`.
pub(crate) fn identity(
    registry: &Registry,
    person: &str,
    now: time::OffsetDateTime,
) -> Result<git2::Signature<'static>, Error> {
    let name = registry
        .person(person)
        .map_or(person.to_string(), |p| p.name.clone());
    // git records whole seconds and checks the key's `valid-after` (rounded up to a whole
    // second in allowed_signers) against them: round up too, so a key made a moment ago is
    // already valid at the commit's time.
    let secs = now.unix_timestamp() + i64::from(now.nanosecond() > 0);
    git2::Signature::new(
        &name,
        &format!("{person}@oxide.invalid"),
        &git2::Time::new(secs, 0),
    )
    .map_err(git_err)
}

/// A pending intent, as journaled.
#[derive(Debug, Clone)]
struct Intent {
    id: i64,
    proposal: String,
    target_ref: String,
    old_head: String,
    new_head: String,
    promotion_commit: String,
    person: String,
    keyid: String,
    trigger: String,
    failure_reason_code: String,
    reason: String,
    canary_run: Option<String>,
}

const INTENT_COLS: &str = "id, proposal_id, target_ref, old_head, new_head, promotion_commit,
    person, keyid, trigger, failure_reason_code, reason, canary_run";

fn intent_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Intent> {
    Ok(Intent {
        id: r.get(0)?,
        proposal: r.get(1)?,
        target_ref: r.get(2)?,
        old_head: r.get(3)?,
        new_head: r.get(4)?,
        promotion_commit: r.get(5)?,
        person: r.get(6)?,
        keyid: r.get(7)?,
        trigger: r.get(8)?,
        failure_reason_code: r.get(9)?,
        reason: r.get(10)?,
        canary_run: r.get(11)?,
    })
}

fn wrapper_policy(m: FallbackMode) -> WrapperPolicy {
    match m {
        FallbackMode::Strict => WrapperPolicy::Strict,
        FallbackMode::Hybrid => WrapperPolicy::Hybrid,
        FallbackMode::Lenient => WrapperPolicy::Lenient,
    }
}

/// The binder's record of a rollback: a failed promotion of this proposal's skill, with the
/// reason code (so repeated rollbacks of a skill's changes meet in one capsule).
fn envelope(it: &Intent, skill: &str, policy: WrapperPolicy, ts: &str) -> Envelope {
    let mut env = BTreeMap::new();
    env.insert("runner".to_string(), Value::from("oxide-rollout/1"));
    env.insert("os".to_string(), Value::from(std::env::consts::OS));
    env.insert("trigger".to_string(), Value::from(it.trigger.clone()));
    let gate = if it.trigger == "canary" {
        "canary"
    } else {
        "rollback"
    };
    let mut evidence = vec![
        format!("git:{}", it.promotion_commit),
        format!("git:{}", it.new_head),
        format!("oxide:rollback/{}", it.proposal),
    ];
    if let Some(run) = &it.canary_run {
        evidence.push(format!("oxide:canary/{run}"));
    }
    Envelope {
        envelope_version: None,
        event_id: format!("rollback/{}", it.proposal),
        sequence: 1,
        run_id: format!("rollback/{}", it.proposal),
        group_id: it.proposal.clone(),
        task_id: "rollback".into(),
        signal: Signal::Fail,
        wrapper_policy: policy,
        taskspec: TaskSpec {
            scope: "promote".into(),
            target: Target {
                kind: "skill".into(),
                id: skill.to_string(),
            },
            action: Action {
                kind: "promote".into(),
            },
            failure_reason_code: Some(it.failure_reason_code.clone()),
        },
        policy_reason_code: None,
        reason_code: None,
        gates: vec![Gate {
            name: gate.into(),
            version: "1".into(),
            status: GateStatus::Fail,
        }],
        env,
        evidence_refs: evidence,
        observed_at: ts.to_string(),
    }
}

/// When the target is checked out in the main worktree: brings the files the revert changed
/// to the revert commit, but only those still holding exactly the content they had at the old
/// head (nobody edited them; anything else is left alone). Idempotent: a file already updated
/// no longer holds the old content.
fn update_checkout(repo: &Repository, it: &Intent) -> Result<(), Error> {
    let git = |e: git2::Error| Error::from(GitopsError::from(e));
    if !gp::checked_out(repo, &it.target_ref) {
        return Ok(());
    }
    let (Ok(old), Ok(new)) = (Oid::from_str(&it.old_head), Oid::from_str(&it.new_head)) else {
        return Ok(());
    };
    let old_tree = repo.find_commit(old).map_err(git)?.tree().map_err(git)?;
    let new_tree = repo.find_commit(new).map_err(git)?.tree_id();
    let root = repo.workdir().unwrap_or(repo.path()).to_path_buf();
    let mut safe = Vec::new();
    for c in gp::tree_changes(repo, old_tree.id(), new_tree)? {
        let p = std::path::Path::new(&c.path);
        let on_disk = std::fs::read(root.join(p)).ok();
        let at_old = old_tree
            .get_path(p)
            .ok()
            .and_then(|e| repo.find_blob(e.id()).ok())
            .map(|b| b.content().to_vec());
        if on_disk == at_old {
            safe.push(c.path);
        }
    }
    gp::checkout_paths(repo, new_tree, &safe)?;
    Ok(())
}

/// The one transaction that records a rollback whose revert commit the ref holds: memory
/// restores, the transition, the audit event, the rollbacks row with its envelope, the intent
/// done. `Ok(None)`: the intent was no longer pending (someone else finished it).
fn finish(ws: &mut Workspace, it: &Intent) -> Result<Option<RolledBack>, Error> {
    let repo = Repository::open(ws.root()).map_err(git_err)?;
    update_checkout(&repo, it)?;
    let ts = ws.clock().now_rfc3339();
    let policy = wrapper_policy(ws.settings()?.binder.fallback_mode);
    let row = workflow::require(ws.store().conn(), &it.proposal)?;
    let skill = row
        .skill_id
        .clone()
        .unwrap_or_else(|| row.bundle.skill_digest.clone());
    let env = envelope(it, &skill, policy, &ts);
    let out = ws
        .store_mut()
        .write(|tx| -> Result<Option<RolledBack>, Error> {
            let status: String = tx.query_row(
                "SELECT status FROM rollback_intents WHERE id = ?1",
                params![it.id],
                |r| r.get(0),
            )?;
            if status != "pending" {
                return Ok(None);
            }
            let stamp = Stamp::new(&it.person, &ts);
            // The entries the promotion wrote, back to their value before; an entry someone
            // changed since keeps that change (listed in the audit event).
            let (plan, conflicts) = match runtime_memory::restore_plan(tx, &it.proposal) {
                Ok(plan) => (plan, Vec::new()),
                Err(Error::Rollout(e @ RolloutError::MemoryConflict { .. })) => {
                    (Vec::new(), vec![e.to_string()])
                }
                Err(e) => return Err(e),
            };
            let restored = runtime_memory::restore_in_tx(tx, &plan, &it.proposal, &it.person, &ts)?;
            let rec = workflow::roll_back(
                tx,
                &it.proposal,
                &it.failure_reason_code,
                &it.new_head,
                &stamp,
            )?;
            if !rec.passed() {
                return Err(workflow::WorkflowError::Raced {
                    id: it.proposal.clone(),
                    from: State::Promoted,
                }
                .into());
            }
            let ev = audit::append(
                tx,
                NewEvent {
                    actor: &it.person,
                    kind: "rollout.rolled_back",
                    subject: &it.proposal,
                    payload: json!({
                        "revert_commit": it.new_head,
                        "promotion_commit": it.promotion_commit,
                        "target_ref": it.target_ref,
                        "old_head": it.old_head,
                        "person": it.person,
                        "keyid": it.keyid,
                        "trigger": it.trigger,
                        "failure_reason_code": it.failure_reason_code,
                        "reason": it.reason,
                        "canary_run": it.canary_run,
                        "memory_restored": restored,
                        "memory_conflicts": conflicts,
                    }),
                },
                &ts,
            )?;
            tx.execute(
                "INSERT INTO rollbacks (proposal_id, target_ref, promotion_commit, old_head,
                 revert_commit, person, keyid, trigger, failure_reason_code, reason, canary_run,
                 memory_restored, envelope, at, audit_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                params![
                    it.proposal,
                    it.target_ref,
                    it.promotion_commit,
                    it.old_head,
                    it.new_head,
                    it.person,
                    it.keyid,
                    it.trigger,
                    it.failure_reason_code,
                    it.reason,
                    it.canary_run,
                    canon::canonical_string(&restored)?,
                    canon::canonical_string(&env)?,
                    ts,
                    ev.seq
                ],
            )?;
            tx.execute(
                "UPDATE rollback_intents SET status = 'done' WHERE id = ?1",
                params![it.id],
            )?;
            Ok(Some(RolledBack {
                id: it.proposal.clone(),
                state: State::RolledBack,
                commit: it.new_head.clone(),
                failure_reason_code: it.failure_reason_code.clone(),
                promotion_commit: it.promotion_commit.clone(),
                person: it.person.clone(),
                keyid: it.keyid.clone(),
                memory_restored: restored,
            }))
        })?;
    ingest_pending(ws, &it.person)?;
    Ok(out)
}

/// Hands rollback envelopes the binder has not taken yet to it, then marks them (idempotent:
/// a crash in between re-ingests a duplicate the binder recognises).
pub fn ingest_pending(ws: &mut Workspace, actor: &str) -> Result<u64, Error> {
    let pending: Vec<(String, String)> = {
        let mut stmt = ws.store().conn().prepare(
            "SELECT proposal_id, envelope FROM rollbacks WHERE ingested = 0 ORDER BY audit_seq",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    if pending.is_empty() {
        return Ok(0);
    }
    let mut jsonl = String::new();
    for (_, env) in &pending {
        jsonl.push_str(env);
        jsonl.push('\n');
    }
    let fallback = ws.settings()?.binder.fallback_mode;
    let ts = ws.clock().now_rfc3339();
    let source = format!("oxide-rollback:{}", pending[0].0);
    let opts = crate::binder::IngestOptions::new(&source, actor, fallback, &ts);
    crate::binder::ingest::ingest_reader(ws.store_mut(), jsonl.as_bytes(), &opts)?;
    ws.store_mut().write(|tx| -> Result<(), Error> {
        for (id, _) in &pending {
            tx.execute(
                "UPDATE rollbacks SET ingested = 1 WHERE proposal_id = ?1",
                params![id],
            )?;
        }
        Ok(())
    })?;
    Ok(pending.len() as u64)
}

/// Is the intent's `new_head` the rollback it claims to be? A revert commit whose only parent
/// is the intent's `old_head`, whose tree is the revert of the recorded (and verified)
/// promotion on that head, with the trailers `rollback` writes naming that promotion, the
/// proposal, the reason code and the person, signed (SSHSIG) by a key the committed registry
/// gives that person, equal to the intent's keyid, while they hold `lead` or `maintainer`.
/// A row written into the database by hand names no such commit: `Err(why)`.
fn verify_revert(ws: &Workspace, repo: &Repository, it: &Intent) -> Result<(), String> {
    let registry = Registry::committed(ws).map_err(|e| e.to_string())?;
    let (promo, _) = verified_promotion(ws.store().conn(), repo, &registry, &it.proposal)
        .map_err(|e| e.to_string())?;
    if promo.commit.to_string() != it.promotion_commit || promo.target_ref != it.target_ref {
        return Err(format!(
            "the intent names promotion {} on {}, but the recorded promotion is {} on {}",
            it.promotion_commit, it.target_ref, promo.commit, promo.target_ref
        ));
    }
    let new =
        Oid::from_str(&it.new_head).map_err(|_| format!("'{}' is not a commit id", it.new_head))?;
    let c = repo
        .find_commit(new)
        .map_err(|_| format!("commit {new} is not in the repository"))?;
    let old = c.parent_ids().collect::<Vec<_>>();
    if old.len() != 1 || old[0].to_string() != it.old_head {
        return Err(format!(
            "commit {new} does not have the one parent {} the intent names",
            it.old_head
        ));
    }
    let msg = c.message().unwrap_or_default();
    for (key, want) in [
        ("Oxide-Rollback-Of", it.promotion_commit.as_str()),
        ("Oxide-Proposal", it.proposal.as_str()),
        ("Oxide-Reason-Code", it.failure_reason_code.as_str()),
        ("Oxide-Rolled-Back-By", it.person.as_str()),
    ] {
        if revert::trailer(msg, key).as_deref() != Some(want) {
            return Err(format!("commit {new} does not carry `{key}: {want}`"));
        }
    }
    match revert::revert_tree(repo, promo.commit, old[0]).map_err(|e| e.to_string())? {
        RevertTree::Clean(t) if t == c.tree_id() => {}
        _ => {
            return Err(format!(
                "commit {new} is not the revert of {} on {}",
                promo.commit, old[0]
            ))
        }
    }
    let (person, keyid) = commit_signer(repo, new, &registry)?;
    if person != it.person || keyid != it.keyid {
        return Err(format!(
            "commit {new} is signed by {person} with key {keyid}, not by {} with key {}",
            it.person, it.keyid
        ));
    }
    if !registry
        .roles_of(&person)
        .iter()
        .any(|r| matches!(r, Role::Lead | Role::Maintainer))
    {
        return Err(format!("{person} is neither a lead nor a maintainer"));
    }
    Ok(())
}

/// Finishes or abandons the pending rollback intents of dead owners (see the module docs),
/// and hands envelopes not yet ingested to the binder. Returns the proposals finished. An
/// intent is finished only when the ref holds (or has moved past) its revert commit AND that
/// commit verifies ([`verify_revert`]); anything else is abandoned (audited, by `actor`) and
/// changes nothing else.
#[tracing::instrument(name = "rollout.reconcile_rollbacks", skip_all)]
pub fn reconcile_rollbacks(ws: &mut Workspace, actor: &str) -> Result<Vec<String>, Error> {
    let pending: Vec<(Intent, i64, i64, String)> = {
        let mut stmt = ws.store().conn().prepare(&format!(
            "SELECT {INTENT_COLS}, pid, owner_start, owner_token FROM rollback_intents
             WHERE status = 'pending' ORDER BY id"
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok((intent_row(r)?, r.get(12)?, r.get(13)?, r.get(14)?))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let mut finished = Vec::new();
    if !pending.is_empty() {
        let repo = Repository::open(ws.root()).map_err(git_err)?;
        for (it, pid, start, token) in pending {
            if runs::is_live(pid, Some(start), Some(&token)) {
                continue;
            }
            let tip = repo.refname_to_id(&it.target_ref).ok();
            let moved = match (Oid::from_str(&it.new_head), tip) {
                (Ok(new), Some(t)) => revert::reachable(&repo, new, t).unwrap_or(false),
                _ => false,
            };
            let why = if moved {
                match verify_revert(ws, &repo, &it) {
                    Ok(()) => {
                        if finish(ws, &it)?.is_some() {
                            finished.push(it.proposal.clone());
                        }
                        continue;
                    }
                    Err(why) => format!("the ref holds the commit, but it is not a signed rollback of this intent: {why}"),
                }
            } else {
                "the ref never moved to the revert commit".to_string()
            };
            tracing::warn!(intent = it.id, proposal = %it.proposal, %why, "rollback intent abandoned");
            let ts = ws.clock().now_rfc3339();
            ws.store_mut().write(|tx| -> Result<(), Error> {
                let n = tx.execute(
                    "UPDATE rollback_intents SET status = 'abandoned'
                     WHERE id = ?1 AND status = 'pending'",
                    params![it.id],
                )?;
                if n == 1 {
                    audit::append(
                        tx,
                        NewEvent {
                            actor,
                            kind: "rollout.rollback_abandoned",
                            subject: &it.proposal,
                            payload: json!({"intent": it.id, "revert_commit": it.new_head,
                                            "target_ref": it.target_ref,
                                            "person": it.person,
                                            "found": tip.map(|t| t.to_string()),
                                            "why": why}),
                        },
                        &ts,
                    )?;
                }
                Ok(())
            })?;
        }
    }
    ingest_pending(ws, actor)?;
    Ok(finished)
}

/// Rolls back the promotion of proposal `id` as `person` (see the module docs). Refused (exit
/// 3, nothing changed) when the proposal is not promoted, its promotion does not verify, the
/// person may not roll back, or the revert does not apply on the current target head.
#[tracing::instrument(name = "rollout.rollback", skip_all, fields(proposal = id))]
pub fn rollback(
    ws: &mut Workspace,
    id: &str,
    person: &str,
    reason: &str,
    trigger: Trigger,
) -> Result<RolledBack, Error> {
    super::reconcile(ws, person)?;
    let row = workflow::require(ws.store().conn(), id)?;
    let id = row.id.clone();
    if reason.trim().is_empty() {
        return Err(RolloutError::ReasonRequired.into());
    }
    workflow::check_legal(ws.store().conn(), &id, Transition::RollBack)?;
    let now = ws.clock().now();
    let registry = Registry::committed(ws)?;
    let key = rollback_signer(&registry, person, now)?;
    let repo = Repository::open(ws.root()).map_err(git_err)?;
    let (promo, head) = verified_promotion(ws.store().conn(), &repo, &registry, &id)?;
    // Refused before anything is written when an entry changed after the promotion.
    runtime_memory::restore_plan(ws.store().conn(), &id)?;
    let tree = match revert::revert_tree(&repo, promo.commit, head)? {
        RevertTree::Clean(t) => t,
        RevertTree::Conflict(paths) => {
            return Err(RolloutError::RevertConflict {
                commit: promo.commit.to_string(),
                head: head.to_string(),
                paths: paths.join(", "),
            }
            .into())
        }
    };
    let code = trigger.reason_code();
    let title = repo
        .find_commit(promo.commit)
        .ok()
        .and_then(|c| c.summary().map(str::to_string))
        .unwrap_or_default();
    let title = title.strip_prefix("oxide: promote ").unwrap_or(&title);
    let message = format!(
        "oxide: roll back {title}\n\nThis reverts commit {promo}.\n\nReason: {reason}\n\n\
         Oxide-Rollback-Of: {promo}\nOxide-Proposal: {id}\nOxide-Reason-Code: {code}\n\
         Oxide-Rolled-Back-By: {person}\n",
        promo = promo.commit,
        reason = reason.trim(),
    );
    // A checked-out target with local edits the revert would overwrite: refused first.
    if gp::checked_out(&repo, &promo.target_ref) {
        let head_tree = repo.find_commit(head).map_err(git_err)?.tree_id();
        let paths: Vec<String> = gp::tree_changes(&repo, head_tree, tree)?
            .into_iter()
            .map(|c| c.path)
            .collect();
        let dirty = gp::dirty_paths(&repo, &paths)?;
        if !dirty.is_empty() {
            return Err(RolloutError::WorktreeDirty {
                id: id.clone(),
                paths: dirty.join(", "),
            }
            .into());
        }
    }
    // Signed before the journal, and that order is safe: the journal must name the commit
    // the ref will hold (recovery recognises it by id), which only exists once signed; every
    // gate deciding whether this person may revert this promotion here (role and key in the
    // committed registry, the verified promotion, the memory plan, a clean revert, a clean
    // checkout) has passed above. What follows only decides whether THIS attempt lands (no
    // other rollback pending, the head unmoved); a commit left behind when it does not is
    // still a valid rollback by an authorised signer, never something the gates refused.
    // The busy check is made here too, so a concurrent rollback does not even get signed.
    let busy: Option<i64> = ws
        .store()
        .conn()
        .query_row(
            "SELECT pid FROM rollback_intents WHERE proposal_id = ?1 AND status = 'pending'",
            params![id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(pid) = busy {
        return Err(RolloutError::RollbackBusy {
            id: id.clone(),
            pid,
        }
        .into());
    }
    let who = identity(&registry, person, now)?;
    let new = revert::signed_commit(&repo, tree, head, &message, &who, &mut |buf| {
        sshsig_pem(&key, buf.as_bytes())
    })?;

    // The journal, committed before the ref moves.
    let (owner, _live) = runs::claim().map_err(|e| RolloutError::Io {
        what: "recording the owner of the rollback".into(),
        why: e.to_string(),
    })?;
    let ts = ws.clock().now_rfc3339();
    let intent_id = ws.store_mut().write(|tx| -> Result<i64, Error> {
        let busy: Option<i64> = tx
            .query_row(
                "SELECT pid FROM rollback_intents WHERE proposal_id = ?1 AND status = 'pending'",
                params![id],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(pid) = busy {
            return Err(RolloutError::RollbackBusy {
                id: id.clone(),
                pid,
            }
            .into());
        }
        tx.execute(
            "INSERT INTO rollback_intents (proposal_id, target_ref, old_head, new_head,
                 promotion_commit, person, keyid, trigger, failure_reason_code, reason,
                 canary_run, pid, owner_start, owner_token, at, status)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 'pending')",
            params![
                id,
                promo.target_ref,
                head.to_string(),
                new.to_string(),
                promo.commit.to_string(),
                person,
                key.keyid(),
                trigger.as_str(),
                code,
                reason.trim(),
                trigger.canary_run(),
                owner.pid,
                owner.start,
                owner.token,
                ts
            ],
        )?;
        Ok(tx.last_insert_rowid())
    })?;
    let it: Intent = ws.store().conn().query_row(
        &format!("SELECT {INTENT_COLS} FROM rollback_intents WHERE id = ?1"),
        params![intent_id],
        intent_row,
    )?;

    // The ref, compare-and-swap.
    if !revert::cas_ref(
        &repo,
        &promo.target_ref,
        new,
        head,
        &format!("oxide: roll back proposal {id}"),
    )? {
        let found = repo
            .refname_to_id(&promo.target_ref)
            .map(|o| o.to_string())
            .unwrap_or_else(|_| "nothing".into());
        ws.store_mut().write(|tx| -> Result<(), Error> {
            tx.execute(
                "UPDATE rollback_intents SET status = 'abandoned' WHERE id = ?1 AND status = 'pending'",
                params![intent_id],
            )?;
            Ok(())
        })?;
        return Err(RolloutError::RollbackRaced {
            target: promo.target_ref,
            expected: head.to_string(),
            found,
        }
        .into());
    }
    let done = finish(ws, &it)?.ok_or_else(|| RolloutError::Io {
        what: format!("recording the rollback of {id}"),
        why: "its intent was taken over by another process".into(),
    })?;
    // A signed checkpoint of the audit log after every rollback (DESIGN12).
    let now = ws.clock().now();
    if let Err(e) = crate::signing::checkpoint::create(ws.store().conn(), now) {
        tracing::warn!(error = %e, "could not sign an audit checkpoint after the rollback");
    }
    Ok(done)
}

/// The rollback of a proposal, if it was rolled back.
pub fn recorded(conn: &Connection, id: &str) -> Result<Option<RolledBack>, Error> {
    let row = conn
        .query_row(
            "SELECT proposal_id, revert_commit, failure_reason_code, promotion_commit, person,
                    keyid, memory_restored
             FROM rollbacks WHERE proposal_id = ?1",
            params![id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            },
        )
        .optional()?;
    Ok(
        row.map(|(id, commit, code, promo, person, keyid, mem)| RolledBack {
            id,
            state: State::RolledBack,
            commit,
            failure_reason_code: code,
            promotion_commit: promo,
            person,
            keyid,
            memory_restored: serde_json::from_str(&mem).unwrap_or_default(),
        }),
    )
}
