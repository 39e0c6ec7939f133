//! Who signs on this device: the person id the desktop's Settings store in the app's config
//! folder (`<config dir>/dev.oxide.review/who-i-am.json`, `{"person": "<id>"}`), read here so
//! that the CLI (`oxide promote` without `--person`) and the desktop follow one rule. The id
//! is checked like any person id; an edited or malformed file is refused, never guessed from.

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

#[cfg(test)]
mod tests {
    use super::*;

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
