use super::*;
use proptest::prelude::*;
use serde_json::json;

fn create(path: &str, content: &str) -> Op {
    Op::CreateFile {
        path: path.into(),
        content: content.into(),
    }
}
fn edit(path: &str, find: &str, replace: &str) -> Op {
    Op::TextEdit {
        path: path.into(),
        find: find.into(),
        replace: replace.into(),
    }
}
fn del(path: &str) -> Op {
    Op::DeleteFile { path: path.into() }
}
fn jp(path: &str, patch: Value) -> Op {
    Op::JsonPatch {
        path: path.into(),
        patch: patch.as_array().unwrap().clone(),
    }
}
fn base() -> MapBase {
    MapBase::new()
        .with_file("README.md", "# demo\nhello world\n")
        .with_file("src/lib.rs", "fn a() {}\nfn b() {}\n")
        .with_file("config.json", "{\"name\": \"demo\", \"tags\": [\"a\"]}")
        .with_file("bin.dat", vec![0xff, 0xfe, 0x00])
        .with_symlink("link")
        .with_symlink("docs/escape")
}
fn problems(ops: &[Op]) -> Vec<(String, String)> {
    apply_ops(&base(), ops)
        .unwrap_err()
        .into_iter()
        .map(|p| (p.pointer, p.code))
        .collect()
}

#[test]
fn applies_every_kind_of_op() {
    let ops = vec![
        create("src/new.rs", "pub fn n() {}\n"),
        edit("README.md", "hello world", "hello oxide"),
        jp(
            "config.json",
            json!([{"op": "add", "path": "/tags/-", "value": "b"}]),
        ),
        del("src/lib.rs"),
    ];
    let ch = apply_ops(&base(), &ops).unwrap();
    assert_eq!(ch.files.len(), 4);
    assert_eq!(
        ch.files["src/new.rs"],
        Change::Write(b"pub fn n() {}\n".to_vec())
    );
    assert_eq!(
        ch.files["README.md"],
        Change::Write(b"# demo\nhello oxide\n".to_vec())
    );
    assert_eq!(ch.files["src/lib.rs"], Change::Delete);
    let Change::Write(j) = &ch.files["config.json"] else {
        panic!()
    };
    let v: Value = serde_json::from_slice(j).unwrap();
    assert_eq!(v, json!({"name": "demo", "tags": ["a", "b"]}));
    assert!(j.ends_with(b"\n"));
}

#[test]
fn path_escapes_are_problems_with_pointers() {
    for (path, code) in [
        ("../etc/passwd", codes::PATH_ESCAPE),
        ("/etc/passwd", codes::PATH_ESCAPE),
        ("C:/x", codes::PATH_ESCAPE),
        ("a/../../b", codes::PATH_ESCAPE),
        (".git/config", codes::PATH_GIT_DIR),
        ("sub/.GIT/hooks/pre-commit", codes::PATH_GIT_DIR),
        ("a//b", codes::PATH_INVALID),
        ("a/", codes::PATH_INVALID),
        ("./a", codes::PATH_INVALID),
        ("a\\b", codes::PATH_INVALID),
        ("", codes::PATH_INVALID),
        ("a\nb", codes::PATH_INVALID),
        ("link", codes::PATH_SYMLINK),
        ("link/inside.txt", codes::PATH_SYMLINK),
        ("docs/escape/x", codes::PATH_SYMLINK),
        ("README.md/x", codes::PATH_PARENT_NOT_DIR),
    ] {
        assert_eq!(
            problems(&[create(path, "x")]),
            vec![("/intent/ops/0/path".to_string(), code.to_string())],
            "path {path:?}"
        );
    }
}

#[test]
fn existence_rules() {
    assert_eq!(
        problems(&[create("README.md", "x")])[0].1,
        codes::FILE_EXISTS
    );
    assert_eq!(problems(&[create("src", "x")])[0].1, codes::FILE_EXISTS);
    assert_eq!(problems(&[del("nope")])[0].1, codes::FILE_MISSING);
    assert_eq!(
        problems(&[edit("nope", "a", "b")])[0].1,
        codes::FILE_MISSING
    );
    assert_eq!(
        problems(&[jp("nope.json", json!([{"op": "remove", "path": "/a"}]))])[0].1,
        codes::FILE_MISSING
    );
    assert_eq!(problems(&[del("src")])[0].1, codes::FILE_MISSING);
}

