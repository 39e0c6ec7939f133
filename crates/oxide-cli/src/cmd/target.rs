//! `oxide target set BRANCH --reason TEXT`: change the workspace's target branch (audited).

use clap::Subcommand;

use crate::output::{CliError, Out};
use crate::Cli;

#[derive(Subcommand, Debug)]
pub enum TargetCmd {
    /// Make BRANCH (an existing local branch) the target: promotions land on it and the
    /// governance committed on its tip (settings, policy, checks, approvers) is in force.
    /// Recorded in the audit log with the reason.
    Set {
        /// The new target branch; it must exist in the repository.
        branch: String,
        /// Why the target changes (required; recorded in the audit log).
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
}

pub fn run(cli: &Cli, cmd: &TargetCmd, out: &mut Out) -> Result<(), CliError> {
    match cmd {
        TargetCmd::Set { branch, reason } => {
            let mut ws = cli.open()?;
            let actor = oxide_core::actor::from_env();
            let change = ws.set_target_branch(branch, reason, &actor)?;
            out.result(&change, || {
                format!(
                    "target branch: {} -> {} (reason recorded in the audit log)\n",
                    change.from, change.to
                )
            });
            Ok(())
        }
    }
}
