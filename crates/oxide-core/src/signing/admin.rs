//! Key and registry management as the shells offer it (`oxide keys ...`, `oxide approvers
//! ...`, the desktop's settings): each function does the keyring, the `signing_keys` rows and
//! the working-tree registry draft together, in the order that leaves nothing half done —
//! the draft is opened (and a malformed one refused) before any key changes.
//!
//! A registry edit is a draft: it is in force once committed on the target branch. Every
//! report says so (`in_force: false` and a note).

use serde::{Deserialize, Serialize};

use super::keys::{self, KeyInfo};
use super::registry::{Draft, DraftChange, Person, Registry, Role, REGISTRY_PATH};
use super::SigningError;
use crate::workspace::Workspace;
use crate::Error;

/// What committing means, said once for every report.
fn commit_note(ws: &Workspace) -> Result<String, Error> {
    Ok(format!(
        "{REGISTRY_PATH} was edited in the working tree: it is a governance change and takes effect once committed on the target branch '{}'",
        ws.target_branch()?
    ))
}

/// `oxide keys export-public --person ID`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PublicKeyReport {
    pub person: String,
    pub keyid: String,
    /// OpenSSH public-key line, comment = the person id.
    pub public: String,
    /// The person's line for git's `allowed_signers` (no validity options: those come from
    /// the registry, `keys export-allowed-signers`).
    pub allowed_signers_line: String,
}

/// A person's current public key, from the keyring.
pub fn export_public(person: &str) -> Result<PublicKeyReport, Error> {
    let key = keys::person_key(person)?;
    let public = key.openssh_public(person);
    Ok(PublicKeyReport {
        person: person.to_string(),
        keyid: key.keyid().to_string(),
        allowed_signers_line: format!(
            "{person} namespaces=\"git\" {}",
            keys::openssh_public(&key.verifying_key(), "")
        ),
        public,
    })
}

/// `oxide keys generate --person ID`.
pub fn generate(ws: &Workspace, person: &str, actor: &str) -> Result<KeyInfo, Error> {
    Ok(keys::generate_person(
        ws.store().conn(),
        person,
        actor,
        ws.clock().now(),
    )?)
}

/// `oxide keys list`.
pub fn list(ws: &Workspace) -> Result<Vec<KeyInfo>, Error> {
    Ok(keys::list(ws.store().conn())?)
}

/// What `oxide keys rotate` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct RotateReport {
    pub person: String,
    /// The new key.
    pub keyid: String,
    pub public: String,
    pub old_keyid: String,
    /// The registry draft's edit (old key `valid_until = now`, new key added).
    pub registry: DraftChange,
    /// Always false: the registry edit is a draft until committed.
    pub in_force: bool,
    pub note: String,
}

/// Rotates `person`'s key and records the change in the registry draft.
pub fn rotate(ws: &Workspace, person: &str, actor: &str) -> Result<RotateReport, Error> {
    let mut draft = Draft::open(ws.root())?;
    let now = ws.clock().now();
    let rot = keys::rotate_person(ws.store().conn(), person, actor, now)?;
    let registry = draft.rotate(person, &rot.old.keyid, &rot.new.public, now)?;
    if registry.changed {
        draft.save()?;
    }
    let note = if registry.changed {
        format!(
            "{}; until then approvals signed with the new key do not verify",
            commit_note(ws)?
        )
    } else {
        format!("{person} is not in the registry; add the new key with `oxide approvers add --person {person} ...` and commit {REGISTRY_PATH}")
    };
    Ok(RotateReport {
        person: person.to_string(),
        keyid: rot.new.keyid,
        public: rot.new.public,
        old_keyid: rot.old.keyid,
        registry,
        in_force: false,
        note,
    })
}

/// What `oxide keys revoke` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct RevokeReport {
    pub keyid: String,
    pub revoked_at: String,
    pub reason: String,
    pub person: Option<String>,
    /// Whether this database's record of the key was marked revoked.
    pub local: bool,
    /// The registry draft's edit (`revoked_at`, `revoke_reason` on the key).
    pub registry: DraftChange,
    /// Always false: verification refuses the key once the registry edit is committed.
    pub in_force: bool,
    pub note: String,
}

