//! The signing room: ed25519 keys kept only in the OS keyring, the trust registry
//! (`.oxide/approvers.toml` as committed on the target branch) and, built on them, approvals,
//! bundle signatures and audit checkpoints.
//!
//! - `keyring.rs`: the one door to the OS keyring (Secret Service, Keychain, Credential
//!   Manager) through the `keyring` crate; no file fallback, ever.
//! - `keys.rs`: [`SecretKey`], keyids, OpenSSH public keys, and the `signing_keys` table
//!   (public data only): generate / rotate / revoke a person's key, the workspace's instance
//!   key and this device's checkpoint key.
//! - `registry.rs`: the trust registry: strict parse, O(1) keyid lookup with the key's
//!   standing at a time, git's `allowed_signers`, and edits of the working-tree draft.
//! - `admin.rs`: what the shells offer (`oxide keys`, `oxide approvers`, the desktop's
//!   settings): keyring, rows and registry draft changed together.
//!
//! A private key never leaves the keyring except as a [`SecretKey`] in memory (zeroized on
//! drop, no `Serialize`, `Debug` shows the keyid): never to a file, the database, a log, an
//! export or an IPC message.

pub mod admin;
pub mod approvals;
pub mod bundle_sig;
pub mod checkpoint;
pub mod dsse;
pub mod keyring;
pub mod keys;
pub mod note;
pub mod registry;
pub mod sshsig;
pub mod statement;
pub mod tally;
pub mod verify;
pub mod whoami;

use crate::ErrorKind;

pub use keys::{
    device_key, find, generate_person, instance_key, keyid, list, openssh_public,
    parse_openssh_public, person_key, revocations, revoke, rotate_person, KeyInfo, KeyPurpose,
    Revocation, Rotation, SecretKey,
};
pub use registry::{
    Draft, DraftChange, KeyStanding, Person, RegisteredKey, Registry, Role, Standing,
    DEFAULT_REGISTRY, REGISTRY_PATH,
};

/// The signing room's default governance files for `oxide init`: the empty, commented trust
/// registry.
pub const DEFAULT_FILES: &[(&str, &str)] = &[(REGISTRY_PATH, DEFAULT_REGISTRY)];

/// Errors of the `signing` room.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("no OS keyring is available ({why}). OXIDE keeps signing keys only in the OS keyring and never in a file. On Linux start a Secret Service, e.g. run inside `dbus-run-session` after `echo -n PASSWORD | gnome-keyring-daemon --unlock --components=secrets`, or unlock your desktop keyring; nothing was written")]
    NoKeyring { why: String },
    #[error("no signing key for {what} in the OS keyring (entry '{entry}'); {hint}")]
    NoKey {
        what: String,
        entry: String,
        hint: String,
    },
    #[error("person '{person}' already has a signing key (keyid {keyid}) in this machine's keyring; use `oxide keys rotate --person {person}` to replace it; nothing was written")]
    KeyExists { person: String, keyid: String },
    #[error("the keyring entry '{entry}' does not hold a 32-byte ed25519 seed; delete it (e.g. with `secret-tool clear service dev.oxide.review username {entry}`) and generate a new key")]
    BadSecret { entry: String },
    #[error("the keyring entry '{entry}' holds key {found}, but the database expects {expected}; the database or the keyring was changed behind OXIDE's back; nothing was signed")]
    KeyMismatch {
        entry: String,
        expected: String,
        found: String,
    },
    #[error("'{0}' is not a valid person id: use 1 to 64 characters from letters, digits, '.', '_', '-' and '@', starting with a letter or digit")]
    BadPersonId(String),
    #[error("unknown role '{0}'; roles are approver, lead and maintainer")]
    BadRole(String),
    #[error("not a usable public key: {why}. Give an OpenSSH ed25519 public key, e.g. `ssh-ed25519 AAAAC3Nza... comment`")]
    BadPublicKey { why: String },
    #[error("no signing key with keyid {0} is known here (this database's keys or the working-tree .oxide/approvers.toml); check `oxide keys list` and `oxide approvers list`; nothing was changed")]
    UnknownKey(String),
    #[error("key {keyid} was already revoked at {at}; nothing was changed")]
    AlreadyRevoked { keyid: String, at: String },
    #[error("revoking a key needs --reason TEXT (it is recorded with the revocation); nothing was changed")]
    ReasonRequired,
    #[error("{origin} is not a valid trust registry: {why}; fix the file (see docs/approvals.md); nothing was changed")]
    RegistryInvalid { origin: String, why: String },
    #[error("{what}; nothing was changed")]
    RegistryEdit { what: String },
    #[error("cannot {what} {path}: {why}")]
    Io {
        what: &'static str,
        path: String,
        why: String,
    },
    #[error("nonce {0} is already used by another approval; an approval is never stored twice. Nothing was stored")]
    NonceReused(String),
    #[error("proposal {id} failed its bundle signature check (REC-001): {why}. OXIDE does not act on it (validate, approve and promote quarantine it); re-create the proposal from its skill or bundle")]
    BundleInvalid { id: String, why: String },
    #[error("the audit log does not extend what this device signed before{}: {why}. Nothing was signed; run `oxide audit verify` for the details", first_bad_seq.map(|s| format!(" (from event {s})")).unwrap_or_default())]
    AuditTampered {
        first_bad_seq: Option<i64>,
        why: String,
    },
    #[error(
        "the audit log has no events yet; there is nothing to checkpoint (run `oxide init` first)"
    )]
    NothingToCheckpoint,
    #[error("SSH signature (SSHSIG): {why}")]
    SshSig { why: String },
    #[error(transparent)]
    Canon(#[from] crate::canon::CanonError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl From<rusqlite::Error> for SigningError {
    fn from(e: rusqlite::Error) -> Self {
        SigningError::Store(e.into())
    }
}

