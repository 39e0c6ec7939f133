//! Test helpers of the signing room: in-memory keys (pure unit tests only; integration tests
//! use the real keyring) and registries built from them through the registry's own parser.

use time::OffsetDateTime;

use super::keys::{openssh_public, SecretKey};
use super::registry::{Registry, Role};

/// A key from a fixed seed byte.
pub fn key(seed: u8) -> SecretKey {
    SecretKey::from_seed(&[seed; 32])
}

/// One test person: id, roles, the seeds of their keys, when those keys were revoked.
pub type TestPerson<'a> = (&'a str, &'a [Role], &'a [u8], Option<OffsetDateTime>);

/// A registry of test persons, keys valid from 2026-01-01.
pub fn registry_of(persons: &[TestPerson<'_>]) -> Registry {
    let mut text = String::new();
    for (p, roles, seeds, rev) in persons {
        let roles: Vec<String> = roles
            .iter()
            .map(|r| format!("\"{}\"", r.as_str()))
            .collect();
        text.push_str(&format!(
            "[[person]]\nid = \"{p}\"\nname = \"{p}\"\nroles = [{}]\n",
            roles.join(", ")
        ));
        for s in *seeds {
            text.push_str(&format!(
                "[[person.keys]]\npublic = \"{}\"\nvalid_from = \"2026-01-01T00:00:00Z\"\n",
                openssh_public(&key(*s).verifying_key(), p)
            ));
            if let Some(t) = rev {
                text.push_str(&format!(
                    "revoked_at = \"{}\"\nrevoke_reason = \"test\"\n",
                    crate::clock::format_ts(*t)
                ));
            }
        }
    }
    Registry::parse("test registry", &text).expect("a valid test registry")
}
