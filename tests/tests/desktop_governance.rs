//! Desktop journey (issue 14, item 5): a maintainer raises a policy threshold in the app's
//! governance editor, sees which recorded decisions the edit would flip, and submits it as a
//! manual proposal — critical, waiting for two leads and a maintainer. Nothing is written to
//! the working tree or committed; an invalid edit is shown as such and cannot be submitted.

use oxide_journeys::desktop::{keys, Launch};
use oxide_journeys::{git, TestRepo};
use serde_json::json;

/// Selects `needle` in the editor's textarea (the caret where a person would put it).
fn select_in_editor(app: &oxide_journeys::desktop::DesktopApp, needle: &str) {
    let found = app.execute(
        "const t = document.querySelector('[data-testid=govern-editor-text]');
         const i = t.value.indexOf(arguments[0]);
         if (i < 0) return false;
         t.focus();
         t.setSelectionRange(i, i + arguments[0].length);
         return true;",
        &[json!(needle)],
    );
    assert_eq!(found, json!(true), "{needle:?} is in the editor");
}

fn type_keys(app: &oxide_journeys::desktop::DesktopApp, text: &str) {
    for ch in text.chars() {
        app.chord(&[], &ch.to_string());
    }
}

#[test]
fn desktop_maintainer_raises_a_threshold_and_submits_it_as_a_critical_proposal() {
    let repo = TestRepo::new();
    repo.init();
    // What governs is what is committed on the target branch.
    git(repo.path(), &["add", ".oxide"]);
    git(repo.path(), &["commit", "-q", "-m", "governance"]);
    let head = git(repo.path(), &["rev-parse", "HEAD"]);
    let committed_policy = git(repo.path(), &["show", "main:.oxide/policy/oxide.rego"]);
    assert!(committed_policy.contains("medium_change_lines := 50"));
    // Recorded decisions to preview against: 60 changed lines (medium) and 10 (low).
    repo.record_decision(60);
    repo.record_decision(10);

    let app = Launch::new("desktop-governance").workspace(&repo).start();
    app.wait_text("workspace-name", |t| !t.is_empty());
    app.chord(&[keys::ALT], "6");
    app.wait_text("view-title", |t| t == "Policy");
    app.click("policy-tab-govern");
    let files = app.wait_texts("govern-file");
    assert!(files.len() >= 5, "{files:?}");
    assert!(app.text("govern-base").starts_with("committed on main"));
    assert_eq!(
        app.attr("govern-editor", "data-lang").as_deref(),
        Some("rego")
    );
    // Highlighted by shiki: the <pre> under the textarea holds coloured token spans.
    app.wait_for(
        "the policy to be highlighted",
        oxide_journeys::desktop::DEFAULT_TIMEOUT,
        || (app.attr("govern-editor", "data-highlighted").as_deref() == Some("true")).then_some(()),
    );

    // An invalid edit first: the CI contract with a key its schema does not know.
    app.execute(
        "document.querySelector('[data-testid=govern-file][data-path=\".oxide/checks.toml\"]').click()",
        &[],
    );
    app.wait_for(
        "the contract in the editor",
        oxide_journeys::desktop::DEFAULT_TIMEOUT,
        || (app.attr("govern-editor", "data-lang").as_deref() == Some("toml")).then_some(()),
    );
    // Typed at the end of the (commented-out) default contract.
    let enter = keys::ENTER;
    app.type_into(
        "govern-editor-text",
        &format!("{enter}[[check]]{enter}name = \"unit\"{enter}run = [\"true\"]{enter}network = true{enter}"),
    );
    app.wait_text("govern-edited", |t| t.starts_with("1 file"));
    app.click("govern-preview");
    app.wait_text("govern-valid", |t| t == "Not valid");
    let problems = app.wait_texts("govern-problem");
    assert!(
        problems.iter().any(|p| p.starts_with("CHECKS_SCHEMA")),
        "{problems:?}"
    );
    assert_eq!(
        app.attr("govern-submit", "disabled").as_deref(),
        Some("true"),
        "an invalid edit cannot be submitted"
    );
    app.click("govern-revert");

    // The maintainer raises the medium-change threshold from 50 to 65 lines (the policy's own
    // tests still pass: their 70-line split change stays medium).
    app.execute(
        "document.querySelector('[data-testid=govern-file][data-path=\".oxide/policy/oxide.rego\"]').click()",
        &[],
    );
    select_in_editor(&app, "medium_change_lines := 50");
    type_keys(&app, "medium_change_lines := 65");
    app.wait_text("govern-edited", |t| t.starts_with("1 file"));
    app.click("govern-preview");
    app.wait_text("govern-valid", |t| t == "Valid");
    let tests = app.text("govern-tests");
    assert!(tests.ends_with(", 0 failed"), "{tests}");
    // The simulator: the 60-line decision (recorded first) flips from medium to low.
    let s = app.wait_text("govern-sim-summary", |t| t.contains("would change"));
    assert!(s.starts_with("1 of 2"), "{s}");
    assert_eq!(app.wait_texts("govern-flip-id"), ["1"]);
    let changes = app.texts("govern-flip-changes");
    assert!(
        changes[0].starts_with("risk: medium -> low; required: 2"),
        "{changes:?}"
    );

    // Submitted as a manual proposal: critical, waiting for two leads and a maintainer.
    app.type_into(
        "govern-rationale",
        "Raise the medium-change threshold: 50 lines flags routine changes",
    );
    app.click("govern-submit");
    let risk = app.wait_text("govern-submitted-risk", |t| t.starts_with("Risk"));
    assert_eq!(risk, "Risk critical");
    let waiting = app.text("govern-submitted-waiting");
    assert!(
        waiting.starts_with("Waiting for two leads and a maintainer"),
        "{waiting}"
    );
    assert_eq!(
        app.attr("govern-submitted-waiting", "data-roles")
            .as_deref(),
        Some("lead,lead,maintainer")
    );
    assert_eq!(app.text("govern-submitted-state"), "proposed");
    let id = app.text("govern-submitted-id");
    app.execute(
        "document.querySelector('[data-testid=govern-submitted]').scrollIntoView({block: 'center'})",
        &[],
    );
    app.screenshot("docs-maintainer-governance");

    // The link opens the proposal's risk gate: critical, three approvals by role.
    app.click("govern-open-proposal");
    app.wait_for(
        "the proposal's risk gate",
        oxide_journeys::desktop::DEFAULT_TIMEOUT,
        || {
            app.find_all("policy-proposal").into_iter().find(|el| {
                app.session()
                    .attribute(el, "data-id")
                    .ok()
                    .flatten()
                    .as_deref()
                    == Some(id.as_str())
            })
        },
    );
    let risks = app.texts("risk-gate-risk");
    assert!(risks.iter().any(|r| r == "Risk critical"), "{risks:?}");
    let chips = app.texts("gate-chip");
    assert!(
        chips.iter().any(|c| c == "Approvals: 3 required"),
        "{chips:?}"
    );
    assert!(
        chips
            .iter()
            .any(|c| c == "oxide.governance_change → critical"),
        "{chips:?}"
    );
    let reasons = app.texts("gate-reason");
    assert!(
        reasons.iter().any(|r| r.contains("lead, lead, maintainer")),
        "{reasons:?}"
    );
    drop(app);

    // The CLI sees the manual proposal; the working tree and the committed policy are untouched.
    let list = repo.oxide(&["--json", "proposal", "list"]).expect(0).json();
    let rows = list["proposals"].as_array().expect("a list");
    let row = rows
        .iter()
        .find(|p| p["id"] == json!(id))
        .unwrap_or_else(|| panic!("{id} in {list}"));
    assert_eq!(row["state"], "proposed");
    assert_eq!(git(repo.path(), &["rev-parse", "HEAD"]), head);
    assert_eq!(git(repo.path(), &["status", "--porcelain"]), "");
    assert_eq!(
        git(repo.path(), &["show", "main:.oxide/policy/oxide.rego"]),
        committed_policy
    );
    // Not validated yet: no allow (exit 3, NOT_VALIDATED), and critical whatever happens next.
    let eval = repo
        .oxide(&["--json", "policy", "eval", &id])
        .expect(3)
        .json();
    assert_eq!(eval["risk"], "critical");
    assert_eq!(
        eval["required"]["roles"],
        json!(["lead", "lead", "maintainer"])
    );
    let verify = repo.oxide(&["--json", "audit", "verify"]).expect(0).json();
    assert_eq!(verify["ok"], json!(true));
}
