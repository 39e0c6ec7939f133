//! A decision in a workspace: the input assembled from the other rooms (proposal row,
//! settings, validation results, capsules), evaluated with the workspace policy, recorded;
//! a denial moves the proposal through `workflow` when the transition table allows it. Also a
//! bare input document's decision, and the warning when the deciding policy is not the one
//! committed on the target branch.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::*;
use crate::canon;

/// Reads a bare input document (`policy eval --input FILE`).
pub fn read_input_file(path: &Path) -> Result<Value, PolicyError> {
    let text = fs::read_to_string(path).map_err(|e| PolicyError::Read {
        path: path.display().to_string(),
        why: e.to_string(),
    })?;
    let v: Value = serde_json::from_str(&text).map_err(|e| PolicyError::BadInput {
        path: path.display().to_string(),
        why: e.to_string(),
    })?;
    if !v.is_object() {
        return Err(PolicyError::BadInput {
            path: path.display().to_string(),
            why: "the document must be a JSON object".into(),
        });
    }
    Ok(v)
}

/// The subject of a bare input document's decision.
pub fn input_subject(input: &Value) -> Result<String, PolicyError> {
    Ok(format!("input:{}", canon::short_id(&canon::digest(input)?)))
}

/// The policy folder of a workspace, or `dir` when given.
pub fn policy_dir(ws: &crate::Workspace, dir: Option<&Path>) -> PathBuf {
    match dir {
        Some(d) => d.to_path_buf(),
        None => ws.root().join(POLICY_DIR),
    }
}

/// Evaluates `input` with the workspace policy and records the decision (one transaction:
/// the row and its audit event). `proposal_id` is `None` for a bare input document.
#[tracing::instrument(name = "policy.decide", skip_all)]
pub fn decide(
    ws: &mut crate::Workspace,
    proposal_id: Option<&str>,
    input: &Value,
    actor: &str,
) -> Result<RecordedDecision, crate::Error> {
    let policy = PolicySet::load(&policy_dir(ws, None))?;
    let subject = match proposal_id {
        Some(id) => id.to_string(),
        None => input_subject(input)?,
    };
    let decision = with_warning(
        policy.evaluate(&subject, input),
        provenance_warning(ws, &policy),
    );
    let ts = ws.clock().now_rfc3339();
    ws.store_mut()
        .write(|tx| -> Result<RecordedDecision, crate::Error> {
            Ok(record(tx, proposal_id, input, &decision, actor, &ts)?)
        })
}

/// `policy eval ID`: the decision and the proposal's state after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ProposalEval {
    #[serde(flatten)]
    pub recorded: RecordedDecision,
    /// The proposal's state after the decision (`denied` when a denial applied to it).
    pub state: crate::workflow::State,
    /// The input the policy saw (what `policy sim` replays).
    #[cfg_attr(feature = "ts", ts(as = "PolicyInput"))]
    pub input: Value,
}

/// Line counts of files at the base commit (for deletions), read through gitops.
fn base_line_counter(root: &Path, commit: &str) -> impl Fn(&str) -> Option<u64> {
    let read = crate::gitops::blob_reader(root, commit);
    move |path: &str| Some(input::count_lines(&String::from_utf8_lossy(&read(path)?)))
}

/// The input document for a stored proposal, from the proposal row, its bundle, the
/// workspace settings and the validation results and capsules handed in.
pub fn proposal_input(
    ws: &crate::Workspace,
    row: &crate::workflow::ProposalRow,
    validation: ValidationFacts,
    capsules: Vec<CapsuleFacts>,
    actor: &str,
) -> Result<PolicyInput, crate::Error> {
    let settings = ws.settings()?;
    let lines = base_line_counter(ws.root(), &row.bundle.base.commit);
    let stored = crate::skill::get(
        ws.store().conn(),
        row.skill_id.as_deref().unwrap_or(&row.bundle.skill_digest),
    )?;
    let skill = SkillFacts {
        digest: row.bundle.skill_digest.clone(),
        source: match stored.as_ref().map(|s| s.source) {
            Some(crate::skill::SkillSource::Host) => SkillSource::Host,
            Some(crate::skill::SkillSource::Capsule) => SkillSource::Capsule,
            Some(crate::skill::SkillSource::Manual) => SkillSource::Manual,
            None => SkillSource::Unknown,
        },
        submitted_by: stored.map(|s| s.submitted_by),
    };
    let mut assembled = input::assemble(
        &row.bundle,
        &row.digest,
        &input::ProposalMeta {
            id: Some(row.id.clone()),
            state: row.state,
            failure_reason_code: row.failure_reason_code.clone(),
        },
        &lines,
        skill,
        validation,
        capsules,
        actor,
        &settings,
    );
    // Size from the real diff and the window of recent proposals (issue 11, item 7).
    input::add_repo_facts(ws, row, &mut assembled)?;
    Ok(assembled)
}

