//! DSSE (Dead Simple Signing Envelope, secure-systems-lab/dsse v1.0): the envelope that
//! carries an approval. The signature is ed25519 over the pre-authentication encoding
//!
//! ```text
//! PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
//! ```
//!
//! (`LEN` = ASCII decimal byte count, `SP` = one space), never over the JSON of the envelope,
//! so any third-party DSSE implementation verifies it. `payload` and `sig` are standard
//! base64 with padding; `keyid` is the lowercase hex sha256 of the 32 raw public-key bytes
//! (a hint only: the verifier looks the key up and verifies with the key it holds).
//! Verification is always `verify_strict` (no small-order keys, no malleable signatures).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::keys::SecretKey;

/// The payload type of an in-toto statement (what every approval carries).
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// The envelope's upper size limit: an approval is a few hundred bytes; anything this large is
/// refused before it is parsed.
pub const MAX_ENVELOPE_BYTES: usize = 64 * 1024;

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSignature {
    pub keyid: String,
    /// base64 of the 64 signature bytes.
    pub sig: String,
}

/// A DSSE envelope as JSON (field names as the DSSE specification spells them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// base64 of the payload bytes.
    pub payload: String,
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    pub signatures: Vec<EnvelopeSignature>,
}

/// Why an envelope cannot even be checked (each is an `invalid` approval).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsseError {
    #[error("the envelope is {0} bytes; the limit is {MAX_ENVELOPE_BYTES}")]
    TooLarge(usize),
    #[error("the envelope is not DSSE JSON: {0}")]
    NotJson(String),
    #[error("payloadType is '{0}', expected '{PAYLOAD_TYPE}'")]
    PayloadType(String),
    #[error("the envelope carries {0} signatures; an approval carries exactly one")]
    SignatureCount(usize),
    #[error("{field} is not standard base64: {why}")]
    Base64 { field: &'static str, why: String },
    #[error("the signature is {0} bytes; ed25519 signatures are 64")]
    SignatureLength(usize),
}

/// The pre-authentication encoding, written into `out` (reused by hot loops).
pub fn pae_into(payload_type: &str, payload: &[u8], out: &mut Vec<u8>) {
    use std::io::Write as _;
    out.clear();
    out.reserve(payload_type.len() + payload.len() + 32);
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    );
    out.extend_from_slice(payload);
}

/// The pre-authentication encoding of `payload` with `payload_type`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    pae_into(payload_type, payload, &mut out);
    out
}

/// Signs `payload` with `key`: one signature over the PAE, `keyid` = the key's id.
pub fn sign(payload_type: &str, payload: &[u8], key: &SecretKey) -> Envelope {
    let sig = key.sign(&pae(payload_type, payload));
    Envelope {
        payload: B64.encode(payload),
        payload_type: payload_type.to_string(),
        signatures: vec![EnvelopeSignature {
            keyid: key.keyid().to_string(),
            sig: B64.encode(sig.to_bytes()),
        }],
    }
}

impl Envelope {
    /// The envelope's JSON bytes (what is stored verbatim and exported).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an envelope of strings is JSON")
    }
}

/// An envelope taken apart for verification: the payload bytes, the one signature and the
/// key id it names. Nothing is verified yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub payload: Vec<u8>,
    pub keyid: String,
    pub signature: Signature,
}

fn b64(field: &'static str, text: &str) -> Result<Vec<u8>, DsseError> {
    B64.decode(text).map_err(|e| DsseError::Base64 {
        field,
        why: e.to_string(),
    })
}

/// Parses an approval envelope: DSSE JSON (no unknown fields), our payload type, exactly
/// one signature, canonical base64 (a flipped padding bit is refused, not ignored).
pub fn open(bytes: &[u8]) -> Result<Opened, DsseError> {
    if bytes.len() > MAX_ENVELOPE_BYTES {
        return Err(DsseError::TooLarge(bytes.len()));
    }
    let env: Envelope =
        serde_json::from_slice(bytes).map_err(|e| DsseError::NotJson(e.to_string()))?;
    if env.payload_type != PAYLOAD_TYPE {
        return Err(DsseError::PayloadType(env.payload_type));
    }
    if env.signatures.len() != 1 {
        return Err(DsseError::SignatureCount(env.signatures.len()));
    }
    let s = env.signatures.into_iter().next().expect("exactly one");
    let payload = b64("payload", &env.payload)?;
    let raw = b64("signatures[0].sig", &s.sig)?;
    let raw: [u8; 64] = raw
        .as_slice()
        .try_into()
        .map_err(|_| DsseError::SignatureLength(raw.len()))?;
    Ok(Opened {
        payload,
        keyid: s.keyid,
        signature: Signature::from_bytes(&raw),
    })
}

/// Whether `signature` is `key`'s strict ed25519 signature over the PAE of `payload`.
/// `scratch` is reused for the PAE bytes.
pub fn verify_strict(
    key: &VerifyingKey,
    payload: &[u8],
    signature: &Signature,
    scratch: &mut Vec<u8>,
) -> bool {
    pae_into(PAYLOAD_TYPE, payload, scratch);
    key.verify_strict(scratch, signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_specification_example() {
        // From the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    #[test]
    fn open_refuses_what_is_not_one_of_our_envelopes() {
        let ok = Envelope {
            payload: B64.encode(b"{}"),
            payload_type: PAYLOAD_TYPE.into(),
            signatures: vec![EnvelopeSignature {
                keyid: "k".into(),
                sig: B64.encode([7u8; 64]),
            }],
        };
        assert!(open(ok.to_json().as_bytes()).is_ok());
        let mut other = ok.clone();
        other.payload_type = "text/plain".into();
        assert!(matches!(
            open(other.to_json().as_bytes()),
            Err(DsseError::PayloadType(_))
        ));
        let mut two = ok.clone();
        two.signatures.push(two.signatures[0].clone());
        assert_eq!(
            open(two.to_json().as_bytes()),
            Err(DsseError::SignatureCount(2))
        );
        let mut short = ok.clone();
        short.signatures[0].sig = B64.encode([7u8; 63]);
        assert_eq!(
            open(short.to_json().as_bytes()),
            Err(DsseError::SignatureLength(63))
        );
        let extra = ok.to_json().replacen('{', "{\"x\":1,", 1);
        assert!(matches!(
            open(extra.as_bytes()),
            Err(DsseError::NotJson(_))
        ));
        // base64 whose unused trailing bits are set: refused, not silently accepted.
        let mut bits = ok.clone();
        bits.payload = "e30=".replace('0', "1");
        assert!(matches!(
            open(bits.to_json().as_bytes()),
            Err(DsseError::Base64 { .. })
        ));
        assert!(matches!(
            open(&vec![b' '; MAX_ENVELOPE_BYTES + 1]),
            Err(DsseError::TooLarge(_))
        ));
    }
}
