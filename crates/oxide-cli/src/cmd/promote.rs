//! `oxide promote ID [--person P]`: promote an approved proposal to the target branch with a
//! signed commit (rollout orchestrator in oxide-core). Every gate is re-checked; any refusal
//! exits 3 and names the rule (nothing promoted).

use clap::Args;
use oxide_core::checks::ValidationProgress;
use oxide_core::rollout;

use crate::output::{CliError, Out};
use crate::Cli;

#[derive(Args, Debug)]
pub struct PromoteArgs {
    /// The proposal id (or its full digest).
    pub id: String,
    /// Who promotes and signs the commit: a lead or maintainer of the committed trust
    /// registry whose key is in this machine's keyring. Default: the person chosen on this
    /// device in the app's Settings (who I am), else the only person whose key this workspace
    /// knows and this keyring holds.
    #[arg(long, value_name = "ID")]
    pub person: Option<String>,
}

pub fn run(cli: &Cli, a: &PromoteArgs, out: &mut Out) -> Result<(), CliError> {
    let mut ws = cli.open()?;
    let actor = oxide_core::actor::from_env();
    let person = rollout::resolve_person(&ws, a.person.as_deref())?;
    let mut progress = |p: ValidationProgress| {
        if let ValidationProgress::CheckFinished { name, status, .. } = p {
            eprintln!(
                "[{name}] {} (re-validation on the moved target)",
                status.as_str()
            );
        }
    };
    let rep = rollout::promote(
        &mut ws,
        &a.id,
        &person,
        &actor,
        &|k| std::env::var_os(k),
        &mut progress,
    )?;
    // A failed canary rolled the promotion back: the canary gate said no (exit 3).
    let rolled_back = rep.state != oxide_core::State::Promoted;
    let human = || {
        let mut s = format!(
            "proposal {} is {}: {} now at {}, signed by {} (key {})\n",
            rep.id,
            rep.state,
            rep.target_branch,
            rep.commit,
            rep.person,
            rep.keyid.get(..16).unwrap_or(&rep.keyid)
        );
        for w in &rep.warnings {
            s.push_str(&format!("warning: {w}\n"));
        }
        if rep.carried_over {
            s.push_str("the approvals were carried over a trivial rebase (re-validated on the moved target)\n");
        }
        s.push_str(&format!(
            "verify it: git verify-commit {} (with gpg.ssh.allowedSignersFile from `oxide keys export-allowed-signers`)\n",
            rep.commit
        ));
        if let Some(c) = &rep.canary {
            s.push_str(&format!("canary run {}: {}\n", c.run_id, c.status.as_str()));
            for k in &c.checks {
                s.push_str(&format!("  [{}] {}\n", k.name, k.status.as_str()));
            }
            if let Some(rb) = &c.rolled_back {
                s.push_str(&format!(
                    "rolled back automatically ({}): revert commit {}\n",
                    rb.failure_reason_code, rb.commit
                ));
            }
            if let Some(e) = &c.rollback_error {
                s.push_str(&format!(
                    "the automatic rollback failed ({}): {}\nroll back by hand: oxide rollback {} --reason ...\n",
                    e.code, e.message, rep.id
                ));
            }
        }
        s
    };
    if rolled_back
        || rep
            .canary
            .as_ref()
            .is_some_and(|c| c.rollback_error.is_some())
    {
        out.refused_result(&rep, human);
    } else {
        out.result(&rep, human);
    }
    Ok(())
}
