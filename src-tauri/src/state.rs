//! The app's state: where its files live, the start request, and the opened workspace.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use oxide_core::{ErrorDto, Workspace};
use tauri::{AppHandle, Manager, Runtime};

use crate::startup::StartRequest;

/// Folders the app owns (per user, from Tauri's path resolver: XDG on Linux).
#[derive(Debug, Clone)]
pub struct AppPaths {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
}

impl AppPaths {
    pub fn resolve<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<AppPaths> {
        Ok(AppPaths {
            config_dir: app.path().app_config_dir()?,
            data_dir: app.path().app_data_dir()?,
        })
    }

    /// The recent-workspaces list (`oxide_core::recent`'s file).
    pub fn recent_file(&self) -> PathBuf {
        self.config_dir.join("recent-workspaces.json")
    }

    /// The demo repository created on first start.
    pub fn demo_dir(&self) -> PathBuf {
        self.data_dir.join("demo-workspace")
    }
}

pub struct AppState {
    pub paths: AppPaths,
    pub request: StartRequest,
    workspace: Mutex<Option<Workspace>>,
}

impl AppState {
    pub fn new(paths: AppPaths, request: StartRequest) -> AppState {
        AppState {
            paths,
            request,
            workspace: Mutex::new(None),
        }
    }

    /// The workspace slot. A panic while holding it does not make the app unusable.
    pub fn slot(&self) -> MutexGuard<'_, Option<Workspace>> {
        self.workspace
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the opened workspace, or says that none is open.
    pub fn with_workspace<T>(
        &self,
        f: impl FnOnce(&Workspace) -> Result<T, oxide_core::Error>,
    ) -> Result<T, ErrorDto> {
        let slot = self.slot();
        let ws = slot.as_ref().ok_or_else(no_workspace)?;
        f(ws).map_err(|e| ErrorDto::from(&e))
    }

    pub fn db(&self) -> Option<&Path> {
        self.request.db.as_deref()
    }
}

/// The error for commands that need a workspace before one was opened.
pub fn no_workspace() -> ErrorDto {
    ErrorDto {
        code: "APP_NO_WORKSPACE".into(),
        message: "No workspace is open; choose a folder or open the demo workspace.".into(),
    }
}
