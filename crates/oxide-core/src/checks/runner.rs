//! Running one check: cleared environment (allow-list only), own process group killed on
//! timeout and after exit (children included), output capped, progress streamed, optional
//! bubblewrap sandbox (no network, read-only outside the worktree).

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::config::CheckSpec;

/// Captured output kept per check (stdout and stderr interleaved), in bytes.
pub const OUTPUT_CAP: usize = 64 * 1024;
/// Output streamed to the progress callback per check, in bytes.
pub const STREAM_CAP: usize = 1024 * 1024;
/// Longest line passed to the progress callback.
pub const LINE_CAP: usize = 4096;

/// `failure_reason_code`s a check result can carry.
pub mod reason {
    pub const CHECK_FAILED: &str = crate::workflow::reason::CHECK_FAILED;
    pub const CHECK_TIMEOUT: &str = "CHECK_TIMEOUT";
    pub const CHECK_SPAWN_FAILED: &str = "CHECK_SPAWN_FAILED";
    pub const CHECK_SANDBOX_UNAVAILABLE: &str = "CHECK_SANDBOX_UNAVAILABLE";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum CheckRunStatus {
    Passed,
    Failed,
    TimedOut,
    Error,
}

impl CheckRunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckRunStatus::Passed => "passed",
            CheckRunStatus::Failed => "failed",
            CheckRunStatus::TimedOut => "timed_out",
            CheckRunStatus::Error => "error",
        }
    }
    pub fn parse(s: &str) -> Option<CheckRunStatus> {
        [
            CheckRunStatus::Passed,
            CheckRunStatus::Failed,
            CheckRunStatus::TimedOut,
            CheckRunStatus::Error,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CheckResult {
    pub name: String,
    pub required: bool,
    pub status: CheckRunStatus,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    pub failure_reason_code: Option<String>,
    pub sandboxed: bool,
    /// stdout and stderr as they came, capped at [`OUTPUT_CAP`] bytes (lossy UTF-8).
    pub output: String,
    pub output_truncated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum StreamName {
    Stdout,
    Stderr,
}

/// What a running validation reports as it goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum ValidationProgress {
    RunStarted {
        proposal: String,
        run_id: String,
        checks: Vec<String>,
    },
    CheckStarted {
        name: String,
        sandboxed: bool,
    },
    Output {
        name: String,
        stream: StreamName,
        line: String,
    },
    CheckFinished {
        name: String,
        status: CheckRunStatus,
        exit_code: Option<i32>,
        duration_ms: u64,
    },
    RunFinished {
        proposal: String,
        state: String,
    },
}

/// The `bwrap` executable, if installed.
pub fn find_bwrap() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = vec!["/usr/bin".into(), "/bin".into(), "/usr/local/bin".into()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.into_iter()
        .map(|d| d.join("bwrap"))
        .find(|p| p.is_file())
}

/// How to run checks.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `bwrap` to use for `sandbox = true` checks (`None`: such checks end in `error`).
    pub bwrap: Option<PathBuf>,
    /// Extra paths made visible read-only inside the sandbox at the same place (the
    /// repository's git directory, so `git` works in the worktree). Everything outside the
    /// worktree is read-only anyway; these are listed because `/tmp` is a fresh tmpfs.
    pub sandbox_ro_paths: Vec<PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            bwrap: find_bwrap(),
            sandbox_ro_paths: Vec::new(),
        }
    }
}

fn bwrap_argv(bwrap: &Path, workdir: &Path, ro: &[PathBuf], argv: &[String]) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec![bwrap.into()];
    let s = |x: &str| OsString::from(x);
    a.extend([s("--ro-bind"), s("/"), s("/")]);
    a.extend([s("--dev"), s("/dev"), s("--proc"), s("/proc")]);
    a.extend([s("--tmpfs"), s("/tmp")]);
    for p in ro {
        a.extend([s("--ro-bind"), p.into(), p.into()]);
    }
    a.extend([s("--bind"), workdir.into(), workdir.into()]);
    a.extend([
        s("--unshare-net"),
        s("--unshare-pid"),
        s("--unshare-ipc"),
        s("--unshare-uts"),
        s("--die-with-parent"),
        s("--chdir"),
    ]);
    a.push(workdir.into());
    a.push(s("--"));
    a.extend(argv.iter().map(OsString::from));
    a
}

/// Sends SIGKILL to every process of group `pgid` (the check and anything it started that
/// stayed in its group). ESRCH (nothing left) is fine.
pub fn kill_group(pgid: u32) {
    if pgid > 1 {
        #[allow(unsafe_code)] // libc::killpg: std has no process-group kill
        // SAFETY: killpg has no memory-safety preconditions.
        unsafe {
            libc::killpg(pgid as libc::pid_t, libc::SIGKILL);
        }
    }
}

