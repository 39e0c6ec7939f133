//! OXIDE Review, the desktop shell. Tauri commands (`commands`) are thin adapters over
//! `oxide-core`; the app keeps one opened workspace behind a mutex (`state`) and decides
//! which workspace to open on start (`startup`).

pub mod approval;
pub mod binder;
pub mod commands;
pub mod govern;
pub mod keys;
pub mod policy;
pub mod rollout;
pub mod startup;
pub mod state;
pub mod sync;
pub mod synthesis;
pub mod timeline;
pub mod validation;

use std::time::{SystemTime, UNIX_EPOCH};

use tauri::webview::PageLoadEvent;
use tauri::{Manager, RunEvent};

/// A start-up stage, logged (target `oxide_review::startup`, level info) with the wall-clock
/// time in milliseconds, so `oxide-bench desktop` can place it against the app process's own
/// start and break the cold start down.
pub fn stage(name: &'static str) {
    let at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0);
    tracing::info!(target: "oxide_review::startup", stage = name, at_ms, "start-up stage");
}

/// Builds and runs the app until its window closes.
pub fn run() {
    init_tracing();
    stage("main");
    choose_renderer();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let request = startup::StartRequest::from_env_and_args(&args);
    tracing::info!(stage = "start", requested = ?request.source(), "OXIDE Review starting");

    let result = tauri::Builder::default()
        // The dialog plugin is used from Rust only (commands::pick_folder); no capability
        // grants its JS permissions, so the webview cannot open dialogs by itself.
        .plugin(tauri_plugin_dialog::init())
        // Tauri creates the configured window (and starts its page load) before this hook.
        .setup(move |app| {
            stage("window.created");
            let paths = state::AppPaths::resolve(app.handle())?;
            tracing::info!(stage = "paths", config = %paths.config_dir.display(), data = %paths.data_dir.display());
            app.manage(state::AppState::new(paths, request.clone()));
            stage("setup.done");
            Ok(())
        })
        .on_page_load(|_, payload| match payload.event() {
            PageLoadEvent::Started => stage("page.load.started"),
            PageLoadEvent::Finished => stage("page.load.finished"),
        })
        .invoke_handler(tauri::generate_handler![
            commands::initial_workspace,
            commands::open_workspace,
            commands::open_demo_workspace,
            commands::pick_folder,
            commands::recent_workspaces,
            commands::status,
            commands::audit_list,
            commands::audit_verify,
            commands::ollama_status,
            synthesis::skills_list,
            synthesis::skill_add,
            synthesis::skill_pick_file,
            synthesis::skill_discover,
            synthesis::propose,
            synthesis::propose_cancel,
            synthesis::proposal_detail,
            synthesis::ollama_pin_status,
            policy::policy_gates,
            policy::policy_eval,
            policy::policy_test,
            policy::policy_simulate,
            binder::binder_capsules,
            binder::binder_capsule,
            binder::binder_quarantine,
            validation::proposals_list,
            validation::proposal_view,
            validation::workflow_table,
            validation::validate_start,
            validation::validate_poll,
            keys::whoami_get,
            keys::whoami_set,
            keys::keys_list,
            keys::keys_public,
            keys::keys_generate,
            keys::keys_rotate,
            keys::keys_revoke,
            keys::keys_allowed_signers,
            keys::approvers_list,
            approval::approval_inbox,
            approval::approval_preview,
            approval::approval_status,
            approval::approval_sign,
            timeline::timeline_page,
            timeline::timeline_count,
            timeline::timeline_event,
            timeline::timeline_devices,
            timeline::timeline_verify_device,
            timeline::audit_verify_step,
            timeline::timeline_export,
            timeline::proposal_history,
            timeline::charts,
            govern::govern_files,
            govern::govern_preview,
            govern::govern_submit,
            rollout::rollout_readiness,
            rollout::rollout_promote_start,
            rollout::rollout_promote_poll,
            rollout::rollout_rollback,
            rollout::rollout_view,
            rollout::rollout_canary_poll,
            rollout::rollout_queue,
            sync::sync_status,
            sync::sync_run,
        ])
        .build(tauri::generate_context!())
        .map(|app| {
            app.run(|_, event| {
                if let RunEvent::Ready = event {
                    stage("event-loop.ready");
                }
            })
        });
    if let Err(e) = result {
        tracing::error!(error = %e, "OXIDE Review could not start");
        eprintln!("OXIDE Review could not start: {e}");
        std::process::exit(1);
    }
}

/// Sets WebKit's drawing for this machine ([`startup::software_rendering_env`]) before GTK
/// starts, while the process has a single thread; the WebKit processes the app starts inherit it.
fn choose_renderer() {
    #[cfg(target_os = "linux")]
    {
        let has_render_node = std::fs::read_dir("/dev/dri").is_ok_and(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
        });
        let env =
            startup::software_rendering_env(has_render_node, |v| std::env::var_os(v).is_some());
        for (key, value) in &env {
            std::env::set_var(key, value);
        }
        if !env.is_empty() {
            tracing::info!(
                target: "oxide_review::startup",
                stage = "renderer",
                set = ?env,
                "no GPU render node in /dev/dri: WebKit draws in software, without GL in the app process"
            );
        }
    }
}

/// Logs to stderr; `OXIDE_LOG` sets the filter (default `info`). Colours only on a terminal,
/// so a log file (the journeys', the benchmark's) holds plain text.
fn init_tracing() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("OXIDE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}
