//! What a proposal changes, for reviewers (the desktop Proposal view, `oxide proposal diff`):
//! the diff of its result tree against its base tree, computed by git
//! ([`crate::gitops::review_diff`]). This module only maps the room's errors.

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
