//! Team sync through git (orchestrator, above the rooms): `oxide sync [--remote NAME]`.
//!
//! Each device (one database: its device key + its workspace instance key) publishes what it
//! holds under `refs/oxide/devices/<device keyid>/` on the repository's own remote, and reads
//! what the other devices published there. The layout, the endorsement and every trust rule
//! are in docs/sync.md; in short:
//!
//! - **Nothing received is trusted before it verifies.** A device counts only through an
//!   endorsement by a person key of the trust registry committed on the target
//!   ([`endorse`]). Its audit segment must chain and end in a checkpoint signed by its device
//!   key; everything else it publishes is listed, by digest, in a manifest signed by that key.
//!   A bundle must hash to its id and carry a signature by the device's endorsed instance
//!   key, and its branch must be the commit the bundle makes. A validation run counts as
//!   evidence because the endorsed device signed it (its checks keep their run id, which
//!   approvals bind). Approvals go through `approval::submit` (`signing::verify` against the
//!   committed registry, the two-person rule) exactly like a local one.
//! - **Re-admission keeps the existing gates working:** a synced proposal is admitted here
//!   (`workflow::admit`, same bundle, same id, this workspace's instance key signs it, the
//!   same deterministic branch commit), so `workflow::check_bundle` keeps verifying against
//!   THIS workspace's key.
//! - **Union:** approvals from every device are merged by nonce; nothing is ever removed.
//! - **A promotion already made on the remote wins** ([`promotions`]).
//! - **Refusals** are reported in the result and audited (`sync.refused`, once per distinct
//!   refusal), never applied.

pub mod endorse;
mod publish;
mod receive;
pub mod status;

use std::collections::BTreeMap;

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{self, NewEvent};
use crate::gitops::transport::{self, RefMove};
use crate::signing::registry::Registry;
use crate::signing::{self, KeyPurpose};
use crate::{Error, Workspace};

pub use endorse::Endorsed;
pub use status::{status, Arrival, SyncStatus, DEFAULT_REMOTE};

/// Where this device's refs live: `refs/oxide/devices/<keyid>/`.
pub const DEVICES_PREFIX: &str = "refs/oxide/devices/";

/// The largest file a published state may carry (a bundle, an envelope, the audit segment).
pub const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;

/// The most a device's published state may carry in total, and in number of files: read
/// only after its endorsement verified, and refused as a whole beyond this.
pub const MAX_STATE_BYTES: usize = 256 * 1024 * 1024;
pub const MAX_STATE_ENTRIES: usize = 20_000;

/// The largest endorsement.json read (a signed statement of a few hundred bytes).
pub const MAX_ENDORSEMENT_BYTES: usize = 64 * 1024;

/// Errors of the sync orchestrator.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("this device's keys must be endorsed by a person of the trust registry before it can sync: {why}. Pass --person ID (a person with a key in this keyring, registered in the committed .oxide/approvers.toml); nothing was synced")]
    NoEndorser { why: String },
    #[error("the remote name '{0}' is not usable: give the name of a configured git remote (e.g. origin)")]
    BadRemote(String),
    #[error("{0}")]
    Corrupt(String),
    #[error("no synced device has the keyid '{0}': the Timeline's device list (or `oxide audit verify --all-devices`) names the devices this database received")]
    UnknownDevice(String),
}

impl SyncError {
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::NoEndorser { .. } => "SYNC_NO_ENDORSER",
            SyncError::BadRemote(_) => "SYNC_BAD_REMOTE",
            SyncError::Corrupt(_) => "SYNC_CORRUPT",
            SyncError::UnknownDevice(_) => "SYNC_UNKNOWN_DEVICE",
        }
    }

    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            SyncError::NoEndorser { .. }
            | SyncError::BadRemote(_)
            | SyncError::UnknownDevice(_) => crate::ErrorKind::Invalid,
            SyncError::Corrupt(_) => crate::ErrorKind::Internal,
        }
    }
}

