//! `oxide policy eval | test | sim | snapshot export`: translation and printing only.

use std::path::PathBuf;

use clap::Subcommand;
use oxide_core::policy::{self, Decision, Outcome, PolicySet, RecordedDecision};
use serde::Serialize;
use serde_json::json;

use crate::output::{CliError, Out};
use crate::Cli;

#[derive(Subcommand, Debug)]
pub enum PolicyCmd {
    /// Evaluate the workspace policy for a proposal (or a bare input document), record the
    /// decision and say which rules fired and why. Exit 3 when denied.
    Eval {
        /// The proposal id (or full digest).
        #[arg(required_unless_present = "input", conflicts_with = "input")]
        id: Option<String>,
        /// Evaluate this input document (oxide.policy.input/v1 JSON) instead of a proposal.
        #[arg(long, value_name = "FILE")]
        input: Option<PathBuf>,
    },
    /// Run every `test_*` rule of the policy (like `opa test`). Exit 3 when any fails.
    Test {
        /// The policy folder (default: .oxide/policy of the workspace).
        #[arg(long, value_name = "DIR")]
        policy: Option<PathBuf>,
    },
    /// Replay recorded decision inputs through a policy and show what would change.
    Sim {
        /// A snapshot written by `oxide policy snapshot export`.
        #[arg(long, value_name = "FILE")]
        snapshot: PathBuf,
        /// The policy folder to replay through (default: .oxide/policy of the workspace).
        #[arg(long, value_name = "DIR")]
        policy: Option<PathBuf>,
    },
    /// Recorded decision inputs.
    #[command(subcommand)]
    Snapshot(SnapshotCmd),
}

#[derive(Subcommand, Debug)]
pub enum SnapshotCmd {
    /// Write every recorded decision (input and output) as JSON Lines to FILE.
    Export { file: PathBuf },
}

/// `policy eval --input FILE`: the recorded decision (the core's `RecordedDecision`, its
/// fields at the top level as in `policy eval ID`) and the input it was made on. No proposal,
/// so no `state`.
#[derive(Serialize)]
struct InputEval<'a> {
    #[serde(flatten)]
    recorded: &'a RecordedDecision,
    input: &'a serde_json::Value,
}

fn load(cli: &Cli, dir: &Option<PathBuf>) -> Result<PolicySet, CliError> {
    // No --policy: the policy in force (committed on the target branch), never the drafts.
    match dir {
        Some(d) => Ok(PolicySet::load(d).map_err(oxide_core::Error::from)?),
        None => Ok(policy::workspace_policy(&cli.open()?, None)?),
    }
}

fn human_decision(d: &Decision, extra: &str) -> String {
    let mut s = format!(
        "{}: {} — risk {}, {} approval(s) by distinct persons [{}]{extra}\n",
        d.subject,
        d.outcome.as_str().to_uppercase(),
        d.risk.as_str(),
        d.required.count,
        d.required.roles.join(", ")
    );
    for e in &d.escalations {
        s.push_str(&format!(
            "  raises to {:<8} {}: {}\n",
            e.risk.as_str(),
            e.rule,
            e.message
        ));
    }
    for x in &d.denials {
        s.push_str(&format!(
            "  DENIED  {} ({}): {}\n",
            x.policy_reason_code, x.rule, x.message
        ));
    }
    for w in &d.warnings {
        s.push_str(&format!(
            "  warning {} ({}): {}\n",
            w.code, w.rule, w.message
        ));
    }
    if d.escalations.is_empty() && d.denials.is_empty() {
        s.push_str("  no rule raised the risk\n");
    }
    s.push_str(&format!("  policy {}\n", d.policy_digest));
    s
}

pub fn run(cli: &Cli, cmd: &PolicyCmd, out: &mut Out) -> Result<(), CliError> {
    let actor = oxide_core::actor::from_env();
    match cmd {
        PolicyCmd::Eval { id: Some(id), .. } => {
            let mut ws = cli.open()?;
            let ev = policy::eval_proposal(&mut ws, id, &actor)?;
            let d = &ev.recorded.decision;
            let human = || human_decision(d, &format!("; proposal is {}", ev.state));
            if d.outcome == Outcome::Denied {
                out.refused_result(&ev, human);
            } else {
                out.result(&ev, human);
            }
        }
        PolicyCmd::Eval {
            id: None,
            input: Some(file),
        } => {
            let input = policy::read_input_file(file).map_err(oxide_core::Error::from)?;
            let mut ws = cli.open()?;
            let rec = policy::decide(&mut ws, None, &input, &actor)?;
            let doc = InputEval {
                recorded: &rec,
                input: &input,
            };
            let human = || human_decision(&rec.decision, "");
            if rec.decision.outcome == Outcome::Denied {
                out.refused_result(&doc, human);
            } else {
                out.result(&doc, human);
            }
        }
        PolicyCmd::Eval { .. } => {
            return Err(CliError::invalid(
                "USAGE",
                "give a proposal ID or --input FILE (see `oxide help policy eval`)",
            ))
        }
        PolicyCmd::Test { policy: dir } => {
            let set = load(cli, dir)?;
            let rep = policy::run_tests(&set);
            let human = || {
                let mut s = String::new();
                for t in &rep.tests {
                    s.push_str(&format!(
                        "{} {}{}\n",
                        if t.ok { "PASS" } else { "FAIL" },
                        t.name,
                        t.message
                            .as_ref()
                            .map(|m| format!(": {m}"))
                            .unwrap_or_default()
                    ));
                }
                s.push_str(&format!("{} passed, {} failed\n", rep.passed, rep.failed));
                s
            };
            if rep.failed > 0 {
                out.refused_result(&rep, human);
            } else {
                out.result(&rep, human);
            }
        }
        PolicyCmd::Sim {
            snapshot,
            policy: dir,
        } => {
            let entries = policy::read_snapshot(snapshot).map_err(oxide_core::Error::from)?;
            let set = load(cli, dir)?;
            let rep = policy::simulate(&set, &entries);
            out.result(&rep, || {
                let mut s = String::new();
                for d in rep.decisions.iter().filter(|d| d.changed) {
                    s.push_str(&format!(
                        "decision {} ({}): {}\n",
                        d.decision_id,
                        d.subject,
                        d.changes.join("; ")
                    ));
                }
                s.push_str(&format!(
                    "{} of {} decisions would change under policy {}\n",
                    rep.changed,
                    rep.decisions.len(),
                    rep.policy_digest
                ));
                s
            });
        }
        PolicyCmd::Snapshot(SnapshotCmd::Export { file }) => {
            let ws = cli.open()?;
            let n = policy::export_snapshot(ws.store().conn(), file)
                .map_err(oxide_core::Error::from)?;
            out.result(&json!({ "decisions": n, "file": file }), || {
                format!("wrote {n} decisions to {}", file.display())
            });
        }
    }
    Ok(())
}
