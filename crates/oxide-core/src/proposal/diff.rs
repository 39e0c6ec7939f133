//! What a proposal changes, for reviewers (the desktop Proposal view, `oxide proposal diff`):
//! the diff of its result tree against its base tree, computed by git
//! ([`crate::gitops::review_diff`]). This module only finds the proposal and maps errors.

use serde::{Deserialize, Serialize};

pub use crate::gitops::review_diff::{
    DiffLine, DiffView, FileChange, FileDiff, Hunk, LineFlag, LineKind, Span, CONTEXT_LINES,
};

/// The review diff of `bundle` (proposal `proposal_id`) in the repository at `repo_root`.
pub fn diff_in_repo(
    repo_root: &std::path::Path,
    proposal_id: &str,
    bundle: &super::Bundle,
) -> Result<DiffView, super::ProposalError> {
    crate::gitops::review_diff::review_diff(repo_root, proposal_id, bundle).map_err(|e| {
        super::ProposalError::Repo {
            path: repo_root.display().to_string(),
            why: e.to_string(),
        }
    })
}

/// A proposal with what it changes: the desktop Proposal view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ProposalDetail {
    pub proposal: super::ProposalRow,
    pub diff: DiffView,
}

fn row(ws: &crate::Workspace, id: &str) -> Result<super::ProposalRow, super::ProposalError> {
    super::rows::get(ws.store().conn(), id)
        .map_err(crate::store::StoreError::from)?
        .ok_or_else(|| super::ProposalError::NotFound(id.to_string()))
}

/// A proposal's (by id or digest) review diff: `oxide proposal diff ID`.
#[tracing::instrument(name = "proposal.review_diff", skip_all)]
pub fn review(ws: &crate::Workspace, id: &str) -> Result<DiffView, super::ProposalError> {
    let row = row(ws, id)?;
    diff_in_repo(ws.root(), &row.id, &row.bundle)
}

/// A proposal (by id or digest) and its review diff.
#[tracing::instrument(name = "proposal.detail", skip_all)]
pub fn detail(ws: &crate::Workspace, id: &str) -> Result<ProposalDetail, super::ProposalError> {
    let row = row(ws, id)?;
    let diff = diff_in_repo(ws.root(), &row.id, &row.bundle)?;
    Ok(ProposalDetail {
        proposal: row,
        diff,
    })
}
