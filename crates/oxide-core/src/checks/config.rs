//! `.oxide/checks.toml`, the CI contract: parsed into checked values with clear errors.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::ChecksError;

/// Longest accepted timeout (a day).
pub const MAX_TIMEOUT_S: u64 = 86_400;
/// Timeout when a check does not give one.
pub const DEFAULT_TIMEOUT_S: u64 = 600;

/// What to execute: an argv, or (only with `shell = true`) a string for `/bin/sh -c`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum RunSpec {
    Argv(Vec<String>),
    Shell(String),
}

/// One `[[check]]` (or `[[canary]]`) of `.oxide/checks.toml`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Check")]
struct RawCheck {
    /// Unique name: 1-64 letters, digits, `-`, `_` or `.`.
    name: String,
    /// An argv array; or one string for `/bin/sh -c`, which requires `shell = true`.
    run: RunSpec,
    /// `run` is a shell command string.
    #[serde(default)]
    shell: bool,
    /// Seconds before the check's whole process group is killed (1..=86400, default 600).
    timeout_s: Option<u64>,
    /// Environment allow-list: every other variable is cleared.
    #[serde(default)]
    env: Vec<String>,
    /// Required checks must pass (default true); advisory ones only report.
    required: Option<bool>,
    /// Run inside the bubblewrap sandbox (default true): a minimal read-only system root, the
    /// worktree writable, a private /tmp, no home, no /run, no network, own session and
    /// namespaces. Only an explicit `sandbox = false` runs the check on the host.
    sandbox: Option<bool>,
    /// Extra host paths made visible read-only inside the sandbox at the same place (e.g. a
    /// toolchain under the home directory: `["/home/me/.cargo", "/home/me/.rustup"]`).
    /// Absolute and normalised; checked again before every run (must exist, must not expose
    /// the home directory itself, the state database or the repository's `.git`/`.oxide`).
    #[serde(default)]
    ro_paths: Vec<String>,
    /// Repository globs that form this check's harness besides what OXIDE derives (the files
    /// its argv names, its ecosystem's build/test configuration); a proposal touching one is
    /// at least high risk. Relative, `**` allowed, matched case-insensitively.
    #[serde(default)]
    harness: Vec<String>,
    /// `pin = "target"`: before the check runs, its concrete harness files (the script its
    /// argv names, explicit `harness` entries that are plain paths) are replaced in the
    /// validation worktree by the target branch's copy; one the target lacks is removed. The
    /// check then runs the reviewed entry point whatever the proposal did to it.
    pin: Option<Pin>,
}

/// Where a pinned check's harness files come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Pin {
    /// The tip of the target branch the contract is read from.
    Target,
}

/// `.oxide/checks.toml`, the CI contract.
#[derive(Debug, Clone, Deserialize, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "OXIDE CI contract (.oxide/checks.toml)")]
struct RawFile {
    #[serde(default)]
    check: Vec<RawCheck>,
    #[serde(default)]
    canary: Vec<RawCheck>,
}

/// One named check, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CheckSpec {
    pub name: String,
    /// The argv to execute (for shell checks: `["/bin/sh", "-c", text]`).
    pub argv: Vec<String>,
    pub shell: bool,
    pub timeout_s: u64,
    /// Environment allow-list: every other variable is cleared.
    pub env: Vec<String>,
    /// Required checks must pass; advisory ones (`required = false`) only report.
    pub required: bool,
    /// Runs inside the sandbox (the default; `false` only when the contract says so).
    pub sandbox: bool,
    /// Host paths bound read-only into the sandbox (absolute, normalised).
    pub ro_paths: Vec<String>,
    /// Explicit harness globs (see `checks::harness`). Left out when empty, so the digest of
    /// a check without it (its gate version) is what it was before the field existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub harness: Vec<String>,
    /// `pin = "target"`: the check's concrete harness files (`checks::harness::pin_files`)
    /// are taken from the target branch before it runs. Left out when false (digest as before).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pin: bool,
}

