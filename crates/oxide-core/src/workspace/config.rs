//! Typed `.oxide/oxide.toml`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub workflow: WorkflowSettings,
    #[serde(default)]
    pub binder: BinderSettings,
    #[serde(default)]
    pub synth: SynthSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSettings {
    #[serde(default = "default_branch")]
    pub target_branch: String,
}

impl Default for WorkflowSettings {
    fn default() -> Self {
        WorkflowSettings {
            target_branch: default_branch(),
        }
    }
}

fn default_branch() -> String {
    "main".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum RolloutMode {
    #[default]
    Shadow,
    Guided,
    Prescriptive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum FallbackMode {
    #[default]
    Strict,
    Hybrid,
    Lenient,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BinderSettings {
    #[serde(default)]
    pub rollout_mode: RolloutMode,
    #[serde(default)]
    pub fallback_mode: FallbackMode,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynthSettings {
    pub model: String,
    #[serde(default)]
    pub model_digest: String,
    pub seed: i64,
    pub num_ctx: u32,
    pub timeout_s: u64,
    /// Answer synthesis requests from the replay store only (REC-003).
    #[serde(default)]
    pub replay: bool,
}

impl Default for SynthSettings {
    fn default() -> Self {
        SynthSettings {
            model: "llama3.2:latest".into(),
            model_digest: String::new(),
            seed: 42,
            num_ctx: 8192,
            timeout_s: 120,
            replay: false,
        }
    }
}
