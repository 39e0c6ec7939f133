//! The app's Tauri commands: each translates IPC arguments into one `oxide-core` call and its
//! result (or `ErrorDto {code, message}`) back. No decisions are made here.
//!
//! Every command runs on a blocking worker thread, never on the UI thread: database work,
//! the Ollama probe and the native folder dialog all wait on something.

use std::path::{Path, PathBuf};

use oxide_core::audit::AuditEvent;
use oxide_core::recent::{self, RecentWorkspace};
use oxide_core::signing::checkpoint::{self, AuditVerifyReport};
use oxide_core::synth::{self, OllamaStatus};
use oxide_core::{setup, views, Clock, ErrorDto, Status, Workspace};
use tauri::{AppHandle, Manager};
use tauri_plugin_dialog::DialogExt;

use crate::startup::StartChoice;
use crate::state::AppState;

/// Every command the webview may call (`command_names.rs`, shared with `build.rs`); a test
/// checks that `capabilities/main-window.json` grants exactly these.
pub const COMMANDS: &[&str] = include!("../command_names.rs");

/// A core error as it crosses IPC: `{code, message}`.
pub(crate) fn dto(e: oxide_core::Error) -> ErrorDto {
    ErrorDto::from(&e)
}

/// Runs a command body on a blocking worker thread, never on the UI thread.
pub(crate) async fn blocking<T, F>(app: AppHandle, f: F) -> Result<T, ErrorDto>
where
    T: Send + 'static,
    F: FnOnce(&AppState) -> Result<T, ErrorDto> + Send + 'static,
{
    tauri::async_runtime::spawn_blocking(move || f(&app.state::<AppState>()))
        .await
        .map_err(|e| ErrorDto {
            code: "APP_INTERNAL".into(),
            message: format!("the command stopped unexpectedly: {e}"),
        })?
}

/// Opens the workspace around `path`, makes it current and remembers it.
fn open_path(state: &AppState, path: &Path) -> Result<Status, ErrorDto> {
    let ws = Workspace::open(path, state.db()).map_err(dto)?;
    let status = views::status(&ws).map_err(dto)?;
    *state.slot() = Some(ws);
    remember(state, &status.workspace);
    tracing::info!(stage = "workspace.opened", initialized = status.initialized);
    Ok(status)
}

/// Creates the demo repository on first use, then opens it.
fn open_demo(state: &AppState) -> Result<Status, ErrorDto> {
    let dir = state.paths.demo_dir();
    let report = setup::create_demo(&dir, state.db(), Clock::system()).map_err(dto)?;
    tracing::info!(stage = "demo.ready", created = report.created.len());
    open_path(state, Path::new(&report.workspace))
}

fn remember(state: &AppState, workspace: &str) {
    let file = state.paths.recent_file();
    let list = recent::remember(
        &recent::load(&file),
        workspace,
        &Clock::system().now_rfc3339(),
        recent::MAX_RECENT,
    );
    if let Err(e) = recent::save(&file, &list) {
        // The list is a convenience; opening the workspace still succeeded.
        tracing::warn!(code = e.code(), error = %e, "recent workspaces not saved");
    }
}

/// The workspace the app starts with (see `startup`); the current one if already open.
#[tauri::command]
pub async fn initial_workspace(app: AppHandle) -> Result<Status, ErrorDto> {
    blocking(app, |state| {
        if let Some(ws) = state.slot().as_ref() {
            return views::status(ws).map_err(dto);
        }
        let recent: Vec<String> = recent::load(&state.paths.recent_file())
            .into_iter()
            .map(|e| e.path)
            .collect();
        match state.request.choose(&recent, |p| Path::new(p).is_dir()) {
            StartChoice::Explicit(p) | StartChoice::Recent(p) => open_path(state, &p),
            StartChoice::Demo => open_demo(state),
        }
    })
    .await
}

#[tauri::command]
pub async fn open_workspace(app: AppHandle, path: String) -> Result<Status, ErrorDto> {
    blocking(app, move |state| open_path(state, &PathBuf::from(path))).await
}

