//! Dry-run applicability of intent operations: pure, no I/O of its own.
//!
//! # API (for `gitops`, `synth` and `proposal validate-file`)
//!
//! ```ignore
//! use oxide_core::proposal::apply::{apply_ops, BaseFiles, Change, FileChanges, Problem};
//!
//! // 1. Give it a way to read the base: implement `BaseFiles` (e.g. over a git2 tree —
//! //    `proposal::git_base::GitTreeBase` does exactly that), or use `MapBase` in tests.
//! // 2. Call it with the ops of a bundle's intent:
//! match apply_ops(&base, &bundle.intent.ops) {
//!     Ok(changes) => for (path, change) in &changes.files {
//!         match change {
//!             Change::Write(bytes) => { /* write `bytes` at `path` */ }
//!             Change::Delete => { /* remove `path` */ }
//!         }
//!     },
//!     Err(problems) => for p in problems {
//!         // p.pointer is a JSON pointer into the bundle, e.g. "/intent/ops/3/find"
//!         eprintln!("{}: {} ({})", p.pointer, p.message, p.code);
//!     },
//! }
//! ```
//!
//! Rules (each broken rule is one [`Problem`], all of them are collected, in op order):
//! - a path is repository-relative, `/`-separated, non-empty; no `..` or `.` component, no
//!   empty component (`a//b`, trailing `/`), no leading `/`, no drive letter, no backslash,
//!   no control character, no `.git` component (any case), at most [`MAX_PATH_BYTES`];
//! - no component of the path may be a symlink in the base (so nothing is written through
//!   one), and no parent component may be a file;
//! - `create_file`: the path must not exist (nor be a directory);
//! - `delete_file`, `text_edit`, `json_patch`: the path must exist as a regular file;
//! - `text_edit`: `find` is non-empty and occurs exactly once (overlapping occurrences count)
//!   in the UTF-8 text; 0 or ≥ 2 occurrences is a problem at `/intent/ops/N/find`;
//! - `json_patch`: the file parses as JSON, each operation is RFC 6902 (problem at
//!   `/intent/ops/N/patch/M`), the patch applies as a whole, and the result is written back
//!   as pretty JSON with a trailing newline (so it stays valid JSON);
//! - no resulting file is larger than [`MAX_FILE_BYTES`].
//!
//! Ops apply in order: a later op sees what earlier ops did (create, then edit, works). A
//! failed op leaves the overlay as it was, and checking goes on with the next op so every
//! problem is reported at once. The result lists the net changes against the base; an op
//! sequence that ends where it started (create then delete) yields no change for that path.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::types::Op;

/// Longest accepted path, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// Largest file an intent may produce.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// Read access to the base commit's files. Paths are repository-relative, `/`-separated and
/// have already passed the path rules when these are called.
pub trait BaseFiles {
    /// The bytes of the regular file at `path`, `None` when there is no regular file there
    /// (absent, a directory, a symlink or a submodule).
    fn read(&self, path: &str) -> Option<Vec<u8>>;
    /// Whether `path` is a symlink in the base.
    fn is_symlink(&self, path: &str) -> bool;
    /// Whether `path` is a directory (tree) or a submodule in the base. Readers that cannot
    /// tell may keep the default.
    fn is_dir(&self, _path: &str) -> bool {
        false
    }
}

/// A base held in memory: files by path, and symlink paths. For tests and fixtures.
#[derive(Debug, Clone, Default)]
pub struct MapBase {
    pub files: BTreeMap<String, Vec<u8>>,
    pub symlinks: BTreeSet<String>,
}

impl MapBase {
    pub fn new() -> MapBase {
        MapBase::default()
    }
    pub fn with_file(mut self, path: &str, content: impl Into<Vec<u8>>) -> MapBase {
        self.files.insert(path.to_string(), content.into());
        self
    }
    pub fn with_symlink(mut self, path: &str) -> MapBase {
        self.symlinks.insert(path.to_string());
        self
    }
}

impl BaseFiles for MapBase {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        self.files.get(path).cloned()
    }
    fn is_symlink(&self, path: &str) -> bool {
        self.symlinks.contains(path)
    }
    fn is_dir(&self, path: &str) -> bool {
        let prefix = format!("{path}/");
        self.files.keys().any(|k| k.starts_with(&prefix))
            || self.symlinks.iter().any(|k| k.starts_with(&prefix))
    }
}

