//! Signing keys: [`SecretKey`] (an ed25519 key held in memory only while it signs), keyids,
//! OpenSSH public keys, and the `signing_keys` table, which holds only public data and the
//! name of the keyring entry with the seed.
//!
//! - a person's key: [`generate_person`], [`person_key`], [`rotate_person`], [`revoke`];
//! - the workspace's O.X.I.D.E instance key ([`instance_key`]) and this device's
//!   audit-checkpoint key ([`device_key`]): made on first use, one per database.
//!
//! The keyring is the truth about which secret a person holds; the table is this
//! workspace's record of it. Every change is one transaction with its audit event, and the
//! keyring write happens inside it: when the keyring refuses, nothing is recorded; when the
//! database refuses, the keyring is put back.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::keyring;
use super::{atomically, check_person_id, SigningError};
use crate::audit::{self, NewEvent};
use crate::clock::format_ts;

/// The audit actor of keys OXIDE makes for itself (instance and device keys).
const SYSTEM_ACTOR: &str = "oxide";

/// `keyid` of a public key: lowercase hex sha256 of its 32 raw bytes. Never trusted by
/// itself: verification looks the key up by keyid in the registry and verifies with it.
pub fn keyid(key: &VerifyingKey) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// `ssh-ed25519 AAAA... comment`: the OpenSSH public-key line of `key`.
pub fn openssh_public(key: &VerifyingKey, comment: &str) -> String {
    let data = ssh_key::public::KeyData::Ed25519(ssh_key::public::Ed25519PublicKey::from(key));
    ssh_key::PublicKey::new(data, comment)
        .to_openssh()
        .expect("an ed25519 public key always encodes")
}

/// Parses an OpenSSH public-key line (`ssh-ed25519 AAAA... [comment]`); only ed25519 keys
/// are accepted, and only points that are valid public keys.
pub fn parse_openssh_public(text: &str) -> Result<VerifyingKey, SigningError> {
    let text = text.trim();
    let bad = |why: String| SigningError::BadPublicKey { why };
    if text.is_empty() {
        return Err(bad("it is empty".into()));
    }
    let key = ssh_key::PublicKey::from_openssh(text)
        .map_err(|e| bad(format!("it is not an OpenSSH public key ({e})")))?;
    let ed = key.key_data().ed25519().ok_or_else(|| {
        bad(format!(
            "it is a {} key; OXIDE signs with ed25519 only",
            key.algorithm()
        ))
    })?;
    VerifyingKey::from_bytes(&ed.0)
        .map_err(|_| bad("its 32 bytes are not a valid ed25519 point".into()))
}

/// An ed25519 signing key, in memory only while it is used. No `Serialize`, no `Clone`;
/// `Debug` shows only the keyid; the seed is zeroized when it is dropped.
pub struct SecretKey {
    inner: SigningKey,
    keyid: String,
}

impl SecretKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> SecretKey {
        SecretKey::from_signing_key(SigningKey::generate(&mut rand_core::OsRng))
    }

    /// The key with this 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> SecretKey {
        SecretKey::from_signing_key(SigningKey::from_bytes(seed))
    }

    fn from_signing_key(inner: SigningKey) -> SecretKey {
        let keyid = keyid(&inner.verifying_key());
        SecretKey { inner, keyid }
    }

    /// The seed, for the keyring only.
    pub(crate) fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.inner.to_bytes())
    }

    /// An ed25519 signature over `msg`.
    pub fn sign(&self, msg: &[u8]) -> Signature {
        self.inner.sign(msg)
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.inner.verifying_key()
    }

    pub fn keyid(&self) -> &str {
        &self.keyid
    }

    /// The OpenSSH public-key line (`ssh-ed25519 AAAA... comment`).
    pub fn openssh_public(&self, comment: &str) -> String {
        openssh_public(&self.inner.verifying_key(), comment)
    }

    /// The key as an `ssh_key::PrivateKey` (for SSHSIG signatures git and `ssh-keygen -Y
    /// verify` accept). It is zeroized on drop too; never encode it to a file.
    pub fn to_ssh_private(&self) -> ssh_key::PrivateKey {
        let private = ssh_key::private::Ed25519PrivateKey::from(&self.inner);
        ssh_key::PrivateKey::from(ssh_key::private::Ed25519Keypair::from(private))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("keyid", &self.keyid)
            .finish_non_exhaustive()
    }
}

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum KeyPurpose {
    /// A person's signing key (approvals).
    Person,
    /// The workspace's O.X.I.D.E instance key (bundle signatures).
    Instance,
    /// This device's audit-checkpoint key.
    Device,
}

