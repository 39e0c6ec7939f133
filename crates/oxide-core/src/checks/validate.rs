//! `oxide validate ID`: recover what a killed run left behind, make sure the target has not
//! moved under the proposal, build its branch, run the contract's checks in a temporary
//! worktree, then — in one transaction — store the results with their envelopes, finish the
//! run and move the proposal (`validated` / `failed_validation`). The envelopes then go to the
//! binder. A process killed at any point leaves either the old state (and a `running` run that
//! the next start cleans up) or the new one; never half of a transition.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use git2::Repository;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::config::{self, ChecksConfig};
use super::runner::{self, CheckResult, CheckStatus, Progress, RunOptions};
use super::runs;
use super::{ChecksError, CHECKS_PATH};
use crate::audit::{self, NewEvent};
use crate::binder::envelope::{
    Action, Envelope, Gate, GateStatus, Signal, Target, TaskSpec, WrapperPolicy,
};
use crate::gitops::{self, BotIdentity, GitopsError};
use crate::proposal::rows;
use crate::workflow::{self, CheckOutcome, SupersedeEvidence, Transition, ValidationEvidence};
use crate::workspace::config::FallbackMode;
use crate::{canon, Error, Workspace};

/// One check in the `validate` result (`name`, `status`, `exit_code`, `duration_ms` are the
/// contract's keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CheckRow {
    pub name: String,
    pub status: CheckStatus,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    pub required: bool,
    pub failure_reason_code: Option<String>,
    pub output_truncated: bool,
}

impl From<&CheckResult> for CheckRow {
    fn from(r: &CheckResult) -> Self {
        CheckRow {
            name: r.name.clone(),
            status: r.status,
            exit_code: r.exit_code,
            duration_ms: r.duration_ms,
            required: r.required,
            failure_reason_code: r.failure_reason_code.clone(),
            output_truncated: r.output_truncated,
        }
    }
}

/// What `validate` did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, rename = "ValidateReport")
)]
pub struct ValidationReport {
    pub id: String,
    /// The proposal's state afterwards.
    pub state: String,
    pub run_id: Option<String>,
    pub branch: Option<String>,
    pub commit: Option<String>,
    pub checks: Vec<CheckRow>,
    pub failure_reason_code: Option<String>,
    /// Runs of killed processes cleaned up before this one started.
    pub recovered_runs: Vec<String>,
}

impl ValidationReport {
    /// Did the proposal come out `validated`?
    pub fn ok(&self) -> bool {
        self.state == "validated"
    }
}

fn git_err(e: git2::Error) -> Error {
    GitopsError::from(e).into()
}

/// The contract as committed at `commit` (the target branch head: the reviewed governance,
/// never the proposal's own version of it).
pub fn load_contract(repo: &Repository, commit: git2::Oid) -> Result<ChecksConfig, Error> {
    let at = commit.to_string();
    let tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(git_err)?;
    let none = || ChecksError::NoChecks {
        path: CHECKS_PATH.into(),
        at: at.clone(),
    };
    let entry = tree.get_path(Path::new(CHECKS_PATH)).map_err(|_| none())?;
    let blob = repo.find_blob(entry.id()).map_err(|_| none())?;
    let text = std::str::from_utf8(blob.content()).map_err(|_| ChecksError::BadConfig {
        path: CHECKS_PATH.into(),
        why: "it is not UTF-8".into(),
    })?;
    let cfg = config::parse(CHECKS_PATH, text)?;
    if cfg.checks.is_empty() {
        return Err(none().into());
    }
    Ok(cfg)
}