/// Revokes key `keyid`: in this database (when it knows the key) and in the registry draft
/// (when the draft holds it). `SIGNING_UNKNOWN_KEY` when neither does.
pub fn revoke(
    ws: &Workspace,
    keyid: &str,
    reason: &str,
    actor: &str,
) -> Result<RevokeReport, Error> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(SigningError::ReasonRequired.into());
    }
    let keyid = keyid.trim().to_ascii_lowercase();
    let mut draft = Draft::open(ws.root())?;
    let now = ws.clock().now();
    let conn = ws.store().conn();
    let row = keys::find(conn, &keyid)?;
    let in_draft = draft.registry()?.lookup(&keyid, now).map(|s| s.standing);
    if row.is_none() && in_draft.is_none() {
        return Err(SigningError::UnknownKey(keyid).into());
    }
    let row_revoked = row.as_ref().and_then(|r| r.revoked_at.clone());
    let draft_revoked = matches!(in_draft, Some(super::Standing::Revoked { .. }));
    let needs_row = row.is_some() && row_revoked.is_none();
    let needs_draft = in_draft.is_some() && !draft_revoked;
    if !needs_row && !needs_draft {
        return Err(SigningError::AlreadyRevoked {
            keyid,
            at: row_revoked.unwrap_or_default(),
        }
        .into());
    }
    let registry = if needs_draft {
        draft.revoke(&keyid, reason, now)?
    } else {
        DraftChange {
            path: draft.path().display().to_string(),
            person: None,
            changed: false,
            notes: vec![format!(
                "key {keyid} is not in the registry draft, or already revoked there"
            )],
        }
    };
    let (revoked_at, person) = if needs_row {
        let r = keys::revoke(conn, &keyid, reason, actor, now)?;
        (r.revoked_at, r.person)
    } else {
        (
            crate::clock::format_ts(now),
            registry.person.clone().or(row.and_then(|r| r.person)),
        )
    };
    if registry.changed {
        draft.save()?;
    }
    let note = if registry.changed {
        format!(
            "{}; this machine refuses the key at once (it is revoked in this database), other machines once the change is committed",
            commit_note(ws)?
        )
    } else {
        format!("the key is not registered in {REGISTRY_PATH}; recorded as revoked in this database only")
    };
    Ok(RevokeReport {
        keyid,
        revoked_at,
        reason: reason.to_string(),
        person,
        local: needs_row,
        registry,
        in_force: false,
        note,
    })
}

/// What `oxide approvers add` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ApproverAdded {
    pub person: String,
    pub keyid: String,
    pub registry: DraftChange,
    /// Always false: the registry edit is a draft until committed.
    pub in_force: bool,
    pub note: String,
}

/// Adds `person` (or their new roles / key) to the registry draft. Without `public`, the
/// person's key from this machine's keyring is used.
pub fn approvers_add(
    ws: &Workspace,
    person: &str,
    name: &str,
    roles: &[String],
    public: Option<&str>,
) -> Result<ApproverAdded, Error> {
    super::check_person_id(person)?;
    let roles = roles
        .iter()
        .map(|r| Role::parse(r.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    let public = match public {
        Some(p) => {
            keys::parse_openssh_public(p)?;
            p.to_string()
        }
        None => keys::person_key(person)
            .map_err(|e| match e {
                SigningError::NoKey { what, entry, .. } => SigningError::NoKey {
                    what,
                    entry,
                    hint: format!("generate one with `oxide keys generate --person {person}` or pass --public-key \"ssh-ed25519 AAAA...\"; nothing was changed"),
                },
                other => other,
            })?
            .openssh_public(person),
    };
    let keyid = keys::keyid(&keys::parse_openssh_public(&public)?);
    let mut draft = Draft::open(ws.root())?;
    let registry = draft.add(person, name, &roles, &public, ws.clock().now())?;
    if registry.changed {
        draft.save()?;
    }
    Ok(ApproverAdded {
        person: person.to_string(),
        keyid,
        registry,
        in_force: false,
        note: commit_note(ws)?,
    })
}

/// What `oxide approvers list` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ApproversList {
    /// The registry in force (committed on the target branch).
    pub persons: Vec<Person>,
    pub target_branch: String,
    /// Whether the working-tree copy differs from the committed one (a draft not in force).
    pub draft_pending: bool,
}

/// The committed registry, and whether a draft differs from it.
pub fn approvers_list(ws: &Workspace) -> Result<ApproversList, Error> {
    let registry = Registry::committed(ws)?;
    let draft_pending = ws.drafts()?.iter().any(|p| p == REGISTRY_PATH);
    Ok(ApproversList {
        persons: registry.persons,
        target_branch: ws.target_branch()?,
        draft_pending,
    })
}

/// git's `allowed_signers` text from the committed registry.
pub fn export_allowed_signers(ws: &Workspace) -> Result<String, Error> {
    Ok(Registry::committed(ws)?.allowed_signers())
}
