//! A finished validation run as data that can travel ([`RunExport`], published by `oxide
//! sync`), and its admission on another clone ([`import_run`]) AFTER the sync orchestrator
//! verified its origin device's signature: the run keeps its id (approvals bind the run id and
//! the checks digest), its checks and their envelopes are stored verbatim, and the proposal
//! moves through the same `workflow` guards a local run uses, with the origin named in the
//! audit event. Nothing here decides whether the origin is trusted — but WHAT the run says is
//! never taken on the sender's word: it must be exactly the contract committed on this clone's
//! target (same checks, same required flags, same sandbox flags) and every required check must
//! have passed on the proposal's branch commit, or it is refused with nothing written.

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::config::ChecksConfig;
use super::{CheckRunStatus, ChecksError};
use crate::audit::{self, NewEvent};
use crate::clock::Stamp;
use crate::workflow::{self, CheckOutcome, GuardRecord, ValidationEvidence};
use crate::Error;

/// One check of an exported run, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedCheck {
    pub seq: i64,
    pub name: String,
    pub required: bool,
    pub status: String,
    pub exit_code: Option<i32>,
    pub duration_ms: i64,
    pub failure_reason_code: Option<String>,
    pub output: String,
    pub output_truncated: bool,
    /// The wrapper envelope, canonical JSON, verbatim.
    pub envelope: String,
}

/// A finished validation run of a proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunExport {
    pub proposal: String,
    pub run_id: String,
    /// The proposal branch commit the checks ran on (from the envelopes' `git:` evidence).
    pub branch_commit: String,
    pub started_at: String,
    pub finished_at: String,
    pub checks: Vec<ExportedCheck>,
}

