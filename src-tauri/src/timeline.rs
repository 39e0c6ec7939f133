//! The maintainer's desk: the Timeline (keyset pages with filters and jumps, the count of
//! matching events, one event's detail, the chain verified a chunk at a time, the export of the
//! filtered range to a file the user picks), a proposal's own history and the charts. Thin
//! adapters over `oxide_core::{audit, views}`.
//!
//! Verification is chunked because the webview holds no event permission: the badge asks for
//! the next chunk and shows the progress between calls.
//!
//! The device chip: `device` names a device received through sync (its keyid); absent, the
//! commands read this database's own chain. Which devices exist, how one device's chain is
//! paged and how it is verified is decided in the core (`sync::known_devices`,
//! `audit::devices::device_page`, `sync::verify_device`, as `oxide audit list --device` and
//! `oxide audit verify --all-devices` do).

use oxide_core::audit::{
    self, Order, TimelineFilter, TimelinePage, TimelineQuery, VerifyCursor, VerifyStep,
};
use oxide_core::sync::{self, DeviceVerify, KnownDevice};
use oxide_core::views::{self, Charts, EventDetail, ProposalHistory};
use oxide_core::ErrorDto;
use tauri::AppHandle;
use tauri_plugin_dialog::DialogExt;

use crate::commands::blocking;

/// Events verified per call when the webview does not say: a fraction of a second each.
const VERIFY_CHUNK: u32 = 50_000;

/// One page of the timeline (`audit::query`), or of the chain received from `device`
/// (`audit::devices::device_page`).
#[tauri::command]
pub async fn timeline_page(
    app: AppHandle,
    query: TimelineQuery,
    device: Option<String>,
) -> Result<TimelinePage, ErrorDto> {
    blocking(app, move |s| {
        s.with_workspace(|ws| match &device {
            None => ws.audit_page(&query),
            Some(d) => Ok(audit::devices::device_page(ws.store().conn(), d, &query)?),
        })
    })
    .await
}

/// How many events match `filter` (in `device`'s chain when given).
#[tauri::command]
pub async fn timeline_count(
    app: AppHandle,
    filter: TimelineFilter,
    device: Option<String>,
) -> Result<u64, ErrorDto> {
    blocking(app, move |s| {
        s.with_workspace(|ws| match &device {
            None => ws.audit_count(&filter),
            Some(d) => Ok(audit::devices::device_count(ws.store().conn(), d, &filter)?),
        })
    })
    .await
}

/// The event `seq` (of `device`'s chain when given) with its canonical payload, the proposal
/// it is about and the device whose chain holds it.
#[tauri::command]
pub async fn timeline_event(
    app: AppHandle,
    seq: i64,
    device: Option<String>,
) -> Result<EventDetail, ErrorDto> {
    blocking(app, move |s| {
        s.with_workspace(|ws| match &device {
            None => views::event_detail(ws.store().conn(), seq),
            Some(d) => views::device_event_detail(ws.store().conn(), d, seq),
        })
    })
    .await
}

/// The devices whose chains the Timeline can show: this one first, then each synced device
/// with its endorsing person.
#[tauri::command]
pub async fn timeline_devices(app: AppHandle) -> Result<Vec<KnownDevice>, ErrorDto> {
    blocking(app, move |s| s.with_workspace(sync::known_devices)).await
}

/// Verifies the chain received from `device`: its endorsement, every hash and link, its
/// newest signed checkpoint (`oxide audit verify --all-devices` for one device).
#[tauri::command]
pub async fn timeline_verify_device(
    app: AppHandle,
    device: String,
) -> Result<DeviceVerify, ErrorDto> {
    blocking(app, move |s| {
        s.with_workspace(|ws| sync::verify_device(ws, &device))
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
