//! Who signs on this device: the person id the desktop's Settings store in the app's config
//! folder (`<config dir>/dev.oxide.review/who-i-am.json`, `{"person": "<id>"}`), read here so
//! that the CLI (`oxide promote` without `--person`) and the desktop follow one rule. The id
//! is checked like any person id; an edited or malformed file is refused, never guessed from.
//!
//! The same rule names a proposal's initiator ([`initiator_here`]): the person chosen here if
//! this keyring holds their key, else the only person whose key it holds; otherwise nobody is
//! named and every person who could have proposed is recorded instead ([`Initiator`]). The
//! actor (`OXIDE_ACTOR` / `USER`) is only the audit label and never decides who initiated.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{check_person_id, SigningError};

/// The app identifier (Tauri's `identifier`): the config folder the desktop writes to.
pub const APP_IDENTIFIER: &str = "dev.oxide.review";

#[derive(Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct WhoIAm {
    person: String,
}

/// `<user config dir>/dev.oxide.review/who-i-am.json` (`None`: no home directory).
pub fn default_file() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|d| d.config_dir().join(APP_IDENTIFIER).join("who-i-am.json"))
}

/// The person chosen on this device (`None`: no file, nothing chosen).
pub fn read(file: &Path) -> Result<Option<String>, SigningError> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(SigningError::Io {
                what: "read",
                path: file.display().to_string(),
                why: e.to_string(),
            })
        }
    };
    let who: WhoIAm = serde_json::from_str(&text).map_err(|e| SigningError::Io {
        what: "understand the who-I-am file",
        path: file.display().to_string(),
        why: format!("{e}; choose who you are again in the app's Settings"),
    })?;
    check_person_id(who.person.trim())?;
    Ok(Some(who.person.trim().to_string()))
}

/// Stores `person` (checked first: nothing is written for a bad id) or, with `None`, forgets
/// who signs here. Written next to its final name and renamed, so a crash never leaves half a
/// file. Returns what is stored now.
pub fn write(file: &Path, person: Option<&str>) -> Result<Option<String>, SigningError> {
    let io = |what: &'static str, path: &Path, e: std::io::Error| SigningError::Io {
        what,
        path: path.display().to_string(),
        why: e.to_string(),
    };
    let Some(person) = person.map(str::trim) else {
        return match std::fs::remove_file(file) {
            Ok(()) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("remove", file, e)),
        };
    };
    check_person_id(person)?;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
    }
    let text = serde_json::to_string_pretty(&WhoIAm {
        person: person.to_string(),
    })
    .expect("a string serializes");
    let tmp = file.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(|e| io("write", &tmp, e))?;
    std::fs::rename(&tmp, file).map_err(|e| io("write", file, e))?;
    Ok(Some(person.to_string()))
}

/// Who created a proposal, as the two-person rule sees it (docs/roles.md, "Who initiated a
/// proposal").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Initiator {
    /// One person: resolved on the proposing device, or the endorsed person of the device
    /// that published it through sync.
    Person(String),
    /// No single person resolved on this device: the persons whose keys it held then (maybe
    /// none). None of them, nor anyone with a key made in this database, counts.
    Unresolved(Vec<String>),
}

impl Initiator {
    /// The resolved person, if any.
    pub fn person(&self) -> Option<&str> {
        match self {
            Initiator::Person(p) => Some(p),
            Initiator::Unresolved(_) => None,
        }
    }
}

/// PURE: the initiator from the person chosen on this device (`chosen`), the persons whose
/// keys this device's keyring holds (`held`) and those of them whose held key the committed
/// registry registers to that very person (`registered`): the chosen person when they hold a
/// registered key here, else the only holder when that holder's key is registered, else
/// unresolved (every holder could have proposed). A keyring entry alone never names anyone:
/// anybody can put a key under any person's name into their own keyring.
pub fn resolve_initiator(
    chosen: Option<&str>,
    held: &[String],
    registered: &[String],
) -> Initiator {
    let counts = |p: &str| registered.iter().any(|r| r == p) && held.iter().any(|h| h == p);
    if let Some(c) = chosen.filter(|c| counts(c)) {
        return Initiator::Person(c.to_string());
    }
    match held {
        [only] if counts(only) => Initiator::Person(only.clone()),
        _ => {
            let mut all = held.to_vec();
            all.sort();
            all.dedup();
            Initiator::Unresolved(all)
        }
    }
}

