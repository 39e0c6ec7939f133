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
    /// Re-check every hash and link, every signed checkpoint and the keyring's witness; exit 3
    /// naming the first bad event when something does not hold.
    Verify,
    /// Write every event as JSON Lines to FILE, and the signed checkpoints to FILE.checkpoints.
    Export { file: PathBuf },
    /// Sign the current head of the audit chain with this device's key (OS keyring).
    Checkpoint,
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
            let v = oxide_core::signing::checkpoint::verify_workspace(&ws)?;
            let human = || {
                if v.ok {
                    let signed = v.last_checkpoint.as_ref().map_or_else(
                        || "no signed checkpoint yet".to_string(),
                        |c| format!("signed up to event {} by key {}", c.seq, c.keyid),
                    );
                    format!(
                        "audit chain ok: {} events verified, {} checkpoint(s) verified, {signed}",
                        v.events, v.checkpoints
                    )
                } else {
                    let mut s = match v.first_bad_seq {
                        Some(seq) => format!("audit log NOT ok from event {seq}:"),
                        None => "audit log NOT ok:".to_string(),
                    };
                    for p in &v.problems {
                        s.push_str(&format!("\n  {}: {}", p.code, p.message));
                    }
                    s
                }
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
            let r = oxide_core::signing::checkpoint::export(ws.store().conn(), file)
                .map_err(oxide_core::Error::from)?;
            out.result(
                &json!({ "events": r.events, "file": file, "checkpoints": r.checkpoints,
                         "checkpoints_file": r.checkpoints_file }),
                || {
                    format!(
                        "wrote {} events to {} and {} checkpoint(s) to {}",
                        r.events,
                        file.display(),
                        r.checkpoints,
                        r.checkpoints_file.display()
                    )
                },
            );
        }
        AuditCmd::Checkpoint => {
            let c = oxide_core::signing::checkpoint::create(ws.store().conn(), ws.clock().now())
                .map_err(oxide_core::Error::from)?;
            out.result(
                &json!({ "seq": c.seq, "hash": c.hash, "keyid": c.keyid, "note": c.note }),
                || format!("signed event {} ({}) with key {}", c.seq, c.hash, c.keyid),
            );
        }
    }
    Ok(())
}
