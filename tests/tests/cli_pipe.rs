//! The real `oxide` binary writing into a pipe whose reader has gone away (`oxide --json
//! audit list | head -c 100`): it ends quietly with its own exit code, like git and ripgrep,
//! instead of panicking with a backtrace.

use std::io::Read;
use std::process::{Command, Stdio};

use oxide_journeys::{oxide_bin, TestRepo};

/// `oxide --workspace <repo> --db <db> ARGS` with the test repo's environment, stdout not set.
fn command(repo: &TestRepo, args: &[&str]) -> Command {
    let mut cmd = Command::new(oxide_bin());
    cmd.arg("--workspace")
        .arg(repo.path())
        .arg("--db")
        .arg(repo.db())
        .args(args)
        .env("XDG_DATA_HOME", repo.data.path().join("xdg-data"))
        .env("XDG_CONFIG_HOME", repo.data.path().join("xdg-config"))
        .env("OXIDE_ACTOR", "tester")
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Asserts the run ended by itself with exit 0 and printed no panic.
fn assert_quiet(what: &str, status: std::process::ExitStatus, stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{what}: stderr shows a panic or the pipe error:\n{stderr}"
    );
    assert_ne!(status.code(), Some(101), "{what}: exit 101 is a panic");
    assert_eq!(
        status.code(),
        Some(0),
        "{what}: the command's own exit code\n{stderr}"
    );
}

/// Every write to stdout fails with EPIPE: the pipe's only reader is closed before `oxide`
/// starts, so this does not depend on timing or on the pipe's capacity.
#[test]
fn audit_list_into_a_pipe_closed_before_it_writes_ends_quietly() {
    let repo = TestRepo::new();
    repo.init();
    for args in [&["--json", "audit", "list"][..], &["audit", "list"][..]] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let out = command(&repo, args)
            .stdout(writer)
            .output()
            .expect("run oxide");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_quiet(&format!("oxide {args:?}"), out.status, &stderr);
    }
}

/// `| head -c 100` over an output far larger than any pipe buffer (1 MiB at most on Linux):
/// the first bytes arrive, then the reader leaves while `oxide` is still writing.
#[test]
fn a_long_listing_cut_short_by_its_reader_ends_quietly() {
    let repo = TestRepo::new();
    repo.init();
    // 8,000 distinct bad lines: each is quarantined with its excerpt and message.
    let lines: String = (0..8000)
        .map(|i| format!("not an envelope, line {i:05} {}\n", "x".repeat(150)))
        .collect();
    let file = repo.data.path().join("bad.jsonl");
    std::fs::write(&file, lines).unwrap();
    let ingest = repo
        .oxide(&["--json", "binder", "ingest", file.to_str().unwrap()])
        .expect(0)
        .json();
    assert_eq!(ingest["quarantined"], 8000, "{ingest}");

    for (args, starts) in [
        (&["--json", "binder", "quarantine"][..], "{\"items\":[{"),
        (&["binder", "quarantine"][..], file.to_str().unwrap()),
    ] {
        let mut child = command(&repo, args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start oxide");
        let mut stdout = child.stdout.take().unwrap();
        let mut head = vec![0u8; 100];
        stdout.read_exact(&mut head).expect("the first 100 bytes");
        drop(stdout);
        let out = child.wait_with_output().expect("oxide ends");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            String::from_utf8_lossy(&head).starts_with(starts),
            "oxide {args:?} began with {:?}",
            String::from_utf8_lossy(&head)
        );
        assert_quiet(&format!("oxide {args:?}"), out.status, &stderr);
    }

    // The listing itself is intact when someone reads all of it.
    let all = repo
        .oxide(&["--json", "binder", "quarantine"])
        .expect(0)
        .json();
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 8000);
    let bytes = serde_json::to_string(&all).unwrap().len();
    assert!(bytes > 1024 * 1024, "the listing outgrows a pipe: {bytes}");
}

/// Only a closed pipe is quiet: any other failed write (here a full disk) is an error on
/// stderr with exit 1, so a lost result is never mistaken for a printed one.
#[test]
fn a_failed_write_other_than_a_closed_pipe_is_an_error() {
    let repo = TestRepo::new();
    repo.init();
    for args in [&["--json", "audit", "list"][..], &["audit", "list"][..]] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let out = command(&repo, args)
            .stdout(full)
            .output()
            .expect("run oxide");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "oxide {args:?}\n{stderr}");
        assert!(
            stderr.contains("error[IO]: cannot write the result to stdout"),
            "oxide {args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "oxide {args:?}: {stderr}");
    }
}
