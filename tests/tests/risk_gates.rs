//! Issue 11 journeys (item 7) through the real `oxide` binary: risk cannot be gamed. Size is
//! the real diff of the base tree against the proposal's tree, so a 1 MiB single line, a JSON
//! patch with a huge value, the deletion of a binary file, the deletion of most of the
//! repository and a change split into several proposals are each judged above low, with the
//! reason shown; evaluating changes no ref, no file of the checkout and no proposal state.

use oxide_journeys::{git, manual_bundle, TestRepo};
use serde_json::{json, Value};

fn commit_all(repo: &TestRepo, msg: &str) -> String {
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", msg]);
    git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string()
}

/// [`import_with_digest`] from a skill digest made of one repeated hex byte.
fn import(repo: &TestRepo, head: &str, skill: &str, ops: Value, n: usize) -> String {
    import_with_digest(repo, head, &skill.repeat(32), ops, n)
}

/// Refs, HEAD and the checkout's status: what evaluating must leave as it was.
fn snapshot(repo: &TestRepo) -> (String, String, String) {
    (
        git(repo.path(), &["for-each-ref"]),
        git(repo.path(), &["rev-parse", "HEAD"]),
        git(
            repo.path(),
            &["status", "--porcelain", "--untracked-files=all"],
        ),
    )
}

/// `policy eval ID`, checked to change nothing but the decision record.
fn eval(repo: &TestRepo, id: &str) -> Value {
    let before = snapshot(repo);
    // Never validated: no allow (NOT_VALIDATED, exit 3); the risk is still judged.
    let d = repo
        .oxide(&["--json", "policy", "eval", id])
        .expect(3)
        .json();
    assert_eq!(snapshot(repo), before, "policy eval changed the repository");
    assert_eq!(d["state"], "proposed", "{d:#}");
    assert!(
        d["denials"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["policy_reason_code"] == "NOT_VALIDATED"),
        "{d:#}"
    );
    d
}

fn escalation<'a>(d: &'a Value, rule: &str) -> &'a Value {
    d["escalations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule}\n{:#}", d["escalations"]))
}

#[test]
fn a_giant_single_line_is_a_large_change() {
    let repo = TestRepo::new();
    repo.init();
    let head = commit_all(&repo, "governance");
    let line = "x".repeat(1 << 20);
    let id = import(
        &repo,
        &head,
        "ab",
        json!([{"op": "create_file", "path": "src/blob.txt", "content": line}]),
        1,
    );
    let d = eval(&repo, &id);
    assert_eq!(d["risk"], "high", "{d:#}");
    let size = &d["input"]["proposal"]["size"];
    assert_eq!(size["bytes_added"], 1 << 20);
    assert_eq!(size["files"][0]["path"], "src/blob.txt");
    // One line by the intent; a line per 200 bytes by the diff.
    let lines = d["input"]["proposal"]["lines_added"].as_u64().unwrap();
    assert_eq!(lines, (1u64 << 20).div_ceil(200));
    assert_eq!(escalation(&d, "oxide.large_change")["risk"], "high");
    let bytes = escalation(&d, "oxide.large_change_bytes");
    assert_eq!(bytes["risk"], "high");
    assert!(
        bytes["message"]
            .as_str()
            .unwrap()
            .contains("1048576 bytes changed"),
        "{bytes:#}"
    );
}

#[test]
fn a_json_patch_with_a_huge_value_is_judged_by_its_bytes() {
    let repo = TestRepo::with_files(&[("config/app.json", "{\"name\": \"demo\"}\n")]);
    repo.init();
    let head = commit_all(&repo, "governance");
    let id = import(
        &repo,
        &head,
        "ab",
        json!([{"op": "json_patch", "path": "config/app.json", "patch": [
            {"op": "replace", "path": "/name", "value": "v".repeat(300_000)}
        ]}]),
        1,
    );
    let d = eval(&repo, &id);
    assert_eq!(d["risk"], "high", "{d:#}");
    assert!(
        d["input"]["proposal"]["size"]["bytes_added"]
            .as_u64()
            .unwrap()
            > 300_000
    );
    assert_eq!(escalation(&d, "oxide.large_change_bytes")["risk"], "high");
    // The intent's own count for the operation is still 1: the policy does not use it.
    assert_eq!(d["input"]["proposal"]["ops"][0]["lines_added"], 1);
}

