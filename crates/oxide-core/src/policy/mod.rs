//! The `policy` room: risk and policy gates written in Rego (v1), evaluated in-process with
//! regorus under execution limits, fail-closed; every decision recorded with its full input,
//! output and policy digest (`policy_decisions`), replayable by `policy sim`.
//!
//! - [`engine`]: loading `.oxide/policy/`, the policy digest, evaluation.
//! - [`input`]: assembling the input document from the other rooms' values (pure).
//! - [`types`]: the versioned input/output contracts (JSON Schemas in `docs/schemas/`).
//! - this file: recording decisions, snapshots, simulation and `policy test`.

pub mod engine;
pub mod input;
mod recursion;
pub mod types;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::audit::{self, NewEvent};
use crate::canon;
use crate::store::StoreError;

pub use engine::{PolicySet, ENTRYPOINT, EVAL_TIME_LIMIT};
pub use types::*;

/// The default policy `oxide init` writes to `.oxide/policy/oxide.rego`.
pub const DEFAULT_POLICY: &str = include_str!("default/oxide.rego");
/// Its tests, `.oxide/policy/oxide_test.rego`.
pub const DEFAULT_POLICY_TESTS: &str = include_str!("default/oxide_test.rego");
/// The policy folder inside a workspace.
pub const POLICY_DIR: &str = ".oxide/policy";
/// Version tag of each snapshot line.
pub const SNAPSHOT_VERSION: &str = "oxide.policy.snapshot/v1";

/// Errors of the `policy` room. Faults of the policy itself are not errors: they are
/// decisions denied with `POLICY_ERROR`.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("no policy found in {dir}: it must be a folder holding *.rego files; run `oxide init` to write the default policy")]
    NoPolicy { dir: String },
    #[error("cannot read {path}: {why}")]
    Read { path: String, why: String },
    #[error("the policy at {path} is too large ({why}); split or shrink it")]
    TooLarge { path: String, why: String },
    #[error("{path} line {line}: {why}; nothing was evaluated. A snapshot is what `oxide policy snapshot export` writes")]
    BadSnapshot {
        path: String,
        line: usize,
        why: String,
    },
    #[error("{path} is not a JSON input document: {why}")]
    BadInput { path: String, why: String },
    #[error("cannot write {path}: {why}; nothing was written")]
    Write { path: String, why: String },
    #[error("no proposal '{0}'; list them with `oxide proposal list`")]
    UnknownProposal(String),
    #[error("recorded decision {id} is unreadable: {why}")]
    Corrupt { id: i64, why: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
    #[error(transparent)]
    Canon(#[from] canon::CanonError),
}

impl From<rusqlite::Error> for PolicyError {
    fn from(e: rusqlite::Error) -> Self {
        PolicyError::Store(StoreError::from(e))
    }
}

impl PolicyError {
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::NoPolicy { .. } => "POLICY_NOT_FOUND",
            PolicyError::Read { .. } => "POLICY_READ",
            PolicyError::TooLarge { .. } => "POLICY_TOO_LARGE",
            PolicyError::BadSnapshot { .. } => "POLICY_BAD_SNAPSHOT",
            PolicyError::BadInput { .. } => "POLICY_BAD_INPUT",
            PolicyError::Write { .. } => "POLICY_WRITE",
            PolicyError::Corrupt { .. } => "POLICY_CORRUPT_RECORD",
            PolicyError::UnknownProposal(_) => "POLICY_UNKNOWN_PROPOSAL",
            PolicyError::Store(e) => e.code(),
            PolicyError::Audit(e) => e.code(),
            PolicyError::Canon(e) => e.code(),
        }
    }

    pub fn kind(&self) -> crate::ErrorKind {
        use crate::ErrorKind::*;
        match self {
            PolicyError::NoPolicy { .. }
            | PolicyError::Read { .. }
            | PolicyError::TooLarge { .. }
            | PolicyError::BadSnapshot { .. }
            | PolicyError::BadInput { .. }
            | PolicyError::UnknownProposal(_)
            | PolicyError::Write { .. } => Invalid,
            PolicyError::Corrupt { .. } | PolicyError::Canon(_) => Internal,
            PolicyError::Store(e) => e.kind(),
            PolicyError::Audit(e) => e.kind(),
        }
    }
}

