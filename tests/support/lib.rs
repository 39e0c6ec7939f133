//! Helpers for journeys through the real binaries: a throw-away git repository with its own
//! data directory, and a runner for `target/<profile>/oxide` that parses `--json` output.

pub mod desktop;
pub mod fake_ollama;
pub mod history;
pub mod signing;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

/// The built `oxide` binary (`OXIDE_BIN` overrides; default: next to this test's target dir).
pub fn oxide_bin() -> PathBuf {
    if let Ok(p) = std::env::var("OXIDE_BIN") {
        return PathBuf::from(p);
    }
    target_dir().join("oxide")
}

/// `target/<profile>` of this build (the test executable lives in `target/<profile>/deps`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("deps dir");
    deps.parent().expect("profile dir").to_path_buf()
}

/// The result of one `oxide` run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout parsed as the single JSON document `--json` promises.
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Asserts the exit code, showing the output when it differs.
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The `error.code` of a failed `--json` run.
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// A git repository with one commit on `main`, plus a private data dir and database path.
pub struct TestRepo {
    pub dir: tempfile::TempDir,
    pub data: tempfile::TempDir,
}

impl TestRepo {
    /// A repository with `README.md` committed on `main`.
    pub fn new() -> TestRepo {
        Self::with_files(&[("README.md", "# test repo\n")])
    }

    /// A repository with these files committed on `main`.
    pub fn with_files(files: &[(&str, &str)]) -> TestRepo {
        let dir = tempfile::tempdir().expect("temp repo");
        let data = tempfile::tempdir().expect("temp data");
        for (rel, text) in files {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        git(dir.path(), &["init", "-q", "-b", "main"]);
        git(dir.path(), &["add", "-A"]);
        git(dir.path(), &["commit", "-q", "-m", "initial"]);
        TestRepo { dir, data }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn db(&self) -> PathBuf {
        self.data.path().join("oxide.sqlite3")
    }

    /// `oxide --workspace <repo> --db <db> ARGS`, with XDG dirs inside the data dir.
    pub fn oxide(&self, args: &[&str]) -> Run {
        self.oxide_env(args, &[])
    }

    pub fn oxide_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.oxide_command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run oxide").into()
    }

    /// The command `oxide` runs (`oxide --workspace <repo> --db <db> ARGS`, XDG dirs inside
    /// the data dir), not yet started: for journeys that run it in the background.
    pub fn oxide_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(oxide_bin());
        cmd.arg("--workspace")
            .arg(self.path())
            .arg("--db")
            .arg(self.db());
        cmd.args(args);
        cmd.env("XDG_DATA_HOME", self.data.path().join("xdg-data"));
        cmd.env("XDG_CONFIG_HOME", self.data.path().join("xdg-config"));
        cmd.env("OXIDE_ACTOR", "tester");
        cmd
    }

    /// `oxide init` and assert it worked.
    pub fn init(&self) -> Value {
        self.oxide(&["--json", "init"]).expect(0).json()
    }

    /// Writes `bundle` to `<data>/<name>.json`, imports it with `oxide proposal import`
    /// (asserting exit 0 and state `proposed`) and returns the proposal id.
    /// Records a bare-input policy decision (one `create_file` of `lines` changed lines,
    /// validated) through the real `oxide policy eval --input`: something for the policy
    /// simulator to replay.
    pub fn record_decision(&self, lines: u64) {
        let input = json!({
            "version": "oxide.policy.input/v1",
            "proposal": {"id": null, "digest": format!("sha256:{}", "a".repeat(64)), "state": "validated",
                "failure_reason_code": null,
                "ops": [{"op": "create_file", "path": "src/x.rs", "lines_added": lines, "lines_removed": 0}],
                "touched_paths": ["src/x.rs"], "lines_added": lines, "lines_removed": 0, "risk_hints": []},
            "skill": {"digest": "sha256:s", "source": "host", "submitted_by": "ana"},
            "provenance": {"synthesizer": "manual", "model": null, "model_digest": null},
            "validation": {"ran": true, "run_id": "r1", "branch_commit": "c1", "head_commit": "c1",
                "checks": [{"name": "unit", "status": "passed", "required": true, "sandboxed": true}]},
            "capsules": [], "actor": "tester",
            "settings": {"target_branch": "main", "rollout_mode": "shadow", "fallback_mode": "strict"}
        });
        let f = self.data.path().join(format!("in{lines}.json"));
        std::fs::write(&f, input.to_string()).unwrap();
        self.oxide(&["--json", "policy", "eval", "--input", f.to_str().unwrap()])
            .expect(0);
    }

    pub fn import_bundle(&self, name: &str, bundle: &Value) -> String {
        let file = self.data.path().join(format!("{name}.json"));
        std::fs::write(&file, bundle.to_string()).unwrap();
        let imported = self
            .oxide(&["--json", "proposal", "import", file.to_str().unwrap()])
            .expect(0)
            .json();
        assert_eq!(imported["state"], "proposed", "{imported:#}");
        imported["id"].as_str().expect("an id").to_string()
    }
}

/// A manual proposal bundle, as a person writes it for `oxide proposal import`: `ops` on
/// `base` (a commit of `main`), from the skill whose digest's hex is `skill_hex`.
pub fn manual_bundle(
    base: &str,
    skill_hex: &str,
    rationale: &str,
    ops: Value,
    created_at: &str,
) -> Value {
    json!({
        "schema_version": "oxide.proposal/v1",
        "skill_digest": format!("sha256:{skill_hex}"),
        "base": {"branch": "main", "commit": base},
        "intent": {"rationale": rationale, "risk_hints": [], "ops": ops},
        "provenance": {"synthesizer": "manual", "model": null, "model_digest": null,
                       "options": null, "prompt_template_version": null,
                       "prompt_sha256": null, "response_sha256": null},
        "created_at": created_at
    })
}

impl Default for TestRepo {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs git with a fixed identity; panics with its output on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .expect("run git");
    assert!(
        o.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs `oxide` with no workspace/db flags (for usage and discovery tests).
pub fn oxide_raw(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(oxide_bin());
    cmd.current_dir(cwd).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run oxide").into()
}

/// Waits up to 30 s for `path` to exist (a marker a check writes when it starts); panics
/// saying `what` did not happen otherwise.
pub fn wait_for_file(path: &Path, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !path.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(path.exists(), "{what}");
}
