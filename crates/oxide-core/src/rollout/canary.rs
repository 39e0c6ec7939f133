//! Canary checks after a promotion (REC-005): the `[[canary]]` checks of the CI contract as
//! committed on the target BEFORE the promotion (the reviewed governance; never the promoted
//! change's own copy) run through the checks runner — cleared environment, process-group
//! timeout, capped output, the bubblewrap sandbox unless the contract says `sandbox = false`
//! — in a temporary worktree of the promotion commit. The run is claimed (`canary_runs`,
//! owner like a validation run) before anything starts; every progress event is stored
//! (`canary_events`) so any process can follow the live log; the results are stored with the
//! run's end. A required canary that does not pass rolls the promotion back automatically,
//! signed by the promoter (`rollback::rollback`, trigger `canary`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::rollback::{self, RolledBack, Trigger};
use super::RolloutError;
use crate::audit::{self, NewEvent};
use crate::checks::config::{self, CheckSpec};
use crate::checks::runner::{self, CheckResult, CheckRunStatus, RunOptions, ValidationProgress};
use crate::checks::validate::CheckRow;
use crate::checks::{runs, CHECKS_PATH};
use crate::gitops::{self, GitopsError};
use crate::{canon, Error, ErrorDto, Workspace};

/// Reason code of a canary run in which a required canary did not pass.
pub const CANARY_FAILED: &str = super::rollback::CANARY_FAILED;

/// How a canary run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum CanaryStatus {
    Running,
    Passed,
    Failed,
    /// Its process died before it finished (found by the next start).
    Abandoned,
}

impl CanaryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CanaryStatus::Running => "running",
            CanaryStatus::Passed => "passed",
            CanaryStatus::Failed => "failed",
            CanaryStatus::Abandoned => "abandoned",
        }
    }
    fn parse(s: &str) -> CanaryStatus {
        match s {
            "running" => CanaryStatus::Running,
            "passed" => CanaryStatus::Passed,
            "failed" => CanaryStatus::Failed,
            _ => CanaryStatus::Abandoned,
        }
    }
}

/// What the canary stage did after a promotion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CanaryOutcome {
    pub run_id: String,
    pub status: CanaryStatus,
    pub checks: Vec<CheckRow>,
    pub failure_reason_code: Option<String>,
    /// The automatic rollback a failed canary caused.
    pub rolled_back: Option<RolledBack>,
    /// Why the automatic rollback could not be made (the proposal then stays `promoted` with
    /// its failed canary: roll it back by hand, docs/runbooks/rollback.md).
    pub rollback_error: Option<ErrorDto>,
}

/// The canaries of the contract committed at `commit` (none when the file or the table is
/// absent; a contract that does not parse is an error: canaries are never skipped silently).
pub fn canaries_at(repo: &Repository, commit: Oid) -> Result<Vec<CheckSpec>, Error> {
    let tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(|e| Error::from(GitopsError::from(e)))?;
    let Ok(entry) = tree.get_path(Path::new(CHECKS_PATH)) else {
        return Ok(Vec::new());
    };
    let blob = repo
        .find_blob(entry.id())
        .map_err(|e| Error::from(GitopsError::from(e)))?;
    let text =
        std::str::from_utf8(blob.content()).map_err(|_| crate::checks::ChecksError::BadConfig {
            path: CHECKS_PATH.into(),
            why: "it is not UTF-8".into(),
        })?;
    Ok(config::parse(CHECKS_PATH, text)?.canaries)
}

/// How checks run here, with the paths a check may never see.
pub(crate) fn run_options(ws: &Workspace, repo: &Repository) -> RunOptions {
    RunOptions {
        protected_paths: vec![
            ws.root().to_path_buf(),
            repo.commondir().to_path_buf(),
            ws.store()
                .path()
                .parent()
                .unwrap_or(ws.store().path())
                .to_path_buf(),
        ],
        ..RunOptions::default()
    }
}

/// Removes a temporary worktree when dropped (success, error or panic alike).
pub(crate) struct WorktreeGuard<'r> {
    pub repo: &'r Repository,
    pub name: String,
    pub path: PathBuf,
}

impl Drop for WorktreeGuard<'_> {
    fn drop(&mut self) {
        if let Err(e) = gitops::remove_worktree(self.repo, &self.name, Some(&self.path)) {
            tracing::warn!(error = %e, worktree = %self.name, "could not remove the canary worktree");
        }
    }
}

