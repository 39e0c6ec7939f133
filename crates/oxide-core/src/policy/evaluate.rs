//! A decision in a workspace: the input assembled from the other rooms (proposal row,
//! settings, validation results, capsules), evaluated with the workspace policy, recorded;
//! a denial moves the proposal through `workflow` when the transition table allows it. Also a
//! bare input document's decision. The policy that decides is always the one committed on the
//! workspace's target branch (the built-in default when none is committed there); the working
//! tree's copy is a draft, named in a warning, never used.

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

/// The policy folder of a workspace's working tree (drafts), or `dir` when given.
pub fn policy_dir(ws: &crate::Workspace, dir: Option<&Path>) -> PathBuf {
    match dir {
        Some(d) => d.to_path_buf(),
        None => ws.root().join(POLICY_DIR),
    }
}

/// The policy in force: every `*.rego` under `.oxide/policy/` as committed on the target
/// branch's tip, or (`false`) the built-in default policy when none is committed there.
pub fn committed_policy(ws: &crate::Workspace) -> Result<(PolicySet, bool), crate::Error> {
    let prefix = format!("{POLICY_DIR}/");
    let mut files = std::collections::BTreeMap::new();
    for (path, bytes) in ws.committed_governance()? {
        let Some(rel) = path.strip_prefix(&prefix) else {
            continue;
        };
        if !rel.ends_with(".rego") {
            continue;
        }
        let origin = format!("{path} (committed on {})", ws.target_branch()?);
        if bytes.len() > engine::MAX_FILE_BYTES {
            return Err(PolicyError::TooLarge {
                path: origin,
                why: format!(
                    "{} bytes, the limit is {}",
                    bytes.len(),
                    engine::MAX_FILE_BYTES
                ),
            }
            .into());
        }
        let text = String::from_utf8(bytes).map_err(|_| PolicyError::Read {
            path: origin,
            why: "it is not UTF-8".into(),
        })?;
        files.insert(rel.to_string(), text);
        if files.len() > engine::MAX_FILES {
            return Err(PolicyError::TooLarge {
                path: POLICY_DIR.into(),
                why: format!("more than {} .rego files", engine::MAX_FILES),
            }
            .into());
        }
    }
    if files.is_empty() {
        let builtin = DEFAULT_FILES
            .iter()
            .filter_map(|(p, t)| Some((p.strip_prefix(&prefix)?.to_string(), t.to_string())))
            .collect();
        return Ok((PolicySet::from_files(builtin)?, false));
    }
    Ok((PolicySet::from_files(files)?, true))
}

