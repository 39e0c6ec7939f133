//! Recovery after killed runs: the process sweep (processes a killed run's checks left in
//! its worktree), the worktrees, the `running` run rows (`abandoned`, audited), stray
//! `oxide-validate-*` worktrees, and envelopes stored but not yet handed to the binder.

use std::path::{Path, PathBuf};

use git2::Repository;
use rusqlite::params;
use serde_json::json;

use super::ChecksError;
use crate::audit::{self, NewEvent};
use crate::gitops;
use crate::{Error, Workspace};

fn pid_is_oxide(pid: i64) -> bool {
    if pid <= 0 || pid == std::process::id() as i64 {
        return false;
    }
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(c) => {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat
                .rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'));
            !zombie && String::from_utf8_lossy(&c).contains("oxide")
        }
        Err(_) => false,
    }
}

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
}

/// Cleans up after killed runs: processes left in their worktrees, the worktrees (files and
/// registration), the run rows (`abandoned`, audited), stray `oxide-validate-*` worktrees, and
/// envelopes stored but not yet ingested. Refuses when `proposal` is being validated by a live
/// process. Returns the abandoned run ids.
#[tracing::instrument(name = "checks.recover", skip_all)]
pub fn recover(
    ws: &mut Workspace,
    repo: &Repository,
    proposal: Option<&str>,
    actor: &str,
) -> Result<Vec<String>, Error> {
    let stale: Vec<StaleRun> = {
        let mut stmt = ws.store().conn().prepare(
            "SELECT id, proposal_id, pid, worktree_name, worktree_path FROM validation_runs
             WHERE status = 'running' ORDER BY started_at",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(StaleRun {
                id: r.get(0)?,
                proposal: r.get(1)?,
                pid: r.get(2)?,
                wt_name: r.get(3)?,
                wt_path: r.get(4)?,
            })
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let mut live_worktrees = Vec::new();
    let mut abandoned = Vec::new();
    for run in stale {
        if pid_is_oxide(run.pid) {
            if Some(run.proposal.as_str()) == proposal {
                return Err(ChecksError::Busy {
                    proposal: run.proposal,
                    pid: run.pid,
                    run: run.id,
                }
                .into());
            }
            live_worktrees.push(run.wt_name);
            continue;
        }
        let path = PathBuf::from(&run.wt_path);
        kill_processes_in(&path);
        gitops::remove_worktree(repo, &run.wt_name, Some(&path))?;
        let ts = ws.clock().now_rfc3339();
        ws.store_mut().write(|tx| -> Result<(), Error> {
            tx.execute(
                "UPDATE validation_runs SET status = 'abandoned', finished_at = ?2
                 WHERE id = ?1 AND status = 'running'",
                params![run.id, ts],
            )?;
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
            Ok(())
        })?;
        abandoned.push(run.id);
    }
    for name in gitops::validation_worktrees(repo)? {
        if !live_worktrees.contains(&name) {
            gitops::remove_worktree(repo, &name, None)?;
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
