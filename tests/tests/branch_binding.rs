//! Issue 11 item 4 through the real `oxide` binary: the proposal branch is bound to its bundle.
//! A branch rewritten before validation (right parent and trailer, other tree) is never
//! tested — the proposal is quarantined with `BRANCH_FORGED` and an audit event; a check that
//! moves the branch while it runs gets nothing of its run recorded as passed; checks run on a
//! worktree detached at the bundle's commit id.

use std::path::{Path, PathBuf};

use oxide_journeys::{git, manual_bundle, TestRepo};
use serde_json::{json, Value};

/// A repository whose committed CI contract is `checks_toml`.
fn repo_with_checks(checks_toml: &str) -> TestRepo {
    let repo = TestRepo::with_files(&[
        ("README.md", "# test repo\n"),
        ("src/config.txt", "retries = 3\n"),
    ]);
    repo.init();
    std::fs::write(repo.path().join(".oxide/checks.toml"), checks_toml).unwrap();
    git(repo.path(), &["add", ".oxide"]);
    git(repo.path(), &["commit", "-q", "-m", "governance"]);
    repo
}

fn rev(repo: &TestRepo, what: &str) -> String {
    git(repo.path(), &["rev-parse", what]).trim().to_string()
}

fn import(repo: &TestRepo, name: &str, ops: Value) -> String {
    let bundle = manual_bundle(
        &rev(repo, "HEAD"),
        &"ab".repeat(32),
        &format!("Raise retries ({name})"),
        ops,
        "2026-11-21T05:00:00Z",
    );
    repo.import_bundle(name, &bundle)
}

fn edit_ops() -> Value {
    json!([{"op": "text_edit", "path": "src/config.txt", "find": "retries = 3",
            "replace": "retries = 5"}])
}

/// HEAD, the index file's bytes, `git status`, and every ref.
fn checkout_state(repo: &TestRepo) -> (String, Vec<u8>, String, String) {
    (
        rev(repo, "HEAD"),
        std::fs::read(repo.path().join(".git/index")).unwrap(),
        git(repo.path(), &["status", "--porcelain", "--ignored"]),
        git(
            repo.path(),
            &["for-each-ref", "refs/heads/main", "refs/tags"],
        ),
    )
}

fn events(repo: &TestRepo, kind: &str, subject: &str) -> Vec<Value> {
    repo.oxide(&["--json", "audit", "list"]).expect(0).json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind && e["subject"] == subject)
        .cloned()
        .collect()
}

/// A check (on the host, so nothing but this binding could stop it) that runs `evil.sh` when
/// the tree it is given has one; `evil.sh` writes a marker outside the repository.
fn marker_contract() -> &'static str {
    r#"
[[check]]
name = "unit"
run = "if [ -f evil.sh ]; then sh evil.sh; fi; grep -q 'retries = 5' src/config.txt"
shell = true
env = ["PATH"]
timeout_s = 30
sandbox = false
"#
}

fn evil_script(marker: &Path) -> String {
    format!("echo ran > '{}'\n", marker.display())
}

/// Commits, with git plumbing, the base tree plus `evil.sh` on top of `base`, with the
/// message (trailers included) of the proposal's branch; points the proposal branch at it.
fn forge_branch(repo: &TestRepo, id: &str, base: &str, digest: &str, evil: &str) -> String {
    let script = repo.data.path().join("evil.sh");
    std::fs::write(&script, evil).unwrap();
    let blob = git(
        repo.path(),
        &["hash-object", "-w", script.to_str().unwrap()],
    );
    let index: PathBuf = repo.data.path().join("forge.index");
    let run = |args: &[&str]| -> String {
        let o = std::process::Command::new("git")
            .current_dir(repo.path())
            .env("GIT_INDEX_FILE", &index)
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    run(&["read-tree", base]);
    run(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("100644,{},evil.sh", blob.trim()),
    ]);
    let tree = run(&["write-tree"]);
    let msg = format!(
        "oxide: Raise retries (forged)\n\nRaise retries (forged)\n\nOxide-Proposal: {digest}\nOxide-Skill: sha256:{}\n",
        "ab".repeat(32)
    );
    let commit = git(repo.path(), &["commit-tree", &tree, "-p", base, "-m", &msg])
        .trim()
        .to_string();
    git(
        repo.path(),
        &[
            "update-ref",
            &format!("refs/heads/oxide/proposals/{id}"),
            &commit,
        ],
    );
    commit
}

