//! RFC 8785 (JCS) canonical JSON, sha256 digests shown as `sha256:<hex>`, and ids.
//!
//! Every digest in OXIDE is `sha256(canonical_bytes(value))`. Canonicalisation is done by
//! `serde_json_canonicalizer`; this module only fixes how digests are spelled and parsed.

use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// Errors of the `canon` room.
#[derive(Debug, thiserror::Error)]
pub enum CanonError {
    #[error("cannot canonicalise value as RFC 8785 JSON: {0}")]
    Canonicalize(String),
    #[error("'{0}' is not a digest; expected 'sha256:' followed by 64 lowercase hex digits")]
    BadDigest(String),
}

impl CanonError {
    pub fn code(&self) -> &'static str {
        match self {
            CanonError::Canonicalize(_) => "CANON_SERIALIZE",
            CanonError::BadDigest(_) => "CANON_BAD_DIGEST",
        }
    }
}

/// The RFC 8785 canonical bytes of any serialisable value.
pub fn canonical_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, CanonError> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| CanonError::Canonicalize(e.to_string()))
}

/// The RFC 8785 canonical text of a value.
pub fn canonical_string<T: Serialize>(value: &T) -> Result<String, CanonError> {
    serde_json_canonicalizer::to_string(value).map_err(|e| CanonError::Canonicalize(e.to_string()))
}

/// `sha256:<hex>` of raw bytes.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// `sha256:<hex>` of a value's canonical bytes.
pub fn digest<T: Serialize>(value: &T) -> Result<String, CanonError> {
    Ok(sha256_bytes(&canonical_bytes(value)?))
}

/// Checks the spelling of a digest and returns it unchanged.
pub fn parse_digest(s: &str) -> Result<&str, CanonError> {
    let hex = s
        .strip_prefix("sha256:")
        .ok_or_else(|| CanonError::BadDigest(s.to_string()))?;
    if hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(s)
    } else {
        Err(CanonError::BadDigest(s.to_string()))
    }
}

/// A short, human-friendly id derived from a digest (first 12 hex digits).
pub fn short_id(digest: &str) -> String {
    digest
        .trim_start_matches("sha256:")
        .chars()
        .take(12)
        .collect()
}

#[cfg(test)]
mod tests;
