//! The proposal bundle and its intent — the contract between O.X.I.D.E, the gates and git.
//! JSON Schemas are generated from these types (`docs/schemas/proposal.schema.json`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const BUNDLE_SCHEMA_VERSION: &str = "oxide.proposal/v1";

/// What the model must return, and the bundle's `intent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Intent {
    pub rationale: String,
    #[serde(default)]
    pub risk_hints: Vec<String>,
    pub ops: Vec<Op>,
}

/// One intent operation. Paths are repository-relative, `/`-separated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Op {
    /// Create a file that does not exist yet.
    CreateFile { path: String, content: String },
    /// Delete an existing file.
    DeleteFile { path: String },
    /// Replace the one exact occurrence of `find` with `replace`.
    TextEdit {
        path: String,
        find: String,
        replace: String,
    },
    /// Apply RFC 6902 operations to a JSON file.
    JsonPatch {
        path: String,
        #[cfg_attr(feature = "ts", ts(type = "Array<Record<string, unknown>>"))]
        patch: Vec<Value>,
    },
    /// Set a runtime-memory entry instead of a file: promotion writes it as a new
    /// version naming the proposal, a rollback restores the version before. `value` is any
    /// JSON; `null` clears the key. At least medium risk.
    MemorySet {
        namespace: MemoryNamespace,
        /// 1-200 characters.
        key: String,
        #[cfg_attr(feature = "ts", ts(type = "unknown"))]
        value: Value,
    },
}

/// The runtime-memory namespaces a proposal may change.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum MemoryNamespace {
    Behavior,
    Personality,
}

impl MemoryNamespace {
    pub fn as_str(self) -> &'static str {
        match self {
            MemoryNamespace::Behavior => "behavior",
            MemoryNamespace::Personality => "personality",
        }
    }
}

impl Op {
    /// The repository file the op changes; `None` for a runtime-memory op.
    pub fn path(&self) -> Option<&str> {
        match self {
            Op::CreateFile { path, .. }
            | Op::DeleteFile { path }
            | Op::TextEdit { path, .. }
            | Op::JsonPatch { path, .. } => Some(path),
            Op::MemorySet { .. } => None,
        }
    }
}

/// Where the change starts from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Base {
    pub branch: String,
    /// Full hex object id of the base commit.
    pub commit: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Synthesizer {
    Ollama,
    Replay,
    Manual,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SynthOptions {
    pub seed: i64,
    pub temperature: f64,
    pub num_ctx: u32,
}

/// How the intent came to be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Provenance {
    pub synthesizer: Synthesizer,
    pub model: Option<String>,
    pub model_digest: Option<String>,
    pub options: Option<SynthOptions>,
    pub prompt_template_version: Option<String>,
    pub prompt_sha256: Option<String>,
    pub response_sha256: Option<String>,
}

/// The immutable proposal bundle. Its digest is sha256 of its RFC 8785 form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Bundle {
    pub schema_version: String,
    pub skill_digest: String,
    pub base: Base,
    pub intent: Intent,
    pub provenance: Provenance,
    pub created_at: String,
    /// The bundle this one supersedes (re-synthesis), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<String>,
}

impl Bundle {
    pub fn digest(&self) -> Result<String, crate::canon::CanonError> {
        crate::canon::digest(self)
    }
}
