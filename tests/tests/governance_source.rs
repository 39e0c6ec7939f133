//! Issue 11 item 3 journeys: governance is read from the committed tip of the workspace's
//! target branch (fixed in the database at `init`), never from the working tree. Working-tree
//! edits of `.oxide/` are drafts: shown by `status`, not in force until committed. Changing
//! the target is the explicit, audited `oxide target set BRANCH --reason TEXT`.

use oxide_journeys::fake_ollama::{Behavior, FakeOllama, DIGEST, MODEL};
use oxide_journeys::{git, manual_bundle, TestRepo};
use serde_json::{json, Value};

/// A policy that allows everything (what an attacker would like to be in force).
const PERMISSIVE: &str = "package oxide\n\ndecision := {\"risk\": \"low\", \"required\": {\"count\": 1, \"roles\": [\"approver\"]}, \"denials\": [], \"warnings\": [], \"escalations\": []}\n";

/// A policy input the default policy denies and a permissive one allows: validated (a
/// passed required check of the current commit, so the evaluator's own "no allow without
/// validation" does not apply) but O.X.I.D.E edits a governance file (`GOVERNANCE_BY_OXIDE`).
fn denied_by_default_input() -> Value {
    json!({
        "version": "oxide.policy.input/v1",
        "proposal": {
            "id": null,
            "digest": format!("sha256:{}", "a".repeat(64)),
            "state": "validated",
            "failure_reason_code": null,
            "ops": [{"op": "text_edit", "path": ".oxide/checks.toml", "lines_added": 1, "lines_removed": 1}],
            "touched_paths": [".oxide/checks.toml"],
            "lines_added": 1,
            "lines_removed": 1,
            "risk_hints": []
        },
        "skill": {"digest": format!("sha256:{}", "b".repeat(64)), "source": "host", "submitted_by": "alice"},
        "provenance": {"synthesizer": "ollama", "model": "llama3.2:latest", "model_digest": "d"},
        "validation": {"ran": true, "run_id": "r1", "branch_commit": "c1", "head_commit": "c1", "checks": [
            {"name": "unit", "status": "passed", "required": true, "sandboxed": true}
        ]},
        "capsules": [],
        "actor": "tester",
        "settings": {"target_branch": "main", "rollout_mode": "shadow", "fallback_mode": "strict"}
    })
}

fn eval_input(repo: &TestRepo) -> (i32, Value) {
    let file = repo.data.path().join("input.json");
    std::fs::write(&file, denied_by_default_input().to_string()).unwrap();
    let run = repo.oxide(&[
        "--json",
        "policy",
        "eval",
        "--input",
        file.to_str().unwrap(),
    ]);
    (run.code, run.json())
}

fn commit_all(repo: &TestRepo, msg: &str) {
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "--allow-empty", "-m", msg]);
}

fn status(repo: &TestRepo) -> Value {
    repo.oxide(&["--json", "status"]).expect(0).json()
}

fn audit_len(repo: &TestRepo) -> usize {
    repo.oxide(&["--json", "audit", "list"]).expect(0).json()["events"]
        .as_array()
        .unwrap()
        .len()
}

/// An initialised repository with its governance committed on `main`, and a branch `lax`
/// whose committed policy is permissive and whose committed contract has a check that passes
/// (main's required check fails).
fn repo_with_lax_branch() -> TestRepo {
    let repo = TestRepo::with_files(&[
        ("README.md", "# test repo\n"),
        ("src/config.txt", "retries = 3\n"),
    ]);
    repo.init();
    std::fs::write(
        repo.path().join(".oxide/checks.toml"),
        "[[check]]\nname = \"unit\"\nrun = [\"false\"]\nenv = [\"PATH\"]\ntimeout_s = 30\nrequired = true\n",
    )
    .unwrap();
    commit_all(&repo, "governance");
    git(repo.path(), &["checkout", "-q", "-b", "lax"]);
    std::fs::write(repo.path().join(".oxide/policy/oxide.rego"), PERMISSIVE).unwrap();
    std::fs::write(
        repo.path().join(".oxide/checks.toml"),
        "[[check]]\nname = \"unit\"\nrun = [\"true\"]\nenv = [\"PATH\"]\ntimeout_s = 30\nrequired = true\n",
    )
    .unwrap();
    commit_all(&repo, "lax governance");
    git(repo.path(), &["checkout", "-q", "main"]);
    repo
}

fn import_proposal(repo: &TestRepo) -> String {
    let head = git(repo.path(), &["rev-parse", "main"]).trim().to_string();
    let ops = json!([
        {"op": "text_edit", "path": "src/config.txt", "find": "retries = 3", "replace": "retries = 5"}
    ]);
    let bundle = manual_bundle(
        &head,
        &"ab".repeat(32),
        "Raise retries",
        ops,
        "2026-01-01T00:00:00Z",
    );
    repo.import_bundle("bundle", &bundle)
}

