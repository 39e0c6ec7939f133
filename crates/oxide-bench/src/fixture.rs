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
