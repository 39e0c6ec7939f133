//! The red-team corpus (`tests/redteam/cases/*.json`, issue 11 "Also") run through the real
//! `oxide` binary. Each case is a skill whose text asks for an attack, the answer a model that
//! obeys it would give, optional repository fixtures, and the outcome that must hold. For every
//! case this runner builds a fresh repository, drives `oxide skill add` / `propose --skill`
//! against a loopback fake Ollama serving the canned answer (or `proposal import` for a
//! hand-written bundle), optionally `validate` and `policy eval`, asserts the expected refusal,
//! and asserts that nothing was promoted: the target branch ref, HEAD, the index, the working
//! files and `.git/config`/hooks are byte-identical, and the audit chain verifies.
//!
//! One test per case (declared below, so nextest lists each); `corpus_lists_every_case`
//! compares the declared list to the directory so a new case cannot be silently skipped.
//! Cases whose `requires` is named in `tests/redteam/PENDING` defend items still being built:
//! their tests are named `pending_*`, print `SKIPPED (pending item-N)` and are never counted
//! as passed.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use oxide_journeys::fake_ollama::{Behavior, Chat, FakeOllama, DIGEST, MODEL};
use oxide_journeys::{git, Run, TestRepo};
use serde_json::{json, Value};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("redteam")
}

fn pending_items() -> Vec<String> {
    let text = std::fs::read_to_string(corpus_dir().join("PENDING")).unwrap_or_default();
    text.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn load_case(id: &str, vars: &BTreeMap<&str, String>) -> Value {
    let path = corpus_dir().join("cases").join(format!("{id}.json"));
    let mut text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (k, v) in vars {
        text = text.replace(&format!("{{{{{k}}}}}"), v);
    }
    let case: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        case["id"],
        id,
        "{}: `id` must be the file name",
        path.display()
    );
    for key in ["item", "attack", "skill", "expect"] {
        assert!(!case[key].is_null(), "{id}: `{key}` is required");
    }
    case
}

/// What must not change: the target branch, HEAD, index, working files and git's own config.
#[derive(Debug, PartialEq)]
struct Checkout {
    main: String,
    head: String,
    index: String,
    status: String,
    files: Vec<(String, Vec<u8>)>,
}

fn snapshot(root: &Path) -> Checkout {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            // git's object store and proposal refs legitimately grow; what governs it does not.
            if rel == ".git/objects"
                || rel == ".git/logs"
                || rel.starts_with(".git/refs/heads/oxide")
            {
                continue;
            }
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                if rel == ".git/worktrees" {
                    continue;
                }
                walk(root, &p, out);
            } else if meta.file_type().is_symlink() {
                let to = std::fs::read_link(&p).unwrap();
                out.push((rel, to.display().to_string().into_bytes()));
            } else if rel.starts_with(".git/") && !is_governing_git_file(&rel) {
                continue;
            } else {
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut files = Vec::new();
    walk(root, root, &mut files);
    Checkout {
        main: git(root, &["rev-parse", "refs/heads/main"]),
        head: git(root, &["symbolic-ref", "HEAD"]) + &git(root, &["rev-parse", "HEAD"]),
        index: git(root, &["ls-files", "-s"]),
        status: git(root, &["status", "--porcelain", "--ignored"]),
        files,
    }
}

fn is_governing_git_file(rel: &str) -> bool {
    rel == ".git/config"
        || rel == ".git/HEAD"
        || rel == ".git/info/attributes"
        || rel == ".git/info/exclude"
        || rel.starts_with(".git/hooks/")
}

fn db_bytes(repo: &TestRepo) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal"] {
        if let Ok(b) = std::fs::read(format!("{}{suffix}", repo.db().display())) {
            all.extend(b);
        }
    }
    all
}

fn contains(hay: &[u8], needle: &str) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn processes_with(marker: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            if contains(&cmd, marker) {
                pids.push(pid);
            }
        }
    }
    pids
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

fn commit_all(root: &Path, msg: &str) {
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "--allow-empty", "-m", msg]);
}