#[test]
fn deleting_a_binary_file_is_counted_and_flagged() {
    let bin: String = (0..4096)
        .map(|i| if i % 7 == 0 { '\0' } else { 'b' })
        .collect();
    let files: Vec<(String, String)> = (0..10)
        .map(|i| (format!("src/f{i}.txt"), format!("line {i}\n")))
        .chain([("assets/logo.bin".to_string(), bin)])
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let repo = TestRepo::with_files(&refs);
    repo.init();
    let head = commit_all(&repo, "governance");
    let id = import(
        &repo,
        &head,
        "ab",
        json!([{"op": "delete_file", "path": "assets/logo.bin"}]),
        1,
    );
    let d = eval(&repo, &id);
    assert_ne!(d["risk"], "low", "{d:#}");
    let size = &d["input"]["proposal"]["size"];
    assert_eq!(size["binary_files"], 1);
    assert_eq!(size["files"][0]["binary"], true);
    assert_eq!(size["files"][0]["bytes_removed"], 4096);
    assert!(d["input"]["proposal"]["lines_removed"].as_u64().unwrap() > 0);
    let b = escalation(&d, "oxide.binary_change");
    assert_eq!(b["risk"], "medium");
    assert!(b["message"].as_str().unwrap().contains("assets/logo.bin"));
    assert_eq!(escalation(&d, "oxide.deletion")["risk"], "medium");
}

#[test]
fn deleting_most_of_the_repository_is_high() {
    let files: Vec<(String, String)> = (0..20)
        .map(|i| (format!("src/f{i}.txt"), format!("line {i}\n")))
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let repo = TestRepo::with_files(&refs);
    repo.init();
    let head = commit_all(&repo, "governance");
    let base_files = git(repo.path(), &["ls-tree", "-r", "--name-only", "HEAD"])
        .lines()
        .count();
    // Delete more than half of every file in the tree (governance files included).
    let deleted = base_files / 2 + 1;
    assert!(deleted < 20, "the fixture has {base_files} files");
    let ops: Vec<Value> = (0..deleted)
        .map(|i| json!({"op": "delete_file", "path": format!("src/f{i}.txt")}))
        .collect();
    let id = import(&repo, &head, "ab", json!(ops), 1);
    let d = eval(&repo, &id);
    assert_eq!(d["risk"], "high", "{d:#}");
    let m = escalation(&d, "oxide.mass_deletion");
    assert_eq!(m["risk"], "high");
    assert!(
        m["message"].as_str().unwrap().contains(&format!(
            "deletes {deleted} of the repository's {base_files} files"
        )),
        "{m:#}"
    );
    assert_eq!(d["input"]["proposal"]["size"]["base_files"], base_files);
    // One file of the many is still only a deletion.
    let id = import(
        &repo,
        &head,
        "cd",
        json!([{"op": "delete_file", "path": "src/f19.txt"}]),
        2,
    );
    let d = eval(&repo, &id);
    assert_eq!(d["risk"], "medium", "{d:#}");
}

