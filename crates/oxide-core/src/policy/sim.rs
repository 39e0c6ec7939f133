//! `policy sim`: recorded inputs replayed through a policy, and what changed.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{recorded_entries, Decision, Outcome, PolicySet, Required, Risk, SnapshotEntry};

/// The comparable core of a decision (messages left out: they may embed timings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct DecisionSummary {
    pub outcome: Outcome,
    pub risk: Risk,
    pub required: Required,
    /// Denial codes, sorted.
    pub denials: Vec<String>,
    /// Escalation rules that fired, sorted.
    pub escalations: Vec<String>,
    pub policy_digest: String,
}

impl From<&Decision> for DecisionSummary {
    fn from(d: &Decision) -> Self {
        let mut denials: Vec<String> = d
            .denials
            .iter()
            .map(|x| x.policy_reason_code.clone())
            .collect();
        denials.sort();
        denials.dedup();
        let mut escalations: Vec<String> = d.escalations.iter().map(|e| e.rule.clone()).collect();
        escalations.sort();
        escalations.dedup();
        DecisionSummary {
            outcome: d.outcome,
            risk: d.risk,
            required: d.required.clone(),
            denials,
            escalations,
            policy_digest: d.policy_digest.clone(),
        }
    }
}

/// One replayed decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SimDecision {
    pub decision_id: i64,
    pub subject: String,
    pub recorded: DecisionSummary,
    pub simulated: DecisionSummary,
    /// Whether outcome, risk, approvals or denial codes differ (the policy digest alone
    /// does not count).
    pub changed: bool,
    /// What differs, e.g. `risk: low -> medium`.
    pub changes: Vec<String>,
}

/// `policy sim`: every snapshot decision replayed through a policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SimReport {
    pub policy_digest: String,
    /// Every decision, in snapshot order.
    pub decisions: Vec<SimDecision>,
    /// How many changed.
    pub changed: u64,
    /// The decision ids that changed, in order.
    pub flipped: Vec<i64>,
}

fn diff(a: &DecisionSummary, b: &DecisionSummary) -> Vec<String> {
    let mut out = Vec::new();
    if a.outcome != b.outcome {
        out.push(format!(
            "outcome: {} -> {}",
            a.outcome.as_str(),
            b.outcome.as_str()
        ));
    }
    if a.risk != b.risk {
        out.push(format!("risk: {} -> {}", a.risk.as_str(), b.risk.as_str()));
    }
    if a.required != b.required {
        out.push(format!(
            "required: {} [{}] -> {} [{}]",
            a.required.count,
            a.required.roles.join(", "),
            b.required.count,
            b.required.roles.join(", ")
        ));
    }
    if a.denials != b.denials {
        out.push(format!(
            "denials: [{}] -> [{}]",
            a.denials.join(", "),
            b.denials.join(", ")
        ));
    }
    out
}

/// Replays recorded inputs through `policy`. Pure over its arguments: the same snapshot and
/// policy give the same report (a policy that runs into its time limit aside). Work is split
/// over the available cores in contiguous chunks; results keep snapshot order.
#[tracing::instrument(name = "policy.sim", skip_all)]
pub fn simulate(policy: &PolicySet, snapshot: &[SnapshotEntry]) -> SimReport {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let chunk = snapshot.len().div_ceil(threads).max(256);
    let decisions: Vec<SimDecision> = if snapshot.len() <= chunk {
        snapshot.iter().map(|e| replay_one(policy, e)).collect()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = snapshot
                .chunks(chunk)
                .map(|part| {
                    let local = policy.clone();
                    scope.spawn(move || {
                        part.iter()
                            .map(|e| replay_one(&local, e))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("a replay thread panicked"))
                .collect()
        })
    };
    let flipped: Vec<i64> = decisions
        .iter()
        .filter(|d| d.changed)
        .map(|d| d.decision_id)
        .collect();
    SimReport {
        policy_digest: policy.digest().to_string(),
        changed: flipped.len() as u64,
        decisions,
        flipped,
    }
}

pub(crate) fn replay_one(policy: &PolicySet, e: &SnapshotEntry) -> SimDecision {
    let now = policy.evaluate(&e.subject, &e.input);
    let recorded = DecisionSummary::from(&e.recorded);
    let simulated = DecisionSummary::from(&now);
    let changes = diff(&recorded, &simulated);
    SimDecision {
        decision_id: e.decision_id,
        subject: e.subject.clone(),
        recorded,
        simulated,
        changed: !changes.is_empty(),
        changes,
    }
}

/// The policy simulator of the desktop app: every recorded decision replayed through the
/// policy in `dir` (default: the workspace policy). Reads only.
pub fn simulate_recorded(
    ws: &crate::Workspace,
    dir: Option<&Path>,
) -> Result<SimReport, crate::Error> {
    let policy = super::workspace_policy(ws, dir)?;
    let entries = recorded_entries(ws.store().conn())?;
    Ok(simulate(&policy, &entries))
}