/// Runs `canaries` in a fresh worktree `name` of `commit` (detached, by id), in order.
pub(crate) fn run_in_worktree(
    repo: &Repository,
    name: &str,
    commit: Oid,
    canaries: &[CheckSpec],
    opts: &RunOptions,
    env_source: &dyn Fn(&str) -> Option<OsString>,
    progress: &mut dyn FnMut(ValidationProgress),
) -> Result<Vec<CheckResult>, Error> {
    let path = std::env::temp_dir().join(name);
    let wt = gitops::add_worktree(repo, name, &path, commit)?;
    let _guard = WorktreeGuard {
        repo,
        name: name.to_string(),
        path: path.clone(),
    };
    Ok(canaries
        .iter()
        .map(|spec| runner::run_check(spec, &wt, opts, env_source, progress))
        .collect())
}

fn failed(results: &[CheckResult]) -> bool {
    results
        .iter()
        .any(|r| r.required && r.status != CheckRunStatus::Passed)
}

/// After a successful promotion of `id` at `promotion_commit` by `promoter`: runs the
/// canaries (none in the contract: `Ok(None)`, nothing recorded), records the run, and on a
/// failure rolls the promotion back as the promoter. `env_source` gives the values of the
/// canaries' environment allow-list; `progress` gets every event as it is stored.
#[tracing::instrument(name = "rollout.canary", skip_all, fields(proposal = id))]
pub fn after_promotion(
    ws: &mut Workspace,
    id: &str,
    promotion_commit: &str,
    promoter: &str,
    env_source: &dyn Fn(&str) -> Option<OsString>,
    progress: &mut dyn FnMut(ValidationProgress),
) -> Result<Option<CanaryOutcome>, Error> {
    let repo = Repository::open(ws.root()).map_err(|e| Error::from(GitopsError::from(e)))?;
    let commit = Oid::from_str(promotion_commit).map_err(|e| Error::from(GitopsError::from(e)))?;
    let c = repo
        .find_commit(commit)
        .map_err(|e| Error::from(GitopsError::from(e)))?;
    // The contract reviewed before this promotion: the promotion commit's parent.
    let contract_at = c
        .parent_id(0)
        .map_err(|e| Error::from(GitopsError::from(e)))?;
    let canaries = canaries_at(&repo, contract_at)?;
    if canaries.is_empty() {
        return Ok(None);
    }
    let opts = run_options(ws, &repo);

    // Claim the run before anything starts.
    let ts = ws.clock().now_rfc3339();
    let run_id = canon::short_id(&canon::sha256_bytes(
        format!(
            "canary/{id}/{}/{ts}/{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        )
        .as_bytes(),
    ));
    let wt_name = format!("{}canary-{run_id}", gitops::WORKTREE_PREFIX);
    let wt_path = std::env::temp_dir().join(&wt_name);
    let (owner, _live) = runs::claim().map_err(|e| RolloutError::Io {
        what: "recording the owner of the canary run".into(),
        why: e.to_string(),
    })?;
    let names: Vec<String> = canaries.iter().map(|c| c.name.clone()).collect();
    ws.store_mut().write(|tx| -> Result<(), Error> {
        tx.execute(
            "INSERT INTO canary_runs (id, proposal_id, promotion_commit, status, pid, owner_start,
                 owner_token, worktree_name, worktree_path, contract_at, started_at)
             VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                run_id,
                id,
                promotion_commit,
                owner.pid,
                owner.start,
                owner.token,
                wt_name,
                wt_path.display().to_string(),
                contract_at.to_string(),
                ts
            ],
        )?;
        audit::append(
            tx,
            NewEvent {
                actor: promoter,
                kind: "rollout.canary_started",
                subject: id,
                payload: json!({"run_id": run_id, "commit": promotion_commit,
                                "canaries": names, "contract_at": contract_at.to_string()}),
            },
            &ts,
        )?;
        Ok(())
    })?;

    // The live log: every progress event stored as it comes.
    let mut seq: i64 = 0;
    let mut log_failed = false;
    let results = {
        let store = ws.store_mut();
        let mut record = |p: ValidationProgress| {
            progress(p.clone());
            seq += 1;
            let event = serde_json::to_string(&p).unwrap_or_default();
            let r = store.write(|tx| -> Result<(), crate::store::StoreError> {
                tx.execute(
                    "INSERT INTO canary_events (run_id, seq, event) VALUES (?1, ?2, ?3)",
                    params![run_id, seq, event],
                )?;
                Ok(())
            });
            if let Err(e) = r {
                if !log_failed {
                    tracing::warn!(error = %e, "could not store a canary progress event");
                }
                log_failed = true;
            }
        };
        record(ValidationProgress::RunStarted {
            proposal: id.to_string(),
            run_id: run_id.clone(),
            checks: names.clone(),
        });
        run_in_worktree(
            &repo,
            &wt_name,
            commit,
            &canaries,
            &opts,
            env_source,
            &mut record,
        )
    };
    let results = match results {
        Ok(r) => r,
        Err(e) => {
            // The canaries could not run at all (no worktree): a failed canary, fail closed.
            let why = e.to_string();
            canaries
                .iter()
                .map(|spec| CheckResult {
                    name: spec.name.clone(),
                    required: spec.required,
                    status: CheckRunStatus::Error,
                    exit_code: None,
                    duration_ms: 0,
                    failure_reason_code: Some(runner::reason::CHECK_SPAWN_FAILED.into()),
                    sandboxed: spec.sandbox,
                    output: format!("the canary could not run: {why}\n"),
                    output_truncated: false,
                })
                .collect()
        }
    };
    let bad = failed(&results);
    let status = if bad {
        CanaryStatus::Failed
    } else {
        CanaryStatus::Passed
    };
    let code = bad.then(|| CANARY_FAILED.to_string());
    let ts = ws.clock().now_rfc3339();
    let results_json = canon::canonical_string(&results)?;
    ws.store_mut().write(|tx| -> Result<(), Error> {
        let n = tx.execute(
            "UPDATE canary_runs SET status = ?2, finished_at = ?3, failure_reason_code = ?4,
                 results = ?5
             WHERE id = ?1 AND status = 'running' AND owner_token = ?6",
            params![run_id, status.as_str(), ts, code, results_json, owner.token],
        )?;
        if n != 1 {
            return Err(RolloutError::Io {
                what: format!("finishing canary run {run_id}"),
                why: "it was taken over (marked abandoned) while it ran".into(),
            }
            .into());
        }
        audit::append(
            tx,
            NewEvent {
                actor: promoter,
                kind: "rollout.canary_finished",
                subject: id,
                payload: json!({"run_id": run_id, "status": status.as_str(),
                                "failure_reason_code": code,
                                "checks": results.iter().map(|r| json!({
                                    "name": r.name, "status": r.status.as_str(),
                                    "exit_code": r.exit_code, "required": r.required,
                                    "sandboxed": r.sandboxed})).collect::<Vec<_>>()}),
            },
            &ts,
        )?;
        Ok(())
    })?;
    let mut out = CanaryOutcome {
        run_id: run_id.clone(),
        status,
        checks: results.iter().map(CheckRow::from).collect(),
        failure_reason_code: code,
        rolled_back: None,
        rollback_error: None,
    };
    if bad {
        let names: Vec<&str> = results
            .iter()
            .filter(|r| r.required && r.status != CheckRunStatus::Passed)
            .map(|r| r.name.as_str())
            .collect();
        let reason = format!("canary check(s) failed: {}", names.join(", "));
        match rollback::rollback(ws, id, promoter, &reason, Trigger::Canary { run: run_id }) {
            Ok(rb) => out.rolled_back = Some(rb),
            Err(e) => {
                tracing::error!(error = %e, "the automatic rollback after a failed canary failed");
                out.rollback_error = Some(ErrorDto::from(&e));
            }
        }
    }
    Ok(Some(out))
}

