//! Proposal bundles: types, JSON Schema, dry-run applicability, digest; and the `proposals`
//! table (rows are created and their state changed only through `workflow`).

pub mod types;

pub use types::*;