impl KeyPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Person => "person",
            KeyPurpose::Instance => "instance",
            KeyPurpose::Device => "device",
        }
    }

    fn parse(s: &str) -> KeyPurpose {
        match s {
            "person" => KeyPurpose::Person,
            "instance" => KeyPurpose::Instance,
            _ => KeyPurpose::Device,
        }
    }
}

/// A key as this database records it: public data only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct KeyInfo {
    pub keyid: String,
    pub purpose: KeyPurpose,
    /// The person whose key it is (person keys only).
    pub person: Option<String>,
    /// OpenSSH public-key line.
    pub public: String,
    /// The keyring entry (user name under service `dev.oxide.review`) holding the seed.
    pub keyring_entry: String,
    pub created_at: String,
    /// When a newer key replaced it (`keys rotate`).
    pub rotated_at: Option<String>,
    pub revoked_at: Option<String>,
    pub revoke_reason: Option<String>,
}

/// What `rotate_person` did: `old` is retired (its `rotated_at` set), `new` is current.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Rotation {
    pub person: String,
    pub old: KeyInfo,
    pub new: KeyInfo,
}

/// What `revoke` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Revocation {
    pub keyid: String,
    pub revoked_at: String,
    pub reason: String,
    pub person: Option<String>,
}

const COLUMNS: &str = "keyid, purpose, person, public, keyring_entry, created_at, rotated_at, revoked_at, revoke_reason";

fn row_to_info(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyInfo> {
    let purpose: String = r.get(1)?;
    Ok(KeyInfo {
        keyid: r.get(0)?,
        purpose: KeyPurpose::parse(&purpose),
        person: r.get(2)?,
        public: r.get(3)?,
        keyring_entry: r.get(4)?,
        created_at: r.get(5)?,
        rotated_at: r.get(6)?,
        revoked_at: r.get(7)?,
        revoke_reason: r.get(8)?,
    })
}

/// Every key this database knows, oldest first.
pub fn list(conn: &Connection) -> Result<Vec<KeyInfo>, SigningError> {
    let mut st = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM signing_keys ORDER BY created_at, keyid"
    ))?;
    let rows = st
        .query_map([], row_to_info)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The key with this keyid, if this database knows it. Its `revoked_at` also holds a
/// revocation only the audit chain still shows (see [`revocations`]).
pub fn find(conn: &Connection, keyid: &str) -> Result<Option<KeyInfo>, SigningError> {
    let Some(mut info) = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM signing_keys WHERE keyid = ?1"),
            [keyid],
            row_to_info,
        )
        .optional()?
    else {
        return Ok(None);
    };
    if info.revoked_at.is_none() {
        if let Some((at, reason)) = audited_revocation(conn, keyid)? {
            info.revoked_at = Some(at);
            info.revoke_reason = reason;
        }
    }
    Ok(Some(info))
}

/// The audit event of a local revocation of `keyid` (`signing.key_revoked`, subject
/// `key:<keyid>`), as `(ts, reason)`.
fn audited_revocation(
    conn: &Connection,
    keyid: &str,
) -> Result<Option<(String, Option<String>)>, SigningError> {
    Ok(audit::for_subject(conn, &format!("key:{keyid}"))?
        .into_iter()
        .find(|e| e.kind == REVOKED_KIND && e.payload.str_field("keyid").as_deref() == Some(keyid))
        .map(|e| {
            let reason = e.payload.str_field("reason");
            (e.ts, reason)
        }))
}

const REVOKED_KIND: &str = "signing.key_revoked";

