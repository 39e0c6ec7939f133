//! `oxide validate ID`: run the CI contract against a proposal (streams progress to stderr).

use clap::Args;
use oxide_core::checks::{CheckRunStatus, ValidationProgress};

use crate::output::{CliError, Out};
use crate::Cli;

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The proposal id (or its full digest).
    pub id: String,
    /// Do not stream check output to stderr (status lines only).
    #[arg(long)]
    pub quiet: bool,
}

fn status_word(s: CheckRunStatus) -> &'static str {
    match s {
        CheckRunStatus::Passed => "passed",
        CheckRunStatus::Failed => "FAILED",
        CheckRunStatus::TimedOut => "TIMED OUT",
        CheckRunStatus::Error => "ERROR",
    }
}

pub fn run(cli: &Cli, args: &ValidateArgs, out: &mut Out) -> Result<(), CliError> {
    let mut ws = cli.open()?;
    let actor = oxide_core::actor::from_env();
    let quiet = args.quiet;
    let mut progress = |p: ValidationProgress| match p {
        ValidationProgress::RunStarted { run_id, checks, .. } => {
            eprintln!("validation run {run_id}: {} check(s)", checks.len())
        }
        ValidationProgress::CheckStarted { name, sandboxed } => {
            eprintln!(
                "[{name}] started{}",
                if sandboxed { " (sandboxed)" } else { "" }
            )
        }
        ValidationProgress::Output { name, line, .. } if !quiet => eprintln!("[{name}] {line}"),
        ValidationProgress::Output { .. } => {}
        ValidationProgress::CheckFinished {
            name,
            status,
            exit_code,
            duration_ms,
        } => eprintln!(
            "[{name}] {} (exit {}, {duration_ms} ms)",
            status_word(status),
            exit_code.map_or("-".to_string(), |c| c.to_string())
        ),
        ValidationProgress::RunFinished { state, .. } => eprintln!("proposal is now {state}"),
    };
    let rep = oxide_core::checks::validate(
        &mut ws,
        &args.id,
        &actor,
        &|k| std::env::var_os(k),
        &mut progress,
    )?;
    let human = || {
        let mut s = format!("{} {}", rep.id, rep.state);
        if let Some(code) = &rep.failure_reason_code {
            s.push_str(&format!(" ({code})"));
        }
        s.push('\n');
        for c in &rep.checks {
            s.push_str(&format!(
                "  {:<20} {:<10} exit {:<4} {} ms{}\n",
                c.name,
                c.status.as_str(),
                c.exit_code.map_or("-".to_string(), |e| e.to_string()),
                c.duration_ms,
                if c.required { "" } else { " (advisory)" }
            ));
        }
        s
    };
    if rep.ok() {
        out.result(&rep, human);
    } else {
        out.refused_result(&rep, human);
    }
    Ok(())
}
