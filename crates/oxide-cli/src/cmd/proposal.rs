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
    /// What the proposal would land, as git diffs it against its base commit.
    ///
    /// The proposal branch's tree (before validation: the tree its bundle gives, built in
    /// memory) against the base commit's tree. `--json` prints the review diff (files,
    /// hunks, lines with word spans and hidden-character flags); otherwise a unified diff
    /// with `␍` and `<U+XXXX>` for characters a terminal would hide.
    Diff { id: String },
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
        ProposalCmd::Diff { id } => return diff(cli, id, out),
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

/// `oxide proposal diff ID`: the review diff; humans get it as a unified diff, with the
/// characters a terminal would hide written visibly (`\r` as `␍`, invisible ones as `<U+…>`).
fn diff(cli: &Cli, id: &str, out: &mut Out) -> Result<(), CliError> {
    use oxide_core::proposal::diff::{FileChange, LineKind};
    let ws = cli.open()?;
    let view = oxide_core::views::diff(&ws, id)?;
    out.result(&view, || {
        let mut s = String::new();
        if view.files.is_empty() && view.problems.is_empty() {
            s.push_str("no changes\n");
        }
        for p in &view.problems {
            s.push_str(&format!(
                "problem  {} {} [{}]\n",
                p.pointer, p.message, p.code
            ));
        }
        if let Some(b) = &view.branch {
            s.push_str(&format!(
                "branch   {b} @ {}\n",
                view.head_commit.as_deref().unwrap_or("")
            ));
        }
        for f in &view.files {
            let old = f.old_path.as_deref().unwrap_or(&f.path);
            s.push_str(&format!("diff --git a/{old} b/{}\n", f.path));
            match f.change {
                FileChange::Added => s.push_str(&format!(
                    "new file mode {}\n",
                    f.new_mode.as_deref().unwrap_or("")
                )),
                FileChange::Deleted => s.push_str(&format!(
                    "deleted file mode {}\n",
                    f.old_mode.as_deref().unwrap_or("")
                )),
                FileChange::Renamed | FileChange::Copied => {
                    s.push_str(&format!("rename from {old}\nrename to {}\n", f.path))
                }
                _ if f.old_mode != f.new_mode => s.push_str(&format!(
                    "old mode {}\nnew mode {}\n",
                    f.old_mode.as_deref().unwrap_or(""),
                    f.new_mode.as_deref().unwrap_or("")
                )),
                _ => {}
            }
            if f.binary {
                s.push_str(&format!(
                    "Binary files differ ({} -> {} bytes)\n",
                    f.old_size, f.new_size
                ));
                continue;
            }
            for h in &f.hunks {
                s.push_str(&format!(
                    "@@ -{},{} +{},{} @@\n",
                    h.old_start, h.old_lines, h.new_start, h.new_lines
                ));
                for l in &h.lines {
                    s.push(match l.kind {
                        LineKind::Context => ' ',
                        LineKind::Add => '+',
                        LineKind::Del => '-',
                    });
                    s.push_str(&visible(&l.text));
                    s.push('\n');
                    if l.flags
                        .contains(&oxide_core::proposal::diff::LineFlag::NoNewlineAtEnd)
                    {
                        s.push_str("\\ No newline at end of file\n");
                    }
                }
            }
        }
        s
    });
    Ok(())
}

/// A line with what a terminal would hide made visible.
fn visible(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\r' => "␍".to_string(),
            c if oxide_core::gitops::review_diff::is_invisible(c) => {
                format!("<U+{:04X}>", c as u32)
            }
            c => c.to_string(),
        })
        .collect()
}
