//! The Capsules view: thin Tauri adapters over `oxide_core::binder`. No decisions here —
//! eligibility, reasons and the timeline come from the core.

use oxide_core::binder::{
    self, CapsuleDetail, CapsuleFilter, CapsuleList, EligibilityParams, QuarantineItem,
};
use oxide_core::ErrorDto;
use tauri::AppHandle;

use crate::commands::blocking;

fn params(ws: &oxide_core::Workspace) -> Result<EligibilityParams, oxide_core::Error> {
    let settings = ws.settings()?.binder;
    Ok(EligibilityParams::from_settings(
        &settings,
        ws.clock().now(),
    ))
}

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
            let p = params(ws)?;
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
