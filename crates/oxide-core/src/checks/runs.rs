//! Who owns a validation run, whether that owner still lives, and what recovery may delete.
//!
//! A run records its owner: the pid, the process's start time (clock ticks since boot, field
//! 22 of `/proc/<pid>/stat`, so a reused pid is not taken for the owner) and a random token.
//! Another process judges a run live when a process with that pid and that start time exists.
//! The owning process itself (two validations in one desktop app) judges by the token, which
//! is registered for as long as the run is in progress. Recovery removes only the worktrees of
//! runs it marked abandoned itself, and only at the canonical path `<temp dir>/<worktree name>`:
//! a path read from the database or from git metadata is never deleted as such.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::gitops::WORKTREE_PREFIX;

/// Tokens of the runs this process is executing right now.
static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The owner recorded with a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub pid: i64,
    /// Start time of the process in clock ticks since boot.
    pub start: i64,
    /// 128 random bits, hex.
    pub token: String,
}

/// Keeps a run's token registered as live in this process; dropping it ends that.
#[derive(Debug)]
pub struct Registration(String);

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|t| t != &self.0);
        }
    }
}

/// The start time (clock ticks since boot) of a running, non-zombie process.
pub fn process_start(pid: i64) -> Option<i64> {
    if pid <= 0 || pid > i32::MAX as i64 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name in parentheses: state (field 3) ... starttime (field 22).
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first().is_none_or(|s| *s == "Z" || *s == "X") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// This process as the owner of a new run, registered live until the returned value drops.
pub fn claim() -> std::io::Result<(Owner, Registration)> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let pid = std::process::id() as i64;
    let start = process_start(pid).ok_or_else(|| {
        std::io::Error::other("cannot read this process's start time from /proc/self/stat")
    })?;
    LIVE.lock()
        .map_err(|_| std::io::Error::other("the live-run registry is poisoned"))?
        .push(token.clone());
    Ok((
        Owner {
            pid,
            start,
            token: token.clone(),
        },
        Registration(token),
    ))
}

/// A run recorded before owners were (no start time, no token): live when its pid is a
/// running process with "oxide" in its command line that is not this process.
fn legacy_live(pid: i64) -> bool {
    if pid == std::process::id() as i64 || process_start(pid).is_none() {
        return false;
    }
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains("oxide"))
        .unwrap_or(false)
}

/// Is the run owned by (`pid`, `start`, `token`) still in progress somewhere?
pub fn is_live(pid: i64, start: Option<i64>, token: Option<&str>) -> bool {
    let (Some(start), Some(token)) = (start, token) else {
        return legacy_live(pid);
    };
    if pid == std::process::id() as i64 && process_start(pid) == Some(start) {
        return LIVE
            .lock()
            .map(|live| live.iter().any(|t| t == token))
            // A poisoned registry: assume live rather than delete someone's worktree.
            .unwrap_or(true);
    }
    process_start(pid) == Some(start)
}

/// Where recovery may delete the worktree `name` whose recorded path is `recorded`: only
/// `<temp dir>/<name>` for a validation worktree name, when `recorded` is that very path (or
/// is gone) and it is not a symlink. `None`: leave the files alone.
pub fn removable_worktree(name: &str, recorded: &str) -> Option<PathBuf> {
    if !name.starts_with(WORKTREE_PREFIX)
        || name.len() == WORKTREE_PREFIX.len()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    let tmp = std::env::temp_dir().canonicalize().ok()?;
    let want = tmp.join(name);
    let recorded = Path::new(recorded);
    if !recorded.is_absolute() {
        return None;
    }
    // The recorded path must name the same place: `<temp>/<name>` (through the temp dir's
    // canonical form, so `/tmp` → `/private/tmp`-style links are accepted).
    let parent = recorded.parent()?.canonicalize().ok();
    if parent.as_deref() != Some(tmp.as_path())
        || recorded.file_name() != Some(std::ffi::OsStr::new(name))
    {
        return None;
    }
    match std::fs::symlink_metadata(&want) {
        Ok(m) if m.file_type().is_symlink() => None,
        _ => Some(want),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_runs_are_live_only_while_registered() {
        let (owner, reg) = claim().unwrap();
        assert_eq!(owner.pid, std::process::id() as i64);
        assert_eq!(owner.token.len(), 32);
        assert!(is_live(owner.pid, Some(owner.start), Some(&owner.token)));
        // Another run of the same process (the desktop app's second validation).
        let (other, other_reg) = claim().unwrap();
        assert_ne!(other.token, owner.token);
        drop(reg);
        assert!(!is_live(owner.pid, Some(owner.start), Some(&owner.token)));
        assert!(is_live(other.pid, Some(other.start), Some(&other.token)));
        drop(other_reg);
        assert!(!is_live(other.pid, Some(other.start), Some(&other.token)));
        // Legacy rows naming this process were never live for it.
        assert!(!is_live(owner.pid, None, None));
    }

    #[test]
    fn other_processes_are_judged_by_pid_and_start_time() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i64;
        let start = process_start(pid).expect("the child runs");
        assert!(is_live(pid, Some(start), Some("t")));
        // Same pid, another start time: a reused pid, not the owner.
        assert!(!is_live(pid, Some(start + 1), Some("t")));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!is_live(pid, Some(start), Some("t")));
        assert_eq!(process_start(pid), None);
        assert_eq!(process_start(-1), None);
    }

    #[test]
    fn only_the_canonical_temp_path_of_the_run_is_removable() {
        let tmp = std::env::temp_dir().canonicalize().unwrap();
        let name = format!("{WORKTREE_PREFIX}abc-{}", std::process::id());
        let good = tmp.join(&name);
        assert_eq!(
            removable_worktree(&name, good.to_str().unwrap()),
            Some(good.clone())
        );
        let elsewhere = tempfile::tempdir_in("/var/tmp").unwrap();
        let cases = [
            // A database edit pointing the run at someone's files.
            (name.clone(), elsewhere.path().join(&name)),
            (name.clone(), PathBuf::from("/home")),
            (name.clone(), tmp.join("other-name")),
            (name.clone(), tmp.join("..").join(&name)),
            (name.clone(), PathBuf::from(format!("relative/{name}"))),
            // Names that are not validation worktrees, or try to climb.
            ("notes".into(), tmp.join("notes")),
            (WORKTREE_PREFIX.into(), tmp.join(WORKTREE_PREFIX)),
            (format!("{WORKTREE_PREFIX}../x"), tmp.join("x")),
        ];
        for (n, p) in &cases {
            assert_eq!(
                removable_worktree(n, p.to_str().unwrap()),
                None,
                "{n} {p:?}"
            );
        }
        // A symlink at the right place (pointing at someone's files) is not followed.
        let link_name = format!("{WORKTREE_PREFIX}link-{}", std::process::id());
        let link = tmp.join(&link_name);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(elsewhere.path(), &link).unwrap();
        assert_eq!(removable_worktree(&link_name, link.to_str().unwrap()), None);
        std::fs::remove_file(&link).unwrap();
    }
}
