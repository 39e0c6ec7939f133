//! The Capsules view: thin Tauri adapters over `oxide_core::binder`. No decisions here —
//! eligibility, reasons and the timeline come from the core.

use oxide_core::binder::{
    self, CapsuleDetail, CapsuleFilter, CapsuleList, EligibilityParams, QuarantineItem,
};
use oxide_core::ErrorDto;
use tauri::AppHandle;

use crate::commands::blocking;

/// Capsules matching the filter, with the workspace's rollout mode.
#[tauri::command]
pub async fn binder_capsules(
    app: AppHandle,
    filter: Option<CapsuleFilter>,
) -> Result<CapsuleList, ErrorDto> {
    blocking(app, move |state| {
        state.with_workspace(|ws| binder::capsule_list(ws, &filter.unwrap_or_default()))
    })
    .await
}

/// One capsule with its eligibility reasons and its support/contradictions per day.
#[tauri::command]
pub async fn binder_capsule(app: AppHandle, upsert_key: String) -> Result<CapsuleDetail, ErrorDto> {
    blocking(app, move |state| {
        state.with_workspace(|ws| {
            let p = EligibilityParams::for_workspace(ws)?;
            Ok(binder::capsule_detail(ws.store().conn(), &upsert_key, &p)?)
        })
    })
    .await
}

/// The quarantined envelope lines with their errors.
#[tauri::command]
pub async fn binder_quarantine(app: AppHandle) -> Result<Vec<QuarantineItem>, ErrorDto> {
    blocking(app, |state| {
        state.with_workspace(|ws| Ok(binder::quarantine(ws.store().conn(), Some(500))?))
    })
    .await
}