/// Stable codes of what a sync refuses (docs/sync.md).
pub mod refusal {
    pub const ENDORSEMENT_INVALID: &str = "SYNC_ENDORSEMENT_INVALID";
    pub const AUDIT_INVALID: &str = "SYNC_AUDIT_INVALID";
    pub const MANIFEST_INVALID: &str = "SYNC_MANIFEST_INVALID";
    pub const STATE_TOO_LARGE: &str = "SYNC_STATE_TOO_LARGE";
    pub const BUNDLE_INVALID: &str = "SYNC_BUNDLE_INVALID";
    /// A publication names an initiator other than its device's endorsed person.
    pub const INITIATOR_MISMATCH: &str = "SYNC_INITIATOR_MISMATCH";
    pub const RUN_INVALID: &str = "SYNC_RUN_INVALID";
    pub const APPROVAL_REFUSED: &str = "SYNC_APPROVAL_REFUSED";
    pub const PROMOTION_UNVERIFIED: &str = "SYNC_PROMOTION_UNVERIFIED";
    pub const PUSH_REFUSED: &str = "SYNC_PUSH_REFUSED";
}

/// One thing a sync did not apply, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Refusal {
    /// The publishing device's keyid (or the ref, for a push).
    pub device: String,
    /// endorsement | audit | manifest | proposal | validation | approval | promotion | push
    pub kind: String,
    /// The proposal id, run id, approval nonce or ref it is about.
    pub item: String,
    pub code: String,
    pub message: String,
}

/// What arrived and was applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Received {
    /// Devices whose endorsement verified.
    pub devices: u64,
    /// Audit events of other devices appended (after their segment verified).
    pub events: u64,
    pub proposals: Vec<String>,
    /// Validation runs imported: `<proposal>/<run id>`.
    pub validations: Vec<String>,
    /// Approvals stored: `<proposal>/<nonce>`.
    pub approvals: Vec<String>,
}

/// The answer of `oxide sync`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SyncReport {
    pub remote: String,
    /// This device's keyid.
    pub device: String,
    /// How many refs this sync moved on the remote.
    pub pushed: u64,
    /// How many remote-tracking refs this sync moved here.
    pub fetched: u64,
    pub pushed_refs: Vec<String>,
    pub fetched_refs: Vec<RefMove>,
    pub received: Received,
    /// Proposals recorded as promoted because the remote's target carries their promotion.
    pub promoted: Vec<String>,
    /// Proposals superseded because they were promoted elsewhere.
    pub superseded: Vec<String>,
    pub refused: Vec<Refusal>,
    /// The target branch here and on the remote after the sync.
    pub target: TargetState,
    pub at: String,
}

/// The target branch on both sides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TargetState {
    pub branch: String,
    pub local: Option<String>,
    pub remote: Option<String>,
    /// Commits here not on the remote / on the remote not here.
    pub ahead: u64,
    pub behind: u64,
}

/// The last sync of this database (the desktop's sync status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct LastSync {
    pub remote: String,
    pub at: String,
    pub pushed: u64,
    pub fetched: u64,
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub report: serde_json::Value,
}

pub(crate) fn git_err(e: git2::Error) -> Error {
    crate::gitops::GitopsError::from(e).into()
}

/// The remote-tracking prefix of remote `r`'s device refs.
fn tracking_prefix(remote: &str) -> String {
    format!("refs/oxide/remotes/{remote}/devices/")
}

fn check_remote_name(remote: &str) -> Result<(), Error> {
    let ok = !remote.is_empty()
        && remote.len() <= 100
        && remote
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !remote.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(SyncError::BadRemote(remote.to_string()).into())
    }
}

