//! The policy contracts: what a policy is given (`PolicyInput`), what it must return
//! (`PolicyOutput`) and the recorded `Decision`. JSON Schemas in `docs/schemas/` are generated
//! from these types (`policy-input.schema.json`, `policy-output.schema.json`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Version tag of the input document; bumped on any incompatible change.
pub const INPUT_VERSION: &str = "oxide.policy.input/v1";
/// Version tag of a recorded decision.
pub const DECISION_VERSION: &str = "oxide.policy.decision/v1";
/// The code every fail-closed denial carries.
pub const POLICY_ERROR: &str = "POLICY_ERROR";
/// The `rule` named by fail-closed denials (not a Rego rule: the evaluator itself).
pub const FAIL_CLOSED_RULE: &str = "oxide.fail_closed";

/// Everything a policy may look at, assembled by `policy::input::assemble` from the
/// proposal, skill, validation and binder rooms. `input` in Rego.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PolicyInput {
    /// Always `oxide.policy.input/v1`.
    pub version: String,
    pub proposal: ProposalFacts,
    pub skill: SkillFacts,
    pub provenance: ProvenanceFacts,
    pub validation: ValidationFacts,
    /// Binder capsules relevant to this proposal, with their eligibility.
    pub capsules: Vec<CapsuleFacts>,
    /// The person or agent asking for the decision.
    pub actor: String,
    pub settings: SettingsFacts,
    /// Each touched path's entries on the sensitive-path list (`proposal::paths`), one per
    /// match, sorted by path then list order. Derived facts: the evaluator recomputes them
    /// from `proposal.touched_paths` and `proposal.ops[].path` with this build's list and
    /// replaces whatever a document carries, so a bare input can neither omit nor forge them.
    #[serde(default)]
    pub paths: Vec<PathFact>,
    /// Touched paths that are part of a required check's harness (the files that decide what
    /// the check runs), one per (path, pattern), from the contract committed on the target
    /// branch (`checks::harness`). Absent in bare documents and older inputs: empty.
    #[serde(default)]
    pub harness_paths: Vec<HarnessPathFact>,
    /// Recent proposals of the same skill and the same submitter, so a policy can judge a
    /// change split into several proposals. `null` in a bare document that has none.
    #[serde(default)]
    pub window: Option<WindowFacts>,
}

/// A touched path that belongs to a required check's harness.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct HarnessPathFact {
    pub path: String,
    /// The required check whose harness it is.
    pub check: String,
    pub pattern: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ProposalFacts {
    /// The proposal id, or `null` when a bundle is evaluated before it is stored.
    pub id: Option<String>,
    /// The bundle digest, `sha256:<hex>`.
    pub digest: String,
    /// The proposal's state when the decision was asked for.
    #[schemars(with = "String")]
    pub state: crate::workflow::State,
    /// Why the proposal failed earlier, if it did. Policy never changes it.
    pub failure_reason_code: Option<String>,
    pub ops: Vec<OpFacts>,
    /// Every path an operation touches, sorted, without duplicates.
    pub touched_paths: Vec<String>,
    /// Lines added by the real diff (base tree against the proposal's tree), a line longer
    /// than `size.max_line_bytes` counted as several; the intent's own count when no
    /// repository was at hand (`size` is then `null`).
    pub lines_added: u64,
    pub lines_removed: u64,
    /// The real diff's size facts, per file and in total, with the base tree's totals.
    /// `null` in a bare document that has none.
    #[serde(default)]
    pub size: Option<SizeFacts>,
    /// Risk hints the synthesizer gave (untrusted, informative only).
    pub risk_hints: Vec<String>,
    /// Runtime-memory entries the proposal sets (R-009; `memory_set` ops, which are not in
    /// `ops`), sorted. A memory change is at least medium risk: the evaluator denies a decision
    /// that rates one lower (`MEMORY_RISK_TOO_LOW`). Absent in older inputs: none.
    #[serde(default)]
    pub memory: Vec<MemoryFact>,
}

/// A runtime-memory entry a proposal sets.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct MemoryFact {
    /// `behavior` or `personality`.
    pub namespace: String,
    pub key: String,
}

