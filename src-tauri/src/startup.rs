//! Which workspace the app opens first, and how WebKit draws on a machine without a GPU. Pure:
//! the inputs are values, the caller does I/O.
//!
//! Order: `OXIDE_WORKSPACE`, then the first command-line argument, then the most recently
//! opened workspace that still exists, then the demo workspace (created on first use).

use std::path::PathBuf;

/// What the user asked for when starting the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartRequest {
    /// A workspace given explicitly (env or argument).
    pub workspace: Option<PathBuf>,
    /// `OXIDE_DB`: the state database to use instead of the per-user default.
    pub db: Option<PathBuf>,
    from_env: bool,
}

/// Where the first workspace comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartChoice {
    Explicit(PathBuf),
    Recent(PathBuf),
    Demo,
}

impl StartRequest {
    pub fn new(workspace: Option<PathBuf>, db: Option<PathBuf>) -> StartRequest {
        StartRequest {
            workspace,
            db,
            from_env: false,
        }
    }

    /// Reads `OXIDE_WORKSPACE`, `OXIDE_DB` and the arguments (program name excluded).
    pub fn from_env_and_args(args: &[String]) -> StartRequest {
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Self::from_parts(env("OXIDE_WORKSPACE"), env("OXIDE_DB"), args)
    }

    fn from_parts(env_ws: Option<PathBuf>, db: Option<PathBuf>, args: &[String]) -> StartRequest {
        let from_env = env_ws.is_some();
        // Options (e.g. ones a launcher adds) are not workspaces.
        let arg_ws = args
            .iter()
            .find(|a| !a.starts_with('-') && !a.is_empty())
            .map(PathBuf::from);
        StartRequest {
            workspace: env_ws.or(arg_ws),
            db,
            from_env,
        }
    }

    /// For logs: where the request came from (never the path itself at info level).
    pub fn source(&self) -> &'static str {
        match (&self.workspace, self.from_env) {
            (Some(_), true) => "OXIDE_WORKSPACE",
            (Some(_), false) => "argument",
            (None, _) => "none",
        }
    }

    /// Decides the first workspace, given the recent list (newest first) and whether a
    /// folder exists.
    pub fn choose(&self, recent: &[String], is_dir: impl Fn(&str) -> bool) -> StartChoice {
        if let Some(ws) = &self.workspace {
            return StartChoice::Explicit(ws.clone());
        }
        recent
            .iter()
            .find(|p| is_dir(p))
            .map(|p| StartChoice::Recent(PathBuf::from(p)))
            .unwrap_or(StartChoice::Demo)
    }
}

/// The variables a user sets to choose WebKitGTK's renderer themselves: when any is set, the
/// app leaves the renderer alone.
pub const RENDERER_CHOICES: [&str; 5] = [
    "WEBKIT_DISABLE_DMABUF_RENDERER",
    "WEBKIT_DISABLE_COMPOSITING_MODE",
    "WEBKIT_FORCE_COMPOSITING_MODE",
    "WEBKIT_DMABUF_RENDERER_FORCE_SHM",
    "WEBKIT_WEB_RENDER_DEVICE_FILE",
];

/// How WebKitGTK (2.50, GTK 3) should draw on this machine: the environment to set before GTK
/// starts, in order.
///
/// With a GPU render node (`/dev/dri/renderD*`) nothing is set: WebKit composites on the GPU
/// and hands the frames to the app as DMA-BUFs. Without one (a VM, a container, a virtual
/// display such as Xvfb) every GL call runs on Mesa's software rasterizer, llvmpipe, which
/// links all of LLVM; GTK (its GLX set-up when the display opens) and WebKit's UI process (its
/// EGL display, to import DMA-BUFs and to find the DRM device) would load it into the app
/// process for nothing: 49 MB of the app's 193 MB idle RSS (`oxide-bench desktop`). There the
/// app asks for software drawing instead, which is what llvmpipe does anyway, on the CPU:
/// - `WEBKIT_DISABLE_DMABUF_RENDERER=1`: no accelerated compositing; the web process paints
///   the page with its CPU renderer and shares it through shared memory;
/// - `GDK_GL=disable`: GTK sets up no GL;
/// - `WEBKIT_WEB_RENDER_DEVICE_FILE=/dev/null`: the DRM render node WebKit would otherwise
///   find by opening an EGL display. There is none, and `/dev/null` is no DRM device: were GPU
///   buffers ever asked for, WebKit's GBM set-up fails cleanly and it falls back.
///
/// The web process still opens its own (surfaceless) EGL display, as it must. A user who set
/// any of [`RENDERER_CHOICES`] chose the renderer: nothing is set then, nor a variable the user
/// already set (`is_set`).
pub fn software_rendering_env(
    has_render_node: bool,
    is_set: impl Fn(&str) -> bool,
) -> Vec<(&'static str, &'static str)> {
    if has_render_node || RENDERER_CHOICES.iter().any(|v| is_set(v)) {
        return Vec::new();
    }
    [
        ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
        ("GDK_GL", "disable"),
        ("WEBKIT_WEB_RENDER_DEVICE_FILE", "/dev/null"),
    ]
    .into_iter()
    .filter(|(k, _)| !is_set(k))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_drawing_only_without_a_gpu_and_without_a_user_choice() {
        let none = |_: &str| false;
        assert_eq!(
            software_rendering_env(false, none),
            vec![
                ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
                ("GDK_GL", "disable"),
                ("WEBKIT_WEB_RENDER_DEVICE_FILE", "/dev/null"),
            ]
        );
        assert!(
            software_rendering_env(true, none).is_empty(),
            "a GPU: nothing changes"
        );
        for choice in RENDERER_CHOICES {
            assert!(
                software_rendering_env(false, |v| v == choice).is_empty(),
                "{choice} set by the user: their choice stands"
            );
        }
        // A variable the user set is never overwritten; the others still apply.
        assert_eq!(
            software_rendering_env(false, |v| v == "GDK_GL"),
            vec![
                ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
                ("WEBKIT_WEB_RENDER_DEVICE_FILE", "/dev/null"),
            ]
        );
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn env_wins_over_argument() {
        let r = StartRequest::from_parts(Some("/env".into()), None, &args(&["/arg"]));
        assert_eq!(r.workspace, Some(PathBuf::from("/env")));
        assert_eq!(r.source(), "OXIDE_WORKSPACE");
    }

    #[test]
    fn first_non_option_argument_is_the_workspace() {
        let r = StartRequest::from_parts(None, None, &args(&["--some-flag", "/repo"]));
        assert_eq!(r.workspace, Some(PathBuf::from("/repo")));
        assert_eq!(r.source(), "argument");
    }

    #[test]
    fn explicit_then_recent_then_demo() {
        let recent = vec!["/gone".to_string(), "/here".to_string()];
        let exists = |p: &str| p == "/here";
        let explicit = StartRequest::new(Some("/x".into()), None);
        assert_eq!(
            explicit.choose(&recent, exists),
            StartChoice::Explicit("/x".into())
        );
        let none = StartRequest::new(None, None);
        assert_eq!(
            none.choose(&recent, exists),
            StartChoice::Recent("/here".into())
        );
        assert_eq!(none.choose(&[], exists), StartChoice::Demo);
    }
}
