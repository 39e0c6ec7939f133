//! Issue 11 item 5 through the real `oxide` binary: a hand-written bundle must build on the
//! target branch's tip or one of its ancestors. A base from a fork (here: a side branch that
//! edits the policy) is refused with nothing written; older commits of the target branch and
//! its tip are accepted.

use oxide_journeys::{git, TestRepo};
use serde_json::json;

fn bundle(repo: &TestRepo, base: &str, n: u32) -> std::path::PathBuf {
    let b = json!({
        "schema_version": "oxide.proposal/v1",
        "skill_digest": format!("sha256:{}", "ab".repeat(32)),
        "base": {"branch": "main", "commit": base},
        "intent": {"rationale": "add a note", "risk_hints": [], "ops": [
            {"op": "create_file", "path": format!("notes/n{n}.txt"), "content": "hi\n"}
        ]},
        "provenance": {"synthesizer": "manual", "model": null, "model_digest": null,
                       "options": null, "prompt_template_version": null,
                       "prompt_sha256": null, "response_sha256": null},
        "created_at": format!("2026-01-01T00:00:0{n}Z")
    });
    let f = repo.data.path().join(format!("bundle-{n}.json"));
    std::fs::write(&f, b.to_string()).unwrap();
    f
}

fn refs_and_checkout(repo: &TestRepo) -> (String, String, String) {
    (
        git(repo.path(), &["for-each-ref"]),
        git(repo.path(), &["rev-parse", "HEAD"]),
        git(repo.path(), &["status", "--porcelain"]),
    )
}

#[test]
fn a_base_off_the_target_branch_is_refused() {
    let repo = TestRepo::new();
    repo.init();
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "governance"]);
    let old = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string();
    // A fork's commit with a governance edit, reachable in the object database but not on main.
    git(repo.path(), &["checkout", "-q", "-b", "fork"]);
    std::fs::write(
        repo.path().join(".oxide/policy/oxide.rego"),
        "package oxide\n\ndecision := {\"risk\": \"low\", \"required\": {\"count\": 1, \"roles\": [\"approver\"]}, \"denials\": [], \"warnings\": [], \"escalations\": []}\n",
    )
    .unwrap();
    git(repo.path(), &["commit", "-q", "-am", "lax policy"]);
    let fork = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string();
    git(repo.path(), &["checkout", "-q", "main"]);
    std::fs::write(repo.path().join("CHANGELOG.md"), "- one\n").unwrap();
    git(repo.path(), &["add", "CHANGELOG.md"]);
    git(repo.path(), &["commit", "-q", "-m", "security fix"]);
    let tip = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string();

    let before = refs_and_checkout(&repo);
    let f = bundle(&repo, &fork, 1);
    let r = repo
        .oxide(&["--json", "proposal", "import", f.to_str().unwrap()])
        .expect(2)
        .json();
    assert_eq!(r["ok"], false, "{r:#}");
    assert_eq!(r["id"], serde_json::Value::Null);
    assert_eq!(r["problems"][0]["code"], "BASE_NOT_ON_TARGET", "{r:#}");
    assert_eq!(r["problems"][0]["pointer"], "/base/commit");
    let msg = r["problems"][0]["message"].as_str().unwrap();
    assert!(msg.contains(&fork) && msg.contains("`main`"), "{msg}");
    // Nothing written: no proposal, refs and the user's checkout unchanged.
    let list = repo.oxide(&["--json", "proposal", "list"]).expect(0).json();
    assert_eq!(list["proposals"], json!([]), "{list:#}");
    assert_eq!(refs_and_checkout(&repo), before);

    // An older commit of the target branch, and its tip, are fine.
    for (n, base) in [(2, &old), (3, &tip)] {
        let f = bundle(&repo, base, n);
        let r = repo
            .oxide(&["--json", "proposal", "import", f.to_str().unwrap()])
            .expect(0)
            .json();
        assert_eq!(r["state"], "proposed", "{r:#}");
    }
    let list = repo.oxide(&["--json", "proposal", "list"]).expect(0).json();
    assert_eq!(list["proposals"].as_array().unwrap().len(), 2);
}