/// The size of a proposal as git diffs it (`gitops::diffstat`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SizeFacts {
    /// Changed files, sorted by path.
    pub files: Vec<FileSizeFacts>,
    pub lines_added: u64,
    pub lines_removed: u64,
    pub bytes_added: u64,
    pub bytes_removed: u64,
    /// Changed files git detects as binary.
    pub binary_files: u64,
    pub files_deleted: u64,
    /// Files in the base tree (to weigh deletions by the share they remove).
    pub base_files: u64,
    /// Bytes of the files in the base tree.
    pub base_bytes: u64,
    /// A line longer than this counts as `ceil(bytes / max_line_bytes)` lines.
    pub max_line_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum FileChangeKind {
    Added,
    Deleted,
    Modified,
    TypeChanged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct FileSizeFacts {
    pub path: String,
    pub change: FileChangeKind,
    pub lines_added: u64,
    pub lines_removed: u64,
    pub bytes_added: u64,
    pub bytes_removed: u64,
    pub binary: bool,
}

/// The rolling window of recent proposals (other than this one) that can still land:
/// created within `days` days, at most `max_proposals` of them, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct WindowFacts {
    pub days: u32,
    pub max_proposals: u32,
    /// Recent proposals from the same skill.
    pub skill: WindowTotals,
    /// Recent proposals from skills of the same submitter (`null`: submitter unknown).
    pub submitter: Option<WindowTotals>,
}