/// A decision as recorded: its row id and audit sequence number, and the decision itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct RecordedDecision {
    pub decision_id: i64,
    pub audit_seq: i64,
    pub decided_at: String,
    #[serde(flatten)]
    pub decision: Decision,
}

/// Records one decision with its full input, in the caller's transaction, with an audit
/// event (`policy.decision`, or `policy.error` when it failed closed).
pub fn record(
    tx: &Connection,
    proposal_id: Option<&str>,
    input: &Value,
    decision: &Decision,
    actor: &str,
    ts: &str,
) -> Result<RecordedDecision, PolicyError> {
    let input_text = canon::canonical_string(input)?;
    let output_text = canon::canonical_string(decision)?;
    let kind = if decision.is_policy_error() {
        "policy.error"
    } else {
        "policy.decision"
    };
    let ev = audit::append(
        tx,
        NewEvent {
            actor,
            kind,
            subject: &decision.subject,
            payload: json!({
                "outcome": decision.outcome,
                "risk": decision.risk,
                "required": decision.required,
                "policy_reason_code": decision.policy_reason_code,
                "failure_reason_code": decision.failure_reason_code,
                "denials": decision.denials,
                "policy_digest": decision.policy_digest,
                "input_digest": decision.input_digest,
            }),
        },
        ts,
    )?;
    tx.execute(
        "INSERT INTO policy_decisions (proposal_id, subject, input, input_digest, output,
             policy_digest, outcome, risk, policy_reason_code, decided_at, actor, audit_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            proposal_id,
            decision.subject,
            input_text,
            decision.input_digest,
            output_text,
            decision.policy_digest,
            decision.outcome.as_str(),
            decision.risk.as_str(),
            decision.policy_reason_code,
            ts,
            actor,
            ev.seq
        ],
    )?;
    Ok(RecordedDecision {
        decision_id: tx.last_insert_rowid(),
        audit_seq: ev.seq,
        decided_at: ts.to_string(),
        decision: decision.clone(),
    })
}

/// Decisions recorded for a proposal, newest first.
pub fn decisions_for(
    conn: &Connection,
    proposal_id: &str,
) -> Result<Vec<RecordedDecision>, PolicyError> {
    let mut stmt = conn.prepare(
        "SELECT id, audit_seq, decided_at, output FROM policy_decisions
         WHERE proposal_id = ?1 ORDER BY id DESC",
    )?;
    let rows = stmt.query_map([proposal_id], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, seq, at, text) = row?;
        let decision = serde_json::from_str(&text).map_err(|e| PolicyError::Corrupt {
            id,
            why: e.to_string(),
        })?;
        out.push(RecordedDecision {
            decision_id: id,
            audit_seq: seq,
            decided_at: at,
            decision,
        });
    }
    Ok(out)
}

/// One line of a snapshot: a recorded decision's input and output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotEntry {
    pub version: String,
    pub decision_id: i64,
    pub subject: String,
    pub input: Value,
    pub recorded: Decision,
}

