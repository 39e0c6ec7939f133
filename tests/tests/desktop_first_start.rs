//! Desktop journey: a first start with no workspace given opens the demo repository; the
//! workspace picker then opens another workspace by path, lists both as recent, and a folder
//! that is not a git repository is refused with its error code shown.

use oxide_journeys::desktop::Launch;
use oxide_journeys::TestRepo;

#[test]
fn desktop_first_start_opens_the_demo_then_switches_workspaces() {
    let app = Launch::new("desktop-first-start").fresh_user().start();

    // First start: the demo repository, created and initialised by the app.
    assert_eq!(
        app.wait_text("workspace-name", |t| !t.is_empty()),
        "demo-workspace"
    );
    assert_eq!(app.text("status-audit-events"), "1");
    assert!(app.try_find("status-not-initialized").is_none());

    // Another workspace by typed path, made by the real CLI (the app keeps its own database
    // for it under the user's data folder).
    let repo = TestRepo::new();
    repo.init();
    let root = repo.path().canonicalize().unwrap();
    app.click("workspace-switch");
    app.type_into("workspace-path-input", &root.display().to_string());
    app.click("workspace-path-open");
    app.wait_text("workspace-name", |t| t != "demo-workspace");
    assert_eq!(app.text("status-workspace"), root.display().to_string());

    // Both are remembered, newest first.
    app.click("workspace-switch");
    let recent = app.wait_texts("recent-item");
    assert_eq!(recent.len(), 2, "{recent:?}");
    assert_eq!(recent[0], root.display().to_string());
    assert!(recent[1].ends_with("demo-workspace"), "{recent:?}");

    // A plain folder is refused: the toast carries the core's code and message.
    let plain = tempfile::tempdir().unwrap();
    app.type_into("workspace-path-input", &plain.path().display().to_string());
    app.click("workspace-path-open");
    assert_eq!(
        app.wait_text("toast-code", |t| !t.is_empty()),
        "WORKSPACE_NOT_GIT"
    );
    assert!(app
        .text("toast-message")
        .contains("not inside a git repository"));
    // The open workspace is unchanged.
    assert_eq!(app.text("status-workspace"), root.display().to_string());
    app.screenshot("desktop-first-start-refused");
}