impl SigningError {
    pub fn code(&self) -> &'static str {
        match self {
            SigningError::NoKeyring { .. } => "SIGNING_NO_KEYRING",
            SigningError::NoKey { .. } => "SIGNING_NO_KEY",
            SigningError::KeyExists { .. } => "SIGNING_KEY_EXISTS",
            SigningError::BadSecret { .. } => "SIGNING_BAD_SECRET",
            SigningError::KeyMismatch { .. } => "SIGNING_KEY_MISMATCH",
            SigningError::BadPersonId(_) => "SIGNING_BAD_PERSON",
            SigningError::BadRole(_) => "SIGNING_BAD_ROLE",
            SigningError::BadPublicKey { .. } => "SIGNING_BAD_PUBLIC_KEY",
            SigningError::UnknownKey(_) => "SIGNING_UNKNOWN_KEY",
            SigningError::AlreadyRevoked { .. } => "SIGNING_ALREADY_REVOKED",
            SigningError::ReasonRequired => "SIGNING_REASON_REQUIRED",
            SigningError::RegistryInvalid { .. } => "SIGNING_REGISTRY_INVALID",
            SigningError::RegistryEdit { .. } => "SIGNING_REGISTRY_EDIT",
            SigningError::Io { .. } => "SIGNING_IO",
            SigningError::NonceReused(_) => "SIGNING_NONCE_REUSED",
            SigningError::BundleInvalid { .. } => "SIGNING_BUNDLE_INVALID",
            SigningError::AuditTampered { .. } => "SIGNING_AUDIT_TAMPERED",
            SigningError::NothingToCheckpoint => "SIGNING_NOTHING_TO_CHECKPOINT",
            SigningError::SshSig { .. } => "SIGNING_SSHSIG",
            SigningError::Canon(e) => e.code(),
            SigningError::Audit(e) => e.code(),
            SigningError::Store(e) => e.code(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            SigningError::NoKey { .. }
            | SigningError::KeyExists { .. }
            | SigningError::BadPersonId(_)
            | SigningError::BadRole(_)
            | SigningError::BadPublicKey { .. }
            | SigningError::UnknownKey(_)
            | SigningError::AlreadyRevoked { .. }
            | SigningError::ReasonRequired
            | SigningError::RegistryInvalid { .. }
            | SigningError::RegistryEdit { .. } => ErrorKind::Invalid,
            SigningError::KeyMismatch { .. }
            | SigningError::BundleInvalid { .. }
            | SigningError::AuditTampered { .. }
            | SigningError::NonceReused(_)
            | SigningError::SshSig { .. } => ErrorKind::Refused,
            SigningError::NothingToCheckpoint => ErrorKind::Invalid,
            SigningError::Canon(_) => ErrorKind::Internal,
            SigningError::NoKeyring { .. }
            | SigningError::BadSecret { .. }
            | SigningError::Io { .. } => ErrorKind::Internal,
            SigningError::Audit(e) => e.kind(),
            SigningError::Store(e) => e.kind(),
        }
    }
}

/// Checks a person id: 1 to 64 of `[A-Za-z0-9._@-]`, starting with a letter or digit (it is a
/// principal in git's `allowed_signers` and part of a keyring entry name, so no spaces,
/// commas, quotes or colons).
pub fn check_person_id(id: &str) -> Result<&str, SigningError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.as_bytes()[0].is_ascii_alphanumeric()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
    if ok {
        Ok(id)
    } else {
        Err(SigningError::BadPersonId(id.to_string()))
    }
}

/// Runs `f` atomically on `conn`: in a new `BEGIN IMMEDIATE` transaction when `conn` is in
/// autocommit mode, else in a savepoint of the caller's transaction (so the room's functions
/// work both standalone and inside a caller's transaction, e.g. bundle admission).
pub(crate) fn atomically<T>(
    conn: &rusqlite::Connection,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, SigningError>,
) -> Result<T, SigningError> {
    let (begin, commit, rollback) = if conn.is_autocommit() {
        ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")
    } else {
        (
            "SAVEPOINT signing",
            "RELEASE signing",
            "ROLLBACK TO signing; RELEASE signing",
        )
    };
    conn.execute_batch(begin)?;
    match f(conn) {
        Ok(v) => match conn.execute_batch(commit) {
            Ok(()) => Ok(v),
            Err(e) => {
                let _ = conn.execute_batch(rollback);
                Err(e.into())
            }
        },
        Err(e) => {
            let _ = conn.execute_batch(rollback);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) mod test_support;
