//! What a reviewer sees: the diff of the proposal's result tree against its base tree,
//! computed by git itself (libgit2's tree-to-tree diff, patience algorithm, git's indent
//! heuristic and rename detection), never re-derived from the intent's text.
//!
//! The result tree is the proposal branch's tree when the branch exists (that commit is what
//! would land); otherwise it is built the way [`super::prepare_branch`] builds it
//! ([`super::apply_to_tree`]) — into an in-memory object store, so showing a diff writes
//! nothing to the repository. When the branch exists but does not hold the tree the bundle
//! gives, the branch is shown (it is what would land) together with a problem saying so.
//!
//! Paired removed/added lines carry their word-level changes as spans (`similar`, words),
//! and each line carries flags for what a plain rendering would hide: a carriage return,
//! trailing whitespace, a missing final newline, non-ASCII characters (look-alikes) and
//! invisible or control characters. Binary files (git's verdict, or content that is not
//! UTF-8) are shown as binary with their sizes, never as text.

use std::path::Path;
use std::time::Duration;

use git2::{Delta, DiffFindOptions, DiffOptions, Oid, Patch, Repository, Tree};
use serde::{Deserialize, Serialize};
use similar::{ChangeTag, TextDiff};

use super::{apply_to_tree, branch_name, GitopsError};
use crate::proposal::{Bundle, Problem};

/// The `Problem::code` values of a review diff (besides those of `apply_ops`).
pub mod codes {
    pub use crate::proposal::apply::codes::BASE_MISSING;
    /// The proposal branch's commit does not have the base commit as its parent.
    pub const BRANCH_NOT_ON_BASE: &str = "BRANCH_NOT_ON_BASE";
    /// The proposal branch does not hold the tree the bundle gives.
    pub const BRANCH_TREE_MISMATCH: &str = "BRANCH_TREE_MISMATCH";
}

/// Lines of unchanged context around each change (git's default).
pub const CONTEXT_LINES: u32 = 3;
/// Word changes are computed only for line pairs up to this many bytes each; longer lines
/// are shown whole (their `spans` stay empty).
pub const MAX_INLINE_BYTES: usize = 4096;
/// Bytes of line pairs word-diffed per file; later pairs are shown whole (a bound on the
/// time one view takes, whatever the file).
pub const MAX_INLINE_BYTES_PER_FILE: usize = 1 << 20;
/// Time budget of one line pair's word diff (then `similar` approximates).
const INLINE_TIMEOUT: Duration = Duration::from_millis(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum LineKind {
    Context,
    Add,
    Del,
}

/// What a plain rendering of a line would hide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum LineFlag {
    /// The line holds a `\r` (e.g. a CRLF line ending).
    CarriageReturn,
    /// Spaces or tabs before the line ending.
    TrailingWhitespace,
    /// The last line of its file, without a final newline.
    NoNewlineAtEnd,
    /// Characters outside ASCII (a look-alike letter reads like the ASCII one).
    NonAscii,
    /// Zero-width, bidirectional-control or other invisible/control characters.
    Invisible,
}

/// A piece of a line: `changed` when this word differs from the paired line; `mark` when
/// its characters are ones a plain rendering hides (never `no_newline_at_end`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Span {
    pub text: String,
    pub changed: bool,
    pub mark: Option<LineFlag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct DiffLine {
    pub kind: LineKind,
    /// The line exactly as git has it, without its final `\n` (a `\r` stays).
    pub text: String,
    /// The line in pieces, concatenating to `text`: word-level changes against the paired
    /// removed/added line (up to [`MAX_INLINE_BYTES`]) and runs of hidden characters. Empty
    /// when there is neither (the line is shown as `text`).
    pub spans: Vec<Span>,
    pub flags: Vec<LineFlag>,
}

/// One `@@ -old_start,old_lines +new_start,new_lines @@` block (1-based starts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Hunk {
    pub old_start: u32,
    pub old_lines: u32,
    pub new_start: u32,
    pub new_lines: u32,
    pub lines: Vec<DiffLine>,
}

