//! Device endorsements: how a device's keys become trusted on other clones.
//!
//! A device has two keys that sign what it publishes: its audit-checkpoint key (`device:`,
//! signs its audit checkpoints and its sync manifest) and its workspace's O.X.I.D.E instance
//! key (`instance:`, signs every bundle it admits). Neither is in the trust registry. A person
//! of the committed registry vouches for them with a DSSE envelope (payload type
//! `application/vnd.in-toto+json`, signed with the person's keyring key) whose payload is an
//! in-toto Statement v1:
//!
//! ```json
//! {"_type": "https://in-toto.io/Statement/v1",
//!  "subject": [{"name": "oxide-device:<device keyid>", "digest": {"sha256": "<device keyid>"}}],
//!  "predicateType": "https://oxide-review.dev/device-endorsement/v1",
//!  "predicate": {"person": "...", "device_public": "ssh-ed25519 ...",
//!                "instance_keyid": "...", "instance_public": "ssh-ed25519 ...",
//!                "issued_at": "RFC 3339"}}
//! ```
//!
//! (the device keyid is the sha256 of the raw public key, so it is its own digest).
//! [`verify`] is PURE: the signing key is looked up in the registry committed on the target
//! (the envelope's keyid only says which entry to try) and must be in good standing now and
//! when it was issued; the predicate's person must be that key's owner; both public keys must
//! hash to the keyids named. A device whose endorser's key is later revoked or removed from
//! the registry is no longer trusted for anything new.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::signing::registry::{Registry, Standing};
use crate::signing::{dsse, keyid, parse_openssh_public, SecretKey};

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://oxide-review.dev/device-endorsement/v1";
pub const SUBJECT_PREFIX: &str = "oxide-device:";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Digest {
    sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Subject {
    name: String,
    digest: Digest,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndorsementPredicate {
    pub person: String,
    pub device_public: String,
    pub instance_keyid: String,
    pub instance_public: String,
    pub issued_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Statement {
    #[serde(rename = "_type")]
    type_: String,
    subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    predicate: EndorsementPredicate,
}

/// A device whose endorsement verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endorsed {
    pub device_keyid: String,
    pub device_key: VerifyingKey,
    pub instance_keyid: String,
    pub instance_key: VerifyingKey,
    /// The endorsing person, as the registry names the key's owner.
    pub person: String,
    pub predicate: EndorsementPredicate,
}

/// Signs an endorsement of this device's keys with `person_key` (the person's keyring key).
pub fn sign(
    person: &str,
    person_key: &SecretKey,
    device: &VerifyingKey,
    instance: &VerifyingKey,
    issued_at: &str,
) -> String {
    let device_keyid = keyid(device);
    let st = Statement {
        type_: STATEMENT_TYPE.into(),
        subject: vec![Subject {
            name: format!("{SUBJECT_PREFIX}{device_keyid}"),
            digest: Digest {
                sha256: device_keyid.clone(),
            },
        }],
        predicate_type: PREDICATE_TYPE.into(),
        predicate: EndorsementPredicate {
            person: person.into(),
            device_public: crate::signing::openssh_public(
                device,
                &format!("oxide-device {device_keyid}"),
            ),
            instance_keyid: keyid(instance),
            instance_public: crate::signing::openssh_public(instance, "oxide-instance"),
            issued_at: issued_at.into(),
        },
    };
    let payload = serde_json::to_vec(&st).expect("a statement of strings is JSON");
    dsse::sign(dsse::PAYLOAD_TYPE, &payload, person_key).to_json()
}

fn ts(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// Verifies an endorsement envelope against the committed registry at `now`. `Err` says why
/// it is refused.
pub fn verify(
    envelope: &[u8],
    registry: &Registry,
    now: OffsetDateTime,
) -> Result<Endorsed, String> {
    let opened = dsse::open(envelope).map_err(|e| e.to_string())?;
    let key = registry.lookup(&opened.keyid, now).ok_or_else(|| {
        format!(
            "the endorsement is signed by key {}, which is not in the committed trust registry",
            opened.keyid
        )
    })?;
    let mut scratch = Vec::new();
    if !dsse::verify_strict(
        &key.verifying_key,
        &opened.payload,
        &opened.signature,
        &mut scratch,
    ) {
        return Err(format!(
            "the endorsement's signature does not verify with the registered key {} of {}",
            opened.keyid, key.person
        ));
    }
    if !matches!(key.standing, Standing::Valid) {
        return Err(format!(
            "the endorsing key {} of {} is not in good standing now ({:?})",
            opened.keyid, key.person, key.standing
        ));
    }
    let st: Statement = serde_json::from_slice(&opened.payload)
        .map_err(|e| format!("the payload is not a device endorsement statement: {e}"))?;
    if st.type_ != STATEMENT_TYPE || st.predicate_type != PREDICATE_TYPE {
        return Err(format!(
            "the statement is of type {} / {}, not a device endorsement",
            st.type_, st.predicate_type
        ));
    }
    let p = &st.predicate;
    if p.person != key.person {
        return Err(format!(
            "the endorsement claims person '{}' but key {} belongs to '{}'",
            p.person, opened.keyid, key.person
        ));
    }
    let issued =
        ts(&p.issued_at).ok_or_else(|| format!("issued_at '{}' is not RFC 3339", p.issued_at))?;
    if (issued - now).whole_seconds() > crate::signing::verify::MAX_CLOCK_SKEW_S {
        return Err(format!("issued_at {} lies in the future", p.issued_at));
    }
    match registry.lookup(&opened.keyid, issued).map(|k| k.standing) {
        Some(Standing::Valid) => {}
        other => {
            return Err(format!(
                "the endorsing key {} was not valid when the endorsement was issued ({other:?})",
                opened.keyid
            ))
        }
    }
    let [subject] = st.subject.as_slice() else {
        return Err("the statement must have exactly one subject oxide-device:<keyid>".into());
    };
    let device_key = parse_openssh_public(&p.device_public).map_err(|e| e.to_string())?;
    let device_keyid = keyid(&device_key);
    if subject.name != format!("{SUBJECT_PREFIX}{device_keyid}")
        || subject.digest.sha256 != device_keyid
    {
        return Err(format!(
            "the subject {} does not name the device key it carries ({device_keyid})",
            subject.name
        ));
    }
    let instance_key = parse_openssh_public(&p.instance_public).map_err(|e| e.to_string())?;
    if keyid(&instance_key) != p.instance_keyid {
        return Err(format!(
            "instance_public hashes to {}, not to instance_keyid {}",
            keyid(&instance_key),
            p.instance_keyid
        ));
    }
    Ok(Endorsed {
        device_keyid,
        device_key,
        instance_keyid: p.instance_keyid.clone(),
        instance_key,
        person: key.person.to_string(),
        predicate: st.predicate,
    })
}

/// A detached ed25519 signature by a device key: `{"keyid", "sig"}` (base64).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detached {
    pub keyid: String,
    pub sig: String,
}

impl Detached {
    pub fn sign(key: &SecretKey, msg: &[u8]) -> Detached {
        Detached {
            keyid: key.keyid().to_string(),
            sig: B64.encode(key.sign(msg).to_bytes()),
        }
    }

    /// Whether this is `key`'s strict signature over `msg`.
    pub fn verify(&self, key: &VerifyingKey, msg: &[u8]) -> bool {
        if self.keyid != keyid(key) {
            return false;
        }
        let Ok(raw) = B64.decode(&self.sig) else {
            return false;
        };
        let Ok(sig) = ed25519_dalek::Signature::from_slice(&raw) else {
            return false;
        };
        key.verify_strict(msg, &sig).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::registry::Role;
    use crate::signing::test_support::{key, registry_of};
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-30 12:00 UTC);

    #[test]
    fn an_endorsement_by_a_registered_person_verifies_and_forgeries_do_not() {
        let alice = key(1);
        let mallory = key(9);
        let device = key(2).verifying_key();
        let instance = key(3).verifying_key();
        let reg = registry_of(&[("alice", &[Role::Approver], &[1], None)]);
        let env = sign(
            "alice",
            &alice,
            &device,
            &instance,
            "2026-11-30T11:00:00.000Z",
        );
        let ok = verify(env.as_bytes(), &reg, NOW).unwrap();
        assert_eq!(ok.device_keyid, keyid(&device));
        assert_eq!(ok.instance_keyid, keyid(&instance));
        assert_eq!(ok.person, "alice");
        // Signed by a key the registry does not hold.
        let forged = sign(
            "alice",
            &mallory,
            &device,
            &instance,
            "2026-11-30T11:00:00.000Z",
        );
        assert!(verify(forged.as_bytes(), &reg, NOW)
            .unwrap_err()
            .contains("not in the committed trust registry"));
        // A flipped payload byte.
        let mut v: serde_json::Value = serde_json::from_str(&env).unwrap();
        let payload = B64.decode(v["payload"].as_str().unwrap()).unwrap();
        let swapped = String::from_utf8(payload)
            .unwrap()
            .replace(&keyid(&instance), &keyid(&key(4).verifying_key()));
        v["payload"] = B64.encode(swapped).into();
        assert!(verify(v.to_string().as_bytes(), &reg, NOW).is_err());
        // Claiming another person.
        let reg2 = registry_of(&[
            ("alice", &[Role::Approver], &[1], None),
            ("bob", &[Role::Lead], &[5], None),
        ]);
        let claim = sign(
            "bob",
            &alice,
            &device,
            &instance,
            "2026-11-30T11:00:00.000Z",
        );
        assert!(verify(claim.as_bytes(), &reg2, NOW)
            .unwrap_err()
            .contains("claims person"));
    }

    #[test]
    fn detached_signatures_bind_key_and_message() {
        let k = key(7);
        let d = Detached::sign(&k, b"manifest");
        assert!(d.verify(&k.verifying_key(), b"manifest"));
        assert!(!d.verify(&k.verifying_key(), b"manifesT"));
        assert!(!d.verify(&key(8).verifying_key(), b"manifest"));
    }
}