#[test]
fn text_edit_must_match_exactly_once() {
    assert_eq!(
        problems(&[edit("src/lib.rs", "fn ", "pub fn ")]),
        vec![("/intent/ops/0/find".into(), codes::FIND_AMBIGUOUS.into())]
    );
    assert_eq!(
        problems(&[edit("README.md", "absent", "x")]),
        vec![("/intent/ops/0/find".into(), codes::FIND_NOT_FOUND.into())]
    );
    assert_eq!(
        problems(&[edit("README.md", "", "x")])[0].1,
        codes::FIND_EMPTY
    );
    assert_eq!(
        problems(&[edit("bin.dat", "a", "x")])[0].1,
        codes::FILE_NOT_TEXT
    );
    // Overlapping occurrences are ambiguous too.
    let b = MapBase::new().with_file("a.txt", "aaa");
    let err = apply_ops(&b, &[edit("a.txt", "aa", "b")]).unwrap_err();
    assert_eq!(err[0].code, codes::FIND_AMBIGUOUS);
}

#[test]
fn json_patch_problems_point_at_the_failing_operation() {
    let p = problems(&[jp(
        "config.json",
        json!([
            {"op": "add", "path": "/x", "value": 1},
            {"op": "remove", "path": "/missing"}
        ]),
    )]);
    assert_eq!(
        p,
        vec![("/intent/ops/0/patch/1".into(), codes::PATCH_FAILED.into())]
    );
    let p = problems(&[jp(
        "config.json",
        json!([{"op": "frobnicate", "path": "/x"}]),
    )]);
    assert_eq!(
        p,
        vec![(
            "/intent/ops/0/patch/0".into(),
            codes::PATCH_INVALID_OP.into()
        )]
    );
    let p = problems(&[jp("README.md", json!([{"op": "remove", "path": "/a"}]))]);
    assert_eq!(p[0].1, codes::FILE_NOT_JSON);
    let p = problems(&[jp("config.json", json!([]))]);
    assert_eq!(
        p[0],
        ("/intent/ops/0/patch".into(), codes::PATCH_EMPTY.into())
    );
    // A failing test op is a problem, and nothing of the patch is kept.
    let p = problems(&[jp(
        "config.json",
        json!([{"op": "test", "path": "/name", "value": "other"}]),
    )]);
    assert_eq!(p[0].1, codes::PATCH_FAILED);
}

#[test]
fn every_problem_is_reported_and_ops_are_sequential() {
    let p = problems(&[
        create("../x", "a"),
        edit("README.md", "zzz", "b"),
        create("ok.txt", "one"),
        edit("ok.txt", "one", "two"),
        del(".git/HEAD"),
    ]);
    let ptrs: Vec<_> = p.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        ptrs,
        [
            "/intent/ops/0/path",
            "/intent/ops/1/find",
            "/intent/ops/4/path"
        ]
    );
    assert_eq!(
        problems(&[]),
        vec![("/intent/ops".into(), codes::NO_OPS.into())]
    );
    // Create then delete: no net change. Delete then create: a write.
    let ch = apply_ops(&base(), &[create("t.txt", "x"), del("t.txt")]).unwrap();
    assert!(ch.files.is_empty());
    let ch = apply_ops(&base(), &[del("README.md"), create("README.md", "new")]).unwrap();
    assert_eq!(ch.files["README.md"], Change::Write(b"new".to_vec()));
    // Editing twice works on the result of the first edit.
    let ch = apply_ops(
        &base(),
        &[
            edit("README.md", "hello", "hi"),
            edit("README.md", "hi world", "hi there"),
        ],
    )
    .unwrap();
    assert_eq!(
        ch.files["README.md"],
        Change::Write(b"# demo\nhi there\n".to_vec())
    );
    // A file created by an earlier op blocks a path below it.
    let p = apply_ops(&base(), &[create("d", "x"), create("d/e", "y")]).unwrap_err();
    assert_eq!(p[0].code, codes::PATH_PARENT_NOT_DIR);
}

