//! A governed repository and its state database: locating both, writing the governance files
//! and recording the workspace (`init_with`, given the files by the caller), and the handle
//! (`Workspace`) through which the shells reach every room. Part of the foundation: it knows
//! no room (the default policy, the status summary and `oxide init` itself live above).

pub mod config;
pub mod defaults;

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{self, AuditEvent, AuditVerify, NewEvent};
use crate::clock::Clock;
use crate::store::Store;
use crate::{canon, Error, ErrorKind};

pub use config::Settings;

/// Errors of the `workspace` room.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("{path} is not inside a git repository; run `git init` there first, or pass --workspace pointing at one")]
    NotAGitRepo { path: String },
    #[error("{path} is a bare git repository; OXIDE governs a repository with a working tree")]
    BareRepo { path: String },
    #[error("the database {db} would be inside the working tree {workspace}; keep it outside (omit --db for the per-user default)")]
    DbInWorktree { db: String, workspace: String },
    #[error("no per-user data directory could be determined (is HOME set?); pass --db FILE")]
    NoDataDir,
    #[error("{path} is not valid: {why}; fix the file or delete it and run `oxide init` again")]
    BadConfig { path: String, why: String },
    #[error("cannot write {path}: {why}")]
    Io { path: String, why: String },
    #[error("git: {0}")]
    Git(String),
}

impl WorkspaceError {
    pub fn code(&self) -> &'static str {
        match self {
            WorkspaceError::NotAGitRepo { .. } => "WORKSPACE_NOT_GIT",
            WorkspaceError::BareRepo { .. } => "WORKSPACE_BARE",
            WorkspaceError::DbInWorktree { .. } => "WORKSPACE_DB_IN_WORKTREE",
            WorkspaceError::NoDataDir => "WORKSPACE_NO_DATA_DIR",
            WorkspaceError::BadConfig { .. } => "WORKSPACE_BAD_CONFIG",
            WorkspaceError::Io { .. } => "WORKSPACE_IO",
            WorkspaceError::Git(_) => "WORKSPACE_GIT",
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            WorkspaceError::Io { .. } | WorkspaceError::Git(_) => ErrorKind::Internal,
            _ => ErrorKind::Invalid,
        }
    }
}

/// What `init` did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct InitReport {
    pub workspace: String,
    pub db: String,
    /// Files written (relative to the repository root); empty when all were present.
    pub created: Vec<String>,
}

/// Where the workspace settings live (relative to the repository root).
pub const SETTINGS_PATH: &str = ".oxide/oxide.toml";

/// The root of the git working tree around `dir`.
pub fn discover_root(dir: &Path) -> Result<PathBuf, WorkspaceError> {
    let repo = git2::Repository::discover(dir).map_err(|_| WorkspaceError::NotAGitRepo {
        path: dir.display().to_string(),
    })?;
    let root = repo.workdir().ok_or_else(|| WorkspaceError::BareRepo {
        path: dir.display().to_string(),
    })?;
    let root = root.canonicalize().map_err(|e| WorkspaceError::Io {
        path: root.display().to_string(),
        why: e.to_string(),
    })?;
    Ok(root)
}

/// Per-user default: `$XDG_DATA_HOME/oxide-review/workspaces/<id>/oxide.sqlite3`, where `<id>`
/// is derived from the repository's absolute path.
pub fn default_db_path(root: &Path) -> Result<PathBuf, WorkspaceError> {
    let dirs = directories::ProjectDirs::from("dev", "oxide", "oxide-review")
        .ok_or(WorkspaceError::NoDataDir)?;
    let id = canon::short_id(&canon::sha256_bytes(root.as_os_str().as_encoded_bytes()));
    Ok(dirs
        .data_dir()
        .join("workspaces")
        .join(id)
        .join("oxide.sqlite3"))
}

fn absolute(p: &Path) -> PathBuf {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|c| c.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    // Canonicalise the deepest existing ancestor so symlinked temp dirs compare correctly.
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return abs,
        }
    }
    let mut out = existing
        .canonicalize()
        .unwrap_or_else(|_| existing.to_path_buf());
    out.extend(rest.iter().rev());
    out
}

