//! The base an intent applies to: read access to the base commit's files.

use std::collections::{BTreeMap, BTreeSet};

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