/// Totals over the proposals of a window, from their real diffs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct WindowTotals {
    /// The skill digest or submitter the window is about.
    pub key: String,
    pub proposals: u64,
    /// Their ids, newest first.
    pub ids: Vec<String>,
    pub lines_added: u64,
    pub lines_removed: u64,
    pub bytes_added: u64,
    pub bytes_removed: u64,
    pub files_deleted: u64,
    /// Every path they touch, sorted, without duplicates.
    pub touched_paths: Vec<String>,
    /// Proposals whose diff could not be computed (e.g. their base is gone): counted, not sized.
    pub not_sized: u64,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum OpKind {
    CreateFile,
    DeleteFile,
    TextEdit,
    JsonPatch,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct OpFacts {
    pub op: OpKind,
    pub path: String,
    /// The intent's own count (informative: size judgements use `proposal.size`).
    pub lines_added: u64,
    pub lines_removed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum SkillSourceFact {
    Host,
    Capsule,
    Manual,
    /// The skill record could not be found (treated by the default policy like any other).
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SkillFacts {
    pub digest: String,
    pub source: SkillSourceFact,
    pub submitted_by: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum SynthesizerKind {
    /// O.X.I.D.E through a live Ollama model.
    Ollama,
    /// O.X.I.D.E answered from its replay store.
    Replay,
    /// Written by a person (e.g. `oxide proposal import`).
    Manual,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ProvenanceFacts {
    pub synthesizer: SynthesizerKind,
    pub model: Option<String>,
    pub model_digest: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum CheckStatus {
    Passed,
    Failed,
    Error,
    TimedOut,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CheckFacts {
    pub name: String,
    pub status: CheckStatus,
    pub required: bool,
    /// The check ran inside the sandbox (false: the committed contract said `sandbox = false`
    /// and proposal code ran on the host). Absent in inputs recorded before this fact existed:
    /// read as false, and the default policy treats a missing fact as unsandboxed.
    #[serde(default)]
    pub sandboxed: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ValidationFacts {
    /// Whether the CI contract ran for this proposal at all.
    pub ran: bool,
    /// The finished validation run these facts come from (`null`: none).
    #[serde(default)]
    pub run_id: Option<String>,
    /// The proposal branch commit that run checked (`null`: none).
    #[serde(default)]
    pub branch_commit: Option<String>,
    /// The proposal branch's commit now (`null`: no branch yet). A run of another commit
    /// validated something else.
    #[serde(default)]
    pub head_commit: Option<String>,
    pub checks: Vec<CheckFacts>,
}

/// Policy reason code when a decision would allow a proposal that has no passed validation
/// of its current branch commit.
pub const NOT_VALIDATED: &str = "NOT_VALIDATED";
/// The evaluator's denial of a decision rating a runtime-memory change below medium.
pub const MEMORY_RISK_TOO_LOW: &str = "MEMORY_RISK_TOO_LOW";

impl ValidationFacts {
    /// Why these facts are not a passed validation of the current branch commit (`None`: they
    /// are). No allow is recorded while this says something, whatever the policy says.
    pub fn not_validated(&self) -> Option<String> {
        let (Some(run), true) = (self.run_id.as_deref(), self.ran) else {
            return Some(
                "the proposal has no finished validation run; run `oxide validate ID` first".into(),
            );
        };
        let Some(checked) = self.branch_commit.as_deref() else {
            return Some(format!(
                "validation run {run} does not name the branch commit it checked; validate again"
            ));
        };
        if self.head_commit.as_deref() != Some(checked) {
            return Some(format!(
                "validation run {run} checked {checked} but the proposal branch is at {}; validate again",
                self.head_commit.as_deref().unwrap_or("no commit")
            ));
        }
        if !self.checks.iter().any(|c| c.required) {
            return Some(format!(
                "validation run {run} had no required check; the contract needs at least one"
            ));
        }
        if let Some(c) = self
            .checks
            .iter()
            .find(|c| c.required && c.status != CheckStatus::Passed)
        {
            return Some(format!(
                "required check '{}' of validation run {run} did not pass",
                c.name
            ));
        }
        None
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CapsuleTarget {
    pub kind: String,
    /// A repository path or a glob (`**` allowed) when `kind` is `path`/`file`.
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CapsuleFacts {
    pub upsert_key: String,
    pub target: CapsuleTarget,
    pub action_kind: String,
    pub failure_reason_code: String,
    pub eligible: bool,
    pub confidence: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum RolloutModeFact {
    Shadow,
    Guided,
    Prescriptive,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SettingsFacts {
    pub target_branch: String,
    /// How binder capsules gate proposals: shadow | guided | prescriptive.
    pub rollout_mode: RolloutModeFact,
    pub fallback_mode: String,
}

/// A touched path matching one entry of the sensitive-path list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PathFact {
    pub path: String,
    pub class: crate::proposal::paths::PathClass,
    /// The entry's glob (matched case-insensitively, at any depth).
    pub pattern: String,
    /// Why the entry is on the list.
    pub reason: String,
}

/// Risk levels, lowest first (the derived order is the escalation order).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Risk {
    Low,
    Medium,
    High,
    Critical,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
            Risk::Critical => "critical",
        }
    }
}

/// Approvals needed: `count` distinct persons; `roles` lists one role per person slot
/// (`approver` = anyone in the trust registry). The signing room counts per distinct person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Required {
    pub count: u32,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Denial {
    pub policy_reason_code: String,
    pub message: String,
    /// The rule that fired, `package.rule`.
    pub rule: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Warning {
    pub code: String,
    pub message: String,
    pub rule: String,
}

/// A rule that raised the risk, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Escalation {
    pub rule: String,
    pub risk: Risk,
    pub message: String,
}

/// What `data.oxide.decision` must evaluate to. Anything else is a policy error (fail closed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PolicyOutput {
    pub risk: Risk,
    pub required: Required,
    pub denials: Vec<Denial>,
    pub warnings: Vec<Warning>,
    pub escalations: Vec<Escalation>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Outcome {
    Allowed,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
        }
    }
}

/// A policy decision as recorded, printed by `policy eval` and replayed by `policy sim`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Decision {
    pub version: String,
    /// The proposal id, or `input:<short digest>` for a bare input document.
    pub subject: String,
    pub input_digest: String,
    /// sha256 over the canonical set of policy files (see `policy::PolicySet`).
    pub policy_digest: String,
    pub outcome: Outcome,
    pub risk: Risk,
    pub required: Required,
    pub denials: Vec<Denial>,
    pub warnings: Vec<Warning>,
    pub escalations: Vec<Escalation>,
    /// `POLICY_ERROR` when any fail-closed denial is present, else the first denial's code.
    pub policy_reason_code: Option<String>,
    /// Carried unchanged from the input: a denial never overwrites it.
    pub failure_reason_code: Option<String>,
}

impl Decision {
    pub fn is_policy_error(&self) -> bool {
        self.policy_reason_code.as_deref() == Some(POLICY_ERROR)
    }
}
