//! `oxide-bench sandbox`: what the check sandbox costs a validation.
//!
//! 1. `oxide validate ID` through the real release binary on a small git repository, for two
//!    checks — a trivial `true` and a small real check (a committed Python script doing a few
//!    hundred assertions and some file work in the worktree) — each committed once with
//!    `sandbox = true` (the default) and once with `sandbox = false`. Every timed run validates
//!    a freshly imported proposal (a validated proposal is not validated again). A/B pairs are
//!    interleaved, alternating which side goes first; reported: the median wall time per
//!    variant and the median (min–max) of the pairwise ratios sandboxed / unsandboxed.
//! 2. The bare reference: `bwrap <the runner's own flags> true` against `true` alone, the fixed
//!    cost of building the namespaces and the minimal root, with the argv from
//!    [`runner::bwrap_argv`] so the flags are exactly those checks run under.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oxide_core::checks::runner;
use serde_json::{json, Value};

use crate::fixture::{err, git};
use crate::report;

/// Interleaved A/B pairs per check through `oxide validate`.
const PAIRS: usize = 20;
/// Interleaved pairs for the bare `bwrap … true` vs `true` reference.
const BARE_PAIRS: usize = 100;
/// The oxide process's `PATH`: system directories only, so both variants run the same
/// `/usr/bin` programs (a per-user shim such as pyenv's would only exist outside the sandbox).
const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The small real check: assertions over the worktree's files plus some file work there.
const WORK_PY: &str = r#"import hashlib, os, json
src = open("src.txt").read()
assert src.startswith("retries = "), src
n = 0
for i in range(400):
    h = hashlib.sha256(f"{i}:{src}".encode()).hexdigest()
    assert len(h) == 64 and int(h, 16) >= 0
    assert sorted(str(i)) == sorted(str(i)[::-1])
    n += 1
os.makedirs("build/out", exist_ok=True)
for i in range(50):
    with open(f"build/out/f{i}.json", "w") as f:
        json.dump({"i": i, "src": src}, f)
for i in range(50):
    with open(f"build/out/f{i}.json") as f:
        assert json.load(f)["i"] == i
        n += 1
print(f"{n} assertions passed")
"#;

/// The `oxide` binary built alongside this benchmark, and its profile directory's name.
fn oxide_bin() -> Result<(PathBuf, String), String> {
    let exe = std::env::current_exe().map_err(err("cannot locate oxide-bench"))?;
    let dir = exe
        .parent()
        .ok_or("oxide-bench has no parent directory")?
        .to_path_buf();
    let bin = dir.join("oxide");
    if !bin.is_file() {
        return Err(format!(
            "{} is missing; build it first: cargo build --release -p oxide-cli",
            bin.display()
        ));
    }
    let profile = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "?".into());
    Ok((bin, profile))
}

/// One repository whose committed contract runs one check, sandboxed or not, with its own
/// database, home, XDG directories and temporary directory (where validation worktrees live).
struct Lab {
    _base: tempfile::TempDir,
    root: PathBuf,
    data: PathBuf,
    oxide: PathBuf,
    imported: usize,
}

