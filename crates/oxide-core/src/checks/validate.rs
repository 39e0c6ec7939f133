//! `oxide validate ID`: recover what a killed run left behind (`recover.rs`), make sure the target has not
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
use super::recover::{ingest_pending, kill_processes_in, recover};
use super::runner::{self, CheckResult, CheckRunStatus, RunOptions, ValidationProgress};
use super::{runs, ChecksError, CHECKS_PATH};
use crate::audit::{self, NewEvent};
use crate::binder::envelope::{
    Action, Envelope, Gate, GateStatus, Signal, Target, TaskSpec, WrapperPolicy,
};
use crate::clock::Stamp;
use crate::gitops::{self, BotIdentity, GitopsError};
use crate::workflow::{
    self, CheckOutcome, State, SupersedeEvidence, Transition, ValidationEvidence,
};
use crate::workspace::config::FallbackMode;
use crate::{canon, Error, Workspace};

/// One check in the `validate` result (`name`, `status`, `exit_code`, `duration_ms` are the
/// contract's keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CheckRow {
    pub name: String,
    pub status: CheckRunStatus,
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ValidateReport {
    pub id: String,
    /// The proposal's state afterwards.
    pub state: State,
    pub run_id: Option<String>,
    pub branch: Option<String>,
    pub commit: Option<String>,
    pub checks: Vec<CheckRow>,
    pub failure_reason_code: Option<String>,
    /// Runs of killed processes cleaned up before this one started.
    pub recovered_runs: Vec<String>,
}

