//! Signed bundles (REC-001): the workspace's O.X.I.D.E instance key signs every proposal
//! bundle when it is admitted (in the admission transaction), and every gate that acts on a
//! proposal (validate, approve, promote) verifies that signature and the digest first.
//!
//! The signed message is the RFC 8785 bytes of
//! `{"type": "https://oxide-review.dev/bundle-signature/v1", "proposal": ID, "digest": DIGEST}`
//! (the type separates it from every other thing OXIDE keys sign). The row in
//! `bundle_signatures` holds the signature and the keyid, public data only.
//!
//! Verification never trusts the database's public data alone: the instance key is loaded
//! from the OS keyring (entry `instance:<keyid>`, named by OXIDE, not by the row) and its
//! public key derived from the seed there. Someone holding only the database file can edit
//! the bundle, the digest, the signature row or the key pointer, but cannot make a signature
//! the keyring's key verifies.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::Signature;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::keys::{self, KeyPurpose, SecretKey};
use super::{keyring, SigningError};
use crate::canon;
use crate::clock::format_ts;

/// The `type` of the signed statement.
pub const SIGNATURE_TYPE: &str = "https://oxide-review.dev/bundle-signature/v1";

/// One bundle signature, as stored (public data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct BundleSignature {
    pub proposal: String,
    pub digest: String,
    pub keyid: String,
    /// base64 of the 64-byte ed25519 signature.
    pub signature: String,
    pub signed_at: String,
}

#[derive(Serialize)]
struct Statement<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    proposal: &'a str,
    digest: &'a str,
}

/// The bytes the instance key signs for proposal `id` with bundle digest `digest`.
pub fn message(id: &str, digest: &str) -> Result<Vec<u8>, SigningError> {
    Ok(canon::canonical_bytes(&Statement {
        kind: SIGNATURE_TYPE,
        proposal: id,
        digest,
    })?)
}

/// Signs proposal `id`'s bundle digest with the workspace's instance key (made on first use)
/// and stores the signature. Call it in the transaction that admits the proposal.
#[tracing::instrument(name = "signing.bundle_sign", skip_all, fields(proposal = id))]
pub fn sign(
    conn: &Connection,
    id: &str,
    digest: &str,
    now: OffsetDateTime,
) -> Result<BundleSignature, SigningError> {
    canon::parse_digest(digest)?;
    let key = keys::instance_key(conn, now)?;
    let sig = key.sign(&message(id, digest)?);
    let row = BundleSignature {
        proposal: id.to_string(),
        digest: digest.to_string(),
        keyid: key.keyid().to_string(),
        signature: B64.encode(sig.to_bytes()),
        signed_at: format_ts(now),
    };
    conn.execute(
        "INSERT INTO bundle_signatures (proposal_id, digest, keyid, signature, signed_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            row.proposal,
            row.digest,
            row.keyid,
            row.signature,
            row.signed_at
        ],
    )?;
    Ok(row)
}

/// The stored signature of proposal `id`, if any (no verification).
pub fn get(conn: &Connection, id: &str) -> Result<Option<BundleSignature>, SigningError> {
    Ok(conn
        .query_row(
            "SELECT proposal_id, digest, keyid, signature, signed_at
             FROM bundle_signatures WHERE proposal_id = ?1",
            [id],
            |r| {
                Ok(BundleSignature {
                    proposal: r.get(0)?,
                    digest: r.get(1)?,
                    keyid: r.get(2)?,
                    signature: r.get(3)?,
                    signed_at: r.get(4)?,
                })
            },
        )
        .optional()?)
}

/// The workspace's instance key as the OS keyring holds it, without making one: the
/// database names the keyid, the keyring entry name is derived here from that keyid (never
/// read from the row), and the key found there must have that keyid.
fn keyring_instance_key(conn: &Connection) -> Result<Result<SecretKey, String>, SigningError> {
    let instance: Vec<_> = keys::list(conn)?
        .into_iter()
        .filter(|k| k.purpose == KeyPurpose::Instance)
        .collect();
    let info = match instance.as_slice() {
        [one] => one,
        [] => return Ok(Err("this workspace has no O.X.I.D.E instance key".into())),
        _ => return Ok(Err("the database names more than one instance key".into())),
    };
    let entry = keyring::instance_entry(&info.keyid);
    match keyring::load_key(&entry)? {
        None => Ok(Err(format!(
            "the OS keyring holds no instance key {} (entry '{entry}')",
            info.keyid
        ))),
        Some(k) if k.keyid() != info.keyid => Ok(Err(format!(
            "the keyring entry '{entry}' holds key {}, not {}",
            k.keyid(),
            info.keyid
        ))),
        Some(k) => Ok(Ok(k)),
    }
}

/// REC-001: checks proposal `id` before a gate acts on it. `digest` is the proposal's digest
/// as recorded and `canonical` the RFC 8785 bytes of the bundle the gate is about to act on:
/// both must match each other and the signed digest, and the signature must verify
/// (`verify_strict`) with the instance key from the OS keyring.
///
/// `Err(SIGNING_BUNDLE_INVALID)` when anything does not hold (the caller quarantines the
/// proposal); `SIGNING_NO_KEYRING` when the keyring cannot be reached (nothing is judged).
#[tracing::instrument(name = "signing.bundle_verify", skip_all, fields(proposal = id))]
pub fn verify(
    conn: &Connection,
    id: &str,
    digest: &str,
    canonical: &[u8],
) -> Result<BundleSignature, SigningError> {
    let invalid = |why: String| SigningError::BundleInvalid {
        id: id.to_string(),
        why,
    };
    let actual = canon::sha256_bytes(canonical);
    if actual != digest {
        return Err(invalid(format!(
            "the stored bundle hashes to {actual}, not to its recorded digest {digest}"
        )));
    }
    let Some(row) = get(conn, id)? else {
        return Err(invalid("it has no instance-key signature".into()));
    };
    if row.proposal != id || row.digest != digest {
        return Err(invalid(format!(
            "the signature is over digest {}, not {digest}",
            row.digest
        )));
    }
    let key = keyring_instance_key(conn)?.map_err(invalid)?;
    if row.keyid != key.keyid() {
        return Err(invalid(format!(
            "it names key {}, but this workspace's instance key is {}",
            row.keyid,
            key.keyid()
        )));
    }
    let sig = B64
        .decode(&row.signature)
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or_else(|| invalid("the stored signature is not 64 bytes of base64".into()))?;
    key.verifying_key()
        .verify_strict(&message(id, digest)?, &sig)
        .map_err(|_| invalid("the signature does not verify with the instance key".into()))?;
    Ok(row)
}
