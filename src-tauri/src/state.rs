//! The app's state: where its files live, the start request, the opened workspace, the
//! validation runs of this session and the synthesis in progress. Nothing lives in globals.
//!
//! One path to the database for every command: reads go through the opened workspace
//! (`with_workspace`, shared, behind a mutex); every command that writes opens its own handle
//! on the same repository and database (`writer`), so a long write (a synthesis, a
//! validation) never holds the shared workspace and SQLite serialises the writers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use oxide_core::checks::{ProgressPage, ValidateReport, ValidationProgress};
use oxide_core::rollout::Promoted;
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

    /// Who signs on this device (Settings: who I am); the core checks the id.
    pub fn whoami_file(&self) -> PathBuf {
        self.config_dir.join("who-i-am.json")
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
    /// `validate` runs of this session, polled by the UI.
    pub validations: ValidationRuns,
    /// Promotions (with their canary) of this session, polled by the UI.
    pub promotions: Runs<Promoted>,
    /// The synthesis in progress (one at a time).
    pub synthesis: SynthesisSlot,
}

/// Locks `m`; a panic while it was held does not make the app unusable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AppState {
    pub fn new(paths: AppPaths, request: StartRequest) -> AppState {
        AppState {
            paths,
            request,
            workspace: Mutex::new(None),
            validations: ValidationRuns::default(),
            promotions: Runs::new("promotion"),
            synthesis: SynthesisSlot::default(),
        }
    }

    /// The workspace slot. A panic while holding it does not make the app unusable.
    pub fn slot(&self) -> MutexGuard<'_, Option<Workspace>> {
        lock(&self.workspace)
    }

    /// A handle of its own on the opened workspace (same repository, same database): the one
    /// way every writing command reaches the database.
    pub fn writer(&self) -> Result<Workspace, ErrorDto> {
        let (root, db) = self
            .with_workspace(|ws| Ok((ws.root().to_path_buf(), ws.store().path().to_path_buf())))?;
        Workspace::open(&root, Some(&db)).map_err(|e| ErrorDto::from(&e))
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

/// What a run that reports check progress (a validation, a promotion's canary) has reported
/// so far, and its outcome `R` once it is done.
pub struct Run<R> {
    events: Vec<ValidationProgress>,
    outcome: Option<Result<R, ErrorDto>>,
}

impl<R> Default for Run<R> {
    fn default() -> Self {
        Run {
            events: Vec::new(),
            outcome: None,
        }
    }
}

impl<R> Run<R> {
    pub fn push(&mut self, event: ValidationProgress) {
        self.events.push(event);
    }

    pub fn finish(&mut self, outcome: Result<R, ErrorDto>) {
        self.outcome = Some(outcome);
    }
}

/// One page of a run: the events after `from`, the next cursor, and the outcome once done.
pub struct RunPage<R> {
    pub events: Vec<ValidationProgress>,
    pub next: u32,
    pub done: bool,
    pub report: Option<R>,
    pub error: Option<ErrorDto>,
}

/// Runs of this app session by token. A run is dropped once the page carrying its outcome
/// was read, so finished runs (and their output) do not stay in memory.
pub struct Runs<R> {
    /// What the runs are, for the error naming an unknown token ("validation").
    what: &'static str,
    runs: Mutex<HashMap<String, Arc<Mutex<Run<R>>>>>,
}

/// `validate` runs, polled by the Proposals view.
pub type ValidationRuns = Runs<ValidateReport>;

impl Default for ValidationRuns {
    fn default() -> Self {
        Runs::new("validation")
    }
}

impl<R: Clone> Runs<R> {
    pub fn new(what: &'static str) -> Runs<R> {
        Runs {
            what,
            runs: Mutex::new(HashMap::new()),
        }
    }

    /// Registers a new run under `token`; the caller's thread reports into the returned run.
    pub fn start(&self, token: &str) -> Arc<Mutex<Run<R>>> {
        let run = Arc::new(Mutex::new(Run::default()));
        lock(&self.runs).insert(token.to_string(), run.clone());
        run
    }

    /// Progress of `token` after event `from`, and its outcome once it is done; the page with
    /// the outcome is the run's last.
    pub fn run_page(&self, token: &str, from: u32) -> Result<RunPage<R>, ErrorDto> {
        let mut runs = lock(&self.runs);
        let run = runs.get(token).cloned().ok_or_else(|| ErrorDto {
            code: "APP_NO_SUCH_RUN".into(),
            message: format!(
                "no {} run {token} in this app session (a finished run is read once)",
                self.what
            ),
        })?;
        let r = lock(&run);
        let from = (from as usize).min(r.events.len());
        let page = RunPage {
            events: r.events[from..].to_vec(),
            next: r.events.len() as u32,
            done: r.outcome.is_some(),
            report: r.outcome.as_ref().and_then(|o| o.as_ref().ok().cloned()),
            error: r.outcome.as_ref().and_then(|o| o.as_ref().err().cloned()),
        };
        if page.done {
            runs.remove(token);
        }
        Ok(page)
    }

    /// How many runs are held (finished but unread ones included).
    pub fn len(&self) -> usize {
        lock(&self.runs).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ValidationRuns {
    /// A validation run's page as the UI reads it (`ProgressPage`).
    pub fn page(&self, token: &str, from: u32) -> Result<ProgressPage, ErrorDto> {
        let p = self.run_page(token, from)?;
        Ok(ProgressPage {
            events: p.events,
            next: p.next,
            done: p.done,
            report: p.report,
            error: p.error,
        })
    }
}

/// The cancel flag of the synthesis in progress, if any.
#[derive(Default)]
pub struct SynthesisSlot {
    running: Mutex<Option<Arc<AtomicBool>>>,
}

/// Holds the slot while a synthesis runs; dropping it (also on a panic) frees the slot.
pub struct SynthesisTurn<'a> {
    slot: &'a SynthesisSlot,
    pub cancel: Arc<AtomicBool>,
}

impl Drop for SynthesisTurn<'_> {
    fn drop(&mut self) {
        *lock(&self.slot.running) = None;
    }
}

impl SynthesisSlot {
    /// Takes the slot, or says that a synthesis is already running.
    pub fn begin(&self) -> Result<SynthesisTurn<'_>, ErrorDto> {
        let mut running = lock(&self.running);
        if running.is_some() {
            return Err(ErrorDto {
                code: "APP_SYNTH_BUSY".into(),
                message: "a synthesis is already running; wait for it or cancel it".into(),
            });
        }
        let cancel = Arc::new(AtomicBool::new(false));
        *running = Some(cancel.clone());
        Ok(SynthesisTurn { slot: self, cancel })
    }

    /// Asks the running synthesis to stop; `false` when none is running.
    pub fn cancel(&self) -> bool {
        match lock(&self.running).as_ref() {
            Some(flag) => {
                flag.store(true, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_run_is_dropped_once_its_outcome_was_read() {
        let runs = ValidationRuns::default();
        let run = runs.start("t1");
        let started = |name: &str| ValidationProgress::CheckStarted {
            name: name.into(),
            sandboxed: false,
        };
        lock(&run).push(started("a"));
        lock(&run).push(started("b"));
        let first = runs.page("t1", 1).unwrap();
        assert!(!first.done);
        assert_eq!(
            (first.events.len(), first.next),
            (1, 2),
            "events after `from`"
        );
        assert_eq!(runs.len(), 1, "a running run stays");
        lock(&run).finish(Err(ErrorDto {
            code: "X".into(),
            message: "m".into(),
        }));
        let last = runs.page("t1", 0).unwrap();
        assert!(last.done);
        assert_eq!(last.error.map(|e| e.code), Some("X".into()));
        assert!(runs.is_empty(), "the finished run was dropped");
        let again = runs.page("t1", 0).unwrap_err();
        assert_eq!(again.code, "APP_NO_SUCH_RUN");
    }

    #[test]
    fn one_synthesis_at_a_time_and_the_slot_frees_itself() {
        let slot = SynthesisSlot::default();
        assert!(!slot.cancel(), "nothing to cancel");
        {
            let turn = slot.begin().unwrap();
            assert_eq!(
                slot.begin().err().map(|e| e.code),
                Some("APP_SYNTH_BUSY".into())
            );
            assert!(slot.cancel());
            assert!(turn.cancel.load(Ordering::SeqCst));
        }
        assert!(slot.begin().is_ok(), "dropping the turn freed the slot");
    }
}
