//! `policy test`: every `test_*` rule of the policy evaluated; it passes when it is `true`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::PolicySet;

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

/// `policy test` for the workspace policy (or `dir`).
pub fn test_workspace(
    ws: &crate::Workspace,
    dir: Option<&Path>,
) -> Result<TestReport, crate::Error> {
    Ok(run_tests(&super::workspace_policy(ws, dir)?))
}
