//! `oxide sync [--remote NAME] [--person ID]`: team state through the repository's own git
//! remote (refs/oxide/*; docs/sync.md). What arrived, what was refused and what moved.

use clap::Args;

use crate::output::{CliError, Out};
use crate::Cli;

#[derive(Args, Debug)]
pub struct SyncArgs {
    /// The git remote to sync through (a configured `git remote`).
    #[arg(long, value_name = "NAME", default_value = "origin")]
    pub remote: String,
    /// The person whose keyring key endorses this device's keys (needed once, when this
    /// database has keys of several persons).
    #[arg(long, value_name = "ID")]
    pub person: Option<String>,
}

pub fn run(cli: &Cli, a: &SyncArgs, out: &mut Out) -> Result<(), CliError> {
    let mut ws = cli.open()?;
    let rep = oxide_core::sync::sync(&mut ws, &a.remote, a.person.as_deref())?;
    out.result(&rep, || {
        let mut s = format!(
            "synced with {}: pushed {} ref(s), fetched {} ref(s); received {} proposal(s), {} validation(s), {} approval(s), {} audit event(s) from {} device(s)",
            rep.remote,
            rep.pushed,
            rep.fetched,
            rep.received.proposals.len(),
            rep.received.validations.len(),
            rep.received.approvals.len(),
            rep.received.events,
            rep.received.devices
        );
        for id in &rep.promoted {
            s.push_str(&format!("\npromoted on the remote: {id}"));
        }
        for id in &rep.superseded {
            s.push_str(&format!("\nsuperseded (promoted elsewhere): {id}"));
        }
        for r in &rep.refused {
            s.push_str(&format!(
                "\nREFUSED {} {} from {}: {} {}",
                r.kind, r.item, r.device, r.code, r.message
            ));
        }
        s
    });
    Ok(())
}