#[test]
fn closures_make_a_base() {
    let b = FnBase {
        read: |p: &str| (p == "a.txt").then(|| b"x = 1\n".to_vec()),
        is_symlink: |p: &str| p == "l",
    };
    let ch = apply_ops(&b, &[edit("a.txt", "1", "2")]).unwrap();
    assert_eq!(ch.files["a.txt"], Change::Write(b"x = 2\n".to_vec()));
    assert_eq!(
        apply_ops(&b, &[create("l/x", "")]).unwrap_err()[0].code,
        codes::PATH_SYMLINK
    );
}

#[test]
fn limits() {
    let mut intent = crate::proposal::Intent {
        rationale: "r".repeat(MAX_RATIONALE_BYTES + 1),
        risk_hints: vec!["h".into(); MAX_RISK_HINTS + 1],
        ops: vec![del("a"); MAX_OPS + 1],
    };
    let ptrs: Vec<_> = check_limits(&intent)
        .into_iter()
        .map(|p| p.pointer)
        .collect();
    assert_eq!(
        ptrs,
        ["/intent/rationale", "/intent/risk_hints", "/intent/ops"]
    );
    intent.rationale = "ok".into();
    intent.risk_hints = vec![];
    intent.ops = vec![jp(
        "c.json",
        Value::Array(vec![
            json!({"op": "remove", "path": "/a"});
            MAX_PATCH_OPS + 1
        ]),
    )];
    assert_eq!(check_limits(&intent)[0].pointer, "/intent/ops/0/patch");
}

#[test]
fn pointer_tokens_are_escaped() {
    assert_eq!(pointer_token("a/b~c"), "a~1b~0c");
}

fn segment() -> impl Strategy<Value = String> {
    "[a-z]{1,6}(\\.[a-z]{1,3})?"
}

proptest! {
    // A unique marker in a file: replacing it is exactly a splice, and applying the
    // same ops twice to the same base gives the same bytes (determinism).
    #[test]
    fn text_edit_splices_exactly(prefix in "[a-z \n]{0,40}", suffix in "[a-z \n]{0,40}", replace in "[ -~]{0,20}") {
        let marker = "<<MARK>>";
        let content = format!("{prefix}{marker}{suffix}");
        let b = MapBase::new().with_file("f.txt", content.clone());
        let ops = vec![edit("f.txt", marker, &replace)];
        let ch = apply_ops(&b, &ops).unwrap();
        let want = format!("{prefix}{replace}{suffix}");
        if want == content {
            prop_assert!(ch.files.is_empty());
        } else {
            prop_assert_eq!(&ch.files["f.txt"], &Change::Write(want.into_bytes()));
        }
        prop_assert_eq!(apply_ops(&b, &ops).unwrap(), ch);
    }

    // A find text that occurs k times applies only when k == 1.
    #[test]
    fn text_edit_applies_iff_unique(k in 0usize..4, filler in "[a-z]{1,5}") {
        let content = std::iter::repeat_n(format!("{filler}#X#"), k).collect::<String>() + &filler;
        let b = MapBase::new().with_file("f.txt", content);
        let r = apply_ops(&b, &[edit("f.txt", "#X#", "y")]);
        prop_assert_eq!(r.is_ok(), k == 1);
        if let Err(p) = r {
            prop_assert_eq!(&p[0].pointer, "/intent/ops/0/find");
        }
    }

    // Any path with a `..`, `.git` or empty component is refused, whatever surrounds it.
    #[test]
    fn bad_components_are_always_refused(
        before in proptest::collection::vec(segment(), 0..3),
        after in proptest::collection::vec(segment(), 0..3),
        bad in prop_oneof![Just(".."), Just(".git"), Just(""), Just("."), Just(".Git")],
    ) {
        let mut comps = before.clone();
        comps.push(bad.to_string());
        comps.extend(after.clone());
        let path = comps.join("/");
        let r = apply_ops(&MapBase::new(), &[create(&path, "x")]);
        let is_trailing_empty = bad.is_empty() && after.is_empty() && !before.is_empty();
        prop_assert!(r.is_err(), "path {:?} was accepted (trailing-empty: {})", path, is_trailing_empty);
        prop_assert_eq!(&r.unwrap_err()[0].pointer, "/intent/ops/0/path");
    }

    // Good relative paths create files with exactly the given content; re-creating fails.
    #[test]
    fn creating_then_recreating(comps in proptest::collection::vec(segment(), 1..4), content in "[ -~\n]{0,50}") {
        let path = comps.join("/");
        let ch = apply_ops(&MapBase::new(), &[create(&path, &content)]).unwrap();
        prop_assert_eq!(&ch.files[&path], &Change::Write(content.clone().into_bytes()));
        let b = MapBase::new().with_file(&path, content.clone());
        let err = apply_ops(&b, &[create(&path, "y")]).unwrap_err();
        prop_assert_eq!(&err[0].code, codes::FILE_EXISTS);
    }

    // json_patch `add` then the result still parses and holds the value; `remove` of an
    // absent key never applies.
    #[test]
    fn json_patch_add_and_remove(key in "[a-z]{1,8}", n in any::<i32>()) {
        let b = MapBase::new().with_file("c.json", "{\"keep\": true}");
        let ch = apply_ops(&b, &[jp("c.json", json!([{"op": "add", "path": format!("/{key}"), "value": n}]))]).unwrap();
        let Change::Write(bytes) = &ch.files["c.json"] else { panic!("not a write") };
        let v: Value = serde_json::from_slice(bytes).unwrap();
        prop_assert_eq!(&v[&key], &json!(n));
        let absent = format!("/{key}_absent");
        let err = apply_ops(&b, &[jp("c.json", json!([{"op": "remove", "path": absent}]))]).unwrap_err();
        prop_assert_eq!(&err[0].pointer, "/intent/ops/0/patch/0");
    }
}