/// How git classifies a file's change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum FileChange {
    Added,
    Modified,
    Deleted,
    Renamed,
    Copied,
    /// E.g. a file became a symbolic link.
    TypeChanged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct FileDiff {
    /// The path after the change (before it, for a deleted file).
    pub path: String,
    /// The path before a rename or copy.
    pub old_path: Option<String>,
    pub change: FileChange,
    /// git's octal file modes (`100644`, `100755`, `120000`, ...); absent on the side where
    /// the file does not exist.
    pub old_mode: Option<String>,
    pub new_mode: Option<String>,
    /// Bytes of each side (0 where the file does not exist).
    pub old_size: u64,
    pub new_size: u64,
    /// git says binary, or a side is not UTF-8 text: no line diff is shown.
    pub binary: bool,
    pub hunks: Vec<Hunk>,
}

/// The review diff of a proposal, or why it cannot be shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct DiffView {
    /// The bundle's base commit and its tree (absent when the commit is not in the repo).
    pub base_commit: Option<String>,
    pub base_tree: Option<String>,
    /// The tree compared with the base: the proposal branch's, or the one the bundle gives.
    pub head_tree: Option<String>,
    /// The proposal branch and its commit, when the diff is of that branch.
    pub branch: Option<String>,
    pub head_commit: Option<String>,
    pub files: Vec<FileDiff>,
    pub problems: Vec<Problem>,
}

/// The review diff of proposal `proposal_id` (its branch `oxide/proposals/<id>` if it
/// exists, otherwise the tree the bundle gives) against the bundle's base commit.
#[tracing::instrument(name = "gitops.review_diff", skip_all, fields(proposal = proposal_id))]
pub fn review_diff(
    repo_root: &Path,
    proposal_id: &str,
    bundle: &Bundle,
) -> Result<DiffView, GitopsError> {
    let repo = Repository::open(repo_root)?;
    // Every object written below (the result tree of a not-yet-built branch) goes to memory.
    let odb = repo.odb()?;
    let _mempack = odb.add_new_mempack_backend(1000)?;

    let base = Oid::from_str(&bundle.base.commit)
        .ok()
        .and_then(|oid| repo.find_commit(oid).ok());
    let Some(base) = base else {
        return Ok(DiffView {
            problems: vec![Problem::new(
                "/base/commit",
                codes::BASE_MISSING,
                format!(
                    "commit {} is not in this repository; fetch it (git fetch) or re-propose",
                    bundle.base.commit
                ),
            )],
            ..DiffView::default()
        });
    };
    let base_tree = base.tree()?;
    let mut view = DiffView {
        base_commit: Some(base.id().to_string()),
        base_tree: Some(base_tree.id().to_string()),
        ..DiffView::default()
    };

    let computed = match apply_to_tree(&repo, &base, bundle) {
        Ok(t) => Some(t),
        Err(GitopsError::DoesNotApply { problems, .. }) => {
            view.problems.extend(problems);
            None
        }
        Err(e) => return Err(e),
    };

    let branch = branch_name(proposal_id);
    let head_tree = match repo.find_reference(&format!("refs/heads/{branch}")) {
        Ok(r) => {
            let c = r.peel_to_commit()?;
            if c.parent_id(0).ok() != Some(base.id()) {
                view.problems.push(Problem::new(
                    "",
                    codes::BRANCH_NOT_ON_BASE,
                    format!(
                        "branch {branch} (commit {}) does not build on the base commit {}; it is shown as it is",
                        c.id(),
                        base.id()
                    ),
                ));
            }
            if computed.is_some_and(|t| t != c.tree_id()) {
                view.problems.push(Problem::new(
                    "",
                    codes::BRANCH_TREE_MISMATCH,
                    format!(
                        "branch {branch} (commit {}) does not hold the tree this bundle gives; what it would land is shown",
                        c.id()
                    ),
                ));
            }
            view.branch = Some(branch);
            view.head_commit = Some(c.id().to_string());
            Some(c.tree()?)
        }
        Err(e) if e.code() == git2::ErrorCode::NotFound => match computed {
            Some(t) => Some(repo.find_tree(t)?),
            None => None,
        },
        Err(e) => return Err(e.into()),
    };
    if let Some(head) = head_tree {
        view.head_tree = Some(head.id().to_string());
        view.files = tree_diff(&repo, &base_tree, &head)?;
    }
    Ok(view)
}