impl ValidateReport {
    /// Did the proposal come out `validated`?
    pub fn ok(&self) -> bool {
        self.state == State::Validated
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

fn wrapper_policy(m: FallbackMode) -> WrapperPolicy {
    match m {
        FallbackMode::Strict => WrapperPolicy::Strict,
        FallbackMode::Hybrid => WrapperPolicy::Hybrid,
        FallbackMode::Lenient => WrapperPolicy::Lenient,
    }
}

/// The validation run a check result belongs to, as its envelopes name it.
#[derive(Debug, Clone, Copy)]
pub struct RunRef<'a> {
    pub run_id: &'a str,
    pub proposal: &'a str,
    /// The proposal branch's head commit the checks ran on.
    pub commit: &'a str,
    pub policy: WrapperPolicy,
    pub observed_at: &'a str,
}

/// The wrapper envelope for one check result. The taskspec names the check (target) in this
/// workspace so that repeated failures of the same check meet in one capsule; the run and the
/// proposal are lineage (`run_id`, `group_id`).
pub fn envelope_for(
    result: &CheckResult,
    spec_digest: &str,
    seq: u64,
    run: &RunRef<'_>,
) -> Envelope {
    let RunRef {
        run_id,
        proposal,
        commit,
        policy,
        observed_at,
    } = *run;
    let (signal, gate) = match result.status {
        CheckRunStatus::Passed => (Signal::Pass, GateStatus::Pass),
        CheckRunStatus::Failed | CheckRunStatus::TimedOut => (Signal::Fail, GateStatus::Fail),
        CheckRunStatus::Error => (Signal::Error, GateStatus::Error),
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

/// A check that did not run because its pinned harness files could not be put in place: an
/// error (a required one fails validation), never a run of the proposal's own copy.
fn pin_failed(spec: &config::CheckSpec, why: String) -> CheckResult {
    CheckResult {
        name: spec.name.clone(),
        required: spec.required,
        status: CheckRunStatus::Error,
        exit_code: None,
        duration_ms: 0,
        failure_reason_code: Some(runner::reason::CHECK_PIN_FAILED.into()),
        sandboxed: spec.sandbox,
        output: format!("pin = \"target\": {why}\n"),
        output_truncated: false,
    }
}

/// Replaces each of `files` (normalised repository paths, `harness::pin_files`) in the
/// worktree `wt` with its entry in the target's `tree`, or removes it when the target has no
/// such file, so the proposal can neither alter nor supply it. Directories in the way that are
/// symlinks or files are removed first: writing through a proposal's symlink could reach out
/// of the worktree.
fn pin_from_target(
    repo: &Repository,
    tree: &git2::Tree<'_>,
    wt: &Path,
    files: &[String],
) -> Result<(), String> {
    use std::io::ErrorKind::NotFound;
    use std::os::unix::fs::PermissionsExt;
    for rel in files {
        let io = |what: &str, e: std::io::Error| format!("{what} `{rel}` in the worktree: {e}");
        let entry = tree.get_path(Path::new(rel)).ok();
        let (dirs, name) = match rel.rsplit_once('/') {
            Some((d, n)) => (d.split('/').collect::<Vec<_>>(), n),
            None => (Vec::new(), rel.as_str()),
        };
        let mut at = wt.to_path_buf();
        let mut reachable = true;
        for d in dirs {
            at.push(d);
            match std::fs::symlink_metadata(&at) {
                Ok(m) if m.is_dir() => continue,
                Ok(_) => std::fs::remove_file(&at).map_err(|e| io("removing a parent of", e))?,
                Err(e) if e.kind() == NotFound => {}
                Err(e) => return Err(io("inspecting a parent of", e)),
            }
            if entry.is_none() {
                reachable = false;
                break;
            }
            std::fs::create_dir(&at).map_err(|e| io("creating a parent of", e))?;
        }
        if !reachable {
            continue;
        }
        let file = at.join(name);
        match std::fs::symlink_metadata(&file) {
            Ok(m) if m.is_dir() => {
                std::fs::remove_dir_all(&file).map_err(|e| io("removing the directory at", e))?
            }
            Ok(_) => std::fs::remove_file(&file).map_err(|e| io("removing", e))?,
            Err(e) if e.kind() == NotFound => {}
            Err(e) => return Err(io("inspecting", e)),
        }
        let Some(entry) = entry else { continue };
        let blob = repo
            .find_blob(entry.id())
            .map_err(|_| format!("`{rel}` is not a file on the target branch"))?;
        match entry.filemode() {
            0o100644 | 0o100755 => {
                std::fs::write(&file, blob.content()).map_err(|e| io("writing", e))?;
                let mode = if entry.filemode() == 0o100755 {
                    0o755
                } else {
                    0o644
                };
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode))
                    .map_err(|e| io("setting the mode of", e))?;
            }
            0o120000 => {
                use std::os::unix::ffi::OsStrExt;
                let to = std::ffi::OsStr::from_bytes(blob.content());
                std::os::unix::fs::symlink(to, &file).map_err(|e| io("linking", e))?;
            }
            _ => return Err(format!("`{rel}` is not a file on the target branch")),
        }
    }
    Ok(())
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

fn report(conn: &Connection, id: &str, recovered: Vec<String>) -> Result<ValidateReport, Error> {
    let row = workflow::require(conn, id)?;
    Ok(ValidateReport {
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

/// Quarantines a proposal whose branch was found rewritten (`BRANCH_FORGED`), with the
/// `gitops.branch_forged` audit event naming what was expected and found, in the caller's
/// transaction. `stage` says when it was found (`before_checks`, `after_checks:<run>`).
fn forged_in_tx(
    tx: &Connection,
    id: &str,
    err: &GitopsError,
    stage: &str,
    stamp: &Stamp<'_>,
) -> Result<(), Error> {
    gitops::record_forgery(tx, id, err, stage, stamp)?;
    workflow::quarantine(
        tx,
        id,
        workflow::reason::BRANCH_FORGED,
        &err.to_string(),
        stamp,
    )?;
    Ok(())
}

fn quarantine_forged(
    ws: &mut Workspace,
    id: &str,
    err: &GitopsError,
    stage: &str,
    actor: &str,
) -> Result<(), Error> {
    let ts = ws.clock().now_rfc3339();
    ws.store_mut()
        .write(|tx| forged_in_tx(tx, id, err, stage, &Stamp::new(actor, &ts)))
}

/// The contract as committed on the workspace's target branch tip now (the workspace's
/// committed-file reader, as every gate reads governance), for judging a run this clone did not
/// make (a peer's, received through sync).
pub fn committed_contract(ws: &Workspace) -> Result<ChecksConfig, Error> {
    let none = || ChecksError::NoChecks {
        path: CHECKS_PATH.into(),
        at: "the target branch".into(),
    };
    let bytes = ws.committed_file(CHECKS_PATH)?.ok_or_else(none)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| ChecksError::BadConfig {
        path: CHECKS_PATH.into(),
        why: "it is not UTF-8".into(),
    })?;
    let cfg = config::parse(CHECKS_PATH, text)?;
    if cfg.checks.is_empty() {
        return Err(none().into());
    }
    Ok(cfg)
}

/// `oxide validate ID`. See the module docs for the order of things.
#[tracing::instrument(name = "checks.validate", skip_all, fields(proposal = id))]
pub fn validate(
    ws: &mut Workspace,
    id: &str,
    actor: &str,
    env_source: &dyn Fn(&str) -> Option<OsString>,
    progress: &mut dyn FnMut(ValidationProgress),
) -> Result<ValidateReport, Error> {
    let repo = Repository::open(ws.root()).map_err(git_err)?;
    // Refuse unknown ids and illegal starts before touching anything.
    let row = workflow::require(ws.store().conn(), id)?;
    let id = row.id.clone();
    let recovered = recover(ws, &repo, Some(&id), actor)?;
    workflow::check_legal(ws.store().conn(), &id, Transition::PassValidation)?;
    // REC-001: the bundle's instance-key signature and digest, before anything acts on it.
    // A bundle that fails is quarantined (committed) and the refusal returned.
    let ts = ws.clock().now_rfc3339();
    ws.store_mut()
        .write(|tx| workflow::check_bundle(tx, &id, &Stamp::new(actor, &ts)))??;
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
                    failure_reason_code: workflow::reason::TARGET_MOVED.into(),
                    target_head: Some(target.head.clone()),
                    superseded_by: None,
                    problems: target
                        .problems
                        .iter()
                        .map(|p| format!("{}: {}", p.pointer, p.message))
                        .collect(),
                },
                &Stamp::new(actor, &ts),
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
                GitopsError::BaseMissing { .. } => workflow::reason::BASE_MISSING,
                _ => workflow::reason::INTENT_DOES_NOT_APPLY,
            };
            let ts = ws.clock().now_rfc3339();
            let msg = e.to_string();
            ws.store_mut()
                .write(|tx| workflow::quarantine(tx, &id, code, &msg, &Stamp::new(actor, &ts)))?;
            return report(ws.store().conn(), &id, recovered);
        }
        Err(e @ GitopsError::BranchForged { .. }) => {
            quarantine_forged(ws, &id, &e, "before_checks", actor)?;
            return report(ws.store().conn(), &id, recovered);
        }
        Err(e) => return Err(e.into()),
    };
    let head = git2::Oid::from_str(&branch.head_commit).map_err(git_err)?;
    let ts = ws.clock().now_rfc3339();
    ws.store_mut()
        .write(|tx| gitops::record_branch(tx, &id, &branch, &Stamp::new(actor, &ts)))?;

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
    progress(ValidationProgress::RunStarted {
        proposal: id.clone(),
        run_id: run_id.clone(),
        checks: contract.checks.iter().map(|c| c.name.clone()).collect(),
    });
    // By commit id, detached: never by the branch name, which anyone who writes refs can move.
    let wt = gitops::add_worktree(&repo, &wt_name, &wt_path, head)?;
    let guard = WorktreeGuard {
        repo: &repo,
        name: wt_name.clone(),
        path: wt_path.clone(),
    };

