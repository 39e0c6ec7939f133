//! Proposal bundles: types, JSON Schema, dry-run applicability, digest; and the `proposals`
//! table (rows are created and their state changed only through `workflow`).

pub mod apply;
pub mod diff;
pub mod paths;
pub mod rows;
pub mod schema;
pub mod types;
pub mod validate;

pub use apply::{apply_ops, BaseFiles, Change, FileChanges, MapBase, Problem};
pub use rows::ProposalRow;
pub use types::*;
pub use validate::{validate_file, ProposalError, ValidationReport};
