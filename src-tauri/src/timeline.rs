//! The maintainer's desk: the Timeline (keyset pages with filters and jumps, the count of
//! matching events, one event's detail, the chain verified a chunk at a time, the export of the
//! filtered range to a file the user picks), a proposal's own history and the charts. Thin
//! adapters over `oxide_core::{audit, views}`.
//!
//! Verification is chunked because the webview holds no event permission: the badge asks for
//! the next chunk and shows the progress between calls.

use oxide_core::audit::{
    self, Order, TimelineFilter, TimelinePage, TimelineQuery, VerifyCursor, VerifyStep,
};
use oxide_core::views::{self, Charts, EventDetail, ProposalHistory};
use oxide_core::ErrorDto;
use tauri::AppHandle;
use tauri_plugin_dialog::DialogExt;

use crate::commands::blocking;

/// Events verified per call when the webview does not say: a fraction of a second each.
const VERIFY_CHUNK: u32 = 50_000;

/// One page of the timeline (`audit::query`).
#[tauri::command]
pub async fn timeline_page(app: AppHandle, query: TimelineQuery) -> Result<TimelinePage, ErrorDto> {
    blocking(app, move |s| s.with_workspace(|ws| ws.audit_page(&query))).await
}

/// How many events match `filter`.
#[tauri::command]
pub async fn timeline_count(app: AppHandle, filter: TimelineFilter) -> Result<u64, ErrorDto> {
    blocking(app, move |s| s.with_workspace(|ws| ws.audit_count(&filter))).await
}

/// The event `seq` with its canonical payload and the proposal it is about.
#[tauri::command]
pub async fn timeline_event(app: AppHandle, seq: i64) -> Result<EventDetail, ErrorDto> {
    blocking(app, move |s| {
        s.with_workspace(|ws| views::event_detail(ws.store().conn(), seq))
    })
    .await
}

/// Verifies the next `max` events after `cursor` (from the first when `None`).
#[tauri::command]
pub async fn audit_verify_step(
    app: AppHandle,
    cursor: Option<VerifyCursor>,
    max: Option<u32>,
) -> Result<VerifyStep, ErrorDto> {
    blocking(app, move |s| {
        s.with_workspace(|ws| {
            Ok(audit::verify_step(
                ws.store().conn(),
                cursor.as_ref(),
                max.unwrap_or(VERIFY_CHUNK),
            )?)
        })
    })
    .await
}

/// Asks where to save (a native save dialog) and writes the events matching `filter` there as
/// JSON Lines, oldest first; `None` when the user cancelled, else how many were written.
#[tauri::command]
pub async fn timeline_export(
    app: AppHandle,
    filter: TimelineFilter,
) -> Result<Option<u64>, ErrorDto> {
    let dialog_app = app.clone();
    blocking(app, move |s| {
        let picked = dialog_app
            .dialog()
            .file()
            .set_title("Export the audit events (JSON Lines)")
            .set_file_name("audit.jsonl")
            .add_filter("JSON Lines", &["jsonl"])
            .blocking_save_file();
        let Some(p) = picked else { return Ok(None) };
        let path = p.into_path().map_err(|e| ErrorDto {
            code: "APP_PICKER".into(),
            message: format!("the chosen file cannot be used: {e}"),
        })?;
        let query = TimelineQuery {
            filter,
            order: Order::OldestFirst,
            ..TimelineQuery::default()
        };
        s.with_workspace(|ws| ws.audit_export_matching(&path, &query))
            .map(Some)
    })
    .await
}

/// A proposal's own history, oldest first, each step with its audit seq.
#[tauri::command]
pub async fn proposal_history(app: AppHandle, id: String) -> Result<ProposalHistory, ErrorDto> {
    blocking(app, move |s| {
        s.with_workspace(|ws| views::proposal_history(ws.store().conn(), &id))
    })
    .await
}

/// Every chart's numbers; `filter` narrows the events-per-day chart.
#[tauri::command]
pub async fn charts(app: AppHandle, filter: TimelineFilter) -> Result<Charts, ErrorDto> {
    blocking(app, move |s| {
        s.with_workspace(|ws| views::charts(ws.store().conn(), &filter))
    })
    .await
}
