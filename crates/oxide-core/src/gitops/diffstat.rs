//! The size of a proposal as git sees it: the diff of the base tree against the result tree
//! (git's own diff through git2), in lines and bytes, with binary files detected and long
//! lines weighed by their length, plus the totals of the base tree so a policy can weigh a
//! deletion by the share of the repository it removes.
//!
//! Size is never taken from the intent: a 1 MiB single line, a JSON patch with a huge value
//! or the deletion of an unreadable file are measured by what they do to the tree.

use std::path::Path;

use git2::{Delta, DiffOptions, ObjectType, Oid, Patch, Repository, TreeWalkMode, TreeWalkResult};
use serde::{Deserialize, Serialize};

use super::GitopsError;
use crate::proposal::Bundle;

/// A line longer than this many bytes counts as `ceil(len / MAX_LINE_BYTES)` lines, so a
/// change cannot look small by putting everything on one line.
pub const MAX_LINE_BYTES: u64 = 200;

/// How one file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileChange {
    Added,
    Deleted,
    Modified,
    /// The entry changed kind (e.g. file to symlink).
    TypeChanged,
}

/// One changed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    pub path: String,
    pub change: FileChange,
    /// Lines added, each line longer than [`MAX_LINE_BYTES`] counted as several; for a binary
    /// file, its new bytes divided by [`MAX_LINE_BYTES`] (rounded up).
    pub lines_added: u64,
    pub lines_removed: u64,
    pub bytes_added: u64,
    pub bytes_removed: u64,
    /// git's binary detection (a NUL byte, or a `binary` attribute).
    pub binary: bool,
}

/// The diff of a base tree against a result tree, with the base tree's totals.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DiffStat {
    /// Changed files, sorted by path.
    pub files: Vec<FileStat>,
    pub lines_added: u64,
    pub lines_removed: u64,
    pub bytes_added: u64,
    pub bytes_removed: u64,
    pub binary_files: u64,
    pub files_deleted: u64,
    /// Files (blobs, symlinks included) in the base tree.
    pub base_files: u64,
    /// Bytes of those files.
    pub base_bytes: u64,
}

/// Lines a text line of `len` bytes counts as.
pub fn weighed_lines(len: u64) -> u64 {
    len.div_ceil(MAX_LINE_BYTES).max(1)
}

fn blob_size(repo: &Repository, id: Oid) -> Result<u64, GitopsError> {
    if id.is_zero() {
        return Ok(0);
    }
    let (size, _) = repo.odb()?.read_header(id)?;
    Ok(size as u64)
}

/// Files and bytes of a tree (recursively; submodule entries are not files).
fn tree_totals(repo: &Repository, tree: &git2::Tree<'_>) -> Result<(u64, u64), GitopsError> {
    let odb = repo.odb()?;
    let (mut files, mut bytes, mut failed) = (0u64, 0u64, None);
    tree.walk(TreeWalkMode::PreOrder, |_, entry| {
        if entry.kind() == Some(ObjectType::Blob) {
            match odb.read_header(entry.id()) {
                Ok((size, _)) => {
                    files += 1;
                    bytes += size as u64;
                }
                Err(e) => {
                    failed = Some(e);
                    return TreeWalkResult::Abort;
                }
            }
        }
        TreeWalkResult::Ok
    })?;
    match failed {
        Some(e) => Err(e.into()),
        None => Ok((files, bytes)),
    }
}

