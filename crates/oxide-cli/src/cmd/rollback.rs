//! `oxide rollback ID --reason TEXT [--person P]`, `oxide rollback drill [--person P]`,
//! `oxide canary ID` (a proposal's canary runs with their logs) and `oxide memory show NS KEY`
//! (a runtime-memory entry and its history).

use clap::{Args, Subcommand};
use oxide_core::rollout;

use crate::output::{CliError, Out};
use crate::Cli;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct RollbackArgs {
    #[command(subcommand)]
    pub sub: Option<RollbackSub>,
    /// The promoted proposal to roll back.
    #[arg(required = true)]
    pub id: Option<String>,
    /// Why (recorded in the revert commit, the audit event and the rollback row).
    #[arg(long, required = true)]
    pub reason: Option<String>,
    /// Who rolls back and signs the revert commit (a lead or maintainer of the committed
    /// registry with a key in this keyring); default: the only such person with a key here.
    #[arg(long)]
    pub person: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum RollbackSub {
    /// Rehearse promote + canary + rollback on a scratch branch oxide/drill/<time> (never the
    /// target) and record the evidence as the audit event `rollout.drill`.
    Drill {
        /// Who runs the drill (a lead or maintainer with a key in this keyring).
        #[arg(long)]
        person: Option<String>,
    },
}

fn person(ws: &oxide_core::Workspace, given: &Option<String>) -> Result<String, CliError> {
    Ok(rollout::resolve_person(ws, given.as_deref())?)
}

pub fn run(cli: &Cli, args: &RollbackArgs, out: &mut Out) -> Result<(), CliError> {
    let mut ws = cli.open()?;
    if let Some(RollbackSub::Drill { person: p }) = &args.sub {
        let p = person(&ws, p)?;
        let rep = rollout::drill(&mut ws, &p)?;
        let human = || {
            let mark = |b: bool| if b { "ok" } else { "FAILED" };
            let mut s = format!(
                "rollback drill {} by {} on {} (target {} untouched: {})\n",
                if rep.ok { "passed" } else { "FAILED" },
                rep.person,
                rep.branch,
                rep.target,
                mark(rep.target_unchanged)
            );
            s.push_str(&format!("  scratch promotion {}\n", rep.promotion_commit));
            s.push_str(&format!("  revert            {}\n", rep.revert_commit));
            s.push_str(&format!(
                "  canaries          {} ({} run)\n",
                mark(rep.canary_passed),
                rep.canaries.len()
            ));
            s.push_str(&format!(
                "  signatures        {}\n  base restored     {}\n",
                mark(rep.signatures_verified),
                mark(rep.restored_base_tree)
            ));
            s.push_str(&format!(
                "  evidence          audit event #{} (rollout.drill), {} ms\n",
                rep.audit_seq, rep.duration_ms
            ));
            s
        };
        if rep.ok {
            out.result(&rep, human);
        } else {
            out.refused_result(&rep, human);
        }
        return Ok(());
    }
    let (Some(id), Some(reason)) = (&args.id, &args.reason) else {
        return Err(CliError::invalid(
            "USAGE",
            "usage: oxide rollback ID --reason TEXT [--person P] | oxide rollback drill",
        ));
    };
    let p = person(&ws, &args.person)?;
    let rb = rollout::rollback(&mut ws, id, &p, reason, rollout::Trigger::Manual)?;
    out.result(&rb, || {
        let mut s = format!(
            "{} {} ({})\nrevert commit {} signed by {} (key {})\n",
            rb.id, rb.state, rb.failure_reason_code, rb.commit, rb.person, rb.keyid
        );
        for m in &rb.memory_restored {
            s.push_str(&format!(
                "memory {}/{} restored (version {})\n",
                m.namespace, m.key, m.version
            ));
        }
        s
    });
    Ok(())
}

#[derive(Args, Debug)]
pub struct CanaryArgs {
    /// The proposal whose canary runs to show.
    pub id: String,
    /// Run the canaries of the promoted proposal again first (a failure rolls it back,
    /// signed by --person: a lead or maintainer).
    #[arg(long)]
    pub run: bool,
    /// With --run: who signs an automatic rollback (default: the only person with a key here).
    #[arg(long, requires = "run")]
    pub person: Option<String>,
}

pub fn canary(cli: &Cli, args: &CanaryArgs, out: &mut Out) -> Result<(), CliError> {
    let mut ws = cli.open()?;
    let mut failed = false;
    if args.run {
        let p = person(&ws, &args.person)?;
        let outcome =
            rollout::canary::rerun(&mut ws, &args.id, &p, &|k| std::env::var_os(k), &mut |_| {})?;
        // A re-run whose canary failed: the canary gate said no (exit 3).
        failed = outcome.is_some_and(|o| o.status != rollout::CanaryStatus::Passed);
    }
    let row = oxide_core::workflow::require(ws.store().conn(), &args.id)
        .map_err(oxide_core::Error::from)?;
    let runs = rollout::canary::runs_for(ws.store().conn(), &row.id)?;
    let doc = serde_json::json!({"id": row.id, "state": row.state, "runs": runs});
    let human = || {
        let mut s = format!("{} {}\n", row.id, row.state);
        for r in &runs {
            s.push_str(&format!(
                "canary run {} {} (commit {})\n",
                r.run_id,
                r.status.as_str(),
                r.promotion_commit
            ));
            for c in &r.checks {
                s.push_str(&format!(
                    "  [{}] {} exit {}\n{}",
                    c.name,
                    c.status.as_str(),
                    c.exit_code.map_or("-".into(), |e| e.to_string()),
                    c.output
                ));
            }
        }
        s
    };
    if failed {
        out.refused_result(&doc, human);
    } else {
        out.result(&doc, human);
    }
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum MemoryCmd {
    /// A runtime-memory entry (behavior or personality) and every version of it.
    Show {
        /// `behavior` or `personality`.
        namespace: String,
        key: String,
    },
}

pub fn memory(cli: &Cli, c: &MemoryCmd, out: &mut Out) -> Result<(), CliError> {
    let ws = cli.open()?;
    let MemoryCmd::Show { namespace, key } = c;
    let ns = oxide_core::memory::Namespace::parse(namespace).map_err(oxide_core::Error::from)?;
    let entry =
        oxide_core::memory::get(ws.store().conn(), ns, key).map_err(oxide_core::Error::from)?;
    let history =
        oxide_core::memory::history(ws.store().conn(), ns, key).map_err(oxide_core::Error::from)?;
    let doc = serde_json::json!({"entry": entry, "history": history});
    out.result(&doc, || {
        let mut s = format!("{namespace}/{key}\n");
        for e in &history {
            s.push_str(&format!(
                "  v{} {} by {}{} ({}): {}\n",
                e.version,
                e.changed_at,
                e.changed_by,
                e.proposal_id
                    .as_deref()
                    .map_or(String::new(), |p| format!(", proposal {p}")),
                e.reason,
                e.value
                    .as_ref()
                    .map_or("(cleared)".into(), |v| v.to_string())
            ));
        }
        s
    });
    Ok(())
}
