//! Issue 11 item 6 through the real `oxide` binary: what the reviewer sees is what would land.
//! `oxide proposal diff ID` is git's diff of the base tree against the proposal's tree — before
//! validation (the tree the bundle gives) and after (the proposal branch) — and it equals
//! `git diff --patience BASE BRANCH` line for line, byte for byte. An intent whose
//! `find`/`replace` hides its change (LF → CRLF, trailing whitespace, a Cyrillic look-alike, a
//! zero-width space) is shown exactly as git has it, with each hidden character flagged and
//! made visible in the human output.

use oxide_journeys::{git, TestRepo};
use serde_json::{json, Value};

const CHECKS: &str = r#"
[[check]]
name = "config-present"
run = ["test", "-f", "src/config.txt"]
env = ["PATH"]
timeout_s = 30
"#;

fn repo() -> TestRepo {
    let repo = TestRepo::with_files(&[
        ("README.md", "# test repo\n"),
        (
            "src/config.txt",
            "[auth]\nuser = admin\nmode = strict\nverify = true\nretries = 3\n",
        ),
        ("docs/old-name.md", "one\ntwo\nthree\nfour\nfive\nsix\n"),
    ]);
    repo.init();
    std::fs::write(repo.path().join(".oxide/checks.toml"), CHECKS).unwrap();
    git(repo.path(), &["add", ".oxide"]);
    git(repo.path(), &["commit", "-q", "-m", "governance"]);
    repo
}

/// The hiding edits: each `find`/`replace` pair reads the same on a screen.
fn attack_ops() -> Value {
    json!([
        {"op": "text_edit", "path": "src/config.txt", "find": "user = admin", "replace": "user = \u{0430}dmin"},
        {"op": "text_edit", "path": "src/config.txt", "find": "mode = strict\n", "replace": "mode = strict\r\n"},
        {"op": "text_edit", "path": "src/config.txt", "find": "verify = true", "replace": "verify = true\u{200B} "},
        {"op": "text_edit", "path": "src/config.txt", "find": "retries = 3", "replace": "retries = 5"},
        {"op": "delete_file", "path": "docs/old-name.md"},
        {"op": "create_file", "path": "docs/new-name.md", "content": "one\ntwo\nthree\nfour\nfive\nsix\n"},
        {"op": "create_file", "path": "bin/blob.dat", "content": "MZ\u{0000}\u{0001}payload"}
    ])
}

fn import(repo: &TestRepo, ops: Value) -> (String, String) {
    let base = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string();
    let b = json!({
        "schema_version": "oxide.proposal/v1",
        "skill_digest": format!("sha256:{}", "ab".repeat(32)),
        "base": {"branch": "main", "commit": base},
        "intent": {"rationale": "Tidy the config (no functional change)", "risk_hints": [], "ops": ops},
        "provenance": {"synthesizer": "manual", "model": null, "model_digest": null,
                        "options": null, "prompt_template_version": null,
                        "prompt_sha256": null, "response_sha256": null},
        "created_at": "2026-11-21T05:00:00Z"
    });
    let f = repo.data.path().join("bundle.json");
    std::fs::write(&f, b.to_string()).unwrap();
    let r = repo
        .oxide(&["--json", "proposal", "import", f.to_str().unwrap()])
        .expect(0)
        .json();
    assert_eq!(r["state"], "proposed", "{r:#}");
    (r["id"].as_str().unwrap().to_string(), base)
}

/// File markers, hunk ranges and `+`/`-` lines of a review diff.
fn view_lines(view: &Value) -> Vec<String> {
    let mut v = Vec::new();
    for f in view["files"].as_array().unwrap() {
        v.push(format!("file {}", f["path"].as_str().unwrap()));
        for h in f["hunks"].as_array().unwrap() {
            v.push(format!(
                "@@ -{},{} +{},{}",
                h["old_start"], h["old_lines"], h["new_start"], h["new_lines"]
            ));
            for l in h["lines"].as_array().unwrap() {
                let t = l["text"].as_str().unwrap();
                match l["kind"].as_str().unwrap() {
                    "add" => v.push(format!("+{t}")),
                    "del" => v.push(format!("-{t}")),
                    _ => {}
                }
            }
        }
    }
    v
}

/// The same from `git diff` output.
fn git_lines(out: &str) -> Vec<String> {
    let mut v = Vec::new();
    let mut header = false;
    for l in out.split('\n') {
        if let Some(rest) = l.strip_prefix("diff --git ") {
            header = true;
            let b = rest.rsplit_once(" b/").unwrap().1;
            v.push(format!("file {b}"));
        } else if let Some(h) = l.strip_prefix("@@ -") {
            header = false;
            let ranges = h.split(" @@").next().unwrap();
            let (old, new) = ranges.split_once(" +").unwrap();
            let r = |s: &str| {
                let (a, b) = s.split_once(',').unwrap_or((s, "1"));
                format!("{a},{b}")
            };
            v.push(format!("@@ -{} +{}", r(old), r(new)));
        } else if !header && (l.starts_with('+') || l.starts_with('-')) {
            v.push(l.to_string());
        }
    }
    v
}

