//! What a proposal changes, as a line diff against its base commit: for reviewers (the
//! desktop Proposal view). Pure: built from the base files and `apply_ops`' result.

use serde::{Deserialize, Serialize};

use super::apply::{apply_ops, BaseFiles, Change, Problem};
use super::types::Bundle;

/// Lines of unchanged context around each change.
pub const CONTEXT_LINES: usize = 3;
/// Above this many (old × new) middle lines, the middle is shown as removed-then-added
/// instead of aligned line by line.
const MAX_ALIGN_CELLS: usize = 4_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum LineKind {
    Context,
    Add,
    Del,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct DiffLine {
    pub kind: LineKind,
    /// The line without its line ending.
    pub text: String,
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct FileDiff {
    pub path: String,
    /// `added`, `modified` or `deleted`.
    pub change: String,
    /// Not UTF-8 text: no line diff is shown.
    pub binary: bool,
    pub hunks: Vec<Hunk>,
}

/// The diff of a whole bundle, or why it cannot be shown (the intent no longer applies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct DiffView {
    pub files: Vec<FileDiff>,
    pub problems: Vec<Problem>,
}

fn split_lines(text: &str) -> Vec<&str> {
    if text.is_empty() {
        return vec![];
    }
    text.strip_suffix('\n')
        .unwrap_or(text)
        .split('\n')
        .collect()
}

/// Aligns two line lists: the edit script as (kind, old index, new index).
fn align<'a>(old: &[&'a str], new: &[&'a str]) -> Vec<(LineKind, &'a str)> {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let max_suffix = old.len().min(new.len()) - prefix;
    let suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    let (om, nm) = (
        &old[prefix..old.len() - suffix],
        &new[prefix..new.len() - suffix],
    );
    let mut out: Vec<(LineKind, &str)> = old[..prefix]
        .iter()
        .map(|l| (LineKind::Context, *l))
        .collect();
    if om.len().saturating_mul(nm.len()) > MAX_ALIGN_CELLS {
        out.extend(om.iter().map(|l| (LineKind::Del, *l)));
        out.extend(nm.iter().map(|l| (LineKind::Add, *l)));
    } else {
        // Longest common subsequence table over the middle.
        let (n, m) = (om.len(), nm.len());
        let mut t = vec![0u32; (n + 1) * (m + 1)];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                t[i * (m + 1) + j] = if om[i] == nm[j] {
                    t[(i + 1) * (m + 1) + j + 1] + 1
                } else {
                    t[(i + 1) * (m + 1) + j].max(t[i * (m + 1) + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && om[i] == nm[j] {
                out.push((LineKind::Context, om[i]));
                i += 1;
                j += 1;
            } else if i < n && (j == m || t[(i + 1) * (m + 1) + j] >= t[i * (m + 1) + j + 1]) {
                // Deletions before additions, as git shows them.
                out.push((LineKind::Del, om[i]));
                i += 1;
            } else {
                out.push((LineKind::Add, nm[j]));
                j += 1;
            }
        }
    }
    out.extend(
        old[old.len() - suffix..]
            .iter()
            .map(|l| (LineKind::Context, *l)),
    );
    out
}

/// Hunks of a line diff between two texts, with [`CONTEXT_LINES`] of context.
pub fn hunks(old: &str, new: &str) -> Vec<Hunk> {
    let (o, n) = (split_lines(old), split_lines(new));
    let script = align(&o, &n);
    // Positions (1-based) of each script entry in old and new.
    let mut pos = Vec::with_capacity(script.len());
    let (mut oi, mut ni) = (1u32, 1u32);
    for (k, _) in &script {
        pos.push((oi, ni));
        match k {
            LineKind::Context => {
                oi += 1;
                ni += 1;
            }
            LineKind::Del => oi += 1,
            LineKind::Add => ni += 1,
        }
    }
    let changed: Vec<usize> = script
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| *k != LineKind::Context)
        .map(|(i, _)| i)
        .collect();
    let mut out = Vec::new();
    let mut idx = 0;
    while idx < changed.len() {
        let start = changed[idx].saturating_sub(CONTEXT_LINES);
        let mut end = changed[idx];
        while idx + 1 < changed.len() && changed[idx + 1] <= end + 2 * CONTEXT_LINES + 1 {
            idx += 1;
            end = changed[idx];
        }
        let end = (end + CONTEXT_LINES + 1).min(script.len());
        let lines: Vec<DiffLine> = script[start..end]
            .iter()
            .map(|(k, t)| DiffLine {
                kind: *k,
                text: t.to_string(),
            })
            .collect();
        let old_lines = lines.iter().filter(|l| l.kind != LineKind::Add).count() as u32;
        let new_lines = lines.iter().filter(|l| l.kind != LineKind::Del).count() as u32;
        let (os, ns) = pos[start];
        out.push(Hunk {
            old_start: if old_lines == 0 { os - 1 } else { os },
            old_lines,
            new_start: if new_lines == 0 { ns - 1 } else { ns },
            new_lines,
            lines,
        });
        idx += 1;
    }
    out
}

/// The diff of `bundle` against `base` (its base commit's files).
pub fn bundle_diff(base: &dyn BaseFiles, bundle: &Bundle) -> DiffView {
    let changes = match apply_ops(base, &bundle.intent.ops) {
        Ok(c) => c,
        Err(problems) => {
            return DiffView {
                files: vec![],
                problems,
            }
        }
    };
    let files = changes
        .files
        .iter()
        .map(|(path, change)| {
            let before = base.read(path);
            let (kind, after) = match (change, &before) {
                (Change::Delete, _) => ("deleted", None),
                (Change::Write(b), None) => ("added", Some(b.clone())),
                (Change::Write(b), Some(_)) => ("modified", Some(b.clone())),
            };
            let old = before.as_deref().map(std::str::from_utf8);
            let new = after.as_deref().map(std::str::from_utf8);
            let binary = matches!(old, Some(Err(_))) || matches!(new, Some(Err(_)));
            let hunks = if binary {
                vec![]
            } else {
                hunks(
                    old.and_then(Result::ok).unwrap_or(""),
                    new.and_then(Result::ok).unwrap_or(""),
                )
            };
            FileDiff {
                path: path.clone(),
                change: kind.into(),
                binary,
                hunks,
            }
        })
        .collect();
    DiffView {
        files,
        problems: vec![],
    }
}

/// The diff of `bundle` against its base commit in the repository at `repo_root`.
pub fn diff_in_repo(
    repo_root: &std::path::Path,
    bundle: &Bundle,
) -> Result<DiffView, super::ProposalError> {
    let repo_err = |e: git2::Error| super::ProposalError::Repo {
        path: repo_root.display().to_string(),
        why: e.message().to_string(),
    };
    let repo = git2::Repository::open(repo_root).map_err(repo_err)?;
    let commit = git2::Oid::from_str(&bundle.base.commit)
        .ok()
        .and_then(|oid| repo.find_commit(oid).ok());
    let Some(commit) = commit else {
        return Ok(DiffView {
            files: vec![],
            problems: vec![Problem::new(
                "/base/commit",
                super::apply::codes::BASE_MISSING,
                format!("commit {} is not in this repository", bundle.base.commit),
            )],
        });
    };
    let tree = commit.tree().map_err(repo_err)?;
    let files = super::TreeFiles::new(&repo, tree);
    Ok(bundle_diff(&files, bundle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn render(h: &[Hunk]) -> String {
        let mut s = String::new();
        for h in h {
            s.push_str(&format!(
                "@@ -{},{} +{},{} @@\n",
                h.old_start, h.old_lines, h.new_start, h.new_lines
            ));
            for l in &h.lines {
                let c = match l.kind {
                    LineKind::Context => ' ',
                    LineKind::Add => '+',
                    LineKind::Del => '-',
                };
                s.push(c);
                s.push_str(&l.text);
                s.push('\n');
            }
        }
        s
    }

    #[test]
    fn unified_like_git() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\ni\nj\nk\n";
        assert_eq!(
            render(&hunks(old, new)),
            "@@ -2,9 +2,10 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n i\n j\n+k\n"
        );
        assert_eq!(render(&hunks("", "x\ny\n")), "@@ -0,0 +1,2 @@\n+x\n+y\n");
        assert_eq!(render(&hunks("x\n", "")), "@@ -1,1 +0,0 @@\n-x\n");
        assert!(hunks("same\n", "same\n").is_empty());
    }

    proptest! {
        // Applying the hunks' add/context lines gives the new text; del/context the old.
        #[test]
        fn hunks_reconstruct_both_sides(old in proptest::collection::vec("[abc]{0,2}", 0..12),
                                        new in proptest::collection::vec("[abc]{0,2}", 0..12)) {
            let (o, n) = (old.join("\n"), new.join("\n"));
            let script = align(&split_lines(&o), &split_lines(&n));
            let back_old: Vec<&str> = script.iter().filter(|(k, _)| *k != LineKind::Add).map(|(_, t)| *t).collect();
            let back_new: Vec<&str> = script.iter().filter(|(k, _)| *k != LineKind::Del).map(|(_, t)| *t).collect();
            prop_assert_eq!(back_old, split_lines(&o));
            prop_assert_eq!(back_new, split_lines(&n));
        }
    }
}
