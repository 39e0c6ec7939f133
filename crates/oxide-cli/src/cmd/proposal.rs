//! `oxide proposal validate-file FILE --dry-run` (and the proposal read views).

use std::path::PathBuf;

use clap::Subcommand;

use crate::output::{CliError, Out};
use crate::Cli;

#[derive(Subcommand, Debug)]
pub enum ProposalCmd {
    /// Proposals, newest first (optionally only those in one state).
    List {
        #[arg(long, value_name = "STATE")]
        state: Option<String>,
    },
    /// One proposal: bundle, state, branch, latest checks and guard records.
    Show { id: String },
    /// The guard evaluation records of a proposal, oldest first.
    History { id: String },
    /// Import a hand-written bundle (synthesizer "manual"): dry-run validation, then admit.
    Import { file: PathBuf },
    /// Check a bundle file: JSON Schema, meaning, and applicability against its base commit.
    /// Exit 2 with every problem (and its JSON pointer) when it is not valid. Writes nothing.
    ValidateFile {
        file: PathBuf,
        /// Only check; never write (required: there is no other mode).
        #[arg(long, required = true)]
        dry_run: bool,
    },
}

pub fn run(cli: &Cli, cmd: &ProposalCmd, out: &mut Out) -> Result<(), CliError> {
    match cmd {
        ProposalCmd::List { state } => return super::lifecycle::list(cli, state.as_deref(), out),
        ProposalCmd::Show { id } => return super::lifecycle::show(cli, id, out),
        ProposalCmd::History { id } => return super::lifecycle::history(cli, id, out),
        ProposalCmd::Import { file } => return super::lifecycle::import(cli, file, out),
        ProposalCmd::ValidateFile { file, dry_run: _ } => {
            let root = oxide_core::workspace::discover_root(&cli.workspace_dir()?)
                .map_err(oxide_core::Error::from)?;
            let report = oxide_core::proposal::validate_file(&root, file)
                .map_err(oxide_core::Error::from)?;
            let human = || {
                if report.ok {
                    format!(
                        "ok: the bundle is valid and applies ({} file(s) would change){}",
                        report.changes.len(),
                        report
                            .digest
                            .as_deref()
                            .map(|d| format!("; digest {d}"))
                            .unwrap_or_default()
                    )
                } else {
                    report
                        .problems
                        .iter()
                        .map(|p| {
                            format!(
                                "{}: {} [{}]",
                                if p.pointer.is_empty() {
                                    "/"
                                } else {
                                    &p.pointer
                                },
                                p.message,
                                p.code
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                }
            };
            if report.ok {
                out.result(&report, human);
            } else {
                if !out.json() {
                    eprintln!("{}", human());
                }
                out.invalid_result(&report, String::new);
            }
        }
    }
    Ok(())
}
