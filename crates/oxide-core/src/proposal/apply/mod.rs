//! Dry-run applicability of intent operations: pure, no I/O of its own.
//!
//! # API (for `gitops`, `synth` and `proposal validate-file`)
//!
//! ```ignore
//! use oxide_core::proposal::apply::{apply_ops, BaseFiles, Change, FileChanges, Problem};
//!
//! // 1. Give it a way to read the base: implement `BaseFiles` (e.g. over a git2 tree, as
//! //    `proposal::TreeFiles` does), or use `MapBase` in tests.
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
//!
//! Layout: `base` ([`BaseFiles`] and its in-memory readers), `path` (the path rules that need
//! no base), `limits` (size limits of an intent); this file holds [`Problem`] and the
//! applier, [`apply_ops`].

mod base;
mod limits;
mod path;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::types::Op;

pub use base::{BaseFiles, FnBase, MapBase};
pub use limits::{
    check_limits, LIMIT, MAX_OPS, MAX_PATCH_OPS, MAX_RATIONALE_BYTES, MAX_RISK_HINTS,
    MAX_RISK_HINT_BYTES,
};
pub use path::{check_path, pointer_token, MAX_PATH_BYTES};

/// Largest file an intent may produce.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

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
    pub const BASE_MISSING: &str = "BASE_MISSING";
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
    pub const MEMORY_KEY: &str = "MEMORY_KEY";
    pub const MEMORY_VALUE_TOO_LARGE: &str = "MEMORY_VALUE_TOO_LARGE";
    pub const MEMORY_DUPLICATE: &str = "MEMORY_DUPLICATE";
}

/// Largest runtime-memory value a `memory_set` op may carry (its JSON text).
pub const MAX_MEMORY_VALUE_BYTES: usize = 64 * 1024;

/// The rules of a `memory_set` op (no base needed): a key of 1-200 characters without control
/// characters, a value of at most [`MAX_MEMORY_VALUE_BYTES`], each (namespace, key) once.
fn check_memory_op(
    p: &str,
    namespace: super::types::MemoryNamespace,
    key: &str,
    value: &Value,
    seen: &mut std::collections::BTreeSet<(super::types::MemoryNamespace, String)>,
    problems: &mut Vec<Problem>,
) {
    let n = key.chars().count();
    if !(1..=200).contains(&n) || key.chars().any(char::is_control) {
        problems.push(Problem::new(
            format!("{p}/key"),
            codes::MEMORY_KEY,
            format!("the memory key must be 1-200 characters without control characters (got {n})"),
        ));
        return;
    }
    let size = serde_json::to_string(value).map_or(usize::MAX, |t| t.len());
    if size > MAX_MEMORY_VALUE_BYTES {
        problems.push(Problem::new(
            format!("{p}/value"),
            codes::MEMORY_VALUE_TOO_LARGE,
            format!("the memory value is {size} bytes of JSON; at most {MAX_MEMORY_VALUE_BYTES}"),
        ));
        return;
    }
    if !seen.insert((namespace, key.to_string())) {
        problems.push(Problem::new(
            format!("{p}/key"),
            codes::MEMORY_DUPLICATE,
            format!(
                "memory entry {}/{key} is set twice in one intent; set it once",
                namespace.as_str()
            ),
        ));
    }
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

fn op_ptr(i: usize) -> String {
    format!("/intent/ops/{i}")
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
    let mut memory_seen = std::collections::BTreeSet::new();
    for (i, op) in ops.iter().enumerate() {
        let p = op_ptr(i);
        let path = match op {
            Op::MemorySet {
                namespace,
                key,
                value,
            } => {
                check_memory_op(&p, *namespace, key, value, &mut memory_seen, &mut problems);
                continue;
            }
            _ => op.path().unwrap_or_default(),
        };
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
            // Checked above, before the path rules: a memory op changes no file.
            Op::MemorySet { .. } => {}
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
mod tests;
