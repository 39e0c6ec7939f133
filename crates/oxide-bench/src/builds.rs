//! `oxide-bench builds`: what the build people run costs. `oxide audit verify` of 200,000
//! events with the dev-profile `oxide` (what `scripts/dev` and the tests build; dependencies
//! optimized by `[profile.dev.package."*"]`) against a release build, both against
//! `sha256sum` over the JSON Lines export of the same events (hashing the bytes once is the
//! floor for checking a hash chain over them).
//!
//! The database is built in the run through the real append path (`audit::append` in
//! `Store::write` transactions, after `oxide init`), in a temporary repository. The binaries
//! are `target/debug/oxide` and `target/release/oxide` (or `OXIDE_DEV_BIN` /
//! `OXIDE_RELEASE_BIN`); build them first:
//! `cargo build --locked -p oxide-cli && cargo build --locked --release -p oxide-cli`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use oxide_core::audit::{self, NewEvent};
use oxide_core::clock::Clock;
use oxide_core::Workspace;
use serde_json::json;

use crate::fixture::{err, git};
use crate::report;

const EVENTS: u64 = 200_000;
const ROUNDS: usize = 3;
const KINDS: &[&str] = &[
    "proposal.admitted",
    "policy.decision",
    "check.finished",
    "workflow.transition",
    "binder.window",
];

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

fn binary(env: &str, profile: &str) -> Result<PathBuf, String> {
    let p = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join(profile).join("oxide"));
    if !p.is_file() {
        return Err(format!(
            "{} is missing; build it first (`cargo build --locked{} -p oxide-cli`) or set {env}",
            p.display(),
            if profile == "release" {
                " --release"
            } else {
                ""
            }
        ));
    }
    Ok(p)
}