    // 4. The checks, in contract order. A pinned check first gets the target's copy of its
    //    harness files (read from the commit the contract came from, never a working tree).
    let contract_tree = repo
        .find_commit(contract_at)
        .and_then(|c| c.tree())
        .map_err(git_err)?;
    let mut results = Vec::new();
    let mut pinned = Vec::new();
    for spec in &contract.checks {
        let files = if spec.pin {
            super::harness::pin_files(spec)
        } else {
            Vec::new()
        };
        match pin_from_target(&repo, &contract_tree, &wt, &files) {
            Ok(()) => results.push(runner::run_check(spec, &wt, &opts, env_source, progress)),
            Err(why) => results.push(pin_failed(spec, why)),
        }
        pinned.push(files);
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
                passed: r.status == CheckRunStatus::Passed,
                failure_reason_code: r.failure_reason_code.clone(),
            })
            .collect(),
    };
    let any_required_failed = evidence.checks.iter().any(|c| c.required && !c.passed);
    let stamp = Stamp::new(actor, &ts);
    let run = RunRef {
        run_id: &run_id,
        proposal: &id,
        commit: &branch.head_commit,
        policy,
        observed_at: &ts,
    };
    let forged = ws
        .store_mut()
        .write(|tx| -> Result<Option<GitopsError>, Error> {
            // The branch must still be the bundle's commit the checks ran on; checked in the
            // transaction that records the results (a check with access to the git directory
            // could have moved it). Otherwise nothing of this run counts: the run is dropped,
            // the proposal quarantined.
            match gitops::verify_branch(&repo, &id, &bundle, &bot) {
                Ok(at) if at == head => {}
                Ok(at) => {
                    return Err(GitopsError::Git(format!(
                        "the bundle now makes {at}, the checks ran on {head}"
                    ))
                    .into())
                }
                Err(e @ GitopsError::BranchForged { .. }) => {
                    let n = tx.execute(
                        "UPDATE validation_runs SET status = 'abandoned', finished_at = ?2
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
                    forged_in_tx(tx, &id, &e, &format!("after_checks:{run_id}"), &stamp)?;
                    return Ok(Some(e));
                }
                Err(e) => return Err(e.into()),
            }
            for (i, ((r, spec), pins)) in results
                .iter()
                .zip(&contract.checks)
                .zip(&pinned)
                .enumerate()
            {
                let seq = i as u64 + 1;
                let mut env = envelope_for(r, &canon::digest(spec)?, seq, &run);
                if spec.pin {
                    // What ran was the target's copy of these files, for the policy and audit.
                    env.env.insert("pinned".to_string(), json!(pins));
                }
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
                workflow::fail_validation(tx, &id, &evidence, &stamp)?;
            } else {
                workflow::pass_validation(tx, &id, &evidence, &stamp)?;
            }
            Ok(None)
        })?;
    if forged.is_some() {
        let mut rep = report(ws.store().conn(), &id, recovered)?;
        rep.run_id = Some(run_id);
        rep.branch = Some(branch.branch);
        rep.commit = Some(branch.head_commit);
        progress(ValidationProgress::RunFinished {
            proposal: id,
            state: rep.state,
        });
        return Ok(rep);
    }
    ingest_pending(ws, actor)?;
    let mut rep = report(ws.store().conn(), &id, recovered)?;
    rep.run_id = Some(run_id);
    rep.branch = Some(branch.branch);
    rep.commit = Some(branch.head_commit);
    rep.checks = results.iter().map(CheckRow::from).collect();
    progress(ValidationProgress::RunFinished {
        proposal: id,
        state: rep.state,
    });
    Ok(rep)
}

