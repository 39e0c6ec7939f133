//! `oxide binder ...`: envelope ingestion, capsules, query views and the quarantine.

use std::path::PathBuf;

use clap::Subcommand;
use oxide_core::binder::{self, CapsuleFilter, EligibilityParams, QueryFilter};
use serde_json::json;

use crate::output::{CliError, Out};
use crate::Cli;

#[derive(Subcommand, Debug)]
pub enum BinderCmd {
    /// Ingest a JSON Lines file of wrapper envelopes; bad lines are quarantined, replays are
    /// idempotent.
    Ingest { file: PathBuf },
    /// Capsules with support, contradictions, confidence and eligibility (with reasons).
    Capsules {
        /// Only prescriptively eligible capsules.
        #[arg(long)]
        eligible: bool,
        /// Only capsules with this failure_reason_code.
        #[arg(long, value_name = "CODE")]
        reason_code: Option<String>,
        /// Only capsules with this policy_reason_code.
        #[arg(long, value_name = "CODE")]
        policy_reason_code: Option<String>,
        /// Only capsules for this target id.
        #[arg(long, value_name = "ID")]
        target: Option<String>,
        /// Only capsules in this scope.
        #[arg(long, value_name = "SCOPE")]
        scope: Option<String>,
    },
    /// One capsule with its eligibility reasons and support/contradictions per day.
    Capsule { upsert_key: String },
    /// Rows of a query view: mv_recent_failures_by_taskspec,
    /// mv_gate_rollup_by_failure_reason_code, mv_guard_denials_by_policy_reason_code.
    Query {
        view: String,
        /// Equality filter on a view column, COLUMN=VALUE (repeatable).
        #[arg(long = "where", value_name = "COLUMN=VALUE")]
        filters: Vec<String>,
        /// At most N rows.
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
    },
    /// Quarantined lines with their source, line, error code and message.
    Quarantine {
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
    },
    /// Print the envelope's JSON Schema.
    Schema,
}

fn core<T>(r: Result<T, binder::BinderError>) -> Result<T, CliError> {
    r.map_err(|e| oxide_core::Error::from(e).into())
}

pub fn run(cli: &Cli, cmd: &BinderCmd, out: &mut Out) -> Result<(), CliError> {
    if let BinderCmd::Schema = cmd {
        let s = binder::envelope_schema();
        out.result(&s, || serde_json::to_string_pretty(&s).unwrap_or_default());
        return Ok(());
    }
    let mut ws = cli.open()?;
    match cmd {
        BinderCmd::Schema => unreachable!("handled above"),
        BinderCmd::Ingest { file } => {
            let r = binder::ingest_file(&mut ws, file, &oxide_core::actor::from_env())?;
            out.result(&r, || {
                format!(
                    "{} lines from {}: {} accepted, {} duplicates ({} already quarantined), {} quarantined, {} blank; {} capsules updated ({} mode)\nsource digest {}",
                    r.lines, r.source, r.accepted, r.duplicates, r.already_quarantined,
                    r.quarantined, r.blank, r.capsules_touched, r.fallback_mode, r.source_digest
                )
            });
        }
        BinderCmd::Capsules {
            eligible,
            reason_code,
            policy_reason_code,
            target,
            scope,
        } => {
            let filter = CapsuleFilter {
                eligible_only: *eligible,
                failure_reason_code: reason_code.clone(),
                policy_reason_code: policy_reason_code.clone(),
                target_id: target.clone(),
                scope: scope.clone(),
                ..CapsuleFilter::default()
            };
            let list = binder::capsule_list(&ws, &filter)?;
            let caps = &list.capsules;
            out.result(&list, || {
                let mut lines = vec![format!(
                    "{} capsules (rollout mode {:?})",
                    caps.len(),
                    list.rollout_mode
                )];
                for c in caps {
                    lines.push(format!(
                        "{} {:<8} {}/{}:{} {} {} support {} contra {} conf {:.2} {}",
                        oxide_core::canon::short_id(&c.upsert_key),
                        c.kind,
                        c.scope,
                        c.target_kind,
                        c.target_id,
                        c.action_kind,
                        c.failure_reason_code
                            .as_deref()
                            .or(c.policy_reason_code.as_deref())
                            .unwrap_or("-"),
                        c.support_count,
                        c.contradiction_count,
                        c.confidence,
                        if c.eligible {
                            "eligible".to_string()
                        } else {
                            c.reasons
                                .iter()
                                .map(|r| r.code.as_str())
                                .collect::<Vec<_>>()
                                .join(",")
                        }
                    ));
                }
                lines.join("\n")
            });
        }
        BinderCmd::Capsule { upsert_key } => {
            let params = EligibilityParams::for_workspace(&ws)?;
            let d = core(binder::capsule_detail(
                ws.store().conn(),
                upsert_key,
                &params,
            ))?;
            out.result(&d, || serde_json::to_string_pretty(&d).unwrap_or_default());
        }
        BinderCmd::Query {
            view,
            filters,
            limit,
        } => {
            let mut equals = Vec::new();
            for f in filters {
                let Some((k, v)) = f.split_once('=') else {
                    return Err(CliError::invalid(
                        "BINDER_BAD_FILTER",
                        format!("--where {f:?} is not COLUMN=VALUE"),
                    ));
                };
                equals.push((k.to_string(), v.to_string()));
            }
            let rows = core(binder::query(
                ws.store().conn(),
                view,
                &QueryFilter {
                    equals,
                    limit: *limit,
                },
            ))?;
            out.result(&json!({"view": view, "rows": rows}), || {
                rows.iter()
                    .map(|r| serde_json::Value::Object(r.clone()).to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        BinderCmd::Quarantine { limit } => {
            let items = core(binder::quarantine(ws.store().conn(), *limit))?;
            out.result(&json!({"items": items}), || {
                items
                    .iter()
                    .map(|i| format!("{}:{}  {}  {}", i.source, i.line, i.code, i.message))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}