#[tauri::command]
pub async fn open_demo_workspace(app: AppHandle) -> Result<Status, ErrorDto> {
    blocking(app, open_demo).await
}

/// Shows the native folder picker; `None` when the user cancelled.
#[tauri::command]
pub async fn pick_folder(app: AppHandle) -> Result<Option<String>, ErrorDto> {
    let dialog_app = app.clone();
    blocking(app, move |_| {
        let picked = dialog_app
            .dialog()
            .file()
            .set_title("Open a workspace (a git repository)")
            .blocking_pick_folder();
        match picked {
            None => Ok(None),
            Some(p) => p
                .into_path()
                .map(|p| Some(p.display().to_string()))
                .map_err(|e| ErrorDto {
                    code: "APP_PICKER".into(),
                    message: format!("the chosen folder cannot be used: {e}"),
                }),
        }
    })
    .await
}

/// Recently opened workspaces that still exist, newest first.
#[tauri::command]
pub async fn recent_workspaces(app: AppHandle) -> Result<Vec<RecentWorkspace>, ErrorDto> {
    blocking(app, |state| {
        Ok(recent::retain_existing(&recent::load(
            &state.paths.recent_file(),
        )))
    })
    .await
}

#[tauri::command]
pub async fn status(app: AppHandle) -> Result<Status, ErrorDto> {
    blocking(app, |state| state.with_workspace(views::status)).await
}

#[tauri::command]
pub async fn audit_list(
    app: AppHandle,
    after: Option<i64>,
    limit: Option<u32>,
) -> Result<Vec<AuditEvent>, ErrorDto> {
    blocking(app, move |state| {
        state.with_workspace(|ws| ws.audit_list(after, limit))
    })
    .await
}

#[tauri::command]
pub async fn audit_verify(app: AppHandle) -> Result<AuditVerifyReport, ErrorDto> {
    blocking(app, |state| {
        state.with_workspace(checkpoint::verify_workspace)
    })
    .await
}

/// Whether Ollama at `OLLAMA_HOST` answers (never an error: the status says what happened).
#[tauri::command]
pub async fn ollama_status(app: AppHandle) -> Result<OllamaStatus, ErrorDto> {
    blocking(app, |_| Ok(synth::probe(&synth::host_from_env()))).await
}

#[cfg(test)]
mod tests {
    use super::COMMANDS;

    const CAPABILITY: &str = include_str!("../capabilities/main-window.json");
    const CONF: &str = include_str!("../tauri.conf.json");

    #[test]
    fn the_capability_grants_exactly_our_commands() {
        let cap: serde_json::Value = serde_json::from_str(CAPABILITY).unwrap();
        let mut granted: Vec<String> = cap["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().expect("plain permission names only").to_string())
            .collect();
        granted.sort();
        let mut expected: Vec<String> = COMMANDS
            .iter()
            .map(|c| format!("allow-{}", c.replace('_', "-")))
            .collect();
        expected.sort();
        assert_eq!(
            granted, expected,
            "no core:, dialog:, shell: or fs: permission may reach the webview"
        );
        assert_eq!(cap["windows"], serde_json::json!(["main"]));
    }

    #[test]
    fn config_keeps_the_webview_locked_down() {
        let conf: serde_json::Value = serde_json::from_str(CONF).unwrap();
        let app = &conf["app"];
        assert_eq!(app["withGlobalTauri"], false);
        let csp = &app["security"]["csp"];
        assert_eq!(csp["default-src"], "'self'");
        assert_eq!(csp["script-src"], "'self'");
        assert_eq!(csp["object-src"], "'none'");
        assert!(!CONF.contains("unsafe-eval") && !CONF.contains("unsafe-inline"));
        assert_eq!(
            app["security"]["capabilities"],
            serde_json::json!(["main-window"])
        );
        let plugins = conf.get("plugins").cloned().unwrap_or_default();
        assert!(plugins.get("shell").is_none() && plugins.get("fs").is_none());
    }
}
