//! The lead's promote desk: what promotion still needs (every gate, green or saying which
//! approval, check or policy rule is missing), promoting — on a thread of its own whose
//! canary progress the UI polls (`rollout_promote_start` / `rollout_promote_poll`, like a
//! validation run) —, rolling back with a reason, what was recorded, and the approved
//! proposals a person may promote. Thin adapters over `oxide_core::rollout`: the core decides
//! and signs with the keyring's key; no private key crosses IPC.

use oxide_core::rollout::canary::CanaryProgressPage;
use oxide_core::rollout::{self, PromoteQueue, PromotionPage, Readiness, RolledBack, RolloutView};
use oxide_core::ErrorDto;
use tauri::{AppHandle, State};

use crate::commands::{blocking, dto};
use crate::state::{lock, AppState};

/// Every gate `rollout::promote` re-checks, for `person`, now.
#[tauri::command]
pub async fn rollout_readiness(
    app: AppHandle,
    id: String,
    person: String,
) -> Result<Readiness, ErrorDto> {
    blocking(app, move |s| {
        s.with_workspace(|ws| rollout::readiness(ws, &id, Some(&person)))
    })
    .await
}

/// Starts promoting `id` as `person` (then its canary) on its own thread and its own handle
/// (`AppState::writer`); returns the token to poll.
#[tauri::command]
pub async fn rollout_promote_start(
    app: AppHandle,
    id: String,
    person: String,
) -> Result<String, ErrorDto> {
    let seed = format!("promote/{id}/{:?}", std::time::SystemTime::now());
    let (token, run, mut ws) = blocking(app, move |s| {
        let ws = s.writer()?;
        let token = oxide_core::canon::short_id(&oxide_core::canon::sha256_bytes(seed.as_bytes()));
        let run = s.promotions.start(&token);
        Ok((token, run, ws))
    })
    .await?;
    std::thread::spawn(move || {
        let sink = run.clone();
        let outcome = rollout::promote(
            &mut ws,
            &id,
            &person,
            &oxide_core::actor::from_env(),
            &|k| std::env::var_os(k),
            &mut |p| lock(&sink).push(p),
        )
        .map_err(dto);
        lock(&run).finish(outcome);
    });
    Ok(token)
}

/// The canary progress of promotion `token` after event `from`, and its outcome once done
/// (the run is dropped once that page was read).
#[tauri::command]
pub fn rollout_promote_poll(
    state: State<'_, AppState>,
    token: String,
    from: u32,
) -> Result<PromotionPage, ErrorDto> {
    let p = state.promotions.run_page(&token, from)?;
    Ok(PromotionPage {
        events: p.events,
        next: p.next,
        done: p.done,
        report: p.report,
        error: p.error,
    })
}

/// Rolls back promoted proposal `id` by hand, as `person`, with `reason` (required).
#[tauri::command]
pub async fn rollout_rollback(
    app: AppHandle,
    id: String,
    person: String,
    reason: String,
) -> Result<RolledBack, ErrorDto> {
    blocking(app, move |s| {
        let mut ws = s.writer()?;
        rollout::rollback(&mut ws, &id, &person, &reason, rollout::Trigger::Manual).map_err(dto)
    })
    .await
}

/// The promotion, canary (with its log) and rollback of proposal `id`, as recorded.
#[tauri::command]
pub async fn rollout_view(app: AppHandle, id: String) -> Result<RolloutView, ErrorDto> {
    blocking(app, move |s| s.with_workspace(|ws| rollout::view(ws, &id))).await
}

/// The live log of canary run `run_id` after event `from` (whichever process runs it: the log
/// is in the database as it is written).
#[tauri::command]
pub async fn rollout_canary_poll(
    app: AppHandle,
    run_id: String,
    from: u32,
) -> Result<CanaryProgressPage, ErrorDto> {
    blocking(app, move |s| {
        s.with_workspace(|ws| rollout::canary::progress(ws.store().conn(), &run_id, from))
    })
    .await
}

/// Approved proposals `person` may promote: the ready ones, and what the others miss.
#[tauri::command]
pub async fn rollout_queue(app: AppHandle, person: String) -> Result<PromoteQueue, ErrorDto> {
    blocking(app, move |s| {
        s.with_workspace(|ws| rollout::queue(ws, &person))
    })
    .await
}
