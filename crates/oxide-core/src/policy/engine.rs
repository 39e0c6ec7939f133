//! Loading a policy folder, its digest, and fail-closed evaluation with regorus under
//! execution limits. Nothing here touches the database.

use std::collections::BTreeMap;
use std::fs;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::Path;
use std::time::Duration;

use regorus::utils::limits::{ExecutionTimerConfig, PolicyLengthConfig};
use serde_json::Value;

use super::types::*;
use super::PolicyError;
use crate::canon;

/// The rule every policy must define: the whole decision as one object.
pub const ENTRYPOINT: &str = "data.oxide.decision";
/// Wall-clock budget of one evaluation (regorus' cooperative execution timer).
pub const EVAL_TIME_LIMIT: Duration = Duration::from_millis(1000);
/// At most this many policy files, each at most `MAX_FILE_BYTES`.
pub const MAX_FILES: usize = 64;
pub const MAX_FILE_BYTES: usize = 256 * 1024;

/// The policy files of one folder, their digest, and (when they parse) a ready engine.
#[derive(Clone)]
pub struct PolicySet {
    /// `relative/path.rego` → text, sorted by path.
    files: BTreeMap<String, String>,
    digest: String,
    /// `Err(message)` when the files do not parse: every evaluation then fails closed.
    engine: Result<regorus::Engine, String>,
}

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySet")
            .field("files", &self.files.keys().collect::<Vec<_>>())
            .field("digest", &self.digest)
            .field("parsed", &self.engine.is_ok())
            .finish()
    }
}

/// The digest of a set of policy files: sha256 of the RFC 8785 form of
/// `{"files": {"<relative path>": "<text>", ...}}`.
pub fn policy_digest(files: &BTreeMap<String, String>) -> Result<String, PolicyError> {
    Ok(canon::digest(&serde_json::json!({ "files": files }))?)
}

fn collect(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) -> Result<(), PolicyError> {
    let io = |e: std::io::Error| PolicyError::Read {
        path: dir.display().to_string(),
        why: e.to_string(),
    };
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let ft = e.file_type().map_err(io)?;
        if ft.is_symlink() {
            // A link could pull rules from outside the repository, or silently drop them.
            return Err(PolicyError::Read {
                path: path.display().to_string(),
                why: "symbolic links are not followed in a policy folder; replace it with the file itself".into(),
            });
        }
        if ft.is_dir() {
            collect(root, &path, out)?;
        } else if ft.is_file() && path.extension().is_some_and(|x| x == "rego") {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let meta = e.metadata().map_err(io)?;
            if meta.len() as usize > MAX_FILE_BYTES {
                return Err(PolicyError::TooLarge {
                    path: path.display().to_string(),
                    why: format!("{} bytes, the limit is {MAX_FILE_BYTES}", meta.len()),
                });
            }
            let text = fs::read_to_string(&path).map_err(|e| PolicyError::Read {
                path: path.display().to_string(),
                why: e.to_string(),
            })?;
            out.insert(rel, text);
            if out.len() > MAX_FILES {
                return Err(PolicyError::TooLarge {
                    path: root.display().to_string(),
                    why: format!("more than {MAX_FILES} .rego files"),
                });
            }
        }
    }
    Ok(())
}

impl PolicySet {
    /// Reads every `*.rego` file under `dir` (recursively). A folder that cannot be read, or
    /// holds no policy at all, is an error; files that do not parse are NOT an error here:
    /// they give a set whose every evaluation is denied with `POLICY_ERROR`.
    #[tracing::instrument(name = "policy.load", skip_all, fields(dir = %dir.display()))]
    pub fn load(dir: &Path) -> Result<PolicySet, PolicyError> {
        if !dir.is_dir() {
            return Err(PolicyError::NoPolicy {
                dir: dir.display().to_string(),
            });
        }
        let mut files = BTreeMap::new();
        collect(dir, dir, &mut files)?;
        if files.is_empty() {
            return Err(PolicyError::NoPolicy {
                dir: dir.display().to_string(),
            });
        }
        PolicySet::from_files(files)
    }

    /// A set from in-memory files (`relative path` → text).
    pub fn from_files(files: BTreeMap<String, String>) -> Result<PolicySet, PolicyError> {
        let digest = policy_digest(&files)?;
        let engine = build_engine(&files);
        if let Err(e) = &engine {
            tracing::warn!(error = %e, "policy does not load; every decision fails closed");
        }
        Ok(PolicySet {
            files,
            digest,
            engine,
        })
    }

    pub fn digest(&self) -> &str {
        &self.digest
    }