/// The whole contract.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChecksConfig {
    pub checks: Vec<CheckSpec>,
    pub canaries: Vec<CheckSpec>,
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

fn valid_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.as_bytes()[0].is_ascii_digit()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Why `p` cannot be an `ro_paths` entry (the rules that need no file system), if it cannot.
fn bad_ro_path(p: &str) -> Option<&'static str> {
    if p.contains('\0') {
        return Some("contains a NUL byte");
    }
    if !p.starts_with('/') {
        return Some("is not an absolute path");
    }
    if p == "/" {
        return Some("is the whole file system; list the directories the check needs");
    }
    if p.ends_with('/')
        || p.split('/')
            .skip(1)
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Some("is not normalised (no trailing '/', '//', '.' or '..' segments)");
    }
    None
}

fn check_one(
    path: &str,
    table: &str,
    i: usize,
    raw: RawCheck,
    names: &mut BTreeSet<String>,
) -> Result<CheckSpec, ChecksError> {
    let at = format!("[[{table}]] #{} ('{}')", i + 1, raw.name);
    let bad = |why: String| ChecksError::BadConfig {
        path: path.to_string(),
        why: format!("{at}: {why}"),
    };
    if !valid_name(&raw.name) {
        return Err(bad(
            "name must be 1-64 characters of letters, digits, '-', '_' or '.'".into(),
        ));
    }
    if !names.insert(raw.name.clone()) {
        return Err(bad("the name is used twice; names must be unique".into()));
    }
    let argv = match (&raw.run, raw.shell) {
        (RunSpec::Argv(v), false) => {
            if v.is_empty() || v[0].is_empty() {
                return Err(bad(
                    "run is empty; give the argv, e.g. [\"cargo\", \"test\"]".into(),
                ));
            }
            if v.iter().any(|a| a.contains('\0')) {
                return Err(bad("run contains a NUL byte".into()));
            }
            v.clone()
        }
        (RunSpec::Shell(s), true) => {
            if s.trim().is_empty() || s.contains('\0') {
                return Err(bad("run is an empty shell command".into()));
            }
            vec!["/bin/sh".into(), "-c".into(), s.clone()]
        }
        (RunSpec::Shell(_), false) => {
            return Err(bad(
                "run is a string, which needs shell = true; or give an argv array".into(),
            ))
        }
        (RunSpec::Argv(_), true) => {
            return Err(bad(
                "shell = true needs run to be one string (the shell command)".into(),
            ))
        }
    };
    let timeout_s = raw.timeout_s.unwrap_or(DEFAULT_TIMEOUT_S);
    if timeout_s == 0 || timeout_s > MAX_TIMEOUT_S {
        return Err(bad(format!(
            "timeout_s must be between 1 and {MAX_TIMEOUT_S}, got {timeout_s}"
        )));
    }
    if let Some(e) = raw.env.iter().find(|e| !valid_env_name(e)) {
        return Err(bad(format!(
            "env entry '{e}' is not a variable name (letters, digits, '_')"
        )));
    }
    let sandbox = raw.sandbox.unwrap_or(true);
    if !sandbox && !raw.ro_paths.is_empty() {
        return Err(bad(
            "ro_paths only applies to sandboxed checks; remove it or drop sandbox = false".into(),
        ));
    }
    let mut seen = BTreeSet::new();
    for p in &raw.ro_paths {
        if let Some(why) = bad_ro_path(p) {
            return Err(bad(format!("ro_paths entry '{p}' {why}")));
        }
        if !seen.insert(p.as_str()) {
            return Err(bad(format!("ro_paths entry '{p}' is listed twice")));
        }
    }
    if let Some(g) = raw.harness.iter().find(|g| !super::harness::valid_glob(g)) {
        return Err(bad(format!(
            "harness entry '{g}' is not a relative glob (e.g. \"tests/**\")"
        )));
    }
    let spec = CheckSpec {
        harness: raw.harness,
        name: raw.name,
        argv,
        shell: raw.shell,
        timeout_s,
        env: raw.env,
        required: raw.required.unwrap_or(true),
        sandbox,
        ro_paths: raw.ro_paths,
        pin: raw.pin == Some(Pin::Target),
    };
    if spec.pin && super::harness::pin_files(&spec).is_empty() {
        return Err(bad(
            "pin = \"target\" needs a repository file to pin: run a script by its path (e.g. \
             [\"sh\", \"./scripts/ci.sh\"]) or list the files as plain paths in \
             harness = [\"...\"]; this check's entry point is not a repository file"
                .into(),
        ));
    }
    Ok(spec)
}

