//! Team sync through the repository's own remote: when this clone last synced, how far it is
//! ahead or behind, what arrived (and what was refused because it did not verify), and the
//! Sync action. Thin adapters over `oxide_core::sync`: the core verifies everything received
//! before trusting it.

use oxide_core::sync::{self, SyncReport, SyncStatus};
use oxide_core::ErrorDto;
use tauri::AppHandle;

use crate::commands::{blocking, dto};

/// The last sync of this clone, ahead/behind against the remote's refs as last fetched, and
/// what arrived then.
#[tauri::command]
pub async fn sync_status(app: AppHandle) -> Result<SyncStatus, ErrorDto> {
    blocking(app, move |s| s.with_workspace(sync::status)).await
}

/// Fetches the other devices' `refs/oxide/*` from `remote` (default `origin`), applies what
/// verifies, and pushes this device's, on a handle of its own (`AppState::writer`). `person`
/// (Settings: who I am) endorses this device's keys the first time.
#[tauri::command]
pub async fn sync_run(
    app: AppHandle,
    remote: Option<String>,
    person: Option<String>,
) -> Result<SyncReport, ErrorDto> {
    blocking(app, move |s| {
        let mut ws = s.writer()?;
        sync::sync(
            &mut ws,
            remote.as_deref().unwrap_or(sync::DEFAULT_REMOTE),
            person.as_deref(),
        )
        .map_err(dto)
    })
    .await
}
