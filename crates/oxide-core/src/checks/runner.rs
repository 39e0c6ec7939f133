//! Running one check: cleared environment (allow-list only), a supervisor that kills every
//! process the check started when it ends or times out (`setsid` included), output capped,
//! progress streamed, and — unless the contract says `sandbox = false` — a bubblewrap sandbox
//! with a minimal read-only root, the worktree writable, no home, no sockets, no network.
//! See `docs/checks.md`.

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
    pub const CHECK_SANDBOX_PATH_REFUSED: &str = "CHECK_SANDBOX_PATH_REFUSED";
    /// `pin = "target"` could not put the target branch's harness files in place.
    pub const CHECK_PIN_FAILED: &str = "CHECK_PIN_FAILED";
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
        state: crate::workflow::State,
    },
}

/// The `bwrap` executable: `$OXIDE_BWRAP` when set (an absolute path; used to point at a
/// particular build), else the first `bwrap` in the system directories or `PATH`.
pub fn find_bwrap() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OXIDE_BWRAP") {
        let p = PathBuf::from(p);
        return (p.is_absolute() && p.is_file()).then_some(p);
    }
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
    /// `bwrap` for sandboxed checks (`None`: they end in `error` and are never run unsandboxed).
    pub bwrap: Option<PathBuf>,
    /// Paths a check's `ro_paths` may neither be, lie inside, nor contain: the main working
    /// tree (its `.oxide/` included), the repository's git directory, the database's folder.
    pub protected_paths: Vec<PathBuf>,
    /// The user's home directory: an `ro_paths` entry may lie inside it (`~/.cargo`) but may
    /// not be it or contain it.
    pub home: Option<PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            bwrap: find_bwrap(),
            protected_paths: Vec::new(),
            home: std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|h| h.is_absolute()),
        }
    }
}

/// Top-level system directories bound read-only (or re-created as the same symlink, as on
/// merged-/usr systems). Nothing else of the host's root is visible.
const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];

/// The parts of `/etc` toolchains read: the dynamic loader cache, alternatives (Debian's
/// `python3`, `cc`, `java` links), TLS roots, users and groups (no shadow), host names
/// (`localhost`), time zone. No credentials live in these.
const ETC_FILES: &[&str] = &[
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/ca-certificates.conf",
    "/etc/pki",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/localtime",
    "/etc/mime.types",
];

/// `HOME` inside the sandbox when the check allow-lists `HOME`: an empty folder on the
/// sandbox's private `/tmp`, never the user's home.
pub const SANDBOX_HOME: &str = "/tmp/home";

/// Host places an `ro_paths` entry may not reach into: kernel interfaces and runtime sockets.
const NEVER_BOUND: &[&str] = &["/proc", "/sys", "/dev", "/run", "/var/run", "/tmp"];

/// The minimal root: system directories read-only, a private `/tmp`, fresh `/proc` and
/// `/dev`, no home, no `/run`; all namespaces new (network included), a new session, no
/// capabilities; the sandbox dies with its parent.
fn sandbox_root_args() -> Vec<OsString> {
    let s = |x: &str| OsString::from(x);
    let mut a = vec![
        s("--unshare-all"),
        s("--new-session"),
        s("--die-with-parent"),
        s("--cap-drop"),
        s("ALL"),
        s("--hostname"),
        s("oxide-check"),
    ];
    for d in SYSTEM_DIRS {
        match std::fs::read_link(d) {
            Ok(target) => a.extend([s("--symlink"), target.into(), s(d)]),
            Err(_) if Path::new(d).is_dir() => a.extend([s("--ro-bind"), s(d), s(d)]),
            Err(_) => {}
        }
    }
    for f in ETC_FILES {
        a.extend([s("--ro-bind-try"), s(f), s(f)]);
    }
    a.extend([s("--proc"), s("/proc"), s("--dev"), s("/dev")]);
    a.extend([s("--tmpfs"), s("/tmp"), s("--dir"), s(SANDBOX_HOME)]);
    a
}

