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
    #[serde(default)]
    pub approvals: ApprovalSettings,
    #[serde(default)]
    pub rollout: RolloutSettings,
}

/// `[rollout]`: promotion rules that are the repository's to choose (committed governance).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RolloutSettings {
    /// When the target branch moved after the review and the proposal's own diff is
    /// byte-identical on the new head (Gerrit's `changekind:TRIVIAL_REBASE`), `promote`
    /// re-validates it there and keeps its approvals. Off by default: the proposal is then
    /// superseded and needs a new review (docs/promotion.md).
    #[serde(default)]
    pub trivial_rebase_keeps_approvals: bool,
}

/// `[approvals]`: how long a signed approval stays valid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSettings {
    /// Hours from signing until an approval expires (default 168, one week; fractions allowed).
    #[serde(default = "default_lifetime_hours")]
    pub lifetime_hours: f64,
}

/// One week.
pub const DEFAULT_APPROVAL_LIFETIME_HOURS: f64 = 168.0;

fn default_lifetime_hours() -> f64 {
    DEFAULT_APPROVAL_LIFETIME_HOURS
}

impl Default for ApprovalSettings {
    fn default() -> Self {
        ApprovalSettings {
            lifetime_hours: DEFAULT_APPROVAL_LIFETIME_HOURS,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSettings {
    #[serde(default = "default_branch")]
    pub target_branch: String,
    /// Who commits proposal branches (gitops room).
    #[serde(default = "default_bot_name")]
    pub bot_name: String,
    #[serde(default = "default_bot_email")]
    pub bot_email: String,
}

fn default_bot_name() -> String {
    "O.X.I.D.E".into()
}

fn default_bot_email() -> String {
    "oxide-bot@oxide.invalid".into()
}

impl Default for WorkflowSettings {
    fn default() -> Self {
        WorkflowSettings {
            target_branch: default_branch(),
            bot_name: default_bot_name(),
            bot_email: default_bot_email(),
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinderSettings {
    #[serde(default)]
    pub rollout_mode: RolloutMode,
    #[serde(default)]
    pub fallback_mode: FallbackMode,
    /// Prescriptive eligibility: lowest confidence (see docs/binder.md for the formula).
    #[serde(default = "default_min_confidence")]
    pub min_confidence: f64,
    /// Prescriptive eligibility: fewest supporting envelopes.
    #[serde(default = "default_min_support")]
    pub min_support: u32,
    /// Prescriptive eligibility: most days since the capsule was last seen.
    #[serde(default = "default_staleness_days")]
    pub staleness_days: u32,
}

impl Default for BinderSettings {
    fn default() -> Self {
        BinderSettings {
            rollout_mode: RolloutMode::default(),
            fallback_mode: FallbackMode::default(),
            min_confidence: default_min_confidence(),
            min_support: default_min_support(),
            staleness_days: default_staleness_days(),
        }
    }
}

fn default_min_confidence() -> f64 {
    0.7
}

fn default_min_support() -> u32 {
    3
}

fn default_staleness_days() -> u32 {
    30
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