fn resolve_db(root: &Path, db: Option<&Path>) -> Result<PathBuf, WorkspaceError> {
    let path = match db {
        Some(p) => absolute(p),
        None => default_db_path(root)?,
    };
    if path.starts_with(root) {
        return Err(WorkspaceError::DbInWorktree {
            db: path.display().to_string(),
            workspace: root.display().to_string(),
        });
    }
    Ok(path)
}

/// Writes `contents` to `path` through a temporary file and a rename, creating parents.
fn write_new_file(path: &Path, contents: &str) -> Result<(), WorkspaceError> {
    let io = |e: std::io::Error| WorkspaceError::Io {
        path: path.display().to_string(),
        why: e.to_string(),
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io)?;
    }
    let tmp = path.with_extension("oxide-tmp");
    fs::write(&tmp, contents).map_err(io)?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io(e)
    })
}

/// `oxide init` (the caller gives the files; `crate::setup::init` gives every room's
/// defaults): writes the governance files that are absent, opens (creating) the database and
/// records the workspace. Idempotent: a second run writes nothing.
#[tracing::instrument(name = "workspace.init", skip_all, fields(dir = %dir.display()))]
pub fn init_with(
    dir: &Path,
    db: Option<&Path>,
    actor: &str,
    clock: Clock,
    files: &[(&str, &str)],
) -> Result<InitReport, Error> {
    let root = discover_root(dir)?;
    let db_path = resolve_db(&root, db)?;
    let mut store = Store::open(&db_path)?;
    let mut created = Vec::new();
    for (rel, contents) in files {
        let path = root.join(rel);
        if !path.exists() {
            write_new_file(&path, contents)?;
            created.push(rel.to_string());
        }
    }
    let root_text = root.display().to_string();
    let ts = clock.now_rfc3339();
    store.write(|tx| -> Result<(), Error> {
        let inserted = tx.execute(
            "INSERT INTO workspaces (path, created_at) VALUES (?1, ?2) ON CONFLICT(path) DO NOTHING",
            rusqlite::params![root_text, ts],
        )?;
        if inserted > 0 || !created.is_empty() {
            audit::append(
                tx,
                NewEvent {
                    actor,
                    kind: "workspace.init",
                    subject: &root_text,
                    payload: json!({ "created": created, "db": db_path.display().to_string() }),
                },
                &ts,
            )?;
        }
        Ok(())
    })?;
    Ok(InitReport {
        workspace: root_text,
        db: db_path.display().to_string(),
        created,
    })
}

/// An open workspace: the repository root, its settings and its database.
#[derive(Debug)]
pub struct Workspace {
    root: PathBuf,
    store: Store,
    clock: Clock,
}

impl Workspace {
    /// Opens the workspace around `dir` and its database (created and migrated if needed).
    #[tracing::instrument(name = "workspace.open", skip_all, fields(dir = %dir.display()))]
    pub fn open(dir: &Path, db: Option<&Path>) -> Result<Workspace, Error> {
        let root = discover_root(dir)?;
        let db_path = resolve_db(&root, db)?;
        let store = Store::open(&db_path)?;
        Ok(Workspace {
            root,
            store,
            clock: Clock::system(),
        })
    }