/// The persons (of `candidates`) whose current key this machine's keyring holds, each with
/// that key's keyid. A keyring that cannot be reached tells nothing: then every candidate
/// might hold one (returned without keyids and with `false`, "not sure").
pub fn held_keys(candidates: &[String]) -> Result<(Vec<(String, String)>, bool), SigningError> {
    let mut held = Vec::new();
    for p in candidates {
        match super::keys::person_key(p) {
            Ok(k) => held.push((p.clone(), k.keyid().to_string())),
            Err(SigningError::NoKey { .. }) => {}
            Err(SigningError::NoKeyring { .. }) => {
                return Ok((
                    candidates
                        .iter()
                        .map(|c| (c.clone(), String::new()))
                        .collect(),
                    false,
                ))
            }
            Err(e) => return Err(e),
        }
    }
    Ok((held, true))
}

/// The persons (of `candidates`) whose current key this machine's keyring holds. A keyring
/// that cannot be reached tells nothing: then every candidate might hold one (returned with
/// `false`, "not sure").
pub fn held_persons(candidates: &[String]) -> Result<(Vec<String>, bool), SigningError> {
    let (held, sure) = held_keys(candidates)?;
    Ok((held.into_iter().map(|(p, _)| p).collect(), sure))
}

/// PURE: the holders (of `held`, person and keyid) whose held key `registry` registers to
/// that same person (any standing: a revoked key still says whose it is).
pub fn registered_holders(
    held: &[(String, String)],
    registry: &super::registry::Registry,
    at: time::OffsetDateTime,
) -> Vec<String> {
    held.iter()
        .filter(|(p, keyid)| {
            registry
                .lookup(keyid, at)
                .is_some_and(|s| s.person == p.as_str())
        })
        .map(|(p, _)| p.clone())
        .collect()
}

/// Every person this database made a key for (`keys generate`/`rotate`, revoked or not).
pub fn persons_with_local_keys(conn: &rusqlite::Connection) -> Result<Vec<String>, SigningError> {
    let mut persons: Vec<String> = super::keys::list(conn)?
        .into_iter()
        .filter(|k| k.purpose == super::KeyPurpose::Person)
        .filter_map(|k| k.person)
        .collect();
    persons.sort();
    persons.dedup();
    Ok(persons)
}