/// This device's endorsement: the stored one if it still verifies against the committed
/// registry, else a new one signed by `person` (or the only person key of this database).
fn ensure_endorsed(
    ws: &mut Workspace,
    registry: &Registry,
    person: Option<&str>,
    actor: &str,
) -> Result<Endorsed, Error> {
    let now = ws.clock().now();
    let conn = ws.store().conn();
    // The stored endorsement, when it still verifies for this database's keys (read without
    // making any key).
    let existing = |purpose: KeyPurpose| -> Result<Option<String>, Error> {
        Ok(signing::list(conn)?
            .into_iter()
            .find(|k| k.purpose == purpose)
            .map(|k| k.keyid))
    };
    let (dev_id, inst_id) = (
        existing(KeyPurpose::Device)?,
        existing(KeyPurpose::Instance)?,
    );
    let stored: Option<String> = conn
        .query_row(
            "SELECT endorsement FROM sync_devices WHERE local = 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(env) = &stored {
        if let Ok(e) = endorse::verify(env.as_bytes(), registry, now) {
            if Some(&e.device_keyid) == dev_id.as_ref()
                && Some(&e.instance_keyid) == inst_id.as_ref()
                && person.is_none_or(|p| p == e.person)
            {
                return Ok(e);
            }
        }
    }
    let person =
        match person {
            Some(p) => p.to_string(),
            None => {
                let mine: Vec<String> = signing::list(conn)?
                    .into_iter()
                    .filter(|k| {
                        k.purpose == KeyPurpose::Person
                            && k.rotated_at.is_none()
                            && k.revoked_at.is_none()
                    })
                    .filter_map(|k| k.person)
                    .collect();
                // The person chosen on this device first (who-I-am), as for a proposal's
                // initiator: a device endorsed by someone else than who proposes on it would
                // publish proposals every receiver refuses (SYNC_INITIATOR_MISMATCH).
                let chosen = match signing::whoami::default_file() {
                    Some(f) => signing::whoami::read(&f)?,
                    None => None,
                }
                .filter(|c| mine.contains(c));
                match mine.as_slice() {
                    _ if chosen.is_some() => chosen.unwrap_or_default(),
                    [one] => one.clone(),
                    [] => return Err(SyncError::NoEndorser {
                        why: "this database has no person key (`oxide keys generate --person ID`)"
                            .into(),
                    }
                    .into()),
                    many => {
                        return Err(SyncError::NoEndorser {
                            why: format!(
                                "this database has keys of several persons ({})",
                                many.join(", ")
                            ),
                        }
                        .into())
                    }
                }
            }
        };
    // The endorser's key and standing first: a refusal here writes nothing.
    let key = signing::person_key(&person)?;
    match registry.lookup(key.keyid(), now) {
        Some(k) if k.person == person && matches!(k.standing, signing::Standing::Valid) => {}
        _ => {
            return Err(SyncError::NoEndorser {
                why: format!(
                    "{person}'s keyring key {} is not a valid key of {person} in the committed trust registry",
                    key.keyid()
                ),
            }
            .into())
        }
    }
    let device = signing::device_key(conn, now)?;
    let instance = signing::instance_key(conn, now)?;
    let ts = ws.clock().now_rfc3339();
    let env = endorse::sign(
        &person,
        &key,
        &device.verifying_key(),
        &instance.verifying_key(),
        &ts,
    );
    let e = endorse::verify(env.as_bytes(), registry, now).map_err(|why| SyncError::NoEndorser {
        why: format!("{person}'s endorsement does not verify against the committed trust registry: {why}"),
    })?;
    ws.store_mut().write(|tx| -> Result<(), Error> {
        tx.execute(
            "DELETE FROM sync_devices WHERE local = 1 AND device_keyid <> ?1",
            [&e.device_keyid],
        )?;
        tx.execute(
            "INSERT INTO sync_devices (device_keyid, instance_keyid, device_public, instance_public,
                 person, endorsement, local, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7)
             ON CONFLICT (device_keyid) DO UPDATE SET endorsement = excluded.endorsement,
                 person = excluded.person, instance_keyid = excluded.instance_keyid,
                 instance_public = excluded.instance_public, last_seen = excluded.last_seen",
            params![
                e.device_keyid,
                e.instance_keyid,
                e.predicate.device_public,
                e.predicate.instance_public,
                e.person,
                env,
                ts
            ],
        )?;
        audit::append(
            tx,
            NewEvent {
                actor,
                kind: "sync.device_endorsed",
                subject: &e.device_keyid,
                payload: json!({"person": e.person, "instance_keyid": e.instance_keyid,
                                "endorsement_digest": crate::canon::sha256_bytes(env.as_bytes())}),
            },
            &ts,
        )?;
        Ok(())
    })?;
    Ok(e)
}