/// The policy `policy test`/`policy sim` run: the one in `dir` when given (a what-if: it
/// decides nothing that is recorded), else the policy in force (`committed_policy`).
pub fn workspace_policy(
    ws: &crate::Workspace,
    dir: Option<&Path>,
) -> Result<PolicySet, crate::Error> {
    match dir {
        Some(d) => Ok(PolicySet::load(d)?),
        None => Ok(committed_policy(ws)?.0),
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
    let (policy, committed) = committed_policy(ws)?;
    let subject = match proposal_id {
        Some(id) => id.to_string(),
        None => input_subject(input)?,
    };
    let decision = with_warning(
        policy.evaluate(&subject, input),
        provenance_warning(ws, &policy, committed)?,
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
            Some(crate::skill::SkillSource::Host) => SkillSourceFact::Host,
            Some(crate::skill::SkillSource::Capsule) => SkillSourceFact::Capsule,
            Some(crate::skill::SkillSource::Manual) => SkillSourceFact::Manual,
            None => SkillSourceFact::Unknown,
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
    assembled.harness_paths = harness_facts(ws, &assembled.proposal)?;
    Ok(assembled)
}

/// The touched paths that are part of a required check's harness, judged against the
/// contract committed on the target branch — read like every other governance file, so a
/// decision made under a [`crate::workspace::GovernancePin`] sees the pinned contract (none
/// when it is absent, not UTF-8 or does not parse: validation refuses such a contract, so no
/// allow follows anyway).
fn harness_facts(
    ws: &crate::Workspace,
    p: &ProposalFacts,
) -> Result<Vec<HarnessPathFact>, crate::Error> {
    let contract = ws
        .committed_file(crate::checks::CHECKS_PATH)?
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| crate::checks::parse(crate::checks::CHECKS_PATH, &text).ok());
    let Some(contract) = contract else {
        return Ok(Vec::new());
    };
    let paths = p
        .touched_paths
        .iter()
        .chain(p.ops.iter().map(|o| &o.path))
        .map(String::as_str);
    Ok(crate::checks::harness::hits(&contract, paths)
        .into_iter()
        .map(|h| HarnessPathFact {
            path: h.path,
            check: h.check,
            pattern: h.pattern,
            reason: h.reason,
        })
        .collect())
}

/// A stored proposal's decision under the policy in force now, and the input it saw —
/// nothing recorded, nothing moved (the approval room asks this before every signature and
/// every verification; `eval_proposal` records it).
pub fn proposal_decision(
    ws: &crate::Workspace,
    row: &crate::workflow::ProposalRow,
    actor: &str,
) -> Result<(Decision, Value), crate::Error> {
    let validation = validation_facts(ws, &row.id)?;
    let capsules = capsule_facts(ws, row)?;
    let input = serde_json::to_value(proposal_input(ws, row, validation, capsules, actor)?)
        .map_err(|e| PolicyError::Canon(canon::CanonError::Canonicalize(e.to_string())))?;
    let (policy, committed) = committed_policy(ws)?;
    let decision = with_warning(
        policy.evaluate(&row.id, &input),
        provenance_warning(ws, &policy, committed)?,
    );
    Ok((decision, input))
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
    let (decision, input) = proposal_decision(ws, &row, actor)?;
    let ts = ws.clock().now_rfc3339();
    let row_id = row.id.clone();
    let (recorded, state) = ws.store_mut().write(|tx| -> Result<_, crate::Error> {
        let recorded = record(tx, Some(&row_id), &input, &decision, actor, &ts)?;
        let mut state = row.state;
        // Missing validation is no allow, but it is no denial of the change either: a
        // proposal denied only for `NOT_VALIDATED` keeps its state (validate, then ask again).
        let only_not_validated = decision
            .denials
            .iter()
            .all(|d| d.policy_reason_code == NOT_VALIDATED);
        if decision.outcome == Outcome::Denied
            && !only_not_validated
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
    let conn = ws.store().conn();
    let results = crate::checks::validate::latest_results(conn, id)?;
    let run_id = results.first().map(|c| c.run_id.clone());
    let branch_commit = match &run_id {
        Some(run) => crate::checks::validate::run_commit(conn, run)?,
        None => None,
    };
    let head_commit = crate::gitops::stored_branch(conn, id)?.map(|b| b.head_commit);
    Ok(ValidationFacts {
        ran: !results.is_empty(),
        run_id,
        branch_commit,
        head_commit,
        checks: results
            .into_iter()
            .map(|c| CheckFacts {
                status: match c.status {
                    crate::checks::CheckRunStatus::Passed => CheckStatus::Passed,
                    crate::checks::CheckRunStatus::Failed => CheckStatus::Failed,
                    crate::checks::CheckRunStatus::TimedOut => CheckStatus::TimedOut,
                    crate::checks::CheckRunStatus::Error => CheckStatus::Error,
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

/// The drafts notice of a decision: none is committed on the target branch (the built-in
/// default decided), or the working tree's policy differs from the committed one that decided.
/// A local edit never changes a gate; it is named so that nobody mistakes it for one.
fn provenance_warning(
    ws: &crate::Workspace,
    policy: &PolicySet,
    committed: bool,
) -> Result<Option<Warning>, crate::Error> {
    let branch = ws.target_branch()?;
    let message = if !committed {
        format!(
            "no policy is committed on {branch}: decided with the built-in default policy {}; commit .oxide/policy (a governance change) so decisions follow the repository",
            policy.digest()
        )
    } else {
        let local = PolicySet::load(&policy_dir(ws, None))
            .ok()
            .map(|p| p.digest().to_string());
        if local.as_deref() == Some(policy.digest()) {
            return Ok(None);
        }
        format!(
            "decided with the policy committed on {branch} ({}); the working tree's .oxide/policy ({}) is a draft, not in force until committed",
            policy.digest(),
            local.as_deref().unwrap_or("absent or unreadable")
        )
    };
    Ok(Some(Warning {
        code: POLICY_NOT_COMMITTED.into(),
        message,
        rule: "oxide.evaluator".into(),
    }))
}

fn with_warning(mut d: Decision, w: Option<Warning>) -> Decision {
    if let Some(w) = w {
        d.warnings.push(w);
        d.warnings.sort();
    }
    d
}
