//! `oxide status`: the workspace, its database, proposals per state and the audit length.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::workflow::State;
use crate::Workspace;

/// `oxide status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Status {
    pub workspace: String,
    pub db: String,
    /// Count of proposals per state; every state is present, zero included.
    pub proposals: BTreeMap<String, u64>,
    pub audit_events: u64,
    /// Whether `.oxide/oxide.toml` exists (false: run `oxide init`).
    pub initialized: bool,
    /// The target branch fixed for the workspace (its committed tip is the governance in force).
    pub target_branch: String,
    /// Governance files whose working-tree content differs from the committed target's: drafts,
    /// not in force until committed on the target branch.
    pub drafts: Vec<String>,
}

/// The status of `ws`: proposals per state from the workflow room (no-op syntheses, which
/// leave no proposal row, from the synth room) and the audit chain's length.
#[tracing::instrument(name = "workspace.status", skip_all)]
pub fn status(ws: &Workspace) -> Result<Status, crate::Error> {
    let conn = ws.store().conn();
    let mut proposals: BTreeMap<String, u64> = State::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), 0))
        .collect();
    for (state, n) in crate::workflow::rows::count_by_state(conn)? {
        *proposals.entry(state.as_str().to_string()).or_default() += n;
    }
    *proposals
        .entry(State::NoOp.as_str().to_string())
        .or_default() += crate::synth::no_op_count(conn)?;
    Ok(Status {
        workspace: ws.root().display().to_string(),
        db: ws.store().path().display().to_string(),
        proposals,
        audit_events: crate::audit::count(conn)?,
        initialized: ws.root().join(crate::workspace::SETTINGS_PATH).exists(),
        target_branch: ws.target_branch()?,
        drafts: ws.drafts()?,
    })
}