/// Every finished run of `proposal` with at least one check, in the order this clone stored
/// them (never by a date a peer could have chosen).
pub fn export_runs(conn: &Connection, proposal: &str) -> Result<Vec<RunExport>, Error> {
    let mut st = conn.prepare(
        "SELECT id, started_at, finished_at FROM validation_runs
         WHERE proposal_id = ?1 AND status = 'finished' AND finished_at IS NOT NULL
         ORDER BY rowid",
    )?;
    let runs = st
        .query_map([proposal], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut cs = conn.prepare(
        "SELECT seq, name, required, status, exit_code, duration_ms, failure_reason_code,
                output, output_truncated, envelope
         FROM check_results WHERE run_id = ?1 ORDER BY seq",
    )?;
    let mut out = Vec::new();
    for (run_id, started_at, finished_at) in runs {
        let checks = cs
            .query_map([&run_id], |r| {
                Ok(ExportedCheck {
                    seq: r.get(0)?,
                    name: r.get(1)?,
                    required: r.get(2)?,
                    status: r.get(3)?,
                    exit_code: r.get(4)?,
                    duration_ms: r.get(5)?,
                    failure_reason_code: r.get(6)?,
                    output: r.get(7)?,
                    output_truncated: r.get(8)?,
                    envelope: r.get(9)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let Some(commit) = super::validate::run_commit(conn, &run_id)? else {
            continue;
        };
        out.push(RunExport {
            proposal: proposal.to_string(),
            run_id,
            branch_commit: commit,
            started_at,
            finished_at,
            checks,
        });
    }
    Ok(out)
}

fn bad(why: String) -> Error {
    ChecksError::BadConfig {
        path: "a synced validation run".into(),
        why,
    }
    .into()
}

/// Whether run `run_id` is stored here.
pub fn has_run(conn: &Connection, run_id: &str) -> Result<bool, Error> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM validation_runs WHERE id = ?1",
            [run_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Stores `run` (already verified as coming from an endorsed device `origin`) for a proposal
/// whose branch here is `branch_commit`, and moves the proposal through `pass_validation`, all
/// on `conn` (the caller's transaction). `contract` is the CI contract committed on this
/// clone's target branch now. Refused (nothing written) when the run is for another commit,
/// malformed, already stored, does not run exactly the contract's checks (names, required and
/// sandbox flags), or any required check did not pass: a peer's run can only stand in for a
/// passing local run of the reviewed contract, never decide which checks count.
pub fn import_run(
    conn: &Connection,
    run: &RunExport,
    branch_commit: &str,
    contract: &ChecksConfig,
    origin: &str,
    stamp: &Stamp<'_>,
) -> Result<GuardRecord, Error> {
    if run.branch_commit != branch_commit {
        return Err(bad(format!(
            "run {} ran on {}, but the proposal branch here is {branch_commit}",
            run.run_id, run.branch_commit
        )));
    }
    let ran: Vec<(&str, bool)> = run
        .checks
        .iter()
        .map(|c| (c.name.as_str(), c.required))
        .collect();
    let wanted: Vec<(&str, bool)> = contract
        .checks
        .iter()
        .map(|c| (c.name.as_str(), c.required))
        .collect();
    let mut ran_sorted = ran.clone();
    ran_sorted.sort_unstable();
    let mut wanted_sorted = wanted.clone();
    wanted_sorted.sort_unstable();
    if ran_sorted != wanted_sorted {
        return Err(bad(format!(
            "run {} ran the checks {}, but the contract committed on the target requires {}; \
             validate the proposal on this clone (`oxide validate`)",
            run.run_id,
            describe(&ran),
            describe(&wanted)
        )));
    }
    let mut outcomes = Vec::new();
    for c in &run.checks {
        let status = CheckRunStatus::parse(&c.status)
            .ok_or_else(|| bad(format!("check '{}' has status '{}'", c.name, c.status)))?;
        if c.required && status != CheckRunStatus::Passed {
            return Err(bad(format!(
                "required check '{}' of run {} did not pass ({}); only a passing run is taken \
                 from a peer — validate the proposal on this clone",
                c.name, run.run_id, c.status
            )));
        }
        let env: serde_json::Value = serde_json::from_str(&c.envelope)
            .map_err(|e| bad(format!("check '{}' has no JSON envelope: {e}", c.name)))?;
        let names_commit = env["evidence_refs"].as_array().is_some_and(|a| {
            a.iter()
                .any(|r| r.as_str() == Some(&format!("git:{branch_commit}")))
        });
        if !names_commit {
            return Err(bad(format!(
                "check '{}' does not name the branch commit {branch_commit} as its evidence",
                c.name
            )));
        }
        // The sandbox flag the policy reads is the stored envelope's: it must be the one the
        // committed contract gives this check, whatever the peer claims.
        let spec_sandbox = contract
            .checks
            .iter()
            .find(|s| s.name == c.name)
            .is_some_and(|s| s.sandbox);
        let claimed = env["env"]["sandbox"].as_bool().unwrap_or(false);
        if claimed != spec_sandbox {
            return Err(bad(format!(
                "check '{}' of run {} claims sandbox = {claimed}, but the contract committed on \
                 the target says sandbox = {spec_sandbox}",
                c.name, run.run_id
            )));
        }
        outcomes.push(CheckOutcome {
            name: c.name.clone(),
            required: c.required,
            passed: status == CheckRunStatus::Passed,
            failure_reason_code: c.failure_reason_code.clone(),
        });
    }
    if has_run(conn, &run.run_id)? {
        return Err(bad(format!("run {} is already stored here", run.run_id)));
    }
    conn.execute(
        "INSERT INTO validation_runs (id, proposal_id, status, pid, worktree_name, worktree_path,
                                      started_at, finished_at)
         VALUES (?1, ?2, 'finished', 0, '', '', ?3, ?4)",
        params![run.run_id, run.proposal, run.started_at, run.finished_at],
    )?;
    for c in &run.checks {
        conn.execute(
            "INSERT INTO check_results (run_id, seq, name, required, status, exit_code,
                 duration_ms, failure_reason_code, output, output_truncated, envelope, ingested)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1)",
            params![
                run.run_id,
                c.seq,
                c.name,
                c.required,
                c.status,
                c.exit_code,
                c.duration_ms,
                c.failure_reason_code,
                c.output,
                c.output_truncated,
                c.envelope
            ],
        )?;
    }
    audit::append(
        conn,
        NewEvent {
            actor: stamp.actor,
            kind: "checks.run_imported",
            subject: &run.proposal,
            payload: json!({"run_id": run.run_id, "commit": branch_commit, "origin_device": origin,
                            "finished_at": run.finished_at}),
        },
        stamp.at,
    )?;
    let evidence = ValidationEvidence {
        run_id: run.run_id.clone(),
        branch_commit: branch_commit.to_string(),
        checks: outcomes,
    };
    Ok(workflow::pass_validation(
        conn,
        &run.proposal,
        &evidence,
        stamp,
    )?)
}

/// `name (required|advisory), ...` for a refusal message.
fn describe(checks: &[(&str, bool)]) -> String {
    if checks.is_empty() {
        return "none".into();
    }
    checks
        .iter()
        .map(|(n, r)| format!("'{n}' ({})", if *r { "required" } else { "advisory" }))
        .collect::<Vec<_>>()
        .join(", ")
}
