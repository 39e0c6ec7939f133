//! `oxide-bench <name>`: run one benchmark. Each benchmark lives in `src/<name>.rs`, exposes
//! `pub fn run() -> Result<(), String>`, measures against a reference in the same run and
//! rewrites only its own section of `docs/benchmarks.md` via [`report::write_section`].
//!
//! Run in release mode: `cargo run --release -p oxide-bench -- <name>`.

/// The allocator the shipped binaries use (see crates/oxide-cli/src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod binder;
mod builds;
mod desktop;
mod fixture;
mod gitops;
mod policy;
mod promote;
mod report;
mod sandbox;
mod signing;
mod sync;
mod synth;
mod timeline;

/// (name, entry point, one-line description). Add one line per benchmark.
type Bench = (&'static str, fn() -> Result<(), String>, &'static str);

const BENCHES: &[Bench] = &[
    (
        "synth",
        synth::run,
        "governance cost per synthesis: propose (loopback Ollama) vs the bare /api/chat call",
    ),
    (
        "policy",
        policy::run,
        "policy evaluation per proposal and a 10,000-decision replay vs parsing JSON",
    ),
    (
        "gitops",
        gitops::run,
        "proposal branch + 10-file intent + commit: git2 vs the git CLI",
    ),
    (
        "binder",
        binder::run,
        "envelope ingestion vs a bare prepared INSERT",
    ),
    (
        "timeline",
        timeline::run,
        "1,000,000 audit events: timeline pages vs reading the same rows; verify vs sha256sum",
    ),
    (
        "desktop",
        desktop::run,
        "the desktop app's cold start to a drawn Inbox and idle RSS at 1,000,000 audit events",
    ),
    (
        "promote",
        promote::run,
        "`oxide promote` on a 20,000-file repository vs git plumbing making the same commit",
    ),
    (
        "sync",
        sync::run,
        "`oxide sync` of 1,000 proposals with approvals vs git push / git fetch of the same refs",
    ),
    (
        "builds",
        builds::run,
        "`audit verify` of 200,000 events: dev-built vs release `oxide` vs sha256sum",
    ),
    (
        "sandbox",
        sandbox::run,
        "`oxide validate` with the check sandboxed vs unsandboxed, and bare bwrap vs `true`",
    ),
    (
        "signing",
        signing::run,
        "approval verification vs raw ed25519 verify_strict, and one approve (sign + store + checkpoint) with the OS keyring",
    ),
];

fn usage() -> String {
    let mut s = String::from("usage: oxide-bench <name>\n\nbenchmarks:\n");
    for (name, _, about) in BENCHES {
        s.push_str(&format!("  {name:<16} {about}\n"));
    }
    s
}

fn main() {
    let name = std::env::args().nth(1);
    let Some(name) = name else {
        eprint!("{}", usage());
        std::process::exit(2);
    };
    let Some((_, run, _)) = BENCHES.iter().find(|(n, _, _)| *n == name) else {
        eprintln!("oxide-bench: unknown benchmark `{name}`\n");
        eprint!("{}", usage());
        std::process::exit(2);
    };
    if cfg!(debug_assertions) {
        eprintln!("oxide-bench: warning: debug build; numbers are meaningless — use --release");
    }
    if let Err(e) = run() {
        eprintln!("oxide-bench {name}: {e}");
        std::process::exit(1);
    }
}