/// `oxide sync`: fetch the other devices' state and the remote's target branch, verify and
/// apply what holds, then publish this device's state and push it (and the target branch
/// when it is a fast-forward of the remote's). See the module docs and docs/sync.md.
#[tracing::instrument(name = "sync.run", skip_all, fields(remote))]
pub fn sync(ws: &mut Workspace, remote: &str, person: Option<&str>) -> Result<SyncReport, Error> {
    check_remote_name(remote)?;
    let actor = crate::actor::from_env();
    let repo = git2::Repository::open(ws.root()).map_err(git_err)?;
    // Refuse an unusable remote before anything is written.
    transport::check_remote(&repo, remote)?;
    // A promotion this clone left half-done (crash between the ref and its record) is
    // finished or abandoned first, so what is published and compared is settled.
    crate::rollout::reconcile(ws, &actor)?;
    let target = ws.settings()?.workflow.target_branch;
    let registry = Registry::committed(ws)?;
    let me = ensure_endorsed(ws, &registry, person, &actor)?;

    // 1. Fetch every device's refs and the remote's target branch.
    let tracking = tracking_prefix(remote);
    let target_tracking = format!("refs/remotes/{remote}/{target}");
    let fetched_refs = transport::fetch(
        &repo,
        remote,
        &[
            format!("+{DEVICES_PREFIX}*:{tracking}*"),
            format!("+refs/heads/{target}:{target_tracking}"),
        ],
        &[tracking.clone(), target_tracking.clone()],
    )?;
    // Our own device's refs coming back are not news.
    let own_tracking = format!("{tracking}{}/", me.device_keyid);
    let fetched_refs: Vec<RefMove> = fetched_refs
        .into_iter()
        .filter(|m| !m.name.starts_with(&own_tracking))
        .collect();

    // 2. Verify and apply.
    let mut rx = receive::Receiver::new(ws, &repo, &registry, remote, &me.device_keyid, &actor)?;
    rx.run(ws)?;
    rx.promotions(ws, &target, &target_tracking)?;
    let receive::Outcome {
        received,
        promoted,
        superseded,
        mut refused,
        news,
    } = rx.finish();
    receive::audit_refusals(ws, &refused, &actor)?;
    if news {
        let ts = ws.clock().now_rfc3339();
        ws.store_mut().write(|tx| -> Result<(), Error> {
            audit::append(
                tx,
                NewEvent {
                    actor: &actor,
                    kind: "sync.received",
                    subject: remote,
                    payload: json!({"proposals": received.proposals, "validations": received.validations,
                                    "approvals": received.approvals, "promoted": promoted,
                                    "superseded": superseded, "refused": refused.len()}),
                },
                &ts,
            )?;
            Ok(())
        })?;
    }

    // 3. Publish this device's state (after everything this sync recorded) and push it.
    publish::publish(ws, &repo, &me)?;
    let own_prefix = format!("{DEVICES_PREFIX}{}/", me.device_keyid);
    let mine = transport::refs_under(&repo, &own_prefix)?;
    let theirs = transport::refs_under(&repo, &own_tracking)?;
    let mut specs: Vec<String> = Vec::new();
    for (name, oid) in &mine {
        let t = format!("{own_tracking}{}", &name[own_prefix.len()..]);
        if theirs.get(&t) != Some(oid) {
            specs.push(format!("+{name}:{name}"));
        }
    }
    // The target branch: only a fast-forward of the remote's (never forced).
    let local_target = repo.refname_to_id(&format!("refs/heads/{target}")).ok();
    let remote_target = repo.refname_to_id(&target_tracking).ok();
    if let (Some(l), Some(r)) = (local_target, remote_target) {
        if l != r && repo.graph_descendant_of(l, r).unwrap_or(false) {
            specs.push(format!("refs/heads/{target}:refs/heads/{target}"));
        }
    }
    let transport::Pushed {
        updated: pushed_refs,
        refused: push_refused,
    } = transport::push(&repo, remote, &specs)?;
    for r in &pushed_refs {
        // Mirror what the remote now holds, so the next sync compares against it.
        let (tref, src) = if let Some(rest) = r.strip_prefix(&own_prefix) {
            (format!("{own_tracking}{rest}"), r.clone())
        } else {
            (target_tracking.clone(), format!("refs/heads/{target}"))
        };
        if let Ok(oid) = repo.refname_to_id(&src) {
            repo.reference(&tref, oid, true, "oxide sync: pushed")
                .map_err(git_err)?;
        }
    }
    for (r, why) in push_refused {
        refused.push(Refusal {
            device: me.device_keyid.clone(),
            kind: "push".into(),
            item: r,
            code: refusal::PUSH_REFUSED.into(),
            message: format!("the remote refused the update: {why}"),
        });
    }

    let target_state = target_state(&repo, &target, &target_tracking)?;
    let at = ws.clock().now_rfc3339();
    let report = SyncReport {
        remote: remote.to_string(),
        device: me.device_keyid.clone(),
        pushed: pushed_refs.len() as u64,
        fetched: fetched_refs.len() as u64,
        pushed_refs,
        fetched_refs,
        received,
        promoted,
        superseded,
        refused,
        target: target_state,
        at: at.clone(),
    };
    let text = crate::canon::canonical_string(&report)?;
    ws.store_mut().write(|tx| -> Result<(), Error> {
        tx.execute(
            "INSERT INTO sync_runs (remote, at, pushed, fetched, report) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![remote, at, report.pushed as i64, report.fetched as i64, text],
        )?;
        Ok(())
    })?;
    Ok(report)
}

