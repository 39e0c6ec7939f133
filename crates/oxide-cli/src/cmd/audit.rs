use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use oxide_core::audit::{Order, TimelineFilter, TimelineQuery};
use serde_json::json;

use crate::output::{CliError, Out};
use crate::Cli;

/// The filters `audit list` and `audit export` share.
#[derive(Args, Debug, Clone)]
pub struct Filters {
    /// Only events with a sequence number greater than SEQ.
    #[arg(long, value_name = "SEQ")]
    after: Option<i64>,
    /// Only events with a sequence number less than SEQ (with --limit: the ones just below it).
    #[arg(long, value_name = "SEQ")]
    before: Option<i64>,
    /// Only events of this kind (exact, e.g. workflow.validate); repeat for several.
    #[arg(long = "kind", value_name = "KIND")]
    kinds: Vec<String>,
    /// Only events by this actor (exact).
    #[arg(long, value_name = "ACTOR")]
    actor: Option<String>,
    /// Only events about this subject (exact: a proposal id, a skill id).
    #[arg(long, value_name = "SUBJECT")]
    subject: Option<String>,
    /// Only events at or after T (RFC 3339, or a date YYYY-MM-DD = its midnight UTC).
    #[arg(long, value_name = "T")]
    since: Option<String>,
    /// Only events before T (exclusive; same forms as --since).
    #[arg(long, value_name = "T")]
    until: Option<String>,
    /// Only events whose kind, actor or subject has words starting with each of WORDS.
    #[arg(long, value_name = "WORDS")]
    search: Option<String>,
    /// Newest first (the default is oldest first).
    #[arg(long)]
    reverse: bool,
    /// At most N events.
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
}

impl Filters {
    fn query(&self) -> Result<TimelineQuery, CliError> {
        if self.limit == Some(0) {
            return Err(CliError::invalid(
                "USAGE",
                "--limit 0 lists nothing: give at least 1, or leave --limit out for every event",
            ));
        }
        Ok(TimelineQuery {
            filter: TimelineFilter {
                kinds: self.kinds.clone(),
                actor: self.actor.clone(),
                subject: self.subject.clone(),
                since: self.since.clone(),
                until: self.until.clone(),
                search: self.search.clone(),
            },
            order: if self.reverse {
                Order::NewestFirst
            } else {
                Order::OldestFirst
            },
            before: self.before,
            after: self.after,
            jump: None,
            limit: self.limit,
        })
    }
}

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Events oldest first (newest first with --reverse), optionally filtered.
    List {
        #[command(flatten)]
        filters: Filters,
        /// One event per line as JSON (JSON Lines), streamed; no surrounding document.
        #[arg(long)]
        json_lines: bool,
        /// Only the events of this device's chain: a device keyid (`oxide sync` imports other
        /// devices' chains), or `local` for this database's own.
        #[arg(long, value_name = "KEYID", conflicts_with = "all_devices")]
        device: Option<String>,
        /// This device's events and every synced device's together, ordered by time; each
        /// event names its `device`.
        #[arg(long)]
        all_devices: bool,
    },
    /// Re-check every hash and link, every signed checkpoint and the keyring's witness; exit 3
    /// naming the first bad event when something does not hold.
    Verify {
        /// Also verify every synced device's chain (its endorsement, chain and newest signed
        /// checkpoint); `devices` lists each.
        #[arg(long)]
        all_devices: bool,
    },
    /// Write the events (all, or those the filters of `audit list` select) as JSON Lines to
    /// FILE, and the signed checkpoints to FILE.checkpoints.
    Export {
        file: PathBuf,
        #[command(flatten)]
        filters: Filters,
    },
    /// Sign the current head of the audit chain with this device's key (OS keyring).
    Checkpoint,
}

fn human_line(e: &oxide_core::audit::AuditEvent) -> String {
    format!(
        "{:>6}  {}  {:<14} {:<24} {}",
        e.seq, e.ts, e.actor, e.kind, e.subject
    )
}