#[test]
fn a_working_tree_target_branch_edit_selects_nothing() {
    let repo = repo_with_lax_branch();
    let (code, before) = eval_input(&repo);
    assert_eq!(code, 3, "{before:#}");
    // The attack: point target_branch at the lax branch in the working tree only.
    let settings = repo.path().join(".oxide/oxide.toml");
    let text = std::fs::read_to_string(&settings).unwrap();
    assert!(text.contains("target_branch = \"main\""));
    std::fs::write(
        &settings,
        text.replace("target_branch = \"main\"", "target_branch = \"lax\""),
    )
    .unwrap();

    // The decision still uses main's committed policy: denied, same policy digest.
    let (code, d) = eval_input(&repo);
    assert_eq!(code, 3, "{d:#}");
    assert_eq!(d["outcome"], "denied");
    assert_eq!(d["policy_reason_code"], "GOVERNANCE_BY_OXIDE");
    assert_eq!(d["policy_digest"], before["policy_digest"]);

    // Validation runs main's committed contract (its required check fails), not lax's.
    let id = import_proposal(&repo);
    let v = repo.oxide(&["--json", "validate", &id]).expect(3).json();
    assert_eq!(v["state"], "failed_validation", "{v:#}");
    assert_eq!(v["checks"][0]["status"], "failed");

    // A proposal's policy input names the fixed target.
    let d = repo.oxide(&["--json", "policy", "eval", &id]).json();
    assert_eq!(d["input"]["settings"]["target_branch"], "main", "{d:#}");

    // Status shows the edit as a draft, not in force.
    let st = status(&repo);
    assert_eq!(st["target_branch"], "main");
    assert_eq!(st["drafts"], json!([".oxide/oxide.toml"]), "{st:#}");
    let human = repo.oxide(&["status"]).expect(0);
    assert!(
        human.stdout.contains("not in force until committed")
            && human.stdout.contains(".oxide/oxide.toml"),
        "{}",
        human.stdout
    );
    // The user's checkout is untouched.
    assert_eq!(
        git(repo.path(), &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
        "main"
    );
}

#[test]
fn an_uncommitted_permissive_policy_is_a_draft_and_never_decides() {
    let repo = repo_with_lax_branch();
    assert_eq!(status(&repo)["drafts"], json!([]));
    let (code, committed) = eval_input(&repo);
    assert_eq!(code, 3);
    assert!(
        committed["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["code"] != "POLICY_NOT_COMMITTED"),
        "{committed:#}"
    );

    std::fs::write(repo.path().join(".oxide/policy/oxide.rego"), PERMISSIVE).unwrap();
    let (code, d) = eval_input(&repo);
    assert_eq!(code, 3, "the draft does not decide: {d:#}");
    assert_eq!(d["outcome"], committed["outcome"]);
    assert_eq!(d["risk"], committed["risk"]);
    assert_eq!(d["denials"], committed["denials"]);
    assert_eq!(d["policy_digest"], committed["policy_digest"]);
    let notice = d["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["code"] == "POLICY_NOT_COMMITTED")
        .unwrap_or_else(|| panic!("the decision names the draft: {d:#}"));
    assert!(
        notice["message"]
            .as_str()
            .unwrap()
            .contains("not in force until committed"),
        "{notice:#}"
    );
    // `policy test` without --policy runs the policy in force, too.
    let t = repo.oxide(&["--json", "policy", "test"]).expect(0).json();
    assert_eq!(t["failed"], 0);
    assert_eq!(status(&repo)["drafts"], json!([".oxide/policy/oxide.rego"]));

    // A what-if with an explicit --policy still works and records nothing.
    let snap = repo.data.path().join("snap.jsonl");
    repo.oxide(&[
        "--json",
        "policy",
        "snapshot",
        "export",
        snap.to_str().unwrap(),
    ])
    .expect(0);
    let sim = repo
        .oxide(&[
            "--json",
            "policy",
            "sim",
            "--snapshot",
            snap.to_str().unwrap(),
            "--policy",
            repo.path().join(".oxide/policy").to_str().unwrap(),
        ])
        .expect(0)
        .json();
    assert_eq!(sim["changed"], 2, "the draft would flip both: {sim:#}");
    let snap_after = repo.data.path().join("snap2.jsonl");
    repo.oxide(&[
        "--json",
        "policy",
        "snapshot",
        "export",
        snap_after.to_str().unwrap(),
    ])
    .expect(0);
    assert_eq!(
        std::fs::read_to_string(&snap).unwrap(),
        std::fs::read_to_string(&snap_after).unwrap(),
        "sim recorded no decision"
    );

    // Once committed, it is in force.
    commit_all(&repo, "permissive policy");
    let (code, d) = eval_input(&repo);
    assert_eq!(code, 0, "{d:#}");
    assert_eq!(status(&repo)["drafts"], json!([]));
}

#[test]
fn an_uncommitted_model_pin_or_replay_flag_is_not_used_by_propose() {
    let repo = TestRepo::with_files(&[("README.md", "# demo\nhello world\n")]);
    repo.init();
    let settings = repo.path().join(".oxide/oxide.toml");
    std::fs::write(
        &settings,
        format!(
            "[workflow]\ntarget_branch = \"main\"\n\n[synth]\nmodel = \"{MODEL}\"\nmodel_digest = \"{DIGEST}\"\nseed = 42\nnum_ctx = 8192\ntimeout_s = 5\n"
        ),
    )
    .unwrap();
    commit_all(&repo, "governance");
    // The attack: another model, and replay-only answers, in the working tree only.
    std::fs::write(
        &settings,
        "[workflow]\ntarget_branch = \"main\"\n\n[synth]\nmodel = \"evil:latest\"\nmodel_digest = \"\"\nseed = 7\nnum_ctx = 8192\ntimeout_s = 5\nreplay = true\n",
    )
    .unwrap();
    let skill = repo.data.path().join("skill.json");
    std::fs::write(
        &skill,
        json!({"title": "Greet", "description": "Say hello to oxide.", "source": "host",
               "submitted_by": "ana", "evidence_refs": [], "targets": ["README.md"]})
        .to_string(),
    )
    .unwrap();
    let skill = repo
        .oxide(&["--json", "skill", "add", skill.to_str().unwrap()])
        .expect(0)
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let server = FakeOllama::start(Behavior::answering(&json!({
        "rationale": "greet", "risk_hints": [], "ops": [
            {"op": "text_edit", "path": "README.md", "find": "hello world", "replace": "hello oxide"}
        ]
    })));
    let p = repo
        .oxide_env(
            &["--json", "propose", "--skill", &skill],
            &[("OLLAMA_HOST", &server.host())],
        )
        .expect(0)
        .json();
    assert_eq!(p["state"], "proposed", "{p:#}");
    assert_eq!(p["source"], "ollama", "the draft replay flag is not used");
    let asked = server.chat_requests();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0]["model"], MODEL, "the committed model is asked");
    assert_eq!(asked[0]["options"]["seed"], 42);
    assert_eq!(status(&repo)["drafts"], json!([".oxide/oxide.toml"]));
}

#[test]
fn target_set_needs_a_reason_is_audited_and_then_governs() {
    let repo = repo_with_lax_branch();
    let events = audit_len(&repo);
    // Without --reason: a usage error, nothing written.
    let e = repo.oxide(&["--json", "target", "set", "lax"]).expect(2);
    assert_eq!(e.error_code(), "USAGE");
    let e = repo
        .oxide(&["--json", "target", "set", "lax", "--reason", "  "])
        .expect(2);
    assert_eq!(e.error_code(), "WORKSPACE_REASON_REQUIRED");
    // A branch that does not exist is refused.
    let e = repo
        .oxide(&["--json", "target", "set", "nope", "--reason", "typo"])
        .expect(2);
    assert_eq!(e.error_code(), "WORKSPACE_NO_SUCH_BRANCH");
    assert_eq!(audit_len(&repo), events, "nothing audited");
    assert_eq!(status(&repo)["target_branch"], "main");
    let (code, _) = eval_input(&repo);
    assert_eq!(code, 3, "main still governs");

    // With a reason: changed, audited with the reason, and the new target governs.
    let c = repo
        .oxide(&[
            "--json",
            "target",
            "set",
            "lax",
            "--reason",
            "release branch cut",
        ])
        .expect(0)
        .json();
    assert_eq!(
        c,
        json!({"from": "main", "to": "lax", "reason": "release branch cut"})
    );
    let all = repo.oxide(&["--json", "audit", "list"]).expect(0).json();
    let ev = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "workspace.target_set")
        .expect("audited")
        .clone();
    assert_eq!(ev["payload"]["reason"], "release branch cut");
    assert_eq!(ev["payload"]["from"], "main");
    assert_eq!(ev["payload"]["to"], "lax");
    assert_eq!(status(&repo)["target_branch"], "lax");
    let (code, d) = eval_input(&repo);
    assert_eq!(code, 0, "lax's committed policy now decides: {d:#}");
    // `init` again does not reset it.
    repo.init();
    assert_eq!(status(&repo)["target_branch"], "lax");
    repo.oxide(&["--json", "audit", "verify"]).expect(0);
}

#[test]
fn init_fixes_the_target_from_the_settings_present_at_that_moment() {
    let repo = TestRepo::with_files(&[
        ("README.md", "# r\n"),
        (
            ".oxide/oxide.toml",
            "[workflow]\ntarget_branch = \"trunk\"\n",
        ),
    ]);
    let rep = repo.init();
    assert_eq!(rep["target_branch"], "trunk");
    assert_eq!(status(&repo)["target_branch"], "trunk");
    // A later working-tree edit changes nothing.
    std::fs::write(
        repo.path().join(".oxide/oxide.toml"),
        "[workflow]\ntarget_branch = \"main\"\n",
    )
    .unwrap();
    assert_eq!(status(&repo)["target_branch"], "trunk");
}