/// The dependencies' opt-level of `profile` in the workspace Cargo.toml
/// (`[profile.<p>.package."*"]`, else the profile's own, else cargo's default), followed by the
/// packages it sets apart (`[profile.<p>.package.<name>]`: the hot dependencies of the dev
/// profile).
fn deps_opt_level(profile: &str) -> String {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml"))
            .unwrap_or_default();
    let find = |header: &str| -> Option<String> {
        let mut inside = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                inside = line == header;
                continue;
            }
            if inside {
                if let Some(v) = line.strip_prefix("opt-level") {
                    return Some(
                        v.trim_start()
                            .strip_prefix('=')?
                            .trim()
                            .trim_matches('"')
                            .to_string(),
                    );
                }
            }
        }
        None
    };
    let base = find(&format!("[profile.{profile}.package.\"*\"]"))
        .or_else(|| find(&format!("[profile.{profile}]")))
        .unwrap_or_else(|| if profile == "release" { "3" } else { "0" }.into());
    let prefix = format!("[profile.{profile}.package.");
    let hot: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix(prefix.as_str())?.strip_suffix(']'))
        .map(|n| n.trim_matches('"'))
        .filter(|n| *n != "*")
        .filter_map(|n| {
            find(&format!("[profile.{profile}.package.{n}]")).map(|v| format!("{n} {v}"))
        })
        .collect();
    if hot.is_empty() {
        base
    } else {
        format!("{base} except {}", hot.join(", "))
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Times `cmd` `ROUNDS` times; every run must succeed and pass `check` on its stdout.
fn time(
    what: &str,
    mut make: impl FnMut() -> Command,
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<Duration, String> {
    let mut times = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let o = make().output().map_err(err(what))?;
        times.push(t.elapsed());
        if !o.status.success() {
            return Err(format!(
                "{what} failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        check(&String::from_utf8_lossy(&o.stdout))?;
    }
    Ok(median(times))
}

pub fn run() -> Result<(), String> {
    let dev = binary("OXIDE_DEV_BIN", "debug")?;
    // Without a release build the comparison is said to be missing, loudly, never invented.
    let release = match binary("OXIDE_RELEASE_BIN", "release") {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!("builds: WARNING: release row SKIPPED: {e}");
            None
        }
    };
    let repo = tempfile::tempdir().map_err(err("temp repo"))?;
    let data = tempfile::tempdir().map_err(err("temp data"))?;
    let db = data.path().join("bench.sqlite3");
    std::fs::write(repo.path().join("README.md"), "# bench\n").map_err(err("write"))?;
    git(repo.path(), &["init", "-q", "-b", "main"])?;
    git(repo.path(), &["add", "-A"])?;
    git(repo.path(), &["commit", "-q", "-m", "initial"])?;
    oxide_core::setup::init(repo.path(), Some(&db), "bench", Clock::system())
        .map_err(err("init"))?;
    let mut ws = Workspace::open(repo.path(), Some(&db)).map_err(err("open"))?;

    eprintln!("builds: appending {EVENTS} audit events through audit::append …");
    let t = Instant::now();
    let existing = audit::count(ws.store().conn()).map_err(err("count"))?;
    let batch = 10_000u64;
    let mut n = 0u64;
    while n < EVENTS {
        let upto = (n + batch).min(EVENTS);
        let ts = ws.clock().now_rfc3339();
        ws.store_mut()
            .write(|tx| -> Result<(), oxide_core::Error> {
                for i in n..upto {
                    let kind = KINDS[(i % KINDS.len() as u64) as usize];
                    let subject = format!("p{:06x}", i / 7);
                    audit::append(
                        tx,
                        NewEvent {
                            actor: if i % 3 == 0 { "maria" } else { "oxide" },
                            kind,
                            subject: &subject,
                            payload: json!({"n": i, "note": "benchmark event", "digest": format!("sha256:{:064x}", i)}),
                        },
                        &ts,
                    )?;
                }
                Ok(())
            })
            .map_err(err("append"))?;
        n = upto;
    }
    let append_s = t.elapsed().as_secs_f64();
    let total = existing + EVENTS;
    let export = data.path().join("audit.jsonl");
    let exported = ws.audit_export(&export).map_err(err("export"))?;
    let export_bytes = std::fs::metadata(&export)
        .map_err(err("export size"))?
        .len();
    drop(ws);

    let verify = |bin: &Path| {
        let bin = bin.to_path_buf();
        let (root, db) = (repo.path().to_path_buf(), db.clone());
        move || {
            let mut c = Command::new(&bin);
            c.arg("--workspace").arg(&root).arg("--db").arg(&db);
            c.args(["--json", "audit", "verify"]);
            c
        }
    };
    let ok = |out: &str| -> Result<(), String> {
        let v: serde_json::Value = serde_json::from_str(out).map_err(err("verify output"))?;
        if v["ok"] != json!(true) || v["events"].as_u64() != Some(total) {
            return Err(format!("verify did not pass over {total} events: {out}"));
        }
        Ok(())
    };
    eprintln!("builds: timing audit verify (dev, release) and sha256sum, {ROUNDS} rounds each …");
    let dev_t = time("dev audit verify", verify(&dev), ok)?;
    let rel_t = match &release {
        Some(r) => Some(time("release audit verify", verify(r), ok)?),
        None => None,
    };
    let sha_t = time(
        "sha256sum",
        || {
            let mut c = Command::new("sha256sum");
            c.arg(&export);
            c
        },
        |out| {
            if out.len() >= 64 {
                Ok(())
            } else {
                Err(format!("sha256sum said {out:?}"))
            }
        },
    )?;
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    let ratio = |d: Duration| format!("{:.1}×", d.as_secs_f64() / sha_t.as_secs_f64());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into());
    let rows = vec![
        vec![
            "`oxide audit verify`, dev profile (what `scripts/dev` runs)".into(),
            format!(
                "dev: opt-level 0, dependencies opt-level {}",
                deps_opt_level("dev")
            ),
            ms(dev_t),
            ratio(dev_t),
        ],
        vec![
            "`oxide audit verify`, release build".into(),
            format!(
                "release: opt-level 3, dependencies opt-level {}",
                deps_opt_level("release")
            ),
            rel_t
                .map(ms)
                .unwrap_or_else(|| "SKIPPED: no release build in this run".into()),
            rel_t.map(ratio).unwrap_or_else(|| "—".into()),
        ],
        vec![
            "reference: `sha256sum` over the JSON Lines export".into(),
            "coreutils".into(),
            ms(sha_t),
            "1.0×".into(),
        ],
    ];
    let body = format!(
        "## builds: `audit verify` of {EVENTS} events, dev build vs release build\n\n\
         A database of {total} audit events ({EVENTS} appended in the run through `audit::append`, \
         10,000 per transaction, {append_s:.1} s; kinds, actors and subjects mixed), verified by \
         the `oxide` binary each build produced (`--json audit verify`: reads every event, \
         recomputes its RFC 8785 hash and the chain). Reference: `sha256sum` over the JSON Lines \
         export of the same {exported} events ({:.1} MB). Medians of {ROUNDS} rounds; load \
         average {load} on {} cores at the end.\n\n{}\n\
         The dev profile optimizes only the dependencies where the time goes \
         (`[profile.dev.package.<name>]` in Cargo.toml: hashing, SQLite, JSON and its RFC 8785 \
         canonical form, Rego, ed25519, libgit2), so the app `scripts/dev` opens is not the 10× \
         slower build it was (issue 14 measured about 18 s for the dev build against 1.7 s for \
         release with no dependency optimized) while a cold CI build stays short.\n",
        export_bytes as f64 / 1e6,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        report::table(&["measure", "build", "median", "÷ sha256sum"], &rows),
    );
    report::write_section("builds", &body)?;
    print!("{body}");
    Ok(())
}
