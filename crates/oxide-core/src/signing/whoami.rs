//! Who signs on this device: the person id the desktop's Settings store in the app's config
//! folder (`<config dir>/dev.oxide.review/who-i-am.json`, `{"person": "<id>"}`), read here so
//! that the CLI (`oxide promote` without `--person`) and the desktop follow one rule. The id
//! is checked like any person id; an edited or malformed file is refused, never guessed from.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{check_person_id, SigningError};

/// The app identifier (Tauri's `identifier`): the config folder the desktop writes to.
pub const APP_IDENTIFIER: &str = "dev.oxide.review";

#[derive(Deserialize)]
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
}