fn target_state(
    repo: &git2::Repository,
    target: &str,
    tracking: &str,
) -> Result<TargetState, Error> {
    let local = repo.refname_to_id(&format!("refs/heads/{target}")).ok();
    let remote = repo.refname_to_id(tracking).ok();
    let (ahead, behind) = match (local, remote) {
        (Some(l), Some(r)) => repo
            .graph_ahead_behind(l, r)
            .map(|(a, b)| (a as u64, b as u64))
            .map_err(git_err)?,
        _ => (0, 0),
    };
    Ok(TargetState {
        branch: target.to_string(),
        local: local.map(|o| o.to_string()),
        remote: remote.map(|o| o.to_string()),
        ahead,
        behind,
    })
}

/// The newest sync of this database, if any.
pub fn last_sync(ws: &Workspace) -> Result<Option<LastSync>, Error> {
    Ok(ws
        .store()
        .conn()
        .query_row(
            "SELECT remote, at, pushed, fetched, report FROM sync_runs ORDER BY id DESC LIMIT 1",
            [],
            |r| {
                let text: String = r.get(4)?;
                Ok(LastSync {
                    remote: r.get(0)?,
                    at: r.get(1)?,
                    pushed: r.get::<_, i64>(2)? as u64,
                    fetched: r.get::<_, i64>(3)? as u64,
                    report: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
                })
            },
        )
        .optional()?)
}

/// One device's chain as `oxide audit verify --all-devices` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct DeviceVerify {
    pub device: String,
    pub person: String,
    pub ok: bool,
    pub events: u64,
    /// The newest checkpoint's size that verified.
    pub checkpoint: Option<i64>,
    pub first_bad_seq: Option<i64>,
    pub problems: Vec<String>,
}