#[test]
fn invisible_and_look_alike_space_characters_are_refused_in_paths() {
    for p in [
        "Secrets\u{200B}/token",
        "a\u{200D}b.txt",
        "\u{FEFF}src/lib.rs",
        "src/\u{202E}txt.exe",
        "docs/a\u{00A0}b.md",
        "x\u{2028}y",
        "tag\u{E0041}.txt",
    ] {
        let (code, message) = check_path(p).expect_err(p);
        assert_eq!(code, codes::PATH_INVALID, "{p}");
        assert!(message.contains("invisible character U+"), "{p}: {message}");
    }
    for p in ["docs/a b.md", "données/é.txt", "日本語/ファイル.rs"] {
        assert_eq!(check_path(p), Ok(()), "{p}");
    }
}

fn mem(key: &str, value: Value) -> Op {
    Op::MemorySet {
        namespace: crate::proposal::MemoryNamespace::Behavior,
        key: key.into(),
        value,
    }
}

#[test]
fn memory_ops_change_no_file_and_are_checked_on_their_own() {
    // A memory-only intent applies and changes no file.
    let ok = apply_ops(&base(), &[mem("review.tone", json!({"style": "terse"}))]).unwrap();
    assert!(ok.files.is_empty());
    // Mixed with a file op, only the file changes.
    let mixed = apply_ops(
        &base(),
        &[
            mem("review.tone", json!(null)),
            edit("README.md", "hello", "bye"),
        ],
    )
    .unwrap();
    assert_eq!(mixed.files.keys().collect::<Vec<_>>(), ["README.md"]);
    let huge = "x".repeat(MAX_MEMORY_VALUE_BYTES + 1);
    assert_eq!(
        problems(&[
            mem("", json!(1)),
            mem(&"k".repeat(201), json!(1)),
            mem("bell\u{7}", json!(1)),
            mem("big", json!(huge)),
            mem("twice", json!(1)),
            mem("twice", json!(2)),
        ]),
        [
            (
                "/intent/ops/0/key".to_string(),
                codes::MEMORY_KEY.to_string()
            ),
            (
                "/intent/ops/1/key".to_string(),
                codes::MEMORY_KEY.to_string()
            ),
            (
                "/intent/ops/2/key".to_string(),
                codes::MEMORY_KEY.to_string()
            ),
            (
                "/intent/ops/3/value".to_string(),
                codes::MEMORY_VALUE_TOO_LARGE.to_string()
            ),
            (
                "/intent/ops/5/key".to_string(),
                codes::MEMORY_DUPLICATE.to_string()
            ),
        ]
    );
}
