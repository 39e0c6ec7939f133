//! The one door to the OS keyring (`keyring` crate: Secret Service on Linux, Keychain on
//! macOS, Credential Manager on Windows). Every entry lives under the service
//! [`SERVICE`]; its user name says what it is:
//!
//! - `person:<person-id>`: a person's current signing key (shared by every workspace on the
//!   machine);
//! - `instance:<keyid>`: a workspace's O.X.I.D.E instance key;
//! - `device:<keyid>`: this device's audit-checkpoint key;
//! - `witness:<device keyid>`: the newest audit checkpoint note (not a key).
//!
//! A key entry holds the 32-byte ed25519 seed as 64 lowercase hex digits and nothing else.
//! When no keyring can be reached the error is `SIGNING_NO_KEYRING`; there is no file
//! fallback.

use zeroize::Zeroizing;

use super::keys::SecretKey;
use super::SigningError;

/// The keyring service every OXIDE entry is stored under.
pub const SERVICE: &str = "dev.oxide.review";

/// `person:<id>`: the entry of a person's current signing key.
pub fn person_entry(person: &str) -> String {
    format!("person:{person}")
}

/// `instance:<keyid>`: the entry of a workspace's O.X.I.D.E instance key.
pub fn instance_entry(keyid: &str) -> String {
    format!("instance:{keyid}")
}

/// `device:<keyid>`: the entry of this device's audit-checkpoint key.
pub fn device_entry(keyid: &str) -> String {
    format!("device:{keyid}")
}

/// `witness:<device keyid>`: the entry holding the newest checkpoint note of a device key.
pub fn witness_entry(device_keyid: &str) -> String {
    format!("witness:{device_keyid}")
}

fn entry(user: &str) -> Result<keyring::Entry, SigningError> {
    keyring::Entry::new(SERVICE, user).map_err(|e| map_err(user, e))
}

fn map_err(user: &str, e: keyring::Error) -> SigningError {
    match e {
        keyring::Error::PlatformFailure(err) | keyring::Error::NoStorageAccess(err) => {
            SigningError::NoKeyring {
                why: err.to_string(),
            }
        }
        keyring::Error::BadEncoding(_) | keyring::Error::Ambiguous(_) => SigningError::BadSecret {
            entry: user.to_string(),
        },
        other => SigningError::NoKeyring {
            why: other.to_string(),
        },
    }
}

/// The text stored in entry `user` (`None`: no such entry).
pub fn get_text(user: &str) -> Result<Option<Zeroizing<String>>, SigningError> {
    match entry(user)?.get_password() {
        Ok(s) => Ok(Some(Zeroizing::new(s))),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(map_err(user, e)),
    }
}

/// Stores `text` in entry `user` (replacing what was there).
pub fn set_text(user: &str, text: &str) -> Result<(), SigningError> {
    entry(user)?
        .set_password(text)
        .map_err(|e| map_err(user, e))
}

/// Deletes entry `user`; `false` when there was none.
pub fn delete(user: &str) -> Result<bool, SigningError> {
    match entry(user)?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(map_err(user, e)),
    }
}

/// The key stored in entry `user` (`None`: no such entry).
pub fn load_key(user: &str) -> Result<Option<SecretKey>, SigningError> {
    let Some(text) = get_text(user)? else {
        return Ok(None);
    };
    let mut seed = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim().as_bytes(), seed.as_mut_slice()).map_err(|_| {
        SigningError::BadSecret {
            entry: user.to_string(),
        }
    })?;
    Ok(Some(SecretKey::from_seed(&seed)))
}

/// Stores `key`'s seed in entry `user` (replacing what was there).
pub fn store_key(user: &str, key: &SecretKey) -> Result<(), SigningError> {
    let text = Zeroizing::new(hex::encode(key.seed().as_slice()));
    set_text(user, &text)
}