/// Writes every recorded decision (oldest first) as JSON Lines to `path`, through a temporary
/// file and a rename: a failed export leaves nothing behind. Returns the number of lines.
#[tracing::instrument(name = "policy.snapshot_export", skip_all)]
pub fn export_snapshot(conn: &Connection, path: &Path) -> Result<u64, PolicyError> {
    let werr = |e: std::io::Error| PolicyError::Write {
        path: path.display().to_string(),
        why: e.to_string(),
    };
    let tmp = tmp_path(path);
    let result = (|| -> Result<u64, PolicyError> {
        let file = fs::File::create(&tmp).map_err(werr)?;
        let mut w = std::io::BufWriter::new(file);
        let mut stmt =
            conn.prepare("SELECT id, subject, input, output FROM policy_decisions ORDER BY id")?;
        let mut rows = stmt.query([])?;
        let mut n = 0u64;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let corrupt = |e: serde_json::Error| PolicyError::Corrupt {
                id,
                why: e.to_string(),
            };
            let entry = SnapshotEntry {
                version: SNAPSHOT_VERSION.to_string(),
                decision_id: id,
                subject: r.get(1)?,
                input: serde_json::from_str(&r.get::<_, String>(2)?).map_err(corrupt)?,
                recorded: serde_json::from_str(&r.get::<_, String>(3)?).map_err(corrupt)?,
            };
            w.write_all(canon::canonical_string(&entry)?.as_bytes())
                .map_err(werr)?;
            w.write_all(b"\n").map_err(werr)?;
            n += 1;
        }
        w.flush().map_err(werr)?;
        w.into_inner()
            .map_err(|e| werr(e.into_error()))?
            .sync_all()
            .map_err(werr)?;
        Ok(n)
    })();
    match result {
        Ok(n) => {
            fs::rename(&tmp, path).map_err(|e| {
                let _ = fs::remove_file(&tmp);
                werr(e)
            })?;
            Ok(n)
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".oxide-tmp");
    path.with_file_name(name)
}

