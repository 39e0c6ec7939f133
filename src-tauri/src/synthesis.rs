//! Skills, O.X.I.D.E synthesis and the Proposal view: thin Tauri adapters over
//! `oxide_core::{skill, synth, proposal}`. No decisions are made here.
//!
//! Writes (adding a skill, proposing) and the long Ollama call run on their own handle on the
//! workspace's database (`AppState::writer`), so the app's shared workspace stays free while
//! the model thinks.

use std::path::PathBuf;

use oxide_core::skill::{Added, Discovered, Skill};
use oxide_core::synth::{self, PinStatus, ProposeOptions, ProposeOutcome};
use oxide_core::views::ProposalDetail;
use oxide_core::ErrorDto;
use tauri::{AppHandle, State};
use tauri_plugin_dialog::DialogExt;

use crate::commands::{blocking, dto};
use crate::state::AppState;

#[tauri::command]
pub async fn skills_list(app: AppHandle) -> Result<Vec<Skill>, ErrorDto> {
    blocking(app, |state| {
        state.with_workspace(|ws| Ok(oxide_core::skill::list(ws.store().conn())?))
    })
    .await
}

/// Adds the skill descriptor at `path` (a JSON file; its text stays untrusted data).
#[tauri::command]
pub async fn skill_add(app: AppHandle, path: String) -> Result<Added, ErrorDto> {
    blocking(app, move |state| {
        let mut ws = state.writer()?;
        oxide_core::skill::add_file(
            &mut ws,
            &PathBuf::from(path),
            &oxide_core::actor::from_env(),
        )
        .map_err(dto)
    })
    .await
}

/// Shows the native file picker for a skill descriptor; `None` when cancelled.
#[tauri::command]
pub async fn skill_pick_file(app: AppHandle) -> Result<Option<String>, ErrorDto> {
    let dialog_app = app.clone();
    blocking(app, move |_| {
        let picked = dialog_app
            .dialog()
            .file()
            .set_title("Add a skill descriptor (JSON)")
            .add_filter("Skill descriptor", &["json"])
            .blocking_pick_file();
        match picked {
            None => Ok(None),
            Some(p) => p
                .into_path()
                .map(|p| Some(p.display().to_string()))
                .map_err(|e| ErrorDto {
                    code: "APP_PICKER".into(),
                    message: format!("the chosen file cannot be used: {e}"),
                }),
        }
    })
    .await
}

#[tauri::command]
pub async fn skill_discover(app: AppHandle) -> Result<Vec<Discovered>, ErrorDto> {
    blocking(app, |state| {
        let mut ws = state.writer()?;
        oxide_core::skill::discover(&mut ws, &oxide_core::actor::from_env()).map_err(dto)
    })
    .await
}

/// Runs one synthesis (one at a time); `propose_cancel` ends it as `no_op`/`SYNTH_CANCELLED`.
#[tauri::command]
pub async fn propose(
    app: AppHandle,
    skill: String,
    replay: bool,
) -> Result<ProposeOutcome, ErrorDto> {
    blocking(app, move |state| {
        let turn = state.synthesis.begin()?;
        let mut ws = state.writer()?;
        let opts = ProposeOptions {
            replay,
            host: synth::host_from_env(),
            cancel: Some(turn.cancel.clone()),
        };
        synth::propose(&mut ws, &skill, &opts, &oxide_core::actor::from_env()).map_err(dto)
    })
    .await
}

/// Asks the running synthesis to stop; `false` when none is running.
#[tauri::command]
pub fn propose_cancel(state: State<'_, AppState>) -> bool {
    state.synthesis.cancel()
}

/// A proposal with its diff against the base, rationale and provenance.
#[tauri::command]
pub async fn proposal_detail(app: AppHandle, id: String) -> Result<ProposalDetail, ErrorDto> {
    blocking(app, move |state| {
        state.with_workspace(|ws| oxide_core::views::detail(ws, &id))
    })
    .await
}

/// Whether the pinned model answers at the pinned digest (for the banner).
#[tauri::command]
pub async fn ollama_pin_status(app: AppHandle) -> Result<PinStatus, ErrorDto> {
    blocking(app, |state| {
        let settings = state.with_workspace(|ws| ws.settings())?;
        Ok(synth::pin_status(&settings.synth, &synth::host_from_env()))
    })
    .await
}
