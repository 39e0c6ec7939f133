//! Proposal bundles: types, JSON Schema, dry-run applicability, digest; and the `proposals`

pub mod apply;
pub mod types;

pub use apply::{apply_ops, BaseFiles, Change, FileChanges, MapBase, Problem};
pub use types::*;
