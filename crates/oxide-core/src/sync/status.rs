//! The desktop's sync status: the remote this clone syncs with, when it last synced, how far
//! its target branch is ahead of or behind the remote's (as last fetched), and what the last
//! sync brought or refused. Reads what `sync` recorded; decides nothing.

use serde::{Deserialize, Serialize};

use super::{git_err, last_sync, target_state, Refusal, SyncReport};
use crate::{Error, Workspace};

/// The remote `oxide sync` uses when none is named.
pub const DEFAULT_REMOTE: &str = "origin";

/// One thing the last sync brought and applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Arrival {
    /// proposal | validation | approval | promoted | superseded | devices | audit_events
    pub kind: String,
    /// The proposal id, `<proposal>/<run id>`, `<proposal>/<approval nonce>`, or a count.
    pub item: String,
}

/// Where this clone stands with its remote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SyncStatus {
    /// The remote of the last sync (else `origin`), when the repository has it; `null` when
    /// there is nothing to sync with.
    pub remote: Option<String>,
    /// When this database last synced.
    pub last_sync: Option<String>,
    /// Target-branch commits here and not on the remote (as last fetched), and the reverse.
    pub ahead: u64,
    pub behind: u64,
    /// What the last sync brought and applied.
    pub arrived: Vec<Arrival>,
    /// What the last sync refused (it did not verify), and why.
    pub refused: Vec<Refusal>,
}

fn arrivals(r: &SyncReport) -> Vec<Arrival> {
    let one = |kind: &str, items: &[String]| {
        items
            .iter()
            .map(|i| Arrival {
                kind: kind.to_string(),
                item: i.clone(),
            })
            .collect::<Vec<_>>()
    };
    let mut out = one("proposal", &r.received.proposals);
    out.extend(one("validation", &r.received.validations));
    out.extend(one("approval", &r.received.approvals));
    out.extend(one("promoted", &r.promoted));
    out.extend(one("superseded", &r.superseded));
    for (kind, n) in [
        ("devices", r.received.devices),
        ("audit_events", r.received.events),
    ] {
        if n > 0 {
            out.push(Arrival {
                kind: kind.into(),
                item: n.to_string(),
            });
        }
    }
    out
}

/// `status`: the sync status of the opened workspace.
pub fn status(ws: &Workspace) -> Result<SyncStatus, Error> {
    let last = last_sync(ws)?;
    let report: Option<SyncReport> = last
        .as_ref()
        .and_then(|l| serde_json::from_value(l.report.clone()).ok());
    let name = last
        .as_ref()
        .map_or(DEFAULT_REMOTE.to_string(), |l| l.remote.clone());
    let repo = git2::Repository::open(ws.root()).map_err(git_err)?;
    let remote = repo.find_remote(&name).is_ok().then_some(name);
    let (ahead, behind) = match &remote {
        Some(r) => {
            let target = ws.settings()?.workflow.target_branch;
            let t = target_state(&repo, &target, &format!("refs/remotes/{r}/{target}"))?;
            (t.ahead, t.behind)
        }
        None => (0, 0),
    };
    Ok(SyncStatus {
        remote,
        last_sync: last.map(|l| l.at),
        ahead,
        behind,
        arrived: report.as_ref().map(arrivals).unwrap_or_default(),
        refused: report.map(|r| r.refused).unwrap_or_default(),
    })
}
