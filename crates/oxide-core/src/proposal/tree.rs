//! `TreeFiles`: a commit's files for `apply_ops`, read straight from git's object database.
//! It lives with `BaseFiles` so that every room that applies an intent (gitops, synth, the
//! dry run) reads a base the same way.

use std::path::Path;

use git2::{FileMode, ObjectType, Oid, Repository};

use super::apply::BaseFiles;

/// Reads a commit's files for `apply_ops`, straight from the object database.
pub struct TreeFiles<'r> {
    repo: &'r Repository,
    tree: git2::Tree<'r>,
}

impl<'r> TreeFiles<'r> {
    pub fn new(repo: &'r Repository, tree: git2::Tree<'r>) -> TreeFiles<'r> {
        TreeFiles { repo, tree }
    }

    fn entry(&self, path: &str) -> Option<(i32, Oid, Option<ObjectType>)> {
        let e = self.tree.get_path(Path::new(path)).ok()?;
        Some((e.filemode(), e.id(), e.kind()))
    }
}

impl BaseFiles for TreeFiles<'_> {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        let (mode, id, kind) = self.entry(path)?;
        if kind != Some(ObjectType::Blob) || mode == i32::from(FileMode::Link) {
            return None;
        }
        self.repo.find_blob(id).ok().map(|b| b.content().to_vec())
    }
    fn is_symlink(&self, path: &str) -> bool {
        matches!(self.entry(path), Some((m, _, _)) if m == i32::from(FileMode::Link))
    }
    fn is_dir(&self, path: &str) -> bool {
        matches!(self.entry(path), Some((m, _, k)) if k == Some(ObjectType::Tree) || m == i32::from(FileMode::Commit))
    }
}