/// SIGKILLs every process whose working directory is inside `dir` (what a killed run's checks
/// left behind; with `PR_SET_PDEATHSIG` only grandchildren can remain).
fn kill_processes_in(dir: &Path) {
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

fn wrapper_policy(m: FallbackMode) -> WrapperPolicy {
    match m {
        FallbackMode::Strict => WrapperPolicy::Strict,
        FallbackMode::Hybrid => WrapperPolicy::Hybrid,
        FallbackMode::Lenient => WrapperPolicy::Lenient,
    }
}

/// The wrapper envelope for one check result. The taskspec names the check (target) in this
/// workspace so that repeated failures of the same check meet in one capsule; the run and the
/// proposal are lineage (`run_id`, `group_id`).
#[allow(clippy::too_many_arguments)]
pub fn envelope_for(
    result: &CheckResult,
    spec_digest: &str,
    seq: u64,
    run_id: &str,
    proposal: &str,
    commit: &str,
    policy: WrapperPolicy,
    observed_at: &str,
) -> Envelope {
    let (signal, gate) = match result.status {
        CheckStatus::Passed => (Signal::Pass, GateStatus::Pass),
        CheckStatus::Failed | CheckStatus::TimedOut => (Signal::Fail, GateStatus::Fail),
        CheckStatus::Error => (Signal::Error, GateStatus::Error),
    };
    let mut env = BTreeMap::new();
    env.insert("runner".to_string(), Value::from("oxide-checks/1"));
    env.insert("os".to_string(), Value::from(std::env::consts::OS));
    env.insert("sandbox".to_string(), Value::from(result.sandboxed));
    env.insert("required".to_string(), Value::from(result.required));
    Envelope {
        envelope_version: None,
        event_id: format!("{run_id}/{seq}"),
        sequence: seq,
        run_id: run_id.to_string(),
        group_id: proposal.to_string(),
        task_id: format!("check:{}", result.name),
        signal,
        wrapper_policy: policy,
        taskspec: TaskSpec {
            scope: "validate".into(),
            target: Target {
                kind: "check".into(),
                id: result.name.clone(),
            },
            action: Action {
                kind: "run_check".into(),
            },
            failure_reason_code: result.failure_reason_code.clone(),
        },
        policy_reason_code: None,
        reason_code: None,
        gates: vec![Gate {
            name: format!("check:{}", result.name),
            version: canon::short_id(spec_digest),
            status: gate,
        }],
        env,
        evidence_refs: vec![
            format!("oxide:validation/{run_id}/check/{seq}"),
            format!("git:{commit}"),
        ],
        observed_at: observed_at.to_string(),
    }
}

/// Removes the worktree when dropped (success, error or panic alike).
struct WorktreeGuard<'r> {
    repo: &'r Repository,
    name: String,
    path: PathBuf,
}

impl Drop for WorktreeGuard<'_> {
    fn drop(&mut self) {
        kill_processes_in(&self.path);
        if let Err(e) = gitops::remove_worktree(self.repo, &self.name, Some(&self.path)) {
            tracing::warn!(error = %e, worktree = %self.name, "could not remove the validation worktree; the next run cleans it");
        }
    }
}

fn report(conn: &Connection, id: &str, recovered: Vec<String>) -> Result<ValidationReport, Error> {
    let row = rows::get(conn, id)?.ok_or_else(|| workflow::WorkflowError::NotFound(id.into()))?;
    Ok(ValidationReport {
        id: row.id,
        state: row.state,
        run_id: None,
        branch: None,
        commit: None,
        checks: Vec::new(),
        failure_reason_code: row.failure_reason_code,
        recovered_runs: recovered,
    })
}

