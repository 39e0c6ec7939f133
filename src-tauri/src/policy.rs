//! The risk-gate panel and the policy simulator: thin Tauri adapters over
//! `oxide_core::policy`. No decisions are made here.

use std::path::PathBuf;

use oxide_core::policy::{self, ProposalEval, ProposalGate, SimReport, TestReport};
use oxide_core::ErrorDto;
use tauri::AppHandle;

use crate::commands::{blocking, dto};

/// Every proposal, newest first, with its latest decision.
#[tauri::command]
pub async fn policy_gates(app: AppHandle) -> Result<Vec<ProposalGate>, ErrorDto> {
    blocking(app, |state| {
        state.with_workspace(|ws| policy::proposal_gates(ws.store().conn()))
    })
    .await
}

/// Evaluates the workspace policy for a proposal and records the decision (on its own handle,
/// like every writing command: `AppState::writer`).
#[tauri::command]
pub async fn policy_eval(app: AppHandle, id: String) -> Result<ProposalEval, ErrorDto> {
    blocking(app, move |state| {
        let mut ws = state.writer()?;
        policy::eval_proposal(&mut ws, &id, &oxide_core::actor::from_env()).map_err(dto)
    })
    .await
}

fn dir(d: Option<String>) -> Option<PathBuf> {
    d.filter(|s| !s.trim().is_empty()).map(PathBuf::from)
}

/// Runs the `test_*` rules of the workspace policy (or the folder `dir`).
#[tauri::command]
pub async fn policy_test(app: AppHandle, dir_path: Option<String>) -> Result<TestReport, ErrorDto> {
    blocking(app, move |state| {
        state.with_workspace(|ws| policy::test_workspace(ws, dir(dir_path).as_deref()))
    })
    .await
}

/// Replays every recorded decision through the policy in `dir` (default: the workspace's).
#[tauri::command]
pub async fn policy_simulate(
    app: AppHandle,
    dir_path: Option<String>,
) -> Result<SimReport, ErrorDto> {
    blocking(app, move |state| {
        state.with_workspace(|ws| policy::simulate_recorded(ws, dir(dir_path).as_deref()))
    })
    .await
}
