//! Governance changes from the app: a maintainer edits the policy (`.oxide/policy/*.rego`),
//! the CI contract (`.oxide/checks.toml`), the settings (`.oxide/oxide.toml`) or the trust
//! registry (`.oxide/approvers.toml`); the edit is validated ([`check`]), previewed against
//! the recorded decisions with the policy simulator, and submitted as a MANUAL proposal: a
//! bundle built on the committed target tip, imported through `workflow::import_bundle` (the
//! same gates as `oxide proposal import`) and evaluated by the policy in force, which makes
//! it a critical governance change needing its approvals like any other.
//!
//! Nothing here writes the working tree, commits, or edits the committed governance: the only
//! writes are the proposal (admission + its audit event) and its policy decision, and only
//! after every check passed. An orchestrator above `policy`, `checks`, `workspace` and
//! `workflow`; it owns no table.

pub mod check;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::policy::{self, Required, Risk, SimDecision};
use crate::proposal::{Base, Bundle, Intent, Op, Provenance, Synthesizer, BUNDLE_SCHEMA_VERSION};
use crate::workflow::State;
use crate::{canon, Error, Workspace};

pub use check::{check_edits, FileCheck, GovernProblem};

/// Largest edited file accepted (the policy engine's own per-file limit).
pub const MAX_EDIT_BYTES: usize = policy::engine::MAX_FILE_BYTES;
/// At most this many flipped decisions are carried in a preview (the count is always exact).
pub const MAX_FLIPS_SHOWN: usize = 200;

/// Which governance file an edit is about; decides how it is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum GovernKind {
    /// A Rego file of the policy (`.oxide/policy/**/*.rego`).
    Policy,
    /// The CI contract, `.oxide/checks.toml`.
    Checks,
    /// The workspace settings, `.oxide/oxide.toml`.
    Settings,
    /// The trust registry, `.oxide/approvers.toml`.
    Registry,
}

/// The fixed governance files editable from the app (policy files are any `*.rego` under
/// `.oxide/policy/`).
pub const FIXED_FILES: &[(&str, GovernKind)] = &[
    (crate::workspace::SETTINGS_PATH, GovernKind::Settings),
    (crate::checks::CHECKS_PATH, GovernKind::Checks),
    (REGISTRY_PATH, GovernKind::Registry),
];
/// The trust registry's path (the signing room reads it from the committed target tip).
pub const REGISTRY_PATH: &str = ".oxide/approvers.toml";

/// Errors of the governance editor. Validation findings are not errors: they are
/// [`GovernProblem`]s in a preview; submitting an edit that has any is `GOVERN_INVALID`.
#[derive(Debug, thiserror::Error)]
pub enum GovernError {
    #[error("`{path}` is not a governance file the app edits; edit .oxide/oxide.toml, .oxide/checks.toml, .oxide/approvers.toml or a .rego file under .oxide/policy/")]
    Path { path: String },
    #[error("`{path}` is edited twice in one change; send each file once")]
    DuplicatePath { path: String },
    #[error("`{path}` is {len} bytes; at most {MAX_EDIT_BYTES} are accepted")]
    TooLarge { path: String, len: usize },
    #[error("the edit changes nothing: every file is the same as committed on `{branch}`")]
    NoChange { branch: String },
    #[error("say why the governance should change (the proposal's rationale is empty)")]
    NoRationale,
    #[error("the target branch `{branch}` has no commit: commit the governance on it before proposing a change to it")]
    NoTarget { branch: String },
    #[error("the edit does not validate, so nothing was submitted: {summary}")]
    Invalid { summary: String },
    #[error("the proposal was refused at import, nothing was written: {summary}")]
    Refused { summary: String },
    #[error("cannot read the repository: {0}")]
    Git(String),
}