/// Marks canary runs whose process died `abandoned` (audited) and removes their worktrees
/// (only at `<temp dir>/<name>`, as validation recovery does). Returns the run ids.
pub fn recover(ws: &mut Workspace) -> Result<Vec<String>, Error> {
    type Stale = (
        String,
        String,
        i64,
        Option<i64>,
        Option<String>,
        String,
        String,
    );
    let stale: Vec<Stale> = {
        let mut stmt = ws.store().conn().prepare(
            "SELECT id, proposal_id, pid, owner_start, owner_token, worktree_name, worktree_path
             FROM canary_runs WHERE status = 'running'",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let mut out = Vec::new();
    for (run, proposal, pid, start, token, name, path) in stale {
        if runs::is_live(pid, start, token.as_deref()) {
            continue;
        }
        let ts = ws.clock().now_rfc3339();
        let took = ws.store_mut().write(|tx| -> Result<bool, Error> {
            let n = tx.execute(
                "UPDATE canary_runs SET status = 'abandoned', finished_at = ?2
                 WHERE id = ?1 AND status = 'running'",
                params![run, ts],
            )?;
            if n == 1 {
                audit::append(
                    tx,
                    NewEvent {
                        actor: &crate::actor::from_env(),
                        kind: "rollout.canary_abandoned",
                        subject: &proposal,
                        payload: json!({"run_id": run, "pid": pid}),
                    },
                    &ts,
                )?;
            }
            Ok(n == 1)
        })?;
        if !took {
            continue;
        }
        let repo = Repository::open(ws.root()).map_err(|e| Error::from(GitopsError::from(e)))?;
        let at = runs::removable_worktree(&name, &path);
        gitops::remove_worktree(&repo, &name, at.as_deref())?;
        out.push(run);
    }
    Ok(out)
}

/// One canary run of a proposal with its results (the log is [`progress`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CanaryRun {
    pub run_id: String,
    pub proposal: String,
    pub promotion_commit: String,
    pub status: CanaryStatus,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub failure_reason_code: Option<String>,
    pub checks: Vec<CheckResult>,
}

const RUN_COLS: &str = "id, proposal_id, promotion_commit, status, started_at, finished_at,
    failure_reason_code, results";

fn run_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CanaryRun> {
    let status: String = r.get(3)?;
    let results: Option<String> = r.get(7)?;
    Ok(CanaryRun {
        run_id: r.get(0)?,
        proposal: r.get(1)?,
        promotion_commit: r.get(2)?,
        status: CanaryStatus::parse(&status),
        started_at: r.get(4)?,
        finished_at: r.get(5)?,
        failure_reason_code: r.get(6)?,
        checks: results
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default(),
    })
}

/// Every canary run of a proposal, oldest first.
pub fn runs_for(conn: &Connection, proposal: &str) -> Result<Vec<CanaryRun>, Error> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {RUN_COLS} FROM canary_runs WHERE proposal_id = ?1 ORDER BY started_at, id"
    ))?;
    let rows = stmt.query_map(params![proposal], run_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A page of a canary run's live log: the events after `from`, and the run once it is over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CanaryProgressPage {
    pub events: Vec<ValidationProgress>,
    /// Pass this as `from` next time.
    pub next: u32,
    pub done: bool,
    pub run: Option<CanaryRun>,
}

