//! Issue 11 item 2 through the real `oxide` binary: the proposal code a check runs is
//! contained. A sandboxed check (the default) cannot read `$HOME`, cannot write the main
//! working tree, its `.git` or the database, cannot reach Unix sockets or the network outside
//! its worktree, and leaves no process behind after `setsid`; an unsandboxed check exists only
//! when the committed contract says `sandbox = false`, and the default policy makes such a
//! proposal high risk. Where bubblewrap cannot run, validation is refused with nothing written.
//!
//! Everything lives under `/var/tmp` (not `/tmp`, which the sandbox replaces anyway): the
//! repository, the database, `$HOME`, the sockets and the validation worktree (`TMPDIR`), so a
//! sandbox that bound the host's root would see them.

use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oxide_journeys::{git, Run, TestRepo};
use serde_json::{json, Value};

/// One test's world: a base folder in /var/tmp holding the repository, its data, a home with
/// a secret, and the temporary directory `oxide` validates in.
struct Lab {
    base: tempfile::TempDir,
    repo: TestRepo,
    home: PathBuf,
    secret: String,
}

impl Lab {
    /// A repository whose committed contract is `checks_toml`, with `probe.py` committed too.
    fn new(checks_toml: &str, probe: &str) -> Lab {
        let base = tempfile::tempdir_in("/var/tmp").unwrap();
        let dir = tempfile::tempdir_in(base.path()).unwrap();
        let data = tempfile::tempdir_in(base.path()).unwrap();
        let home = base.path().join("home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        let secret = format!("OXIDE-SECRET-{}", nonce());
        std::fs::write(home.join(".ssh/id_ed25519"), &secret).unwrap();
        std::fs::create_dir_all(base.path().join("tmp")).unwrap();
        std::fs::write(dir.path().join("README.md"), "# test repo\n").unwrap();
        std::fs::write(dir.path().join("src.txt"), "retries = 3\n").unwrap();
        std::fs::write(dir.path().join("probe.py"), probe).unwrap();
        git(dir.path(), &["init", "-q", "-b", "main"]);
        git(dir.path(), &["add", "-A"]);
        git(dir.path(), &["commit", "-q", "-m", "initial"]);
        let repo = TestRepo { dir, data };
        let lab = Lab {
            base,
            repo,
            home,
            secret,
        };
        lab.oxide(&["--json", "init"]).expect(0);
        std::fs::write(lab.root().join(".oxide/checks.toml"), checks_toml).unwrap();
        git(lab.root(), &["add", ".oxide"]);
        git(lab.root(), &["commit", "-q", "-m", "governance"]);
        lab
    }

    fn root(&self) -> &Path {
        self.repo.path()
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("HOME".into(), self.home.display().to_string()),
            (
                "TMPDIR".into(),
                self.base.path().join("tmp").display().to_string(),
            ),
            (
                "XDG_RUNTIME_DIR".into(),
                self.base.path().join("run").display().to_string(),
            ),
        ]
    }

    fn oxide_with(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let env = self.env();
        let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (&**k, &**v)).collect();
        all.extend_from_slice(extra);
        self.repo.oxide_env(args, &all)
    }

    fn oxide(&self, args: &[&str]) -> Run {
        self.oxide_with(args, &[])
    }

    /// Imports a manual bundle editing src.txt; returns the proposal id.
    fn import(&self) -> String {
        let head = git(self.root(), &["rev-parse", "HEAD"]).trim().to_string();
        let b = json!({
            "schema_version": "oxide.proposal/v1",
            "skill_digest": format!("sha256:{}", "ab".repeat(32)),
            "base": {"branch": "main", "commit": head},
            "intent": {"rationale": "Raise retries", "risk_hints": [], "ops": [
                {"op": "text_edit", "path": "src.txt", "find": "retries = 3", "replace": "retries = 5"}
            ]},
            "provenance": {"synthesizer": "manual", "model": null, "model_digest": null,
                            "options": null, "prompt_template_version": null,
                            "prompt_sha256": null, "response_sha256": null},
            "created_at": "2026-11-21T05:00:00Z"
        });
        let f = self.repo.data.path().join("bundle.json");
        std::fs::write(&f, b.to_string()).unwrap();
        let r = self
            .oxide(&["--json", "proposal", "import", f.to_str().unwrap()])
            .expect(0)
            .json();
        r["id"].as_str().unwrap().to_string()
    }

    fn output_of(&self, id: &str, check: usize) -> String {
        let show = self
            .oxide(&["--json", "proposal", "show", id])
            .expect(0)
            .json();
        show["checks"][check]["output"]
            .as_str()
            .unwrap_or_else(|| panic!("no output for check {check}: {show:#}"))
            .to_string()
    }

    fn audit_events(&self) -> u64 {
        self.oxide(&["--json", "status"]).expect(0).json()["audit_events"]
            .as_u64()
            .unwrap()
    }
}

