//! Issue 6 journeys: risk and policy gates through the real `oxide` binary.
//! Table-driven over the default policy (`oxide init` writes it), fail-closed policies,
//! `policy test`, and `policy sim` over an exported snapshot.

use std::path::Path;

use oxide_journeys::TestRepo;
use serde_json::{json, Value};

fn base_input() -> Value {
    json!({
        "version": "oxide.policy.input/v1",
        "proposal": {
            "id": null,
            "digest": format!("sha256:{}", "a".repeat(64)),
            "state": "validated",
            "failure_reason_code": null,
            "ops": [{"op": "text_edit", "path": "src/greeting.txt", "lines_added": 1, "lines_removed": 1}],
            "touched_paths": ["src/greeting.txt"],
            "lines_added": 1,
            "lines_removed": 1,
            "risk_hints": []
        },
        "skill": {"digest": format!("sha256:{}", "b".repeat(64)), "source": "host", "submitted_by": "alice"},
        "provenance": {"synthesizer": "manual", "model": null, "model_digest": null},
        "validation": {"ran": true, "run_id": "r1", "branch_commit": "c1", "head_commit": "c1", "checks": [
            {"name": "unit", "status": "passed", "required": true, "sandboxed": true},
            {"name": "lint", "status": "passed", "required": false, "sandboxed": true}
        ]},
        "capsules": [],
        "actor": "tester",
        "settings": {"target_branch": "main", "rollout_mode": "shadow", "fallback_mode": "strict"}
    })
}

fn with_ops(mut input: Value, ops: &[(&str, &str, u64, u64)]) -> Value {
    let mut paths: Vec<&str> = ops.iter().map(|o| o.1).collect();
    paths.sort();
    paths.dedup();
    input["proposal"]["ops"] = ops
        .iter()
        .map(|(op, path, a, r)| json!({"op": op, "path": path, "lines_added": a, "lines_removed": r}))
        .collect();
    input["proposal"]["touched_paths"] = json!(paths);
    input["proposal"]["lines_added"] = json!(ops.iter().map(|o| o.2).sum::<u64>());
    input["proposal"]["lines_removed"] = json!(ops.iter().map(|o| o.3).sum::<u64>());
    input
}

fn capsule(eligible: bool, target: &str) -> Value {
    json!({
        "upsert_key": format!("sha256:{}", "c".repeat(64)),
        "target": {"kind": "path", "id": target},
        "action_kind": "edit",
        "failure_reason_code": "UNIT_FAILED",
        "eligible": eligible,
        "confidence": 0.9
    })
}

fn eval_input(repo: &TestRepo, input: &Value) -> (i32, Value) {
    let file = repo.data.path().join("input.json");
    std::fs::write(&file, serde_json::to_vec(input).unwrap()).unwrap();
    let run = repo.oxide(&[
        "--json",
        "policy",
        "eval",
        "--input",
        file.to_str().unwrap(),
    ]);
    let code = run.code;
    (code, run.json())
}

fn codes(d: &Value) -> Vec<String> {
    let mut v: Vec<String> = d["denials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["policy_reason_code"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

struct Case {
    name: &'static str,
    input: Value,
    risk: &'static str,
    count: u64,
    roles: &'static [&'static str],
    denials: &'static [&'static str],
    escalations: &'static [&'static str],
    warnings: &'static [&'static str],
}