/// A base given by two closures: `read(path) -> Option<bytes>` and `is_symlink(path)`.
pub struct FnBase<R, S>
where
    R: Fn(&str) -> Option<Vec<u8>>,
    S: Fn(&str) -> bool,
{
    pub read: R,
    pub is_symlink: S,
}

impl<R, S> BaseFiles for FnBase<R, S>
where
    R: Fn(&str) -> Option<Vec<u8>>,
    S: Fn(&str) -> bool,
{
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        (self.read)(path)
    }
    fn is_symlink(&self, path: &str) -> bool {
        (self.is_symlink)(path)
    }
}

/// One reason an intent does not apply (or a bundle is not valid), located by a JSON pointer
/// into the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Problem {
    /// RFC 6901 pointer into the bundle, e.g. `/intent/ops/3/find`.
    pub pointer: String,
    /// What is wrong and what to do about it.
    pub message: String,
    /// A stable, machine-readable kind: see [`codes`].
    pub code: String,
}

/// The stable `Problem::code` values.
pub mod codes {
    pub const PATH_INVALID: &str = "PATH_INVALID";
    pub const PATH_ESCAPE: &str = "PATH_ESCAPE";
    pub const PATH_GIT_DIR: &str = "PATH_GIT_DIR";
    pub const PATH_SYMLINK: &str = "PATH_SYMLINK";
    pub const PATH_PARENT_NOT_DIR: &str = "PATH_PARENT_NOT_DIR";
    pub const FILE_EXISTS: &str = "FILE_EXISTS";
    pub const FILE_MISSING: &str = "FILE_MISSING";
    pub const FILE_NOT_TEXT: &str = "FILE_NOT_TEXT";
    pub const FILE_TOO_LARGE: &str = "FILE_TOO_LARGE";
    pub const FIND_EMPTY: &str = "FIND_EMPTY";
    pub const FIND_NOT_FOUND: &str = "FIND_NOT_FOUND";
    pub const FIND_AMBIGUOUS: &str = "FIND_AMBIGUOUS";
    pub const FILE_NOT_JSON: &str = "FILE_NOT_JSON";
    pub const PATCH_EMPTY: &str = "PATCH_EMPTY";
    pub const PATCH_INVALID_OP: &str = "PATCH_INVALID_OP";
    pub const PATCH_FAILED: &str = "PATCH_FAILED";
    pub const NO_OPS: &str = "NO_OPS";
    pub const SCHEMA: &str = "SCHEMA";
}

impl Problem {
    pub fn new(pointer: impl Into<String>, code: &str, message: impl Into<String>) -> Problem {
        Problem {
            pointer: pointer.into(),
            message: message.into(),
            code: code.to_string(),
        }
    }
}

/// What happens to one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The file's new full content (created or modified).
    Write(Vec<u8>),
    /// The file is removed.
    Delete,
}

/// The net effect of an intent on the base, by path (sorted).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileChanges {
    pub files: BTreeMap<String, Change>,
}

/// Escapes one RFC 6901 reference token.
pub fn pointer_token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

fn op_ptr(i: usize) -> String {
    format!("/intent/ops/{i}")
}

