use std::process::Command;

use super::*;
use crate::proposal::Op;

fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=T", "-c", "user.email=t@e.invalid"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn repo_with(files: &[(&str, &str)]) -> (tempfile::TempDir, Repository) {
    let d = tempfile::tempdir().unwrap();
    for (p, c) in files {
        let p = d.path().join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, c).unwrap();
    }
    git(d.path(), &["init", "-q", "-b", "main"]);
    git(d.path(), &["add", "-A"]);
    git(d.path(), &["commit", "-q", "-m", "init"]);
    let r = Repository::open(d.path()).unwrap();
    (d, r)
}

fn bundle(base: &str, ops: Vec<Op>) -> Bundle {
    crate::proposal::manual_bundle(base, "Raise retries\n\nBecause flaky.", ops)
}

fn head(r: &Repository) -> String {
    r.head().unwrap().peel_to_commit().unwrap().id().to_string()
}

fn snapshot(dir: &Path) -> (String, Vec<u8>, String) {
    (
        git(dir, &["rev-parse", "HEAD"]),
        std::fs::read(dir.join(".git/index")).unwrap(),
        git(dir, &["status", "--porcelain", "--ignored"]),
    )
}

#[test]
fn branch_holds_the_intent_and_the_checkout_is_untouched() {
    let (d, r) = repo_with(&[
        ("a.txt", "one\ntwo\n"),
        ("gone.txt", "x"),
        ("src/run.sh", "#!/bin/sh\n"),
    ]);
    git(d.path(), &["update-index", "--chmod=+x", "src/run.sh"]);
    git(d.path(), &["commit", "-q", "-m", "exec"]);
    let before = snapshot(d.path());
    let b = bundle(
        &head(&r),
        vec![
            Op::TextEdit {
                path: "a.txt".into(),
                find: "two".into(),
                replace: "2".into(),
            },
            Op::DeleteFile {
                path: "gone.txt".into(),
            },
            Op::CreateFile {
                path: "new/dir/n.txt".into(),
                content: "new\n".into(),
            },
            Op::TextEdit {
                path: "src/run.sh".into(),
                find: "sh\n".into(),
                replace: "sh\necho hi\n".into(),
            },
        ],
    );
    let info = prepare_branch(&r, "abc123", &b, &BotIdentity::default()).unwrap();
    assert!(info.created);
    assert_eq!(info.branch, "oxide/proposals/abc123");
    assert_eq!(
        snapshot(d.path()),
        before,
        "HEAD, index and working files unchanged"
    );

    let show = |p: &str| git(d.path(), &["show", &format!("oxide/proposals/abc123:{p}")]);
    assert_eq!(show("a.txt"), "one\n2\n");
    assert_eq!(show("new/dir/n.txt"), "new\n");
    let ls = git(d.path(), &["ls-tree", "-r", "oxide/proposals/abc123"]);
    assert!(!ls.contains("gone.txt"));
    assert!(
        ls.lines()
            .any(|l| l.starts_with("100755") && l.ends_with("src/run.sh")),
        "{ls}"
    );

    let trailers = git(
        d.path(),
        &[
            "log",
            "-1",
            "--format=%(trailers:only,unfold)%an <%ae>",
            "oxide/proposals/abc123",
        ],
    );
    assert!(
        trailers.contains(&format!("Oxide-Proposal: {}", b.digest().unwrap())),
        "{trailers}"
    );
    assert!(trailers.contains(&format!("Oxide-Skill: {}", b.skill_digest)));
    assert!(trailers.contains("O.X.I.D.E <oxide-bot@oxide.invalid>"));

    // Again: the same branch is found, not remade.
    let again = prepare_branch(&r, "abc123", &b, &BotIdentity::default()).unwrap();
    assert!(!again.created);
    assert_eq!(again.head_commit, info.head_commit);
    // Another bundle under the same name is a conflict.
    let other = bundle(
        &head(&r),
        vec![Op::DeleteFile {
            path: "a.txt".into(),
        }],
    );
    assert_eq!(
        prepare_branch(&r, "abc123", &other, &BotIdentity::default())
            .unwrap_err()
            .code(),
        "GITOPS_BRANCH_CONFLICT"
    );
}

#[test]
fn same_bundle_gives_the_same_commit_in_another_clone() {
    let (d, r) = repo_with(&[("a.txt", "one\n")]);
    let b = bundle(
        &head(&r),
        vec![Op::CreateFile {
            path: "b".into(),
            content: "b".into(),
        }],
    );
    let one = prepare_branch(&r, "p1", &b, &BotIdentity::default()).unwrap();
    let d2 = tempfile::tempdir().unwrap();
    git(d2.path(), &["clone", "-q", d.path().to_str().unwrap(), "c"]);
    let r2 = Repository::open(d2.path().join("c")).unwrap();
    let two = prepare_branch(&r2, "p1", &b, &BotIdentity::default()).unwrap();
    assert_eq!(one.head_commit, two.head_commit);
}