/// The files that differ between two trees, as git shows them.
pub fn tree_diff(
    repo: &Repository,
    old: &Tree<'_>,
    new: &Tree<'_>,
) -> Result<Vec<FileDiff>, GitopsError> {
    let mut opts = DiffOptions::new();
    opts.context_lines(CONTEXT_LINES)
        .interhunk_lines(0)
        .patience(true)
        .indent_heuristic(true);
    let mut diff = repo.diff_tree_to_tree(Some(old), Some(new), Some(&mut opts))?;
    diff.find_similar(Some(DiffFindOptions::new().renames(true)))?;
    let mut files = Vec::with_capacity(diff.deltas().len());
    for idx in 0..diff.deltas().len() {
        let Some(patch) = Patch::from_diff(&diff, idx)? else {
            continue;
        };
        files.push(file_diff(&patch)?);
    }
    Ok(files)
}

fn path_of(f: &git2::DiffFile<'_>) -> Option<String> {
    f.path().map(|p| p.to_string_lossy().into_owned())
}

fn mode_of(f: &git2::DiffFile<'_>) -> Option<String> {
    let m = u32::from(f.mode());
    (m != 0).then(|| format!("{m:06o}"))
}

fn file_diff(patch: &Patch<'_>) -> Result<FileDiff, GitopsError> {
    let delta = patch.delta();
    let (old, new) = (delta.old_file(), delta.new_file());
    let change = match delta.status() {
        Delta::Added | Delta::Untracked => FileChange::Added,
        Delta::Deleted => FileChange::Deleted,
        Delta::Renamed => FileChange::Renamed,
        Delta::Copied => FileChange::Copied,
        Delta::Typechange => FileChange::TypeChanged,
        _ => FileChange::Modified,
    };
    let path = match change {
        FileChange::Deleted => path_of(&old),
        _ => path_of(&new),
    }
    .unwrap_or_default();
    let old_path = matches!(change, FileChange::Renamed | FileChange::Copied)
        .then(|| path_of(&old))
        .flatten();
    let exists = |c: FileChange, side_old: bool| match c {
        FileChange::Added => !side_old,
        FileChange::Deleted => side_old,
        _ => true,
    };
    let mut out = FileDiff {
        path,
        old_path,
        change,
        old_mode: exists(change, true).then(|| mode_of(&old)).flatten(),
        new_mode: exists(change, false).then(|| mode_of(&new)).flatten(),
        old_size: old.size(),
        new_size: new.size(),
        binary: delta.flags().is_binary(),
        hunks: Vec::new(),
    };
    if out.binary {
        return Ok(out);
    }
    let mut hunks = Vec::with_capacity(patch.num_hunks());
    let mut budget = MAX_INLINE_BYTES_PER_FILE;
    for h in 0..patch.num_hunks() {
        let (hunk, n) = patch.hunk(h)?;
        let mut lines = Vec::with_capacity(n);
        for l in 0..n {
            let line = patch.line_in_hunk(h, l)?;
            let kind = match line.origin() {
                ' ' => LineKind::Context,
                '+' => LineKind::Add,
                '-' => LineKind::Del,
                // '=', '>', '<': git's "\ No newline at end of file" notes; the flag on the
                // line itself says it.
                _ => continue,
            };
            let bytes = line.content();
            let (body, newline) = match bytes.strip_suffix(b"\n") {
                Some(b) => (b, true),
                None => (bytes, false),
            };
            let Ok(text) = std::str::from_utf8(body) else {
                // Not UTF-8: shown as binary rather than as replacement characters.
                out.binary = true;
                out.hunks.clear();
                return Ok(out);
            };
            let mut flags = line_flags(text);
            if !newline {
                flags.push(LineFlag::NoNewlineAtEnd);
            }
            lines.push(DiffLine {
                kind,
                text: text.to_string(),
                spans: Vec::new(),
                flags,
            });
        }
        add_word_spans(&mut lines, &mut budget);
        for l in &mut lines {
            l.spans = mark_spans(&l.text, std::mem::take(&mut l.spans));
        }
        hunks.push(Hunk {
            old_start: hunk.old_start(),
            old_lines: hunk.old_lines(),
            new_start: hunk.new_start(),
            new_lines: hunk.new_lines(),
            lines,
        });
    }
    out.hunks = hunks;
    Ok(out)
}

/// Zero-width, bidirectional-control and other invisible format characters, and control
/// characters other than tab and carriage return (which has its own flag).
pub fn is_invisible(c: char) -> bool {
    (c.is_control() && c != '\t' && c != '\r')
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
            | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
            | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}')
}

