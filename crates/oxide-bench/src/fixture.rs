//! What the benchmarks that build git repositories share: running git with a fixed identity,
//! and naming the step that failed.

use std::path::Path;
use std::process::Command;

/// An error mapper that says which step failed.
pub fn err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// Runs git in `dir` with a fixed identity and no signing; its stdout, or its stderr as the
/// error.
pub fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let o = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Bench",
            "-c",
            "user.email=bench@oxide.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .map_err(|e| format!("git {args:?}: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "git {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Runs git in `dir` with extra environment and `stdin`; its stdout (trimmed), or its stderr
/// as the error. No identity or config is added: the caller's environment decides.
pub fn git_with(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&[u8]>,
) -> Result<String, String> {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("git {args:?}: {e}"))?;
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().ok_or("git's stdin")?;
        pipe.write_all(bytes)
            .map_err(|e| format!("git {args:?}: writing stdin: {e}"))?;
    }
    let o = child
        .wait_with_output()
        .map_err(|e| format!("git {args:?}: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "git {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// Who made a commit and when, as git's environment spells it.
pub struct Person {
    pub name: String,
    pub email: String,
    /// `<unix seconds> <+hhmm>` (git's raw date format).
    pub date: String,
}

impl Person {
    pub fn of(sig: &git2::Signature<'_>) -> Person {
        let t = sig.when();
        let off = t.offset_minutes();
        Person {
            name: sig.name().unwrap_or_default().to_string(),
            email: sig.email().unwrap_or_default().to_string(),
            date: format!(
                "{} {}{:02}{:02}",
                t.seconds(),
                if off < 0 { '-' } else { '+' },
                off.abs() / 60,
                off.abs() % 60
            ),
        }
    }
}

/// The fastest way the git CLI makes a commit from a base without a checkout: plumbing on a
/// temporary index. `git read-tree <base>` into `GIT_INDEX_FILE=<tmp>`, the new contents as
/// blobs (`git hash-object -w --stdin-paths` over files already written under `scratch`),
/// `git update-index --index-info`, `git write-tree`, `git commit-tree -p <base>` with the
/// given message and identities, `git update-ref <ref> <new> <old>` (compare-and-swap; an
/// empty `old` = the ref must not exist). `files` = (path in the repository, file holding
/// its new content). Returns the new commit's id.
#[allow(clippy::too_many_arguments)]
pub fn plumbing_commit(
    repo: &Path,
    scratch: &Path,
    base: &str,
    files: &[(String, std::path::PathBuf)],
    message_file: &Path,
    author: &Person,
    committer: &Person,
    refname: &str,
    old: &str,
) -> Result<String, String> {
    let index = scratch.join("plumbing.index");
    let _ = std::fs::remove_file(&index);
    let index_s = index.to_str().ok_or("a UTF-8 temp path")?;
    let idx = [("GIT_INDEX_FILE", index_s)];
    git_with(repo, &["read-tree", base], &idx, None)?;
    let paths: String = files
        .iter()
        .map(|(_, f)| format!("{}\n", f.display()))
        .collect();
    let blobs = git_with(
        repo,
        &["hash-object", "-w", "--stdin-paths"],
        &[],
        Some(paths.as_bytes()),
    )?;
    let blobs: Vec<&str> = blobs.lines().collect();
    if blobs.len() != files.len() {
        return Err(format!(
            "git hash-object wrote {} blobs for {} files",
            blobs.len(),
            files.len()
        ));
    }
    let info: String = files
        .iter()
        .zip(&blobs)
        .map(|((path, _), blob)| format!("100644 {blob}\t{path}\n"))
        .collect();
    git_with(
        repo,
        &["update-index", "--index-info"],
        &idx,
        Some(info.as_bytes()),
    )?;
    let tree = git_with(repo, &["write-tree"], &idx, None)?;
    let msg = message_file.to_str().ok_or("a UTF-8 temp path")?;
    let commit = git_with(
        repo,
        &["commit-tree", &tree, "-p", base, "-F", msg],
        &[
            ("GIT_AUTHOR_NAME", &author.name),
            ("GIT_AUTHOR_EMAIL", &author.email),
            ("GIT_AUTHOR_DATE", &author.date),
            ("GIT_COMMITTER_NAME", &committer.name),
            ("GIT_COMMITTER_EMAIL", &committer.email),
            ("GIT_COMMITTER_DATE", &committer.date),
        ],
        None,
    )?;
    git_with(repo, &["update-ref", refname, &commit, old], &[], None)?;
    let _ = std::fs::remove_file(&index);
    Ok(commit)
}