/// The full command line that runs `argv` sandboxed: `bwrap`, the minimal root, the
/// read-only `ro` binds (host path, path inside), the worktree bound read-write as the working
/// directory, then `argv` under an `env` that drops bwrap's `PWD`. Public so the sandbox's fixed
/// cost can be measured with exactly the flags checks run under (`oxide-bench sandbox`).
pub fn bwrap_argv(
    bwrap: &Path,
    workdir: &Path,
    ro: &[(PathBuf, String)],
    argv: &[String],
) -> Vec<OsString> {
    let s = |x: &str| OsString::from(x);
    let mut a: Vec<OsString> = vec![bwrap.into()];
    a.extend(sandbox_root_args());
    for (canon, at) in ro {
        a.extend([s("--ro-bind"), canon.into(), s(at)]);
    }
    a.extend([s("--bind"), workdir.into(), workdir.into()]);
    a.extend([s("--chdir"), workdir.into(), s("--")]);
    // bwrap exports PWD after --chdir; the check's environment stays the allow-list.
    a.extend([s(ENV_BIN), s("-u"), s("PWD"), s("--")]);
    a.extend(argv.iter().map(OsString::from));
    a
}

/// coreutils' `env`, inside the sandbox's /usr.
const ENV_BIN: &str = "/usr/bin/env";

/// Where an `ro_paths` entry points on the host, if the entry is allowed: it must exist and
/// must not expose the home directory as a whole, the main working tree, the git directory,
/// the database, or kernel and socket directories (checked on the canonical path, so a
/// symlink cannot smuggle one in).
pub fn resolve_ro_path(p: &str, opts: &RunOptions) -> Result<PathBuf, String> {
    let canon = Path::new(p).canonicalize().map_err(|e| {
        format!("ro_paths entry '{p}' does not exist or cannot be read on this machine ({e}); install what the check needs there, or fix the entry")
    })?;
    if canon == Path::new("/") {
        return Err(format!(
            "ro_paths entry '{p}' resolves to '/', the whole file system"
        ));
    }
    if let Some(bad) = NEVER_BOUND.iter().find(|b| canon.starts_with(b)) {
        return Err(format!(
            "ro_paths entry '{p}' lies under {bad} (kernel interfaces, sockets or the sandbox's own /tmp); it cannot be bound into the sandbox"
        ));
    }
    let canon_or = |x: &Path| x.canonicalize().unwrap_or_else(|_| x.to_path_buf());
    for prot in opts.protected_paths.iter().map(|x| canon_or(x)) {
        if canon.starts_with(&prot) || prot.starts_with(&canon) {
            return Err(format!(
                "ro_paths entry '{p}' would expose {} (the working tree, the git directory or the state database), which checks must never see",
                prot.display()
            ));
        }
    }
    // Where validation worktrees live: other proposals' runs must stay out of sight.
    let tmp = canon_or(&std::env::temp_dir());
    if canon.starts_with(&tmp) || tmp.starts_with(&canon) {
        return Err(format!(
            "ro_paths entry '{p}' would expose the temporary directory {} where validation worktrees live",
            tmp.display()
        ));
    }
    if let Some(home) = opts.home.as_deref().map(canon_or) {
        if home.starts_with(&canon) {
            return Err(format!(
                "ro_paths entry '{p}' would expose the whole home directory {}; list only the folders the check needs (e.g. ~/.cargo, ~/.rustup)",
                home.display()
            ));
        }
    }
    Ok(canon)
}

/// Successful probes, per `bwrap` path (a failure is asked again next time: the fix may have
/// been applied meanwhile).
static PROBED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Can `bwrap` build the sandbox here? Runs `true` in the same minimal root once per process.
pub fn probe_sandbox(bwrap: &Path) -> Result<(), String> {
    if PROBED
        .lock()
        .map(|p| p.iter().any(|b| b == bwrap))
        .unwrap_or(false)
    {
        return Ok(());
    }
    let out = Command::new(bwrap)
        .args(sandbox_root_args())
        .args(["--", "true"])
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot start {}: {e}", bwrap.display()))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why.trim();
        return Err(format!(
            "{} could not build a sandbox ({}): {}",
            bwrap.display(),
            out.status,
            if why.is_empty() { "no message" } else { why }
        ));
    }
    if let Ok(mut p) = PROBED.lock() {
        p.push(bwrap.to_path_buf());
    }
    Ok(())
}

