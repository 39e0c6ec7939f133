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
    out.result(&rep, || {
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
        s
    });
    Ok(())
}
