//! `oxide approve ID --person P [--reject --reason TEXT] [--envelope FILE]`,
//! `oxide approvals ID [--export DIR]`, `oxide verify ID`: the approve stage (approval
//! orchestrator in oxide-core). Refusals exit 3.

use std::path::PathBuf;

use clap::Args;
use oxide_core::approval;
use oxide_core::signing::statement::Decision;
use serde_json::json;

use crate::output::{CliError, Out};
use crate::Cli;

#[derive(Args, Debug)]
pub struct ApproveArgs {
    /// The proposal id (or its full digest).
    pub id: String,
    /// Who signs: a person of the committed trust registry whose key is in this machine's
    /// keyring (`oxide keys generate --person ID`).
    #[arg(long, value_name = "ID", required_unless_present = "envelope")]
    pub person: Option<String>,
    /// Sign a rejection instead (needs --reason).
    #[arg(long, conflicts_with = "envelope")]
    pub reject: bool,
    /// Why (required with --reject).
    #[arg(long, value_name = "TEXT", conflicts_with = "envelope")]
    pub reason: Option<String>,
    /// Admit a DSSE envelope signed elsewhere (another DSSE implementation or desktop) with a
    /// key of the committed registry, instead of signing here.
    #[arg(long, value_name = "FILE", conflicts_with = "person")]
    pub envelope: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ApprovalsArgs {
    /// The proposal id (or its full digest).
    pub id: String,
    /// Also write each approval's envelope to DIR/<id>-<n>-<person>.dsse.json.
    #[arg(long, value_name = "DIR")]
    pub export: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The proposal id (or its full digest).
    pub id: String,
}

pub fn approve(cli: &Cli, a: &ApproveArgs, out: &mut Out) -> Result<(), CliError> {
    let mut ws = cli.open()?;
    let actor = oxide_core::actor::from_env();
    let rep = match (&a.envelope, &a.person) {
        (Some(file), _) => {
            let bytes = std::fs::read(file)
                .map_err(|e| CliError::io(&format!("cannot read {}", file.display()), e))?;
            approval::submit(&mut ws, &a.id, &bytes, &actor)?
        }
        (None, Some(person)) => {
            let decision = if a.reject {
                Decision::Reject
            } else {
                Decision::Approve
            };
            approval::sign(
                &mut ws,
                &a.id,
                person,
                decision,
                a.reason.as_deref().unwrap_or(""),
                &actor,
            )?
        }
        (None, None) => {
            return Err(CliError::invalid(
                "USAGE",
                "pass --person ID (or --envelope FILE)",
            ))
        }
    };
    out.result(&rep, || {
        let mut s = format!(
            "{} signed a{} of {} with key {}\nproposal {} is {}\n",
            rep.person,
            if rep.decision == Decision::Reject {
                " rejection"
            } else {
                "n approval"
            },
            rep.id,
            rep.keyid,
            rep.id,
            rep.state
        );
        match &rep.why {
            Some(why) => s.push_str(&format!("it does not count: {why}\n")),
            None if rep.counted => s.push_str("it counts toward the two-person rule\n"),
            None => {}
        }
        if !rep.tally.missing.is_empty() {
            s.push_str(&format!("still missing: {}\n", rep.tally.missing.join(", ")));
        }
        s
    });
    Ok(())
}

pub fn approvals(cli: &Cli, a: &ApprovalsArgs, out: &mut Out) -> Result<(), CliError> {
    let ws = cli.open()?;
    let rep = approval::status(&ws, &a.id)?;
    let files = match &a.export {
        Some(dir) => approval::export(&ws, &a.id, dir)?,
        None => Vec::new(),
    };
    let doc = json!({
        "id": rep.id,
        "state": rep.state,
        "approvals": rep.approvals,
        "tally": rep.tally,
        "facts": rep.facts,
        "problems": rep.problems,
        "exported": files,
    });
    out.result(&doc, || {
        let mut s = format!("proposal {}  state {}\n", rep.id, rep.state);
        if rep.approvals.is_empty() {
            s.push_str("no approvals\n");
        }
        for v in &rep.approvals {
            s.push_str(&format!(
                "  #{:<4} {:<8} {:<16} {:<11} {:<8} {}{}\n",
                v.approval_id,
                v.decision,
                v.person,
                v.role,
                v.status,
                &v.keyid.get(..16).unwrap_or(&v.keyid),
                if v.counted { "  counts" } else { "" }
            ));
            if let Some(why) = &v.why {
                s.push_str(&format!("        not counted: {why}\n"));
            }
            for p in &v.problems {
                s.push_str(&format!("        {p}\n"));
            }
        }
        if rep.tally.satisfied {
            s.push_str("two-person rule: satisfied\n");
        } else if !rep.tally.missing.is_empty() {
            s.push_str(&format!("missing: {}\n", rep.tally.missing.join(", ")));
        }
        for p in &rep.problems {
            s.push_str(&format!("problem: {p}\n"));
        }
        for f in &files {
            s.push_str(&format!("wrote {}\n", f.display()));
        }
        s
    });
    Ok(())
}

pub fn verify(cli: &Cli, a: &VerifyArgs, out: &mut Out) -> Result<(), CliError> {
    let ws = cli.open()?;
    let rep = approval::verify(&ws, &a.id)?;
    let human = || {
        let mut s = format!(
            "proposal {}: {}\n",
            rep.id,
            if rep.ok { "ok" } else { "NOT OK" }
        );
        for p in &rep.problems {
            s.push_str(&format!("  {p}\n"));
        }
        s
    };
    if rep.ok {
        out.result(&rep, human);
    } else {
        out.refused_result(&rep, human);
    }
    Ok(())
}