#[test]
fn missing_base_and_inapplicable_intents_are_refused_writing_no_ref() {
    let (_d, r) = repo_with(&[("a.txt", "one\n")]);
    let b = bundle(
        &"1".repeat(40),
        vec![Op::DeleteFile {
            path: "a.txt".into(),
        }],
    );
    let err = prepare_branch(&r, "p", &b, &BotIdentity::default()).unwrap_err();
    assert_eq!(err.code(), "GITOPS_BASE_MISSING");
    assert!(err.to_string().contains(&"1".repeat(40)));
    let b = bundle(
        &head(&r),
        vec![Op::TextEdit {
            path: "a.txt".into(),
            find: "zzz".into(),
            replace: "".into(),
        }],
    );
    let err = prepare_branch(&r, "p", &b, &BotIdentity::default()).unwrap_err();
    assert_eq!(err.code(), "GITOPS_DOES_NOT_APPLY");
    assert!(err.to_string().contains("/intent/ops/0"), "{err}");
    assert!(r.find_reference("refs/heads/oxide/proposals/p").is_err());
}

#[test]
fn target_moves_supersede_only_when_the_intent_breaks() {
    let (d, r) = repo_with(&[("a.txt", "one\n"), ("b.txt", "bee\n")]);
    let b = bundle(
        &head(&r),
        vec![Op::TextEdit {
            path: "a.txt".into(),
            find: "one".into(),
            replace: "1".into(),
        }],
    );
    let st = target_status(&r, "main", &b).unwrap();
    assert!(!st.moved && !st.superseded());
    // Unrelated change: moved, still applies.
    std::fs::write(d.path().join("b.txt"), "B\n").unwrap();
    git(d.path(), &["commit", "-qam", "b"]);
    let st = target_status(&r, "main", &b).unwrap();
    assert!(st.moved && !st.superseded());
    // The edited line changes: superseded.
    std::fs::write(d.path().join("a.txt"), "uno\n").unwrap();
    git(d.path(), &["commit", "-qam", "a"]);
    let st = target_status(&r, "main", &b).unwrap();
    assert!(st.superseded(), "{st:?}");
    assert_eq!(st.problems[0].pointer, "/intent/ops/0/find");
    assert_eq!(
        target_status(&r, "nope", &b).unwrap_err().code(),
        "GITOPS_NO_TARGET"
    );
}

#[test]
fn worktrees_come_and_go_without_a_trace() {
    let (d, r) = repo_with(&[("a.txt", "one\n")]);
    let b = bundle(
        &head(&r),
        vec![Op::CreateFile {
            path: "b.txt".into(),
            content: "b\n".into(),
        }],
    );
    let info = prepare_branch(&r, "w1", &b, &BotIdentity::default()).unwrap();
    let parent = tempfile::tempdir().unwrap();
    let path = parent.path().join("wt");
    let name = format!("{WORKTREE_PREFIX}w1");
    let at = Oid::from_str(&info.head_commit).unwrap();
    add_worktree(&r, &name, &path, at).unwrap();
    assert_eq!(std::fs::read_to_string(path.join("b.txt")).unwrap(), "b\n");
    // Detached at the commit id; the private branch it was added on is gone.
    assert_eq!(git(&path, &["rev-parse", "HEAD"]).trim(), info.head_commit);
    let o = Command::new("git")
        .current_dir(&path)
        .args(["symbolic-ref", "-q", "HEAD"])
        .output()
        .unwrap();
    assert!(!o.status.success(), "HEAD is detached, not on a branch");
    assert!(r.find_branch(&name, git2::BranchType::Local).is_err());
    assert!(git(&path, &["status", "--porcelain"]).is_empty());
    assert_eq!(validation_worktrees(&r).unwrap(), vec![name.clone()]);
    let listed_line = format!("worktree {}", path.display());
    let listed = git(d.path(), &["worktree", "list", "--porcelain"]);
    assert!(listed.lines().any(|l| l == listed_line), "{listed}");
    remove_worktree(&r, &name, Some(&path)).unwrap();
    assert!(!path.exists());
    assert!(validation_worktrees(&r).unwrap().is_empty());
    // the removed worktree's own path, not a substring a random temp dir name may hold
    let listed = git(d.path(), &["worktree", "list", "--porcelain"]);
    assert!(!listed.lines().any(|l| l == listed_line), "{listed}");
    // Removing again is fine.
    remove_worktree(&r, &name, Some(&path)).unwrap();
}