/// The flags of a line's text (without its `\n`).
pub fn line_flags(text: &str) -> Vec<LineFlag> {
    let mut flags = Vec::new();
    if text.contains('\r') {
        flags.push(LineFlag::CarriageReturn);
    }
    if text.trim_end_matches('\r').ends_with([' ', '\t']) {
        flags.push(LineFlag::TrailingWhitespace);
    }
    if !text.is_ascii() {
        flags.push(LineFlag::NonAscii);
    }
    if text.chars().any(is_invisible) {
        flags.push(LineFlag::Invisible);
    }
    flags
}

/// Pairs each run of removed lines with the run of added lines right after it (first with
/// first) and fills both lines' word spans.
/// `budget`: bytes of pairs still to word-diff in this file.
fn add_word_spans(lines: &mut [DiffLine], budget: &mut usize) {
    let mut i = 0;
    while i < lines.len() {
        if lines[i].kind != LineKind::Del {
            i += 1;
            continue;
        }
        let dels = i;
        while i < lines.len() && lines[i].kind == LineKind::Del {
            i += 1;
        }
        let adds = i;
        while i < lines.len() && lines[i].kind == LineKind::Add {
            i += 1;
        }
        let pairs = (adds - dels).min(i - adds);
        for k in 0..pairs {
            let cost = lines[dels + k].text.len() + lines[adds + k].text.len();
            if cost > *budget {
                return;
            }
            *budget -= cost;
            if let Some((o, n)) = word_spans(&lines[dels + k].text, &lines[adds + k].text) {
                lines[dels + k].spans = o;
                lines[adds + k].spans = n;
            }
        }
    }
}

fn push_span(spans: &mut Vec<Span>, text: &str, changed: bool, mark: Option<LineFlag>) {
    match spans.last_mut() {
        Some(s) if s.changed == changed && s.mark == mark => s.text.push_str(text),
        _ => spans.push(Span {
            text: text.to_string(),
            changed,
            mark,
        }),
    }
}

/// Splits `spans` (the word spans, or the whole line when there are none) further into runs
/// of hidden characters, each with its mark. Empty when nothing is changed or marked.
pub fn mark_spans(text: &str, spans: Vec<Span>) -> Vec<Span> {
    let plain = text.is_ascii()
        && !text.contains('\r')
        && !text.ends_with([' ', '\t'])
        && !text.chars().any(is_invisible);
    if plain {
        return spans;
    }
    let body = text.trim_end_matches('\r');
    let trail_start = body.trim_end_matches([' ', '\t']).len();
    let spans = if spans.is_empty() {
        vec![Span {
            text: text.to_string(),
            changed: false,
            mark: None,
        }]
    } else {
        spans
    };
    let mut out = Vec::with_capacity(spans.len());
    let mut offset = 0;
    for s in spans {
        for (i, c) in s.text.char_indices() {
            let at = offset + i;
            let mark = if c == '\r' {
                Some(LineFlag::CarriageReturn)
            } else if is_invisible(c) {
                Some(LineFlag::Invisible)
            } else if !c.is_ascii() {
                Some(LineFlag::NonAscii)
            } else if at >= trail_start && at < body.len() {
                Some(LineFlag::TrailingWhitespace)
            } else {
                None
            };
            push_span(&mut out, &s.text[i..i + c.len_utf8()], s.changed, mark);
        }
        offset += s.text.len();
    }
    out
}

/// Word-level changes between a removed and an added line: the old line's spans and the
/// new line's, each concatenating to its line. `None` when a line is too long.
pub fn word_spans(old: &str, new: &str) -> Option<(Vec<Span>, Vec<Span>)> {
    if old.len() > MAX_INLINE_BYTES || new.len() > MAX_INLINE_BYTES {
        return None;
    }
    let diff = TextDiff::configure()
        .algorithm(similar::Algorithm::Patience)
        .timeout(INLINE_TIMEOUT)
        .diff_words(old, new);
    let (mut o, mut n) = (Vec::new(), Vec::new());
    for change in diff.iter_all_changes() {
        let v = change.value();
        match change.tag() {
            ChangeTag::Equal => {
                push_span(&mut o, v, false, None);
                push_span(&mut n, v, false, None);
            }
            ChangeTag::Delete => push_span(&mut o, v, true, None),
            ChangeTag::Insert => push_span(&mut n, v, true, None),
        }
    }
    Some((o, n))
}

#[cfg(test)]
mod tests;