#[test]
fn a_change_split_into_proposals_is_judged_as_a_whole() {
    let repo = TestRepo::new();
    repo.init();
    let head = commit_all(&repo, "governance");
    let piece = |n: usize| {
        let content: String = (0..45).map(|l| format!("piece {n} line {l}\n")).collect();
        json!([{"op": "create_file", "path": format!("src/piece{n}.txt"), "content": content}])
    };
    // The first piece alone is low: 45 lines.
    let first = import(&repo, &head, "ab", piece(0), 0);
    let d = eval(&repo, &first);
    assert_eq!(d["risk"], "low", "{d:#}");
    assert_eq!(d["input"]["window"]["skill"]["proposals"], 0);
    // A proposal of another skill does not count in this skill's window.
    import(&repo, &head, "cd", piece(9), 9);
    let mut ids = vec![first];
    for n in 1..5 {
        ids.push(import(&repo, &head, "ab", piece(n), n));
    }
    let last = ids.last().unwrap().clone();
    let d = eval(&repo, &last);
    assert_eq!(d["risk"], "high", "{d:#}");
    let w = &d["input"]["window"]["skill"];
    assert_eq!(w["proposals"], 4, "{w:#}");
    assert_eq!(w["lines_added"], 4 * 45);
    assert!(w["touched_paths"]
        .as_array()
        .unwrap()
        .contains(&json!("src/piece0.txt")));
    assert!(!w["ids"].as_array().unwrap().contains(&json!(last)));
    let s = escalation(&d, "oxide.split_change");
    assert_eq!(s["risk"], "high");
    let msg = s["message"].as_str().unwrap();
    assert!(
        msg.contains("4 other recent proposal(s) of the same skill"),
        "{msg}"
    );
    assert!(msg.contains(&ids[0]), "{msg}");
    assert!(msg.contains("225 lines changed, more than 200"), "{msg}");
}

/// Adds a host skill submitted by `who`; returns its digest's hex.
fn add_skill(repo: &TestRepo, title: &str, who: &str) -> String {
    let f = repo.data.path().join(format!("{title}.json"));
    std::fs::write(
        &f,
        json!({
            "title": title,
            "description": "Keep things tidy.",
            "source": "host",
            "submitted_by": who,
            "evidence_refs": [],
            "targets": ["src/*"]
        })
        .to_string(),
    )
    .unwrap();
    let added = repo
        .oxide(&["--json", "skill", "add", f.to_str().unwrap()])
        .expect(0)
        .json();
    let digest = added["digest"].as_str().expect("a digest").to_string();
    digest.strip_prefix("sha256:").unwrap().to_string()
}

#[test]
fn a_change_split_over_one_submitters_skills_is_judged_as_a_whole() {
    let repo = TestRepo::new();
    repo.init();
    let head = commit_all(&repo, "governance");
    let skills = [
        add_skill(&repo, "one", "mallory"),
        add_skill(&repo, "two", "mallory"),
        add_skill(&repo, "three", "mallory"),
    ];
    let other = add_skill(&repo, "else", "ana");
    let piece = |n: usize| {
        let content: String = (0..30).map(|l| format!("piece {n} line {l}\n")).collect();
        json!([{"op": "create_file", "path": format!("src/piece{n}.txt"), "content": content}])
    };
    // Another submitter's proposal counts in neither of mallory's windows.
    import_with_digest(&repo, &head, &other, piece(9), 9);
    let mut ids = Vec::new();
    for (n, s) in skills.iter().enumerate() {
        ids.push(import_with_digest(&repo, &head, s, piece(n), n));
    }
    let last = ids.last().unwrap().clone();
    let d = eval(&repo, &last);
    // 30 lines each: the skill's own window is empty, the submitter's holds the other two.
    assert_eq!(d["input"]["window"]["skill"]["proposals"], 0, "{d:#}");
    let w = &d["input"]["window"]["submitter"];
    assert_eq!(w["key"], "mallory");
    assert_eq!(w["proposals"], 2, "{w:#}");
    assert_eq!(d["risk"], "medium", "{d:#}");
    let s = escalation(&d, "oxide.split_change");
    assert_eq!(s["risk"], "medium");
    let msg = s["message"].as_str().unwrap();
    assert!(msg.contains("of the same submitter mallory"), "{msg}");
    assert!(msg.contains("90 lines changed, more than 50"), "{msg}");
}

/// Imports a manual bundle with `ops` on `head` from the skill whose digest's hex is `hex`;
/// returns the proposal id.
fn import_with_digest(repo: &TestRepo, head: &str, hex: &str, ops: Value, n: usize) -> String {
    assert_eq!(hex.len(), 64);
    let bundle = manual_bundle(
        head,
        hex,
        &format!("change {n}"),
        ops,
        &format!("2026-01-01T00:00:{n:02}Z"),
    );
    repo.import_bundle(&format!("bundle-{n}"), &bundle)
}
