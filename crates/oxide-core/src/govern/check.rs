//! Validation of governance edits (pure over the committed texts and the edits): an edited
//! policy must load (compile, no recursion, deterministic) and pass its own `test_*` rules;
//! the CI contract must match its JSON Schema and the contract's own rules; the settings must
//! parse into `Settings`; the trust registry must pass the signing room's strict parser.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{kind_of, GovernEdit, GovernKind};
use crate::policy::{self, PolicySet, TestReport};

/// One finding about an edited file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct GovernProblem {
    pub path: String,
    /// 1-based line, when the finding points at one.
    pub line: Option<u32>,
    /// Stable code, e.g. `TOML_SYNTAX`, `POLICY_LOAD`, `POLICY_TEST_FAILED`, `CHECKS_SCHEMA`.
    pub code: String,
    pub message: String,
}

/// The validation of one edited file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct FileCheck {
    pub path: String,
    pub kind: GovernKind,
    /// The text differs from the committed one (or the file is new).
    pub changed: bool,
    pub ok: bool,
    pub problems: Vec<GovernProblem>,
    /// What was checked, said plainly (e.g. which parser judged it).
    pub notes: Vec<String>,
}

/// The result of [`check_edits`].
#[derive(Debug)]
pub struct Checked {
    pub files: Vec<FileCheck>,
    pub changed: Vec<String>,
    /// The edited policy (committed files overlaid with the edits), when a policy file changed.
    pub policy: Option<PolicySet>,
    /// Its `policy test` report.
    pub tests: Option<TestReport>,
}

fn problem(path: &str, line: Option<u32>, code: &str, message: impl Into<String>) -> GovernProblem {
    GovernProblem {
        path: path.to_string(),
        line,
        code: code.to_string(),
        message: message.into(),
    }
}

fn line_of(text: &str, offset: usize) -> u32 {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u32
        + 1
}

/// TOML syntax: the parsed value, or the problem with its line.
fn toml_value(path: &str, text: &str) -> Result<toml::Value, GovernProblem> {
    toml::from_str::<toml::Value>(text).map_err(|e| {
        problem(
            path,
            e.span().map(|s| line_of(text, s.start)),
            "TOML_SYNTAX",
            e.message().trim().to_string(),
        )
    })
}

/// The CI contract: TOML, then its JSON Schema, then the rules the schema cannot say.
fn check_checks(path: &str, text: &str, out: &mut FileCheck) {
    let value = match toml_value(path, text) {
        Ok(v) => v,
        Err(p) => return out.problems.push(p),
    };
    let doc = match serde_json::to_value(&value) {
        Ok(d) => d,
        Err(e) => {
            return out
                .problems
                .push(problem(path, None, "CHECKS_SCHEMA", e.to_string()))
        }
    };
    let schema = crate::checks::config::checks_schema();
    match jsonschema::validator_for(&schema) {
        Ok(v) => {
            for e in v.iter_errors(&doc) {
                let at = e.instance_path().to_string();
                out.problems.push(problem(
                    path,
                    None,
                    "CHECKS_SCHEMA",
                    format!("{}: {e}", if at.is_empty() { "/" } else { &at }),
                ));
            }
        }
        Err(e) => out.problems.push(problem(
            path,
            None,
            "CHECKS_SCHEMA",
            format!("the contract schema does not compile: {e}"),
        )),
    }
    out.notes
        .push("checked against docs/schemas/checks.schema.json".into());
    if !out.problems.is_empty() {
        return;
    }
    match crate::checks::parse(path, text) {
        Ok(c) if c.checks.is_empty() => out.problems.push(problem(
            path,
            None,
            "CHECKS_NONE",
            "the contract defines no [[check]]: a proposal is never validated by zero checks",
        )),
        Ok(_) => {}
        Err(e) => out
            .problems
            .push(problem(path, None, e.code(), e.to_string())),
    }
}

fn check_settings(path: &str, text: &str, out: &mut FileCheck) {
    if let Err(p) = toml_value(path, text) {
        return out.problems.push(p);
    }
    if let Err(e) = crate::workspace::parse_settings(path, text) {
        out.problems
            .push(problem(path, None, e.code(), e.to_string()));
    }
    out.notes
        .push("parsed as the workspace settings (unknown keys refused)".into());
}

fn check_registry(path: &str, text: &str, out: &mut FileCheck) {
    if let Err(p) = toml_value(path, text) {
        return out.problems.push(p);
    }
    // The signing room's strict parser: unknown fields, duplicate persons or keys, bad keys
    // and bad times are refused with the field they are in.
    match crate::signing::registry::Registry::parse(path, text) {
        Ok(r) => out.notes.push(format!(
            "parsed as the trust registry (signing room): {} person(s)",
            r.persons.len()
        )),
        Err(e) => out
            .problems
            .push(problem(path, None, e.code(), e.to_string())),
    }
}