fn nonce() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!(
        "{}{:09}{}",
        t.as_secs() % 1000,
        t.subsec_nanos(),
        std::process::id()
    )
}

/// Every file under `dir` (with `.git` included) and its bytes, minus what `oxide validate`
/// itself legitimately adds to `.git` (objects, the proposal branch and its reflog, worktree
/// bookkeeping).
fn tree_snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if [
                ".git/objects",
                ".git/logs",
                ".git/worktrees",
                ".git/refs/heads/oxide",
            ]
            .iter()
            .any(|skip| rel == *skip)
                || rel == ".git/index"
            {
                continue;
            }
            if p.is_dir() {
                out.push((rel + "/", Vec::new()));
                walk(root, &p, out);
            } else {
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn dir_listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn pid_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Live host processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            pid_alive(pid)
                && std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|c| String::from_utf8_lossy(&c).contains(marker))
                    .unwrap_or(false)
        })
        .collect()
}

const FILES_PROBE: &str = r#"import os, sys
secret, root, db = sys.argv[1:4]
try:
    print("READ " + open(secret).read())
except OSError as e:
    print("SECRET_MISSING " + type(e).__name__)
print("HOME_VISIBLE" if os.path.isdir(os.path.dirname(os.path.dirname(secret))) else "HOME_ABSENT")
print("HOME_ENV " + os.environ.get("HOME", "-"))
targets = [root + "/pwned.txt", root + "/README.md", root + "/.oxide/oxide.toml",
           root + "/.oxide/pwned", root + "/.git/hooks/pre-commit", root + "/.git/config",
           root + "/.git/refs/heads/main", db, os.path.dirname(db) + "/pwned"]
for t in targets:
    try:
        with open(t, "a") as f:
            f.write("PWNED\n")
        print("WROTE " + t)
    except OSError as e:
        print("REFUSED " + type(e).__name__)
try:
    os.remove(db)
    print("REMOVED_DB")
except OSError:
    pass
with open("inside.txt", "w") as f:
    f.write("ok")
print("WORKTREE_WRITABLE")
"#;