    pub fn files(&self) -> &BTreeMap<String, String> {
        &self.files
    }

    /// The load error, when the files did not parse.
    pub fn load_error(&self) -> Option<&str> {
        self.engine.as_ref().err().map(String::as_str)
    }

    /// Evaluates one input document. Never fails: every fault is a denied decision with
    /// `POLICY_ERROR` (fail closed).
    #[tracing::instrument(name = "policy.eval", skip_all)]
    pub fn evaluate(&self, subject: &str, input: &Value) -> Decision {
        let input_digest = canon::digest(input).unwrap_or_else(|_| "sha256:unavailable".into());
        let failure_reason_code = input
            .pointer("/proposal/failure_reason_code")
            .and_then(Value::as_str)
            .map(str::to_string);
        let base = |out: Result<PolicyOutput, String>| -> Decision {
            match out {
                Ok(o) => decision_from_output(
                    subject,
                    &input_digest,
                    &self.digest,
                    o,
                    failure_reason_code.clone(),
                ),
                Err(msg) => fail_closed(
                    subject,
                    &input_digest,
                    &self.digest,
                    &msg,
                    failure_reason_code.clone(),
                ),
            }
        };
        base(self.run(input))
    }

    fn run(&self, input: &Value) -> Result<PolicyOutput, String> {
        let engine = self
            .engine
            .as_ref()
            .map_err(|e| format!("the policy does not load: {e}"))?;
        // The input must match the versioned contract; a policy never sees a malformed one.
        let typed: PolicyInput = serde_json::from_value(input.clone())
            .map_err(|e| format!("the input does not match {INPUT_VERSION}: {e}"))?;
        if typed.version != INPUT_VERSION {
            return Err(format!(
                "the input is version '{}', this build evaluates '{INPUT_VERSION}'",
                typed.version
            ));
        }
        // Path facts are derived here, from this build's list: never taken from the document.
        let input = super::input::with_path_facts(input, &typed);
        let mut engine = engine.clone();
        engine.set_input(regorus::Value::from(input));
        let value = engine
            .eval_rule(ENTRYPOINT.to_string())
            .map_err(|e| format!("evaluating {ENTRYPOINT} failed: {e}"))?;
        if value == regorus::Value::Undefined {
            return Err(format!(
                "{ENTRYPOINT} is undefined for this input (a rule body failed or a field it reads is missing)"
            ));
        }
        let json: Value = serde_json::to_value(&value)
            .map_err(|e| format!("{ENTRYPOINT} is not JSON-representable: {e}"))?;
        let mut out: PolicyOutput = serde_json::from_value(json)
            .map_err(|e| format!("{ENTRYPOINT} has the wrong shape: {e}"))?;
        check_output(&out)?;
        require_memory_risk(&mut out, &typed.proposal.memory);
        require_validated(&mut out, &typed.validation);
        Ok(out)
    }

    /// An engine with the policy loaded (for `policy test`); `Err` when it does not parse.
    pub(crate) fn engine(&self) -> Result<regorus::Engine, String> {
        self.engine.clone()
    }
}

fn build_engine(files: &BTreeMap<String, String>) -> Result<regorus::Engine, String> {
    // Function recursion would overflow the stack inside regorus: refuse it before loading.
    super::recursion::check(files)?;
    // Replays must be exact: no randomness, clock or network in a policy.
    super::recursion::check_deterministic(files)?;
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(false);
    engine.set_strict_builtin_errors(true);
    engine.set_execution_timer_config(ExecutionTimerConfig {
        limit: EVAL_TIME_LIMIT,
        check_interval: NonZeroU32::new(64).expect("non-zero"),
    });
    engine.set_policy_length_config(PolicyLengthConfig {
        max_col: NonZeroU32::new(4096).expect("non-zero"),
        max_file_bytes: NonZeroUsize::new(MAX_FILE_BYTES).expect("non-zero"),
        max_lines: NonZeroUsize::new(20_000).expect("non-zero"),
    });
    for (path, text) in files {
        engine
            .add_policy(path.clone(), text.clone())
            .map_err(|e| format!("{path}: {e}"))?;
    }
    // Analyse and schedule once (rule conflicts, unknown functions surface here); clones of a
    // prepared engine stay prepared, so each evaluation only pays for evaluating.
    engine.set_input(regorus::Value::new_object());
    engine
        .eval_query("true".to_string(), false)
        .map_err(|e| format!("the policy does not compile: {e}"))?;
    Ok(engine)
}