/// Before anything is written: every sandboxed check can run sandboxed here (bubblewrap is
/// installed and can create namespaces) and every `ro_paths` entry is allowed. Otherwise the
/// validation is refused with what to do.
pub fn preflight(checks: &[CheckSpec], opts: &RunOptions) -> Result<(), super::ChecksError> {
    use super::ChecksError;
    if !checks.iter().any(|c| c.sandbox) {
        return Ok(());
    }
    let fix = "install bubblewrap (scripts/setup.sh, or `apt install bubblewrap`) and make sure unprivileged user namespaces are allowed (`sysctl kernel.unprivileged_userns_clone=1`; on Ubuntu 24.04+ `sysctl kernel.apparmor_restrict_unprivileged_userns=0` or an AppArmor profile for bwrap); a check that must run on the host needs `sandbox = false` in the committed .oxide/checks.toml";
    let Some(bwrap) = &opts.bwrap else {
        return Err(ChecksError::SandboxUnavailable {
            why: "bubblewrap (bwrap) is not installed".into(),
            fix: fix.into(),
        });
    };
    probe_sandbox(bwrap).map_err(|why| ChecksError::SandboxUnavailable {
        why,
        fix: fix.into(),
    })?;
    for c in checks {
        for p in &c.ro_paths {
            resolve_ro_path(p, opts).map_err(|why| ChecksError::BadConfig {
                path: super::CHECKS_PATH.into(),
                why: format!("[[check]] '{}': {why}", c.name),
            })?;
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ the supervisor
//
// Every check runs under a supervisor: the process `oxide` spawns forks the check, makes
// itself a child subreaper (orphans of anything below it come to it, `setsid` or not), waits
// for the check, then SIGKILLs whatever is left below it until nothing is, and exits with the
// check's status (128 + signal when the check was killed). A SIGTERM (the timeout, or the
// death of `oxide`'s thread through PR_SET_PDEATHSIG) ends the check the same way. Between
// fork and exec only async-signal-safe system calls run: no allocation, no locks.
// The code runs between fork and exec, where std offers nothing: raw system calls through
// libc (prctl, clone, waitpid, sigtimedwait, getdents64, kill) are the only way.
#[allow(unsafe_code)]
mod supervisor {
    /// The decimal pid in a `/proc` entry name, if it is one.
    pub(super) fn parse_pid(name: &[u8]) -> Option<libc::pid_t> {
        let mut pid: libc::pid_t = 0;
        let mut any = false;
        for &b in name {
            if b == 0 {
                break;
            }
            if !b.is_ascii_digit() || pid > (libc::pid_t::MAX - 9) / 10 {
                return None;
            }
            pid = pid * 10 + (b - b'0') as libc::pid_t;
            any = true;
        }
        (any && pid > 0).then_some(pid)
    }

    /// The parent pid in the text of `/proc/<pid>/stat` (the field after the state, which
    /// follows the last ')').
    pub(super) fn ppid_in_stat(stat: &[u8]) -> Option<libc::pid_t> {
        let close = stat.iter().rposition(|&b| b == b')')?;
        // ") S 1234 ..."
        let rest = stat.get(close + 4..)?;
        let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        parse_pid(&rest[..end])
    }

    /// The parent of `pid`, read from `/proc` with plain system calls and stack buffers.
    ///
    /// # Safety
    /// Only system calls; callable between fork and exec.
    pub(super) unsafe fn parent_of(pid: libc::pid_t) -> Option<libc::pid_t> {
        let mut path = [0u8; 40];
        let mut n = 0;
        for &b in b"/proc/" {
            path[n] = b;
            n += 1;
        }
        let mut digits = [0u8; 12];
        let mut d = 0;
        let mut v = pid;
        loop {
            digits[d] = b'0' + (v % 10) as u8;
            d += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        while d > 0 {
            d -= 1;
            path[n] = digits[d];
            n += 1;
        }
        for &b in b"/stat\0" {
            path[n] = b;
            n += 1;
        }
        let fd = libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return None;
        }
        let mut buf = [0u8; 1024];
        let got = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        if got <= 0 {
            return None;
        }
        ppid_in_stat(&buf[..got as usize])
    }

    /// SIGKILLs every process whose parent is `me`.
    ///
    /// # Safety
    /// Only system calls; callable between fork and exec.
    unsafe fn kill_children_of(me: libc::pid_t) {
        let fd = libc::open(
            c"/proc".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return;
        }
        let mut buf = [0u8; 8192];
        loop {
            let n = libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len());
            if n <= 0 {
                break;
            }
            let n = n as usize;
            let mut off = 0;
            // struct linux_dirent64 { u64 ino; i64 off; u16 reclen; u8 type; char name[]; }
            while off + 19 <= n {
                let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
                if reclen == 0 {
                    break;
                }
                let name = &buf[off + 19..(off + reclen).min(n)];
                if let Some(pid) = parse_pid(name) {
                    if parent_of(pid) == Some(me) {
                        libc::kill(pid, libc::SIGKILL);
                    }
                }
                off += reclen;
            }
        }
        libc::close(fd);
    }

    fn status_code(st: libc::c_int) -> libc::c_int {
        if libc::WIFEXITED(st) {
            libc::WEXITSTATUS(st)
        } else if libc::WIFSIGNALED(st) {
            128 + libc::WTERMSIG(st)
        } else {
            128 + libc::SIGKILL
        }
    }

    /// The supervisor's life after the fork; never returns.
    ///
    /// # Safety
    /// Only system calls; runs between fork and exec.
    unsafe fn supervise(oxide: libc::pid_t, check: libc::pid_t) -> ! {
        // Keep nothing of the parent's: the output pipes end when the check's processes are gone
        // and std's exec-error pipe closes when the check execs.
        if libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32) != 0 {
            for fd in 0..4096 {
                libc::close(fd);
            }
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong);
        let me = libc::getpid();
        let mut code = 128 + libc::SIGKILL;
        let mut check_done = false;
        'wait: loop {
            loop {
                let mut st = 0;
                let r = libc::waitpid(-1, &mut st, libc::WNOHANG);
                if r <= 0 {
                    break;
                }
                if r == check {
                    check_done = true;
                    code = status_code(st);
                }
            }
            if check_done || libc::getppid() != oxide {
                break 'wait;
            }
            let ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 100_000_000,
            };
            let sig = libc::sigtimedwait(&set, std::ptr::null_mut(), &ts);
            if sig > 0 && sig != libc::SIGCHLD {
                break 'wait;
            }
        }
        if !check_done {
            libc::kill(check, libc::SIGKILL);
        }
        loop {
            kill_children_of(me);
            let mut st = 0;
            loop {
                let r = libc::waitpid(-1, &mut st, libc::WNOHANG);
                if r <= 0 {
                    if r < 0 {
                        // ECHILD: nothing is left below us.
                        libc::_exit(code);
                    }
                    break;
                }
                if r == check && !check_done {
                    check_done = true;
                }
            }
            let ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 5_000_000,
            };
            libc::nanosleep(&ts, std::ptr::null_mut());
        }
    }

    /// `pre_exec` hook: splits the spawned process into the supervisor (which never returns) and
    /// the check (which returns and is exec'd by std).
    ///
    /// # Safety
    /// Runs between fork and exec; only system calls.
    pub(super) unsafe fn split_supervisor() -> std::io::Result<()> {
        let oxide = libc::getppid();
        if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let me = libc::getpid();
        // A raw clone: glibc's fork handlers (malloc locks) must not run in a forked child.
        let pid = libc::syscall(
            libc::SYS_clone,
            libc::SIGCHLD as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        );
        if pid < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if pid == 0 {
            // The check: killed if the supervisor goes; gone at once if it already went.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            if libc::getppid() != me {
                libc::_exit(127);
            }
            return Ok(());
        }
        supervise(oxide, pid as libc::pid_t)
    }
}
use supervisor::split_supervisor;
#[cfg(test)]
use supervisor::{parent_of, parse_pid, ppid_in_stat};

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

