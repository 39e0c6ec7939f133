//! Skills, O.X.I.D.E synthesis and the Proposal view: thin Tauri adapters over
//! `oxide_core::{skill, synth, proposal}`. No decisions are made here.
//!
//! Writes (adding a skill, proposing) and the long Ollama call run on their own connection to
//! the workspace's database, so the app's shared workspace stays free while the model thinks.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use oxide_core::proposal::diff::ProposalDetail;
use oxide_core::skill::{Added, Discovered, Skill};
use oxide_core::synth::{self, PinStatus, ProposeOptions, ProposeOutcome};
use oxide_core::{ErrorDto, Workspace};
use tauri::AppHandle;
use tauri_plugin_dialog::DialogExt;

use crate::commands::{blocking, dto};
use crate::state::AppState;

/// The cancel flag of the synthesis in progress, if any.
static RUNNING: Mutex<Option<Arc<AtomicBool>>> = Mutex::new(None);

/// A second handle on the open workspace (same repository, same database).
fn own_workspace(state: &AppState) -> Result<Workspace, ErrorDto> {
    let (root, db) = state
        .with_workspace(|ws| Ok((ws.root().to_path_buf(), ws.store().path().to_path_buf())))?;
    Workspace::open(&root, Some(&db)).map_err(dto)
}

fn actor() -> String {
    std::env::var("OXIDE_ACTOR")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "desktop".into())
}

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
        let mut ws = own_workspace(state)?;
        oxide_core::skill::add_file(&mut ws, &PathBuf::from(path), &actor()).map_err(dto)
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
        let mut ws = own_workspace(state)?;
        oxide_core::skill::discover(&mut ws, &actor()).map_err(dto)
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
        let flag = Arc::new(AtomicBool::new(false));
        {
            let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
            if running.is_some() {
                return Err(ErrorDto {
                    code: "APP_SYNTH_BUSY".into(),
                    message: "a synthesis is already running; wait for it or cancel it".into(),
                });
            }
            *running = Some(flag.clone());
        }
        let result = own_workspace(state).and_then(|mut ws| {
            let opts = ProposeOptions {
                replay,
                host: synth::host_from_env(),
                cancel: Some(flag),
            };
            synth::propose(&mut ws, &skill, &opts, &actor()).map_err(dto)
        });
        *RUNNING.lock().unwrap_or_else(|p| p.into_inner()) = None;
        result
    })
    .await
}

/// Asks the running synthesis to stop; `false` when none is running.
#[tauri::command]
pub async fn propose_cancel() -> Result<bool, ErrorDto> {
    let running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
    Ok(match running.as_ref() {
        Some(flag) => {
            flag.store(true, Ordering::SeqCst);
            true
        }
        None => false,
    })
}

/// A proposal with its diff against the base, rationale and provenance.
#[tauri::command]
pub async fn proposal_detail(app: AppHandle, id: String) -> Result<ProposalDetail, ErrorDto> {
    blocking(app, move |state| {
        state.with_workspace(|ws| Ok(oxide_core::proposal::diff::detail(ws, &id)?))
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