#[test]
fn branch_forged_before_validation_is_quarantined_and_never_tested() {
    let repo = repo_with_checks(marker_contract());
    let marker = repo.data.path().join("forged-tree-ran");
    let id = import(&repo, "forged", edit_ops());
    let show = repo
        .oxide(&["--json", "proposal", "show", &id])
        .expect(0)
        .json();
    let digest = show["digest"].as_str().unwrap().to_string();
    let base = rev(&repo, "HEAD");
    let forged = forge_branch(&repo, &id, &base, &digest, &evil_script(&marker));
    let before = checkout_state(&repo);

    let r = repo.oxide(&["--json", "validate", &id]).expect(3);
    let v = r.json();
    assert_eq!(v["state"], "quarantined", "{v:#}");
    assert_eq!(v["failure_reason_code"], "BRANCH_FORGED");
    assert!(v["checks"].as_array().unwrap().is_empty(), "{v:#}");
    assert!(!marker.exists(), "no check ran on the forged tree");

    // Audited: what was expected and what was found, and the quarantine itself.
    let ev = events(&repo, "gitops.branch_forged", &id);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["payload"]["found"], forged.as_str());
    assert_eq!(ev[0]["payload"]["stage"], "before_checks");
    assert_ne!(ev[0]["payload"]["expected"], forged.as_str());
    assert_eq!(events(&repo, "workflow.quarantine", &id).len(), 1);
    assert!(events(&repo, "checks.run_started", &id).is_empty());
    let show = repo
        .oxide(&["--json", "proposal", "show", &id])
        .expect(0)
        .json();
    assert_eq!(show["state"], "quarantined");
    assert!(show["checks"].as_array().unwrap().is_empty());

    // The user's checkout and the target branch are untouched; the forged ref is left, for
    // inspection, where the forger put it; no worktree is left behind.
    assert_eq!(checkout_state(&repo), before);
    assert_eq!(rev(&repo, &format!("oxide/proposals/{id}")), forged);
    assert_eq!(git(repo.path(), &["worktree", "list"]).lines().count(), 1);
    // Quarantined is final: validating again is refused.
    assert_eq!(
        repo.oxide(&["--json", "validate", &id])
            .expect(3)
            .error_code(),
        "WORKFLOW_ILLEGAL_TRANSITION"
    );
    assert_eq!(
        repo.oxide(&["--json", "audit", "verify"]).expect(0).json()["ok"],
        true
    );

    // Control: the same check does run `evil.sh` when a proposal honestly contains it, so
    // the marker's absence above is the binding's doing.
    let honest = import(
        &repo,
        "honest",
        json!([
            {"op": "text_edit", "path": "src/config.txt", "find": "retries = 3",
             "replace": "retries = 5"},
            {"op": "create_file", "path": "evil.sh", "content": evil_script(&marker)}
        ]),
    );
    let v = repo
        .oxide(&["--json", "validate", &honest])
        .expect(0)
        .json();
    assert_eq!(v["state"], "validated", "{v:#}");
    assert!(
        marker.exists(),
        "the check runs evil.sh when the tree has it"
    );
}

#[test]
fn check_moving_the_branch_during_validation_gets_nothing_recorded_as_passed() {
    // A compromised check on the host (the contract says `sandbox = false`) that points every
    // proposal branch at the base commit through the shared git directory, then exits 0.
    let repo = repo_with_checks(
        r#"
[[check]]
name = "unit"
run = "for r in $(git for-each-ref --format='%(refname)' refs/heads/oxide/proposals/); do git update-ref \"$r\" HEAD~1; done; echo moved"
shell = true
env = ["PATH"]
timeout_s = 30
sandbox = false
"#,
    );
    let id = import(&repo, "mover", edit_ops());
    let base = rev(&repo, "HEAD");
    let before = checkout_state(&repo);

    let v = repo.oxide(&["--json", "validate", &id]).expect(3).json();
    assert_eq!(v["state"], "quarantined", "{v:#}");
    assert_eq!(v["failure_reason_code"], "BRANCH_FORGED");
    // The check did run and did move the branch…
    assert_eq!(rev(&repo, &format!("oxide/proposals/{id}")), base);
    // …but nothing of its run is recorded as passed: no stored results, no pass transition,
    // no envelope in the binder; the run is dropped (abandoned), not finished.
    let show = repo
        .oxide(&["--json", "proposal", "show", &id])
        .expect(0)
        .json();
    assert_eq!(show["state"], "quarantined");
    assert!(show["checks"].as_array().unwrap().is_empty(), "{show:#}");
    assert!(events(&repo, "workflow.pass_validation", &id).is_empty());
    assert_eq!(events(&repo, "checks.run_started", &id).len(), 1);
    let ev = events(&repo, "gitops.branch_forged", &id);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["payload"]["found"], base.as_str());
    let stage = ev[0]["payload"]["stage"].as_str().unwrap();
    assert_eq!(
        stage,
        format!("after_checks:{}", v["run_id"].as_str().unwrap())
    );
    assert_eq!(events(&repo, "workflow.quarantine", &id).len(), 1);
    let binder = repo
        .oxide(&["--json", "binder", "capsules"])
        .expect(0)
        .json();
    assert!(
        binder["capsules"].as_array().unwrap().is_empty(),
        "{binder:#}"
    );
    // The user's checkout and the target branch are untouched.
    assert_eq!(checkout_state(&repo), before);
    assert_eq!(git(repo.path(), &["worktree", "list"]).lines().count(), 1);
    assert_eq!(
        repo.oxide(&["--json", "audit", "verify"]).expect(0).json()["ok"],
        true
    );
}

#[test]
fn checks_run_on_a_worktree_detached_at_the_bundles_commit() {
    let repo = repo_with_checks(
        r#"
[[check]]
name = "where"
run = "git rev-parse HEAD; git symbolic-ref -q HEAD || echo detached"
shell = true
env = ["PATH"]
timeout_s = 30
sandbox = false
"#,
    );
    let id = import(&repo, "where", edit_ops());
    let v = repo.oxide(&["--json", "validate", &id]).expect(0).json();
    assert_eq!(v["state"], "validated", "{v:#}");
    let commit = v["commit"].as_str().unwrap().to_string();
    assert_eq!(rev(&repo, &format!("oxide/proposals/{id}")), commit);
    let show = repo
        .oxide(&["--json", "proposal", "show", &id])
        .expect(0)
        .json();
    assert_eq!(show["checks"][0]["output"], format!("{commit}\ndetached\n"));
    // The trailer names the proposal's digest (what the forger in the test above copies).
    let msg = git(repo.path(), &["log", "-1", "--format=%B", &commit]);
    assert!(
        msg.contains(&format!(
            "Oxide-Proposal: {}",
            show["digest"].as_str().unwrap()
        )),
        "{msg}"
    );
    // The private branch the worktree was added on is gone.
    let heads = git(
        repo.path(),
        &["for-each-ref", "--format=%(refname)", "refs/heads"],
    );
    assert!(!heads.contains("oxide-validate-"), "{heads}");
}