/// Runs the contract committed at `contract_at` (the target head) on `commit` in a temporary
/// detached worktree named `<WORKTREE_PREFIX><label>` (removed afterwards, whatever happens):
/// pinned checks get the target's harness files, sandboxed ones need bubblewrap (refused
/// before anything runs otherwise). Nothing is recorded: the caller stores the results (e.g.
/// the re-validation of a trivially rebased proposal at promotion).
pub fn run_contract_at(
    ws: &Workspace,
    repo: &Repository,
    commit: git2::Oid,
    contract_at: git2::Oid,
    label: &str,
    env_source: &dyn Fn(&str) -> Option<OsString>,
    progress: &mut dyn FnMut(ValidationProgress),
) -> Result<Vec<CheckResult>, Error> {
    let contract = load_contract(repo, contract_at)?;
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
    runner::preflight(&contract.checks, &opts)?;
    let wt_name = format!("{}{label}", gitops::WORKTREE_PREFIX);
    let wt_path = std::env::temp_dir().join(&wt_name);
    let wt = gitops::add_worktree(repo, &wt_name, &wt_path, commit)?;
    let guard = WorktreeGuard {
        repo,
        name: wt_name,
        path: wt_path,
    };
    let contract_tree = repo
        .find_commit(contract_at)
        .and_then(|c| c.tree())
        .map_err(git_err)?;
    let mut results = Vec::new();
    for spec in &contract.checks {
        let files = if spec.pin {
            super::harness::pin_files(spec)
        } else {
            Vec::new()
        };
        match pin_from_target(repo, &contract_tree, &wt, &files) {
            Ok(()) => results.push(runner::run_check(spec, &wt, &opts, env_source, progress)),
            Err(why) => results.push(pin_failed(spec, why)),
        }
    }
    drop(guard);
    Ok(results)
}

/// A page of a running validation's progress, for shells that poll (the desktop app's
/// webview gets no event permissions): the events after `from`, and the outcome once done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ProgressPage {
    pub events: Vec<ValidationProgress>,
    /// Pass this as `from` next time.
    pub next: u32,
    pub done: bool,
    pub report: Option<ValidateReport>,
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
    pub status: CheckRunStatus,
    pub exit_code: Option<i32>,
    pub duration_ms: i64,
    pub failure_reason_code: Option<String>,
    pub output: String,
    pub output_truncated: bool,
    /// The check ran inside the sandbox (from its stored envelope).
    pub sandboxed: bool,
}