/// Every local revocation (`keys revoke`) as keyid → when: the `signing_keys` rows' and
/// those the hash-chained audit log records. A holder of the database file who clears the
/// column (or deletes the row) past its triggers does not un-revoke a key: the audit event
/// stays, and removing it breaks the chain that `oxide audit verify` checks against the
/// checkpoints signed with this device's keyring key.
pub fn revocations(
    conn: &Connection,
) -> Result<std::collections::BTreeMap<String, String>, SigningError> {
    let mut out = std::collections::BTreeMap::new();
    for k in list(conn)? {
        if let Some(at) = k.revoked_at {
            out.insert(k.keyid, at);
        }
    }
    let q = audit::TimelineQuery {
        filter: audit::TimelineFilter {
            kinds: vec![REVOKED_KIND.to_string()],
            ..Default::default()
        },
        order: audit::Order::OldestFirst,
        before: None,
        after: None,
        jump: None,
        limit: None,
    };
    audit::for_each_matching(conn, &q, |e| {
        if let Some(keyid) = e.payload.str_field("keyid") {
            out.entry(keyid).or_insert(e.ts);
        }
        Ok(())
    })?;
    Ok(out)
}

fn insert(conn: &Connection, k: &KeyInfo) -> Result<(), SigningError> {
    conn.execute(
        &format!(
            "INSERT INTO signing_keys ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        ),
        params![
            k.keyid,
            k.purpose.as_str(),
            k.person,
            k.public,
            k.keyring_entry,
            k.created_at,
            k.rotated_at,
            k.revoked_at,
            k.revoke_reason
        ],
    )?;
    Ok(())
}

fn new_info(key: &SecretKey, purpose: KeyPurpose, person: Option<&str>, at: &str) -> KeyInfo {
    let (entry, comment) = match purpose {
        KeyPurpose::Person => {
            let p = person.unwrap_or_default();
            (keyring::person_entry(p), p.to_string())
        }
        KeyPurpose::Instance => (
            keyring::instance_entry(key.keyid()),
            "oxide-instance".into(),
        ),
        KeyPurpose::Device => (keyring::device_entry(key.keyid()), "oxide-device".into()),
    };
    KeyInfo {
        keyid: key.keyid().to_string(),
        purpose,
        person: person.map(str::to_string),
        public: key.openssh_public(&comment),
        keyring_entry: entry,
        created_at: at.to_string(),
        rotated_at: None,
        revoked_at: None,
        revoke_reason: None,
    }
}

/// Runs `record` (the database side) in one transaction with a keyring write: `write` stores
/// the new secret inside the transaction (a keyring refusal rolls the rows back); if the
/// transaction fails after the write, `undo` puts the keyring back.
fn with_keyring_write<T>(
    conn: &Connection,
    record: impl FnOnce(&Connection) -> Result<T, SigningError>,
    write: impl FnOnce(&T) -> Result<(), SigningError>,
    undo: impl FnOnce(),
) -> Result<T, SigningError> {
    let mut written = false;
    let out = atomically(conn, |c| {
        let v = record(c)?;
        write(&v)?;
        written = true;
        Ok(v)
    });
    if out.is_err() && written {
        undo();
    }
    out
}

/// A person's current signing key, from the OS keyring (`SIGNING_NO_KEY` when there is none).
pub fn person_key(person: &str) -> Result<SecretKey, SigningError> {
    check_person_id(person)?;
    let entry = keyring::person_entry(person);
    keyring::load_key(&entry)?.ok_or_else(|| SigningError::NoKey {
        what: format!("person '{person}'"),
        entry,
        hint: format!("generate one with `oxide keys generate --person {person}`"),
    })
}

/// Makes a signing key for `person`: the seed goes to the keyring entry `person:<id>`, the
/// public data to `signing_keys`, with an audit event. Refused (`SIGNING_KEY_EXISTS`) when
/// the keyring already holds a key for the person: `rotate_person` replaces keys. A row of
/// this database whose secret is no longer in the keyring (a lost key) is retired.
#[tracing::instrument(name = "signing.generate_person", skip_all, fields(person = person))]
pub fn generate_person(
    conn: &Connection,
    person: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<KeyInfo, SigningError> {
    check_person_id(person)?;
    let entry = keyring::person_entry(person);
    if let Some(existing) = keyring::load_key(&entry)? {
        return Err(SigningError::KeyExists {
            person: person.to_string(),
            keyid: existing.keyid().to_string(),
        });
    }
    let key = SecretKey::generate();
    let at = format_ts(now);
    let info = new_info(&key, KeyPurpose::Person, Some(person), &at);
    with_keyring_write(
        conn,
        |c| {
            let lost = retire_current(c, person, &at)?;
            insert(c, &info)?;
            audit::append(
                c,
                NewEvent {
                    actor,
                    kind: "signing.key_generated",
                    subject: &format!("person:{person}"),
                    payload: json!({"keyid": info.keyid, "public": info.public,
                                    "keyring_entry": info.keyring_entry, "retired_lost": lost}),
                },
                &at,
            )?;
            Ok(())
        },
        |_| keyring::store_key(&entry, &key),
        || {
            let _ = keyring::delete(&entry);
        },
    )?;
    Ok(info)
}

/// Marks every current key row of `person` as replaced at `at`; returns their keyids.
fn retire_current(conn: &Connection, person: &str, at: &str) -> Result<Vec<String>, SigningError> {
    let mut st = conn.prepare(
        "SELECT keyid FROM signing_keys WHERE purpose = 'person' AND person = ?1 AND rotated_at IS NULL",
    )?;
    let ids = st
        .query_map([person], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    conn.execute(
        "UPDATE signing_keys SET rotated_at = ?2
         WHERE purpose = 'person' AND person = ?1 AND rotated_at IS NULL",
        params![person, at],
    )?;
    Ok(ids)
}

/// Replaces `person`'s key: a new key takes the keyring entry `person:<id>` (the old seed is
/// gone from the keyring afterwards; its public key stays recorded, retired at `now`). The
/// registry must follow (`registry::Draft::rotate`) and be committed: until then approvals
/// signed with the new key do not verify.
#[tracing::instrument(name = "signing.rotate_person", skip_all, fields(person = person))]
pub fn rotate_person(
    conn: &Connection,
    person: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Rotation, SigningError> {
    let old_key = person_key(person)?;
    let key = SecretKey::generate();
    let at = format_ts(now);
    let entry = keyring::person_entry(person);
    let new = new_info(&key, KeyPurpose::Person, Some(person), &at);
    let old = with_keyring_write(
        conn,
        |c| {
            retire_current(c, person, &at)?;
            let old = match find(c, old_key.keyid())? {
                Some(k) => k,
                None => {
                    // Made in another workspace on this machine: recorded here now.
                    let mut k = new_info(&old_key, KeyPurpose::Person, Some(person), &at);
                    k.rotated_at = Some(at.clone());
                    insert(c, &k)?;
                    k
                }
            };
            insert(c, &new)?;
            audit::append(
                c,
                NewEvent {
                    actor,
                    kind: "signing.key_rotated",
                    subject: &format!("person:{person}"),
                    payload: json!({"old_keyid": old.keyid, "keyid": new.keyid,
                                    "public": new.public}),
                },
                &at,
            )?;
            find(c, old_key.keyid())?.ok_or_else(|| SigningError::UnknownKey(old.keyid.clone()))
        },
        |_| keyring::store_key(&entry, &key),
        || {
            let _ = keyring::store_key(&entry, &old_key);
        },
    )?;
    Ok(Rotation {
        person: person.to_string(),
        old,
        new,
    })
}

/// Records the revocation of key `keyid` in this database (with an audit event). Approval
/// verification on this machine refuses the key from then on (failing closed); everywhere
/// else the registry's `revoked_at` (`registry::Draft::revoke`), once committed, is what
/// refuses it. The keyring entry is left alone (rotate to get a new key).
#[tracing::instrument(name = "signing.revoke", skip_all, fields(keyid = keyid))]
pub fn revoke(
    conn: &Connection,
    keyid: &str,
    reason: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Revocation, SigningError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(SigningError::ReasonRequired);
    }
    let at = format_ts(now);
    atomically(conn, |c| {
        let k = find(c, keyid)?.ok_or_else(|| SigningError::UnknownKey(keyid.to_string()))?;
        if let Some(prev) = k.revoked_at {
            return Err(SigningError::AlreadyRevoked {
                keyid: keyid.to_string(),
                at: prev,
            });
        }
        c.execute(
            "UPDATE signing_keys SET revoked_at = ?2, revoke_reason = ?3 WHERE keyid = ?1",
            params![keyid, at, reason],
        )?;
        audit::append(
            c,
            NewEvent {
                actor,
                kind: REVOKED_KIND,
                subject: &format!("key:{keyid}"),
                payload: json!({"keyid": keyid, "person": k.person, "purpose": k.purpose,
                                "reason": reason}),
            },
            &at,
        )?;
        Ok(Revocation {
            keyid: keyid.to_string(),
            revoked_at: at.clone(),
            reason: reason.to_string(),
            person: k.person,
        })
    })
}

/// The workspace's O.X.I.D.E instance key (made on first use: keyring entry
/// `instance:<keyid>`, a pointer row, an audit event). One per database; safe against
/// concurrent first uses. The key comes from the keyring and must match the row's keyid
/// (`SIGNING_KEY_MISMATCH` otherwise).
pub fn instance_key(conn: &Connection, now: OffsetDateTime) -> Result<SecretKey, SigningError> {
    get_or_create(conn, KeyPurpose::Instance, now)
}

/// This device's audit-checkpoint key (made on first use: keyring entry `device:<keyid>`);
/// like [`instance_key`].
pub fn device_key(conn: &Connection, now: OffsetDateTime) -> Result<SecretKey, SigningError> {
    get_or_create(conn, KeyPurpose::Device, now)
}

fn one_of(conn: &Connection, purpose: KeyPurpose) -> Result<Option<KeyInfo>, SigningError> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM signing_keys WHERE purpose = ?1"),
            [purpose.as_str()],
            row_to_info,
        )
        .optional()?)
}