#[test]
fn sandboxed_check_cannot_read_home_or_write_the_checkout_git_or_database() {
    let lab = Lab::new("", FILES_PROBE);
    // The contract names the host paths the probe goes after.
    let secret_path = lab.home.join(".ssh/id_ed25519");
    let db = lab.repo.db();
    let contract = format!(
        "[[check]]\nname = \"probe\"\nrun = [\"python3\", \"probe.py\", \"{}\", \"{}\", \"{}\"]\nenv = [\"PATH\", \"HOME\"]\ntimeout_s = 60\n",
        secret_path.display(),
        lab.root().display(),
        db.display()
    );
    std::fs::write(lab.root().join(".oxide/checks.toml"), contract).unwrap();
    git(lab.root(), &["commit", "-qam", "contract"]);
    // The host can read the secret: its absence below is the sandbox's doing.
    assert_eq!(std::fs::read_to_string(&secret_path).unwrap(), lab.secret);

    let id = lab.import();
    let before = tree_snapshot(lab.root());
    let main_before = git(lab.root(), &["rev-parse", "main"]);
    let db_dir_before = dir_listing(db.parent().unwrap());

    let v = lab.oxide(&["--json", "validate", &id]).expect(0).json();
    assert_eq!(v["state"], "validated", "{v:#}");
    let out = lab.output_of(&id, 0);
    assert!(out.contains("SECRET_MISSING"), "{out}");
    assert!(
        !out.contains(&lab.secret),
        "the secret reached the stored output: {out}"
    );
    assert!(out.contains("HOME_ABSENT"), "{out}");
    assert!(out.contains("HOME_ENV /tmp/home"), "{out}");
    assert!(!out.contains("WROTE"), "{out}");
    assert!(!out.contains("REMOVED_DB"), "{out}");
    assert_eq!(out.matches("REFUSED").count(), 9, "{out}");
    assert!(out.contains("WORKTREE_WRITABLE"), "{out}");

    // The checkout (with .oxide and .git's hooks, config and refs) is byte-identical.
    assert_eq!(tree_snapshot(lab.root()), before);
    assert_eq!(git(lab.root(), &["rev-parse", "main"]), main_before);
    // The database: still there, still a database, nothing appended or added next to it,
    // and its audit chain verifies.
    assert_eq!(dir_listing(db.parent().unwrap()), db_dir_before);
    let bytes = std::fs::read(&db).unwrap();
    assert!(bytes.starts_with(b"SQLite format 3\0"));
    assert!(!bytes.ends_with(b"PWNED\n"));
    assert_eq!(
        lab.oxide(&["--json", "audit", "verify"]).expect(0).json()["ok"],
        true
    );
    // The stored check result says it was contained, and the policy sees it.
    let d = lab
        .oxide(&["--json", "policy", "eval", &id])
        .expect(0)
        .json();
    assert_eq!(
        d["input"]["validation"]["checks"][0]["sandboxed"], true,
        "{d:#}"
    );
    assert_eq!(d["risk"], "low", "{d:#}");
}

const NET_PROBE: &str = r#"import socket, sys
path, abstract, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
def attempt(label, family, addr):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(addr)
        s.sendall(b"PWNED")
        print("CONNECTED " + label)
    except OSError as e:
        print("BLOCKED " + label + " " + type(e).__name__)
    finally:
        s.close()
attempt("unix", socket.AF_UNIX, path)
attempt("abstract", socket.AF_UNIX, "\0" + abstract)
attempt("tcp", socket.AF_INET, ("127.0.0.1", port))
"#;

fn accepts(l: &impl Fn() -> std::io::Result<()>) -> bool {
    match l() {
        Ok(()) => true,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(e) => panic!("accept failed: {e}"),
    }
}

#[test]
fn sandboxed_check_cannot_reach_host_sockets_or_the_network() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener};

    let lab = Lab::new("", NET_PROBE);
    let run_dir = lab.base.path().join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    // A user bus-like socket in XDG_RUNTIME_DIR, an abstract one, a loopback TCP port.
    let sock = run_dir.join("bus");
    let unix = UnixListener::bind(&sock).unwrap();
    let abstract_name = format!("oxide-test-{}", nonce());
    let abs =
        UnixListener::bind_addr(&SocketAddr::from_abstract_name(abstract_name.as_bytes()).unwrap())
            .unwrap();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port().to_string();
    for l in [&unix, &abs] {
        l.set_nonblocking(true).unwrap();
    }
    tcp.set_nonblocking(true).unwrap();
    let pending = || {
        (
            accepts(&|| unix.accept().map(|_| ())),
            accepts(&|| abs.accept().map(|_| ())),
            accepts(&|| tcp.accept().map(|_| ())),
        )
    };

    // Control: the same probe run on the host reaches all three.
    let probe = lab.root().join("probe.py");
    let host = std::process::Command::new("python3")
        .arg(&probe)
        .args([sock.to_str().unwrap(), &abstract_name, &port])
        .output()
        .unwrap();
    let host_out = String::from_utf8_lossy(&host.stdout);
    assert_eq!(host_out.matches("CONNECTED").count(), 3, "{host_out}");
    assert_eq!(pending(), (true, true, true));
    assert_eq!(pending(), (false, false, false), "drained");

    let contract = format!(
        "[[check]]\nname = \"net\"\nrun = [\"python3\", \"probe.py\", \"{}\", \"{abstract_name}\", \"{port}\"]\nenv = [\"PATH\", \"XDG_RUNTIME_DIR\"]\ntimeout_s = 60\n",
        sock.display()
    );
    std::fs::write(lab.root().join(".oxide/checks.toml"), contract).unwrap();
    git(lab.root(), &["commit", "-qam", "contract"]);
    let id = lab.import();
    let v = lab.oxide(&["--json", "validate", &id]).expect(0).json();
    assert_eq!(v["state"], "validated", "{v:#}");
    let out = lab.output_of(&id, 0);
    assert_eq!(out.matches("BLOCKED").count(), 3, "{out}");
    assert!(!out.contains("CONNECTED"), "{out}");
    assert_eq!(
        pending(),
        (false, false, false),
        "no connection arrived on the host"
    );
}