pub fn run(cli: &Cli, cmd: &AuditCmd, out: &mut Out) -> Result<(), CliError> {
    let ws = cli.open()?;
    if let AuditCmd::List {
        filters,
        json_lines,
        device,
        all_devices,
    } = cmd
    {
        let local = oxide_core::sync::local_device(&ws)?;
        let remote_device = device
            .as_deref()
            .filter(|d| *d != "local" && Some(*d) != local.as_deref());
        if *all_devices || remote_device.is_some() {
            if (filters.after.is_some() || filters.before.is_some()) && *all_devices
                || filters.since.is_some()
                || filters.until.is_some()
                || filters.search.is_some()
            {
                return Err(CliError::invalid(
                    "USAGE",
                    "with --device KEYID (another device) or --all-devices, filter by --kind, --actor, --subject, --limit, --reverse (and --after/--before within one device's chain)",
                ));
            }
            let q = oxide_core::audit::devices::DeviceQuery {
                kinds: filters.kinds.clone(),
                actor: filters.actor.clone(),
                subject: filters.subject.clone(),
                after: filters.after,
                before: filters.before,
                newest_first: filters.reverse,
                limit: filters.limit,
            };
            let conn = ws.store().conn();
            let events: Vec<serde_json::Value> = match remote_device {
                Some(d) => oxide_core::audit::devices::device_events(conn, d, &q)
                    .map_err(oxide_core::Error::from)?
                    .into_iter()
                    .map(|e| {
                        let mut v = serde_json::to_value(&e).unwrap_or_default();
                        v["device"] = d.into();
                        v
                    })
                    .collect(),
                None => oxide_core::audit::devices::merged(
                    conn,
                    local.as_deref().unwrap_or("local"),
                    &q,
                )
                .map_err(oxide_core::Error::from)?
                .into_iter()
                .map(|e| serde_json::to_value(&e).unwrap_or_default())
                .collect(),
            };
            if *json_lines {
                let mut w = std::io::stdout().lock();
                for e in &events {
                    let _ = writeln!(w, "{e}");
                }
                return Ok(());
            }
            out.result(&json!({ "events": events }), || {
                events
                    .iter()
                    .map(|e| {
                        format!(
                            "{:.12}  {:>6}  {}  {:<14} {:<24} {}",
                            e["device"].as_str().unwrap_or_default(),
                            e["seq"],
                            e["ts"].as_str().unwrap_or_default(),
                            e["actor"].as_str().unwrap_or_default(),
                            e["kind"].as_str().unwrap_or_default(),
                            e["subject"].as_str().unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            return Ok(());
        }
    }
    match cmd {
        AuditCmd::List {
            filters,
            json_lines: true,
            ..
        } => {
            let q = filters.query()?;
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            let mut closed = false;
            let mut failed: Option<std::io::Error> = None;
            ws.audit_for_each(&q, |e| {
                if closed || failed.is_some() {
                    return Ok(());
                }
                let line = serde_json::to_string(&e).unwrap_or_default();
                if let Err(err) = writeln!(w, "{line}") {
                    if err.kind() == std::io::ErrorKind::BrokenPipe {
                        closed = true;
                    } else {
                        failed = Some(err);
                    }
                }
                Ok(())
            })?;
            match w.flush() {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe && failed.is_none() => {
                    failed = Some(e)
                }
                _ => {}
            }
            if let Some(e) = failed {
                return Err(CliError::io("cannot write the events to stdout", e));
            }
        }
        AuditCmd::List {
            filters,
            json_lines: false,
            ..
        } => {
            let q = filters.query()?;
            let mut events = Vec::new();
            ws.audit_for_each(&q, |e| {
                events.push(e);
                Ok(())
            })?;
            out.result(&json!({ "events": events }), || {
                events.iter().map(human_line).collect::<Vec<_>>().join("\n")
            });
        }
        AuditCmd::Verify { all_devices } => {
            let mut v = oxide_core::signing::checkpoint::verify_workspace(&ws)?;
            let devices = if *all_devices {
                Some(oxide_core::sync::verify_devices(&ws)?)
            } else {
                None
            };
            for d in devices.iter().flatten().filter(|d| !d.ok) {
                v.ok = false;
                v.problems
                    .push(oxide_core::signing::checkpoint::AuditProblem {
                        code: "DEVICE_CHAIN_INVALID".into(),
                        seq: d.first_bad_seq,
                        message: format!("device {}: {}", d.device, d.problems.join("; ")),
                    });
            }
            if v.problem.is_none() {
                v.problem = v.problems.first().map(|p| p.message.clone());
            }
            let mut doc = serde_json::to_value(&v).unwrap_or_default();
            if let Some(d) = &devices {
                doc["devices"] = serde_json::to_value(d).unwrap_or_default();
            }
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
                out.result(&doc, human);
            } else {
                if !out.json() {
                    eprintln!("{}", human());
                }
                out.refused_result(&doc, String::new);
            }
        }
        AuditCmd::Export { file, filters } => {
            let q = filters.query()?;
            let r = oxide_core::signing::checkpoint::export(ws.store().conn(), file, &q)
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
