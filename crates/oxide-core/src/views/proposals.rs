//! The proposal list, one proposal's view (row, branch, latest checks, guard records) and a
//! proposal with its diff.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::checks::validate::StoredCheck;
use crate::gitops::BranchInfo;
use crate::proposal::diff::{diff_in_repo, DiffView};
use crate::proposal::{Bundle, Synthesizer};
use crate::workflow::{self, GuardRecord, ProposalRow, State};

/// A proposal in a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ProposalSummary {
    pub id: String,
    pub digest: String,
    pub state: State,
    pub rationale: String,
    pub synthesizer: Synthesizer,
    pub base_branch: String,
    pub failure_reason_code: Option<String>,
    pub policy_reason_code: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// Proposals, newest first, optionally only those in `state` (shells parse the word with
/// `workflow::parse_state`).
pub fn list(
    conn: &Connection,
    state: Option<State>,
) -> Result<Vec<ProposalSummary>, workflow::WorkflowError> {
    Ok(workflow::rows::list(conn, state)?
        .into_iter()
        .map(|r| ProposalSummary {
            rationale: r
                .bundle
                .intent
                .rationale
                .lines()
                .next()
                .unwrap_or("")
                .to_string(),
            synthesizer: r.bundle.provenance.synthesizer,
            base_branch: r.bundle.base.branch.clone(),
            id: r.id,
            digest: r.digest,
            state: r.state,
            failure_reason_code: r.failure_reason_code,
            policy_reason_code: r.policy_reason_code,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect())
}

/// Everything about one proposal: the row and bundle, its branch, the latest validation's
/// checks and its guard records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ProposalView {
    pub id: String,
    pub digest: String,
    pub state: State,
    pub bundle: Bundle,
    pub failure_reason_code: Option<String>,
    pub policy_reason_code: Option<String>,
    pub superseded_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub branch: Option<BranchInfo>,
    pub checks: Vec<StoredCheck>,
    pub transitions: Vec<GuardRecord>,
}

/// One proposal (by id or digest) with its branch, latest checks and guard records.
pub fn view(conn: &Connection, id: &str) -> Result<ProposalView, crate::Error> {
    let row = workflow::require(conn, id)?;
    let branch = crate::gitops::stored_branch(conn, &row.id)?;
    let checks = crate::checks::validate::latest_results(conn, &row.id)?;
    let transitions = workflow::history(conn, &row.id)?;
    Ok(ProposalView {
        id: row.id,
        digest: row.digest,
        state: row.state,
        bundle: row.bundle,
        failure_reason_code: row.failure_reason_code,
        policy_reason_code: row.policy_reason_code,
        superseded_by: row.superseded_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
        branch,
        checks,
        transitions,
    })
}

/// A proposal with what it changes: the desktop Proposal view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ProposalDetail {
    pub proposal: ProposalRow,
    pub diff: DiffView,
}

/// A proposal (by id or digest) and its diff against its base commit.
#[tracing::instrument(name = "proposal.detail", skip_all)]
pub fn detail(ws: &crate::Workspace, id: &str) -> Result<ProposalDetail, crate::Error> {
    let row = workflow::rows::get(ws.store().conn(), id)?
        .ok_or_else(|| crate::proposal::ProposalError::NotFound(id.to_string()))?;
    let diff = diff_in_repo(ws.root(), &row.id, &row.bundle)?;
    Ok(ProposalDetail {
        proposal: row,
        diff,
    })
}

/// A proposal's (by id or digest) review diff: `oxide proposal diff ID`.
#[tracing::instrument(name = "proposal.review_diff", skip_all)]
pub fn diff(ws: &crate::Workspace, id: &str) -> Result<DiffView, crate::Error> {
    let row = workflow::rows::get(ws.store().conn(), id)?
        .ok_or_else(|| crate::proposal::ProposalError::NotFound(id.to_string()))?;
    Ok(diff_in_repo(ws.root(), &row.id, &row.bundle)?)
}
