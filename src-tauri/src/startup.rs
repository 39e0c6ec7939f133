//! Which workspace the app opens first. Pure: the inputs are values, the caller does I/O.
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

#[cfg(test)]
mod tests {
    use super::*;

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
