//! Declares the app's own commands to tauri-build: each gets an `allow-<command>` permission,
//! and a command not granted by a capability (capabilities/main-window.json) is refused.

/// Keep in sync with `commands::COMMANDS` (a unit test checks the two lists match).
const COMMANDS: &[&str] = &[
    "initial_workspace",
    "open_workspace",
    "open_demo_workspace",
    "pick_folder",
    "recent_workspaces",
    "status",
    "audit_list",
    "audit_verify",
    "ollama_status",
    "skills_list",
    "skill_add",
    "skill_pick_file",
    "skill_discover",
    "propose",
    "propose_cancel",
    "proposal_detail",
    "ollama_pin_status",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build failed");
}