impl GovernError {
    pub fn code(&self) -> &'static str {
        match self {
            GovernError::Path { .. } => "GOVERN_PATH",
            GovernError::DuplicatePath { .. } => "GOVERN_DUPLICATE_PATH",
            GovernError::TooLarge { .. } => "GOVERN_TOO_LARGE",
            GovernError::NoChange { .. } => "GOVERN_NO_CHANGE",
            GovernError::NoRationale => "GOVERN_NO_RATIONALE",
            GovernError::NoTarget { .. } => "GOVERN_NO_TARGET",
            GovernError::Invalid { .. } => "GOVERN_INVALID",
            GovernError::Refused { .. } => "GOVERN_REFUSED",
            GovernError::Git(_) => "GOVERN_GIT",
        }
    }

    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            GovernError::Refused { .. } => crate::ErrorKind::Refused,
            GovernError::Git(_) => crate::ErrorKind::Internal,
            _ => crate::ErrorKind::Invalid,
        }
    }
}

/// One governance file as committed on the target branch's tip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct GovernFile {
    pub path: String,
    pub kind: GovernKind,
    /// The committed text; `None` when the file is not committed there (an edit creates it).
    pub text: Option<String>,
}

/// What the governance editor opens with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct GovernFiles {
    pub target_branch: String,
    /// The committed tip the files were read at (`None`: the branch has no commit yet).
    pub base_commit: Option<String>,
    pub files: Vec<GovernFile>,
}

/// One edited file: its path and its whole new text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct GovernEdit {
    pub path: String,
    pub text: String,
}

/// The simulator's answer for an edited policy: recorded decisions replayed through it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct GovernSim {
    pub policy_digest: String,
    /// Recorded decisions replayed.
    pub total: u64,
    /// How many would change.
    pub changed: u64,
    /// The changed ones, oldest first, at most [`MAX_FLIPS_SHOWN`].
    pub flips: Vec<SimDecision>,
}

/// Validation and simulation of an edit, before anything is submitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct GovernPreview {
    /// Every changed file validates (and the edit changes something).
    pub ok: bool,
    pub target_branch: String,
    pub base_commit: Option<String>,
    /// One entry per edited file, in path order.
    pub files: Vec<FileCheck>,
    /// The paths whose text differs from the committed one.
    pub changed: Vec<String>,
    /// `policy test` over the edited policy (when a policy file changed).
    pub policy_tests: Option<policy::TestReport>,
    /// The simulator over the recorded decisions (when a policy file changed and it loads).
    pub sim: Option<GovernSim>,
}

/// A submitted governance change: the manual proposal and the decision of the policy in
/// force about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct GovernSubmitted {
    pub id: String,
    pub digest: String,
    pub state: State,
    pub decision_id: i64,
    pub risk: Risk,
    pub required: Required,
    /// The role slots still to be filled by approvals: at submission nobody has approved, so
    /// every slot of `required` (the signing room's tally fills them as approvals arrive).
    pub waiting_for: Vec<String>,
    /// Why the policy in force rated it so (escalation rules that fired, with messages).
    pub escalations: Vec<String>,
    pub preview: GovernPreview,
}

/// The kind of an editable path, or `GOVERN_PATH`.
pub fn kind_of(path: &str) -> Result<GovernKind, GovernError> {
    if let Some((_, k)) = FIXED_FILES.iter().find(|(p, _)| *p == path) {
        return Ok(*k);
    }
    let bad = || GovernError::Path {
        path: path.to_string(),
    };
    let rel = path
        .strip_prefix(policy::POLICY_DIR)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(bad)?;
    let clean = rel.ends_with(".rego")
        && rel.split('/').all(|c| {
            !c.is_empty()
                && c != "."
                && c != ".."
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        });
    if !clean {
        return Err(bad());
    }
    Ok(GovernKind::Policy)
}

fn git_err(e: git2::Error) -> GovernError {
    GovernError::Git(e.message().to_string())
}

