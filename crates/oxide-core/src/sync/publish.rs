//! This device's published state: one commit on `refs/oxide/devices/<keyid>/state` and one
//! ref per proposal branch (`refs/oxide/devices/<keyid>/branches/<id>`). See docs/sync.md.

use serde::{Deserialize, Serialize};

use super::endorse::Detached;
use super::{Endorsed, Files, DEVICES_PREFIX};
use crate::gitops::transport;
use crate::signing::{self, checkpoint};
use crate::{canon, Error, Workspace};

/// `type` of the manifest.
pub const MANIFEST_TYPE: &str = "https://oxide-review.dev/sync-manifest/v1";

/// Every published file but the endorsement and the audit segment (which carry their own
/// signatures), by path, with its digest; signed by the device key (`manifest.sig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(rename = "type")]
    pub kind: String,
    pub device: String,
    pub files: std::collections::BTreeMap<String, String>,
}

/// What a device says about a proposal it holds (covered by the manifest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publication {
    pub proposal: String,
    pub digest: String,
    pub branch_commit: String,
    /// Who created the proposal (the two-person rule keeps them from approving it); `None`
    /// when no single person was resolved on this device (or the proposal was admitted before
    /// the initiator was recorded).
    pub initiator: Option<String>,
    /// When no single person was resolved here: the persons who could have proposed (whose
    /// keys this device held then). Receivers exclude them and the endorsed person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiator_candidates: Option<Vec<String>>,
    /// The bundle signature by the device's instance key (`signing::bundle_sig`).
    pub instance_keyid: String,
    pub bundle_signature: String,
}

/// Files that are not in the manifest.
pub fn self_signed(path: &str) -> bool {
    matches!(
        path,
        "endorsement.json"
            | "audit/events.jsonl"
            | "audit/checkpoint"
            | "manifest.json"
            | "manifest.sig"
    )
}

/// Writes this device's state commit and branch refs (only when something changed).
pub fn publish(ws: &Workspace, repo: &git2::Repository, me: &Endorsed) -> Result<(), Error> {
    let conn = ws.store().conn();
    let now = ws.clock().now();
    let device = signing::device_key(conn, now)?;
    let instance = signing::instance_key(conn, now)?;
    let endorsement: String = conn.query_row(
        "SELECT endorsement FROM sync_devices WHERE local = 1 AND device_keyid = ?1",
        [&me.device_keyid],
        |r| r.get(0),
    )?;
    let mut files = Files::new();
    files.insert("endorsement.json".into(), endorsement.into_bytes());

    // The audit segment: the whole chain up to a checkpoint signed now.
    let cp = checkpoint::create(conn, now)?;
    let mut events = Vec::new();
    crate::audit::timeline::for_each_matching(
        conn,
        &crate::audit::TimelineQuery {
            order: crate::audit::Order::OldestFirst,
            before: Some(cp.seq + 1),
            ..Default::default()
        },
        |e| {
            serde_json::to_writer(&mut events, &e).map_err(|e| {
                crate::audit::AuditError::Export {
                    path: "audit/events.jsonl".into(),
                    why: e.to_string(),
                }
            })?;
            events.push(b'\n');
            Ok(())
        },
    )?;
    files.insert("audit/events.jsonl".into(), events);
    files.insert("audit/checkpoint".into(), cp.note.into_bytes());

    // Proposals with a branch, their local validation runs and every approval held.
    let imported_runs: std::collections::HashSet<String> = {
        let mut st = conn.prepare("SELECT item FROM sync_imports WHERE kind = 'validation'")?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?;
        rows
    };
    // Proposals that arrived from another device: their origin device publishes them (its
    // endorsed person is their initiator); this device publishes only its runs and approvals
    // of them, never the bundle as if its own person had proposed it.
    let imported_proposals: std::collections::HashSet<String> = {
        let mut st = conn.prepare("SELECT item FROM sync_imports WHERE kind = 'proposal'")?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?;
        rows
    };
    let mut branches: Vec<(String, String)> = Vec::new();
    for row in crate::workflow::rows::list(conn, None)? {
        let Some(branch) = crate::gitops::stored_branch(conn, &row.id)? else {
            continue;
        };
        let Some(sig) = signing::bundle_sig::get(conn, &row.id)? else {
            continue;
        };
        if sig.keyid != instance.keyid() || sig.digest != row.digest {
            continue;
        }
        let dir = format!("proposals/{}", row.id);
        let own = !imported_proposals.contains(&row.id);
        if own {
            files.insert(
                format!("{dir}/bundle.json"),
                canon::canonical_bytes(&row.bundle)?,
            );
            // The initiator resolved here: receivers take this device's endorsed person and
            // refuse any other name. Unresolved here: no name, and the candidates, all of whom
            // receivers exclude with the endorsed person. Admitted before the initiator was
            // recorded (its row holds the old audit actor, which receivers would refuse): no
            // name, so receivers take the endorsed person.
            let (initiator, initiator_candidates) =
                match crate::workflow::rows::initiator_record(conn, &row.id)? {
                    Some(signing::whoami::Initiator::Person(p)) => {
                        match crate::workflow::rows::admitted_initiator(conn, &row.id)? {
                            Some(_) => (Some(p), None),
                            None => (None, None),
                        }
                    }
                    Some(signing::whoami::Initiator::Unresolved(c)) => (None, Some(c)),
                    None => (None, None),
                };
            let publication = Publication {
                proposal: row.id.clone(),
                digest: row.digest.clone(),
                branch_commit: branch.head_commit.clone(),
                initiator,
                initiator_candidates,
                instance_keyid: sig.keyid.clone(),
                bundle_signature: sig.signature.clone(),
            };
            files.insert(
                format!("{dir}/publication.json"),
                canon::canonical_bytes(&publication)?,
            );
        }
        for run in crate::checks::import::export_runs(conn, &row.id)? {
            if imported_runs.contains(&run.run_id) {
                continue;
            }
            files.insert(
                format!("{dir}/runs/{}.json", run.run_id),
                canon::canonical_bytes(&run)?,
            );
        }
        for a in signing::approvals::for_proposal(conn, &row.id)? {
            files.insert(
                format!("{dir}/approvals/{}.json", a.nonce),
                a.envelope.into_bytes(),
            );
        }
        if own {
            branches.push((row.id.clone(), branch.head_commit));
        }
    }

    let manifest = Manifest {
        kind: MANIFEST_TYPE.into(),
        device: me.device_keyid.clone(),
        files: files
            .iter()
            .filter(|(p, _)| !self_signed(p))
            .map(|(p, b)| (p.clone(), canon::sha256_bytes(b)))
            .collect(),
    };
    let manifest_bytes = canon::canonical_bytes(&manifest)?;
    let sig = Detached::sign(&device, &manifest_bytes);
    files.insert("manifest.sig".into(), canon::canonical_bytes(&sig)?);
    files.insert("manifest.json".into(), manifest_bytes);

    let prefix = format!("{DEVICES_PREFIX}{}", me.device_keyid);
    transport::write_files_commit(
        repo,
        &format!("{prefix}/state"),
        &files,
        &format!("oxide sync: state of device {}", me.device_keyid),
        now.unix_timestamp(),
    )?;
    for (id, commit) in branches {
        transport::set_ref(
            repo,
            &format!("{prefix}/branches/{id}"),
            &commit,
            "oxide sync: branch",
        )?;
    }
    Ok(())
}
