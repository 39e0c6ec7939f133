//! Verifying and applying what other devices published (docs/sync.md, "What is checked").
//! Phases, each over every device: endorsements, audit segments and manifests; proposals;
//! validation runs; approvals; then the remote's promotions.

use std::collections::BTreeMap;

use ed25519_dalek::VerifyingKey;
use rusqlite::{params, OptionalExtension};
use serde_json::json;

use super::endorse::{self, Detached, Endorsed};
use super::publish::{self_signed, Manifest, Publication, MANIFEST_TYPE};
use super::{
    refusal, tracking_prefix, Files, Received, Refusal, MAX_ENDORSEMENT_BYTES, MAX_FILE_BYTES,
    MAX_STATE_BYTES, MAX_STATE_ENTRIES,
};
use crate::audit::{self, AuditEvent, NewEvent};
use crate::clock::Stamp;
use crate::gitops::{self, transport, BotIdentity};
use crate::proposal::Bundle;
use crate::signing::note;
use crate::signing::registry::Registry;
use crate::workflow::{self, State};
use crate::{canon, Error, Workspace};

/// Opens a device checkpoint note with exactly that device's key: `(size, root hash)`.
pub fn open_checkpoint(
    text: &str,
    device: &str,
    vk: &VerifyingKey,
) -> Result<(i64, String), String> {
    let n = note::parse(text)?;
    let name = note::key_name(device);
    note::verify(&n, |nm| (nm == name).then_some(*vk))?;
    Ok((n.size, n.root_hash))
}

/// One device whose endorsement and manifest verified.
struct Device {
    endorsed: Endorsed,
    files: Files,
}

/// What receiving did (see `SyncReport`); `news`: something was applied or refused.
pub(super) struct Outcome {
    pub received: Received,
    pub promoted: Vec<String>,
    pub superseded: Vec<String>,
    pub refused: Vec<Refusal>,
    pub news: bool,
}

pub(super) struct Receiver<'r> {
    repo: &'r git2::Repository,
    registry: &'r Registry,
    remote: String,
    me: String,
    actor: String,
    bot: BotIdentity,
    devices: Vec<Device>,
    received: Received,
    promoted: Vec<String>,
    superseded: Vec<String>,
    refused: Vec<Refusal>,
    /// Something was applied (proposals, runs, approvals, promotions, endorsements).
    news: bool,
}

