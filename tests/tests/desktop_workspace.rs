//! Desktop journey: a workspace made by the real `oxide init` opens in the real app; its status
//! and audit timeline show, the chain verifies, and the window is saved as a screenshot.

use oxide_journeys::desktop::{keys, png_size, Launch};
use oxide_journeys::TestRepo;

#[test]
fn desktop_opens_an_initialized_workspace_and_verifies_its_audit_chain() {
    let repo = TestRepo::new();
    repo.init();
    let root = repo.path().canonicalize().unwrap();

    // A closed port: the app must say plainly that Ollama is not there, and still work.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = Launch::new("desktop-workspace")
        .workspace(&repo)
        .env("OLLAMA_HOST", format!("127.0.0.1:{closed}"))
        .start();

    // Status of the workspace from the environment.
    let name = app.wait_text("workspace-name", |t| !t.is_empty());
    assert_eq!(name, root.file_name().unwrap().to_string_lossy());
    assert_eq!(app.text("status-workspace"), root.display().to_string());
    let db = repo
        .db()
        .parent()
        .unwrap()
        .canonicalize()
        .unwrap()
        .join("oxide.sqlite3");
    assert_eq!(app.text("status-db"), db.display().to_string());
    assert_eq!(app.text("status-audit-events"), "1");

    let banner = app.wait_text("ollama-banner", |t| t.contains("not reachable"));
    assert!(banner.contains(&format!("127.0.0.1:{closed}")), "{banner}");

    // Alt+5 is the Timeline; the init event is listed.
    app.chord(&[keys::ALT], "5");
    app.wait_text("view-title", |t| t == "Timeline");
    assert_eq!(app.wait_texts("audit-kind"), ["workspace.init"]);
    assert_eq!(app.texts("audit-seq"), ["1"]);

    app.click("verify-button");
    let verdict = app.wait_text("verify-result", |t| t.contains("Chain intact"));
    assert!(verdict.ends_with("1 event"), "{verdict}");
    assert_eq!(
        app.attr("verify-result", "data-tone").as_deref(),
        Some("ok")
    );

    let shot = app.screenshot("desktop-workspace-verified");
    let (w, h) = png_size(&std::fs::read(&shot).unwrap()).expect("a PNG");
    assert!(w >= 800 && h >= 500, "screenshot is {w}x{h}");
}
