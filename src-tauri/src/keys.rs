//! Who I am on this device and my signing keys: the person id stored in the app's config
//! folder (the core decides what a valid id is), key generation, rotation and revocation in
//! the OS keyring, the public key and allowed_signers line, and the trust registry as
//! committed. Thin adapters over `oxide_core::signing`; only public data crosses IPC.

use std::path::Path;

use oxide_core::signing::admin::{
    self, ApproversList, PublicKeyReport, RevokeReport, RotateReport,
};
use oxide_core::signing::keys::KeyInfo;
use oxide_core::ErrorDto;
use serde::{Deserialize, Serialize};
use tauri::AppHandle;

use crate::commands::{blocking, dto};

/// The file in the app's config folder that says who signs on this device.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WhoIAm {
    person: String,
}

fn io_error(what: &str, path: &Path, e: impl std::fmt::Display) -> ErrorDto {
    ErrorDto {
        code: "APP_WHOAMI_IO".into(),
        message: format!("cannot {what} {}: {e}", path.display()),
    }
}

/// The stored person id, checked by the core (`None` when none was chosen on this device).
pub fn read_whoami(file: &Path) -> Result<Option<String>, ErrorDto> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("read", file, e)),
    };
    let who: WhoIAm = serde_json::from_str(&text).map_err(|e| ErrorDto {
        code: "APP_WHOAMI_INVALID".into(),
        message: format!(
            "{} is not a who-I-am file ({e}); choose who you are again in Settings",
            file.display()
        ),
    })?;
    oxide_core::signing::check_person_id(&who.person)
        .map_err(|e| dto(oxide_core::Error::from(e)))?;
    Ok(Some(who.person))
}

/// Stores `person` (checked by the core first: nothing is written for a bad id) or, with
/// `None`, forgets it.
pub fn write_whoami(file: &Path, person: Option<&str>) -> Result<Option<String>, ErrorDto> {
    let Some(person) = person.map(str::trim) else {
        return match std::fs::remove_file(file) {
            Ok(()) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("remove", file, e)),
        };
    };
    oxide_core::signing::check_person_id(person).map_err(|e| dto(oxide_core::Error::from(e)))?;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_error("create", dir, e))?;
    }
    let text = serde_json::to_string_pretty(&WhoIAm {
        person: person.to_string(),
    })
    .expect("a string serializes");
    // Written next to its final name and renamed: a crash never leaves half a file.
    let tmp = file.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(|e| io_error("write", &tmp, e))?;
    std::fs::rename(&tmp, file).map_err(|e| io_error("write", file, e))?;
    Ok(Some(person.to_string()))
}

/// Who signs on this device (Settings: who I am), or `null`.
#[tauri::command]
pub async fn whoami_get(app: AppHandle) -> Result<Option<String>, ErrorDto> {
    blocking(app, |s| read_whoami(&s.paths.whoami_file())).await
}

/// Sets (or, with `null`, forgets) who signs on this device.
#[tauri::command]
pub async fn whoami_set(
    app: AppHandle,
    person: Option<String>,
) -> Result<Option<String>, ErrorDto> {
    blocking(app, move |s| {
        write_whoami(&s.paths.whoami_file(), person.as_deref())
    })
    .await
}

/// Every key this workspace's database knows (public data only).
#[tauri::command]
pub async fn keys_list(app: AppHandle) -> Result<Vec<KeyInfo>, ErrorDto> {
    blocking(app, |s| s.with_workspace(admin::list)).await
}

/// `person`'s current public key (OpenSSH) and their `allowed_signers` line.
#[tauri::command]
pub async fn keys_public(app: AppHandle, person: String) -> Result<PublicKeyReport, ErrorDto> {
    blocking(app, move |_| admin::export_public(&person).map_err(dto)).await
}

/// Generates `person`'s key in the OS keyring (refused when they have one: rotate it).
#[tauri::command]
pub async fn keys_generate(app: AppHandle, person: String) -> Result<KeyInfo, ErrorDto> {
    blocking(app, move |s| {
        let ws = s.writer()?;
        admin::generate(&ws, &person, &oxide_core::actor::from_env()).map_err(dto)
    })
    .await
}

/// Replaces `person`'s key and records the change in the registry draft.
#[tauri::command]
pub async fn keys_rotate(app: AppHandle, person: String) -> Result<RotateReport, ErrorDto> {
    blocking(app, move |s| {
        let ws = s.writer()?;
        admin::rotate(&ws, &person, &oxide_core::actor::from_env()).map_err(dto)
    })
    .await
}

/// Revokes key `keyid` (a reason is required) here and in the registry draft.
#[tauri::command]
pub async fn keys_revoke(
    app: AppHandle,
    keyid: String,
    reason: String,
) -> Result<RevokeReport, ErrorDto> {
    blocking(app, move |s| {
        let ws = s.writer()?;
        admin::revoke(&ws, &keyid, &reason, &oxide_core::actor::from_env()).map_err(dto)
    })
    .await
}

/// git's `allowed_signers` text of the committed registry.
#[tauri::command]
pub async fn keys_allowed_signers(app: AppHandle) -> Result<String, ErrorDto> {
    blocking(app, |s| s.with_workspace(admin::export_allowed_signers)).await
}

/// The registry as committed on the target branch, and whether a draft differs from it.
#[tauri::command]
pub async fn approvers_list(app: AppHandle) -> Result<ApproversList, ErrorDto> {
    blocking(app, |s| s.with_workspace(admin::approvers_list)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_i_am_round_trips_and_a_bad_id_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cfg").join("who-i-am.json");
        assert_eq!(read_whoami(&file).unwrap(), None, "nothing chosen yet");
        assert_eq!(
            write_whoami(&file, Some(" ana ")).unwrap().as_deref(),
            Some("ana")
        );
        assert_eq!(read_whoami(&file).unwrap().as_deref(), Some("ana"));
        let bad = write_whoami(&file, Some("ana lee\n")).unwrap_err();
        assert_eq!(bad.code, "SIGNING_BAD_PERSON", "{bad:?}");
        assert_eq!(
            read_whoami(&file).unwrap().as_deref(),
            Some("ana"),
            "the refused id changed nothing"
        );
        assert_eq!(write_whoami(&file, None).unwrap(), None);
        assert_eq!(read_whoami(&file).unwrap(), None);
    }

    #[test]
    fn an_edited_who_i_am_file_is_refused_by_the_core_rules() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("who-i-am.json");
        std::fs::write(&file, r#"{"person": "../../etc"}"#).unwrap();
        assert_eq!(read_whoami(&file).unwrap_err().code, "SIGNING_BAD_PERSON");
        std::fs::write(&file, r#"{"person": "ana", "roles": ["lead"]}"#).unwrap();
        assert_eq!(read_whoami(&file).unwrap_err().code, "APP_WHOAMI_INVALID");
    }
}