/// The latest finished run's check results for a proposal (empty when never validated).
/// "Latest" is the run this clone stored last (insertion order), never the newest
/// `finished_at`: a run received through sync carries a date its sender chose.
pub fn latest_results(conn: &Connection, proposal: &str) -> Result<Vec<StoredCheck>, Error> {
    let mut stmt = conn.prepare(&format!(
        "{STORED_CHECK_COLS}
         WHERE c.run_id = (SELECT id FROM validation_runs WHERE proposal_id = ?1
                           AND status = 'finished' ORDER BY rowid DESC LIMIT 1)
         ORDER BY c.seq"
    ))?;
    let rows = stmt.query_map(params![proposal], stored_check)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

const STORED_CHECK_COLS: &str = "SELECT c.run_id, c.seq, c.name, c.required, c.status,
        c.exit_code, c.duration_ms, c.failure_reason_code, c.output, c.output_truncated,
        coalesce(json_extract(c.envelope, '$.env.sandbox'), 0)
    FROM check_results c";

fn stored_check(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredCheck> {
    Ok(StoredCheck {
        run_id: r.get(0)?,
        seq: r.get(1)?,
        name: r.get(2)?,
        required: r.get(3)?,
        status: {
            let text: String = r.get(4)?;
            CheckRunStatus::parse(&text).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    4,
                    rusqlite::types::Type::Text,
                    format!("check_results.status holds `{text}`, which is no check status of this build").into(),
                )
            })?
        },
        exit_code: r.get(5)?,
        duration_ms: r.get(6)?,
        failure_reason_code: r.get(7)?,
        output: r.get(8)?,
        output_truncated: r.get(9)?,
        sandboxed: r.get(10)?,
    })
}

/// One validation run of a proposal: when it ran, how it ended and its checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct RunSummary {
    pub run_id: String,
    /// `running`, `finished` or `abandoned`.
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub checks: Vec<StoredCheck>,
}