/// Ends a running check: SIGTERM to its supervisor, which kills everything below it; if the
/// supervisor is not gone within 5 s (a process stuck in the kernel), SIGKILL to the group.
fn end_supervised(child: &mut std::process::Child, pgid: u32) -> Option<std::process::ExitStatus> {
    #[allow(unsafe_code)] // libc::kill: std signals only its own children, and only SIGKILL
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(pgid as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(st)) => return Some(st),
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => break,
        }
    }
    kill_group(pgid);
    child.wait().ok()
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
        let Some(b) = &opts.bwrap else {
            result.failure_reason_code = Some(reason::CHECK_SANDBOX_UNAVAILABLE.into());
            result.output = "this check runs sandboxed but bubblewrap (bwrap) is not installed; install it (scripts/setup.sh or apt install bubblewrap) — the check was not run unsandboxed".into();
            return finish(result, progress);
        };
        let mut ro = Vec::new();
        for p in &spec.ro_paths {
            match resolve_ro_path(p, opts) {
                Ok(c) => ro.push((c, p.clone())),
                Err(why) => {
                    result.failure_reason_code = Some(reason::CHECK_SANDBOX_PATH_REFUSED.into());
                    result.output = format!("{why} — the check was not run");
                    return finish(result, progress);
                }
            }
        }
        bwrap_argv(b, workdir, &ro, &spec.argv)
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
            if spec.sandbox && name == "HOME" {
                // Never the user's home: an empty folder on the sandbox's private /tmp.
                cmd.env(name, SANDBOX_HOME);
            } else {
                cmd.env(name, v);
            }
        }
    }
    #[allow(unsafe_code)] // pre_exec is unsafe by signature; std has no subreaper or PDEATHSIG
    // SAFETY: the hook only makes system calls (see `split_supervisor`). The spawned process
    // becomes the check's supervisor; it gets SIGTERM if the thread that spawned it dies
    // (e.g. `oxide validate` is killed) and then ends the check and all it started.
    unsafe {
        cmd.pre_exec(|| split_supervisor());
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
            break end_supervised(&mut child, pgid);
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
            ro_paths: vec![],
            harness: vec![],
            pin: false,
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
                ..RunOptions::default()
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
                ..RunOptions::default()
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

    fn bwrap() -> PathBuf {
        find_bwrap().expect("bwrap is required for this test (scripts/setup.sh installs it)")
    }

    /// Host pids whose command line contains `marker`.
    fn pids_with(marker: &str) -> Vec<i32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                alive(*pid)
                    && std::fs::read(format!("/proc/{pid}/cmdline"))
                        .map(|c| String::from_utf8_lossy(&c).contains(marker))
                        .unwrap_or(false)
            })
            .collect()
    }

    fn none_within_5s(marker: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !pids_with(marker).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        pids_with(marker).is_empty()
    }

    /// A `sleep` argument no other process has: `300.<nanos>`.
    fn marker() -> String {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        format!("300.{n:09}{}", std::process::id())
    }

    #[test]
    fn proc_parsing_finds_pids_and_parents() {
        assert_eq!(parse_pid(b"1234\0\0"), Some(1234));
        assert_eq!(parse_pid(b"self\0"), None);
        assert_eq!(parse_pid(b"\0"), None);
        assert_eq!(parse_pid(b"99999999999999\0"), None);
        assert_eq!(ppid_in_stat(b"42 (a) b) c) S 7 42 42 0"), Some(7));
        assert_eq!(ppid_in_stat(b"42 (x"), None);
        #[allow(unsafe_code)] // the helpers under test are the supervisor's raw system calls
        // SAFETY: parent_of only makes system calls; getppid has no preconditions.
        let (parent, ppid) = unsafe {
            (
                parent_of(std::process::id() as libc::pid_t),
                libc::getppid(),
            )
        };
        assert_eq!(parent, Some(ppid));
    }

    #[test]
    fn unsandboxed_setsid_and_double_fork_do_not_outlive_the_check() {
        let d = tempfile::tempdir().unwrap();
        let (m1, m2) = (marker(), marker() + "1");
        // One escapes with setsid, one daemonises (fork, setsid, fork, parent exits).
        let script = format!(
            "setsid sleep {m1} & \
             python3 -c 'import os,sys\nif os.fork(): sys.exit(0)\nos.setsid()\nif os.fork(): os._exit(0)\nos.execvp(\"sleep\", [\"sleep\", \"{m2}\"])' ; \
             sleep 0.3; exit 0"
        );
        let r = run_check(
            &spec("escape", &script, 30, &["PATH"]),
            d.path(),
            &RunOptions::default(),
            &|k| std::env::var_os(k),
            &mut |_| {},
        );
        assert_eq!(r.status, CheckRunStatus::Passed, "{}", r.output);
        assert!(none_within_5s(&m1), "the setsid child survived");
        assert!(none_within_5s(&m2), "the daemonised child survived");
    }

    #[test]
    fn unsandboxed_timeout_ends_setsid_children_too() {
        let d = tempfile::tempdir().unwrap();
        let m = marker();
        let t0 = Instant::now();
        let r = run_check(
            &spec(
                "slow",
                &format!("setsid sleep {m} & sleep 300"),
                1,
                &["PATH"],
            ),
            d.path(),
            &RunOptions::default(),
            &|k| std::env::var_os(k),
            &mut |_| {},
        );
        assert_eq!(r.status, CheckRunStatus::TimedOut);
        assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
        assert!(none_within_5s(&m), "the setsid child survived the timeout");
    }

    #[test]
    fn exit_codes_pass_through_the_supervisor() {
        let d = tempfile::tempdir().unwrap();
        let r = run_check(
            &spec("k", "kill -9 $$", 10, &[]),
            d.path(),
            &RunOptions::default(),
            &|_| None,
            &mut |_| {},
        );
        assert_eq!(r.status, CheckRunStatus::Failed);
        assert_eq!(r.exit_code, Some(128 + 9));
    }

    #[test]
    fn sandboxed_setsid_children_die_with_the_sandbox() {
        let d = tempfile::tempdir().unwrap();
        let m = marker();
        let r = run_check(
            &CheckSpec {
                sandbox: true,
                ..spec(
                    "sb",
                    &format!("setsid sleep {m} & sleep 0.3; exit 0"),
                    30,
                    &["PATH"],
                )
            },
            d.path(),
            &RunOptions {
                bwrap: Some(bwrap()),
                ..RunOptions::default()
            },
            &|k| std::env::var_os(k),
            &mut |_| {},
        );
        assert_eq!(r.status, CheckRunStatus::Passed, "{}", r.output);
        assert!(r.sandboxed);
        assert!(none_within_5s(&m), "the setsid child outlived the sandbox");
    }

    #[test]
    fn sandbox_root_is_minimal() {
        let wt = tempfile::tempdir().unwrap();
        let script =
            "for p in /root /home /run /var /opt /etc/shadow /etc/ssh /proc/1/root/etc/shadow; do \
                        if [ -e $p ]; then echo PRESENT $p; fi; done; \
                      echo HOME=$HOME; touch /usr/x 2>/dev/null && echo WROTE_USR; \
                      echo tmp > /tmp/t && echo TMP_OK; python3 -c 'print(1+1)'; \
                      [ $$ -lt 10 ] && echo SMALL_PID; exit 0";
        let r = run_check(
            &CheckSpec {
                sandbox: true,
                ..spec("sb", script, 30, &["PATH", "HOME"])
            },
            wt.path(),
            &RunOptions {
                bwrap: Some(bwrap()),
                ..RunOptions::default()
            },
            &|k| match k {
                "HOME" => Some(OsString::from("/root")),
                k => std::env::var_os(k),
            },
            &mut |_| {},
        );
        assert_eq!(r.status, CheckRunStatus::Passed, "{}", r.output);
        assert!(!r.output.contains("PRESENT"), "{}", r.output);
        assert!(
            r.output.contains(&format!("HOME={SANDBOX_HOME}")),
            "{}",
            r.output
        );
        assert!(!r.output.contains("WROTE_USR"), "{}", r.output);
        assert!(r.output.contains("TMP_OK"), "{}", r.output);
        assert!(r.output.contains("\n2\n"), "python runs: {}", r.output);
        assert!(
            r.output.contains("SMALL_PID"),
            "own pid namespace: {}",
            r.output
        );
    }

    #[test]
    fn ro_paths_are_bound_read_only_and_checked() {
        let home = tempfile::tempdir_in("/var/tmp").unwrap();
        let tool = home.path().join(".tool");
        std::fs::create_dir(&tool).unwrap();
        std::fs::write(tool.join("bin"), "tool-content").unwrap();
        std::fs::write(home.path().join("secret"), "hunter2").unwrap();
        let protected = tempfile::tempdir_in("/var/tmp").unwrap();
        let opts = RunOptions {
            bwrap: Some(bwrap()),
            protected_paths: vec![protected.path().to_path_buf()],
            home: Some(home.path().to_path_buf()),
        };
        let wt = tempfile::tempdir().unwrap();
        let t = tool.display().to_string();
        let script = format!(
            "cat {t}/bin; echo; cat {}/secret 2>/dev/null && echo LEAK; touch {t}/w 2>/dev/null && echo WROTE; exit 0",
            home.path().display()
        );
        let r = run_check(
            &CheckSpec {
                sandbox: true,
                ro_paths: vec![t.clone()],
                ..spec("sb", &script, 30, &["PATH"])
            },
            wt.path(),
            &opts,
            &|k| std::env::var_os(k),
            &mut |_| {},
        );
        assert_eq!(r.status, CheckRunStatus::Passed, "{}", r.output);
        assert!(r.output.contains("tool-content"), "{}", r.output);
        assert!(!r.output.contains("LEAK") && !r.output.contains("hunter2"));
        assert!(!r.output.contains("WROTE") && !tool.join("w").exists());

        // Refused: the home itself or a parent of it, a protected path or its parent or its
        // inside, a missing path, sockets and kernel folders, a symlink into a protected one.
        let link = home.path().join("link");
        std::os::unix::fs::symlink(protected.path(), &link).unwrap();
        let inside = protected.path().join("db");
        std::fs::create_dir(&inside).unwrap();
        for (p, want) in [
            (home.path().display().to_string(), "whole home directory"),
            ("/var".to_string(), "would expose"),
            (protected.path().display().to_string(), "would expose"),
            (inside.display().to_string(), "would expose"),
            (link.display().to_string(), "would expose"),
            ("/nonexistent/oxide".to_string(), "does not exist"),
            ("/run".to_string(), "under /run"),
            ("/proc/self".to_string(), "under /proc"),
            // Under /tmp ("under /tmp") or a TMPDIR elsewhere ("temporary directory").
            (std::env::temp_dir().display().to_string(), "tmp"),
        ] {
            let err = resolve_ro_path(&p, &opts).unwrap_err();
            assert!(err.contains(want), "{p}: {err}");
        }
        // The runner refuses such a check without running it.
        let ran = wt.path().join("ran");
        let r = run_check(
            &CheckSpec {
                sandbox: true,
                ro_paths: vec![protected.path().display().to_string()],
                ..spec("sb", "touch ran", 30, &["PATH"])
            },
            wt.path(),
            &opts,
            &|k| std::env::var_os(k),
            &mut |_| {},
        );
        assert_eq!(r.status, CheckRunStatus::Error);
        assert_eq!(
            r.failure_reason_code.as_deref(),
            Some(reason::CHECK_SANDBOX_PATH_REFUSED)
        );
        assert!(!ran.exists());
    }

    #[test]
    fn preflight_refuses_when_the_sandbox_cannot_start() {
        let sandboxed = CheckSpec {
            sandbox: true,
            ..spec("a", "true", 10, &[])
        };
        let host = spec("b", "true", 10, &[]);
        let none = RunOptions {
            bwrap: None,
            ..RunOptions::default()
        };
        // Only unsandboxed checks: bubblewrap is not needed.
        preflight(std::slice::from_ref(&host), &none).unwrap();
        let err = preflight(&[host.clone(), sandboxed.clone()], &none).unwrap_err();
        assert_eq!(err.code(), "CHECKS_SANDBOX_UNAVAILABLE");
        assert!(err.to_string().contains("not installed"), "{err}");
        assert!(err.to_string().contains("apt install bubblewrap"), "{err}");
        // A bwrap that cannot create namespaces (as with user namespaces disabled).
        let d = tempfile::tempdir().unwrap();
        let fake = d.path().join("bwrap");
        std::fs::write(
            &fake,
            "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let broken = RunOptions {
            bwrap: Some(fake),
            ..RunOptions::default()
        };
        // A script written a moment ago can fail to start with ETXTBSY while another test
        // thread's fork still holds its write descriptor (a known Linux race); only that is
        // retried.
        let mut err = preflight(std::slice::from_ref(&sandboxed), &broken).unwrap_err();
        for _ in 0..50 {
            if !err.to_string().contains("Text file busy") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            err = preflight(std::slice::from_ref(&sandboxed), &broken).unwrap_err();
        }
        assert_eq!(err.code(), "CHECKS_SANDBOX_UNAVAILABLE");
        assert!(err.to_string().contains("No permissions"), "{err}");
        assert!(err.to_string().contains("unprivileged_userns"), "{err}");
        // The real one works; a bad ro_paths entry is a contract error.
        let real = RunOptions {
            bwrap: Some(bwrap()),
            ..RunOptions::default()
        };
        preflight(std::slice::from_ref(&sandboxed), &real).unwrap();
        let err = preflight(
            &[CheckSpec {
                ro_paths: vec!["/nonexistent/x".into()],
                ..sandboxed
            }],
            &real,
        )
        .unwrap_err();
        assert_eq!(err.code(), "CHECKS_BAD_CONFIG");
        assert!(err.to_string().contains("does not exist"), "{err}");
    }
}