impl<'r> Receiver<'r> {
    pub(super) fn new(
        ws: &Workspace,
        repo: &'r git2::Repository,
        registry: &'r Registry,
        remote: &str,
        me: &str,
        actor: &str,
    ) -> Result<Receiver<'r>, Error> {
        Ok(Receiver {
            repo,
            registry,
            remote: remote.to_string(),
            me: me.to_string(),
            actor: actor.to_string(),
            bot: BotIdentity::from(&ws.settings()?.workflow),
            devices: Vec::new(),
            received: Received::default(),
            promoted: Vec::new(),
            superseded: Vec::new(),
            refused: Vec::new(),
            news: false,
        })
    }

    pub(super) fn finish(self) -> Outcome {
        Outcome {
            news: self.news || !self.refused.is_empty(),
            received: self.received,
            promoted: self.promoted,
            superseded: self.superseded,
            refused: self.refused,
        }
    }

    fn refuse(&mut self, device: &str, kind: &str, item: &str, code: &str, message: String) {
        tracing::warn!(device, kind, item, code, "sync refused");
        self.refused.push(Refusal {
            device: device.to_string(),
            kind: kind.to_string(),
            item: item.to_string(),
            code: code.to_string(),
            message,
        });
    }

    pub(super) fn run(&mut self, ws: &mut Workspace) -> Result<(), Error> {
        let prefix = tracking_prefix(&self.remote);
        let states: Vec<(String, String)> = transport::refs_under(self.repo, &prefix)?
            .into_iter()
            .filter_map(|(name, oid)| {
                let rest = name.strip_prefix(&prefix)?;
                let device = rest.strip_suffix("/state")?;
                (device != self.me && !device.contains('/')).then(|| (device.to_string(), oid))
            })
            .collect();
        for (device, oid) in states {
            self.device(ws, &device, &oid)?;
        }
        let devices = std::mem::take(&mut self.devices);
        for d in &devices {
            self.proposals(ws, d)?;
        }
        for d in &devices {
            self.runs(ws, d)?;
        }
        for d in &devices {
            self.approvals(ws, d)?;
        }
        self.devices = devices;
        Ok(())
    }

    /// Endorsement, audit segment, manifest.
    fn device(&mut self, ws: &mut Workspace, device: &str, oid: &str) -> Result<(), Error> {
        // The endorsement first, read alone and small: nothing else of an unendorsed device's
        // state is loaded.
        let env =
            match transport::read_file(self.repo, oid, "endorsement.json", MAX_ENDORSEMENT_BYTES) {
                Ok(Some(env)) => env,
                Ok(None) => {
                    self.refuse(
                        device,
                        "endorsement",
                        device,
                        refusal::ENDORSEMENT_INVALID,
                        "the device published no endorsement.json".into(),
                    );
                    return Ok(());
                }
                Err(e) => {
                    self.refuse(
                        device,
                        "endorsement",
                        device,
                        refusal::ENDORSEMENT_INVALID,
                        e.to_string(),
                    );
                    return Ok(());
                }
            };
        let env = &env;
        let now = ws.clock().now();
        let endorsed = match endorse::verify(env, self.registry, now) {
            Ok(e) if e.device_keyid == device => e,
            Ok(e) => {
                self.refuse(
                    device,
                    "endorsement",
                    device,
                    refusal::ENDORSEMENT_INVALID,
                    format!(
                        "the endorsement is for device {}, published under {device}",
                        e.device_keyid
                    ),
                );
                return Ok(());
            }
            Err(why) => {
                self.refuse(
                    device,
                    "endorsement",
                    device,
                    refusal::ENDORSEMENT_INVALID,
                    why,
                );
                return Ok(());
            }
        };
        let limits = transport::ReadLimits {
            max_file_bytes: MAX_FILE_BYTES,
            max_total_bytes: MAX_STATE_BYTES,
            max_entries: MAX_STATE_ENTRIES,
        };
        let files = match transport::read_files(self.repo, oid, limits) {
            Ok(f) => f,
            Err(e) => {
                let code = match e {
                    crate::gitops::GitopsError::TooLarge(_) => refusal::STATE_TOO_LARGE,
                    _ => refusal::MANIFEST_INVALID,
                };
                self.refuse(
                    device,
                    "manifest",
                    device,
                    code,
                    format!("{e}; nothing of this device's state was applied"),
                );
                return Ok(());
            }
        };
        if files.get("endorsement.json") != Some(env) {
            self.refuse(
                device,
                "endorsement",
                device,
                refusal::ENDORSEMENT_INVALID,
                "endorsement.json changed while the state was read".into(),
            );
            return Ok(());
        }
        let ts = ws.clock().now_rfc3339();
        let env_text = String::from_utf8_lossy(env).to_string();
        let known: Option<String> = ws
            .store()
            .conn()
            .query_row(
                "SELECT endorsement FROM sync_devices WHERE device_keyid = ?1",
                [device],
                |r| r.get(0),
            )
            .optional()?;
        if known.as_deref() != Some(env_text.as_str()) {
            let e = &endorsed;
            let actor = self.actor.clone();
            ws.store_mut().write(|tx| -> Result<(), Error> {
                tx.execute(
                    "INSERT INTO sync_devices (device_keyid, instance_keyid, device_public, instance_public,
                         person, endorsement, local, first_seen, last_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?7)
                     ON CONFLICT (device_keyid) DO UPDATE SET endorsement = excluded.endorsement,
                         person = excluded.person, instance_keyid = excluded.instance_keyid,
                         instance_public = excluded.instance_public, last_seen = excluded.last_seen
                     WHERE local = 0",
                    params![e.device_keyid, e.instance_keyid, e.predicate.device_public,
                            e.predicate.instance_public, e.person, env_text, ts],
                )?;
                audit::append(
                    tx,
                    NewEvent {
                        actor: &actor,
                        kind: "sync.device_trusted",
                        subject: &e.device_keyid,
                        payload: json!({"person": e.person, "instance_keyid": e.instance_keyid,
                                        "endorsement_digest": canon::sha256_bytes(env_text.as_bytes())}),
                    },
                    &ts,
                )?;
                Ok(())
            })?;
            self.news = true;
        }
        self.received.devices += 1;

        // The audit segment: its own signature (the checkpoint), independent of the manifest.
        if let Err(why) = self.audit_segment(ws, &endorsed, &files)? {
            self.refuse(device, "audit", device, refusal::AUDIT_INVALID, why);
        }

        // The manifest covers everything else.
        match check_manifest(&endorsed, &files) {
            Ok(()) => self.devices.push(Device { endorsed, files }),
            Err(why) => self.refuse(device, "manifest", device, refusal::MANIFEST_INVALID, why),
        }
        Ok(())
    }

    /// `Ok(Err(why))`: refused, nothing imported.
    fn audit_segment(
        &mut self,
        ws: &mut Workspace,
        d: &Endorsed,
        files: &Files,
    ) -> Result<Result<(), String>, Error> {
        let (Some(events), Some(cp)) = (
            files.get("audit/events.jsonl"),
            files.get("audit/checkpoint"),
        ) else {
            return Ok(Err(
                "the device published no audit segment (audit/events.jsonl and audit/checkpoint)"
                    .into(),
            ));
        };
        let cp = String::from_utf8_lossy(cp).to_string();
        let (size, root) = match open_checkpoint(&cp, &d.device_keyid, &d.device_key) {
            Ok(x) => x,
            Err(why) => {
                return Ok(Err(format!(
                    "the audit checkpoint is not signed by the endorsed device key {}: {why}",
                    d.device_keyid
                )))
            }
        };
        let mut parsed: Vec<AuditEvent> = Vec::new();
        for (i, line) in events.split(|b| *b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            match serde_json::from_slice(line) {
                Ok(e) => parsed.push(e),
                Err(e) => {
                    return Ok(Err(format!(
                        "line {} of audit/events.jsonl is not an audit event: {e}",
                        i + 1
                    )))
                }
            }
        }
        if let Err((seq, why)) = audit::devices::check_segment(None, &parsed) {
            return Ok(Err(format!(
                "the audit segment does not chain at event {seq}: {why}"
            )));
        }
        let last = parsed.last().map(|e| (e.seq, e.hash.clone()));
        if last.as_ref().map(|(s, h)| (*s, h.as_str())) != Some((size, root.as_str())) {
            return Ok(Err(format!(
                "the signed checkpoint covers event {size} with root {root}, but the segment ends at {}: the segment or the checkpoint was altered",
                last.map_or("no event".to_string(), |(s, h)| format!("event {s} with hash {h}"))
            )));
        }
        let conn = ws.store().conn();
        let head = audit::devices::device_head(conn, &d.device_keyid)?;
        if let Some((m, h)) = &head {
            match parsed.get((*m - 1) as usize) {
                Some(e) if &e.hash == h => {}
                _ => {
                    return Ok(Err(format!(
                        "the segment rewrites this device's history already received (event {m} had hash {h})"
                    )))
                }
            }
        }
        let from = head.map_or(0, |(m, _)| m as usize);
        if from >= parsed.len() {
            return Ok(Ok(()));
        }
        let fresh = &parsed[from..];
        let ts = ws.clock().now_rfc3339();
        let device = d.device_keyid.clone();
        let n = ws.store_mut().write(|tx| -> Result<u64, Error> {
            let n = audit::devices::import_device_events(tx, &device, fresh)?;
            tx.execute(
                "INSERT INTO sync_checkpoints (device_keyid, seq, hash, note, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                params![device, size, root, cp, ts],
            )?;
            Ok(n)
        })?;
        self.received.events += n;
        Ok(Ok(()))
    }

    fn proposals(&mut self, ws: &mut Workspace, d: &Device) -> Result<(), Error> {
        let device = d.endorsed.device_keyid.clone();
        let ids: Vec<String> = d
            .files
            .keys()
            .filter_map(|p| {
                p.strip_prefix("proposals/")?
                    .strip_suffix("/bundle.json")
                    .map(str::to_string)
            })
            .collect();
        for id in ids {
            if workflow::rows::get(ws.store().conn(), &id)?.is_some_and(|r| r.id == id) {
                continue;
            }
            if let Err((code, why)) = self.proposal(ws, d, &id)? {
                self.refuse(&device, "proposal", &id, code, why);
            }
        }
        Ok(())
    }

    /// `Ok(Err((code, why)))`: refused, nothing applied.
    fn proposal(
        &mut self,
        ws: &mut Workspace,
        d: &Device,
        id: &str,
    ) -> Result<Result<(), (&'static str, String)>, Error> {
        let refused = |why: String| Ok(Err((refusal::BUNDLE_INVALID, why)));
        let dir = format!("proposals/{id}");
        let (Some(bytes), Some(pubb)) = (
            d.files.get(&format!("{dir}/bundle.json")),
            d.files.get(&format!("{dir}/publication.json")),
        ) else {
            return refused("bundle.json or publication.json is missing".into());
        };
        let bundle: Bundle = match serde_json::from_slice(bytes) {
            Ok(b) => b,
            Err(e) => return refused(format!("bundle.json is not a proposal bundle: {e}")),
        };
        let publication: Publication = match serde_json::from_slice(pubb) {
            Ok(p) => p,
            Err(e) => return refused(format!("publication.json: {e}")),
        };
        let digest = bundle.digest()?;
        if canon::short_id(&digest) != id
            || publication.digest != digest
            || publication.proposal != id
        {
            return refused(format!(
                "the bundle hashes to {digest} (id {}), not to the published id {id} / digest {}",
                canon::short_id(&digest),
                publication.digest
            ));
        }
        let sig = Detached {
            keyid: publication.instance_keyid.clone(),
            sig: publication.bundle_signature.clone(),
        };
        if publication.instance_keyid != d.endorsed.instance_keyid
            || !sig.verify(
                &d.endorsed.instance_key,
                &crate::signing::bundle_sig::message(id, &digest)?,
            )
        {
            return refused(format!(
                "the bundle signature is not by device {}'s endorsed instance key {}",
                d.endorsed.device_keyid, d.endorsed.instance_keyid
            ));
        }
        let Ok(base) = git2::Oid::from_str(&bundle.base.commit) else {
            return refused("the base commit is not a commit id".into());
        };
        if self.repo.find_commit(base).is_err() {
            return refused(format!(
                "the base commit {} is not in this repository (fetch the target branch first)",
                bundle.base.commit
            ));
        }
        let expected = gitops::expected_commit(self.repo, &bundle, &self.bot)?;
        let tracked = self
            .repo
            .refname_to_id(&format!(
                "{}{}/branches/{id}",
                tracking_prefix(&self.remote),
                d.endorsed.device_keyid
            ))
            .ok();
        if publication.branch_commit != expected.to_string() || tracked != Some(expected) {
            return refused(format!(
                "the published branch ({}, ref at {}) is not the commit the bundle makes ({expected})",
                publication.branch_commit,
                tracked.map_or("nothing".into(), |o| o.to_string())
            ));
        }
        let branch = match gitops::prepare_branch(self.repo, id, &bundle, &self.bot) {
            Ok(b) => b,
            Err(e) => return refused(e.to_string()),
        };
        // The initiator is the publishing device's endorsed person (its endorsement verified
        // before anything of it was read), never the publication's word: a device stating
        // another person (or naming the lead, so the lead's approval would silently stop
        // counting) is refused. `null` (not resolved on that device) is its endorsed person;
        // with candidates (several persons' keys there), unresolved here too: the candidates
        // and the endorsed person all could have proposed.
        let initiator = d.endorsed.person.clone();
        if let Some(stated) = publication.initiator.as_deref() {
            if stated != initiator {
                return Ok(Err((
                    refusal::INITIATOR_MISMATCH,
                    format!(
                        "the publication names '{stated}' as the initiator, but the device {} is endorsed by '{initiator}': a device can only publish its own person's proposals. Nothing was applied",
                        d.endorsed.device_keyid
                    ),
                )));
            }
        }
        let ts = ws.clock().now_rfc3339();
        let actor = self.actor.clone();
        let device = d.endorsed.device_keyid.clone();
        let detail = String::from_utf8_lossy(pubb).to_string();
        let admitted =
            ws.store_mut()
                .write(|tx| -> Result<Result<(), (&'static str, String)>, Error> {
                    let who =
                        received_initiator(&initiator, publication.initiator_candidates.as_deref());
                    if let Err(e) = workflow::admit(tx, &bundle, &who, &Stamp::new(&actor, &ts)) {
                        return Ok(Err((refusal::BUNDLE_INVALID, e.to_string())));
                    }
                    gitops::record_branch(tx, id, &branch, &Stamp::new(&actor, &ts))?;
                    tx.execute(
                        "INSERT INTO sync_imports (kind, item, device_keyid, detail, imported_at)
                 VALUES ('proposal', ?1, ?2, ?3, ?4)",
                        params![id, device, detail, ts],
                    )?;
                    audit::append(
                        tx,
                        NewEvent {
                            actor: &actor,
                            kind: "sync.proposal_received",
                            subject: id,
                            payload: json!({"device": device, "digest": digest,
                                    "branch_commit": branch.head_commit, "initiator": initiator}),
                        },
                        &ts,
                    )?;
                    Ok(Ok(()))
                })?;
        if admitted.is_ok() {
            self.received.proposals.push(id.to_string());
            self.news = true;
        }
        Ok(admitted)
    }

    fn runs(&mut self, ws: &mut Workspace, d: &Device) -> Result<(), Error> {
        let device = d.endorsed.device_keyid.clone();
        let runs: Vec<(String, Vec<u8>)> = d
            .files
            .iter()
            .filter(|(p, _)| {
                p.starts_with("proposals/") && p.contains("/runs/") && p.ends_with(".json")
            })
            .map(|(p, b)| (p.clone(), b.clone()))
            .collect();
        for (path, bytes) in runs {
            let run: crate::checks::import::RunExport = match serde_json::from_slice(&bytes) {
                Ok(r) => r,
                Err(e) => {
                    self.refuse(
                        &device,
                        "validation",
                        &path,
                        refusal::RUN_INVALID,
                        format!("not a validation run: {e}"),
                    );
                    continue;
                }
            };
            if path != format!("proposals/{}/runs/{}.json", run.proposal, run.run_id) {
                self.refuse(
                    &device,
                    "validation",
                    &path,
                    refusal::RUN_INVALID,
                    "the run is filed under another proposal or id".into(),
                );
                continue;
            }
            let conn = ws.store().conn();
            if crate::checks::import::has_run(conn, &run.run_id)? {
                continue;
            }
            let Some(row) = workflow::rows::get(conn, &run.proposal)? else {
                continue;
            };
            if row.state != State::Proposed {
                // Validated here already (or past it): the local evidence stands.
                continue;
            }
            let Some(branch) = gitops::stored_branch(conn, &row.id)? else {
                continue;
            };
            if let Err(e) = gitops::verify_branch(self.repo, &row.id, &row.bundle, &self.bot) {
                self.refuse(
                    &device,
                    "validation",
                    &run.run_id,
                    refusal::RUN_INVALID,
                    e.to_string(),
                );
                continue;
            }
            // Judged against the contract committed on the target here, never the sender's.
            let contract = match crate::checks::validate::committed_contract(ws) {
                Ok(c) => c,
                Err(e) => {
                    self.refuse(
                        &device,
                        "validation",
                        &run.run_id,
                        refusal::RUN_INVALID,
                        e.to_string(),
                    );
                    continue;
                }
            };
            let ts = ws.clock().now_rfc3339();
            let actor = self.actor.clone();
            let detail = String::from_utf8_lossy(&bytes).to_string();
            let outcome = ws
                .store_mut()
                .write(|tx| -> Result<Result<(), String>, Error> {
                    // REC-001 first, as a local validation does.
                    if let Err(e) = workflow::check_bundle(tx, &row.id, &Stamp::new(&actor, &ts))? {
                        return Ok(Err(e.to_string()));
                    }
                    match crate::checks::import::import_run(
                        tx,
                        &run,
                        &branch.head_commit,
                        &contract,
                        &device,
                        &Stamp::new(&actor, &ts),
                    ) {
                        Ok(_) => {}
                        Err(e) => return Ok(Err(e.to_string())),
                    }
                    tx.execute(
                        "INSERT INTO sync_imports (kind, item, device_keyid, detail, imported_at)
                     VALUES ('validation', ?1, ?2, ?3, ?4)",
                        params![run.run_id, device, detail, ts],
                    )?;
                    Ok(Ok(()))
                })?;
            match outcome {
                Ok(()) => {
                    self.received
                        .validations
                        .push(format!("{}/{}", run.proposal, run.run_id));
                    self.news = true;
                }
                Err(why) => self.refuse(
                    &device,
                    "validation",
                    &run.run_id,
                    refusal::RUN_INVALID,
                    why,
                ),
            }
        }
        Ok(())
    }

    fn approvals(&mut self, ws: &mut Workspace, d: &Device) -> Result<(), Error> {
        let device = d.endorsed.device_keyid.clone();
        let found: Vec<(String, String, Vec<u8>)> = d
            .files
            .iter()
            .filter_map(|(p, b)| {
                let rest = p.strip_prefix("proposals/")?;
                let (id, file) = rest.split_once("/approvals/")?;
                let nonce = file.strip_suffix(".json")?;
                Some((id.to_string(), nonce.to_string(), b.clone()))
            })
            .collect();
        for (id, nonce, bytes) in found {
            let conn = ws.store().conn();
            let Some(row) = workflow::rows::get(conn, &id)? else {
                continue;
            };
            if crate::signing::approvals::nonce_uses(conn, &row.id)?.contains_key(&nonce) {
                continue;
            }
            if !matches!(row.state, State::Validated | State::Approved) {
                // Not approvable here (yet): it stays published and is tried on the next sync.
                continue;
            }
            let item = format!("{id}/{nonce}");
            match crate::approval::submit(ws, &row.id, &bytes, &self.actor) {
                Ok(r) => {
                    let ts = ws.clock().now_rfc3339();
                    let detail = json!({"keyid": r.keyid}).to_string();
                    ws.store_mut().write(|tx| -> Result<(), Error> {
                        tx.execute(
                            "INSERT INTO sync_imports (kind, item, device_keyid, detail, imported_at)
                             VALUES ('approval', ?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                            params![nonce, device, detail, ts],
                        )?;
                        Ok(())
                    })?;
                    self.received.approvals.push(item);
                    self.news = true;
                }
                Err(e)
                    if e.kind() == crate::ErrorKind::Refused
                        || e.kind() == crate::ErrorKind::Invalid =>
                {
                    self.refuse(
                        &device,
                        "approval",
                        &item,
                        refusal::APPROVAL_REFUSED,
                        format!("{}: {e}", e.code()),
                    );
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// A promotion already made on the remote wins (docs/sync.md): for every commit on the
    /// remote's target that is not on ours and carries `Oxide-Proposal: <id>` of a proposal
    /// we hold, verify that it promotes exactly this proposal's branch tree, then record it.
    pub(super) fn promotions(
        &mut self,
        ws: &mut Workspace,
        target: &str,
        tracking: &str,
    ) -> Result<(), Error> {
        let Ok(remote_head) = self.repo.refname_to_id(tracking) else {
            return Ok(());
        };
        let local_head = self
            .repo
            .refname_to_id(&format!("refs/heads/{target}"))
            .ok();
        let trailers = transport::proposal_trailers(
            self.repo,
            local_head.map(|o| o.to_string()).as_deref(),
            &remote_head.to_string(),
        )?;
        for (commit, id) in trailers {
            let conn = ws.store().conn();
            let Some(row) = workflow::rows::get(conn, &id)? else {
                continue;
            };
            if row.id != id
                || matches!(
                    row.state,
                    State::Promoted | State::RolledBack | State::Superseded
                )
            {
                continue;
            }
            let device = format!("{}:{target}", self.remote);
            let verdict = verify_promotion(ws, self.repo, &row, &commit);
            let gates = match verdict {
                Ok(g) => g,
                Err(why) => {
                    self.refuse(
                        &device,
                        "promotion",
                        &id,
                        refusal::PROMOTION_UNVERIFIED,
                        format!("commit {commit}: {why}"),
                    );
                    continue;
                }
            };
            let ts = ws.clock().now_rfc3339();
            let actor = self.actor.clone();
            let remote = self.remote.clone();
            let state = row.state;
            let done = ws.store_mut().write(|tx| -> Result<bool, Error> {
                let promoted = if state == State::Approved {
                    workflow::promote(
                        tx,
                        &id,
                        &workflow::PromotionEvidence { commit: commit.clone(), gates: gates.clone() },
                        &Stamp::new(&actor, &ts),
                    )?;
                    true
                } else if workflow::can(state, workflow::Transition::Supersede) {
                    workflow::supersede(
                        tx,
                        &id,
                        &workflow::SupersedeEvidence {
                            failure_reason_code: workflow::reason::PROMOTED_ELSEWHERE.into(),
                            target_head: Some(remote_head.to_string()),
                            superseded_by: None,
                            problems: vec![format!(
                                "promoted on {remote}/{target} as {commit} while this clone held it {state}"
                            )],
                        },
                        &Stamp::new(&actor, &ts),
                    )?;
                    false
                } else {
                    return Ok(false);
                };
                audit::append(
                    tx,
                    NewEvent {
                        actor: &actor,
                        kind: "sync.promotion_received",
                        subject: &id,
                        payload: json!({"commit": commit, "remote": remote, "target": target,
                                        "recorded": if promoted { "promoted" } else { "superseded" },
                                        "gates": gates}),
                    },
                    &ts,
                )?;
                Ok(promoted)
            })?;
            if done {
                self.promoted.push(id);
            } else if workflow::rows::get(ws.store().conn(), &id)?
                .is_some_and(|r| r.state == State::Superseded)
            {
                self.superseded.push(id);
            }
            self.news = true;
        }
        Ok(())
    }
}

/// The promotion commit promotes exactly this proposal: it verifies as a promotion
/// (`rollout::reconcile::verify_promotion_commit`: promotion trailers, an SSHSIG signature by
/// the registry key of the person `Oxide-Promoted-By` names, a lead or maintainer), its
/// trailers name this proposal and this bundle digest, and its tree is exactly this bundle's
/// intent applied to its parent (the proposal branch's tree when the parent is the base; a
/// trivially rebased carry-over otherwise). Returns the gates for the guard record.
fn verify_promotion(
    ws: &Workspace,
    repo: &git2::Repository,
    row: &workflow::ProposalRow,
    commit: &str,
) -> Result<Vec<(String, bool)>, String> {
    let v = crate::rollout::reconcile::verify_promotion_commit(ws, commit)
        .map_err(|e| e.to_string())?;
    if v.trailers.proposal != row.id || v.trailers.bundle_digest != row.digest {
        return Err(format!(
            "its trailers name proposal {} / bundle {}, not {} / {}",
            v.trailers.proposal, v.trailers.bundle_digest, row.id, row.digest
        ));
    }
    let oid = git2::Oid::from_str(commit).map_err(|e| e.to_string())?;
    let c = repo.find_commit(oid).map_err(|e| e.to_string())?;
    let parent = c
        .parent(0)
        .map_err(|_| "it has no parent on the target branch".to_string())?;
    let expected = gitops::apply_to_tree(repo, &parent, &row.bundle).map_err(|e| e.to_string())?;
    if c.tree_id() != expected {
        return Err(format!(
            "its tree {} is not this bundle's intent applied to its parent ({expected})",
            c.tree_id()
        ));
    }
    Ok(vec![
        ("promotion_commit_verified".into(), true),
        ("trailers_name_this_bundle".into(), true),
        ("tree_is_intent_on_parent".into(), true),
        (format!("signed_by:{}", v.person), true),
    ])
}

/// Appends one `sync.refused` audit event per refusal not audited before (a forged item
/// stays on the remote and is refused on every sync; it is audited once).
pub(super) fn audit_refusals(
    ws: &mut Workspace,
    refused: &[Refusal],
    actor: &str,
) -> Result<(), Error> {
    if refused.is_empty() {
        return Ok(());
    }
    let ts = ws.clock().now_rfc3339();
    ws.store_mut().write(|tx| -> Result<(), Error> {
        for r in refused {
            let key = canon::sha256_bytes(
                format!("{}\n{}\n{}\n{}\n{}", r.device, r.kind, r.item, r.code, r.message).as_bytes(),
            );
            let n = tx.execute(
                "INSERT INTO sync_imports (kind, item, device_keyid, detail, imported_at)
                 VALUES ('refusal', ?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                params![key, r.device, serde_json::to_string(r).unwrap_or_default(), ts],
            )?;
            if n > 0 {
                audit::append(
                    tx,
                    NewEvent {
                        actor,
                        kind: "sync.refused",
                        subject: &r.item,
                        payload: json!({"device": r.device, "what": r.kind, "code": r.code, "message": r.message}),
                    },
                    &ts,
                )?;
            }
        }
        Ok(())
    })
}

/// Checks the manifest's signature by the endorsed device key and that it lists exactly the
/// published files (other than the self-signed ones) with their digests.
fn check_manifest(d: &Endorsed, files: &Files) -> Result<(), String> {
    let (Some(m), Some(s)) = (files.get("manifest.json"), files.get("manifest.sig")) else {
        return Err("manifest.json or manifest.sig is missing".into());
    };
    let sig: Detached = serde_json::from_slice(s).map_err(|e| format!("manifest.sig: {e}"))?;
    if !sig.verify(&d.device_key, m) {
        return Err(format!(
            "the manifest is not signed by the endorsed device key {}",
            d.device_keyid
        ));
    }
    let manifest: Manifest =
        serde_json::from_slice(m).map_err(|e| format!("manifest.json: {e}"))?;
    if manifest.kind != MANIFEST_TYPE || manifest.device != d.device_keyid {
        return Err("the manifest is of another type or device".into());
    }
    let listed: BTreeMap<&String, &String> = manifest.files.iter().collect();
    for (path, bytes) in files {
        if self_signed(path) {
            continue;
        }
        match listed.get(path) {
            Some(digest) if **digest == canon::sha256_bytes(bytes) => {}
            Some(_) => {
                return Err(format!(
                    "{path} does not match the digest its signed manifest lists (altered)"
                ))
            }
            None => {
                return Err(format!(
                    "{path} is not listed in the signed manifest (added)"
                ))
            }
        }
    }
    for path in manifest.files.keys() {
        if !files.contains_key(path) {
            return Err(format!("{path} is listed in the manifest but missing"));
        }
    }
    Ok(())
}

/// PURE: who initiated a received proposal, from the publishing device's endorsed person and
/// the candidates it published (docs/roles.md, "Who initiated a proposal"): the endorsed
/// person, unless the device could not tell which of several persons proposed — then
/// unresolved, the candidates and the endorsed person all excluded.
pub fn received_initiator(
    endorsed: &str,
    candidates: Option<&[String]>,
) -> crate::signing::whoami::Initiator {
    use crate::signing::whoami::Initiator;
    let mut all: Vec<String> = candidates.unwrap_or_default().to_vec();
    all.push(endorsed.to_string());
    all.sort();
    all.dedup();
    match all.as_slice() {
        [only] => Initiator::Person(only.clone()),
        _ => Initiator::Unresolved(all),
    }
}

#[cfg(test)]
mod initiator_tests {
    use super::received_initiator;
    use crate::signing::whoami::Initiator;

    #[test]
    fn published_candidates_stay_unresolved_with_the_endorsed_person() {
        let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        // Resolved there (no candidates published), or old publishers: the endorsed person.
        assert_eq!(
            received_initiator("lee", None),
            Initiator::Person("lee".into())
        );
        // Several keys there: a device endorsed as lee holding ana's key too never makes
        // lee alone the initiator (ana's approval would count).
        assert_eq!(
            received_initiator("lee", Some(&v(&["ana", "lee"]))),
            Initiator::Unresolved(v(&["ana", "lee"]))
        );
        assert_eq!(
            received_initiator("lee", Some(&v(&["ana"]))),
            Initiator::Unresolved(v(&["ana", "lee"]))
        );
        // Nobody but the endorsed person could have proposed: that person.
        assert_eq!(
            received_initiator("lee", Some(&[])),
            Initiator::Person("lee".into())
        );
        assert_eq!(
            received_initiator("lee", Some(&v(&["lee"]))),
            Initiator::Person("lee".into())
        );
    }
}