/// Rules the Rust side enforces on any policy's output, whatever the policy says.
fn check_output(out: &PolicyOutput) -> Result<(), String> {
    if out.required.count == 0 || out.required.count > 16 {
        return Err(format!(
            "required.count must be between 1 and 16, got {}",
            out.required.count
        ));
    }
    if out.required.roles.len() > out.required.count as usize {
        return Err(format!(
            "required.roles names {} roles for {} persons",
            out.required.roles.len(),
            out.required.count
        ));
    }
    for d in &out.denials {
        if d.policy_reason_code.is_empty()
            || !d
                .policy_reason_code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(format!(
                "denial code '{}' is not UPPER_SNAKE",
                d.policy_reason_code
            ));
        }
    }
    Ok(())
}

/// A runtime-memory change is at least medium risk whatever the policy says: a
/// decision rating one `low` is denied (`MEMORY_RISK_TOO_LOW`), so an older or edited policy
/// that knows nothing of memory cannot let one through on a single approval.
fn require_memory_risk(out: &mut PolicyOutput, memory: &[MemoryFact]) {
    if memory.is_empty() || out.risk >= Risk::Medium {
        return;
    }
    let keys: Vec<String> = memory
        .iter()
        .map(|m| format!("{}/{}", m.namespace, m.key))
        .collect();
    out.denials.push(Denial {
        policy_reason_code: MEMORY_RISK_TOO_LOW.to_string(),
        message: format!(
            "the policy rates a runtime-memory change ({}) as {}, but memory changes are at least medium risk; add a rule like the default policy's `oxide.memory_change`",
            keys.join(", "),
            out.risk.as_str()
        ),
        rule: "oxide.evaluator".to_string(),
    });
}

/// Defence in depth: whatever the policy says, no allow without a passed validation of the
/// proposal branch's current commit. A policy that would allow gets a `NOT_VALIDATED` denial
/// from the evaluator (a policy that already denies keeps its own reasons).
fn require_validated(out: &mut PolicyOutput, facts: &ValidationFacts) {
    if !out.denials.is_empty() {
        return;
    }
    if let Some(why) = facts.not_validated() {
        out.denials.push(Denial {
            policy_reason_code: NOT_VALIDATED.to_string(),
            message: why,
            rule: "oxide.evaluator".to_string(),
        });
    }
}

fn decision_from_output(
    subject: &str,
    input_digest: &str,
    policy_digest: &str,
    mut o: PolicyOutput,
    failure_reason_code: Option<String>,
) -> Decision {
    o.denials.sort();
    o.denials.dedup();
    o.warnings.sort();
    o.warnings.dedup();
    o.escalations.sort();
    o.escalations.dedup();
    let policy_reason_code = if o
        .denials
        .iter()
        .any(|d| d.policy_reason_code == POLICY_ERROR)
    {
        Some(POLICY_ERROR.to_string())
    } else {
        o.denials.first().map(|d| d.policy_reason_code.clone())
    };
    Decision {
        version: DECISION_VERSION.to_string(),
        subject: subject.to_string(),
        input_digest: input_digest.to_string(),
        policy_digest: policy_digest.to_string(),
        outcome: if o.denials.is_empty() {
            Outcome::Allowed
        } else {
            Outcome::Denied
        },
        risk: o.risk,
        required: o.required,
        denials: o.denials,
        warnings: o.warnings,
        escalations: o.escalations,
        policy_reason_code,
        failure_reason_code,
    }
}

/// The strictest requirement, used whenever the policy cannot say.
pub fn critical_required() -> Required {
    Required {
        count: 3,
        roles: vec!["lead".into(), "lead".into(), "maintainer".into()],
    }
}

/// The decision for any fault: denied, critical, `POLICY_ERROR`.
pub fn fail_closed(
    subject: &str,
    input_digest: &str,
    policy_digest: &str,
    message: &str,
    failure_reason_code: Option<String>,
) -> Decision {
    Decision {
        version: DECISION_VERSION.to_string(),
        subject: subject.to_string(),
        input_digest: input_digest.to_string(),
        policy_digest: policy_digest.to_string(),
        outcome: Outcome::Denied,
        risk: Risk::Critical,
        required: critical_required(),
        denials: vec![Denial {
            policy_reason_code: POLICY_ERROR.to_string(),
            message: format!("policy failed closed: {message}"),
            rule: FAIL_CLOSED_RULE.to_string(),
        }],
        warnings: vec![],
        escalations: vec![],
        policy_reason_code: Some(POLICY_ERROR.to_string()),
        failure_reason_code,
    }
}