/// The diff of `base` against `result` (both tree ids in `repo`).
#[tracing::instrument(name = "gitops.diffstat", skip_all)]
pub fn diffstat(repo: &Repository, base: Oid, result: Oid) -> Result<DiffStat, GitopsError> {
    let old = repo.find_tree(base)?;
    let new = repo.find_tree(result)?;
    let mut opts = DiffOptions::new();
    opts.include_typechange(true)
        .ignore_submodules(true)
        .context_lines(0);
    let diff = repo.diff_tree_to_tree(Some(&old), Some(&new), Some(&mut opts))?;
    let mut out = DiffStat::default();
    (out.base_files, out.base_bytes) = tree_totals(repo, &old)?;
    for idx in 0..diff.deltas().len() {
        let Some(patch) = Patch::from_diff(&diff, idx)? else {
            continue;
        };
        let delta = patch.delta();
        let path = delta
            .new_file()
            .path()
            .or_else(|| delta.old_file().path())
            .map(Path::to_string_lossy)
            .unwrap_or_default()
            .into_owned();
        let change = match delta.status() {
            Delta::Added => FileChange::Added,
            Delta::Deleted => FileChange::Deleted,
            Delta::Typechange => FileChange::TypeChanged,
            _ => FileChange::Modified,
        };
        let binary = delta.flags().is_binary();
        let mut f = FileStat {
            path,
            change,
            lines_added: 0,
            lines_removed: 0,
            bytes_added: 0,
            bytes_removed: 0,
            binary,
        };
        if binary {
            f.bytes_removed = blob_size(repo, delta.old_file().id())?;
            f.bytes_added = blob_size(repo, delta.new_file().id())?;
            f.lines_removed = f.bytes_removed.div_ceil(MAX_LINE_BYTES);
            f.lines_added = f.bytes_added.div_ceil(MAX_LINE_BYTES);
        } else {
            for h in 0..patch.num_hunks() {
                for l in 0..patch.num_lines_in_hunk(h)? {
                    let line = patch.line_in_hunk(h, l)?;
                    let len = line.content().len() as u64;
                    match line.origin() {
                        '+' => {
                            f.lines_added += weighed_lines(len);
                            f.bytes_added += len;
                        }
                        '-' => {
                            f.lines_removed += weighed_lines(len);
                            f.bytes_removed += len;
                        }
                        _ => {}
                    }
                }
            }
        }
        out.lines_added += f.lines_added;
        out.lines_removed += f.lines_removed;
        out.bytes_added += f.bytes_added;
        out.bytes_removed += f.bytes_removed;
        out.binary_files += u64::from(f.binary);
        out.files_deleted += u64::from(f.change == FileChange::Deleted);
        out.files.push(f);
    }
    out.files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The size of a proposal: its base commit's tree against the tree the intent gives, built in
/// the object database exactly as [`super::prepare_branch`] builds the branch's tree (so it
/// also works before validation made the branch). Writes blobs and trees only; no refs.
pub fn proposal_diffstat(repo: &Repository, bundle: &Bundle) -> Result<DiffStat, GitopsError> {
    let base = super::find_base(repo, bundle)?;
    let result = super::apply_to_tree(repo, &base, bundle)?;
    diffstat(repo, base.tree_id(), result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use git2::{FileMode, Signature};

    fn repo_with(files: &[(&str, &[u8])]) -> (tempfile::TempDir, Repository, Oid) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let tree = tree_of(&repo, files);
        let sig = Signature::now("t", "t@example.com").unwrap();
        {
            let t = repo.find_tree(tree).unwrap();
            repo.commit(Some("HEAD"), &sig, &sig, "init", &t, &[])
                .unwrap();
        }
        (dir, repo, tree)
    }

    fn tree_of(repo: &Repository, files: &[(&str, &[u8])]) -> Oid {
        let empty = repo.treebuilder(None).unwrap().write().unwrap();
        let empty = repo.find_tree(empty).unwrap();
        let mut upd = git2::build::TreeUpdateBuilder::new();
        for (p, c) in files {
            upd.upsert(*p, repo.blob(c).unwrap(), FileMode::Blob);
        }
        upd.create_updated(repo, &empty).unwrap()
    }

    #[test]
    fn counts_lines_and_bytes_of_the_real_diff() {
        let (_d, repo, base) = repo_with(&[("a.txt", b"one\ntwo\n"), ("b.txt", b"keep\n")]);
        let new = tree_of(&repo, &[("a.txt", b"one\n2\n3\n"), ("b.txt", b"keep\n")]);
        let s = diffstat(&repo, base, new).unwrap();
        assert_eq!(s.files.len(), 1);
        assert_eq!((s.lines_added, s.lines_removed), (2, 1));
        assert_eq!((s.bytes_added, s.bytes_removed), (4, 4));
        assert_eq!((s.base_files, s.base_bytes), (2, 13));
        assert_eq!(s.binary_files, 0);
    }

    #[test]
    fn a_giant_line_counts_as_many() {
        let (_d, repo, base) = repo_with(&[("a.txt", b"x\n")]);
        let big = vec![b'y'; 1 << 20];
        let new = tree_of(&repo, &[("a.txt", b"x\n"), ("big.txt", &big)]);
        let s = diffstat(&repo, base, new).unwrap();
        assert_eq!(s.bytes_added, 1 << 20);
        assert_eq!(s.lines_added, (1u64 << 20).div_ceil(MAX_LINE_BYTES));
        assert!(s.lines_added > 5000);
    }

    #[test]
    fn binary_deletions_count_their_bytes_and_are_flagged() {
        let bin: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        let (_d, repo, base) = repo_with(&[("blob.bin", &bin), ("a.txt", b"a\n")]);
        let new = tree_of(&repo, &[("a.txt", b"a\n")]);
        let s = diffstat(&repo, base, new).unwrap();
        assert_eq!(s.files_deleted, 1);
        assert_eq!(s.binary_files, 1);
        let f = &s.files[0];
        assert!(f.binary);
        assert_eq!(f.change, FileChange::Deleted);
        assert_eq!(f.bytes_removed, 4096);
        assert_eq!(f.lines_removed, 4096u64.div_ceil(MAX_LINE_BYTES));
    }
}