/// The live log of canary run `run_id` after event `from` (0: from the start).
pub fn progress(conn: &Connection, run_id: &str, from: u32) -> Result<CanaryProgressPage, Error> {
    let run = conn
        .query_row(
            &format!("SELECT {RUN_COLS} FROM canary_runs WHERE id = ?1"),
            params![run_id],
            run_row,
        )
        .optional()?;
    let mut stmt = conn.prepare(
        "SELECT seq, event FROM canary_events WHERE run_id = ?1 AND seq > ?2 ORDER BY seq",
    )?;
    let rows: Vec<(i64, String)> = stmt
        .query_map(params![run_id, from], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let next = rows.last().map_or(from, |(s, _)| *s as u32);
    let events = rows
        .into_iter()
        .filter_map(|(_, e)| serde_json::from_str(&e).ok())
        .collect();
    let done = run
        .as_ref()
        .is_some_and(|r| r.status != CanaryStatus::Running);
    Ok(CanaryProgressPage {
        events,
        next,
        done,
        run: if done { run } else { None },
    })
}

/// Runs the canaries of a promoted proposal again (e.g. after a run was abandoned when its
/// process died): the same stage as after the promotion, with `person` (who must be allowed
/// to roll back) signing the automatic rollback should a canary fail. Refused (exit 3) for a
/// proposal that is not promoted or whose promotion does not verify.
pub fn rerun(
    ws: &mut Workspace,
    id: &str,
    person: &str,
    env_source: &dyn Fn(&str) -> Option<OsString>,
    progress: &mut dyn FnMut(ValidationProgress),
) -> Result<Option<CanaryOutcome>, Error> {
    super::reconcile(ws, person)?;
    let row = crate::workflow::require(ws.store().conn(), id)?;
    crate::workflow::check_legal(
        ws.store().conn(),
        &row.id,
        crate::workflow::Transition::RollBack,
    )?;
    let registry = crate::signing::Registry::committed(ws)?;
    rollback::rollback_signer(&registry, person, ws.clock().now())?;
    let promotion = super::reconcile::promotion(ws.store().conn(), &row.id)?.ok_or_else(|| {
        RolloutError::NoPromotion {
            id: row.id.clone(),
            why: "no promotion is recorded".into(),
        }
    })?;
    after_promotion(ws, &row.id, &promotion.commit, person, env_source, progress)
}
