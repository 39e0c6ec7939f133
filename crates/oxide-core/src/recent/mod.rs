//! The recently opened workspaces a desktop user picks from: pure list rules (newest first,
//! no duplicates, capped) plus loading and saving the small JSON file that holds them.
//! A missing or unreadable file is an empty list, never an error: it is a convenience.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// How many workspaces the list keeps.
pub const MAX_RECENT: usize = 10;

/// One workspace the user opened, and when (RFC 3339 UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct RecentWorkspace {
    pub path: String,
    pub opened_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RecentError {
    #[error("cannot write the recent workspaces file {path}: {why}")]
    Io { path: String, why: String },
}

impl RecentError {
    pub fn code(&self) -> &'static str {
        match self {
            RecentError::Io { .. } => "RECENT_IO",
        }
    }
}

#[derive(Serialize, Deserialize)]
struct RecentFile {
    version: u32,
    workspaces: Vec<RecentWorkspace>,
}

const FILE_VERSION: u32 = 1;

/// Puts `path` first (opened `at`), drops its older entry and keeps at most `cap`.
pub fn remember(
    list: &[RecentWorkspace],
    path: &str,
    at: &str,
    cap: usize,
) -> Vec<RecentWorkspace> {
    let mut out = Vec::with_capacity(cap.min(list.len() + 1));
    out.push(RecentWorkspace {
        path: path.to_string(),
        opened_at: at.to_string(),
    });
    out.extend(list.iter().filter(|e| e.path != path).cloned());
    normalize(out, cap)
}

/// Removes `path` from the list.
pub fn forget(list: &[RecentWorkspace], path: &str) -> Vec<RecentWorkspace> {
    list.iter().filter(|e| e.path != path).cloned().collect()
}

/// Drops blank paths and later duplicates, keeps the first `cap`.
fn normalize(list: Vec<RecentWorkspace>, cap: usize) -> Vec<RecentWorkspace> {
    let mut seen = std::collections::HashSet::new();
    list.into_iter()
        .filter(|e| !e.path.trim().is_empty() && seen.insert(e.path.clone()))
        .take(cap)
        .collect()
}

/// Reads the file's text; anything unreadable is an empty list.
pub fn parse(text: &str) -> Vec<RecentWorkspace> {
    match serde_json::from_str::<RecentFile>(text) {
        Ok(file) if file.version == FILE_VERSION => normalize(file.workspaces, MAX_RECENT),
        Ok(file) => {
            tracing::warn!(
                version = file.version,
                "recent workspaces file has an unknown version; ignoring it"
            );
            Vec::new()
        }
        Err(e) => {
            tracing::warn!(error = %e, "recent workspaces file is not valid; ignoring it");
            Vec::new()
        }
    }
}

/// The file's text for `list`.
pub fn render(list: &[RecentWorkspace]) -> String {
    let file = RecentFile {
        version: FILE_VERSION,
        workspaces: list.to_vec(),
    };
    // Serialising plain strings cannot fail.
    serde_json::to_string_pretty(&file).unwrap_or_default() + "\n"
}

/// Loads the list from `file` (missing or invalid: empty).
#[tracing::instrument(name = "recent.load", skip_all)]
pub fn load(file: &Path) -> Vec<RecentWorkspace> {
    match fs::read_to_string(file) {
        Ok(text) => parse(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the recent workspaces file; starting empty");
            Vec::new()
        }
    }
}

/// Saves the list to `file` through a temporary file and a rename, creating parents.
#[tracing::instrument(name = "recent.save", skip_all)]
pub fn save(file: &Path, list: &[RecentWorkspace]) -> Result<(), RecentError> {
    let io = |e: std::io::Error| RecentError::Io {
        path: file.display().to_string(),
        why: e.to_string(),
    };
    if let Some(parent) = file.parent() {
        fs::create_dir_all(parent).map_err(io)?;
    }
    let tmp = file.with_extension("json.tmp");
    fs::write(&tmp, render(list)).map_err(io)?;
    fs::rename(&tmp, file).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io(e)
    })
}

/// The entries whose folder still exists.
pub fn retain_existing(list: &[RecentWorkspace]) -> Vec<RecentWorkspace> {
    list.iter()
        .filter(|e| Path::new(&e.path).is_dir())
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests;