/// The initiator of a proposal made now on this device: [`resolve_initiator`] over the
/// who-I-am file and the persons (of this database's keys and the committed registry) whose
/// keys this keyring holds; only a held key the committed registry registers to its person
/// can name that person. Never the actor. Only the persons this workspace knows are
/// looked up, so a workspace without keys or registry never touches the keyring.
pub fn initiator_here(ws: &crate::Workspace) -> Result<Initiator, crate::Error> {
    let registry = super::registry::Registry::committed(ws)?;
    let mut candidates = persons_with_local_keys(ws.store().conn())?;
    candidates.extend(registry.persons.iter().map(|p| p.id.clone()));
    candidates.sort();
    candidates.dedup();
    if candidates.is_empty() {
        return Ok(Initiator::Unresolved(Vec::new()));
    }
    let (held, sure) = held_keys(&candidates)?;
    let persons: Vec<String> = held.iter().map(|(p, _)| p.clone()).collect();
    if !sure {
        return Ok(Initiator::Unresolved(persons));
    }
    let registered = registered_holders(&held, &registry, time::OffsetDateTime::now_utc());
    let chosen = match default_file() {
        Some(f) => read(&f)?,
        None => None,
    };
    Ok(resolve_initiator(chosen.as_deref(), &persons, &registered))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn the_initiator_is_a_person_holding_a_key_here_never_a_name() {
        let reg = v(&["ana", "lee"]);
        // who-I-am names a holder: that person, even with several keys here.
        assert_eq!(
            resolve_initiator(Some("ana"), &v(&["ana", "lee"]), &reg),
            Initiator::Person("ana".into())
        );
        // The only holder.
        assert_eq!(
            resolve_initiator(None, &v(&["lee"]), &reg),
            Initiator::Person("lee".into())
        );
        // who-I-am naming someone without a key here is not believed.
        assert_eq!(
            resolve_initiator(Some("nobody"), &v(&["lee"]), &reg),
            Initiator::Person("lee".into())
        );
        assert_eq!(
            resolve_initiator(Some("nobody"), &v(&["lee", "ana"]), &reg),
            Initiator::Unresolved(v(&["ana", "lee"]))
        );
        // Several holders and nobody chosen, or no holder at all: unresolved.
        assert_eq!(
            resolve_initiator(None, &v(&["lee", "ana"]), &reg),
            Initiator::Unresolved(v(&["ana", "lee"]))
        );
        assert_eq!(
            resolve_initiator(None, &[], &reg),
            Initiator::Unresolved(vec![])
        );
        assert_eq!(resolve_initiator(Some("ana"), &[], &reg).person(), None);
    }

    #[test]
    fn a_keyring_entry_the_registry_does_not_register_names_nobody() {
        // ana (registered) made a key under lee's name in her own keyring and chose lee:
        // lee's entry is not registered to lee, so nobody is named and ana is a candidate.
        assert_eq!(
            resolve_initiator(Some("lee"), &v(&["ana", "lee"]), &v(&["ana"])),
            Initiator::Unresolved(v(&["ana", "lee"]))
        );
        // The only holder, unregistered: nobody.
        assert_eq!(
            resolve_initiator(None, &v(&["lee"]), &[]),
            Initiator::Unresolved(v(&["lee"]))
        );
        assert_eq!(
            resolve_initiator(Some("lee"), &v(&["lee"]), &[]),
            Initiator::Unresolved(v(&["lee"]))
        );
        // Registered names a holder only while that holder holds the key here.
        assert_eq!(
            resolve_initiator(Some("lee"), &v(&["ana"]), &v(&["lee", "ana"])),
            Initiator::Person("ana".into())
        );

        // registered_holders: the held key's keyid must be registered to that same person.
        let (ana, lee, other) = (
            crate::signing::SecretKey::generate(),
            crate::signing::SecretKey::generate(),
            crate::signing::SecretKey::generate(),
        );
        let text = format!(
            "[[person]]\nid = \"ana\"\nname = \"Ana\"\nroles = [\"approver\"]\n\
             [[person.keys]]\npublic = \"{}\"\nvalid_from = \"2026-01-01T00:00:00Z\"\n\
             [[person]]\nid = \"lee\"\nname = \"Lee\"\nroles = [\"lead\"]\n\
             [[person.keys]]\npublic = \"{}\"\nvalid_from = \"2026-01-01T00:00:00Z\"\n",
            ana.openssh_public("ana"),
            lee.openssh_public("lee"),
        );
        let reg = super::super::registry::Registry::parse("t.toml", &text).unwrap();
        let at = time::macros::datetime!(2026-03-01 00:00 UTC);
        let held = |xs: &[(&str, &crate::signing::SecretKey)]| -> Vec<(String, String)> {
            xs.iter()
                .map(|(p, k)| (p.to_string(), k.keyid().to_string()))
                .collect()
        };
        assert_eq!(
            registered_holders(&held(&[("ana", &ana), ("lee", &lee)]), &reg, at),
            v(&["ana", "lee"])
        );
        // A fresh key under lee's name, or ana's key filed under lee: not lee's.
        assert_eq!(
            registered_holders(&held(&[("ana", &ana), ("lee", &other)]), &reg, at),
            v(&["ana"])
        );
        assert_eq!(
            registered_holders(&held(&[("lee", &ana)]), &reg, at),
            Vec::<String>::new()
        );
        assert_eq!(
            registered_holders(
                &held(&[("lee", &lee)]),
                &super::super::registry::Registry::empty(),
                at
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn reads_the_desktop_file_and_refuses_edits() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("who-i-am.json");
        assert_eq!(read(&f).unwrap(), None);
        std::fs::write(&f, "{\n  \"person\": \"ana\"\n}").unwrap();
        assert_eq!(read(&f).unwrap().as_deref(), Some("ana"));
        std::fs::write(&f, r#"{"person": "../../etc"}"#).unwrap();
        assert_eq!(read(&f).unwrap_err().code(), "SIGNING_BAD_PERSON");
        std::fs::write(&f, r#"{"person": "ana", "roles": ["lead"]}"#).unwrap();
        assert_eq!(read(&f).unwrap_err().code(), "SIGNING_IO");
    }

    #[test]
    fn who_i_am_round_trips_and_a_bad_id_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cfg").join("who-i-am.json");
        assert_eq!(read(&file).unwrap(), None, "nothing chosen yet");
        assert_eq!(write(&file, Some(" ana ")).unwrap().as_deref(), Some("ana"));
        assert_eq!(read(&file).unwrap().as_deref(), Some("ana"));
        let bad = write(&file, Some("ana lee\n")).unwrap_err();
        assert_eq!(bad.code(), "SIGNING_BAD_PERSON", "{bad:?}");
        assert_eq!(
            read(&file).unwrap().as_deref(),
            Some("ana"),
            "the refused id changed nothing"
        );
        assert_eq!(write(&file, None).unwrap(), None);
        assert_eq!(read(&file).unwrap(), None);
    }
}