const SETSID_PROBE: &str = r#"import os, subprocess, sys, time
marker = sys.argv[1]
# Escape 1: setsid (new session and group). Escape 2: a classic daemon (fork, setsid, fork).
subprocess.Popen(["setsid", "sleep", marker + "1"], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", marker + "2"])
    os._exit(0)
time.sleep(0.5)
print("STARTED", flush=True)
"#;

#[test]
fn no_process_outlives_its_check_after_setsid_sandboxed_or_not() {
    let lab = Lab::new("", SETSID_PROBE);
    let (sb, host) = (format!("300.{}", nonce()), format!("301.{}", nonce()));
    let contract = format!(
        r#"[[check]]
name = "contained"
run = ["python3", "probe.py", "{sb}"]
env = ["PATH"]
timeout_s = 60

[[check]]
name = "on-host"
run = ["python3", "probe.py", "{host}"]
env = ["PATH"]
timeout_s = 60
# This check runs on the host: the contract must say so.
sandbox = false
"#
    );
    std::fs::write(lab.root().join(".oxide/checks.toml"), contract).unwrap();
    git(lab.root(), &["commit", "-qam", "contract"]);
    let id = lab.import();
    let v = lab.oxide(&["--json", "validate", &id]).expect(0).json();
    assert_eq!(v["state"], "validated", "{v:#}");
    for i in 0..2 {
        let out = lab.output_of(&id, i);
        assert!(out.contains("STARTED"), "check {i}: {out}");
    }
    // `validate` has returned: nothing with either marker is left (a short grace for the
    // kernel to finish reaping).
    let deadline = Instant::now() + Duration::from_secs(3);
    while !(processes_with(&sb).is_empty() && processes_with(&host).is_empty())
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(processes_with(&sb), Vec::<i32>::new(), "sandboxed escapees");
    assert_eq!(
        processes_with(&host),
        Vec::<i32>::new(),
        "unsandboxed escapees"
    );

    // The policy input says which check ran where; the unsandboxed required one makes the
    // proposal high risk with the reason named.
    let d = lab
        .oxide(&["--json", "policy", "eval", &id])
        .expect(0)
        .json();
    let checks = &d["input"]["validation"]["checks"];
    assert_eq!(checks[0]["sandboxed"], true, "{d:#}");
    assert_eq!(checks[1]["sandboxed"], false, "{d:#}");
    assert_eq!(d["risk"], "high", "{d:#}");
    let esc: Vec<&Value> = d["escalations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["rule"] == "oxide.unsandboxed_check")
        .collect();
    assert_eq!(esc.len(), 1, "{d:#}");
    let msg = esc[0]["message"].as_str().unwrap();
    assert!(
        msg.contains("on-host") && !msg.contains("contained"),
        "{msg}"
    );
}

#[test]
fn validation_is_refused_with_nothing_written_when_bubblewrap_cannot_run() {
    let lab = Lab::new(
        "[[check]]\nname = \"unit\"\nrun = [\"true\"]\nenv = [\"PATH\"]\n",
        "",
    );
    let id = lab.import();
    let fake = lab.base.path().join("bwrap");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let branches = || git(lab.root(), &["branch", "--list", "oxide/*"]);
    let before = (lab.audit_events(), tree_snapshot(lab.root()), branches());

    for (bwrap, why) in [
        (fake.display().to_string(), "Permission denied"),
        (
            lab.base.path().join("missing/bwrap").display().to_string(),
            "not installed",
        ),
    ] {
        let r = lab
            .oxide_with(&["--json", "validate", &id], &[("OXIDE_BWRAP", &bwrap)])
            .expect(3);
        assert_eq!(r.error_code(), "CHECKS_SANDBOX_UNAVAILABLE");
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains(why), "{msg}");
        assert!(msg.contains("apt install bubblewrap"), "{msg}");
        assert!(msg.contains("user namespaces"), "{msg}");
        assert!(msg.contains("sandbox = false"), "{msg}");
        let show = lab
            .oxide(&["--json", "proposal", "show", &id])
            .expect(0)
            .json();
        assert_eq!(show["state"], "proposed");
        assert_eq!(
            (lab.audit_events(), tree_snapshot(lab.root()), branches()),
            before,
            "the refusal wrote nothing"
        );
    }
    assert!(git(lab.root(), &["worktree", "list"]).lines().count() == 1);

    // A contract whose checks all say sandbox = false does not need bubblewrap.
    std::fs::write(
        lab.root().join(".oxide/checks.toml"),
        "[[check]]\nname = \"unit\"\nrun = [\"true\"]\nenv = [\"PATH\"]\nsandbox = false\n",
    )
    .unwrap();
    git(lab.root(), &["commit", "-qam", "host checks"]);
    let id2 = lab.import();
    let v = lab
        .oxide_with(
            &["--json", "validate", &id2],
            &[("OXIDE_BWRAP", fake.to_str().unwrap())],
        )
        .expect(0)
        .json();
    assert_eq!(v["state"], "validated", "{v:#}");
}

#[test]
fn ro_paths_expose_only_what_the_contract_lists_and_never_the_repository() {
    let lab = Lab::new("", "");
    let tool = lab.home.join(".tool");
    std::fs::create_dir_all(&tool).unwrap();
    std::fs::write(tool.join("version"), "tool 1.2.3\n").unwrap();
    let contract = format!(
        "[[check]]\nname = \"tool\"\nrun = \"cat {t}/version; cat {h}/.ssh/id_ed25519 || echo NO_SSH\"\nshell = true\nenv = [\"PATH\"]\nro_paths = [\"{t}\"]\n",
        t = tool.display(),
        h = lab.home.display()
    );
    std::fs::write(lab.root().join(".oxide/checks.toml"), contract).unwrap();
    git(lab.root(), &["commit", "-qam", "contract"]);
    let id = lab.import();
    let v = lab.oxide(&["--json", "validate", &id]).expect(0).json();
    assert_eq!(v["state"], "validated", "{v:#}");
    let out = lab.output_of(&id, 0);
    assert!(
        out.contains("tool 1.2.3") && out.contains("NO_SSH"),
        "{out}"
    );
    assert!(!out.contains(&lab.secret), "{out}");

    // Listing the repository's .git, the database's folder or the whole home is refused
    // before anything is written.
    let db_dir = lab.repo.db().parent().unwrap().to_path_buf();
    for (p, why) in [
        (lab.root().join(".git"), "would expose"),
        (db_dir, "would expose"),
        (lab.home.clone(), "whole home directory"),
    ] {
        let contract = format!(
            "[[check]]\nname = \"x\"\nrun = [\"true\"]\nro_paths = [\"{}\"]\n",
            p.display()
        );
        std::fs::write(lab.root().join(".oxide/checks.toml"), contract).unwrap();
        git(lab.root(), &["commit", "-qam", "wide contract"]);
        let id = lab.import();
        let n = lab.audit_events();
        let r = lab.oxide(&["--json", "validate", &id]).expect(2);
        assert_eq!(r.error_code(), "CHECKS_BAD_CONFIG");
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains(why), "{}: {msg}", p.display());
        assert_eq!(lab.audit_events(), n, "the refusal wrote nothing");
    }
}
