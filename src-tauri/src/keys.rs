//! Who I am on this device and my signing keys: the person id stored in the app's config
//! folder (the core decides what a valid id is), key generation, rotation and revocation in
//! the OS keyring, the public key and allowed_signers line, and the trust registry as
//! committed. Thin adapters over `oxide_core::signing`; only public data crosses IPC.

use std::path::Path;

use oxide_core::signing::admin::{
    self, ApproversList, PublicKeyReport, RevokeReport, RotateReport,
};
use oxide_core::signing::keys::KeyInfo;
use oxide_core::signing::whoami;
use oxide_core::ErrorDto;
use tauri::AppHandle;

use crate::commands::{blocking, dto};

/// The stored person id, checked by the core (`None` when none was chosen on this device).
pub fn read_whoami(file: &Path) -> Result<Option<String>, ErrorDto> {
    whoami::read(file).map_err(|e| dto(oxide_core::Error::from(e)))
}

/// Stores `person` (checked by the core first: nothing is written for a bad id) or, with
/// `None`, forgets it.
pub fn write_whoami(file: &Path, person: Option<&str>) -> Result<Option<String>, ErrorDto> {
    whoami::write(file, person).map_err(|e| dto(oxide_core::Error::from(e)))
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
