use std::process::Command;

use git2::{build::TreeUpdateBuilder, FileMode, Repository, Signature, Time};
use proptest::prelude::*;

use super::*;
use crate::gitops::{prepare_branch, BotIdentity};
use crate::proposal::Op;

/// A repository made with git2 in a temp dir: one commit on `main` holding `files`.
fn repo_with(files: &[(&str, &[u8], FileMode)]) -> (tempfile::TempDir, Repository, String) {
    let d = tempfile::tempdir().unwrap();
    let repo = Repository::init(d.path()).unwrap();
    let empty = repo.treebuilder(None).unwrap().write().unwrap();
    let empty = repo.find_tree(empty).unwrap();
    let mut upd = TreeUpdateBuilder::new();
    for (p, c, m) in files {
        upd.upsert(*p, repo.blob(c).unwrap(), *m);
    }
    let tree = repo
        .find_tree(upd.create_updated(&repo, &empty).unwrap())
        .unwrap();
    let sig = Signature::new("T", "t@e.invalid", &Time::new(1_700_000_000, 0)).unwrap();
    let c = repo
        .commit(Some("refs/heads/main"), &sig, &sig, "init", &tree, &[])
        .unwrap();
    repo.set_head("refs/heads/main").unwrap();
    drop(tree);
    drop(empty);
    (d, repo, c.to_string())
}

fn text(files: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static [u8], FileMode)> {
    files
        .iter()
        .map(|(p, c)| (*p, c.as_bytes(), FileMode::Blob))
        .collect()
}

fn bundle(base: &str, ops: Vec<Op>) -> Bundle {
    crate::proposal::manual_bundle(base, "review diff", ops)
}

fn edit(path: &str, find: &str, replace: &str) -> Op {
    Op::TextEdit {
        path: path.into(),
        find: find.into(),
        replace: replace.into(),
    }
}

