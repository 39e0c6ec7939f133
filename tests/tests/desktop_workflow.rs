//! Desktop journey (issue 5): the Proposals view — state board, a proposal's state machine
//! with its current state, a validation whose log streams live with a chip per check, and the
//! guard record of the transition it made, in the real app.

use std::time::Duration;

use oxide_journeys::desktop::{keys, Launch};
use oxide_journeys::{git, TestRepo};
use serde_json::json;

#[test]
fn desktop_workflow_validation_streams_and_moves_the_graph() {
    let repo = TestRepo::with_files(&[
        ("README.md", "# demo\n"),
        ("src/config.txt", "retries = 3\n"),
    ]);
    repo.init();
    std::fs::write(
        repo.path().join(".oxide/checks.toml"),
        r#"
[[check]]
name = "unit"
run = "echo step 1; sleep 2; echo step 2; grep -q 'retries = 5' src/config.txt"
shell = true
env = ["PATH"]
timeout_s = 60

[[check]]
name = "lint"
run = ["true"]
env = ["PATH"]
"#,
    )
    .unwrap();
    git(repo.path(), &["add", ".oxide"]);
    git(repo.path(), &["commit", "-q", "-m", "governance"]);
    let head = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string();
    let bundle = repo.data.path().join("b.json");
    std::fs::write(
        &bundle,
        json!({
            "schema_version": "oxide.proposal/v1",
            "skill_digest": format!("sha256:{}", "cd".repeat(32)),
            "base": {"branch": "main", "commit": head},
            "intent": {"rationale": "Raise retries to 5", "risk_hints": [], "ops": [
                {"op": "text_edit", "path": "src/config.txt", "find": "retries = 3", "replace": "retries = 5"}]},
            "provenance": {"synthesizer": "manual", "model": null, "model_digest": null,
                            "options": null, "prompt_template_version": null,
                            "prompt_sha256": null, "response_sha256": null},
            "created_at": "2026-11-21T05:00:00Z"
        })
        .to_string(),
    )
    .unwrap();
    let imported = repo
        .oxide(&["--json", "proposal", "import", bundle.to_str().unwrap()])
        .expect(0)
        .json();
    let id = imported["id"].as_str().unwrap().to_string();

    let app = Launch::new("desktop-workflow")
        .workspace(&repo)
        .env("OXIDE_ACTOR", "ana")
        .start();
    app.wait_text("workspace-name", |t| !t.is_empty());

    // Alt+2 is Proposals: the board counts one proposed proposal.
    app.chord(&[keys::ALT], "2");
    app.wait_text("view-title", |t| t == "Proposals");
    app.wait_for("the board", Duration::from_secs(10), || {
        (app.try_find("board-proposed").is_some()
            && app.attr("board-proposed", "data-count").as_deref() == Some("1"))
        .then_some(())
    });
    assert_eq!(
        app.attr("proposal-row", "data-id").as_deref(),
        Some(id.as_str())
    );
    app.click("proposal-row");
    assert_eq!(app.text("proposal-page-state"), "proposed");
    assert_eq!(
        app.attr("state-node-proposed", "data-current").as_deref(),
        Some("true")
    );
    assert_eq!(
        app.attr("state-graph", "data-current").as_deref(),
        Some("proposed")
    );

    // Validate: the first line arrives while the run is still going (streamed, not at the end).
    app.click("validate-run");
    app.wait_for(
        "a streamed log line during the run",
        Duration::from_secs(20),
        || {
            let lines = app.texts("validation-log-line");
            (lines.iter().any(|l| l.contains("[unit] step 1"))
                && app.text("validate-run") == "Validating…")
                .then_some(())
        },
    );
    app.screenshot("desktop-workflow-running");
    app.wait_for("the validated state", Duration::from_secs(30), || {
        (app.text("proposal-page-state") == "validated").then_some(())
    });
    let chips: Vec<(String, String)> = app
        .find_all("check-chip")
        .iter()
        .map(|el| {
            let s = app.session();
            (
                s.attribute(el, "data-name").unwrap().unwrap(),
                s.attribute(el, "data-status").unwrap().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        chips,
        [
            ("unit".to_string(), "passed".to_string()),
            ("lint".to_string(), "passed".to_string())
        ]
    );
    assert!(app
        .texts("validation-log-line")
        .iter()
        .any(|l| l.contains("[unit] step 2")));
    assert_eq!(
        app.attr("state-node-validated", "data-current").as_deref(),
        Some("true")
    );
    assert_eq!(
        app.attr("state-node-proposed", "data-visited").as_deref(),
        Some("true")
    );
    app.wait_for("the board update", Duration::from_secs(10), || {
        (app.attr("board-validated", "data-count").as_deref() == Some("1")).then_some(())
    });

    // Clicking the state shows the guard record of the transition into it.
    app.click("state-node-validated");
    app.wait_for("the guard record", Duration::from_secs(10), || {
        (app.try_find("guard-record").is_some()
            && app.attr("guard-record", "data-guard").as_deref() == Some("pass_validation"))
        .then_some(())
    });
    assert_eq!(
        app.attr("guard-record", "data-outcome").as_deref(),
        Some("passed")
    );
    app.screenshot("desktop-workflow-validated");

    // The CLI sees the same outcome.
    let show = repo
        .oxide(&["--json", "proposal", "show", &id])
        .expect(0)
        .json();
    assert_eq!(show["state"], "validated");
    assert_eq!(show["transitions"][1]["guard"], "pass_validation");
}