fn file<'v>(view: &'v Value, path: &str) -> &'v Value {
    view["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("no {path} in {view:#}"))
}

fn line<'v>(f: &'v Value, kind: &str, text: &str) -> &'v Value {
    f["hunks"][0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == kind && l["text"] == text)
        .unwrap_or_else(|| panic!("no {kind} line {text:?} in {f:#}"))
}

fn refs_and_checkout(repo: &TestRepo) -> (String, String, String) {
    (
        git(repo.path(), &["for-each-ref"]),
        git(repo.path(), &["rev-parse", "HEAD"]),
        git(repo.path(), &["status", "--porcelain"]),
    )
}

#[test]
fn a_change_hidden_by_find_and_replace_is_shown_as_git_shows_it() {
    let repo = repo();
    let (id, base) = import(&repo, attack_ops());

    // Before validation: the tree the bundle gives, built in memory; nothing is written.
    let before = refs_and_checkout(&repo);
    let objects = git(repo.path(), &["count-objects", "-v"]);
    let early = repo
        .oxide(&["--json", "proposal", "diff", &id])
        .expect(0)
        .json();
    assert_eq!(
        refs_and_checkout(&repo),
        before,
        "showing a diff writes no ref"
    );
    assert_eq!(
        git(repo.path(), &["count-objects", "-v"]),
        objects,
        "and no object"
    );
    assert_eq!(early["problems"], json!([]), "{early:#}");
    assert_eq!(early["branch"], Value::Null);
    assert_eq!(early["base_commit"], base.as_str());

    let cfg = file(&early, "src/config.txt");
    assert_eq!(cfg["change"], "modified");
    let flags = |kind: &str, text: &str| line(cfg, kind, text)["flags"].clone();
    assert_eq!(flags("del", "user = admin"), json!([]));
    assert_eq!(flags("add", "user = \u{0430}dmin"), json!(["non_ascii"]));
    assert_eq!(flags("add", "mode = strict\r"), json!(["carriage_return"]));
    assert_eq!(
        flags("add", "verify = true\u{200B} "),
        json!(["trailing_whitespace", "non_ascii", "invisible"])
    );
    // The word that changed is marked inside the line, look-alike and all.
    let spans = &line(cfg, "add", "retries = 5")["spans"];
    assert_eq!(
        spans,
        &json!([{"text": "retries = ", "changed": false, "mark": null},
                {"text": "5", "changed": true, "mark": null}])
    );
    let spans = &line(cfg, "add", "user = \u{0430}dmin")["spans"];
    assert_eq!(
        spans,
        &json!([{"text": "user = ", "changed": false, "mark": null},
                {"text": "\u{0430}", "changed": true, "mark": "non_ascii"},
                {"text": "dmin", "changed": true, "mark": null}])
    );

    let moved = file(&early, "docs/new-name.md");
    assert_eq!(moved["change"], "renamed");
    assert_eq!(moved["old_path"], "docs/old-name.md");
    let blob = file(&early, "bin/blob.dat");
    assert_eq!(
        (&blob["change"], &blob["binary"], &blob["hunks"]),
        (&json!("added"), &json!(true), &json!([]))
    );

    // The human output makes the hidden characters visible.
    let human = repo.oxide(&["proposal", "diff", &id]).expect(0);
    let text = human.stdout;
    assert!(text.contains("+mode = strict␍\n"), "{text}");
    assert!(text.contains("+verify = true<U+200B> \n"), "{text}");
    assert!(text.contains("+user = \u{0430}dmin\n"), "{text}");
    assert!(
        text.contains("Binary files differ (0 -> 11 bytes)"),
        "{text}"
    );

    // Validation builds the proposal branch (whatever its checks say); the review diff is
    // then that branch's, and it is the one shown before.
    let v = repo.oxide(&["--json", "validate", &id]);
    assert!(matches!(v.code, 0 | 3), "validate: {v:?}");
    let branch = format!("oxide/proposals/{id}");
    git(
        repo.path(),
        &["rev-parse", "--verify", &format!("refs/heads/{branch}")],
    );
    let late = repo
        .oxide(&["--json", "proposal", "diff", &id])
        .expect(0)
        .json();
    assert_eq!(late["branch"], branch.as_str(), "{late:#}");
    assert_eq!(late["files"], early["files"]);
    assert_eq!(late["head_tree"], early["head_tree"]);

    // Line for line what git shows between the base and the branch that would land.
    let out = git(
        repo.path(),
        &[
            "-c",
            "core.quotepath=off",
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--patience",
            &base,
            &branch,
        ],
    );
    assert!(
        out.contains("Binary files /dev/null and b/bin/blob.dat differ"),
        "{out}"
    );
    assert!(out.contains("rename from docs/old-name.md"), "{out}");
    let mut from_git = git_lines(&out);
    // git lists the binary file without hunks too; both sides name the same files in order.
    from_git.sort();
    let mut ours = view_lines(&late);
    ours.sort();
    assert_eq!(ours, from_git, "git diff:\n{out}");
    assert_eq!(view_lines(&late), git_lines(&out), "and in the same order");
}

#[test]
fn an_unknown_proposal_is_a_clear_error() {
    let repo = repo();
    let r = repo
        .oxide(&["--json", "proposal", "diff", "nope"])
        .expect(2);
    assert_eq!(r.error_code(), "PROPOSAL_NOT_FOUND");
}
