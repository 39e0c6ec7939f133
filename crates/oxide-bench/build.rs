//! Records which build the benchmark binary is (cargo profile, opt-level of this crate and of
//! its dependencies) so that every section of docs/benchmarks.md can say what it measured
//! (`report::build_line`). The dependencies' opt-level comes from the workspace Cargo.toml's
//! `[profile.<name>.package."*"]` (else the profile's own, else cargo's default).

use std::path::Path;

fn main() {
    let manifest =
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../Cargo.toml");
    println!("cargo:rerun-if-changed={}", manifest.display());
    println!("cargo:rerun-if-env-changed=CARGO_PROFILE_RELEASE_OPT_LEVEL");
    println!("cargo:rerun-if-env-changed=CARGO_PROFILE_DEV_OPT_LEVEL");
    // cargo's PROFILE is `debug` for dev/test and `release` for release (and profiles
    // inheriting them); OPT_LEVEL is this crate's.
    let profile = std::env::var("PROFILE").unwrap_or_else(|_| "unknown".into());
    let opt = std::env::var("OPT_LEVEL").unwrap_or_else(|_| "?".into());
    let name = if profile == "debug" {
        "dev"
    } else {
        profile.as_str()
    };
    let text = std::fs::read_to_string(&manifest).unwrap_or_default();
    let mut deps = deps_opt_level(&text, name).unwrap_or_else(|| opt.clone());
    let hot = package_opt_levels(&text, name);
    if !hot.is_empty() {
        deps.push_str(" except ");
        deps.push_str(&hot.join(", "));
    }
    println!("cargo:rustc-env=OXIDE_BENCH_PROFILE={name}");
    println!("cargo:rustc-env=OXIDE_BENCH_OPT_LEVEL={opt}");
    println!("cargo:rustc-env=OXIDE_BENCH_DEPS_OPT_LEVEL={deps}");
}

/// `opt-level` under `[profile.<name>.package."*"]` of a Cargo.toml, read line by line
/// (enough for the workspace's own file; a value set elsewhere falls back to the crate's).
fn deps_opt_level(text: &str, profile: &str) -> Option<String> {
    let header = format!("[profile.{profile}.package.\"*\"]");
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == header;
            continue;
        }
        if inside {
            if let Some(v) = line.strip_prefix("opt-level") {
                let v = v.trim_start().strip_prefix('=')?.trim();
                return Some(v.trim_matches('"').to_string());
            }
        }
    }
    None
}

/// `name level` for every `[profile.<profile>.package.<name>]` with its own `opt-level` (the
/// hot dependencies the dev profile optimizes).
fn package_opt_levels(text: &str, profile: &str) -> Vec<String> {
    let prefix = format!("[profile.{profile}.package.");
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            current = line
                .strip_prefix(&prefix)
                .and_then(|r| r.strip_suffix(']'))
                .map(|n| n.trim_matches('"').to_string())
                .filter(|n| n != "*");
            continue;
        }
        if let (Some(pkg), Some(v)) = (&current, line.strip_prefix("opt-level")) {
            if let Some(v) = v.trim_start().strip_prefix('=') {
                out.push(format!("{pkg} {}", v.trim().trim_matches('"')));
            }
        }
    }
    out
}
