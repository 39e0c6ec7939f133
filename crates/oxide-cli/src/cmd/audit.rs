use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use crate::output::{CliError, Out};
use crate::Cli;

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Events oldest first.
    List {
        /// Only events with a sequence number greater than SEQ.
        #[arg(long, value_name = "SEQ")]
        after: Option<i64>,
        /// At most N events.
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
    },
    /// Re-check every hash and link; exit 3 naming the first bad event when the chain is broken.
    Verify,
    /// Write every event as JSON Lines to FILE.
    Export { file: PathBuf },
}

pub fn run(cli: &Cli, cmd: &AuditCmd, out: &mut Out) -> Result<(), CliError> {
    let ws = cli.open()?;
    match cmd {
        AuditCmd::List { after, limit } => {
            let events = ws.audit_list(*after, *limit)?;
            out.result(&json!({ "events": events }), || {
                events
                    .iter()
                    .map(|e| {
                        format!(
                            "{:>6}  {}  {:<14} {:<24} {}",
                            e.seq, e.ts, e.actor, e.kind, e.subject
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        AuditCmd::Verify => {
            let v = ws.audit_verify()?;
            let human = || match (&v.first_bad_seq, &v.problem) {
                (Some(seq), Some(p)) => format!("audit chain BROKEN at event {seq}: {p}"),
                _ => format!("audit chain ok: {} events verified", v.events),
            };
            if v.ok {
                out.result(&v, human);
            } else {
                if !out.json() {
                    eprintln!("{}", human());
                }
                out.refused_result(&v, String::new);
            }
        }
        AuditCmd::Export { file } => {
            let n = ws.audit_export(file)?;
            out.result(&json!({ "events": n, "file": file }), || {
                format!("wrote {n} events to {}", file.display())
            });
        }
    }
    Ok(())
}
