//! Desktop journey (issue 4): add a skill from a file in the Skills view, propose with
//! O.X.I.D.E against a loopback server speaking Ollama's API, see the progress, the diff
//! against the base, the rationale and the provenance; cancel a slow synthesis (no_op); and
//! see the banner when the pinned model's digest drifted.

use std::time::Duration;

use oxide_journeys::desktop::{keys, Launch};
use oxide_journeys::fake_ollama::{Behavior, Chat, FakeOllama, DIGEST, MODEL};
use oxide_journeys::TestRepo;
use serde_json::json;

#[test]
fn desktop_skills_propose_diff_cancel_and_pin_banner() {
    let repo = TestRepo::with_files(&[
        ("README.md", "# demo\nhello world\n"),
        ("config/app.json", "{\n  \"retries\": 1\n}\n"),
    ]);
    repo.init();
    std::fs::write(
        repo.path().join(".oxide/oxide.toml"),
        format!("[synth]\nmodel = \"{MODEL}\"\nmodel_digest = \"{DIGEST}\"\nseed = 42\nnum_ctx = 8192\ntimeout_s = 5\n"),
    )
    .unwrap();
    // Settings take effect once committed on the target branch (working-tree edits are drafts).
    oxide_journeys::git(repo.path(), &["add", ".oxide"]);
    oxide_journeys::git(repo.path(), &["commit", "-q", "-m", "governance"]);
    let skill_file = repo.data.path().join("skill.json");
    std::fs::write(
        &skill_file,
        json!({"title": "Greet oxide", "description": "Say hello to oxide in the README.",
               "source": "manual", "submitted_by": "ana", "targets": ["README.md", "config/*.json"]})
        .to_string(),
    )
    .unwrap();
    let intent = json!({
        "rationale": "Greet oxide and retry three times.",
        "risk_hints": ["changes retry count"],
        "ops": [
            {"op": "text_edit", "path": "README.md", "find": "hello world", "replace": "hello oxide"},
            {"op": "json_patch", "path": "config/app.json", "patch": [{"op": "replace", "path": "/retries", "value": 3}]}
        ]
    });
    let server = FakeOllama::start(Behavior {
        chat_delay: Duration::from_millis(1500),
        ..Behavior::answering(&intent)
    });

    let app = Launch::new("desktop-skills")
        .workspace(&repo)
        .env("OLLAMA_HOST", server.host())
        .env("OXIDE_ACTOR", "ana")
        .start();
    app.wait_text("workspace-name", |t| !t.is_empty());

    // Alt+3 is Skills. Add the descriptor from its file.
    app.chord(&[keys::ALT], "3");
    app.wait_text("view-title", |t| t == "Skills");
    app.type_into("skill-path", skill_file.to_str().unwrap());
    app.click("skill-add");
    assert_eq!(app.wait_texts("skill-title"), ["Greet oxide"]);
    let skill_id = app.text("skill-id");
    assert_eq!(skill_id.len(), 12);

    // Propose: progress names the model and counts seconds, then the proposal shows.
    app.click(&format!("propose-{skill_id}"));
    app.find("propose-progress");
    assert_eq!(app.text("propose-model"), MODEL);
    app.screenshot("desktop-skills-progress");
    app.wait_for("the proposal outcome", Duration::from_secs(20), || {
        (app.try_find("propose-outcome").is_some()
            && app.attr("propose-outcome", "data-state").as_deref() == Some("proposed"))
        .then_some(())
    });
    let id = app.text("propose-id");
    assert_eq!(app.text("proposal-state"), "proposed");
    assert!(app.text("proposal-digest").starts_with("sha256:"));
    assert_eq!(
        app.text("proposal-rationale"),
        "Greet oxide and retry three times."
    );
    let files: Vec<_> = app
        .find_all("diff-file")
        .iter()
        .map(|el| app.session().attribute(el, "data-path").unwrap().unwrap())
        .collect();
    assert_eq!(files, ["README.md", "config/app.json"]);
    let adds = app.texts("diff-line-add");
    let dels = app.texts("diff-line-del");
    assert!(adds.contains(&"+hello oxide".to_string()), "{adds:?}");
    assert!(dels.contains(&"-hello world".to_string()), "{dels:?}");
    assert!(
        adds.iter().any(|l| l.contains("\"retries\": 3")),
        "{adds:?}"
    );
    assert_eq!(app.text("prov-model"), MODEL);
    assert_eq!(app.text("prov-model-digest"), DIGEST);
    assert_eq!(app.text("prov-synthesizer"), "ollama");
    app.screenshot("desktop-skills-proposal");

    // The CLI sees the same proposal.
    let listed = repo.oxide(&["--json", "status"]).expect(0).json();
    assert_eq!(listed["proposals"]["proposed"], 1, "{listed}");
    assert_eq!(id.len(), 12);

    // A slow model: cancel ends the attempt as a no-op, and nothing new is proposed.
    server.set(Behavior {
        chat: Chat::Sleep(Duration::from_secs(30)),
        ..Behavior::answering(&intent)
    });
    app.click(&format!("propose-{skill_id}"));
    app.find("propose-progress");
    app.click("propose-cancel");
    app.wait_for("the cancelled outcome", Duration::from_secs(10), || {
        (app.try_find("propose-outcome").is_some()
            && app.attr("propose-outcome", "data-code").as_deref() == Some("SYNTH_CANCELLED"))
        .then_some(())
    });
    assert_eq!(
        app.attr("propose-outcome", "data-state").as_deref(),
        Some("no_op")
    );
    assert!(
        app.try_find("proposal-detail").is_none(),
        "a no-op shows no proposal"
    );

    // The server's model drifted: the attempt is refused and the banner says why.
    server.set(Behavior {
        models: vec![(MODEL.into(), "e".repeat(64))],
        ..Behavior::answering(&intent)
    });
    app.click(&format!("propose-{skill_id}"));
    app.wait_for("the drift outcome", Duration::from_secs(10), || {
        (app.try_find("propose-outcome").is_some()
            && app.attr("propose-outcome", "data-code").as_deref() == Some("SYNTH_DIGEST_MISMATCH"))
        .then_some(())
    });
    let banner = app.wait_text("pin-banner", |t| t.contains("cannot be used"));
    assert!(banner.contains("SYNTH_DIGEST_MISMATCH"), "{banner}");
    assert_eq!(app.text("pin-banner-server"), "e".repeat(12));
    app.screenshot("desktop-skills-pin-banner");

    let st = repo.oxide(&["--json", "status"]).expect(0).json();
    assert_eq!(st["proposals"]["proposed"], 1);
    assert_eq!(
        st["proposals"]["no_op"], 2,
        "the cancel and the drift are recorded no-ops"
    );
}
