//! The approver's and the lead's desk: my inbox, the signing preview, the approvals of a
//! proposal and signing a decision. Thin adapters over `oxide_core::approval`: the core
//! decides which proposals wait for whom and what a signature binds; the private key stays in
//! the OS keyring and never crosses IPC (the core signs there and returns the public
//! envelope). Who signs is the person chosen in Settings (`keys::whoami_*`).

use oxide_core::approval::{self, ApprovalsReport, Inbox, SignReport, SigningPreview};
use oxide_core::signing::statement::Decision;
use oxide_core::ErrorDto;
use tauri::AppHandle;

use crate::commands::{blocking, dto};

/// What waits for `person`: validated proposals with an open slot their registered roles
/// fit, newest first, with the approvals given and what is still missing.
#[tauri::command]
pub async fn approval_inbox(app: AppHandle, person: String) -> Result<Inbox, ErrorDto> {
    blocking(app, move |s| {
        s.with_workspace(|ws| approval::inbox(ws, &person))
    })
    .await
}

/// What `person`'s signature on proposal `id` would bind now, with which key, and any gate
/// that would refuse it.
#[tauri::command]
pub async fn approval_preview(
    app: AppHandle,
    id: String,
    person: String,
) -> Result<SigningPreview, ErrorDto> {
    blocking(app, move |s| {
        s.with_workspace(|ws| approval::preview(ws, &id, &person))
    })
    .await
}

/// Every approval of proposal `id` with its status now, the tally and what is missing.
#[tauri::command]
pub async fn approval_status(app: AppHandle, id: String) -> Result<ApprovalsReport, ErrorDto> {
    blocking(app, move |s| {
        s.with_workspace(|ws| approval::status(ws, &id))
    })
    .await
}

/// Signs `person`'s decision on proposal `id` with their keyring key (a rejection needs a
/// reason) on a handle of its own (`AppState::writer`).
#[tauri::command]
pub async fn approval_sign(
    app: AppHandle,
    id: String,
    person: String,
    reject: bool,
    reason: Option<String>,
) -> Result<SignReport, ErrorDto> {
    blocking(app, move |s| {
        let mut ws = s.writer()?;
        let decision = if reject {
            Decision::Reject
        } else {
            Decision::Approve
        };
        approval::sign(
            &mut ws,
            &id,
            &person,
            decision,
            reason.as_deref().unwrap_or(""),
            &oxide_core::actor::from_env(),
        )
        .map_err(dto)
    })
    .await
}
