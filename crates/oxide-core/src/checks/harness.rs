//! Which repository paths form each check's harness: the files that decide what a check
//! runs. A proposal that edits them can make its own required checks pass, so the policy
//! sees them (`input.harness_paths`) and raises the risk. Pure: a function of the contract.
//!
//! A check's harness is
//! - its explicit `harness = [globs]` in `.oxide/checks.toml`;
//! - the repository files its argv (or shell command) names: a relative path such as
//!   `./scripts/ci.sh`, or the script after a shell or interpreter (`sh`, `bash`, `python3`,
//!   `node`, ...);
//! - the well-known build/test configuration of the program it runs (table below).
//!
//! Matching is case-insensitive; `**/` patterns match at any depth.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use super::config::{CheckSpec, ChecksConfig};

/// Build/test configuration of common ecosystems, by the program a check runs.
const ECOSYSTEMS: &[(&[&str], &[&str], &str)] = &[
    (
        &["cargo", "rustc", "cargo-nextest"],
        &[
            "**/Cargo.toml",
            "**/Cargo.lock",
            "**/build.rs",
            "**/.cargo/config",
            "**/.cargo/config.toml",
            "**/rust-toolchain",
            "**/rust-toolchain.toml",
        ],
        "cargo build/test configuration (manifests, build scripts, .cargo/config, toolchain)",
    ),
    (
        &["make", "gmake"],
        &["**/Makefile", "**/GNUmakefile", "**/makefile", "**/*.mk"],
        "make rules",
    ),
    (
        &["npm", "yarn", "pnpm", "npx", "node", "bun"],
        &[
            "**/package.json",
            "**/package-lock.json",
            "**/npm-shrinkwrap.json",
            "**/yarn.lock",
            "**/pnpm-lock.yaml",
            "**/.npmrc",
            "**/.yarnrc",
            "**/.yarnrc.yml",
        ],
        "npm scripts, lockfiles and registry configuration",
    ),
    (
        &[
            "python", "python3", "pytest", "tox", "nox", "pip", "pip3", "uv", "poetry",
        ],
        &[
            "**/pyproject.toml",
            "**/setup.py",
            "**/setup.cfg",
            "**/tox.ini",
            "**/noxfile.py",
            "**/conftest.py",
            "**/pytest.ini",
        ],
        "python build/test configuration (pyproject, setup, tox/nox, conftest, pytest.ini)",
    ),
    (&["go"], &["**/go.mod", "**/go.sum"], "go module files"),
];

/// Shells and interpreters whose operand is a script (`python3 run_tests.py`).
const SHELLS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "python", "python3", "node", "ruby", "perl", "php", "bun",
    "deno",
];

/// One pattern of a check's harness and why it is there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HarnessRule {
    pub check: String,
    pub pattern: String,
    pub reason: String,
}

/// A touched path that is part of a check's harness.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HarnessHit {
    pub path: String,
    pub check: String,
    pub pattern: String,
    pub reason: String,
}

fn program(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// A repository-relative file named by an argv word (`./scripts/ci.sh`, `scripts/ci.sh`),
/// normalised; `None` for options, absolute paths and words that are not paths.
fn repo_file(word: &str) -> Option<String> {
    if word.starts_with('-') || word.starts_with('/') || word.contains('=') {
        return None;
    }
    let w = word.strip_prefix("./").unwrap_or(word);
    if w.is_empty() || w.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return None;
    }
    Some(w.to_string())
}

