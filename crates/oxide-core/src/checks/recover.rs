//! Recovery after killed runs: the process sweep (processes a killed run's checks left in
//! its worktree), the worktrees, the `running` run rows (`abandoned`, audited), stray
//! `oxide-validate-*` worktrees, and envelopes stored but not yet handed to the binder.

use std::path::Path;

use git2::Repository;
use rusqlite::{params, OptionalExtension};
use serde_json::json;

use super::{runs, ChecksError};
use crate::audit::{self, NewEvent};
use crate::gitops;
use crate::{Error, Workspace};

/// SIGKILLs every process whose working directory is inside `dir` (what a killed run's checks
/// left behind; with `PR_SET_PDEATHSIG` only grandchildren can remain).
pub(super) fn kill_processes_in(dir: &Path) {
    let Ok(dir) = dir.canonicalize() else { return };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if let Ok(cwd) = std::fs::read_link(e.path().join("cwd")) {
            if cwd.starts_with(&dir) {
                #[allow(unsafe_code)] // libc::kill by pid: std only kills its own children
                // SAFETY: kill has no memory-safety preconditions.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
    }
}

struct StaleRun {
    id: String,
    proposal: String,
    pid: i64,
    wt_name: String,
    wt_path: String,
    owner_start: Option<i64>,
    owner_token: Option<String>,
}

/// Cleans up after killed runs: the run rows (`abandoned`, audited), then — only for the runs
/// this call marked abandoned, and only at `<temp dir>/<worktree name>` — processes left in
/// their worktrees and the worktrees (files and registration); registrations of finished or
/// abandoned runs left behind; envelopes stored but not yet ingested. A run is live while its
/// owner is (see [`super::runs`]); refuses when `proposal` is being validated by a live run.
/// Returns the abandoned run ids.
#[tracing::instrument(name = "checks.recover", skip_all)]
pub fn recover(
    ws: &mut Workspace,
    repo: &Repository,
    proposal: Option<&str>,
    actor: &str,
) -> Result<Vec<String>, Error> {
    let stale: Vec<StaleRun> = {
        let mut stmt = ws.store().conn().prepare(
            "SELECT id, proposal_id, pid, worktree_name, worktree_path, owner_start, owner_token
             FROM validation_runs WHERE status = 'running' ORDER BY started_at",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(StaleRun {
                id: r.get(0)?,
                proposal: r.get(1)?,
                pid: r.get(2)?,
                wt_name: r.get(3)?,
                wt_path: r.get(4)?,
                owner_start: r.get(5)?,
                owner_token: r.get(6)?,
            })
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let mut abandoned = Vec::new();
    for run in stale {
        if runs::is_live(run.pid, run.owner_start, run.owner_token.as_deref()) {
            if Some(run.proposal.as_str()) == proposal {
                return Err(ChecksError::Busy {
                    proposal: run.proposal,
                    pid: run.pid,
                    run: run.id,
                }
                .into());
            }
            continue;
        }
        // Mark it first: only the process whose UPDATE took the row cleans up after it.
        let ts = ws.clock().now_rfc3339();
        let took = ws.store_mut().write(|tx| -> Result<bool, Error> {
            let n = tx.execute(
                "UPDATE validation_runs SET status = 'abandoned', finished_at = ?2
                 WHERE id = ?1 AND status = 'running'",
                params![run.id, ts],
            )?;
            if n == 1 {
                audit::append(
                    tx,
                    NewEvent {
                        actor,
                        kind: "checks.run_abandoned",
                        subject: &run.proposal,
                        payload: json!({"run_id": run.id, "pid": run.pid, "worktree": run.wt_name}),
                    },
                    &ts,
                )?;
            }
            Ok(n == 1)
        })?;
        if !took {
            continue;
        }
        match runs::removable_worktree(&run.wt_name, &run.wt_path) {
            Some(path) => {
                kill_processes_in(&path);
                gitops::remove_worktree(repo, &run.wt_name, Some(&path))?;
            }
            None => {
                tracing::warn!(run = %run.id, path = %run.wt_path, "the abandoned run's worktree path is not <temp dir>/<its name>; its files are left alone");
                if run.wt_name.starts_with(gitops::WORKTREE_PREFIX) {
                    gitops::remove_worktree(repo, &run.wt_name, None)?;
                }
            }
        }
        abandoned.push(run.id);
    }
    // Registrations whose run is over (its guard could not remove them). A worktree without a
    // run row, or of a run still running, is not ours to judge: left alone.
    for name in gitops::validation_worktrees(repo)? {
        let over: Option<String> = ws
            .store()
            .conn()
            .query_row(
                "SELECT worktree_path FROM validation_runs
                 WHERE worktree_name = ?1 AND status IN ('finished', 'abandoned')
                   AND NOT EXISTS (SELECT 1 FROM validation_runs r2
                                   WHERE r2.worktree_name = ?1 AND r2.status = 'running')",
                params![name],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(recorded) = over {
            let path = runs::removable_worktree(&name, &recorded);
            gitops::remove_worktree(repo, &name, path.as_deref())?;
        }
    }
    ingest_pending(ws, actor)?;
    Ok(abandoned)
}

/// Hands stored envelopes the binder has not taken yet to `binder::ingest`, then marks them.
pub fn ingest_pending(ws: &mut Workspace, actor: &str) -> Result<u64, Error> {
    let pending: Vec<(String, i64, String)> = {
        let mut stmt = ws.store().conn().prepare(
            "SELECT run_id, seq, envelope FROM check_results WHERE ingested = 0 ORDER BY run_id, seq",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    if pending.is_empty() {
        return Ok(0);
    }
    let mut jsonl = String::new();
    for (_, _, env) in &pending {
        jsonl.push_str(env);
        jsonl.push('\n');
    }
    let fallback = ws.settings()?.binder.fallback_mode;
    let ts = ws.clock().now_rfc3339();
    let source = format!("oxide-validate:{}", pending[0].0);
    let opts = crate::binder::IngestOptions::new(&source, actor, fallback, &ts);
    crate::binder::ingest::ingest_reader(ws.store_mut(), jsonl.as_bytes(), &opts)?;
    ws.store_mut().write(|tx| -> Result<(), Error> {
        for (run, seq, _) in &pending {
            tx.execute(
                "UPDATE check_results SET ingested = 1 WHERE run_id = ?1 AND seq = ?2",
                params![run, seq],
            )?;
        }
        Ok(())
    })?;
    Ok(pending.len() as u64)
}