#[test]
fn policy_eval_default_policy_table() {
    let repo = TestRepo::new();
    repo.init();
    // The policy that decides is the one committed on the target branch (else a warning).
    oxide_journeys::git(repo.path(), &["add", ".oxide"]);
    oxide_journeys::git(repo.path(), &["commit", "-q", "-m", "governance"]);
    let b = base_input;
    let mut cases = vec![
        Case {
            name: "small edit is low",
            input: b(),
            risk: "low",
            count: 1,
            roles: &["approver"],
            denials: &[],
            escalations: &[],
            warnings: &[],
        },
        Case {
            name: "60 changed lines is medium",
            input: with_ops(b(), &[("text_edit", "src/a.rs", 40, 20)]),
            risk: "medium",
            count: 2,
            roles: &["approver", "approver"],
            denials: &[],
            escalations: &["oxide.medium_change"],
            warnings: &[],
        },
        Case {
            name: "a deletion is medium",
            input: with_ops(b(), &[("delete_file", "src/old.rs", 0, 3)]),
            risk: "medium",
            count: 2,
            roles: &["approver", "approver"],
            denials: &[],
            escalations: &["oxide.deletion"],
            warnings: &[],
        },
        Case {
            name: "eleven files is medium",
            input: with_ops(
                b(),
                &[
                    ("create_file", "d/1", 1, 0),
                    ("create_file", "d/2", 1, 0),
                    ("create_file", "d/3", 1, 0),
                    ("create_file", "d/4", 1, 0),
                    ("create_file", "d/5", 1, 0),
                    ("create_file", "d/6", 1, 0),
                    ("create_file", "d/7", 1, 0),
                    ("create_file", "d/8", 1, 0),
                    ("create_file", "d/9", 1, 0),
                    ("create_file", "d/10", 1, 0),
                    ("create_file", "d/11", 1, 0),
                ],
            ),
            risk: "medium",
            count: 2,
            roles: &["approver", "approver"],
            denials: &[],
            escalations: &["oxide.many_files"],
            warnings: &[],
        },
        Case {
            name: "protected path is high",
            input: with_ops(b(), &[("text_edit", "src/auth/login.rs", 2, 1)]),
            risk: "high",
            count: 2,
            roles: &["lead", "approver"],
            denials: &[],
            escalations: &["oxide.protected_path"],
            warnings: &[],
        },
        Case {
            name: "migration is protected",
            input: with_ops(b(), &[("create_file", "migrations/0009_x.sql", 3, 0)]),
            risk: "high",
            count: 2,
            roles: &["lead", "approver"],
            denials: &[],
            escalations: &["oxide.protected_path"],
            warnings: &[],
        },
        Case {
            name: "300 changed lines is high",
            input: with_ops(b(), &[("create_file", "src/big.rs", 300, 0)]),
            risk: "high",
            count: 2,
            roles: &["lead", "approver"],
            denials: &[],
            escalations: &["oxide.large_change"],
            warnings: &[],
        },
        Case {
            name: "deletion of a protected key is high (highest escalation wins)",
            input: with_ops(b(), &[("delete_file", "certs/server.pem", 0, 20)]),
            risk: "high",
            count: 2,
            roles: &["lead", "approver"],
            denials: &[],
            escalations: &["oxide.deletion", "oxide.protected_path"],
            warnings: &[],
        },
        Case {
            name: "governance change by a person is critical",
            input: with_ops(b(), &[("text_edit", ".oxide/checks.toml", 1, 1)]),
            risk: "critical",
            count: 3,
            roles: &["lead", "lead", "maintainer"],
            denials: &[],
            escalations: &["oxide.governance_change"],
            warnings: &[],
        },
        Case {
            name: "gitlab CI file is governance",
            input: with_ops(b(), &[("text_edit", ".gitlab-ci.yml", 1, 1)]),
            risk: "critical",
            count: 3,
            roles: &["lead", "lead", "maintainer"],
            denials: &[],
            escalations: &["oxide.governance_change"],
            warnings: &[],
        },
        Case {
            name: "checks not run warns and is no allow",
            input: {
                let mut i = b();
                i["validation"] = json!({"ran": false, "checks": []});
                i
            },
            risk: "low",
            count: 1,
            roles: &["approver"],
            denials: &["NOT_VALIDATED"],
            escalations: &[],
            warnings: &["CHECKS_NOT_RUN"],
        },
        Case {
            name: "failed advisory check does not deny",
            input: {
                let mut i = b();
                i["validation"]["checks"][1]["status"] = json!("failed");
                i
            },
            risk: "low",
            count: 1,
            roles: &["approver"],
            denials: &[],
            escalations: &[],
            warnings: &[],
        },
        Case {
            name: "guided mode warns on an eligible capsule",
            input: {
                let mut i = b();
                i["settings"]["rollout_mode"] = json!("guided");
                i["capsules"] = json!([capsule(true, "src/**")]);
                i
            },
            risk: "low",
            count: 1,
            roles: &["approver"],
            denials: &[],
            escalations: &[],
            warnings: &["CAPSULE_GUIDED"],
        },
        Case {
            name: "shadow mode ignores capsules",
            input: {
                let mut i = b();
                i["capsules"] = json!([capsule(true, "src/greeting.txt")]);
                i
            },
            risk: "low",
            count: 1,
            roles: &["approver"],
            denials: &[],
            escalations: &[],
            warnings: &[],
        },
        Case {
            name: "prescriptive mode ignores an ineligible capsule",
            input: {
                let mut i = b();
                i["settings"]["rollout_mode"] = json!("prescriptive");
                i["capsules"] = json!([capsule(false, "src/greeting.txt")]);
                i
            },
            risk: "low",
            count: 1,
            roles: &["approver"],
            denials: &[],
            escalations: &[],
            warnings: &[],
        },
        // Denials.
        Case {
            name: "O.X.I.D.E (ollama) may not touch CI workflows",
            input: {
                let mut i = with_ops(b(), &[("text_edit", ".github/workflows/ci.yml", 1, 1)]);
                i["provenance"] = json!({"synthesizer": "ollama", "model": "llama3.2:latest", "model_digest": "abc"});
                i
            },
            risk: "critical",
            count: 3,
            roles: &["lead", "lead", "maintainer"],
            denials: &["GOVERNANCE_BY_OXIDE"],
            escalations: &["oxide.governance_change"],
            warnings: &[],
        },
        Case {
            name: "O.X.I.D.E (replay) may not touch .oxide either",
            input: {
                let mut i = with_ops(b(), &[("create_file", ".oxide/policy/allow.rego", 3, 0)]);
                i["provenance"]["synthesizer"] = json!("replay");
                i
            },
            risk: "critical",
            count: 3,
            roles: &["lead", "lead", "maintainer"],
            denials: &["GOVERNANCE_BY_OXIDE"],
            escalations: &["oxide.governance_change"],
            warnings: &[],
        },
        Case {
            name: "failed required check denies",
            input: {
                let mut i = b();
                i["validation"]["checks"][0]["status"] = json!("timed_out");
                i
            },
            risk: "low",
            count: 1,
            roles: &["approver"],
            denials: &["REQUIRED_CHECK_FAILED"],
            escalations: &[],
            warnings: &[],
        },
        Case {
            name: "prescriptive mode denies on an eligible matching capsule",
            input: {
                let mut i = b();
                i["settings"]["rollout_mode"] = json!("prescriptive");
                i["capsules"] = json!([capsule(true, "src/greeting.txt")]);
                i
            },
            risk: "low",
            count: 1,
            roles: &["approver"],
            denials: &["CAPSULE_PRESCRIPTIVE"],
            escalations: &[],
            warnings: &[],
        },
        Case {
            name: "a path with .. is denied and critical",
            input: with_ops(b(), &[("text_edit", "src/../.oxide/oxide.toml", 1, 1)]),
            risk: "critical",
            count: 3,
            roles: &["lead", "lead", "maintainer"],
            denials: &["PATH_NOT_NORMALIZED"],
            escalations: &["oxide.path_not_normalized"],
            warnings: &[],
        },
    ];
    // A case-folded governance path is still governance.
    cases.push(Case {
        name: "case does not hide a workflow file",
        input: {
            let mut i = with_ops(b(), &[("text_edit", ".GitHub/Workflows/CI.yml", 1, 1)]);
            i["provenance"]["synthesizer"] = json!("ollama");
            i
        },
        risk: "critical",
        count: 3,
        roles: &["lead", "lead", "maintainer"],
        denials: &["GOVERNANCE_BY_OXIDE"],
        escalations: &["oxide.governance_change"],
        warnings: &[],
    });

    for c in &cases {
        let (code, d) = eval_input(&repo, &c.input);
        let denied = !c.denials.is_empty();
        assert_eq!(
            code,
            if denied { 3 } else { 0 },
            "{}: exit code\n{d:#}",
            c.name
        );
        assert_eq!(d["risk"], c.risk, "{}: risk\n{d:#}", c.name);
        assert_eq!(d["required"]["count"], c.count, "{}: count", c.name);
        assert_eq!(strs(&d["required"]["roles"]), c.roles, "{}: roles", c.name);
        assert_eq!(codes(&d), c.denials, "{}: denials\n{d:#}", c.name);
        let mut esc: Vec<String> = d["escalations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["rule"].as_str().unwrap().to_string())
            .collect();
        esc.sort();
        assert_eq!(esc, c.escalations, "{}: escalations\n{d:#}", c.name);
        let warns: Vec<String> = d["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["code"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(warns, c.warnings, "{}: warnings", c.name);
        assert_eq!(d["outcome"], if denied { "denied" } else { "allowed" });
        assert!(d["policy_digest"].as_str().unwrap().starts_with("sha256:"));
        for x in d["denials"].as_array().unwrap() {
            assert!(
                !x["message"].as_str().unwrap().is_empty(),
                "{}: explained",
                c.name
            );
            assert!(x["rule"].as_str().unwrap().starts_with("oxide."));
        }
        if denied {
            assert_eq!(d["policy_reason_code"], c.denials[0], "{}", c.name);
        } else {
            assert!(d["policy_reason_code"].is_null());
        }
    }

    // Every decision was recorded and audited; the chain still verifies.
    let events = repo.oxide(&["--json", "audit", "list"]).expect(0).json();
    let n = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "policy.decision")
        .count();
    assert_eq!(n, cases.len());
    assert_eq!(
        repo.oxide(&["--json", "audit", "verify"]).expect(0).json()["ok"],
        true
    );
}

#[test]
fn policy_denial_keeps_failure_reason_code() {
    let repo = TestRepo::new();
    repo.init();
    let mut i = base_input();
    i["proposal"]["failure_reason_code"] = json!("UNIT_FAILED");
    i["validation"]["checks"][0]["status"] = json!("failed");
    let (code, d) = eval_input(&repo, &i);
    assert_eq!(code, 3);
    assert_eq!(d["policy_reason_code"], "REQUIRED_CHECK_FAILED");
    assert_eq!(d["failure_reason_code"], "UNIT_FAILED");
}

fn write_policy(repo: &TestRepo, text: &str) {
    let dir = repo.path().join(".oxide/policy");
    std::fs::write(dir.join("oxide.rego"), text).unwrap();
}

/// Governance takes effect once committed on the target branch (the working tree's copy is a
/// draft, never used).
fn commit_governance(repo: &TestRepo) {
    oxide_journeys::git(repo.path(), &["add", ".oxide"]);
    oxide_journeys::git(
        repo.path(),
        &["commit", "-q", "--allow-empty", "-m", "governance"],
    );
}

const OK_DECISION: &str = "{\"risk\": \"low\", \"required\": {\"count\": 1, \"roles\": [\"approver\"]}, \"denials\": [], \"warnings\": [], \"escalations\": []}";

#[test]
fn policy_fail_closed_cases_each_deny_with_policy_error() {
    let cases: Vec<(&str, String, Option<Value>, &str)> = vec![
        (
            "syntax error",
            "package oxide\n\ndecision := {\"risk\": \n".into(),
            None,
            "does not load",
        ),
        (
            "recursive function",
            format!("package oxide\n\nf(x) := y if {{ y := f(x + 1) }}\n\ndecision := {OK_DECISION} if f(1)\n"),
            None,
            "recursion",
        ),
        (
            "recursive rules",
            format!("package oxide\n\na if b\n\nb if a\n\ndecision := {OK_DECISION} if a\n"),
            None,
            "recursion",
        ),
        (
            "runaway loop",
            format!("package oxide\n\nn := count([1 | some a in numbers.range(1, 30000); some b in numbers.range(1, 30000)])\n\ndecision := {OK_DECISION} if n > 0\n"),
            None,
            "evaluating",
        ),
        (
            "rule reads a field the input lacks",
            "package oxide\n\ndecision := {\"risk\": \"low\", \"required\": {\"count\": input.proposal.approvers_needed, \"roles\": []}, \"denials\": [], \"warnings\": [], \"escalations\": []}\n".into(),
            None,
            "undefined",
        ),
        (
            "input lacks a field (default policy)",
            String::new(),
            Some({
                let mut i = base_input();
                i["proposal"].as_object_mut().unwrap().remove("touched_paths");
                i
            }),
            "touched_paths",
        ),
        (
            "non-deterministic built-in",
            format!(
                "package oxide\n\ndecision := {OK_DECISION} if rand.intn(\"seed\", 10) >= 0\n"
            ),
            None,
            "not deterministic",
        ),
        (
            "rule returns the wrong type",
            "package oxide\n\ndecision := true\n".into(),
            None,
            "wrong shape",
        ),
        (
            "risk of the wrong type",
            "package oxide\n\ndecision := {\"risk\": 1, \"required\": {\"count\": 1, \"roles\": []}, \"denials\": [], \"warnings\": [], \"escalations\": []}\n".into(),
            None,
            "wrong shape",
        ),
        (
            "decision undefined",
            "package oxide\n\ndecision := {} if false\n".into(),
            None,
            "undefined",
        ),
    ];
    for (name, policy, input, needle) in cases {
        let repo = TestRepo::new();
        repo.init();
        if !policy.is_empty() {
            // The faulty policy is committed (it decides); the working tree then holds the
            // default policy again: a draft that would fix it but is not in force.
            let default =
                std::fs::read_to_string(repo.path().join(".oxide/policy/oxide.rego")).unwrap();
            write_policy(&repo, &policy);
            commit_governance(&repo);
            write_policy(&repo, &default);
        }
        let input = input.unwrap_or_else(base_input);
        let (code, d) = eval_input(&repo, &input);
        assert_eq!(code, 3, "{name}: denied with exit 3\n{d:#}");
        assert_eq!(d["outcome"], "denied", "{name}");
        assert_eq!(d["policy_reason_code"], "POLICY_ERROR", "{name}\n{d:#}");
        assert_eq!(codes(&d), vec!["POLICY_ERROR"], "{name}");
        assert_eq!(d["risk"], "critical", "{name}");
        let msg = d["denials"][0]["message"].as_str().unwrap();
        assert!(
            msg.contains(needle),
            "{name}: message {msg:?} mentions {needle:?}"
        );
        // The policy in the working tree is not the committed one: the decision says so.
        assert!(
            d["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w["code"] == "POLICY_NOT_COMMITTED"),
            "{name}: {d:#}"
        );
        let events = repo.oxide(&["--json", "audit", "list"]).expect(0).json();
        let errs = events["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "policy.error")
            .count();
        assert_eq!(errs, 1, "{name}: one policy.error audit event");
    }
}

#[test]
fn policy_test_runs_test_rules() {
    let repo = TestRepo::new();
    repo.init();
    let rep = repo.oxide(&["--json", "policy", "test"]).expect(0).json();
    assert!(rep["passed"].as_u64().unwrap() >= 9, "{rep:#}");
    assert_eq!(rep["failed"], 0);
    // A failing test makes the run exit 3 and names it.
    let extra = repo.path().join(".oxide/policy/extra_test.rego");
    std::fs::write(
        &extra,
        "package extra_test\n\nimport data.oxide\n\ntest_everything_is_low if {\n\td := oxide.decision with input as data.oxide_test.base\n\td.risk == \"critical\"\n}\n",
    )
    .unwrap();
    commit_governance(&repo);
    let rep = repo.oxide(&["--json", "policy", "test"]).expect(3).json();
    assert_eq!(rep["failed"], 1);
    let failing: Vec<&Value> = rep["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["ok"] == false)
        .collect();
    assert_eq!(failing[0]["name"], "data.extra_test.test_everything_is_low");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn policy_sim_is_byte_identical_and_shows_exactly_the_flips() {
    let repo = TestRepo::new();
    repo.init();
    // Recorded decisions at 10, 60, 90, 150 and 300 changed lines, and a governance change.
    let sizes = [10u64, 60, 90, 150, 300];
    for n in sizes {
        let (_, d) = eval_input(
            &repo,
            &with_ops(base_input(), &[("create_file", "src/x.rs", n, 0)]),
        );
        assert!(d["decision_id"].as_i64().is_some());
    }
    eval_input(
        &repo,
        &with_ops(base_input(), &[("text_edit", ".oxide/oxide.toml", 1, 1)]),
    );
    let snap = repo.data.path().join("snapshot.jsonl");
    let exp = repo
        .oxide(&[
            "--json",
            "policy",
            "snapshot",
            "export",
            snap.to_str().unwrap(),
        ])
        .expect(0)
        .json();
    assert_eq!(exp["decisions"], 6);
    let lines = std::fs::read_to_string(&snap).unwrap();
    assert_eq!(lines.lines().count(), 6);

    // Same snapshot, same policy: nothing changes, and the output is byte-identical.
    let a = repo
        .oxide(&[
            "--json",
            "policy",
            "sim",
            "--snapshot",
            snap.to_str().unwrap(),
        ])
        .expect(0);
    let b = repo
        .oxide(&[
            "--json",
            "policy",
            "sim",
            "--snapshot",
            snap.to_str().unwrap(),
        ])
        .expect(0);
    assert_eq!(a.stdout, b.stdout, "byte-identical");
    assert_eq!(a.json()["changed"], 0);
    assert_eq!(a.json()["decisions"].as_array().unwrap().len(), 6);

    // Raise the medium threshold to 100 lines in a copy: only the 60 and 90 line decisions flip.
    let copy = repo.data.path().join("policy-raised");
    copy_dir(&repo.path().join(".oxide/policy"), &copy);
    let rego = copy.join("oxide.rego");
    let text = std::fs::read_to_string(&rego).unwrap();
    assert!(text.contains("medium_change_lines := 50"));
    std::fs::write(
        &rego,
        text.replace("medium_change_lines := 50", "medium_change_lines := 100"),
    )
    .unwrap();
    let args = [
        "--json",
        "policy",
        "sim",
        "--snapshot",
        snap.to_str().unwrap(),
        "--policy",
        copy.to_str().unwrap(),
    ];
    let r1 = repo.oxide(&args).expect(0);
    let r2 = repo.oxide(&args).expect(0);
    assert_eq!(
        r1.stdout, r2.stdout,
        "byte-identical under the changed policy too"
    );
    let r = r1.json();
    assert_eq!(r["changed"], 2, "{r:#}");
    let ids: Vec<i64> = r["flipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let decisions = r["decisions"].as_array().unwrap();
    let flipped_subjects: Vec<i64> = decisions
        .iter()
        .filter(|d| d["changed"] == true)
        .map(|d| d["decision_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, flipped_subjects);
    for (i, d) in decisions.iter().enumerate() {
        let should_flip = i == 1 || i == 2;
        assert_eq!(d["changed"], should_flip, "decision {i}: {d:#}");
        if should_flip {
            assert_eq!(d["recorded"]["risk"], "medium");
            assert_eq!(d["simulated"]["risk"], "low");
            assert_eq!(d["changes"][0], "risk: medium -> low");
        }
    }
    assert_ne!(r["policy_digest"], a.json()["policy_digest"]);

    // A bad snapshot is refused with its line number; nothing else happens.
    let bad = repo.data.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        format!("{}\nnot json\n", lines.lines().next().unwrap()),
    )
    .unwrap();
    let e = repo
        .oxide(&[
            "--json",
            "policy",
            "sim",
            "--snapshot",
            bad.to_str().unwrap(),
        ])
        .expect(2);
    assert_eq!(e.error_code(), "POLICY_BAD_SNAPSHOT");
    assert!(e.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("line 2"));
}

#[test]
fn policy_eval_bad_usage_is_refused() {
    let repo = TestRepo::new();
    repo.init();
    let e = repo.oxide(&["--json", "policy", "eval"]).expect(2);
    assert_eq!(e.error_code(), "USAGE");
    let f = repo.data.path().join("x.json");
    std::fs::write(&f, "[1, 2]").unwrap();
    let e = repo
        .oxide(&["--json", "policy", "eval", "--input", f.to_str().unwrap()])
        .expect(2);
    assert_eq!(e.error_code(), "POLICY_BAD_INPUT");
    let e = repo
        .oxide(&["--json", "policy", "eval", "nosuchid"])
        .expect(2);
    assert_eq!(e.error_code(), "POLICY_UNKNOWN_PROPOSAL");
    // No policy folder at all: a clear error, not an evaluation.
    let dir = repo.path().join(".oxide/policy");
    std::fs::remove_dir_all(&dir).unwrap();
    let e = repo
        .oxide(&[
            "--json",
            "policy",
            "test",
            "--policy",
            dir.to_str().unwrap(),
        ])
        .expect(2);
    assert_eq!(e.error_code(), "POLICY_NOT_FOUND");
}

// ------------------------------------------------------------------ by proposal id

mod by_id {
    use super::*;
    use oxide_journeys::fake_ollama::{Behavior, FakeOllama, DIGEST, MODEL};

    /// A repository with the fake model pinned and one host skill; returns the skill id.
    fn setup() -> (TestRepo, String) {
        let repo = TestRepo::with_files(&[
            ("README.md", "# demo\nhello world\n"),
            ("src/old.txt", "one\ntwo\nthree\nfour\n"),
        ]);
        repo.init();
        std::fs::write(
            repo.path().join(".oxide/oxide.toml"),
            format!(
                "[workflow]\ntarget_branch = \"main\"\n\n[synth]\nmodel = \"{MODEL}\"\nmodel_digest = \"{DIGEST}\"\nseed = 42\nnum_ctx = 8192\ntimeout_s = 5\n"
            ),
        )
        .unwrap();
        commit_governance(&repo);
        let skill = repo.data.path().join("skill.json");
        std::fs::write(
            &skill,
            json!({
                "title": "Tidy the repository",
                "description": "Keep things tidy.",
                "source": "host",
                "submitted_by": "ana",
                "evidence_refs": [],
                "targets": ["README.md", "src/*"]
            })
            .to_string(),
        )
        .unwrap();
        let added = repo
            .oxide(&["--json", "skill", "add", skill.to_str().unwrap()])
            .expect(0)
            .json();
        (repo, added["id"].as_str().unwrap().to_string())
    }

    fn propose(repo: &TestRepo, skill: &str, intent: &Value) -> Value {
        let server = FakeOllama::start(Behavior::answering(intent));
        repo.oxide_env(
            &["--json", "propose", "--skill", skill],
            &[("OLLAMA_HOST", &server.host())],
        )
        .expect(0)
        .json()
    }

    #[test]
    fn policy_eval_by_id_reads_the_proposal_room() {
        let (repo, skill) = setup();
        let p = propose(
            &repo,
            &skill,
            &json!({"rationale": "greet", "risk_hints": [], "ops": [
                {"op": "text_edit", "path": "README.md", "find": "hello world", "replace": "hello oxide"}
            ]}),
        );
        assert_eq!(p["state"], "proposed", "{p:#}");
        let id = p["id"].as_str().unwrap();
        // Never validated: no allow (NOT_VALIDATED), but no denial of the change either.
        let d = repo
            .oxide(&["--json", "policy", "eval", id])
            .expect(3)
            .json();
        assert_eq!(d["risk"], "low", "{d:#}");
        assert_eq!(d["required"]["count"], 1);
        assert_eq!(codes(&d), vec!["NOT_VALIDATED"]);
        assert_eq!(d["outcome"], "denied");
        assert_eq!(d["subject"], id);
        assert_eq!(d["state"], "proposed");
        // The input came from the proposal, skill, provenance and checks rooms.
        let input = &d["input"];
        assert_eq!(input["proposal"]["id"], id);
        assert_eq!(input["proposal"]["digest"], p["digest"]);
        assert_eq!(input["proposal"]["touched_paths"], json!(["README.md"]));
        assert_eq!(input["proposal"]["lines_added"], 1);
        assert_eq!(input["proposal"]["lines_removed"], 1);
        assert_eq!(input["skill"]["source"], "host");
        assert_eq!(input["skill"]["submitted_by"], "ana");
        assert_eq!(input["provenance"]["synthesizer"], "ollama");
        assert_eq!(input["provenance"]["model"], MODEL);
        assert_eq!(input["validation"]["ran"], false);
        assert_eq!(d["warnings"][0]["code"], "CHECKS_NOT_RUN");
        // Recorded and exportable, keyed by the proposal.
        let snap = repo.data.path().join("s.jsonl");
        repo.oxide(&[
            "--json",
            "policy",
            "snapshot",
            "export",
            snap.to_str().unwrap(),
        ])
        .expect(0);
        let line: Value = serde_json::from_str(
            std::fs::read_to_string(&snap)
                .unwrap()
                .lines()
                .next()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(line["subject"], id);
        assert_eq!(line["input"], *input);
    }

    #[test]
    fn policy_eval_by_id_denies_oxide_governance_and_counts_deletions() {
        let (repo, skill) = setup();
        let p = propose(
            &repo,
            &skill,
            &json!({"rationale": "ci", "risk_hints": [], "ops": [
                {"op": "create_file", "path": ".github/workflows/release.yml", "content": "on: push\n"}
            ]}),
        );
        match p["id"].as_str() {
            Some(id) if p["state"] == "proposed" => {
                let d = repo
                    .oxide(&["--json", "policy", "eval", id])
                    .expect(3)
                    .json();
                assert_eq!(d["risk"], "critical", "{d:#}");
                assert_eq!(d["policy_reason_code"], "GOVERNANCE_BY_OXIDE");
                assert_eq!(
                    d["required"]["roles"],
                    json!(["lead", "lead", "maintainer"])
                );
            }
            // The synthesis room refuses governance ops first (no_op); policy never sees it.
            _ => assert_eq!(p["state"], "no_op", "{p:#}"),
        }

        let p = propose(
            &repo,
            &skill,
            &json!({"rationale": "drop", "risk_hints": [], "ops": [
                {"op": "delete_file", "path": "src/old.txt"}
            ]}),
        );
        assert_eq!(p["state"], "proposed", "{p:#}");
        let id = p["id"].as_str().unwrap();
        let d = repo
            .oxide(&["--json", "policy", "eval", id])
            .expect(3)
            .json();
        assert_eq!(codes(&d), vec!["NOT_VALIDATED"], "{d:#}");
        assert_eq!(d["risk"], "medium", "{d:#}");
        // Lines removed are read from the base commit through git.
        assert_eq!(d["input"]["proposal"]["lines_removed"], 4);
        assert_eq!(d["escalations"][0]["rule"], "oxide.deletion");
    }

    fn set_rollout(repo: &TestRepo, mode: &str) {
        let path = repo.path().join(".oxide/oxide.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let text = match text.find("[binder]") {
            Some(_) => text,
            None => format!("{text}\n[binder]\nrollout_mode = \"shadow\"\n"),
        };
        let re_start = text.find("rollout_mode = ").unwrap();
        let re_end = re_start + text[re_start..].find('\n').unwrap();
        let text = format!(
            "{}rollout_mode = \"{mode}\"{}",
            &text[..re_start],
            &text[re_end..]
        );
        std::fs::write(&path, text).unwrap();
        commit_governance(repo);
    }

    #[test]
    fn policy_eval_by_id_gates_on_binder_capsules_by_rollout_mode() {
        let (repo, skill) = setup();
        // Five failing runs that touched README.md: an eligible failure capsule on that path.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let day = now / 86_400;
        let (y, m, d) = civil(day as i64);
        let observed = format!("{y:04}-{m:02}-{d:02}T00:00:00Z");
        let lines: Vec<String> = (1..=5)
            .map(|i| {
                json!({
                    "event_id": format!("ev-{i}"), "sequence": i, "run_id": format!("run-{i}"),
                    "group_id": "g", "task_id": "t",
                    "signal": "fail", "wrapper_policy": "strict",
                    "taskspec": {"scope": "repo", "target": {"kind": "path", "id": "README.md"},
                                 "action": {"kind": "edit"}, "failure_reason_code": "DOCS_BROKE"},
                    "gates": [{"name": "docs", "version": "1", "status": "fail"}],
                    "env": {"os": "linux"}, "evidence_refs": [format!("run:{i}")],
                    "observed_at": observed
                })
                .to_string()
            })
            .collect();
        let envs = repo.data.path().join("envelopes.jsonl");
        std::fs::write(&envs, lines.join("\n") + "\n").unwrap();
        let ing = repo
            .oxide(&["--json", "binder", "ingest", envs.to_str().unwrap()])
            .expect(0)
            .json();
        assert_eq!(ing["accepted"], 5, "{ing:#}");
        let caps = repo
            .oxide(&["--json", "binder", "capsules", "--eligible"])
            .expect(0)
            .json();
        assert_eq!(caps["capsules"].as_array().unwrap().len(), 1, "{caps:#}");

        let p = propose(
            &repo,
            &skill,
            &json!({"rationale": "greet", "risk_hints": [], "ops": [
                {"op": "text_edit", "path": "README.md", "find": "hello world", "replace": "hello oxide"}
            ]}),
        );
        let id = p["id"].as_str().unwrap().to_string();

        // shadow (the default): capsules are kept out of the decision (never validated: the
        // only denial is NOT_VALIDATED).
        let d = repo
            .oxide(&["--json", "policy", "eval", &id])
            .expect(3)
            .json();
        assert_eq!(codes(&d), vec!["NOT_VALIDATED"], "{d:#}");
        assert_eq!(d["input"]["settings"]["rollout_mode"], "shadow");
        assert_eq!(d["input"]["capsules"][0]["eligible"], true, "{d:#}");
        assert!(d["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["code"] != "CAPSULE_GUIDED"));

        set_rollout(&repo, "guided");
        let d = repo
            .oxide(&["--json", "policy", "eval", &id])
            .expect(3)
            .json();
        assert_eq!(codes(&d), vec!["NOT_VALIDATED"], "{d:#}");
        assert_eq!(d["state"], "proposed");
        assert!(
            d["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w["code"] == "CAPSULE_GUIDED"),
            "{d:#}"
        );

        set_rollout(&repo, "prescriptive");
        let d = repo
            .oxide(&["--json", "policy", "eval", &id])
            .expect(3)
            .json();
        assert_eq!(d["policy_reason_code"], "CAPSULE_PRESCRIPTIVE", "{d:#}");
        assert!(d["denials"][0]["message"]
            .as_str()
            .unwrap()
            .contains("DOCS_BROKE"));
    }

    /// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    fn civil(z: i64) -> (i64, u32, u32) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        (if m <= 2 { y + 1 } else { y }, m, d)
    }
}

// ------------------------------------------------------------------ after validation

mod after_validate {
    use super::*;
    use oxide_journeys::git;

    #[test]
    fn policy_eval_by_id_reads_check_results_and_a_broken_policy_denies_the_proposal() {
        let repo = TestRepo::with_files(&[
            ("README.md", "# test repo\n"),
            ("src/config.txt", "retries = 3\n"),
        ]);
        repo.init();
        std::fs::write(
            repo.path().join(".oxide/checks.toml"),
            "[[check]]\nname = \"unit\"\nrun = [\"true\"]\nenv = [\"PATH\"]\ntimeout_s = 30\nrequired = true\n",
        )
        .unwrap();
        git(repo.path(), &["add", ".oxide"]);
        git(repo.path(), &["commit", "-q", "-m", "governance"]);
        let head = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string();
        let bundle = json!({
            "schema_version": "oxide.proposal/v1",
            "skill_digest": format!("sha256:{}", "ab".repeat(32)),
            "base": {"branch": "main", "commit": head},
            "intent": {"rationale": "Raise retries", "risk_hints": [], "ops": [
                {"op": "text_edit", "path": "src/config.txt", "find": "retries = 3", "replace": "retries = 5"}
            ]},
            "provenance": {"synthesizer": "manual", "model": null, "model_digest": null,
                           "options": null, "prompt_template_version": null,
                           "prompt_sha256": null, "response_sha256": null},
            "created_at": "2026-01-01T00:00:00Z"
        });
        let f = repo.data.path().join("bundle.json");
        std::fs::write(&f, bundle.to_string()).unwrap();
        let imported = repo
            .oxide(&["--json", "proposal", "import", f.to_str().unwrap()])
            .expect(0)
            .json();
        let id = imported["id"].as_str().unwrap().to_string();
        let v = repo.oxide(&["--json", "validate", &id]).expect(0).json();
        assert_eq!(v["state"], "validated", "{v:#}");

        // The checks room's results reach the policy input.
        let d = repo
            .oxide(&["--json", "policy", "eval", &id])
            .expect(0)
            .json();
        assert_eq!(d["input"]["validation"]["ran"], true, "{d:#}");
        assert_eq!(
            d["input"]["validation"]["checks"],
            json!([{"name": "unit", "status": "passed", "required": true, "sandboxed": true}])
        );
        assert!(d["warnings"].as_array().unwrap().is_empty(), "{d:#}");
        assert_eq!(d["input"]["provenance"]["synthesizer"], "manual");
        assert_eq!(d["risk"], "low");
        assert_eq!(d["state"], "validated");

        // A policy that does not parse: denied with POLICY_ERROR, and the proposal is denied
        // through the workflow guard; its failure_reason_code stays empty.
        std::fs::write(
            repo.path().join(".oxide/policy/oxide.rego"),
            "package oxide\n\ndecision := {\n",
        )
        .unwrap();
        commit_governance(&repo);
        let d = repo
            .oxide(&["--json", "policy", "eval", &id])
            .expect(3)
            .json();
        assert_eq!(d["policy_reason_code"], "POLICY_ERROR", "{d:#}");
        assert_eq!(d["state"], "denied");
        assert!(d["failure_reason_code"].is_null());
        let show = repo
            .oxide(&["--json", "proposal", "show", &id])
            .expect(0)
            .json();
        assert_eq!(show["state"], "denied", "{show:#}");
        if let Some(code) = show.get("policy_reason_code") {
            assert_eq!(code, "POLICY_ERROR");
        }
        if let Some(code) = show.get("failure_reason_code") {
            assert!(code.is_null(), "{show:#}");
        }
        let events = repo.oxide(&["--json", "audit", "list"]).expect(0).json();
        let kinds: Vec<&str> = events["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert!(kinds.contains(&"policy.error"), "{kinds:?}");
        assert_eq!(
            repo.oxide(&["--json", "audit", "verify"]).expect(0).json()["ok"],
            true
        );
    }
}
