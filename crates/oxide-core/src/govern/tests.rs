//! The governance editor over a real committed demo repository and database: validation,
//! the simulator's flips, submission as a critical manual proposal, and the attacks on the
//! gate (invalid edits, paths outside governance, a tampered base) refused with nothing
//! written.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use super::*;
use crate::clock::Clock;
use crate::policy::DEFAULT_POLICY;

struct Fixture {
    _repo: tempfile::TempDir,
    _data: tempfile::TempDir,
    ws: Workspace,
}

fn fixture() -> Fixture {
    let repo = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("s.sqlite3");
    crate::setup::create_demo(repo.path(), Some(&db), Clock::system()).unwrap();
    let ws = Workspace::open(repo.path(), Some(&db)).unwrap();
    Fixture {
        _repo: repo,
        _data: data,
        ws,
    }
}

/// Records a bare-input decision with `lines` changed lines through the real `policy::decide`.
fn seed_decision(ws: &mut Workspace, lines: u64) {
    let input = json!({
        "version": crate::policy::INPUT_VERSION,
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
    crate::policy::decide(ws, None, &input, "tester").unwrap();
}

fn raised() -> String {
    DEFAULT_POLICY.replace("medium_change_lines := 50", "medium_change_lines := 65")
}

fn edit(path: &str, text: &str) -> GovernEdit {
    GovernEdit {
        path: path.into(),
        text: text.into(),
    }
}

/// Everything a submission could write: the working tree's status, HEAD, branches, and the
/// database's row counts (proposals, decisions, audit events).
fn snapshot(ws: &Workspace) -> (String, String, String, i64, i64, i64) {
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .current_dir(ws.root())
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let count = |sql: &str| -> i64 { ws.store().conn().query_row(sql, [], |r| r.get(0)).unwrap() };
    (
        git(&["status", "--porcelain", "--ignored"]),
        git(&["rev-parse", "HEAD"]),
        git(&["for-each-ref"]),
        count("SELECT count(*) FROM proposals"),
        count("SELECT count(*) FROM policy_decisions"),
        count("SELECT count(*) FROM audit_events"),
    )
}

fn committed_policy_text(root: &Path) -> String {
    let o = Command::new("git")
        .current_dir(root)
        .args(["show", "main:.oxide/policy/oxide.rego"])
        .output()
        .unwrap();
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn files_lists_the_committed_governance() {
    let f = fixture();
    let files = files(&f.ws).unwrap();
    assert_eq!(files.target_branch, "main");
    assert!(files.base_commit.is_some());
    let paths: Vec<_> = files.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            ".oxide/policy/oxide.rego",
            ".oxide/policy/oxide_test.rego",
            ".oxide/oxide.toml",
            ".oxide/checks.toml",
            ".oxide/approvers.toml",
        ]
    );
    assert_eq!(files.files[0].text.as_deref(), Some(DEFAULT_POLICY));
}

#[test]
fn raising_a_threshold_previews_the_flips_and_submits_a_critical_manual_proposal() {
    let mut f = fixture();
    seed_decision(&mut f.ws, 60);
    seed_decision(&mut f.ws, 10);
    let edits = [edit(".oxide/policy/oxide.rego", &raised())];
    let p = preview(&f.ws, &edits).unwrap();
    assert!(p.ok, "{:?}", p.files);
    assert_eq!(p.changed, [".oxide/policy/oxide.rego"]);
    let tests = p.policy_tests.as_ref().unwrap();
    assert!(tests.passed > 0);
    assert_eq!(tests.failed, 0);
    let sim = p.sim.as_ref().unwrap();
    assert_eq!((sim.total, sim.changed), (2, 1));
    assert_eq!(sim.flips.len(), 1);
    assert_eq!(sim.flips[0].changes[0], "risk: medium -> low");

    let before_tree = snapshot(&f.ws);
    let s = submit(&mut f.ws, &edits, "Raise the medium threshold", "maria").unwrap();
    assert_eq!(s.risk, Risk::Critical);
    assert_eq!(s.required.count, 3);
    assert_eq!(s.required.roles, ["lead", "lead", "maintainer"]);
    assert_eq!(s.waiting_for, s.required.roles);
    assert_eq!(
        s.state,
        State::Proposed,
        "not validated yet: no denial of the change"
    );
    assert!(
        s.escalations
            .iter()
            .any(|e| e.starts_with("oxide.governance_change → critical")),
        "{:?}",
        s.escalations
    );
    // The proposal went through admission: a manual bundle on the committed tip.
    let row = crate::workflow::rows::get(f.ws.store().conn(), &s.id)
        .unwrap()
        .unwrap();
    assert_eq!(row.bundle.provenance.synthesizer, Synthesizer::Manual);
    assert_eq!(Some(row.bundle.base.commit.clone()), p.base_commit);
    assert!(
        matches!(&row.bundle.intent.ops[0], Op::TextEdit { path, .. } if path == ".oxide/policy/oxide.rego")
    );
    // The working tree, HEAD and branches are untouched; the committed policy is unchanged.
    let after = snapshot(&f.ws);
    assert_eq!(
        (&before_tree.0, &before_tree.1, &before_tree.2),
        (&after.0, &after.1, &after.2)
    );
    assert_eq!(after.3, before_tree.3 + 1, "one proposal");
    assert_eq!(after.4, before_tree.4 + 1, "its decision");
    assert_eq!(committed_policy_text(f.ws.root()), DEFAULT_POLICY);
    assert!(f.ws.audit_verify().unwrap().ok);
}

#[test]
fn invalid_edits_are_refused_with_nothing_written() {
    let mut f = fixture();
    seed_decision(&mut f.ws, 60);
    let cases: Vec<(Vec<GovernEdit>, &str, &str)> = vec![
        (
            vec![edit(
                ".oxide/policy/oxide.rego",
                "package oxide\n\ndecision := {\n",
            )],
            "GOVERN_INVALID",
            "POLICY_LOAD",
        ),
        (
            // Compiles, but its own test (a 60-line change is medium) now fails.
            vec![edit(
                ".oxide/policy/oxide.rego",
                &DEFAULT_POLICY.replace("medium_change_lines := 50", "medium_change_lines := 5000"),
            )],
            "GOVERN_INVALID",
            "POLICY_TEST_FAILED",
        ),
        (
            vec![edit(
                ".oxide/checks.toml",
                "[[check]]\nname = \"unit\"\nrun = [\"true\"]\nnetwork = true\n",
            )],
            "GOVERN_INVALID",
            "CHECKS_SCHEMA",
        ),
        (
            vec![edit(
                ".oxide/checks.toml",
                "[[check]]\nname = \"unit\"\nrun = [\"true\"]\nrequired = false\n",
            )],
            "GOVERN_INVALID",
            "CHECKS_NONE_REQUIRED",
        ),
        (
            vec![edit(
                ".oxide/oxide.toml",
                "[workflow]\ntarget_branch = \"main\"\nyolo = 1\n",
            )],
            "GOVERN_INVALID",
            "WORKSPACE_BAD_CONFIG",
        ),
        (
            vec![edit(".oxide/approvers.toml", "[[person]\nid = \"x\"\n")],
            "GOVERN_INVALID",
            "TOML_SYNTAX",
        ),
        (
            // TOML, but not a registry: the signing room's strict parser refuses it.
            vec![edit(
                ".oxide/approvers.toml",
                "[[person]]\nid = \"ana\"\nname = \"Ana\"\nroles = [\"lead\"]\nkeys = []\nshoe = 1\n",
            )],
            "GOVERN_INVALID",
            "SIGNING_REGISTRY_INVALID",
        ),
    ];
    for (edits, code, problem_code) in cases {
        let p = preview(&f.ws, &edits).unwrap();
        assert!(!p.ok, "{edits:?}");
        let codes: Vec<_> = p
            .files
            .iter()
            .flat_map(|f| f.problems.iter().map(|x| x.code.clone()))
            .collect();
        assert!(codes.iter().any(|c| c == problem_code), "{codes:?}");
        let before = snapshot(&f.ws);
        let e = submit(&mut f.ws, &edits, "try", "mallory").unwrap_err();
        assert_eq!(e.code(), code, "{e}");
        assert!(e.to_string().contains("nothing was submitted"), "{e}");
        assert_eq!(snapshot(&f.ws), before, "nothing written for {edits:?}");
    }
    // A TOML syntax error names its line.
    let p = preview(
        &f.ws,
        &[edit(
            ".oxide/oxide.toml",
            "[workflow]\n\ntarget_branch = \n",
        )],
    )
    .unwrap();
    let prob = &p.files[0].problems[0];
    assert_eq!((prob.code.as_str(), prob.line), ("TOML_SYNTAX", Some(3)));
}

#[test]
fn paths_outside_governance_and_other_abuses_are_refused_with_nothing_written() {
    let mut f = fixture();
    let before = snapshot(&f.ws);
    let cases: Vec<(Vec<GovernEdit>, &str, &str)> = vec![
        (vec![edit("src/greeting.txt", "hi\n")], "x", "GOVERN_PATH"),
        (
            vec![edit(".oxide/policy/../../src/x.rego", "package x\n")],
            "x",
            "GOVERN_PATH",
        ),
        (vec![edit("/etc/passwd", "x")], "x", "GOVERN_PATH"),
        (
            vec![edit(".oxide/oxide.toml", ""), edit(".oxide/oxide.toml", "")],
            "x",
            "GOVERN_DUPLICATE_PATH",
        ),
        (
            vec![edit(".oxide/oxide.toml", &"#".repeat(MAX_EDIT_BYTES + 1))],
            "x",
            "GOVERN_TOO_LARGE",
        ),
        (
            vec![edit(".oxide/policy/oxide.rego", DEFAULT_POLICY)],
            "x",
            "GOVERN_NO_CHANGE",
        ),
        (
            vec![edit(".oxide/policy/oxide.rego", &raised())],
            "  ",
            "GOVERN_NO_RATIONALE",
        ),
    ];
    for (edits, why, code) in cases {
        let e = submit(&mut f.ws, &edits, why, "mallory").unwrap_err();
        assert_eq!(e.code(), code, "{e}");
        assert_eq!(snapshot(&f.ws), before, "nothing written for {code}");
    }
}

#[test]
fn the_bundle_is_built_on_the_committed_tip_at_submission() {
    let mut f = fixture();
    let root = f.ws.root().to_path_buf();
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .current_dir(&root)
            .args(["-c", "user.name=T", "-c", "user.email=t@e.invalid"])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    // The committed policy changes on main after the editor opened.
    let opened = files(&f.ws).unwrap();
    std::fs::write(
        root.join(".oxide/policy/oxide.rego"),
        DEFAULT_POLICY.replace("many_files := 10", "many_files := 12"),
    )
    .unwrap();
    git(&["commit", "-qam", "policy moved"]);
    let before = snapshot(&f.ws);
    let stale = opened.files[0]
        .text
        .clone()
        .unwrap()
        .replace("medium_change_lines := 50", "medium_change_lines := 65");
    // Submitting the stale full text is a valid edit of the new tip (it replaces the file
    // whole, reverting many_files): the bundle is built on the NEW tip, never the old one.
    let s = submit(
        &mut f.ws,
        &[edit(".oxide/policy/oxide.rego", &stale)],
        "raise",
        "maria",
    )
    .unwrap();
    let row = crate::workflow::rows::get(f.ws.store().conn(), &s.id)
        .unwrap()
        .unwrap();
    let tip = Command::new("git")
        .current_dir(&root)
        .args(["rev-parse", "main"])
        .output()
        .unwrap();
    assert_eq!(
        row.bundle.base.commit,
        String::from_utf8_lossy(&tip.stdout).trim()
    );
    assert_eq!(snapshot(&f.ws).0, before.0, "working tree untouched");
}