/// `oxide validate ID`. See the module docs for the order of things.
#[tracing::instrument(name = "checks.validate", skip_all, fields(proposal = id))]
pub fn validate(
    ws: &mut Workspace,
    id: &str,
    actor: &str,
    env_source: &dyn Fn(&str) -> Option<OsString>,
    progress: &mut dyn FnMut(Progress),
) -> Result<ValidationReport, Error> {
    let repo = Repository::open(ws.root()).map_err(git_err)?;
    // Refuse unknown ids and illegal starts before touching anything.
    let row = rows::get(ws.store().conn(), id)?
        .ok_or_else(|| workflow::WorkflowError::NotFound(id.into()))?;
    let id = row.id.clone();
    let recovered = recover(ws, &repo, Some(&id), actor)?;
    workflow::check_legal(ws.store().conn(), &id, Transition::PassValidation)?;
    let settings = ws.settings()?;
    let bot = BotIdentity::from(&settings.workflow);
    let bundle = row.bundle.clone();

    // 1. The target branch: moved, and the intent no longer applies → superseded.
    let target = gitops::target_status(&repo, &settings.workflow.target_branch, &bundle)?;
    if target.superseded() {
        let ts = ws.clock().now_rfc3339();
        ws.store_mut().write(|tx| {
            workflow::supersede(
                tx,
                &id,
                &SupersedeEvidence {
                    failure_reason_code: "TARGET_MOVED".into(),
                    target_head: Some(target.head.clone()),
                    superseded_by: None,
                    problems: target
                        .problems
                        .iter()
                        .map(|p| format!("{}: {}", p.pointer, p.message))
                        .collect(),
                },
                actor,
                &ts,
            )
        })?;
        return report(ws.store().conn(), &id, recovered);
    }
    let contract_at = git2::Oid::from_str(&target.head).map_err(git_err)?;
    let contract = load_contract(&repo, contract_at)?;
    let opts = RunOptions {
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
    };
    // Refused before anything is written when the sandbox cannot run here.
    runner::preflight(&contract.checks, &opts)?;

    // 2. The proposal branch. A missing base or an intent that does not apply at its own base
    //    means the bundle is malformed: quarantined, with the reason.
    let branch = match gitops::prepare_branch(&repo, &id, &bundle, &bot) {
        Ok(b) => b,
        Err(e @ (GitopsError::BaseMissing { .. } | GitopsError::DoesNotApply { .. })) => {
            let code = match e {
                GitopsError::BaseMissing { .. } => "BASE_MISSING",
                _ => "INTENT_DOES_NOT_APPLY",
            };
            let ts = ws.clock().now_rfc3339();
            let msg = e.to_string();
            ws.store_mut()
                .write(|tx| workflow::quarantine(tx, &id, code, &msg, actor, &ts))?;
            return report(ws.store().conn(), &id, recovered);
        }
        Err(e) => return Err(e.into()),
    };
    let ts = ws.clock().now_rfc3339();
    ws.store_mut().write(|tx| -> Result<(), Error> {
        let n = tx.execute(
            "INSERT INTO proposal_branches (proposal_id, branch, base_commit, head_commit, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(proposal_id) DO NOTHING",
            params![id, branch.branch, branch.base_commit, branch.head_commit, ts],
        )?;
        if n > 0 {
            audit::append(
                tx,
                NewEvent {
                    actor,
                    kind: "gitops.branch_created",
                    subject: &id,
                    payload: json!({"branch": branch.branch, "base": branch.base_commit,
                                    "commit": branch.head_commit}),
                },
                &ts,
            )?;
        }
        Ok(())
    })?;

    // 3. Claim the run (so a killed process is found and cleaned), then the worktree.
    let run_id = canon::short_id(&canon::sha256_bytes(
        format!(
            "{id}/{}/{}/{:?}",
            std::process::id(),
            ts,
            std::time::SystemTime::now()
        )
        .as_bytes(),
    ));
    let wt_name = format!("{}{id}-{run_id}", gitops::WORKTREE_PREFIX);
    let wt_parent = std::env::temp_dir();
    let wt_path = wt_parent.join(&wt_name);
    let (owner, _registration) = runs::claim().map_err(|e| ChecksError::Io {
        what: "recording the owner of the validation run".into(),
        why: e.to_string(),
    })?;
    ws.store_mut().write(|tx| -> Result<(), Error> {
        // Serialised by BEGIN IMMEDIATE: two processes racing past `recover` cannot both claim.
        let other: Option<(String, i64)> = tx
            .query_row(
                "SELECT id, pid FROM validation_runs WHERE proposal_id = ?1 AND status = 'running'",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some((run, pid)) = other {
            return Err(ChecksError::Busy {
                proposal: id.clone(),
                pid,
                run,
            }
            .into());
        }
        tx.execute(
            "INSERT INTO validation_runs (id, proposal_id, status, pid, worktree_name, worktree_path,
                                          started_at, owner_start, owner_token)
             VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?7, ?8)",
            params![run_id, id, owner.pid, wt_name, wt_path.display().to_string(), ts,
                    owner.start, owner.token],
        )?;
        audit::append(
            tx,
            NewEvent {
                actor,
                kind: "checks.run_started",
                subject: &id,
                payload: json!({"run_id": run_id, "commit": branch.head_commit,
                                "checks": contract.checks.iter().map(|c| &c.name).collect::<Vec<_>>(),
                                "contract_at": target.head}),
            },
            &ts,
        )?;
        Ok(())
    })?;
    progress(Progress::RunStarted {
        proposal: id.clone(),
        run_id: run_id.clone(),
        checks: contract.checks.iter().map(|c| c.name.clone()).collect(),
    });
    let wt = gitops::add_worktree(&repo, &wt_name, &wt_path, &branch.branch)?;
    let guard = WorktreeGuard {
        repo: &repo,
        name: wt_name.clone(),
        path: wt_path.clone(),
    };

    // 4. The checks, in contract order.
    let mut results = Vec::new();
    for spec in &contract.checks {
        results.push(runner::run_check(spec, &wt, &opts, env_source, progress));
    }
    drop(guard);

    // 5. One transaction: results + envelopes, the run finished, the transition.
    let ts = ws.clock().now_rfc3339();
    let policy = wrapper_policy(settings.binder.fallback_mode);
    let evidence = ValidationEvidence {
        run_id: run_id.clone(),
        branch_commit: branch.head_commit.clone(),
        checks: results
            .iter()
            .map(|r| CheckOutcome {
                name: r.name.clone(),
                required: r.required,
                passed: r.status == CheckStatus::Passed,
                failure_reason_code: r.failure_reason_code.clone(),
            })
            .collect(),
    };
    let any_required_failed = evidence.checks.iter().any(|c| c.required && !c.passed);
    ws.store_mut().write(|tx| -> Result<(), Error> {
        for (i, (r, spec)) in results.iter().zip(&contract.checks).enumerate() {
            let seq = i as u64 + 1;
            let env = envelope_for(
                r,
                &canon::digest(spec)?,
                seq,
                &run_id,
                &id,
                &branch.head_commit,
                policy,
                &ts,
            );
            tx.execute(
                "INSERT INTO check_results (run_id, seq, name, required, status, exit_code,
                     duration_ms, failure_reason_code, output, output_truncated, envelope)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    run_id,
                    seq as i64,
                    r.name,
                    r.required,
                    r.status.as_str(),
                    r.exit_code,
                    r.duration_ms as i64,
                    r.failure_reason_code,
                    r.output,
                    r.output_truncated,
                    canon::canonical_string(&env)?
                ],
            )?;
        }
        // Only a run that is still ours and still running finishes; otherwise (recovery took it
        // as abandoned) nothing of this run is recorded.
        let n = tx.execute(
            "UPDATE validation_runs SET status = 'finished', finished_at = ?2
             WHERE id = ?1 AND status = 'running' AND owner_token = ?3",
            params![run_id, ts, owner.token],
        )?;
        if n != 1 {
            return Err(ChecksError::RunLost {
                run: run_id.clone(),
                proposal: id.clone(),
            }
            .into());
        }
        if any_required_failed {
            workflow::fail_validation(tx, &id, &evidence, actor, &ts)?;
        } else {
            workflow::pass_validation(tx, &id, &evidence, actor, &ts)?;
        }
        Ok(())
    })?;
    ingest_pending(ws, actor)?;
    let mut rep = report(ws.store().conn(), &id, recovered)?;
    rep.run_id = Some(run_id);
    rep.branch = Some(branch.branch);
    rep.commit = Some(branch.head_commit);
    rep.checks = results.iter().map(CheckRow::from).collect();
    progress(Progress::RunFinished {
        proposal: id,
        state: rep.state.clone(),
    });
    Ok(rep)
}