/// Commits `tree_files` on top of `parent` with `message`, as a forger with ref access would.
fn forge(r: &Repository, parent: &str, message: &str, tree_files: &[(&str, &str)]) -> Oid {
    let parent = r.find_commit(Oid::from_str(parent).unwrap()).unwrap();
    let mut upd = TreeUpdateBuilder::new();
    for (p, c) in tree_files {
        upd.upsert(*p, r.blob(c.as_bytes()).unwrap(), FileMode::Blob);
    }
    let tree = upd.create_updated(r, &parent.tree().unwrap()).unwrap();
    let tree = r.find_tree(tree).unwrap();
    let sig = Signature::new("O.X.I.D.E", "oxide-bot@oxide.invalid", &Time::new(0, 0)).unwrap();
    r.commit(None, &sig, &sig, message, &tree, &[&parent])
        .unwrap()
}

#[test]
fn the_branch_commit_is_computed_from_the_bundle_alone() {
    let (d, r) = repo_with(&[("a.txt", "one\n")]);
    let b = bundle(
        &head(&r),
        vec![Op::CreateFile {
            path: "b".into(),
            content: "b".into(),
        }],
    );
    let bot = BotIdentity::default();
    let expected = expected_commit(&r, &b, &bot).unwrap();
    // Computing writes no commit object and no ref.
    assert!(r.find_commit(expected).is_err());
    assert!(verify_branch(&r, "p1", &b, &bot).is_err());
    let made = prepare_branch(&r, "p1", &b, &bot).unwrap();
    assert_eq!(made.head_commit, expected.to_string());
    assert_eq!(verify_branch(&r, "p1", &b, &bot).unwrap(), expected);
    // Another clone, another time: the same id, before and after making the branch there.
    let d2 = tempfile::tempdir().unwrap();
    git(d2.path(), &["clone", "-q", d.path().to_str().unwrap(), "c"]);
    let r2 = Repository::open(d2.path().join("c")).unwrap();
    assert_eq!(expected_commit(&r2, &b, &bot).unwrap(), expected);
    prepare_branch(&r2, "p1", &b, &bot).unwrap();
    assert_eq!(verify_branch(&r2, "p1", &b, &bot).unwrap(), expected);
    // A different bundle time is a different commit.
    let mut later = b.clone();
    later.created_at = "2026-11-22T05:00:00.000Z".into();
    assert_ne!(expected_commit(&r, &later, &bot).unwrap(), expected);
}

#[test]
fn a_forged_branch_with_the_right_parent_and_trailer_is_detected() {
    let (_d, r) = repo_with(&[("a.txt", "one\n")]);
    let base = head(&r);
    let b = bundle(
        &base,
        vec![Op::CreateFile {
            path: "b".into(),
            content: "b".into(),
        }],
    );
    let bot = BotIdentity::default();
    let digest = b.digest().unwrap();
    let msg = commit_message(&b, &digest);
    // Same parent, same message and trailers, same identity and time: only the tree differs.
    let forged = forge(&r, &base, &msg, &[("b", "b"), ("evil.sh", "rm -rf /")]);
    r.reference("refs/heads/oxide/proposals/p1", forged, false, "forge")
        .unwrap();
    let err = prepare_branch(&r, "p1", &b, &bot).unwrap_err();
    assert_eq!(err.code(), "GITOPS_BRANCH_FORGED");
    assert!(err.to_string().contains(&forged.to_string()), "{err}");
    // The forged ref is left for inspection, not reused or reset.
    let at = r.find_reference("refs/heads/oxide/proposals/p1").unwrap();
    assert_eq!(at.target(), Some(forged));
    let err = verify_branch(&r, "p1", &b, &bot).unwrap_err();
    match &err {
        GitopsError::BranchForged {
            expected, found, ..
        } => {
            assert_eq!(found, &forged.to_string());
            assert_eq!(
                expected,
                &expected_commit(&r, &b, &bot).unwrap().to_string()
            );
        }
        other => panic!("{other:?}"),
    }
    // A branch made honestly and then moved is caught by verify_branch.
    let b2 = bundle(
        &base,
        vec![Op::CreateFile {
            path: "c".into(),
            content: "c".into(),
        }],
    );
    prepare_branch(&r, "p2", &b2, &bot).unwrap();
    let moved = forge(
        &r,
        &base,
        &commit_message(&b2, &b2.digest().unwrap()),
        &[("c", "x")],
    );
    r.reference("refs/heads/oxide/proposals/p2", moved, true, "move")
        .unwrap();
    assert_eq!(
        verify_branch(&r, "p2", &b2, &bot).unwrap_err().code(),
        "GITOPS_BRANCH_FORGED"
    );
    // A deleted branch is not the bundle's either.
    r.find_reference("refs/heads/oxide/proposals/p2")
        .unwrap()
        .delete()
        .unwrap();
    let err = verify_branch(&r, "p2", &b2, &bot).unwrap_err();
    assert!(err.to_string().contains("found no branch"), "{err}");
}
