//! The governance editor: thin Tauri adapters over `oxide_core::govern` (read the committed
//! governance files, validate and simulate an edit, submit it as a manual proposal). No
//! decisions are made here.

use oxide_core::govern::{self, GovernEdit, GovernFiles, GovernPreview, GovernSubmitted};
use oxide_core::ErrorDto;
use tauri::AppHandle;

use crate::commands::{blocking, dto};

/// The editable governance files as committed on the target branch's tip.
#[tauri::command]
pub async fn govern_files(app: AppHandle) -> Result<GovernFiles, ErrorDto> {
    blocking(app, |state| state.with_workspace(govern::files)).await
}

/// Validates the edited files and replays the recorded decisions through an edited policy.
#[tauri::command]
pub async fn govern_preview(
    app: AppHandle,
    edits: Vec<GovernEdit>,
) -> Result<GovernPreview, ErrorDto> {
    blocking(app, move |state| {
        state.with_workspace(|ws| govern::preview(ws, &edits))
    })
    .await
}

/// Submits the edit as a manual proposal (on its own handle, like every writing command).
#[tauri::command]
pub async fn govern_submit(
    app: AppHandle,
    edits: Vec<GovernEdit>,
    rationale: String,
) -> Result<GovernSubmitted, ErrorDto> {
    blocking(app, move |state| {
        let mut ws = state.writer()?;
        govern::submit(&mut ws, &edits, &rationale, &oxide_core::actor::from_env()).map_err(dto)
    })
    .await
}