/// Reads a snapshot; any bad line refuses the whole file (with its line number).
pub fn read_snapshot(path: &Path) -> Result<Vec<SnapshotEntry>, PolicyError> {
    let file = fs::File::open(path).map_err(|e| PolicyError::Read {
        path: path.display().to_string(),
        why: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let bad = |why: String| PolicyError::BadSnapshot {
            path: path.display().to_string(),
            line: i + 1,
            why,
        };
        let line = line.map_err(|e| bad(e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let entry: SnapshotEntry = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        if entry.version != SNAPSHOT_VERSION {
            return Err(bad(format!(
                "version '{}', expected '{SNAPSHOT_VERSION}'",
                entry.version
            )));
        }
        out.push(entry);
    }
    Ok(out)
}

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

fn replay_one(policy: &PolicySet, e: &SnapshotEntry) -> SimDecision {
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

/// One `test_*` rule's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TestResult {
    pub file: String,
    pub name: String,
    pub ok: bool,
    /// Why it failed (false, undefined, or the error).
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TestReport {
    pub policy_digest: String,
    pub passed: u64,
    pub failed: u64,
    pub tests: Vec<TestResult>,
}

/// `test_*` rules defined at the top level of each file, with their package:
/// `(file, data.<package>.<rule>)`, in file then source order, without duplicates.
pub fn find_tests(files: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (file, text) in files {
        let mut package = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("package ") {
                package = Some(rest.trim().to_string());
                continue;
            }
            if let (Some(pkg), Some(rest)) = (&package, line.strip_prefix("test_")) {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let rule = format!("data.{pkg}.test_{name}");
                if !out.iter().any(|(_, r)| *r == rule) {
                    out.push((file.clone(), rule));
                }
            }
        }
    }
    out
}

/// `policy test`: evaluates every `test_*` rule; it passes when it is `true` (like `opa
/// test`). A policy that does not load fails as one test named after the load error.
#[tracing::instrument(name = "policy.test", skip_all)]
pub fn run_tests(policy: &PolicySet) -> TestReport {
    let mut tests = Vec::new();
    match policy.engine() {
        Err(e) => tests.push(TestResult {
            file: "(policy)".into(),
            name: "load".into(),
            ok: false,
            message: Some(e),
        }),
        Ok(engine) => {
            for (file, rule) in find_tests(policy.files()) {
                let mut eng = engine.clone();
                eng.set_input(regorus::Value::new_object());
                let (ok, message) = match eng.eval_rule(rule.clone()) {
                    Ok(v) if v == regorus::Value::from(true) => (true, None),
                    Ok(regorus::Value::Undefined) => (false, Some("undefined".to_string())),
                    Ok(v) => (false, Some(format!("evaluated to {v}"))),
                    Err(e) => (false, Some(format!("error: {e}"))),
                };
                tests.push(TestResult {
                    file,
                    name: rule,
                    ok,
                    message,
                });
            }
        }
    }
    let passed = tests.iter().filter(|t| t.ok).count() as u64;
    TestReport {
        policy_digest: policy.digest().to_string(),
        passed,
        failed: tests.len() as u64 - passed,
        tests,
    }
}

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

/// JSON Schemas of the input and output contracts, as written to `docs/schemas/`.
pub fn schemas() -> Vec<(&'static str, Value)> {
    vec![
        (
            "policy-input.schema.json",
            serde_json::to_value(schemars::schema_for!(PolicyInput)).expect("schema is JSON"),
        ),
        (
            "policy-output.schema.json",
            serde_json::to_value(schemars::schema_for!(PolicyOutput)).expect("schema is JSON"),
        ),
        (
            "policy-decision.schema.json",
            serde_json::to_value(schemars::schema_for!(Decision)).expect("schema is JSON"),
        ),
    ]
}

#[cfg(test)]
mod tests;

// ------------------------------------------------------------------ workspace entry points

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
    pub state: String,
    /// The input the policy saw (what `policy sim` replays).
    #[cfg_attr(feature = "ts", ts(as = "PolicyInput"))]
    pub input: Value,
}

/// Line counts of files at the base commit (for deletions), read through git.
fn base_line_counter(root: &Path, commit: &str) -> impl Fn(&str) -> Option<u64> {
    let tree = git2::Repository::open(root).ok().and_then(|repo| {
        let oid = git2::Oid::from_str(commit).ok()?;
        let id = repo.find_commit(oid).ok()?.tree().ok()?.id();
        Some((repo, id))
    });
    move |path: &str| {
        let (repo, tree_id) = tree.as_ref()?;
        let tree = repo.find_tree(*tree_id).ok()?;
        let entry = tree.get_path(Path::new(path)).ok()?;
        let blob = repo.find_blob(entry.id()).ok()?;
        Some(input::count_lines(&String::from_utf8_lossy(blob.content())))
    }
}

/// The input document for a stored proposal, from the proposal row, its bundle, the
/// workspace settings and the validation results and capsules handed in.
pub fn proposal_input(
    ws: &crate::Workspace,
    row: &crate::proposal::ProposalRow,
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
    Ok(input::assemble(
        &row.bundle,
        &row.digest,
        &input::ProposalMeta {
            id: Some(row.id.clone()),
            state: row.state.clone(),
            failure_reason_code: row.failure_reason_code.clone(),
        },
        &lines,
        skill,
        validation,
        capsules,
        actor,
        &settings,
    ))
}

/// `policy eval ID`: assembles the input from the other rooms, evaluates it with the
/// workspace policy and records the decision; when it is a denial and the proposal is
/// `validated` or `approved`, the proposal is denied (workflow guard) in the same
/// transaction, with `policy_reason_code` set and `failure_reason_code` untouched.
#[tracing::instrument(name = "policy.eval_proposal", skip_all)]
pub fn eval_proposal(
    ws: &mut crate::Workspace,
    id: &str,
    actor: &str,
) -> Result<ProposalEval, crate::Error> {
    let row = crate::proposal::rows::get(ws.store().conn(), id)?
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
        let mut state = row.state.clone();
        if decision.outcome == Outcome::Denied && (state == "validated" || state == "approved") {
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
            crate::workflow::deny(tx, &row_id, &code, &message, actor, &ts)?;
            state = "denied".to_string();
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
    _row: &crate::proposal::ProposalRow,
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

/// Every recorded decision as snapshot entries, oldest first (what `export_snapshot` writes).
pub fn recorded_entries(conn: &Connection) -> Result<Vec<SnapshotEntry>, PolicyError> {
    let mut stmt =
        conn.prepare("SELECT id, subject, input, output FROM policy_decisions ORDER BY id")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let corrupt = |e: serde_json::Error| PolicyError::Corrupt {
            id,
            why: e.to_string(),
        };
        out.push(SnapshotEntry {
            version: SNAPSHOT_VERSION.to_string(),
            decision_id: id,
            subject: r.get(1)?,
            input: serde_json::from_str(&r.get::<_, String>(2)?).map_err(corrupt)?,
            recorded: serde_json::from_str(&r.get::<_, String>(3)?).map_err(corrupt)?,
        });
    }
    Ok(out)
}

/// The policy simulator of the desktop app: every recorded decision replayed through the
/// policy in `dir` (default: the workspace policy). Reads only.
pub fn simulate_recorded(
    ws: &crate::Workspace,
    dir: Option<&Path>,
) -> Result<SimReport, crate::Error> {
    let policy = PolicySet::load(&policy_dir(ws, dir))?;
    let entries = recorded_entries(ws.store().conn())?;
    Ok(simulate(&policy, &entries))
}

/// `policy test` for the workspace policy (or `dir`).
pub fn test_workspace(
    ws: &crate::Workspace,
    dir: Option<&Path>,
) -> Result<TestReport, crate::Error> {
    Ok(run_tests(&PolicySet::load(&policy_dir(ws, dir))?))
}

/// One proposal and its latest recorded policy decision (the desktop's risk-gate list).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ProposalGate {
    pub id: String,
    pub state: String,
    pub rationale: String,
    pub failure_reason_code: Option<String>,
    pub policy_reason_code: Option<String>,
    pub latest: Option<RecordedDecision>,
}

/// Every proposal, newest first, with its latest recorded decision (none evaluated: `None`).
pub fn proposal_gates(conn: &Connection) -> Result<Vec<ProposalGate>, crate::Error> {
    let rows = crate::proposal::rows::list(conn, None)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let latest = decisions_for(conn, &r.id)?.into_iter().next();
        out.push(ProposalGate {
            id: r.id,
            state: r.state,
            rationale: r.bundle.intent.rationale,
            failure_reason_code: r.failure_reason_code,
            policy_reason_code: r.policy_reason_code,
            latest,
        });
    }
    Ok(out)
}

/// The digest of the policy folder as committed on `branch` (`None`: no such branch or folder).
pub fn committed_policy_digest(root: &Path, branch: &str) -> Option<String> {
    fn walk(
        repo: &git2::Repository,
        tree: &git2::Tree<'_>,
        prefix: &str,
        out: &mut BTreeMap<String, String>,
    ) -> Option<()> {
        for entry in tree.iter() {
            let name = entry.name()?.to_string();
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            match entry.kind() {
                Some(git2::ObjectType::Tree) => {
                    let sub = repo.find_tree(entry.id()).ok()?;
                    walk(repo, &sub, &rel, out)?;
                }
                Some(git2::ObjectType::Blob) if name.ends_with(".rego") => {
                    let blob = repo.find_blob(entry.id()).ok()?;
                    out.insert(rel, String::from_utf8(blob.content().to_vec()).ok()?);
                }
                _ => {}
            }
        }
        Some(())
    }
    let repo = git2::Repository::open(root).ok()?;
    let commit = repo
        .find_reference(&format!("refs/heads/{branch}"))
        .ok()?
        .peel_to_commit()
        .ok()?;
    let entry = commit.tree().ok()?.get_path(Path::new(POLICY_DIR)).ok()?;
    let tree = repo.find_tree(entry.id()).ok()?;
    let mut files = BTreeMap::new();
    walk(&repo, &tree, "", &mut files)?;
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
        code: "POLICY_NOT_COMMITTED".into(),
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