/// Verifies every remote device's imported chain: the endorsement against the registry
/// committed now, the chain from its first event, and its newest checkpoint (signature by the
/// endorsed device key, root = the stored event's hash at its size).
pub fn verify_devices(ws: &Workspace) -> Result<Vec<DeviceVerify>, Error> {
    let registry = Registry::committed(ws)?;
    let conn = ws.store().conn();
    let mut st = conn.prepare(
        "SELECT device_keyid, person, endorsement FROM sync_devices WHERE local = 0 ORDER BY device_keyid",
    )?;
    let devices = st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    for (device, person, env) in devices {
        out.push(verify_one(ws, &registry, device, person, &env)?);
    }
    Ok(out)
}

/// Verifies one remote device's imported chain as [`verify_devices`] does (the desktop
/// Timeline's verify badge with that device chosen); `SYNC_UNKNOWN_DEVICE` when no synced
/// device has that keyid.
pub fn verify_device(ws: &Workspace, device: &str) -> Result<DeviceVerify, Error> {
    let row: Option<(String, String)> = ws
        .store()
        .conn()
        .query_row(
            "SELECT person, endorsement FROM sync_devices WHERE local = 0 AND device_keyid = ?1",
            [device],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((person, env)) = row else {
        return Err(SyncError::UnknownDevice(device.to_string()).into());
    };
    let registry = Registry::committed(ws)?;
    verify_one(ws, &registry, device.to_string(), person, &env)
}

fn verify_one(
    ws: &Workspace,
    registry: &Registry,
    device: String,
    person: String,
    env: &str,
) -> Result<DeviceVerify, Error> {
    let now = ws.clock().now();
    let conn = ws.store().conn();
    let mut problems = Vec::new();
    let key = match endorse::verify(env.as_bytes(), registry, now) {
        Ok(e) if e.device_keyid == device => Some(e.device_key),
        Ok(_) => {
            problems.push("the stored endorsement names another device".to_string());
            None
        }
        Err(why) => {
            problems.push(format!("the endorsement no longer verifies: {why}"));
            None
        }
    };
    let chain = audit::devices::verify_device(conn, &device)?;
    let mut first_bad = chain.first_bad_seq;
    if let Some(p) = &chain.problem {
        problems.push(p.clone());
    }
    let cp: Option<(i64, String, String)> = conn
        .query_row(
            "SELECT seq, hash, note FROM sync_checkpoints WHERE device_keyid = ?1 ORDER BY seq DESC LIMIT 1",
            [&device],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let mut checkpoint = None;
    match (&cp, &key) {
        (Some((seq, hash, note)), Some(vk)) => match receive::open_checkpoint(note, &device, vk) {
            Ok((size, root)) if size == *seq && root == *hash => {
                match audit::devices::device_event(conn, &device, size)? {
                    Some(e) if e.hash == root => checkpoint = Some(size),
                    _ => {
                        problems.push(format!(
                            "event {size} no longer carries the hash its checkpoint signed"
                        ));
                        first_bad = Some(first_bad.map_or(1, |f: i64| f.min(1)));
                    }
                }
            }
            Ok(_) => problems.push("the checkpoint row disagrees with its signed note".into()),
            Err(why) => problems.push(format!("the checkpoint does not verify: {why}")),
        },
        (None, _) if chain.events > 0 => {
            problems.push("no checkpoint covers the imported events".into())
        }
        _ => {}
    }
    Ok(DeviceVerify {
        ok: problems.is_empty(),
        device,
        person,
        events: chain.events,
        checkpoint,
        first_bad_seq: first_bad,
        problems,
    })
}

/// One device whose audit chain the Timeline can show: this database's own, then each device
/// received through sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct KnownDevice {
    /// The device keyid; `None` for this database when it has no device key yet.
    pub device: Option<String>,
    /// True for this database's own chain.
    pub local: bool,
    /// The person whose registry key endorsed the device when it was received (re-checked
    /// against the registry committed now by [`verify_device`]); `None` for this database
    /// before its first sync.
    pub person: Option<String>,
    /// How many events its chain holds here.
    pub events: u64,
}

/// This database's device first, then every received device (by keyid), each with its
/// endorsing person and its number of events.
pub fn known_devices(ws: &Workspace) -> Result<Vec<KnownDevice>, Error> {
    let conn = ws.store().conn();
    let local_keyid = local_device(ws)?;
    let local_person: Option<String> = conn
        .query_row("SELECT person FROM sync_devices WHERE local = 1", [], |r| {
            r.get(0)
        })
        .optional()?;
    let mut out = vec![KnownDevice {
        device: local_keyid,
        local: true,
        person: local_person,
        events: audit::head(conn)?.map_or(0, |(seq, _)| seq.max(0) as u64),
    }];
    let mut st = conn.prepare(
        "SELECT device_keyid, person FROM sync_devices WHERE local = 0 ORDER BY device_keyid",
    )?;
    let remote = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    for (device, person) in remote {
        let events = audit::devices::device_head(conn, &device)?.map_or(0, |(seq, _)| seq as u64);
        out.push(KnownDevice {
            device: Some(device),
            local: false,
            person: Some(person),
            events,
        });
    }
    Ok(out)
}

/// This database's device keyid (the label of its own events in the merged timeline).
pub fn local_device(ws: &Workspace) -> Result<Option<String>, Error> {
    Ok(signing::list(ws.store().conn())?
        .into_iter()
        .find(|k| k.purpose == KeyPurpose::Device)
        .map(|k| k.keyid))
}

/// Files as a sorted map (what a published state holds).
pub(crate) type Files = BTreeMap<String, Vec<u8>>;

#[cfg(test)]
mod device_list_tests {
    use super::*;
    use crate::clock::Clock;

    #[test]
    fn the_timeline_lists_devices_and_verifies_one_refusing_an_unknown_keyid() {
        let r = tempfile::tempdir().unwrap();
        git2::Repository::init(r.path()).unwrap();
        let data = tempfile::tempdir().unwrap();
        let db = data.path().join("s.sqlite3");
        crate::setup::init(r.path(), Some(&db), "tester", Clock::system()).unwrap();
        let ws = Workspace::open(r.path(), Some(&db)).unwrap();
        let only = known_devices(&ws).unwrap();
        assert_eq!(only.len(), 1, "{only:?}");
        assert!(only[0].local && only[0].person.is_none());
        assert_eq!(only[0].events, 1, "the init event");

        // A device row whose endorsement does not verify, with a chain imported earlier.
        let conn = ws.store().conn();
        let dev = "d".repeat(64);
        conn.execute(
            "INSERT INTO sync_devices VALUES (?1, 'i', 'pub', 'pub', 'alice', 'not an envelope', 0, 't', 't')",
            [&dev],
        )
        .unwrap();
        let chain = audit::list(conn, None, None).unwrap();
        audit::devices::import_device_events(conn, &dev, &chain).unwrap();
        let both = known_devices(&ws).unwrap();
        assert_eq!(both.len(), 2);
        assert_eq!(
            both[1],
            KnownDevice {
                device: Some(dev.clone()),
                local: false,
                person: Some("alice".into()),
                events: 1,
            }
        );
        let v = verify_device(&ws, &dev).unwrap();
        assert!(!v.ok, "{v:?}");
        assert!(
            v.problems.iter().any(|p| p.contains("endorsement")),
            "{v:?}"
        );
        assert_eq!(verify_devices(&ws).unwrap(), vec![v]);
        let e = verify_device(&ws, "nope").unwrap_err();
        assert_eq!(e.code(), "SYNC_UNKNOWN_DEVICE");
        assert!(e.to_string().contains("nope"), "{e}");
    }
}
