//! The Proposals view: the proposal list and detail (guard records, latest checks), the state
//! machine's table, and `validate` run on a thread of its own whose progress the UI polls
//! (`validate_start` / `validate_poll`: the webview holds no event permission). Thin adapters
//! over `oxide_core::{workflow, checks}`.

use oxide_core::checks::ProgressPage;
use oxide_core::views::{ProposalSummary, ProposalView};
use oxide_core::workflow::TableEdge;
use oxide_core::ErrorDto;
use tauri::{AppHandle, State};

use crate::commands::{blocking, dto};
use crate::state::{lock, AppState};

#[tauri::command]
pub async fn proposals_list(
    app: AppHandle,
    state: Option<String>,
) -> Result<Vec<ProposalSummary>, ErrorDto> {
    blocking(app, move |s| {
        s.with_workspace(|ws| {
            let state = state
                .as_deref()
                .map(oxide_core::workflow::parse_state)
                .transpose()?;
            oxide_core::views::list(ws.store().conn(), state).map_err(oxide_core::Error::from)
        })
    })
    .await
}

#[tauri::command]
pub async fn proposal_view(app: AppHandle, id: String) -> Result<ProposalView, ErrorDto> {
    blocking(app, move |s| {
        s.with_workspace(|ws| oxide_core::views::view(ws.store().conn(), &id))
    })
    .await
}

#[tauri::command]
pub fn workflow_table() -> Vec<TableEdge> {
    oxide_core::workflow::table_edges()
}

/// Starts `validate` on its own thread and its own handle (`AppState::writer`); returns the
/// token to poll.
#[tauri::command]
pub async fn validate_start(app: AppHandle, id: String) -> Result<String, ErrorDto> {
    let (token, run, mut ws, id) = blocking(app, move |s| {
        let ws = s.writer()?;
        let token = oxide_core::canon::short_id(&oxide_core::canon::sha256_bytes(
            format!("{id}/{:?}", std::time::SystemTime::now()).as_bytes(),
        ));
        let run = s.validations.start(&token);
        Ok((token, run, ws, id))
    })
    .await?;
    std::thread::spawn(move || {
        let actor = oxide_core::actor::from_env();
        let sink = run.clone();
        let outcome = oxide_core::checks::validate(
            &mut ws,
            &id,
            &actor,
            &|k| std::env::var_os(k),
            &mut |p| lock(&sink).push(p),
        )
        .map_err(dto);
        lock(&run).finish(outcome);
    });
    Ok(token)
}

/// The progress of run `token` after event `from`, and its outcome once it is done (the run
/// is dropped once that page was read).
#[tauri::command]
pub fn validate_poll(
    state: State<'_, AppState>,
    token: String,
    from: u32,
) -> Result<ProgressPage, ErrorDto> {
    state.validations.page(&token, from)
}
