//! Declares the app's own commands to tauri-build: each gets an `allow-<command>` permission,
//! and a command not granted by a capability (capabilities/main-window.json) is refused.

use std::path::Path;

/// The one list of command names, shared with `src/commands.rs`.
const COMMANDS: &[&str] = include!("command_names.rs");

/// The app embeds `ui/dist` (tauri.conf.json `frontendDist`). So that `cargo build` and
/// `cargo clippy --workspace` work before the UI was built, a missing build is replaced by a
/// page saying how to build it; `npm --prefix ui run build` overwrites it.
fn ensure_ui_dist() {
    let index = Path::new("../ui/dist/index.html");
    if !index.exists() {
        println!(
            "cargo:warning=ui/dist is missing; embedding a placeholder. Run `npm --prefix ui run build` (scripts/dev and scripts/test do)."
        );
        std::fs::create_dir_all("../ui/dist").expect("create ui/dist");
        std::fs::write(
            index,
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>OXIDE Review</title>\
             <body><h1>The OXIDE Review UI was not built</h1>\
             <p>Run <code>npm --prefix ui run build</code>, then build the app again \
             (<code>bash scripts/dev</code> does both).</p></body></html>\n",
        )
        .expect("write placeholder ui/dist/index.html");
    }
}

fn main() {
    ensure_ui_dist();
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build failed");
}