fn reader(
    mut r: impl Read + Send + 'static,
    stream: StreamName,
    tx: mpsc::Sender<(StreamName, Vec<u8>)>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        let mut line = Vec::new();
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    for &b in &buf[..n] {
                        line.push(b);
                        if (b == b'\n' || line.len() >= LINE_CAP)
                            && tx.send((stream, std::mem::take(&mut line))).is_err()
                        {
                            return;
                        }
                    }
                }
            }
        }
        if !line.is_empty() {
            let _ = tx.send((stream, line));
        }
    })
}

/// Runs `spec` in `workdir` with only the allow-listed variables (values from `env_source`).
pub fn run_check(
    spec: &CheckSpec,
    workdir: &Path,
    opts: &RunOptions,
    env_source: &dyn Fn(&str) -> Option<OsString>,
    progress: &mut dyn FnMut(ValidationProgress),
) -> CheckResult {
    let started = Instant::now();
    let mut result = CheckResult {
        name: spec.name.clone(),
        required: spec.required,
        status: CheckRunStatus::Error,
        exit_code: None,
        duration_ms: 0,
        failure_reason_code: None,
        sandboxed: spec.sandbox,
        output: String::new(),
        output_truncated: false,
    };
    progress(ValidationProgress::CheckStarted {
        name: spec.name.clone(),
        sandboxed: spec.sandbox,
    });
    let finish = |mut r: CheckResult, progress: &mut dyn FnMut(ValidationProgress)| {
        r.duration_ms = started.elapsed().as_millis() as u64;
        progress(ValidationProgress::CheckFinished {
            name: r.name.clone(),
            status: r.status,
            exit_code: r.exit_code,
            duration_ms: r.duration_ms,
        });
        r
    };

    let argv: Vec<OsString> = if spec.sandbox {
        match &opts.bwrap {
            Some(b) => bwrap_argv(b, workdir, &opts.sandbox_ro_paths, &spec.argv),
            None => {
                result.failure_reason_code = Some(reason::CHECK_SANDBOX_UNAVAILABLE.into());
                result.output = "this check asks for sandbox = true but bubblewrap (bwrap) is not installed; install it (apt install bubblewrap) — the check was not run unsandboxed".into();
                return finish(result, progress);
            }
        }
    } else {
        spec.argv.iter().map(OsString::from).collect()
    };

    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(workdir)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for name in &spec.env {
        if let Some(v) = env_source(name) {
            cmd.env(name, v);
        }
    }
    #[allow(unsafe_code)] // pre_exec is unsafe by signature; std has no PR_SET_PDEATHSIG
    // SAFETY: prctl is async-signal-safe; it only asks the kernel to SIGKILL this child if
    // the thread that spawned it dies (e.g. `oxide validate` is killed).
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            result.failure_reason_code = Some(reason::CHECK_SPAWN_FAILED.into());
            result.output = format!("cannot start {:?}: {e}", spec.argv[0]);
            return finish(result, progress);
        }
    };
    let pgid = child.id();
    let (tx, rx) = mpsc::channel();
    let readers = [
        reader(
            child.stdout.take().expect("piped"),
            StreamName::Stdout,
            tx.clone(),
        ),
        reader(child.stderr.take().expect("piped"), StreamName::Stderr, tx),
    ];
    let timeout = Duration::from_secs(spec.timeout_s);
    let mut captured: Vec<u8> = Vec::new();
    let mut streamed = 0usize;
    let mut on_line =
        |stream: StreamName, bytes: Vec<u8>, progress: &mut dyn FnMut(ValidationProgress)| {
            let room = OUTPUT_CAP.saturating_sub(captured.len());
            if bytes.len() > room {
                result.output_truncated = true;
            }
            captured.extend_from_slice(&bytes[..bytes.len().min(room)]);
            if streamed < STREAM_CAP {
                streamed += bytes.len();
                let line = String::from_utf8_lossy(&bytes);
                progress(ValidationProgress::Output {
                    name: spec.name.clone(),
                    stream,
                    line: line.trim_end_matches(['\n', '\r']).to_string(),
                });
            }
        };
    let mut timed_out = false;
    let status = loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok((s, b)) => on_line(s, b, progress),
            Err(mpsc::RecvTimeoutError::Timeout) | Err(mpsc::RecvTimeoutError::Disconnected) => {}
        }
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) => {}
            Err(_) => break None,
        }
        if started.elapsed() >= timeout {
            timed_out = true;
            kill_group(pgid);
            break child.wait().ok();
        }
    };
    // Whatever the check left running in its group goes too.
    kill_group(pgid);
    // Drain what is left; a process that escaped the group could hold a pipe open, so the
    // wait for end-of-file is bounded.
    let grace = Instant::now() + Duration::from_secs(2);
    loop {
        let left = grace.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((s, b)) => on_line(s, b, progress),
            Err(_) => break,
        }
    }
    for r in readers {
        if r.is_finished() {
            let _ = r.join();
        }
    }
    result.output = String::from_utf8_lossy(&captured).into_owned();
    if timed_out {
        result.status = CheckRunStatus::TimedOut;
        result.failure_reason_code = Some(reason::CHECK_TIMEOUT.into());
    } else {
        match status {
            Some(st) if st.success() => {
                result.status = CheckRunStatus::Passed;
                result.exit_code = Some(0);
            }
            Some(st) => {
                result.status = CheckRunStatus::Failed;
                result.exit_code = st.code();
                result.failure_reason_code = Some(reason::CHECK_FAILED.into());
            }
            None => {
                result.failure_reason_code = Some(reason::CHECK_FAILED.into());
            }
        }
    }
    finish(result, progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, shell: &str, timeout_s: u64, env: &[&str]) -> CheckSpec {
        CheckSpec {
            name: name.into(),
            argv: vec!["/bin/sh".into(), "-c".into(), shell.into()],
            shell: true,
            timeout_s,
            env: env.iter().map(|s| s.to_string()).collect(),
            required: true,
            sandbox: false,
        }
    }

    /// Waits up to 5 s for `pid` to be gone (or a zombie); true when it is.
    fn gone_within_5s(pid: i32) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        !alive(pid)
    }

    fn alive(pid: i32) -> bool {
        // A zombie is dead for our purpose; /proc/<pid>/stat's third field says Z.
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(s) => !s
                .rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
                .unwrap_or(false),
            Err(_) => false,
        }
    }

    #[test]
    fn passing_and_failing_checks() {
        let d = tempfile::tempdir().unwrap();
        let opts = RunOptions::default();
        let mut events = Vec::new();
        let ok = run_check(
            &spec("ok", "echo out; echo err >&2", 10, &[]),
            d.path(),
            &opts,
            &|_| None,
            &mut |p| events.push(p),
        );
        assert_eq!(ok.status, CheckRunStatus::Passed);
        assert!(ok.output.contains("out") && ok.output.contains("err"));
        assert!(events
            .iter()
            .any(|e| matches!(e, ValidationProgress::Output { line, .. } if line == "out")));
        assert!(matches!(
            events.last(),
            Some(ValidationProgress::CheckFinished {
                status: CheckRunStatus::Passed,
                ..
            })
        ));
        let bad = run_check(
            &spec("bad", "exit 7", 10, &[]),
            d.path(),
            &opts,
            &|_| None,
            &mut |_| {},
        );
        assert_eq!(bad.status, CheckRunStatus::Failed);
        assert_eq!(bad.exit_code, Some(7));
        assert_eq!(
            bad.failure_reason_code.as_deref(),
            Some(reason::CHECK_FAILED)
        );
    }

    #[test]
    fn timeout_kills_the_whole_group_children_included() {
        let d = tempfile::tempdir().unwrap();
        let pidfile = d.path().join("grandchild.pid");
        let script = format!("sleep 300 & echo $! > {}; sleep 300", pidfile.display());
        let t0 = Instant::now();
        let r = run_check(
            &spec("slow", &script, 1, &[]),
            d.path(),
            &RunOptions::default(),
            &|_| None,
            &mut |_| {},
        );
        assert_eq!(r.status, CheckRunStatus::TimedOut);
        assert_eq!(
            r.failure_reason_code.as_deref(),
            Some(reason::CHECK_TIMEOUT)
        );
        assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The grandchild was reparented (to init or a subreaper); give reaping a moment.
        assert!(gone_within_5s(pid), "grandchild {pid} survived the timeout");
    }

    #[test]
    fn background_children_do_not_outlive_a_finished_check() {
        let d = tempfile::tempdir().unwrap();
        let pidfile = d.path().join("bg.pid");
        let script = format!("sleep 300 & echo $! > {}; exit 0", pidfile.display());
        let r = run_check(
            &spec("bg", &script, 10, &[]),
            d.path(),
            &RunOptions::default(),
            &|_| None,
            &mut |_| {},
        );
        assert_eq!(r.status, CheckRunStatus::Passed);
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(gone_within_5s(pid), "background child {pid} survived");
    }

    #[test]
    fn environment_is_only_the_allow_list() {
        let d = tempfile::tempdir().unwrap();
        let src = |k: &str| match k {
            "PATH" => Some(OsString::from("/usr/bin:/bin")),
            "KEEP" => Some(OsString::from("yes")),
            "SECRET" => Some(OsString::from("hunter2")),
            _ => None,
        };
        let r = run_check(
            &CheckSpec {
                argv: vec!["/usr/bin/env".into()],
                shell: false,
                ..spec("env", "", 10, &["PATH", "KEEP", "ABSENT"])
            },
            d.path(),
            &RunOptions::default(),
            &src,
            &mut |_| {},
        );
        assert_eq!(r.status, CheckRunStatus::Passed);
        let mut names: Vec<&str> = r
            .output
            .lines()
            .filter_map(|l| l.split('=').next())
            .collect();
        names.sort();
        assert_eq!(names, vec!["KEEP", "PATH"], "{}", r.output);
        assert!(!r.output.contains("hunter2"));
    }

    #[test]
    fn output_is_capped() {
        let d = tempfile::tempdir().unwrap();
        let r = run_check(
            &spec(
                "loud",
                "head -c 300000 /dev/zero | tr '\\0' 'a'",
                20,
                &["PATH"],
            ),
            d.path(),
            &RunOptions::default(),
            &|k| std::env::var_os(k),
            &mut |_| {},
        );
        assert_eq!(r.status, CheckRunStatus::Passed, "{}", r.output);
        assert!(r.output_truncated);
        assert_eq!(r.output.len(), OUTPUT_CAP);
    }

    #[test]
    fn missing_program_is_an_error_result() {
        let d = tempfile::tempdir().unwrap();
        let r = run_check(
            &CheckSpec {
                argv: vec!["/nonexistent/prog".into()],
                shell: false,
                ..spec("x", "", 10, &[])
            },
            d.path(),
            &RunOptions::default(),
            &|_| None,
            &mut |_| {},
        );
        assert_eq!(r.status, CheckRunStatus::Error);
        assert_eq!(
            r.failure_reason_code.as_deref(),
            Some(reason::CHECK_SPAWN_FAILED)
        );
    }

    #[test]
    fn sandbox_without_bwrap_refuses_to_run() {
        let d = tempfile::tempdir().unwrap();
        let marker = d.path().join("ran");
        let r = run_check(
            &CheckSpec {
                sandbox: true,
                ..spec("sb", &format!("touch {}", marker.display()), 10, &[])
            },
            d.path(),
            &RunOptions {
                bwrap: None,
                sandbox_ro_paths: vec![],
            },
            &|_| None,
            &mut |_| {},
        );
        assert_eq!(r.status, CheckRunStatus::Error);
        assert_eq!(
            r.failure_reason_code.as_deref(),
            Some(reason::CHECK_SANDBOX_UNAVAILABLE)
        );
        assert!(!marker.exists());
    }

    #[test]
    fn sandbox_has_no_network_and_a_read_only_outside() {
        let Some(bwrap) = find_bwrap() else {
            panic!("bwrap is required for this test (apt install bubblewrap)");
        };
        let wt = tempfile::tempdir().unwrap();
        // Outside the worktree and not under /tmp (which is a fresh tmpfs in the sandbox).
        let outside = tempfile::tempdir_in("/var/tmp").unwrap();
        let script = format!(
            "echo inside > ok.txt && (echo x > {}/escape.txt) 2>/dev/null; \
             test -e {}/escape.txt && echo WROTE_OUTSIDE; \
             cat /proc/net/dev | grep -c : ; exit 0",
            outside.path().display(),
            outside.path().display()
        );
        let r = run_check(
            &CheckSpec {
                sandbox: true,
                ..spec("sb", &script, 30, &["PATH"])
            },
            wt.path(),
            &RunOptions {
                bwrap: Some(bwrap),
                sandbox_ro_paths: vec![],
            },
            &|k| std::env::var_os(k),
            &mut |_| {},
        );
        assert_eq!(r.status, CheckRunStatus::Passed, "{}", r.output);
        assert!(
            wt.path().join("ok.txt").exists(),
            "the worktree is writable"
        );
        assert!(!outside.path().join("escape.txt").exists(), "{}", r.output);
        assert!(!r.output.contains("WROTE_OUTSIDE"));
        // Only the loopback interface exists in a fresh network namespace.
        assert_eq!(r.output.trim().lines().last(), Some("1"), "{}", r.output);
    }
}
