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

    // Without a GPU render node (Xvfb here) the app draws in software and keeps Mesa's GL
    // driver, and the LLVM it links, out of its own process (`docs/benchmarks.md`, desktop).
    let has_render_node = std::fs::read_dir("/dev/dri").is_ok_and(|d| {
        d.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    });
    if has_render_node {
        eprintln!("SKIPPED the no-GL check: this machine has a GPU render node, so the app keeps WebKit's GPU compositing");
        return;
    }
    // The variables with which a user chooses WebKit's renderer (the app's
    // `startup::RENDERER_CHOICES`): then the app leaves the renderer alone.
    let chosen = [
        "WEBKIT_DISABLE_DMABUF_RENDERER",
        "WEBKIT_DISABLE_COMPOSITING_MODE",
        "WEBKIT_FORCE_COMPOSITING_MODE",
        "WEBKIT_DMABUF_RENDERER_FORCE_SHM",
        "WEBKIT_WEB_RENDER_DEVICE_FILE",
    ];
    if let Some(k) = chosen.iter().find(|k| std::env::var_os(k).is_some()) {
        eprintln!("SKIPPED the no-GL check: {k} is set, so the renderer is the user's choice");
        return;
    }
    let pid = app_pid(&repo.path().display().to_string()).expect("the app's process");
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    for lib in ["libLLVM", "swrast_dri", "libGLX_mesa", "libEGL_mesa"] {
        assert!(
            !maps.contains(lib),
            "{lib} is mapped in the app process {pid} on a machine without a GPU"
        );
    }
}

/// The running `oxide-review` started on the workspace `repo` (its initial environment names it).
fn app_pid(repo: &str) -> Option<u32> {
    let bin = oxide_journeys::desktop::app_bin().canonicalize().ok()?;
    let wanted = format!("OXIDE_WORKSPACE={repo}");
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            std::fs::read_link(format!("/proc/{pid}/exe"))
                .ok()
                .as_deref()
                == Some(&bin)
                && std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == wanted.as_bytes()))
        })
}