/// Validates `edits` against `committed` (path → committed text). Paths must already be
/// editable governance paths ([`kind_of`]); a path that is not is reported as a problem.
pub fn check_edits(committed: &BTreeMap<String, String>, edits: &[GovernEdit]) -> Checked {
    let mut files: Vec<FileCheck> = Vec::new();
    let mut changed = Vec::new();
    let mut policy_edits: BTreeMap<String, String> = BTreeMap::new();
    let mut sorted: Vec<&GovernEdit> = edits.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    for e in sorted {
        let Ok(kind) = kind_of(&e.path) else {
            files.push(FileCheck {
                path: e.path.clone(),
                kind: GovernKind::Settings,
                changed: false,
                ok: false,
                problems: vec![problem(
                    &e.path,
                    None,
                    "GOVERN_PATH",
                    "not a governance file the app edits",
                )],
                notes: vec![],
            });
            continue;
        };
        let is_changed = committed.get(&e.path) != Some(&e.text);
        let mut fc = FileCheck {
            path: e.path.clone(),
            kind,
            changed: is_changed,
            ok: true,
            problems: Vec::new(),
            notes: Vec::new(),
        };
        if is_changed {
            changed.push(e.path.clone());
            match kind {
                GovernKind::Checks => check_checks(&e.path, &e.text, &mut fc),
                GovernKind::Settings => check_settings(&e.path, &e.text, &mut fc),
                GovernKind::Registry => check_registry(&e.path, &e.text, &mut fc),
                GovernKind::Policy => {
                    policy_edits.insert(e.path.clone(), e.text.clone());
                }
            }
        } else {
            fc.notes.push("unchanged".into());
        }
        files.push(fc);
    }
    let (policy, tests) = if policy_edits.is_empty() {
        (None, None)
    } else {
        check_policy(committed, &policy_edits, &mut files)
    };
    for f in &mut files {
        f.ok = f.problems.is_empty();
    }
    Checked {
        files,
        changed,
        policy,
        tests,
    }
}

/// The edited policy: every committed `.rego` under the policy folder, overlaid with the
/// edits, loaded and tested. Problems go to the edited file they name (else the first one).
fn check_policy(
    committed: &BTreeMap<String, String>,
    edits: &BTreeMap<String, String>,
    files: &mut [FileCheck],
) -> (Option<PolicySet>, Option<TestReport>) {
    let prefix = format!("{}/", policy::POLICY_DIR);
    let mut set: BTreeMap<String, String> = committed
        .iter()
        .filter(|(p, _)| p.starts_with(&prefix) && p.ends_with(".rego"))
        .map(|(p, t)| (p[prefix.len()..].to_string(), t.clone()))
        .collect();
    for (p, t) in edits {
        set.insert(p[prefix.len()..].to_string(), t.clone());
    }
    let first = edits.keys().next().cloned().unwrap_or_default();
    let target = |rel: &str| -> String {
        let full = format!("{prefix}{rel}");
        if edits.contains_key(&full) {
            full
        } else {
            first.clone()
        }
    };
    let push = |files: &mut [FileCheck], p: GovernProblem| {
        if let Some(f) = files.iter_mut().find(|f| f.path == p.path) {
            f.problems.push(p);
        }
    };
    let policy = match PolicySet::from_files(set) {
        Ok(p) => p,
        Err(e) => {
            push(files, problem(&first, None, e.code(), e.to_string()));
            return (None, None);
        }
    };
    if let Some(err) = policy.load_error() {
        // Load errors start with the file they are about (`oxide.rego: ...`) when regorus
        // names one.
        let rel = policy
            .files()
            .keys()
            .find(|k| err.starts_with(&format!("{k}:")) || err.contains(&format!("{k}:")))
            .cloned()
            .unwrap_or_default();
        push(
            files,
            problem(
                &target(&rel),
                None,
                "POLICY_LOAD",
                format!("the policy does not load: {err}"),
            ),
        );
        return (Some(policy), None);
    }
    let report = policy::run_tests(&policy);
    if report.tests.is_empty() {
        push(
            files,
            problem(
                &first,
                None,
                "POLICY_NO_TESTS",
                "the edited policy has no test_* rule; keep its tests (e.g. oxide_test.rego) so `policy test` can vouch for it",
            ),
        );
    }
    for t in report.tests.iter().filter(|t| !t.ok) {
        push(
            files,
            problem(
                &target(&t.file),
                None,
                "POLICY_TEST_FAILED",
                format!(
                    "policy test {} ({}) failed: {}",
                    t.name,
                    t.file,
                    t.message.as_deref().unwrap_or("false")
                ),
            ),
        );
    }
    for f in files
        .iter_mut()
        .filter(|f| f.kind == GovernKind::Policy && f.changed)
    {
        f.notes.push(format!(
            "compiled with the rest of .oxide/policy; policy test: {} passed, {} failed",
            report.passed, report.failed
        ));
    }
    (Some(policy), Some(report))
}
