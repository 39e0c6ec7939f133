//! Proposal bundles: types, JSON Schema, dry-run applicability over a `BaseFiles` reader (a
//! map, or a git tree through `TreeFiles`), digest. Pure values and git reads; no
//! tables (a bundle becomes a stored proposal in `workflow`, which owns `proposals`).

pub mod apply;
pub mod paths;
pub mod schema;
pub mod tree;
pub mod types;
pub mod validate;

pub use apply::{apply_ops, BaseFiles, Change, FileChanges, MapBase, Problem};
pub use tree::TreeFiles;
pub use types::*;
pub use validate::{validate_document, validate_file, ProposalError, ValidationReport};

/// A manual bundle of `ops` on `base` (a commit of `main`) with a fixed skill digest and
/// creation time: the fixture the rooms above `proposal` build their tests on.
#[cfg(test)]
pub(crate) fn manual_bundle(base: &str, rationale: &str, ops: Vec<Op>) -> Bundle {
    Bundle {
        schema_version: BUNDLE_SCHEMA_VERSION.into(),
        skill_digest: crate::canon::sha256_bytes(b"skill"),
        base: Base {
            branch: "main".into(),
            commit: base.into(),
        },
        intent: Intent {
            rationale: rationale.into(),
            risk_hints: vec![],
            ops,
        },
        provenance: Provenance {
            synthesizer: Synthesizer::Manual,
            model: None,
            model_digest: None,
            options: None,
            prompt_template_version: None,
            prompt_sha256: None,
            response_sha256: None,
        },
        created_at: "2026-11-21T05:00:00.000Z".into(),
        supersedes: None,
    }
}