/// The words a check runs: its argv, or the words of its shell command.
fn words(spec: &CheckSpec) -> Vec<String> {
    if spec.shell {
        spec.argv
            .last()
            .map(|s| {
                s.split(|c: char| c.is_whitespace() || ";&|()`'\"".contains(c))
                    .filter(|w| !w.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    } else {
        spec.argv.clone()
    }
}

/// The repository files a check's argv (or shell command) names: a path with a `/`, or the
/// script after a shell or interpreter. Normalised, sorted, without duplicates.
fn argv_files(spec: &CheckSpec) -> Vec<String> {
    let words = words(spec);
    let mut out: Vec<String> = words
        .iter()
        .enumerate()
        .filter(|(i, w)| w.contains('/') || (*i > 0 && SHELLS.contains(&program(&words[i - 1]))))
        .filter_map(|(_, w)| repo_file(w))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether a `harness` entry is one concrete path (no glob syntax), so it can be pinned.
fn is_plain_path(pattern: &str) -> bool {
    !pattern.contains(['*', '?', '[', ']', '{', '}', '\\', '!'])
        && repo_file(pattern).as_deref() == Some(pattern)
}

/// The concrete files `pin = "target"` replaces with the target branch's copy: the files the
/// check's argv names plus its explicit `harness` entries that are plain paths (globs cannot
/// be pinned: they name no one file). A shell command's words are not pinned (`cd app &&
/// ./t.sh` runs `app/t.sh`, which word splitting cannot know): such a check pins its explicit
/// plain-path `harness` entries. Empty when the check's entry point is no repository file
/// (`cargo test`), which `config::parse` refuses together with `pin`.
pub fn pin_files(spec: &CheckSpec) -> Vec<String> {
    let mut out = if spec.shell {
        Vec::new()
    } else {
        argv_files(spec)
    };
    out.extend(spec.harness.iter().filter(|g| is_plain_path(g)).cloned());
    out.sort();
    out.dedup();
    out
}

/// Every pattern of one check's harness.
pub fn rules_for(spec: &CheckSpec) -> Vec<HarnessRule> {
    let rule = |pattern: &str, reason: String| HarnessRule {
        check: spec.name.clone(),
        pattern: pattern.to_string(),
        reason,
    };
    let mut out: Vec<HarnessRule> = spec
        .harness
        .iter()
        .map(|g| rule(g, "listed in the check's `harness`".into()))
        .collect();
    let words = words(spec);
    for (i, w) in words.iter().enumerate() {
        let prog = program(w);
        let names_a_file = w.contains('/') || (i > 0 && SHELLS.contains(&program(&words[i - 1])));
        if names_a_file {
            if let Some(f) = repo_file(w) {
                out.push(rule(&f, format!("the check runs `{w}`")));
            }
        }
        for (progs, globs, why) in ECOSYSTEMS {
            if progs.contains(&prog) {
                out.extend(
                    globs
                        .iter()
                        .map(|g| rule(g, format!("{why}: the check runs `{prog}`"))),
                );
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The touched paths that are part of any check's harness, one entry per (path, rule).
pub fn hits<'a>(
    contract: &ChecksConfig,
    paths: impl IntoIterator<Item = &'a str>,
) -> Vec<HarnessHit> {
    // Advisory checks gate nothing: only required checks' harnesses count.
    let rules: Vec<HarnessRule> = contract
        .checks
        .iter()
        .filter(|c| c.required)
        .flat_map(rules_for)
        .collect();
    let mut b = GlobSetBuilder::new();
    let mut kept = Vec::new();
    for r in rules {
        // Patterns come from a committed, parsed contract; one that does not compile matches
        // nothing (parse refuses bad `harness` globs before this).
        if let Ok(g) = GlobBuilder::new(&r.pattern)
            .case_insensitive(true)
            .literal_separator(true)
            .build()
        {
            b.add(g);
            kept.push(r);
        }
    }
    let set: GlobSet = b.build().unwrap_or_else(|_| GlobSet::empty());
    let mut out = Vec::new();
    for p in paths {
        for i in set.matches(p) {
            let r = &kept[i];
            out.push(HarnessHit {
                path: p.to_string(),
                check: r.check.clone(),
                pattern: r.pattern.clone(),
                reason: r.reason.clone(),
            });
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Whether `pattern` is a usable `harness` glob (for `config::parse`).
pub fn valid_glob(pattern: &str) -> bool {
    !pattern.is_empty()
        && !pattern.starts_with('/')
        && GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::config::parse;

    fn contract(text: &str) -> ChecksConfig {
        parse("checks.toml", text).unwrap()
    }

    fn hit_paths(c: &ChecksConfig, paths: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = hits(c, paths.iter().copied())
            .into_iter()
            .map(|h| h.path)
            .collect();
        v.dedup();
        v
    }

    #[test]
    fn the_script_a_check_names_is_harness() {
        let c = contract("[[check]]\nname = \"ci\"\nrun = [\"./scripts/ci.sh\"]\n");
        assert_eq!(
            hit_paths(&c, &["scripts/ci.sh", "scripts/other.sh", "src/a.rs"]),
            vec!["scripts/ci.sh"]
        );
        let c = contract("[[check]]\nname = \"ci\"\nrun = [\"bash\", \"ci.sh\", \"--fast\"]\n");
        assert_eq!(hit_paths(&c, &["ci.sh", "src/ci.sh"]), vec!["ci.sh"]);
        let c = contract(
            "[[check]]\nname = \"ci\"\nrun = \"cd app && ./run-tests.sh\"\nshell = true\n",
        );
        assert_eq!(
            hit_paths(&c, &["app/x", "run-tests.sh"]),
            vec!["run-tests.sh"]
        );
    }

    #[test]
    fn ecosystem_configuration_is_harness_at_any_depth_and_case() {
        let c = contract("[[check]]\nname = \"unit\"\nrun = [\"cargo\", \"test\"]\n");
        assert_eq!(
            hit_paths(
                &c,
                &[
                    "Cargo.toml",
                    "crates/x/CARGO.TOML",
                    "crates/x/build.rs",
                    ".cargo/config.toml",
                    "rust-toolchain.toml",
                    "src/lib.rs",
                    "package.json"
                ]
            ),
            vec![
                ".cargo/config.toml",
                "Cargo.toml",
                "crates/x/CARGO.TOML",
                "crates/x/build.rs",
                "rust-toolchain.toml"
            ]
        );
        let c = contract("[[check]]\nname = \"unit\"\nrun = [\"make\", \"test\"]\n");
        assert_eq!(
            hit_paths(&c, &["Makefile", "sub/rules.mk", "src/a.c"]),
            vec!["Makefile", "sub/rules.mk"]
        );
        let c = contract(
            "[[check]]\nname = \"unit\"\nrun = [\"/usr/bin/python3\", \"-m\", \"pytest\"]\n",
        );
        assert_eq!(
            hit_paths(
                &c,
                &["tests/conftest.py", "pyproject.toml", "tests/test_a.py"]
            ),
            vec!["pyproject.toml", "tests/conftest.py"]
        );
    }

    #[test]
    fn explicit_globs_and_advisory_checks() {
        let c = contract("[[check]]\nname = \"unit\"\nrun = [\"true\"]\nharness = [\"tests/**\"]\n[[check]]\nname = \"lint\"\nrun = [\"npm\", \"run\", \"lint\"]\nrequired = false\n");
        let h = hits(&c, ["tests/a/b.rs", "package.json", "src/x"]);
        // The advisory lint's package.json gates nothing.
        assert_eq!(
            h.iter().map(|h| h.path.as_str()).collect::<Vec<_>>(),
            vec!["tests/a/b.rs"]
        );
        assert_eq!(h[0].check, "unit");
        assert_eq!(h[0].reason, "listed in the check's `harness`");
    }

    #[test]
    fn pin_files_are_the_concrete_files_only() {
        let one = |text: &str| pin_files(&contract(text).checks[0]);
        assert_eq!(
            one("[[check]]\nname = \"ci\"\nrun = [\"sh\", \"./scripts/ci.sh\", \"--fast\"]\n"),
            ["scripts/ci.sh"]
        );
        assert_eq!(
            one("[[check]]\nname = \"t\"\nrun = [\"python3\", \"run_tests.py\"]\n"),
            ["run_tests.py"]
        );
        assert_eq!(
            one("[[check]]\nname = \"t\"\nrun = [\"./ci.sh\"]\nharness = [\"tests/**\", \"Makefile\", \"conf/*.toml\", \"./x.sh\", \"ci.sh\"]\n"),
            ["Makefile", "ci.sh"],
            "globs and non-normalised entries are not files; duplicates collapse"
        );
        // Absolute programs, options, `..` and the ecosystem's own configuration are not pinned.
        assert!(one(
            "[[check]]\nname = \"u\"\nrun = [\"/usr/bin/cargo\", \"test\", \"--manifest-path=a/Cargo.toml\", \"../x.sh\"]\n"
        )
        .is_empty());
        // Shell words are not pinned (the command may `cd`); explicit paths are.
        assert!(one("[[check]]\nname = \"s\"\nrun = \"./t.sh\"\nshell = true\n").is_empty());
        assert_eq!(
            one("[[check]]\nname = \"s\"\nrun = \"cd app && ./t.sh\"\nshell = true\nharness = [\"app/t.sh\"]\n"),
            ["app/t.sh"]
        );
    }
}