/// A page of a running validation's progress, for shells that poll (the desktop app's
/// webview gets no event permissions): the events after `from`, and the outcome once done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ProgressPage {
    pub events: Vec<Progress>,
    /// Pass this as `from` next time.
    pub next: u32,
    pub done: bool,
    pub report: Option<ValidationReport>,
    pub error: Option<crate::ErrorDto>,
}

/// A stored check result with its output, for `proposal show` and the desktop log view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct StoredCheck {
    pub run_id: String,
    pub seq: i64,
    pub name: String,
    pub required: bool,
    pub status: String,
    pub exit_code: Option<i32>,
    pub duration_ms: i64,
    pub failure_reason_code: Option<String>,
    pub output: String,
    pub output_truncated: bool,
    /// The check ran inside the sandbox (from its stored envelope).
    pub sandboxed: bool,
}

/// The latest finished run's check results for a proposal (empty when never validated).
pub fn latest_results(conn: &Connection, proposal: &str) -> Result<Vec<StoredCheck>, Error> {
    let mut stmt = conn.prepare(
        "SELECT c.run_id, c.seq, c.name, c.required, c.status, c.exit_code, c.duration_ms,
                c.failure_reason_code, c.output, c.output_truncated,
                coalesce(json_extract(c.envelope, '$.env.sandbox'), 0)
         FROM check_results c
         WHERE c.run_id = (SELECT id FROM validation_runs WHERE proposal_id = ?1
                           AND status = 'finished' ORDER BY finished_at DESC, id DESC LIMIT 1)
         ORDER BY c.seq",
    )?;
    let rows = stmt.query_map(params![proposal], |r| {
        Ok(StoredCheck {
            run_id: r.get(0)?,
            seq: r.get(1)?,
            name: r.get(2)?,
            required: r.get(3)?,
            status: r.get(4)?,
            exit_code: r.get(5)?,
            duration_ms: r.get(6)?,
            failure_reason_code: r.get(7)?,
            output: r.get(8)?,
            output_truncated: r.get(9)?,
            sandboxed: r.get(10)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
