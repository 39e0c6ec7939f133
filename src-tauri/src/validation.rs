//! The Proposals view: the proposal list and detail (guard records, latest checks), the state
//! machine's table, and `validate` run on a thread of its own whose progress the UI polls
//! (`validate_start` / `validate_poll`: the webview holds no event permission). Thin adapters
//! over `oxide_core::{workflow, checks}`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use oxide_core::checks::{Progress, ProgressPage, ValidationReport};
use oxide_core::workflow::{ProposalSummary, ProposalView, TableEdge};
use oxide_core::{ErrorDto, Workspace};
use tauri::AppHandle;

use crate::commands::{blocking, dto};

#[derive(Default)]
struct Run {
    events: Vec<Progress>,
    outcome: Option<Result<ValidationReport, ErrorDto>>,
}

/// Validation runs of this app session by token.
static RUNS: Mutex<Option<HashMap<String, Arc<Mutex<Run>>>>> = Mutex::new(None);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[tauri::command]
pub async fn proposals_list(
    app: AppHandle,
    state: Option<String>,
) -> Result<Vec<ProposalSummary>, ErrorDto> {
    blocking(app, move |s| {
        s.with_workspace(|ws| {
            oxide_core::workflow::list(ws.store().conn(), state.as_deref())
                .map_err(oxide_core::Error::from)
        })
    })
    .await
}

#[tauri::command]
pub async fn proposal_view(app: AppHandle, id: String) -> Result<ProposalView, ErrorDto> {
    blocking(app, move |s| {
        s.with_workspace(|ws| oxide_core::workflow::view(ws.store().conn(), &id))
    })
    .await
}

#[tauri::command]
pub fn workflow_table() -> Vec<TableEdge> {
    oxide_core::workflow::table_edges()
}

/// Starts `validate` on its own thread and connection; returns the token to poll.
#[tauri::command]
pub async fn validate_start(app: AppHandle, id: String) -> Result<String, ErrorDto> {
    let (root, db) = blocking(app, |s| {
        s.with_workspace(|ws| Ok((ws.root().to_path_buf(), ws.store().path().to_path_buf())))
    })
    .await?;
    let token = oxide_core::canon::short_id(&oxide_core::canon::sha256_bytes(
        format!("{id}/{:?}", std::time::SystemTime::now()).as_bytes(),
    ));
    let run = Arc::new(Mutex::new(Run::default()));
    lock(&RUNS)
        .get_or_insert_with(HashMap::new)
        .insert(token.clone(), run.clone());
    std::thread::spawn(move || {
        let actor = std::env::var("OXIDE_ACTOR")
            .or_else(|_| std::env::var("USER"))
            .unwrap_or_else(|_| "desktop".into());
        let sink = run.clone();
        let outcome = Workspace::open(&root, Some(&db))
            .and_then(|mut ws| {
                oxide_core::checks::validate(
                    &mut ws,
                    &id,
                    &actor,
                    &|k| std::env::var_os(k),
                    &mut |p| lock(&sink).events.push(p),
                )
            })
            .map_err(dto);
        lock(&run).outcome = Some(outcome);
    });
    Ok(token)
}

/// The progress of run `token` after event `from`, and its outcome once it is done.
#[tauri::command]
pub fn validate_poll(token: String, from: u32) -> Result<ProgressPage, ErrorDto> {
    let run = lock(&RUNS)
        .as_ref()
        .and_then(|m| m.get(&token).cloned())
        .ok_or_else(|| ErrorDto {
            code: "APP_NO_SUCH_RUN".into(),
            message: format!("no validation run {token} in this app session"),
        })?;
    let r = lock(&run);
    let from = (from as usize).min(r.events.len());
    Ok(ProgressPage {
        events: r.events[from..].to_vec(),
        next: r.events.len() as u32,
        done: r.outcome.is_some(),
        report: r.outcome.as_ref().and_then(|o| o.as_ref().ok().cloned()),
        error: r.outcome.as_ref().and_then(|o| o.as_ref().err().cloned()),
    })
}
