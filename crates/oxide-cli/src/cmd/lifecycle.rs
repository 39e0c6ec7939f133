//! `oxide proposal list | show | history | import`: the proposal lifecycle views (workflow
//! room). Wired into `proposal.rs`'s subcommands.

use std::path::Path;

use serde_json::json;

use crate::output::{CliError, Out};
use crate::Cli;

pub fn list(cli: &Cli, state: Option<&str>, out: &mut Out) -> Result<(), CliError> {
    let ws = cli.open()?;
    let state = state
        .map(oxide_core::workflow::parse_state)
        .transpose()
        .map_err(oxide_core::Error::from)?;
    let proposals =
        oxide_core::views::list(ws.store().conn(), state).map_err(oxide_core::Error::from)?;
    out.result(&json!({ "proposals": proposals }), || {
        if proposals.is_empty() {
            return "no proposals".into();
        }
        proposals
            .iter()
            .map(|p| {
                format!(
                    "{}  {:<18} {}  {}",
                    p.id,
                    p.state,
                    p.created_at,
                    p.rationale.chars().take(60).collect::<String>()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

pub fn show(cli: &Cli, id: &str, out: &mut Out) -> Result<(), CliError> {
    let ws = cli.open()?;
    let v = oxide_core::views::view(ws.store().conn(), id)?;
    out.result(&v, || {
        let mut s = format!(
            "proposal {}  state {}\ndigest   {}\nbase     {} @ {}\n",
            v.id, v.state, v.digest, v.bundle.base.branch, v.bundle.base.commit
        );
        if let Some(c) = &v.failure_reason_code {
            s.push_str(&format!("failure  {c}\n"));
        }
        if let Some(c) = &v.policy_reason_code {
            s.push_str(&format!("policy   {c}\n"));
        }
        if let Some(b) = &v.branch {
            s.push_str(&format!("branch   {} @ {}\n", b.branch, b.head_commit));
        }
        s.push_str(&format!("\n{}\n\nops:\n", v.bundle.intent.rationale.trim()));
        for op in &v.bundle.intent.ops {
            let kind = serde_json::to_value(op)
                .ok()
                .and_then(|x| x["op"].as_str().map(String::from))
                .unwrap_or_default();
            let what = match op {
                oxide_core::proposal::Op::MemorySet { namespace, key, .. } => {
                    format!("memory {}/{key}", namespace.as_str())
                }
                _ => op.path().unwrap_or_default().to_string(),
            };
            s.push_str(&format!("  {kind:<12} {what}\n"));
        }
        if !v.checks.is_empty() {
            s.push_str("checks (latest run):\n");
            for c in &v.checks {
                s.push_str(&format!("  {:<20} {}\n", c.name, c.status.as_str()));
            }
        }
        s
    });
    Ok(())
}

pub fn history(cli: &Cli, id: &str, out: &mut Out) -> Result<(), CliError> {
    use oxide_core::views::HistoryEntry;
    let ws = cli.open()?;
    let h = oxide_core::views::proposal_history(ws.store().conn(), id)?;
    let recs: Vec<_> = h
        .entries
        .iter()
        .filter_map(|e| match e {
            HistoryEntry::Guard { record, .. } => Some(record),
            _ => None,
        })
        .collect();
    out.result(
        &json!({ "id": h.id, "state": h.state, "transitions": recs, "events": h.entries }),
        || {
            h.entries
                .iter()
                .map(|e| {
                    let seq = e
                        .audit_seq()
                        .map_or_else(|| "     ?".to_string(), |s| format!("{s:>6}"));
                    match e {
                        HistoryEntry::Guard { at, record: r, .. } => {
                            let mut s = format!(
                                "{seq}  {at}  guard   {:<16} {} -> {}  {}",
                                r.guard, r.from, r.to, r.outcome
                            );
                            if let Some(c) = &r.failure_reason_code {
                                s.push_str(&format!("  failure={c}"));
                            }
                            if let Some(c) = &r.policy_reason_code {
                                s.push_str(&format!("  policy={c}"));
                            }
                            s
                        }
                        HistoryEntry::CheckRun { at, run, .. } => {
                            let passed = run
                                .checks
                                .iter()
                                .filter(|c| c.status.as_str() == "passed")
                                .count();
                            format!(
                                "{seq}  {at}  checks  run {} {}  {passed}/{} passed",
                                run.run_id,
                                run.status,
                                run.checks.len()
                            )
                        }
                        HistoryEntry::PolicyDecision {
                            at, decision: d, ..
                        } => format!(
                            "{seq}  {at}  policy  {} risk {}{}",
                            d.decision.outcome.as_str(),
                            d.decision.risk.as_str(),
                            d.decision
                                .policy_reason_code
                                .as_deref()
                                .map(|c| format!("  policy={c}"))
                                .unwrap_or_default()
                        ),
                        HistoryEntry::Event { at, event, .. } => {
                            format!("{seq}  {at}  event   {}", event.kind)
                        }
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        },
    );
    Ok(())
}

pub fn import(cli: &Cli, file: &Path, out: &mut Out) -> Result<(), CliError> {
    let mut ws = cli.open()?;
    let rep = oxide_core::workflow::import(&mut ws, file, &oxide_core::actor::from_env())?;
    if rep.ok {
        out.result(&rep, || {
            format!(
                "proposal {} is {}",
                rep.id.as_deref().unwrap_or(""),
                rep.state.map(|s| s.as_str()).unwrap_or("")
            )
        });
    } else {
        let text = rep
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
            .join("\n");
        if !out.json() {
            eprintln!("{text}");
        }
        out.invalid_result(&rep, String::new);
    }
    Ok(())
}