/// Every validation run of a proposal, oldest first, with its check results (a proposal's
/// history).
pub fn runs_for(conn: &Connection, proposal: &str) -> Result<Vec<RunSummary>, Error> {
    let mut stmt = conn.prepare(
        "SELECT id, status, started_at, finished_at FROM validation_runs
         WHERE proposal_id = ?1 ORDER BY started_at, id",
    )?;
    let runs = stmt
        .query_map(params![proposal], |r| {
            Ok(RunSummary {
                run_id: r.get(0)?,
                status: r.get(1)?,
                started_at: r.get(2)?,
                finished_at: r.get(3)?,
                checks: Vec::new(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut checks = conn.prepare(&format!(
        "{STORED_CHECK_COLS} WHERE c.run_id = ?1 ORDER BY c.seq"
    ))?;
    let mut out = Vec::with_capacity(runs.len());
    for mut run in runs {
        run.checks = checks
            .query_map(params![run.run_id], stored_check)?
            .collect::<Result<_, _>>()?;
        out.push(run);
    }
    Ok(out)
}

/// The proposal branch commit a run's checks ran on, as its envelopes name it (`git:<commit>`
/// evidence); `None` when the run recorded no result.
pub fn run_commit(conn: &Connection, run_id: &str) -> Result<Option<String>, Error> {
    let refs: Option<String> = conn
        .query_row(
            "SELECT json_extract(envelope, '$.evidence_refs') FROM check_results
             WHERE run_id = ?1 ORDER BY seq LIMIT 1",
            params![run_id],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    let refs: Vec<String> = match refs {
        Some(text) => serde_json::from_str(&text).unwrap_or_default(),
        None => return Ok(None),
    };
    Ok(refs
        .iter()
        .find_map(|r| r.strip_prefix("git:").map(str::to_string)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A repository whose one commit holds `files` (path, content, executable).
    fn repo_with(files: &[(&str, &str, bool)]) -> (tempfile::TempDir, Repository, git2::Oid) {
        let d = tempfile::tempdir().unwrap();
        let repo = Repository::init(d.path()).unwrap();
        let mut idx = repo.index().unwrap();
        for (path, content, exec) in files {
            let id = repo.blob(content.as_bytes()).unwrap();
            let mut e = git2::IndexEntry {
                ctime: git2::IndexTime::new(0, 0),
                mtime: git2::IndexTime::new(0, 0),
                dev: 0,
                ino: 0,
                mode: if *exec { 0o100755 } else { 0o100644 },
                uid: 0,
                gid: 0,
                file_size: content.len() as u32,
                id,
                flags: 0,
                flags_extended: 0,
                path: path.as_bytes().to_vec(),
            };
            e.flags = (path.len() as u16) & 0xfff;
            idx.add(&e).unwrap();
        }
        let tree = repo.find_tree(idx.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let c = repo.commit(None, &sig, &sig, "target", &tree, &[]).unwrap();
        drop(tree);
        (d, repo, c)
    }

    #[test]
    fn pinning_writes_the_targets_copy_and_never_through_a_proposals_symlink() {
        let (_d, repo, c) = repo_with(&[("scripts/ci.sh", "exit 1\n", true)]);
        let tree = repo.find_commit(c).unwrap().tree().unwrap();
        let wt = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("ci.sh"), "outside\n").unwrap();
        std::fs::write(outside.path().join("extra.sh"), "outside extra\n").unwrap();
        // The proposal made `scripts` a symlink out of the worktree.
        std::os::unix::fs::symlink(outside.path(), wt.path().join("scripts")).unwrap();
        pin_from_target(
            &repo,
            &tree,
            wt.path(),
            &["scripts/ci.sh".into(), "scripts/extra.sh".into()],
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(outside.path().join("ci.sh")).unwrap(),
            "outside\n",
            "nothing written outside the worktree"
        );
        assert!(
            outside.path().join("extra.sh").exists(),
            "nothing removed outside"
        );
        let scripts = wt.path().join("scripts");
        assert!(std::fs::symlink_metadata(&scripts).unwrap().is_dir());
        let ci = scripts.join("ci.sh");
        assert_eq!(std::fs::read_to_string(&ci).unwrap(), "exit 1\n");
        assert_eq!(
            std::fs::metadata(&ci).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert!(!scripts.join("extra.sh").exists());
    }

    #[test]
    fn pinning_removes_a_file_the_target_lacks_and_replaces_a_directory() {
        let (_d, repo, c) = repo_with(&[("ci.sh", "exit 1\n", false)]);
        let tree = repo.find_commit(c).unwrap().tree().unwrap();
        let wt = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(wt.path().join("ci.sh/inner")).unwrap();
        std::fs::create_dir_all(wt.path().join("lib")).unwrap();
        std::fs::write(wt.path().join("lib/helper.sh"), "exit 0\n").unwrap();
        pin_from_target(
            &repo,
            &tree,
            wt.path(),
            &["ci.sh".into(), "lib/helper.sh".into(), "none/x.sh".into()],
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(wt.path().join("ci.sh")).unwrap(),
            "exit 1\n"
        );
        assert!(!wt.path().join("lib/helper.sh").exists());
        assert!(
            !wt.path().join("none").exists(),
            "nothing made for a missing file"
        );
        // A path that is a directory on the target cannot be pinned as a file.
        let (_d2, repo2, c2) = repo_with(&[("d/x", "x\n", false)]);
        let tree2 = repo2.find_commit(c2).unwrap().tree().unwrap();
        let err = pin_from_target(&repo2, &tree2, wt.path(), &["d".into()]).unwrap_err();
        assert!(err.contains("not a file on the target branch"), "{err}");
    }

    /// A run received through sync carries a `finished_at` its sender chose: one dated 9999
    /// must not stay "latest" once this clone stores a newer run (insertion order decides).
    #[test]
    fn the_latest_run_is_the_last_stored_never_the_latest_dated() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("s.sqlite3")).unwrap();
        let conn = store.conn();
        // Only the two rooms' tables matter here, not a whole proposal row.
        conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
        for (run, finished, status) in [
            ("run-future", "9999-12-31T23:59:59Z", "passed"),
            ("run-local", "2026-11-30T10:00:00Z", "failed"),
        ] {
            conn.execute(
                "INSERT INTO validation_runs (id, proposal_id, status, pid, worktree_name,
                     worktree_path, started_at, finished_at)
                 VALUES (?1, 'p1', 'finished', 0, '', '', ?2, ?2)",
                params![run, finished],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO check_results (run_id, seq, name, required, status, duration_ms,
                     output, output_truncated, envelope)
                 VALUES (?1, 1, 'unit', 1, ?2, 1, '', 0, '{}')",
                params![run, status],
            )
            .unwrap();
        }
        let latest = latest_results(conn, "p1").unwrap();
        assert_eq!(latest.len(), 1);
        assert_eq!(latest[0].run_id, "run-local");
        assert_eq!(latest[0].status, CheckRunStatus::Failed);
    }
}