/// JSON Schema (2020-12) of `.oxide/checks.toml` read as data (`docs/schemas/checks.schema.json`).
/// The rules the schema cannot say (unique names, `shell` ⇔ string `run`, ranges) are
/// checked by [`parse`].
pub fn checks_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(RawFile)).expect("schema serialises")
}

/// Parses the text of `.oxide/checks.toml` (`path` only names it in errors).
pub fn parse(path: &str, text: &str) -> Result<ChecksConfig, ChecksError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| ChecksError::BadConfig {
        path: path.to_string(),
        why: e.to_string().trim().replace('\n', " "),
    })?;
    let mut names = BTreeSet::new();
    let checks = raw
        .check
        .into_iter()
        .enumerate()
        .map(|(i, c)| check_one(path, "check", i, c, &mut names))
        .collect::<Result<Vec<_>, _>>()?;
    // A contract whose checks are all advisory validates anything: refuse it. (No check at
    // all is `NoChecks`, reported where the contract is loaded.)
    if !checks.is_empty() && !checks.iter().any(|c| c.required) {
        return Err(ChecksError::NoRequiredCheck {
            path: path.to_string(),
        });
    }
    let mut canary_names = BTreeSet::new();
    let canaries = raw
        .canary
        .into_iter()
        .enumerate()
        .map(|(i, c)| check_one(path, "canary", i, c, &mut canary_names))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ChecksConfig { checks, canaries })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_optional_checks_are_refused() {
        let err = parse(
            "checks.toml",
            "[[check]]\nname = \"lint\"\nrun = [\"true\"]\nrequired = false\n[[check]]\nname = \"unit\"\nrun = [\"true\"]\nrequired = false\n",
        )
        .unwrap_err();
        assert_eq!(err.code(), "CHECKS_NONE_REQUIRED");
        assert!(
            err.to_string().contains("at least one check required"),
            "{err}"
        );
        let ok = parse(
            "checks.toml",
            "[[check]]\nname = \"lint\"\nrun = [\"true\"]\nrequired = false\n[[check]]\nname = \"unit\"\nrun = [\"true\"]\n",
        )
        .unwrap();
        assert_eq!(ok.checks.iter().filter(|c| c.required).count(), 1);
    }

    #[test]
    fn contract_example_parses() {
        let cfg = parse(
            "checks.toml",
            r#"
[[check]]
name = "unit"
run = ["cargo", "test"]
timeout_s = 600
env = ["PATH", "HOME"]
required = true
sandbox = false

[[check]]
name = "lint"
run = "echo hi && true"
shell = true
required = false

[[canary]]
name = "smoke"
run = ["./scripts/smoke"]
timeout_s = 120
"#,
        )
        .unwrap();
        assert_eq!(cfg.checks.len(), 2);
        assert_eq!(cfg.checks[0].argv, vec!["cargo", "test"]);
        assert_eq!(cfg.checks[1].argv, vec!["/bin/sh", "-c", "echo hi && true"]);
        assert!(!cfg.checks[1].required);
        assert_eq!(cfg.checks[1].timeout_s, DEFAULT_TIMEOUT_S);
        assert_eq!(cfg.canaries[0].name, "smoke");
        assert!(cfg.canaries[0].required);
    }

    #[test]
    fn schema_file_is_current_and_accepts_the_contract_example() {
        let schema = checks_schema();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/schemas/checks.schema.json");
        let want = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        if std::env::var("OXIDE_BLESS").is_ok_and(|v| v == "1") {
            std::fs::write(&path, &want).unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(&path).unwrap_or_default(),
            want,
            "docs/schemas/checks.schema.json is stale; regenerate with OXIDE_BLESS=1 cargo test -p oxide-core checks::config"
        );
        let example: toml::Value = toml::from_str(
            "[[check]]\nname = \"unit\"\nrun = [\"cargo\", \"test\"]\ntimeout_s = 600\nenv = [\"PATH\"]\nrequired = true\nsandbox = false\n[[check]]\nname = \"sh\"\nrun = \"make\"\nshell = true\n[[canary]]\nname = \"smoke\"\nrun = [\"./s\"]\n",
        )
        .unwrap();
        let v = jsonschema::validator_for(&schema).unwrap();
        let doc = serde_json::to_value(&example).unwrap();
        assert!(
            v.is_valid(&doc),
            "{:?}",
            v.iter_errors(&doc)
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
        );
        let bad = serde_json::json!({"check": [{"name": "a", "run": ["x"], "network": true}]});
        assert!(!v.is_valid(&bad), "unknown keys are refused");
    }

    #[test]
    fn commented_default_is_an_empty_contract() {
        let cfg = parse("c", crate::workspace::defaults::CHECKS_TOML).unwrap();
        assert!(cfg.checks.is_empty() && cfg.canaries.is_empty());
    }

    #[test]
    fn bad_files_are_explained() {
        let cases: &[(&str, &str)] = &[
            (
                "[[check]]\nname = \"a\"\nrun = \"make\"\n",
                "needs shell = true",
            ),
            (
                "[[check]]\nname = \"a\"\nrun = [\"a\"]\nshell = true\n",
                "one string",
            ),
            ("[[check]]\nname = \"a\"\nrun = []\n", "run is empty"),
            ("[[check]]\nname = \"a b\"\nrun = [\"x\"]\n", "name must be"),
            (
                "[[check]]\nname = \"a\"\nrun = [\"x\"]\n[[check]]\nname = \"a\"\nrun = [\"y\"]\n",
                "used twice",
            ),
            (
                "[[check]]\nname = \"a\"\nrun = [\"x\"]\ntimeout_s = 0\n",
                "timeout_s",
            ),
            (
                "[[check]]\nname = \"a\"\nrun = [\"x\"]\nenv = [\"A=B\"]\n",
                "env entry",
            ),
            (
                "[[check]]\nname = \"a\"\nrun = [\"x\"]\nnetwork = true\n",
                "unknown field",
            ),
            ("[[check]]\nrun = [\"x\"]\n", "missing field `name`"),
            ("[[check]\n", "TOML"),
        ];
        for (text, want) in cases {
            let err = parse(".oxide/checks.toml", text).unwrap_err();
            assert_eq!(err.code(), "CHECKS_BAD_CONFIG");
            let msg = err.to_string();
            assert!(
                msg.contains(want) || (*want == "TOML" && msg.contains("line")),
                "{text:?}: {msg}"
            );
            assert!(msg.contains(".oxide/checks.toml"), "{msg}");
        }
    }

    #[test]
    fn checks_are_sandboxed_unless_the_contract_says_false() {
        let cfg = parse(
            "c",
            "[[check]]\nname = \"a\"\nrun = [\"x\"]\n[[check]]\nname = \"b\"\nrun = [\"x\"]\nsandbox = false\n[[check]]\nname = \"c\"\nrun = [\"x\"]\nsandbox = true\nro_paths = [\"/opt/tool\"]\n[[canary]]\nname = \"d\"\nrun = [\"x\"]\n",
        )
        .unwrap();
        let sb: Vec<bool> = cfg.checks.iter().map(|c| c.sandbox).collect();
        assert_eq!(sb, [true, false, true]);
        assert!(
            cfg.canaries[0].sandbox,
            "canaries are sandboxed by default too"
        );
        assert_eq!(cfg.checks[2].ro_paths, ["/opt/tool"]);
        assert!(cfg.checks[0].ro_paths.is_empty());
    }

    #[test]
    fn sandbox_and_ro_paths_values_are_strict() {
        let one = |extra: &str| format!("[[check]]\nname = \"a\"\nrun = [\"x\"]\n{extra}\n");
        let cases: &[(&str, &str)] = &[
            ("sandbox = \"no\"", "expected a boolean"),
            ("sandbox = 0", "expected a boolean"),
            ("sandbox = \"false\"", "expected a boolean"),
            ("ro_paths = \"/opt\"", "expected a sequence"),
            ("ro_paths = [\"opt/tool\"]", "not an absolute path"),
            ("ro_paths = [\"/\"]", "whole file system"),
            ("ro_paths = [\"/opt/../root\"]", "not normalised"),
            ("ro_paths = [\"/opt//x\"]", "not normalised"),
            ("ro_paths = [\"/opt/\"]", "not normalised"),
            ("ro_paths = [\"/opt/./x\"]", "not normalised"),
            ("ro_paths = [\"/opt\", \"/opt\"]", "listed twice"),
            (
                "sandbox = false\nro_paths = [\"/opt\"]",
                "only applies to sandboxed checks",
            ),
        ];
        for (extra, want) in cases {
            let err = parse(".oxide/checks.toml", &one(extra)).unwrap_err();
            assert_eq!(err.code(), "CHECKS_BAD_CONFIG", "{extra}");
            let msg = err.to_string();
            assert!(msg.contains(want), "{extra}: {msg}");
            assert!(msg.contains(".oxide/checks.toml"), "{msg}");
        }
    }

    #[test]
    fn pin_target_is_accepted_on_a_script_entry_point() {
        let cfg = parse(
            "c",
            "[[check]]\nname = \"ci\"\nrun = [\"sh\", \"./scripts/ci.sh\"]\npin = \"target\"\n[[check]]\nname = \"unit\"\nrun = [\"cargo\", \"test\"]\nharness = [\"tests/**\", \"xtask/run.rs\"]\npin = \"target\"\n[[check]]\nname = \"plain\"\nrun = [\"./t.sh\"]\n",
        )
        .unwrap();
        let pins: Vec<bool> = cfg.checks.iter().map(|c| c.pin).collect();
        assert_eq!(pins, [true, true, false]);
        // An unpinned check's stored form (and so its gate version) is what it was before.
        let v = serde_json::to_value(&cfg.checks[2]).unwrap();
        assert!(v.get("pin").is_none(), "{v}");
        assert_eq!(serde_json::to_value(&cfg.checks[0]).unwrap()["pin"], true);
    }

    #[test]
    fn pin_without_a_repository_file_or_with_a_bad_value_is_refused() {
        let cases: &[(&str, &str)] = &[
            (
                "run = [\"cargo\", \"test\"]\npin = \"target\"",
                "needs a repository file to pin",
            ),
            (
                "run = [\"cargo\", \"test\"]\nharness = [\"tests/**\"]\npin = \"target\"",
                "needs a repository file to pin",
            ),
            (
                "run = \"./scripts/ci.sh\"\nshell = true\npin = \"target\"",
                "needs a repository file to pin",
            ),
            ("run = [\"./ci.sh\"]\npin = \"proposal\"", "unknown variant"),
            ("run = [\"./ci.sh\"]\npin = true", "pin"),
        ];
        for (extra, want) in cases {
            let text = format!("[[check]]\nname = \"a\"\n{extra}\n");
            let err = parse(".oxide/checks.toml", &text).unwrap_err();
            assert_eq!(err.code(), "CHECKS_BAD_CONFIG", "{extra}");
            let msg = err.to_string();
            assert!(msg.contains(want), "{extra}: {msg}");
            assert!(msg.contains(".oxide/checks.toml"), "{msg}");
        }
        // A shell check can pin what it lists as plain harness paths.
        let ok = parse(
            "c",
            "[[check]]\nname = \"a\"\nrun = \"cd app && ./t.sh\"\nshell = true\nharness = [\"app/t.sh\"]\npin = \"target\"\n",
        )
        .unwrap();
        assert!(ok.checks[0].pin);
    }
}