fn create(path: &str, content: &str) -> Op {
    Op::CreateFile {
        path: path.into(),
        content: content.into(),
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("UTF-8 diff output")
}

fn render(hunks: &[Hunk]) -> String {
    let mut s = String::new();
    for h in hunks {
        s.push_str(&format!(
            "@@ -{},{} +{},{} @@\n",
            h.old_start, h.old_lines, h.new_start, h.new_lines
        ));
        for l in &h.lines {
            s.push(match l.kind {
                LineKind::Context => ' ',
                LineKind::Add => '+',
                LineKind::Del => '-',
            });
            s.push_str(&l.text);
            s.push('\n');
        }
    }
    s
}

fn only(view: &DiffView) -> &FileDiff {
    assert!(view.problems.is_empty(), "{:?}", view.problems);
    assert_eq!(view.files.len(), 1, "{:?}", view.files);
    &view.files[0]
}

#[test]
fn a_created_file_is_added_with_its_mode_and_lines() {
    let (d, _r, base) = repo_with(&text(&[("a.txt", "a\n")]));
    let v = review_diff(
        d.path(),
        "p1",
        &bundle(&base, vec![create("n/x.txt", "x\ny\n")]),
    )
    .unwrap();
    let f = only(&v);
    assert_eq!((f.path.as_str(), f.change), ("n/x.txt", FileChange::Added));
    assert_eq!(
        (f.old_mode.as_deref(), f.new_mode.as_deref()),
        (None, Some("100644"))
    );
    assert_eq!((f.old_size, f.new_size, f.binary), (0, 4, false));
    assert_eq!(render(&f.hunks), "@@ -0,0 +1,2 @@\n+x\n+y\n");
    assert_eq!(v.base_commit.as_deref(), Some(base.as_str()));
    assert_eq!(v.branch, None, "no branch yet: the tree the bundle gives");
    assert!(v.head_tree.is_some() && v.head_tree != v.base_tree);
}

#[test]
fn a_deleted_file_shows_every_removed_line() {
    let (d, _r, base) = repo_with(&text(&[("a.txt", "a\n"), ("gone.txt", "one\ntwo\n")]));
    let ops = vec![Op::DeleteFile {
        path: "gone.txt".into(),
    }];
    let v = review_diff(d.path(), "p1", &bundle(&base, ops)).unwrap();
    let f = only(&v);
    assert_eq!(
        (f.path.as_str(), f.change),
        ("gone.txt", FileChange::Deleted)
    );
    assert_eq!(
        (f.old_mode.as_deref(), f.new_mode.as_deref()),
        (Some("100644"), None)
    );
    assert_eq!(render(&f.hunks), "@@ -1,2 +0,0 @@\n-one\n-two\n");
}

#[test]
fn an_edited_word_is_marked_inside_the_paired_lines() {
    let (d, _r, base) = repo_with(&text(&[(
        "c.toml",
        "[net]\nretries = 3 # per call\nport = 80\n",
    )]));
    let v = review_diff(
        d.path(),
        "p1",
        &bundle(&base, vec![edit("c.toml", "= 3", "= 5")]),
    )
    .unwrap();
    let f = only(&v);
    assert_eq!(f.change, FileChange::Modified);
    assert_eq!(
        render(&f.hunks),
        "@@ -1,3 +1,3 @@\n [net]\n-retries = 3 # per call\n+retries = 5 # per call\n port = 80\n"
    );
    let lines = &f.hunks[0].lines;
    let spans = |l: &DiffLine| -> Vec<(String, bool)> {
        l.spans
            .iter()
            .map(|s| (s.text.clone(), s.changed))
            .collect()
    };
    assert_eq!(
        spans(&lines[1]),
        [
            ("retries = ".into(), false),
            ("3".into(), true),
            (" # per call".into(), false)
        ]
    );
    assert_eq!(
        spans(&lines[2]),
        [
            ("retries = ".into(), false),
            ("5".into(), true),
            (" # per call".into(), false)
        ]
    );
    assert!(
        lines[0].spans.is_empty() && lines[3].spans.is_empty(),
        "context has no spans"
    );
    for l in lines {
        if !l.spans.is_empty() {
            let joined: String = l.spans.iter().map(|s| s.text.as_str()).collect();
            assert_eq!(joined, l.text);
        }
    }
}

#[test]
fn binary_files_are_shown_as_binary_not_as_text() {
    let png: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    let latin1: &[u8] = b"caf\xe9\n";
    let (d, _r, base) = repo_with(&[
        ("logo.png", png, FileMode::Blob),
        ("old.txt", latin1, FileMode::Blob),
        ("a.txt", b"a\n", FileMode::Blob),
    ]);
    let ops = vec![
        Op::DeleteFile {
            path: "logo.png".into(),
        },
        create("blob.bin", "a\0b"),
        Op::DeleteFile {
            path: "old.txt".into(),
        },
    ];
    let v = review_diff(d.path(), "p1", &bundle(&base, ops)).unwrap();
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    let got: Vec<_> = v
        .files
        .iter()
        .map(|f| {
            (
                f.path.as_str(),
                f.change,
                f.binary,
                f.hunks.len(),
                f.old_size,
                f.new_size,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("blob.bin", FileChange::Added, true, 0, 0, 3),
            (
                "logo.png",
                FileChange::Deleted,
                true,
                0,
                png.len() as u64,
                0
            ),
            // Not UTF-8: binary rather than replacement characters.
            (
                "old.txt",
                FileChange::Deleted,
                true,
                0,
                latin1.len() as u64,
                0
            ),
        ]
    );
}

#[test]
fn a_one_mebibyte_single_line_is_one_whole_line_without_word_spans() {
    let big = "x".repeat(1 << 20);
    let (d, _r, base) = repo_with(&text(&[("a.txt", "a\n")]));
    // 1 MiB with its newline: the largest file an intent may produce.
    let huge = format!("{}y", "x".repeat((1 << 20) - 2));
    let ops = vec![create("big.txt", &big), edit("a.txt", "a", &huge)];
    let v = review_diff(d.path(), "p1", &bundle(&base, ops)).unwrap();
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    let a = &v.files[0];
    assert_eq!((a.path.as_str(), a.binary), ("a.txt", false));
    let l = &a.hunks[0].lines;
    assert_eq!(l.len(), 2);
    assert_eq!((l[0].kind, l[0].text.as_str()), (LineKind::Del, "a"));
    assert_eq!((l[1].kind, l[1].text.len()), (LineKind::Add, (1 << 20) - 1));
    assert!(
        l[0].spans.is_empty() && l[1].spans.is_empty(),
        "too long for word spans"
    );
    let b = &v.files[1];
    assert_eq!(
        (b.path.as_str(), b.change, b.new_size),
        ("big.txt", FileChange::Added, 1 << 20)
    );
    let l = &b.hunks[0].lines;
    assert_eq!(l.len(), 1, "one line, however long");
    assert_eq!(l[0].text, big);
    assert_eq!(l[0].flags, [LineFlag::NoNewlineAtEnd]);
}

#[test]
fn a_move_is_shown_as_a_rename_like_git() {
    let body = "one\ntwo\nthree\nfour\nfive\n";
    let (d, _r, base) = repo_with(&text(&[("src/old.rs", body)]));
    let ops = vec![
        Op::DeleteFile {
            path: "src/old.rs".into(),
        },
        create("src/new.rs", body),
    ];
    let v = review_diff(d.path(), "p1", &bundle(&base, ops)).unwrap();
    let f = only(&v);
    assert_eq!(
        (
            f.path.as_str(),
            f.old_path.as_deref(),
            f.change,
            f.hunks.len()
        ),
        ("src/new.rs", Some("src/old.rs"), FileChange::Renamed, 0)
    );
}

#[test]
fn hidden_characters_are_flagged_on_their_lines() {
    let (d, _r, base) = repo_with(&text(&[(
        "x.sh",
        "check=on\r\nmode=strict\nuser=admin\nlast",
    )]));
    let ops = vec![
        // LF → CRLF only: the find text and its replacement read the same.
        edit("x.sh", "strict\n", "strict\r\n"),
        // Cyrillic 'а' for the Latin 'a'.
        edit("x.sh", "admin", "\u{0430}dmin"),
        edit("x.sh", "last", "last \u{200B}"),
    ];
    let v = review_diff(d.path(), "p1", &bundle(&base, ops)).unwrap();
    let all = &only(&v).hunks[0].lines;
    let lines: Vec<_> = all
        .iter()
        .map(|l| (l.kind, l.text.as_str(), l.flags.clone()))
        .collect();
    use LineFlag::*;
    use LineKind::*;
    assert_eq!(
        lines,
        [
            (Context, "check=on\r", vec![CarriageReturn]),
            (Del, "mode=strict", vec![]),
            (Del, "user=admin", vec![]),
            (Del, "last", vec![NoNewlineAtEnd]),
            (Add, "mode=strict\r", vec![CarriageReturn]),
            (Add, "user=\u{0430}dmin", vec![NonAscii]),
            (
                Add,
                "last \u{200B}",
                vec![NonAscii, Invisible, NoNewlineAtEnd]
            ),
        ]
    );
    // The hidden characters are their own marked spans (after the word changes).
    let spans = |l: &DiffLine| -> Vec<(String, bool, Option<LineFlag>)> {
        l.spans
            .iter()
            .map(|s| (s.text.clone(), s.changed, s.mark))
            .collect()
    };
    assert_eq!(
        spans(&all[0]),
        [
            ("check=on".into(), false, None),
            ("\r".into(), false, Some(CarriageReturn))
        ]
    );
    assert_eq!(spans(&all[1]), [("mode=strict".into(), false, None)]);
    assert_eq!(
        spans(&all[4]),
        [
            ("mode=strict".into(), false, None),
            ("\r".into(), true, Some(CarriageReturn))
        ]
    );
    assert_eq!(
        spans(&all[5]),
        [
            // One word (no space in it): changed as a whole.
            ("user=".into(), true, None),
            ("\u{0430}".into(), true, Some(NonAscii)),
            ("dmin".into(), true, None)
        ]
    );
    assert_eq!(
        spans(&all[6]),
        [
            ("last".into(), false, None),
            (" ".into(), true, None),
            ("\u{200B}".into(), true, Some(Invisible))
        ]
    );
    let trail = mark_spans("a  \r", vec![]);
    assert_eq!(
        trail
            .iter()
            .map(|s| (s.text.as_str(), s.mark))
            .collect::<Vec<_>>(),
        [
            ("a", None),
            ("  ", Some(TrailingWhitespace)),
            ("\r", Some(CarriageReturn))
        ]
    );
    assert!(
        mark_spans("plain text", vec![]).is_empty(),
        "a plain line needs no spans"
    );
    assert_eq!(line_flags("a \t"), [TrailingWhitespace]);
    assert_eq!(line_flags("a \r"), [CarriageReturn, TrailingWhitespace]);
    assert_eq!(line_flags("\u{202E}evil"), [NonAscii, Invisible]);
    assert_eq!(line_flags("esc\u{1b}[2J"), [Invisible]);
    assert!(line_flags("plain\ttext").is_empty());
}

#[test]
fn showing_a_diff_writes_nothing_to_the_repository() {
    let (d, r, base) = repo_with(&text(&[("a.txt", "a\n")]));
    let content = "a brand-new blob 7f3c\n";
    let id = Oid::hash_object(git2::ObjectType::Blob, content.as_bytes()).unwrap();
    let refs = || -> Vec<String> {
        r.references()
            .unwrap()
            .flatten()
            .map(|x| format!("{:?}={:?}", x.name(), x.target()))
            .collect()
    };
    let before = refs();
    let v = review_diff(
        d.path(),
        "p1",
        &bundle(&base, vec![create("n.txt", content)]),
    )
    .unwrap();
    assert_eq!(only(&v).change, FileChange::Added);
    let fresh = Repository::open(d.path()).unwrap();
    assert!(
        fresh.find_blob(id).is_err(),
        "the new blob stayed in memory"
    );
    assert!(fresh
        .find_tree(v.head_tree.unwrap().parse().unwrap())
        .is_err());
    assert_eq!(refs(), before);
}

#[test]
fn an_intent_that_no_longer_applies_shows_its_problems_and_no_files() {
    let (d, _r, base) = repo_with(&text(&[("a.txt", "a\n")]));
    let v = review_diff(
        d.path(),
        "p1",
        &bundle(&base, vec![edit("a.txt", "zzz", "y")]),
    )
    .unwrap();
    assert!(v.files.is_empty());
    assert!(!v.problems.is_empty());
    assert_eq!(v.head_tree, None);
    let missing = review_diff(d.path(), "p1", &bundle(&"0".repeat(40), vec![])).unwrap();
    assert_eq!(missing.problems[0].code, "BASE_MISSING");
    assert_eq!(missing.base_commit, None);
}

#[test]
fn the_branch_is_what_is_shown_even_when_forged() {
    let (d, r, base) = repo_with(&text(&[("a.txt", "a\n")]));
    let b = bundle(&base, vec![edit("a.txt", "a", "b")]);
    let info = prepare_branch(&r, "p1", &b, &BotIdentity::default()).unwrap();
    let v = review_diff(d.path(), "p1", &b).unwrap();
    assert_eq!(v.branch.as_deref(), Some(info.branch.as_str()));
    assert_eq!(v.head_commit.as_deref(), Some(info.head_commit.as_str()));
    assert_eq!(render(&only(&v).hunks), "@@ -1,1 +1,1 @@\n-a\n+b\n");

    // Someone points the branch at a commit on the same base with another tree.
    let base_c = r.find_commit(base.parse().unwrap()).unwrap();
    let mut upd = TreeUpdateBuilder::new();
    upd.upsert("a.txt", r.blob(b"pwned\n").unwrap(), FileMode::Blob);
    let forged = r
        .find_tree(upd.create_updated(&r, &base_c.tree().unwrap()).unwrap())
        .unwrap();
    let sig = Signature::now("x", "x@e.invalid").unwrap();
    let c = r
        .commit(None, &sig, &sig, "forged", &forged, &[&base_c])
        .unwrap();
    r.reference(&format!("refs/heads/{}", info.branch), c, true, "forge")
        .unwrap();
    let v = review_diff(d.path(), "p1", &b).unwrap();
    assert_eq!(v.problems.len(), 1, "{:?}", v.problems);
    assert_eq!(v.problems[0].code, "BRANCH_TREE_MISMATCH");
    assert_eq!(v.head_commit, Some(c.to_string()));
    assert_eq!(render(&v.files[0].hunks), "@@ -1,1 +1,1 @@\n-a\n+pwned\n");
}

#[test]
fn unified_like_git() {
    let (d, _r, base) = repo_with(&text(&[
        ("f", "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n"),
        ("g", "x\n"),
        ("s", "same\n"),
    ]));
    let ops = vec![
        edit("f", "e\n", "E\n"),
        edit("f", "j\n", "j\nk\n"),
        create("h", "x\ny\n"),
        edit("g", "x\n", ""),
    ];
    let v = review_diff(d.path(), "p1", &bundle(&base, ops)).unwrap();
    let got: Vec<_> = v
        .files
        .iter()
        .map(|f| (f.path.as_str(), render(&f.hunks)))
        .collect();
    assert_eq!(
        got,
        [
            (
                "f",
                "@@ -2,9 +2,10 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n i\n j\n+k\n".into()
            ),
            ("g", "@@ -1,1 +0,0 @@\n-x\n".into()),
            ("h", "@@ -0,0 +1,2 @@\n+x\n+y\n".into()),
        ],
        "an unchanged file is not listed"
    );
}

/// The `+`/`-` lines and hunk ranges of `git diff` output, per file in order.
fn git_lines(out: &str) -> Vec<String> {
    let mut v = Vec::new();
    let mut in_header = false;
    for l in out.split('\n') {
        if l.starts_with("diff --git ") {
            in_header = true;
            v.push("file".into());
        } else if let Some(h) = l.strip_prefix("@@ ") {
            in_header = false;
            let r: Vec<(u32, u32)> = h
                .split(" @@")
                .next()
                .unwrap()
                .split(' ')
                .map(|p| {
                    let mut it = p[1..].split(',');
                    let s = it.next().unwrap().parse().unwrap();
                    (s, it.next().map_or(1, |n| n.parse().unwrap()))
                })
                .collect();
            v.push(format!("@@ {:?} {:?}", r[0], r[1]));
        } else if !in_header && (l.starts_with('+') || l.starts_with('-')) {
            v.push(l.to_string());
        }
    }
    v
}

fn view_lines(files: &[FileDiff]) -> Vec<String> {
    let mut v = Vec::new();
    for f in files {
        v.push("file".into());
        for h in &f.hunks {
            v.push(format!(
                "@@ {:?} {:?}",
                (h.old_start, h.old_lines),
                (h.new_start, h.new_lines)
            ));
            for l in &h.lines {
                match l.kind {
                    LineKind::Add => v.push(format!("+{}", l.text)),
                    LineKind::Del => v.push(format!("-{}", l.text)),
                    LineKind::Context => {}
                }
            }
        }
    }
    v
}

#[test]
fn the_review_diff_is_what_git_diff_shows_between_base_and_branch() {
    let code = (1..=40)
        .map(|i| format!("fn f{i}() {{\n    call({i});\n}}\n\n"))
        .collect::<String>();
    let (d, r, base) = repo_with(&[
        ("src/lib.rs", code.as_bytes(), FileMode::Blob),
        ("cfg.ini", b"a=1\r\nb=2\r\n", FileMode::Blob),
        ("README", b"read me\n", FileMode::Blob),
    ]);
    let b = bundle(
        &base,
        vec![
            edit(
                "src/lib.rs",
                "fn f7() {\n    call(7);\n}\n",
                "fn f7() {\n    call(7);\n    call(70);\n}\n",
            ),
            edit("src/lib.rs", "    call(30);\n", "    callx(30) ;  \n"),
            edit("cfg.ini", "b=2\r\n", "b=2\n"),
            edit("README", "read me\n", "read m\u{0435}\nmore"),
            create("new/file.txt", "n\n"),
        ],
    );
    let info = prepare_branch(&r, "p9", &b, &BotIdentity::default()).unwrap();
    let v = review_diff(d.path(), "p9", &b).unwrap();
    assert!(v.problems.is_empty(), "{:?}", v.problems);
    assert_eq!(v.branch.as_deref(), Some(info.branch.as_str()));
    let out = git(
        d.path(),
        &[
            "-c",
            "core.quotepath=off",
            "diff",
            "--no-color",
            "--no-ext-diff",
            "--patience",
            &base,
            &info.branch,
        ],
    );
    assert_eq!(view_lines(&v.files), git_lines(&out), "git diff:\n{out}");
    assert_eq!(v.files.len(), 4);
}

/// A tree holding one file `f` with `content`.
fn tree_of(r: &Repository, content: &str) -> Oid {
    let empty = r
        .find_tree(r.treebuilder(None).unwrap().write().unwrap())
        .unwrap();
    let mut upd = TreeUpdateBuilder::new();
    upd.upsert("f", r.blob(content.as_bytes()).unwrap(), FileMode::Blob);
    upd.create_updated(r, &empty).unwrap()
}

#[test]
fn word_spans_stop_at_the_per_file_budget() {
    let line = |c: char, i: usize| format!("{i:04} {}\n", c.to_string().repeat(3000));
    let old: String = (0..600).map(|i| line('a', i)).collect();
    let new: String = (0..600).map(|i| line('b', i)).collect();
    let (_d, r, _) = repo_with(&[]);
    let (t1, t2) = (tree_of(&r, &old), tree_of(&r, &new));
    let files = tree_diff(&r, &r.find_tree(t1).unwrap(), &r.find_tree(t2).unwrap()).unwrap();
    let lines: Vec<&DiffLine> = files[0].hunks.iter().flat_map(|h| &h.lines).collect();
    assert_eq!(lines.len(), 1200);
    let with = lines.iter().filter(|l| !l.spans.is_empty()).count();
    // 1 MiB of pairs at 2 × 3,005 bytes each: the first 174 pairs, then whole lines.
    assert_eq!(with, 2 * (MAX_INLINE_BYTES_PER_FILE / (2 * 3005)), "{with}");
    assert!(lines[0].spans.iter().any(|s| s.changed));
    assert!(lines.last().unwrap().spans.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    // Whatever the contents, the hunks, added and removed lines are git's.
    #[test]
    fn any_edit_matches_git(old in proptest::collection::vec("[ab]{0,2}", 0..10),
                            new in proptest::collection::vec("[ab]{0,2}", 0..10)) {
        let (o, n) = (old.join("\n"), new.join("\n"));
        let (d, r, _) = repo_with(&[]);
        let (t1, t2) = (tree_of(&r, &o), tree_of(&r, &n));
        let files = tree_diff(&r, &r.find_tree(t1).unwrap(), &r.find_tree(t2).unwrap()).unwrap();
        let out = git(d.path(), &["diff", "--no-color", "--patience", &t1.to_string(), &t2.to_string()]);
        prop_assert_eq!(view_lines(&files), git_lines(&out));
    }
}