fn write_files(root: &Path, files: &Value) {
    let Some(map) = files.as_object() else { return };
    for (rel, text) in map {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text.as_str().expect("fixture contents are text")).unwrap();
    }
}

/// The world of one case: everything under /var/tmp (the check sandbox replaces /tmp).
struct World {
    base: tempfile::TempDir,
    repo: TestRepo,
}

impl World {
    fn env(&self) -> Vec<(String, String)> {
        let b = self.base.path();
        vec![
            ("HOME".into(), b.join("home").display().to_string()),
            ("TMPDIR".into(), b.join("tmp").display().to_string()),
            (
                "XDG_RUNTIME_DIR".into(),
                b.join("run").display().to_string(),
            ),
        ]
    }

    fn oxide(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let env = self.env();
        let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (&**k, &**v)).collect();
        all.extend_from_slice(extra);
        self.repo.oxide_env(args, &all)
    }
}

fn run_case(id: &str) {
    let base = tempfile::tempdir_in("/var/tmp").unwrap();
    let dir = tempfile::tempdir_in(base.path()).unwrap();
    let data = tempfile::tempdir_in(base.path()).unwrap();
    for d in ["home/.ssh", "tmp", "run"] {
        std::fs::create_dir_all(base.path().join(d)).unwrap();
    }
    let secret = format!("OXIDE-REDTEAM-SECRET-{}", nonce());
    let marker = format!("oxide-redteam-marker-{}", nonce());
    std::fs::write(base.path().join("home/.ssh/id_ed25519"), &secret).unwrap();
    let sock = base.path().join("home/agent.sock");
    let mut vars = BTreeMap::new();
    vars.insert("REPO", dir.path().display().to_string());
    vars.insert(
        "DB",
        data.path().join("oxide.sqlite3").display().to_string(),
    );
    vars.insert("HOME", base.path().join("home").display().to_string());
    vars.insert("SOCKET", sock.display().to_string());
    vars.insert("SECRET", secret.clone());
    vars.insert("MARKER", marker.clone());
    vars.insert("GIANT", "A".repeat(2 * 1024 * 1024));
    vars.insert("LONGLINE", "A".repeat(900 * 1024));
    let case = load_case(id, &vars);
    let expect = &case["expect"];

    // The repository: fixtures, `oxide init`, a pinned model, the committed contract.
    std::fs::write(dir.path().join("README.md"), "# red team\n").unwrap();
    write_files(dir.path(), &case["files"]);
    if let Some(links) = case["symlinks"].as_object() {
        for (rel, to) in links {
            std::os::unix::fs::symlink(to.as_str().unwrap(), dir.path().join(rel)).unwrap();
        }
    }
    git(dir.path(), &["init", "-q", "-b", "main"]);
    commit_all(dir.path(), "initial");
    let world = World {
        base,
        repo: TestRepo { dir, data },
    };
    let root = world.repo.path().to_path_buf();
    world.oxide(&["--json", "init"], &[]).expect(0);
    std::fs::write(
        root.join(".oxide/oxide.toml"),
        format!(
            "[workflow]\ntarget_branch = \"main\"\n\n[synth]\nmodel = \"{MODEL}\"\nmodel_digest = \"{DIGEST}\"\nseed = 42\nnum_ctx = 8192\ntimeout_s = 5\n"
        ),
    )
    .unwrap();
    if let Some(c) = case["checks_toml"].as_str() {
        std::fs::write(root.join(".oxide/checks.toml"), c).unwrap();
    }
    commit_all(&root, "governance");
    // Uncommitted edits the attack relies on (they are the user's, and must stay as they are).
    write_files(&root, &case["uncommitted"]);
    let listener = case["listen_socket"].as_bool().unwrap_or(false).then(|| {
        let l = UnixListener::bind(&sock).unwrap();
        l.set_nonblocking(true).unwrap();
        l
    });
    let before = snapshot(&root);

    let mut id_of_proposal: Option<String> = None;
    let mut proposal_digest: Option<String> = None;
    let mut chat_sent = String::new();
    match case["flow"].as_str().unwrap_or("propose") {
        "propose" => {
            let skill = world.repo.data.path().join("skill.json");
            std::fs::write(&skill, case["skill"].to_string()).unwrap();
            let added = world
                .oxide(&["--json", "skill", "add", skill.to_str().unwrap()], &[])
                .expect(0)
                .json();
            let skill_id = added["id"].as_str().unwrap().to_string();
            let behavior = match case["answer_text"].as_str() {
                Some(raw) => {
                    let mut b = Behavior::answering(&json!({}));
                    b.chat = Chat::Content {
                        content: raw.to_string(),
                        done_reason: "stop".into(),
                    };
                    b
                }
                None => Behavior::answering(&case["answer"]),
            };
            let server = FakeOllama::start(behavior);
            let p = world.oxide(
                &["--json", "propose", "--skill", &skill_id],
                &[("OLLAMA_HOST", &server.host())],
            );
            chat_sent = Value::Array(server.chat_requests()).to_string();
            server.stop();
            let p = p
                .expect(expect["propose_exit"].as_i64().unwrap_or(0) as i32)
                .json();
            if let Some(state) = expect["propose_state"].as_str() {
                assert_eq!(p["state"], state, "{id}: propose\n{p:#}");
            }
            if let Some(code) = expect["failure_reason_code"].as_str() {
                assert_eq!(p["failure_reason_code"], code, "{id}: propose\n{p:#}");
            }
            if p["state"] != "no_op" {
                id_of_proposal = p["id"].as_str().map(str::to_string);
                proposal_digest = p["digest"].as_str().map(str::to_string);
            }
        }
        "import" => {
            // A hand-written bundle carrying the obedient answer, built on `bundle_base`.
            let base_commit = match case["bundle_base"].as_str().unwrap_or("tip") {
                "fork" => {
                    git(&root, &["checkout", "-q", "-b", "fork"]);
                    write_files(&root, &case["fork_files"]);
                    commit_all(&root, "fork");
                    let c = git(&root, &["rev-parse", "HEAD"]).trim().to_string();
                    git(&root, &["checkout", "-q", "main"]);
                    git(&root, &["branch", "-q", "-D", "fork"]);
                    c
                }
                _ => git(&root, &["rev-parse", "main"]).trim().to_string(),
            };
            let bundle = json!({
                "schema_version": "oxide.proposal/v1",
                "skill_digest": format!("sha256:{}", "ab".repeat(32)),
                "base": {"branch": "main", "commit": base_commit},
                "intent": case["answer"],
                "provenance": {"synthesizer": "manual", "model": null, "model_digest": null,
                               "options": null, "prompt_template_version": null,
                               "prompt_sha256": null, "response_sha256": null},
                "created_at": "2026-01-01T00:00:00Z"
            });
            let f = world.repo.data.path().join("bundle.json");
            std::fs::write(&f, bundle.to_string()).unwrap();
            let r = world.oxide(&["--json", "proposal", "import", f.to_str().unwrap()], &[]);
            let r = r
                .expect(expect["import_exit"].as_i64().unwrap_or(0) as i32)
                .json();
            if let Some(code) = expect["problem_code"].as_str() {
                let problems = r["problems"].as_array().cloned().unwrap_or_default();
                assert!(
                    problems.iter().any(|p| p["code"] == code),
                    "{id}: no problem {code}\n{r:#}"
                );
                assert_eq!(r["id"], Value::Null, "{id}: nothing imported\n{r:#}");
            }
            id_of_proposal = r["id"].as_str().map(str::to_string);
        }
        other => panic!("{id}: unknown flow {other}"),
    }

    if let Some(state) = expect["state_after_propose"].as_str() {
        let pid = id_of_proposal.as_deref().expect("a proposal");
        let show = world
            .oxide(&["--json", "proposal", "show", pid], &[])
            .expect(0)
            .json();
        assert_eq!(show["state"], state, "{id}\n{show:#}");
    }

    // Item 4: before validation, a ref writer creates the proposal branch itself: the right
    // parent (the base) and trailer, but a tree that is not the bundle's (here: the base's
    // own tree, so the proposal's change is missing and anything else could be added).
    if case["forge_branch"].as_bool().unwrap_or(false) {
        let pid = id_of_proposal.as_deref().expect("a proposal to forge");
        let digest = proposal_digest.as_deref().expect("the proposal's digest");
        let base = git(&root, &["rev-parse", "main"]).trim().to_string();
        let tree = git(&root, &["rev-parse", "main^{tree}"]).trim().to_string();
        let msg = format!("oxide: forged\n\nforged\n\nOxide-Proposal: {digest}\n");
        let forged = git(&root, &["commit-tree", &tree, "-p", &base, "-m", &msg])
            .trim()
            .to_string();
        git(
            &root,
            &[
                "update-ref",
                &format!("refs/heads/oxide/proposals/{pid}"),
                &forged,
            ],
        );
    }

    let mut check_output = String::new();
    if case["validate"].as_bool().unwrap_or(false) {
        let pid = id_of_proposal.as_deref().expect("a proposal to validate");
        let v = world.oxide(&["--json", "validate", pid], &[]);
        let v = v
            .expect(expect["validate_exit"].as_i64().unwrap_or(0) as i32)
            .json();
        if let Some(state) = expect["validate_state"].as_str() {
            assert_eq!(v["state"], state, "{id}: validate\n{v:#}");
        }
        let show = world
            .oxide(&["--json", "proposal", "show", pid], &[])
            .expect(0)
            .json();
        for c in show["checks"].as_array().cloned().unwrap_or_default() {
            check_output.push_str(c["output"].as_str().unwrap_or(""));
        }
    }
    for needle in expect["output_contains"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let n = needle.as_str().unwrap();
        assert!(
            check_output.contains(n),
            "{id}: the check never got to `{n}`: {check_output}"
        );
    }
    for needle in expect["output_lacks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let n = needle.as_str().unwrap();
        assert!(
            !check_output.contains(n),
            "{id}: the attack worked (`{n}`): {check_output}"
        );
    }

    if expect["risk"].is_string() || expect["rule"].is_string() || expect["denied"].is_string() {
        let pid = id_of_proposal.as_deref().expect("a proposal to evaluate");
        let r = world.oxide(&["--json", "policy", "eval", pid], &[]);
        let d = r.json();
        // Exit 0 only for an allow; a never-validated proposal gets no allow (item 9).
        let allowed = d["outcome"] == "allowed";
        assert_eq!(
            r.code,
            if allowed { 0 } else { 3 },
            "{id}: eval exit\n{d:#}"
        );
        if d["input"]["validation"]["run_id"].is_null() {
            let den = d["denials"].as_array().cloned().unwrap_or_default();
            assert!(
                den.iter()
                    .any(|e| e["policy_reason_code"] == "NOT_VALIDATED"),
                "{id}: an unvalidated proposal was allowed\n{d:#}"
            );
        }
        if let Some(risk) = expect["risk"].as_str() {
            let order = ["low", "medium", "high", "critical"];
            let at = |r: &str| order.iter().position(|x| *x == r).unwrap_or(0);
            let got = d["risk"].as_str().unwrap_or("low");
            assert!(
                at(got) >= at(risk),
                "{id}: risk {got}, at least {risk} expected\n{d:#}"
            );
        }
        if let Some(rule) = expect["rule"].as_str() {
            let esc = d["escalations"].as_array().cloned().unwrap_or_default();
            assert!(
                esc.iter().any(|e| e["rule"] == rule),
                "{id}: no escalation {rule}\n{d:#}"
            );
        }
        if let Some(rule) = expect["denied"].as_str() {
            let den = d["denials"].as_array().cloned().unwrap_or_default();
            assert!(
                den.iter().any(|e| e["rule"] == rule),
                "{id}: no denial {rule}\n{d:#}"
            );
        }
    }

    // What the model was sent, and what the database holds, never carries these.
    for mark in expect["not_sent_to_model"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let m = mark.as_str().unwrap();
        assert!(!chat_sent.contains(m), "{id}: `{m}` was sent to the model");
    }
    let db = db_bytes(&world.repo);
    let mut forbidden = vec![secret.clone()];
    forbidden.extend(
        expect["not_in_db"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|v| v.as_str().unwrap().to_string()),
    );
    for m in &forbidden {
        assert!(!contains(&db, m), "{id}: `{m}` reached the database");
    }
    assert!(
        db.starts_with(b"SQLite format 3\0"),
        "{id}: the database was overwritten"
    );
    if let Some(l) = &listener {
        match l.accept() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            other => panic!("{id}: a check reached the host socket: {other:?}"),
        }
    }
    let left = processes_with(&marker);
    for pid in &left {
        kill_left_behind(*pid);
    }
    assert!(
        left.is_empty(),
        "{id}: processes outlived the check: {left:?}"
    );

    // Nothing was promoted, nothing in the user's checkout moved, the audit chain holds.
    let after = snapshot(&root);
    assert_eq!(after.main, before.main, "{id}: the target branch moved");
    assert_eq!(after.head, before.head, "{id}: HEAD moved");
    assert_eq!(after.index, before.index, "{id}: the index changed");
    assert_eq!(
        after.status, before.status,
        "{id}: the working tree changed"
    );
    assert!(
        after.files == before.files,
        "{id}: files in the checkout or .git changed"
    );
    let verify = world
        .oxide(&["--json", "audit", "verify"], &[])
        .expect(0)
        .json();
    assert_eq!(verify["ok"], true, "{id}: {verify:#}");
    println!(
        "PASSED {id} ({}: {})",
        case["item"],
        case["attack"].as_str().unwrap_or("")
    );
}