/// Checks a path against the rules that need no base. `Err` carries (code, message).
pub fn check_path(path: &str) -> Result<(), (&'static str, String)> {
    if path.is_empty() {
        return Err((
            codes::PATH_INVALID,
            "the path is empty; give a repository-relative path such as `src/lib.rs`".into(),
        ));
    }
    if path.len() > MAX_PATH_BYTES {
        return Err((
            codes::PATH_INVALID,
            format!(
                "the path is {} bytes long; at most {MAX_PATH_BYTES} are accepted",
                path.len()
            ),
        ));
    }
    if path.chars().any(|c| c.is_control()) {
        return Err((
            codes::PATH_INVALID,
            "the path contains a control character".into(),
        ));
    }
    if path.contains('\\') {
        return Err((
            codes::PATH_INVALID,
            format!("`{path}` contains a backslash; separate components with `/`"),
        ));
    }
    if path.starts_with('/') {
        return Err((
            codes::PATH_ESCAPE,
            format!("`{path}` is absolute; paths are relative to the repository root"),
        ));
    }
    let comps: Vec<&str> = path.split('/').collect();
    if comps[0].len() == 2
        && comps[0].ends_with(':')
        && comps[0].as_bytes()[0].is_ascii_alphabetic()
    {
        return Err((
            codes::PATH_ESCAPE,
            format!(
                "`{path}` starts with a drive letter; paths are relative to the repository root"
            ),
        ));
    }
    for c in &comps {
        match *c {
            "" => {
                return Err((
                    codes::PATH_INVALID,
                    format!("`{path}` has an empty component (`//` or a trailing `/`)"),
                ))
            }
            "." => {
                return Err((
                    codes::PATH_INVALID,
                    format!("`{path}` has a `.` component; write the path without it"),
                ))
            }
            ".." => {
                return Err((
                    codes::PATH_ESCAPE,
                    format!("`{path}` has a `..` component and could leave the repository"),
                ))
            }
            c if c.eq_ignore_ascii_case(".git") => {
                return Err((
                    codes::PATH_GIT_DIR,
                    format!("`{path}` is inside a `.git` directory, which no intent may touch"),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Most operations in one intent.
pub const MAX_OPS: usize = 200;
/// Longest rationale, in bytes.
pub const MAX_RATIONALE_BYTES: usize = 16 * 1024;
/// Most risk hints, and the longest one in bytes.
pub const MAX_RISK_HINTS: usize = 32;
pub const MAX_RISK_HINT_BYTES: usize = 1024;
/// Most RFC 6902 operations in one `json_patch`.
pub const MAX_PATCH_OPS: usize = 1000;
pub const LIMIT: &str = "LIMIT";

/// Size limits of an intent (pure). These are checked in code, not in the JSON Schema sent
/// to Ollama: large `maxLength`/`maxItems` bounds make its grammar huge.
pub fn check_limits(intent: &super::types::Intent) -> Vec<Problem> {
    let mut out = Vec::new();
    if intent.rationale.len() > MAX_RATIONALE_BYTES {
        out.push(Problem::new(
            "/intent/rationale",
            LIMIT,
            format!(
                "the rationale is {} bytes; at most {MAX_RATIONALE_BYTES}",
                intent.rationale.len()
            ),
        ));
    }
    if intent.risk_hints.len() > MAX_RISK_HINTS {
        out.push(Problem::new(
            "/intent/risk_hints",
            LIMIT,
            format!(
                "{} risk hints; at most {MAX_RISK_HINTS}",
                intent.risk_hints.len()
            ),
        ));
    }
    for (i, h) in intent.risk_hints.iter().enumerate() {
        if h.len() > MAX_RISK_HINT_BYTES {
            out.push(Problem::new(
                format!("/intent/risk_hints/{i}"),
                LIMIT,
                format!(
                    "the risk hint is {} bytes; at most {MAX_RISK_HINT_BYTES}",
                    h.len()
                ),
            ));
        }
    }
    if intent.ops.len() > MAX_OPS {
        out.push(Problem::new(
            "/intent/ops",
            LIMIT,
            format!(
                "{} operations; at most {MAX_OPS} in one intent",
                intent.ops.len()
            ),
        ));
    }
    for (i, op) in intent.ops.iter().enumerate() {
        if let Op::JsonPatch { patch, .. } = op {
            if patch.len() > MAX_PATCH_OPS {
                out.push(Problem::new(
                    format!("/intent/ops/{i}/patch"),
                    LIMIT,
                    format!("{} patch operations; at most {MAX_PATCH_OPS}", patch.len()),
                ));
            }
        }
    }
    out
}

/// The overlay of earlier ops over the base.
struct Overlay<'a, B: BaseFiles + ?Sized> {
    base: &'a B,
    /// `Some(bytes)` written, `None` deleted.
    files: BTreeMap<String, Option<Vec<u8>>>,
}

impl<B: BaseFiles + ?Sized> Overlay<'_, B> {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        match self.files.get(path) {
            Some(v) => v.clone(),
            None => self.base.read(path),
        }
    }

    fn is_dir(&self, path: &str) -> bool {
        let prefix = format!("{path}/");
        self.files
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .any(|(_, v)| v.is_some())
            || (self.base.is_dir(path) && !self.files.contains_key(path))
    }

    /// Symlinks and files in the way of `path`'s parents; `None` when the way is clear.
    fn obstacle(&self, path: &str) -> Option<(&'static str, String)> {
        let mut prefix = String::new();
        let comps: Vec<&str> = path.split('/').collect();
        for (i, c) in comps.iter().enumerate() {
            if i > 0 {
                prefix.push('/');
            }
            prefix.push_str(c);
            let written_here = self.files.get(&prefix).is_some_and(|v| v.is_some());
            if !written_here && self.base.is_symlink(&prefix) && !self.files.contains_key(&prefix) {
                return Some((
                    codes::PATH_SYMLINK,
                    if prefix == path {
                        format!("`{path}` is a symlink in the base; intents never follow or edit symlinks")
                    } else {
                        format!("`{prefix}` is a symlink in the base, so `{path}` would be reached through it")
                    },
                ));
            }
            if i + 1 < comps.len() && self.read(&prefix).is_some() {
                return Some((
                    codes::PATH_PARENT_NOT_DIR,
                    format!("`{prefix}` is a file, so `{path}` cannot be below it"),
                ));
            }
        }
        None
    }
}

/// Counts occurrences of `needle` in `hay`, overlapping ones included; stops at 2.
fn count_matches(hay: &str, needle: &str) -> (usize, Option<usize>) {
    let mut count = 0;
    let mut first = None;
    let mut from = 0;
    while let Some(pos) = hay[from..].find(needle) {
        let at = from + pos;
        count += 1;
        if first.is_none() {
            first = Some(at);
        }
        if count >= 2 {
            break;
        }
        // Step one character past the start: overlapping matches are ambiguous too.
        from = at + hay[at..].chars().next().map_or(1, char::len_utf8);
    }
    (count, first)
}

/// Applies `ops` in order to `base` (see the module docs for the rules). Pointers in the
/// problems are relative to a bundle: `/intent/ops/N/...`.
#[tracing::instrument(name = "proposal.apply", skip_all, fields(ops = ops.len()))]
pub fn apply_ops<B: BaseFiles + ?Sized>(base: &B, ops: &[Op]) -> Result<FileChanges, Vec<Problem>> {
    let mut problems = Vec::new();
    if ops.is_empty() {
        problems.push(Problem::new(
            "/intent/ops",
            codes::NO_OPS,
            "the intent has no operations; an intent must change at least one file",
        ));
    }
    let mut ov = Overlay {
        base,
        files: BTreeMap::new(),
    };
    for (i, op) in ops.iter().enumerate() {
        let p = op_ptr(i);
        let path = op.path();
        if let Err((code, msg)) = check_path(path) {
            problems.push(Problem::new(format!("{p}/path"), code, msg));
            continue;
        }
        if let Some((code, msg)) = ov.obstacle(path) {
            problems.push(Problem::new(format!("{p}/path"), code, msg));
            continue;
        }
        let current = ov.read(path);
        let is_dir = ov.is_dir(path);
        let missing = |problems: &mut Vec<Problem>| {
            problems.push(Problem::new(
                format!("{p}/path"),
                codes::FILE_MISSING,
                if is_dir {
                    format!("`{path}` is a directory in the base, not a file")
                } else {
                    format!("`{path}` does not exist in the base (after the earlier ops); check the path")
                },
            ))
        };
        match op {
            Op::CreateFile { content, .. } => {
                if current.is_some() || is_dir {
                    problems.push(Problem::new(
                        format!("{p}/path"),
                        codes::FILE_EXISTS,
                        format!(
                            "`{path}` already exists; use text_edit or json_patch to change it"
                        ),
                    ));
                    continue;
                }
                if content.len() > MAX_FILE_BYTES {
                    problems.push(too_large(format!("{p}/content"), path, content.len()));
                    continue;
                }
                ov.files
                    .insert(path.to_string(), Some(content.clone().into_bytes()));
            }
            Op::DeleteFile { .. } => {
                if current.is_none() {
                    missing(&mut problems);
                    continue;
                }
                ov.files.insert(path.to_string(), None);
            }
            Op::TextEdit { find, replace, .. } => {
                let Some(bytes) = current else {
                    missing(&mut problems);
                    continue;
                };
                let Ok(text) = String::from_utf8(bytes) else {
                    problems.push(Problem::new(
                        format!("{p}/path"),
                        codes::FILE_NOT_TEXT,
                        format!("`{path}` is not UTF-8 text; text_edit works on text files only"),
                    ));
                    continue;
                };
                if find.is_empty() {
                    problems.push(Problem::new(
                        format!("{p}/find"),
                        codes::FIND_EMPTY,
                        "`find` is empty; give the exact text to replace",
                    ));
                    continue;
                }
                match count_matches(&text, find) {
                    (0, _) => problems.push(Problem::new(
                        format!("{p}/find"),
                        codes::FIND_NOT_FOUND,
                        format!("`find` does not occur in `{path}`; it must match the file's text exactly once"),
                    )),
                    (1, Some(at)) => {
                        let mut out = String::with_capacity(text.len() + replace.len());
                        out.push_str(&text[..at]);
                        out.push_str(replace);
                        out.push_str(&text[at + find.len()..]);
                        if out.len() > MAX_FILE_BYTES {
                            problems.push(too_large(format!("{p}/replace"), path, out.len()));
                            continue;
                        }
                        ov.files.insert(path.to_string(), Some(out.into_bytes()));
                    }
                    _ => problems.push(Problem::new(
                        format!("{p}/find"),
                        codes::FIND_AMBIGUOUS,
                        format!("`find` occurs more than once in `{path}`; include more surrounding text so it matches exactly once"),
                    )),
                }
            }
            Op::JsonPatch { patch, .. } => {
                let Some(bytes) = current else {
                    missing(&mut problems);
                    continue;
                };
                let mut doc: Value = match serde_json::from_slice(&bytes) {
                    Ok(v) => v,
                    Err(e) => {
                        problems.push(Problem::new(
                            format!("{p}/path"),
                            codes::FILE_NOT_JSON,
                            format!("`{path}` is not valid JSON ({e}); json_patch works on JSON files only"),
                        ));
                        continue;
                    }
                };
                if patch.is_empty() {
                    problems.push(Problem::new(
                        format!("{p}/patch"),
                        codes::PATCH_EMPTY,
                        "the patch has no operations",
                    ));
                    continue;
                }
                let mut parsed = Vec::with_capacity(patch.len());
                let mut bad = false;
                for (j, raw) in patch.iter().enumerate() {
                    match serde_json::from_value::<json_patch::PatchOperation>(raw.clone()) {
                        Ok(o) => parsed.push(o),
                        Err(e) => {
                            bad = true;
                            problems.push(Problem::new(
                                format!("{p}/patch/{j}"),
                                codes::PATCH_INVALID_OP,
                                format!("not an RFC 6902 operation: {e}"),
                            ));
                        }
                    }
                }
                if bad {
                    continue;
                }
                if let Err(e) = json_patch::patch(&mut doc, &parsed) {
                    problems.push(Problem::new(
                        format!("{p}/patch/{}", e.operation),
                        codes::PATCH_FAILED,
                        format!(
                            "the patch does not apply to `{path}` at `{}`: {}",
                            e.path, e.kind
                        ),
                    ));
                    continue;
                }
                let mut out = match serde_json::to_vec_pretty(&doc) {
                    Ok(v) => v,
                    Err(e) => {
                        problems.push(Problem::new(
                            format!("{p}/patch"),
                            codes::PATCH_FAILED,
                            format!("the patched document cannot be written as JSON: {e}"),
                        ));
                        continue;
                    }
                };
                out.push(b'\n');
                if out.len() > MAX_FILE_BYTES {
                    problems.push(too_large(format!("{p}/patch"), path, out.len()));
                    continue;
                }
                ov.files.insert(path.to_string(), Some(out));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut changes = FileChanges::default();
    for (path, after) in ov.files {
        let before = base.read(&path);
        match (before, after) {
            (None, None) => {}
            (Some(b), Some(a)) if a == b => {}
            (_, Some(a)) => {
                changes.files.insert(path, Change::Write(a));
            }
            (Some(_), None) => {
                changes.files.insert(path, Change::Delete);
            }
        }
    }
    Ok(changes)
}

fn too_large(pointer: String, path: &str, len: usize) -> Problem {
    Problem::new(
        pointer,
        codes::FILE_TOO_LARGE,
        format!("`{path}` would be {len} bytes; intents may produce files of at most {MAX_FILE_BYTES} bytes"),
    )
}

#[cfg(test)]
mod tests {
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
}
