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
pub use validate::{validate_file, ProposalError, ValidationReport};