/// The target branch's tip commit (`None`: no such branch or no commit yet).
fn target_tip(ws: &Workspace) -> Result<Option<String>, Error> {
    let branch = ws.target_branch()?;
    let repo = git2::Repository::open(ws.root()).map_err(git_err)?;
    let tip = repo
        .find_branch(&branch, git2::BranchType::Local)
        .ok()
        .and_then(|b| b.get().peel_to_commit().ok())
        .map(|c| c.id().to_string());
    Ok(tip)
}

/// The committed editable governance files: every policy `*.rego` and the three fixed files
/// (absent ones with `text: None`), read from the target branch's tip. Reads only.
pub fn files(ws: &Workspace) -> Result<GovernFiles, Error> {
    let committed = committed_texts(ws)?;
    let mut files: Vec<GovernFile> = committed
        .iter()
        .filter(|(p, _)| matches!(kind_of(p), Ok(GovernKind::Policy)))
        .map(|(p, t)| GovernFile {
            path: p.clone(),
            kind: GovernKind::Policy,
            text: Some(t.clone()),
        })
        .collect();
    for (path, kind) in FIXED_FILES {
        files.push(GovernFile {
            path: path.to_string(),
            kind: *kind,
            text: committed.get(*path).cloned(),
        });
    }
    Ok(GovernFiles {
        target_branch: ws.target_branch()?,
        base_commit: target_tip(ws)?,
        files,
    })
}

/// The committed governance files as text (non-UTF-8 files are shown lossily; an edit of
/// one replaces it whole).
fn committed_texts(ws: &Workspace) -> Result<BTreeMap<String, String>, Error> {
    Ok(ws
        .committed_governance()?
        .into_iter()
        .map(|(p, b)| (p, String::from_utf8_lossy(&b).into_owned()))
        .collect())
}

/// Validates `edits` against the committed governance and previews an edited policy with the
/// simulator over every recorded decision. Reads only. Refuses (as an error) paths that are
/// not editable governance files, the same path twice and oversized files; validation
/// findings are problems in the answer.
#[tracing::instrument(name = "govern.preview", skip_all, fields(edits = edits.len()))]
pub fn preview(ws: &Workspace, edits: &[GovernEdit]) -> Result<GovernPreview, Error> {
    let committed = committed_texts(ws)?;
    let mut seen = std::collections::BTreeSet::new();
    for e in edits {
        kind_of(&e.path)?;
        if !seen.insert(e.path.as_str()) {
            return Err(GovernError::DuplicatePath {
                path: e.path.clone(),
            }
            .into());
        }
        if e.text.len() > MAX_EDIT_BYTES {
            return Err(GovernError::TooLarge {
                path: e.path.clone(),
                len: e.text.len(),
            }
            .into());
        }
    }
    let checked = check_edits(&committed, edits);
    let sim = match &checked.policy {
        Some(p) if p.load_error().is_none() => {
            let entries = policy::recorded_entries(ws.store().conn())?;
            let report = policy::simulate(p, &entries);
            Some(GovernSim {
                policy_digest: report.policy_digest,
                total: report.decisions.len() as u64,
                changed: report.changed,
                flips: report
                    .decisions
                    .into_iter()
                    .filter(|d| d.changed)
                    .take(MAX_FLIPS_SHOWN)
                    .collect(),
            })
        }
        _ => None,
    };
    let ok = !checked.changed.is_empty() && checked.files.iter().all(|f| f.ok);
    Ok(GovernPreview {
        ok,
        target_branch: ws.target_branch()?,
        base_commit: target_tip(ws)?,
        files: checked.files,
        changed: checked.changed,
        policy_tests: checked.tests,
        sim,
    })
}