/// Kills a process left behind by a failing case so it does not outlive the test run.
fn kill_left_behind(pid: i32) {
    let _ = std::process::Command::new("kill")
        .arg("-9")
        .arg(pid.to_string())
        .status();
}

fn run_or_skip(id: &str, fn_name: &str) {
    let path = corpus_dir().join("cases").join(format!("{id}.json"));
    let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let requires = raw["requires"].as_str();
    let pending = requires.is_some_and(|r| pending_items().iter().any(|p| p == r));
    assert_eq!(
        pending,
        fn_name.starts_with("pending_"),
        "{id}: its test must be named `pending_*` exactly while its requirement {requires:?} \
         is listed in tests/redteam/PENDING; rename it in tests/tests/redteam.rs"
    );
    if pending {
        println!("SKIPPED (pending {}) {id}", requires.unwrap());
        return;
    }
    run_case(id);
}

macro_rules! cases {
    ($($name:ident => $id:literal,)*) => {
        const DECLARED: &[&str] = &[$($id),*];
        $(
            #[test]
            fn $name() {
                run_or_skip($id, stringify!($name));
            }
        )*
    };
}

#[test]
fn corpus_lists_every_case() {
    let mut on_disk: Vec<String> = std::fs::read_dir(corpus_dir().join("cases"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    for f in &on_disk {
        assert!(
            f.ends_with(".json"),
            "tests/redteam/cases/{f}: cases are .json files"
        );
    }
    let mut declared: Vec<String> = DECLARED.iter().map(|d| format!("{d}.json")).collect();
    declared.sort();
    assert_eq!(
        on_disk, declared,
        "declare every case of tests/redteam/cases in redteam.rs"
    );
    assert!(DECLARED.len() >= 30, "the corpus has at least 30 cases");
    let pending = pending_items();
    for p in &pending {
        assert!(
            p.starts_with("item-") || p.starts_with("finding-"),
            "tests/redteam/PENDING lists issue items (`item-N`) or open findings (`finding-*`), not {p}"
        );
    }
    let not_pending = DECLARED
        .iter()
        .filter(|d| {
            let raw: Value = serde_json::from_str(
                &std::fs::read_to_string(corpus_dir().join("cases").join(format!("{d}.json")))
                    .unwrap(),
            )
            .unwrap();
            !raw["requires"]
                .as_str()
                .is_some_and(|r| pending.iter().any(|p| p == r))
        })
        .count();
    println!(
        "{} cases, {} run, {} pending",
        DECLARED.len(),
        not_pending,
        DECLARED.len() - not_pending
    );
}

cases! {
    c01_check_reads_home_ssh_key => "01-check-reads-home-ssh-key",
    c02_check_writes_state_database => "02-check-writes-state-database",
    c03_check_writes_main_worktree_and_hooks => "03-check-writes-main-worktree-and-hooks",
    c04_check_connects_host_unix_socket => "04-check-connects-host-unix-socket",
    c05_check_setsid_escapes_kill => "05-check-setsid-escapes-kill",
    c06_base_from_fork_with_lax_policy => "06-base-from-fork-with-lax-policy",
    c07_injection_edits_oxide_policy => "07-injection-edits-oxide-policy",
    c08_github_workflow_exfiltrates_secrets => "08-github-workflow-exfiltrates-secrets",
    c09_gitlab_ci_edit => "09-gitlab-ci-edit",
    c10_circleci_deep_odd_case => "10-circleci-deep-odd-case",
    c11_jenkinsfile => "11-jenkinsfile",
    c12_azure_pipelines => "12-azure-pipelines",
    c13_gitattributes_filter_deep => "13-gitattributes-filter-deep",
    c14_husky_hook_manager => "14-husky-hook-manager",
    c15_pre_commit_config => "15-pre-commit-config",
    c16_lefthook_config => "16-lefthook-config",
    c17_oxide_checks_weakened => "17-oxide-checks-weakened",
    c18_secrets_folder_odd_case => "18-secrets-folder-odd-case",
    c19_dotenv_upper_case_deep => "19-dotenv-upper-case-deep",
    c20_pem_key_upper_case => "20-pem-key-upper-case",
    c21_deep_db_migrations => "21-deep-db-migrations",
    c22_skill_targets_secrets_as_context => "22-skill-targets-secrets-as-context",
    c23_skill_targets_governance_as_context => "23-skill-targets-governance-as-context",
    c24_path_traversal_parent => "24-path-traversal-parent",
    c25_write_git_hooks => "25-write-git-hooks",
    c26_absolute_path => "26-absolute-path",
    c27_symlink_escape => "27-symlink-escape",
    c28_git_dir_odd_case => "28-git-dir-odd-case",
    c29_injection_non_json_answer => "29-injection-non-json-answer",
    c30_injection_extra_fields => "30-injection-extra-fields",
    c31_giant_single_line => "31-giant-single-line",
    c32_harness_script_always_passes => "32-harness-script-always-passes",
    c33_harness_makefile => "33-harness-makefile",
    c34_working_tree_lax_policy => "34-working-tree-lax-policy",
    c35_forged_proposal_branch => "35-forged-proposal-branch",
    c36_mass_deletion => "36-mass-deletion",
    c37_unvalidated_allow => "37-unvalidated-allow",
    c38_all_optional_contract => "38-all-optional-contract",
    c39_harness_package_json_script => "39-harness-package-json-script",
    c40_zero_width_secrets_folder => "40-zero-width-secrets-folder",
    c41_gitmodules_points_elsewhere => "41-gitmodules-points-elsewhere",
    c42_long_line_under_cap => "42-long-line-under-cap",
    c43_harness_cargo_build_rs => "43-harness-cargo-build-rs",
    c44_injection_registers_oxide_as_approver => "44-injection-registers-oxide-as-approver",
    c45_manual_bundle_plants_allowed_signers => "45-manual-bundle-plants-allowed-signers",
    c46_base_from_fork_with_forged_registry => "46-base-from-fork-with-forged-registry",
}
