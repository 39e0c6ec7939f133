//! Who is acting: the name recorded as `actor` in audit events, decisions and guard records.
//!
//! Foundation layer (no room imports it back): both shells (the `oxide` CLI and the desktop
//! app) ask [`from_env`] and hand the answer to the core; neither decides it itself.
//!
//! The order: `OXIDE_ACTOR`, else the login name (`USER`), else [`UNKNOWN`]. A variable that
//! is set but blank counts as unset, so an audit event never carries an empty actor.

/// The variable that names the actor explicitly (scripts, CI, tests).
pub const ACTOR_VAR: &str = "OXIDE_ACTOR";

/// The login name, used when `OXIDE_ACTOR` is not set.
pub const LOGIN_VAR: &str = "USER";

/// The actor when neither variable names one.
pub const UNKNOWN: &str = "unknown";

/// The actor from this process's environment.
pub fn from_env() -> String {
    resolve(|k| std::env::var(k).ok())
}

/// The actor from `var` (a lookup of environment variables by name): see the module docs.
pub fn resolve(var: impl Fn(&str) -> Option<String>) -> String {
    [ACTOR_VAR, LOGIN_VAR]
        .into_iter()
        .filter_map(&var)
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| UNKNOWN.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn oxide_actor_wins_over_the_login_name() {
        assert_eq!(
            resolve(env(&[("OXIDE_ACTOR", "ana"), ("USER", "root")])),
            "ana"
        );
    }

    #[test]
    fn the_login_name_when_no_actor_is_named() {
        assert_eq!(resolve(env(&[("USER", "bo")])), "bo");
    }

    #[test]
    fn blank_values_count_as_unset() {
        assert_eq!(resolve(env(&[("OXIDE_ACTOR", "  "), ("USER", "bo")])), "bo");
        assert_eq!(resolve(env(&[("OXIDE_ACTOR", ""), ("USER", "")])), UNKNOWN);
    }

    #[test]
    fn unknown_when_nothing_names_one() {
        assert_eq!(resolve(env(&[])), "unknown");
    }
}
