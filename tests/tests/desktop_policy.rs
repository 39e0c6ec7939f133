//! Desktop journey (issue 6): the risk-gate panel of a proposal and the policy simulator, in
//! the real app over a workspace whose proposal and decisions were made by the real `oxide`.

use oxide_journeys::desktop::{keys, Launch};
use oxide_journeys::fake_ollama::{Behavior, FakeOllama, DIGEST, MODEL};
use oxide_journeys::TestRepo;
use serde_json::json;

#[test]
fn desktop_policy_risk_gate_and_simulator_show_the_flips() {
    let repo = TestRepo::with_files(&[
        ("README.md", "# demo\nhello world\n"),
        ("src/old.txt", "one\ntwo\n"),
    ]);
    repo.init();
    std::fs::write(
        repo.path().join(".oxide/oxide.toml"),
        format!(
            "[workflow]\ntarget_branch = \"main\"\n\n[synth]\nmodel = \"{MODEL}\"\nmodel_digest = \"{DIGEST}\"\nseed = 42\nnum_ctx = 8192\ntimeout_s = 5\n"
        ),
    )
    .unwrap();
    // Settings take effect once committed on the target branch (working-tree edits are drafts).
    oxide_journeys::git(repo.path(), &["add", ".oxide"]);
    oxide_journeys::git(repo.path(), &["commit", "-q", "-m", "governance"]);
    let skill = repo.data.path().join("skill.json");
    std::fs::write(
        &skill,
        json!({"title": "Tidy", "description": "Tidy up.", "source": "host",
               "submitted_by": "ana", "evidence_refs": [], "targets": ["src/*"]})
        .to_string(),
    )
    .unwrap();
    let skill_id = repo
        .oxide(&["--json", "skill", "add", skill.to_str().unwrap()])
        .expect(0)
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // O.X.I.D.E proposes deleting a file: a medium-risk change (deletion).
    let server = FakeOllama::start(Behavior::answering(&json!({
        "rationale": "remove the old file", "risk_hints": [],
        "ops": [{"op": "delete_file", "path": "src/old.txt"}]
    })));
    let p = repo
        .oxide_env(
            &["--json", "propose", "--skill", &skill_id],
            &[("OLLAMA_HOST", &server.host())],
        )
        .expect(0)
        .json();
    let id = p["id"].as_str().unwrap().to_string();

    // Recorded decisions to simulate over: 60 changed lines (medium) and 10 (low).
    for lines in [60u64, 10] {
        repo.record_decision(lines);
    }
    // A copy of the policy with the medium threshold raised to 100 lines.
    let raised = repo.data.path().join("policy-raised");
    std::fs::create_dir_all(&raised).unwrap();
    for e in std::fs::read_dir(repo.path().join(".oxide/policy")).unwrap() {
        let e = e.unwrap();
        let text = std::fs::read_to_string(e.path()).unwrap();
        std::fs::write(
            raised.join(e.file_name()),
            text.replace("medium_change_lines := 50", "medium_change_lines := 100"),
        )
        .unwrap();
    }

    let app = Launch::new("desktop-policy")
        .workspace(&repo)
        .env("OLLAMA_HOST", server.host())
        .start();
    app.wait_text("workspace-name", |t| !t.is_empty());

    // Alt+6 is Policy. The proposal is listed; evaluating it shows its risk gate as chips.
    app.chord(&[keys::ALT], "6");
    app.wait_text("view-title", |t| t == "Policy");
    app.wait_text("policy-proposal-state", |t| t == "proposed");
    assert_eq!(
        app.attr("policy-proposal", "data-id").as_deref(),
        Some(id.as_str())
    );
    app.click("policy-evaluate");
    let risk = app.wait_text("risk-gate-risk", |t| t.contains("Risk"));
    assert_eq!(risk, "Risk medium");
    // Never validated: no allow is recorded or shown (issue 11, item 9).
    assert_eq!(app.text("risk-gate-outcome"), "Denied · NOT_VALIDATED");
    let chips = app.wait_texts("gate-chip");
    assert!(chips.iter().any(|c| c == "Schema ✓"), "{chips:?}");
    assert!(chips.iter().any(|c| c == "Checks not run"), "{chips:?}");
    assert!(
        chips.iter().any(|c| c == "oxide.deletion → medium"),
        "{chips:?}"
    );
    assert!(chips.iter().any(|c| c == "CHECKS_NOT_RUN"), "{chips:?}");
    assert!(
        chips.iter().any(|c| c == "Approvals: 2 required"),
        "{chips:?}"
    );
    let reasons = app.texts("gate-reason");
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("deletes files: src/old.txt")),
        "{reasons:?}"
    );

    // Policy tests run from the app.
    app.click("policy-tests-run");
    let t = app.wait_text("policy-tests-result", |t| t.contains("passed"));
    assert!(t.ends_with("0 failed"), "{t}");

    // The simulator over the recorded decisions: the workspace policy flips nothing...
    app.click("policy-sim-run");
    let s = app.wait_text("policy-sim-summary", |t| t.contains("would change"));
    assert!(s.starts_with("0 of 3"), "{s}");
    // ... the raised threshold flips exactly the 60-line decision (recorded first).
    app.type_into("policy-sim-dir", raised.to_str().unwrap());
    app.click("policy-sim-run");
    let s = app.wait_text("policy-sim-summary", |t| t.starts_with("1 of 3"));
    assert!(s.contains("would change"), "{s}");
    assert_eq!(app.wait_texts("policy-flip-id"), ["1"]);
    let changes = app.texts("policy-flip-changes");
    assert_eq!(changes.len(), 1);
    assert!(
        changes[0].starts_with("risk: medium -> low; required: 2"),
        "{changes:?}"
    );
    app.execute(
        "document.querySelector('[data-testid=policy-sim]').scrollIntoView()",
        &[],
    );
    app.screenshot("desktop-policy-simulator");
}