/// Submits `edits` as a manual proposal: validated first (an edit with any problem is
/// `GOVERN_INVALID` and writes nothing), then a bundle on the committed target tip replacing
/// each changed file whole, imported through `workflow::import_bundle` and evaluated by the
/// policy in force (`policy::eval_proposal`), which rates a governance change critical.
#[tracing::instrument(name = "govern.submit", skip_all, fields(edits = edits.len()))]
pub fn submit(
    ws: &mut Workspace,
    edits: &[GovernEdit],
    rationale: &str,
    actor: &str,
) -> Result<GovernSubmitted, Error> {
    let rationale = rationale.trim();
    if rationale.is_empty() {
        return Err(GovernError::NoRationale.into());
    }
    let preview = preview(ws, edits)?;
    let branch = preview.target_branch.clone();
    if preview.changed.is_empty() {
        return Err(GovernError::NoChange { branch }.into());
    }
    if !preview.ok {
        return Err(GovernError::Invalid {
            summary: summarize(&preview),
        }
        .into());
    }
    let base = preview.base_commit.clone().ok_or(GovernError::NoTarget {
        branch: branch.clone(),
    })?;
    let committed = committed_texts(ws)?;
    let changed: BTreeMap<&str, &str> = edits
        .iter()
        .filter(|e| preview.changed.contains(&e.path))
        .map(|e| (e.path.as_str(), e.text.as_str()))
        .collect();
    let mut ops = Vec::with_capacity(changed.len());
    for (path, text) in &changed {
        ops.push(match committed.get(*path) {
            // The whole committed text occurs exactly once in itself: one exact replacement.
            Some(old) if !old.is_empty() => Op::TextEdit {
                path: path.to_string(),
                find: old.clone(),
                replace: text.to_string(),
            },
            // An empty file cannot be matched by a text edit, and replacing it would need a
            // delete and a create of one path, which one intent cannot hold.
            Some(_) => {
                return Err(GovernError::Invalid {
                    summary: format!("{path} is committed empty, so it cannot be edited from the app; commit content to it first"),
                }
                .into())
            }
            None => Op::CreateFile {
                path: path.to_string(),
                content: text.to_string(),
            },
        });
    }
    let bundle = Bundle {
        schema_version: BUNDLE_SCHEMA_VERSION.into(),
        // No skill asked for this: the digest names the edited files and their new text.
        skill_digest: canon::digest(&serde_json::json!({ "governance_edit": changed }))?,
        base: Base {
            branch: branch.clone(),
            commit: base,
        },
        intent: Intent {
            rationale: rationale.to_string(),
            risk_hints: vec![format!("governance change: {}", preview.changed.join(", "))],
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
        created_at: ws.clock().now_rfc3339(),
        supersedes: None,
    };
    let imported = crate::workflow::import_bundle(ws, &bundle, actor)?;
    let (Some(id), Some(digest), true) = (imported.id, imported.digest, imported.ok) else {
        let summary = imported
            .problems
            .iter()
            .map(|p| format!("{} {}: {}", p.code, p.pointer, p.message))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(GovernError::Refused { summary }.into());
    };
    let eval = policy::eval_proposal(ws, &id, actor)?;
    let d = &eval.recorded.decision;
    Ok(GovernSubmitted {
        id,
        digest,
        state: eval.state,
        decision_id: eval.recorded.decision_id,
        risk: d.risk,
        required: d.required.clone(),
        waiting_for: d.required.roles.clone(),
        escalations: d
            .escalations
            .iter()
            .map(|e| format!("{} → {}: {}", e.rule, e.risk.as_str(), e.message))
            .collect(),
        preview,
    })
}

/// The problems of a preview, one line each (for `GOVERN_INVALID`).
fn summarize(p: &GovernPreview) -> String {
    let mut out: Vec<String> = p
        .files
        .iter()
        .flat_map(|f| f.problems.iter())
        .map(|x| match x.line {
            Some(l) => format!("{} line {l}: {} ({})", x.path, x.message, x.code),
            None => format!("{}: {} ({})", x.path, x.message, x.code),
        })
        .collect();
    if out.is_empty() {
        out.push("no file changed".into());
    }
    out.join("; ")
}

#[cfg(test)]
mod tests;