    pub fn with_clock(mut self, clock: Clock) -> Workspace {
        self.clock = clock;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn clock(&self) -> Clock {
        self.clock
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// `.oxide/oxide.toml`, or the defaults when it does not exist yet.
    pub fn settings(&self) -> Result<Settings, Error> {
        let path = self.root.join(SETTINGS_PATH);
        match fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|e| {
                WorkspaceError::BadConfig {
                    path: path.display().to_string(),
                    why: e.message().to_string(),
                }
                .into()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(WorkspaceError::Io {
                path: path.display().to_string(),
                why: e.to_string(),
            }
            .into()),
        }
    }

    pub fn audit_list(
        &self,
        after: Option<i64>,
        limit: Option<u32>,
    ) -> Result<Vec<AuditEvent>, Error> {
        Ok(audit::list(self.store.conn(), after, limit)?)
    }

    pub fn audit_verify(&self) -> Result<AuditVerify, Error> {
        Ok(audit::verify(self.store.conn())?)
    }

    pub fn audit_export(&self, path: &Path) -> Result<u64, Error> {
        Ok(audit::export(self.store.conn(), path)?)
    }
}

/// Creates a small demo repository at `dir` (git init, a few files, one commit) and runs
/// `init_with(files)` on it. Used by the desktop app on first start (through
/// `crate::setup::create_demo`). Refuses a non-empty `dir`.
pub fn create_demo_with(
    dir: &Path,
    db: Option<&Path>,
    clock: Clock,
    files: &[(&str, &str)],
) -> Result<InitReport, Error> {
    let git = |e: git2::Error| WorkspaceError::Git(e.message().to_string());
    if dir.join(".git").exists() {
        return init_with(dir, db, "oxide-demo", clock, files);
    }
    if dir.exists()
        && fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
    {
        return Err(WorkspaceError::Io {
            path: dir.display().to_string(),
            why: "the folder is not empty and is not a git repository".into(),
        }
        .into());
    }
    let demo_files: &[(&str, &str)] = &[
        (
            "README.md",
            "# Demo service\n\nA small repository governed by OXIDE Review.\n",
        ),
        ("src/greeting.txt", "Hello from the demo service.\n"),
        (
            "config/service.json",
            "{\n  \"name\": \"demo\",\n  \"retries\": 3,\n  \"timeout_ms\": 2000\n}\n",
        ),
    ];
    for (rel, text) in demo_files {
        write_new_file(&dir.join(rel), text)?;
    }
    let mut opts = git2::RepositoryInitOptions::new();
    opts.initial_head("main");
    let repo = git2::Repository::init_opts(dir, &opts).map_err(git)?;
    let mut index = repo.index().map_err(git)?;
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .map_err(git)?;
    index.write().map_err(git)?;
    let tree = repo
        .find_tree(index.write_tree().map_err(git)?)
        .map_err(git)?;
    let sig = git2::Signature::now("OXIDE Demo", "demo@oxide.invalid").map_err(git)?;
    repo.commit(Some("HEAD"), &sig, &sig, "Initial demo commit", &tree, &[])
        .map_err(git)?;
    init_with(dir, db, "oxide-demo", clock, files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        git2::Repository::init(d.path()).unwrap();
        d
    }

    #[test]
    fn init_refuses_non_git_dir_and_writes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("db/s.sqlite3");
        let err =
            init_with(d.path(), Some(&db), "t", Clock::system(), defaults::FILES).unwrap_err();
        assert_eq!(err.code(), "WORKSPACE_NOT_GIT");
        assert_eq!(err.kind(), ErrorKind::Invalid);
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 0);
    }

    #[test]
    fn db_inside_the_worktree_is_refused() {
        let r = repo();
        let err = init_with(
            r.path(),
            Some(&r.path().join("state.sqlite3")),
            "t",
            Clock::system(),
            defaults::FILES,
        )
        .unwrap_err();
        assert_eq!(err.code(), "WORKSPACE_DB_IN_WORKTREE");
        assert!(!r.path().join(".oxide").exists());
    }

    #[test]
    fn bad_settings_are_explained() {
        let r = repo();
        let data = tempfile::tempdir().unwrap();
        let db = data.path().join("s.sqlite3");
        init_with(r.path(), Some(&db), "t", Clock::system(), defaults::FILES).unwrap();
        fs::write(
            r.path().join(".oxide/oxide.toml"),
            "[binder]\nrollout_mode = \"yolo\"\n",
        )
        .unwrap();
        let ws = Workspace::open(r.path(), Some(&db)).unwrap();
        let err = ws.settings().unwrap_err();
        assert_eq!(err.code(), "WORKSPACE_BAD_CONFIG");
        assert!(
            err.to_string().contains("yolo") || err.to_string().contains("variant"),
            "{err}"
        );
    }

    #[test]
    fn demo_workspace_is_a_committed_repo() {
        let d = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let rep = create_demo_with(
            &d.path().join("demo"),
            Some(&data.path().join("s.sqlite3")),
            Clock::system(),
            defaults::FILES,
        )
        .unwrap();
        let repo = git2::Repository::open(&rep.workspace).unwrap();
        assert!(repo.head().unwrap().peel_to_commit().is_ok());
        assert!(Path::new(&rep.workspace).join(".oxide/oxide.toml").exists());
    }
}