impl Lab {
    fn new(oxide: &Path, check: &str, sandbox: bool) -> Result<Lab, String> {
        let base = tempfile::tempdir().map_err(err("temp dir"))?;
        let root = base.path().join("repo");
        let data = base.path().join("data");
        for d in [&root, &data] {
            std::fs::create_dir_all(d).map_err(err("mkdir"))?;
        }
        for d in ["home", "tmp", "run", "xdg-data", "xdg-config", "xdg-cache"] {
            std::fs::create_dir_all(data.join(d)).map_err(err("mkdir"))?;
        }
        std::fs::write(root.join("README.md"), "# bench repo\n").map_err(err("write"))?;
        std::fs::write(root.join("src.txt"), "retries = 3\n").map_err(err("write"))?;
        std::fs::write(root.join("check.py"), WORK_PY).map_err(err("write"))?;
        git(&root, &["init", "-q", "-b", "main"])?;
        git(&root, &["add", "-A"])?;
        git(&root, &["commit", "-q", "-m", "initial"])?;
        let mut lab = Lab {
            _base: base,
            root,
            data,
            oxide: oxide.to_path_buf(),
            imported: 0,
        };
        lab.oxide(&["--json", "init"], 0)?;
        let run = match check {
            "true" => r#"["true"]"#,
            _ => r#"["/usr/bin/python3", "check.py"]"#,
        };
        let contract = format!(
            "[[check]]\nname = \"{check}\"\nrun = {run}\nenv = [\"PATH\"]\ntimeout_s = 60\n{}",
            if sandbox { "" } else { "sandbox = false\n" }
        );
        std::fs::write(lab.root.join(".oxide/checks.toml"), contract).map_err(err("write"))?;
        git(&lab.root, &["add", ".oxide"])?;
        git(&lab.root, &["commit", "-q", "-m", "governance"])?;
        lab.imported = 0;
        Ok(lab)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.oxide);
        cmd.arg("--workspace")
            .arg(&self.root)
            .arg("--db")
            .arg(self.data.join("oxide.sqlite3"))
            .args(args)
            .env_clear()
            .env("PATH", PATH)
            .env("HOME", self.data.join("home"))
            .env("TMPDIR", self.data.join("tmp"))
            .env("XDG_RUNTIME_DIR", self.data.join("run"))
            .env("XDG_DATA_HOME", self.data.join("xdg-data"))
            .env("XDG_CONFIG_HOME", self.data.join("xdg-config"))
            .env("XDG_CACHE_HOME", self.data.join("xdg-cache"))
            .env("OXIDE_ACTOR", "bench")
            .stdin(Stdio::null());
        if let Some(b) = std::env::var_os("OXIDE_BWRAP") {
            cmd.env("OXIDE_BWRAP", b);
        }
        cmd
    }

    /// Runs oxide, expects exit `code`, returns its JSON output.
    fn oxide(&self, args: &[&str], code: i32) -> Result<Value, String> {
        let o = self
            .command(args)
            .output()
            .map_err(err("cannot run oxide"))?;
        if o.status.code() != Some(code) {
            return Err(format!(
                "oxide {args:?} exited {} (expected {code}): {}{}",
                o.status,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        serde_json::from_slice(&o.stdout).map_err(err("oxide printed no JSON"))
    }

    /// Imports a fresh manual bundle (a different edit each time); returns the proposal id.
    fn import(&mut self) -> Result<String, String> {
        self.imported += 1;
        let head = git(&self.root, &["rev-parse", "main"])?.trim().to_string();
        let b = json!({
            "schema_version": "oxide.proposal/v1",
            "skill_digest": format!("sha256:{}", "ab".repeat(32)),
            "base": {"branch": "main", "commit": head},
            "intent": {"rationale": "Raise retries", "risk_hints": [], "ops": [
                {"op": "text_edit", "path": "src.txt", "find": "retries = 3",
                 "replace": format!("retries = {}", 100 + self.imported)}
            ]},
            "provenance": {"synthesizer": "manual", "model": null, "model_digest": null,
                            "options": null, "prompt_template_version": null,
                            "prompt_sha256": null, "response_sha256": null},
            "created_at": "2026-11-21T05:00:00Z"
        });
        let f = self.data.join("bundle.json");
        std::fs::write(&f, b.to_string()).map_err(err("write bundle"))?;
        let r = self.oxide(
            &[
                "--json",
                "proposal",
                "import",
                f.to_str().ok_or("non-UTF-8 path")?,
            ],
            0,
        )?;
        r["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("import printed no id: {r}"))
    }

    /// Imports a fresh proposal, then times `oxide validate` on it (the import is not timed).
    /// Returns the wall time and the check's own `duration_ms`.
    fn timed_validate(&mut self) -> Result<(Duration, u64), String> {
        let id = self.import()?;
        let t = Instant::now();
        let v = self.oxide(&["--json", "validate", &id], 0)?;
        let wall = t.elapsed();
        if v["state"] != "validated" || v["checks"][0]["status"] != "passed" {
            return Err(format!("validation did not pass: {v:#}"));
        }
        Ok((wall, v["checks"][0]["duration_ms"].as_u64().unwrap_or(0)))
    }

    /// Whether the last validation's check ran sandboxed, from `proposal show`.
    fn last_sandboxed(&self) -> Result<bool, String> {
        let list = self.oxide(&["--json", "proposal", "list", "--state", "validated"], 0)?;
        let id = list
            .as_array()
            .or_else(|| list["proposals"].as_array())
            .and_then(|a| a.first())
            .and_then(|p| p["id"].as_str())
            .ok_or_else(|| format!("no validated proposal listed: {list}"))?
            .to_string();
        let show = self.oxide(&["--json", "proposal", "show", &id], 0)?;
        show["checks"][0]["sandboxed"]
            .as_bool()
            .ok_or_else(|| format!("proposal show has no checks[0].sandboxed: {show:#}"))
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One A/B comparison: wall times (ms) of each side and the pairwise ratios.
struct Pairs {
    sandboxed: Vec<f64>,
    host: Vec<f64>,
    ratios: Vec<f64>,
}

impl Pairs {
    fn new() -> Pairs {
        Pairs {
            sandboxed: Vec::new(),
            host: Vec::new(),
            ratios: Vec::new(),
        }
    }

    fn push(&mut self, sandboxed: f64, host: f64) {
        self.sandboxed.push(sandboxed);
        self.host.push(host);
        self.ratios.push(sandboxed / host);
    }

    fn row(&self, what: &str, extra: &str) -> Vec<String> {
        let (lo, hi) = min_max(&self.ratios);
        let (s, h) = (median(&self.sandboxed), median(&self.host));
        vec![
            what.into(),
            format!("{s:.2} ms"),
            format!("{h:.2} ms"),
            format!("{:+.2} ms", s - h),
            format!("{:.2} ({lo:.2}–{hi:.2})", median(&self.ratios)),
            extra.into(),
        ]
    }
}

/// Runs `argv` to completion with the environment cleared but `PATH`, output discarded.
fn spawn_wait(argv: &[OsString], cwd: &Path) -> Result<Duration, String> {
    let t = Instant::now();
    let st = Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(cwd)
        .env_clear()
        .env("PATH", PATH)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {:?}: {e}", argv[0]))?;
    let d = t.elapsed();
    if !st.success() {
        return Err(format!("{argv:?} exited {st}"));
    }
    Ok(d)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

pub fn run() -> Result<(), String> {
    let (oxide, profile) = oxide_bin()?;
    let bwrap = runner::find_bwrap().ok_or(
        "bubblewrap (bwrap) is not installed; install it (scripts/setup.sh or apt install bubblewrap)",
    )?;
    runner::probe_sandbox(&bwrap)?;
    let load_before = load_average();

    // ---- 1. the bare reference: bwrap with the runner's flags around `true`, vs `true`.
    let work = tempfile::tempdir().map_err(err("temp dir"))?;
    let sandboxed_true = runner::bwrap_argv(&bwrap, work.path(), &[], &["true".to_string()]);
    let bare_true = vec![OsString::from("true")];
    for _ in 0..5 {
        spawn_wait(&sandboxed_true, work.path())?;
        spawn_wait(&bare_true, work.path())?;
    }
    let mut bare = Pairs::new();
    for i in 0..BARE_PAIRS {
        let (s, h) = if i % 2 == 0 {
            let s = spawn_wait(&sandboxed_true, work.path())?;
            (s, spawn_wait(&bare_true, work.path())?)
        } else {
            let h = spawn_wait(&bare_true, work.path())?;
            (spawn_wait(&sandboxed_true, work.path())?, h)
        };
        bare.push(ms(s), ms(h));
    }
    eprintln!("bare reference done");

    // ---- 2. `oxide validate` per check, sandboxed vs unsandboxed, interleaved.
    let mut rows = Vec::new();
    let mut check_ms = Vec::new();
    for check in ["true", "work"] {
        let mut on = Lab::new(&oxide, check, true)?;
        let mut off = Lab::new(&oxide, check, false)?;
        // Warm-up (page cache, the first worktree), untimed; also proves each lab's variant.
        on.timed_validate()?;
        off.timed_validate()?;
        if !on.last_sandboxed()? || off.last_sandboxed()? {
            return Err(format!(
                "check `{check}`: the sandboxed lab's check did not run sandboxed, or the unsandboxed one did"
            ));
        }
        let mut p = Pairs::new();
        let (mut on_check, mut off_check) = (Vec::new(), Vec::new());
        for i in 0..PAIRS {
            let (s, h) = if i % 2 == 0 {
                let s = on.timed_validate()?;
                (s, off.timed_validate()?)
            } else {
                let h = off.timed_validate()?;
                (on.timed_validate()?, h)
            };
            p.push(ms(s.0), ms(h.0));
            on_check.push(s.1 as f64);
            off_check.push(h.1 as f64);
            eprintln!("{check} pair {}/{PAIRS}", i + 1);
        }
        check_ms.push((check, median(&on_check), median(&off_check)));
        rows.push(p);
    }

    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let bench_profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let t = report::table(
        &[
            "measure",
            "sandboxed (median)",
            "unsandboxed (median)",
            "difference",
            "ratio sandboxed / unsandboxed: median (min–max)",
            "check's own duration_ms (median, sandboxed / unsandboxed)",
        ],
        &[
            rows[0].row(
                &format!("`oxide validate`, check `true` ({PAIRS} pairs)"),
                &format!("{:.0} / {:.0}", check_ms[0].1, check_ms[0].2),
            ),
            rows[1].row(
                &format!("`oxide validate`, small real check ({PAIRS} pairs)"),
                &format!("{:.0} / {:.0}", check_ms[1].1, check_ms[1].2),
            ),
            bare.row(
                &format!("reference: `bwrap <runner flags> true` vs `true` ({BARE_PAIRS} pairs)"),
                "",
            ),
        ],
    );
    let body = format!(
        "## sandbox: validation overhead of the check sandbox\n\n\
         `cargo build --release --locked -p oxide-cli -p oxide-bench && target/release/oxide-bench sandbox`\n\
         — measured the `{profile}` build of `oxide` (`target/{profile}/oxide`) from a {bench_profile} build of the\n\
         benchmark, {cores} cores (`nproc`), load average {load_before} at the start and {load_after} at the\n\
         end, {when}. The machine is shared, so single runs vary; the ratios are per interleaved pair.\n\n\
         Each row compares the same work sandboxed and unsandboxed. The `oxide validate` rows run the\n\
         real binary on a small git repository (3 files) whose committed `.oxide/checks.toml` holds one\n\
         required check, with `sandbox = true` (the default) or `sandbox = false`; every timed run\n\
         validates a freshly imported manual bundle (import not timed), so the whole validation is\n\
         measured: contract from the committed target, branch, worktree, check, records, audit.\n\
         Pairs alternate which variant goes first. Checks: `true`, and a small real check\n\
         (`/usr/bin/python3 check.py`: 400 hash/sort assertions, then writes and reads back 50 JSON\n\
         files under the worktree). The reference row is the fixed cost of the namespaces and the\n\
         minimal root alone: `runner::bwrap_argv` (the exact argv checks run under) around `true`,\n\
         against spawning `true` directly.\n\n\
         {t}\n\
         A sandboxed validation costs {d_true:+.1} ms ({r_true:.2}×) with `true` and {d_work:+.1} ms\n\
         ({r_work:.2}×) with the small real check, against a bare bubblewrap set-up of {d_bare:.1} ms\n\
         per check.\n",
        load_after = load_average(),
        when = oxide_core::Clock::system().now_rfc3339(),
        d_true = median(&rows[0].sandboxed) - median(&rows[0].host),
        r_true = median(&rows[0].ratios),
        d_work = median(&rows[1].sandboxed) - median(&rows[1].host),
        r_work = median(&rows[1].ratios),
        d_bare = median(&bare.sandboxed) - median(&bare.host),
    );
    print!("{body}");
    report::write_section("sandbox", &body)
}