/// `policy eval ID`: assembles the input from the other rooms, evaluates it with the
/// workspace policy and records the decision; when it is a denial and the transition table
/// lets the proposal be denied, the proposal is denied (workflow guard) in the same
/// transaction, with `policy_reason_code` set and `failure_reason_code` untouched.
#[tracing::instrument(name = "policy.eval_proposal", skip_all)]
pub fn eval_proposal(
    ws: &mut crate::Workspace,
    id: &str,
    actor: &str,
) -> Result<ProposalEval, crate::Error> {
    let row = crate::workflow::rows::get(ws.store().conn(), id)?
        .ok_or_else(|| PolicyError::UnknownProposal(id.to_string()))?;
    let validation = validation_facts(ws, &row.id)?;
    let capsules = capsule_facts(ws, &row)?;
    let input = serde_json::to_value(proposal_input(ws, &row, validation, capsules, actor)?)
        .map_err(|e| PolicyError::Canon(canon::CanonError::Canonicalize(e.to_string())))?;
    let policy = PolicySet::load(&policy_dir(ws, None))?;
    let decision = with_warning(
        policy.evaluate(&row.id, &input),
        provenance_warning(ws, &policy),
    );
    let ts = ws.clock().now_rfc3339();
    let row_id = row.id.clone();
    let (recorded, state) = ws.store_mut().write(|tx| -> Result<_, crate::Error> {
        let recorded = record(tx, Some(&row_id), &input, &decision, actor, &ts)?;
        let mut state = row.state;
        if decision.outcome == Outcome::Denied
            && crate::workflow::can(state, crate::workflow::Transition::Deny)
        {
            let code = decision
                .policy_reason_code
                .clone()
                .unwrap_or_else(|| POLICY_ERROR.to_string());
            let message = decision
                .denials
                .iter()
                .map(|d| format!("{}: {}", d.policy_reason_code, d.message))
                .collect::<Vec<_>>()
                .join("; ");
            state = crate::workflow::deny(
                tx,
                &row_id,
                &code,
                &message,
                &crate::clock::Stamp::new(actor, &ts),
            )?
            .to;
        }
        Ok((recorded, state))
    })?;
    Ok(ProposalEval {
        recorded,
        state,
        input,
    })
}

/// Validation results of a proposal's latest finished run, from the checks room.
fn validation_facts(ws: &crate::Workspace, id: &str) -> Result<ValidationFacts, crate::Error> {
    let results = crate::checks::validate::latest_results(ws.store().conn(), id)?;
    Ok(ValidationFacts {
        ran: !results.is_empty(),
        checks: results
            .into_iter()
            .map(|c| CheckFacts {
                status: match c.status.as_str() {
                    "passed" => CheckStatus::Passed,
                    "failed" => CheckStatus::Failed,
                    "timed_out" => CheckStatus::TimedOut,
                    "skipped" => CheckStatus::Skipped,
                    // Anything else (a status this build does not know included) is an error.
                    _ => CheckStatus::Error,
                },
                name: c.name,
                required: c.required,
                sandboxed: c.sandboxed,
            })
            .collect(),
    })
}

/// At most this many capsules are handed to the policy (highest confidence first).
pub const MAX_CAPSULES: usize = 256;

/// Failure capsules about repository paths (target kind `path` or `file`), from the binder
/// room, judged now; the policy matches their targets against the touched paths.
fn capsule_facts(
    ws: &crate::Workspace,
    _row: &crate::workflow::ProposalRow,
) -> Result<Vec<CapsuleFacts>, crate::Error> {
    let settings = ws.settings()?;
    let params =
        crate::binder::EligibilityParams::from_settings(&settings.binder, ws.clock().now());
    let mut out = Vec::new();
    for kind in ["path", "file"] {
        let found = crate::binder::capsules(
            ws.store().conn(),
            &crate::binder::CapsuleFilter {
                kind: Some("failure".into()),
                target_kind: Some(kind.into()),
                ..Default::default()
            },
            &params,
        )?;
        out.extend(found.into_iter().map(|c| CapsuleFacts {
            upsert_key: c.upsert_key,
            target: CapsuleTarget {
                kind: c.target_kind,
                id: c.target_id,
            },
            action_kind: c.action_kind,
            failure_reason_code: c.failure_reason_code.unwrap_or_default(),
            eligible: c.eligible,
            confidence: c.confidence,
        }));
    }
    out.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(a.upsert_key.cmp(&b.upsert_key))
    });
    out.truncate(MAX_CAPSULES);
    Ok(out)
}

/// The digest of the policy folder as committed on `branch` (`None`: no such branch or folder).
pub fn committed_policy_digest(root: &Path, branch: &str) -> Option<String> {
    let files = crate::gitops::files_on_branch(root, branch, POLICY_DIR, ".rego")?;
    if files.is_empty() {
        return None;
    }
    engine::policy_digest(&files).ok()
}

/// A warning when the policy that decided is not the one committed on the target branch: a
/// local edit must not quietly change gates, and a decision should be reproducible from the
/// repository.
fn provenance_warning(ws: &crate::Workspace, policy: &PolicySet) -> Option<Warning> {
    let branch = ws
        .settings()
        .map(|s| s.workflow.target_branch)
        .unwrap_or_else(|_| "main".into());
    let committed = committed_policy_digest(ws.root(), &branch);
    if committed.as_deref() == Some(policy.digest()) {
        return None;
    }
    Some(Warning {
        code: POLICY_NOT_COMMITTED.into(),
        message: format!(
            "decided with the working tree's policy {}, which is not the policy committed on {branch} ({}); commit .oxide/policy (a governance change) so decisions follow the repository",
            policy.digest(),
            committed.as_deref().unwrap_or("none")
        ),
        rule: "oxide.evaluator".into(),
    })
}

fn with_warning(mut d: Decision, w: Option<Warning>) -> Decision {
    if let Some(w) = w {
        d.warnings.push(w);
        d.warnings.sort();
    }
    d
}