fn load_checked(info: &KeyInfo) -> Result<SecretKey, SigningError> {
    let what = match info.purpose {
        KeyPurpose::Instance => "this workspace's O.X.I.D.E instance key",
        KeyPurpose::Device => "this device's audit-checkpoint key",
        KeyPurpose::Person => "the person's key",
    };
    let key = keyring::load_key(&info.keyring_entry)?.ok_or_else(|| SigningError::NoKey {
        what: format!("{what} {}", info.keyid),
        entry: info.keyring_entry.clone(),
        hint: "the database points at a key this machine's keyring does not hold (was the database copied from another machine or the keyring reset?); nothing was signed".into(),
    })?;
    if key.keyid() != info.keyid {
        return Err(SigningError::KeyMismatch {
            entry: info.keyring_entry.clone(),
            expected: info.keyid.clone(),
            found: key.keyid().to_string(),
        });
    }
    Ok(key)
}

#[tracing::instrument(name = "signing.key", skip_all, fields(purpose = purpose.as_str()))]
fn get_or_create(
    conn: &Connection,
    purpose: KeyPurpose,
    now: OffsetDateTime,
) -> Result<SecretKey, SigningError> {
    if let Some(info) = one_of(conn, purpose)? {
        return load_checked(&info);
    }
    let key = SecretKey::generate();
    let at = format_ts(now);
    let info = new_info(&key, purpose, None, &at);
    let existing = with_keyring_write(
        conn,
        |c| {
            // Serialised by the write transaction: a concurrent first use may have won.
            if let Some(other) = one_of(c, purpose)? {
                return Ok(Some(other));
            }
            insert(c, &info)?;
            audit::append(
                c,
                NewEvent {
                    actor: SYSTEM_ACTOR,
                    kind: match purpose {
                        KeyPurpose::Instance => "signing.instance_key_created",
                        _ => "signing.device_key_created",
                    },
                    subject: &format!("key:{}", info.keyid),
                    payload: json!({"keyid": info.keyid, "public": info.public,
                                    "keyring_entry": info.keyring_entry}),
                },
                &at,
            )?;
            Ok(None)
        },
        |existing| match existing {
            Some(_) => Ok(()),
            None => keyring::store_key(&info.keyring_entry, &key),
        },
        || {
            let _ = keyring::delete(&info.keyring_entry);
        },
    )?;
    match existing {
        Some(other) => load_checked(&other),
        None => Ok(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Verifier;

    /// RFC 8032 test 1: seed, public key, signature of the empty message.
    const RFC8032_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const RFC8032_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const RFC8032_SIG: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

    fn rfc_key() -> SecretKey {
        let mut seed = [0u8; 32];
        hex::decode_to_slice(RFC8032_SEED, &mut seed).unwrap();
        SecretKey::from_seed(&seed)
    }

    #[test]
    fn keyid_is_sha256_of_the_raw_public_key() {
        let k = rfc_key();
        assert_eq!(hex::encode(k.verifying_key().as_bytes()), RFC8032_PUBLIC);
        let raw = hex::decode(RFC8032_PUBLIC).unwrap();
        assert_eq!(k.keyid(), hex::encode(Sha256::digest(&raw)));
        assert_eq!(keyid(&k.verifying_key()), k.keyid());
        assert_eq!(k.keyid().len(), 64);
        assert!(k
            .keyid()
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }

    #[test]
    fn signs_as_rfc8032_says_and_verifies_strictly() {
        let k = rfc_key();
        let sig = k.sign(b"");
        assert_eq!(hex::encode(sig.to_bytes()), RFC8032_SIG);
        k.verifying_key().verify_strict(b"", &sig).unwrap();
        assert!(k.verifying_key().verify_strict(b"x", &sig).is_err());
        assert!(k.verifying_key().verify(b"", &sig).is_ok());
    }

    #[test]
    fn debug_shows_the_keyid_and_never_the_seed() {
        let k = rfc_key();
        let d = format!("{k:?}");
        assert!(d.contains(k.keyid()));
        assert!(!d.contains(RFC8032_SEED));
        assert!(!d.to_lowercase().contains(&RFC8032_SEED[..16]));
    }

    #[test]
    fn openssh_public_round_trips_and_matches_ssh_keygen_layout() {
        let k = SecretKey::generate();
        let line = k.openssh_public("alice");
        assert!(
            line.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"),
            "{line}"
        );
        assert!(line.ends_with(" alice"));
        let back = parse_openssh_public(&line).unwrap();
        assert_eq!(back, k.verifying_key());
        // Without a comment, with surrounding whitespace.
        let bare = openssh_public(&k.verifying_key(), "");
        assert_eq!(bare.split(' ').count(), 2, "{bare}");
        assert_eq!(
            parse_openssh_public(&format!("  {bare}\n")).unwrap(),
            k.verifying_key()
        );
        // The SSH private form carries the same public key.
        let ssh = k.to_ssh_private();
        assert_eq!(
            ssh.public_key().to_openssh().unwrap(),
            openssh_public(&k.verifying_key(), "")
        );
    }

    #[test]
    fn parse_openssh_public_refuses_what_is_not_an_ed25519_key() {
        for bad in [
            "",
            "ssh-ed25519",
            "ssh-ed25519 not-base64!",
            "hello world",
            // ecdsa-sha2-nistp256, a valid key of another kind
            "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEiS+jPKVrCDnSVWGvbVvWqTFB8eRQkuUcbqfRJpiDqQrUw/DJDAD/G+Ob95UcuJy6wHLZOazWRehQxO7ckJ5CI= x",
        ] {
            let e = parse_openssh_public(bad).unwrap_err();
            assert_eq!(e.code(), "SIGNING_BAD_PUBLIC_KEY", "{bad:?}");
        }
        // One flipped base64 character in the key body: no longer a valid key line or point.
        let line = SecretKey::generate().openssh_public("x");
        let mut flipped = line.clone().into_bytes();
        flipped[20] = if flipped[20] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert!(parse_openssh_public(&flipped).is_err());
    }

    #[test]
    fn ssh_private_signs_an_sshsig_the_public_key_verifies() {
        let k = SecretKey::generate();
        let sig = k
            .to_ssh_private()
            .sign("git", ssh_key::HashAlg::Sha512, b"hello")
            .unwrap();
        let public = ssh_key::PublicKey::from_openssh(&k.openssh_public("a")).unwrap();
        public.verify("git", b"hello", &sig).unwrap();
        assert!(public.verify("git", b"hellO", &sig).is_err());
    }
}
