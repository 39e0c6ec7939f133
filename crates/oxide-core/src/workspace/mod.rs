//! A governed repository and its state database: locating both, writing the governance files
//! and recording the workspace (`init_with`, given the files by the caller), and the handle
//! (`Workspace`) through which the shells reach every room. Part of the foundation: it knows
//! no room (the default policy, the status summary and `oxide init` itself live above).

pub mod config;
pub mod defaults;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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
    #[error("the branch '{0}' does not exist in the repository; create it (git branch) and commit its governance first; nothing was changed")]
    NoSuchBranch(String),
    #[error("changing the target branch needs --reason TEXT (it is recorded in the audit log); nothing was changed")]
    ReasonRequired,
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
            WorkspaceError::NoSuchBranch(_) => "WORKSPACE_NO_SUCH_BRANCH",
            WorkspaceError::ReasonRequired => "WORKSPACE_REASON_REQUIRED",
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
    /// The target branch fixed for the workspace (set at the first `init`; changed only by
    /// `oxide target set`).
    pub target_branch: String,
}

/// What `oxide target set` did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TargetChange {
    pub from: String,
    pub to: String,
    pub reason: String,
}

/// Where the workspace settings live (relative to the repository root).
pub const SETTINGS_PATH: &str = ".oxide/oxide.toml";
/// The folder of every governance file (settings, checks, approvers, policy).
pub const GOVERNANCE_DIR: &str = ".oxide";
/// The target branch when none was recorded (databases from before it was fixed at init).
pub const DEFAULT_TARGET_BRANCH: &str = "main";

pub fn parse_settings(origin: &str, text: &str) -> Result<Settings, WorkspaceError> {
    toml::from_str(text).map_err(|e| WorkspaceError::BadConfig {
        path: origin.to_string(),
        why: e.message().to_string(),
    })
}

/// The tree at the tip of local branch `branch` (`None`: no such branch or no commit yet).
fn branch_tree<'r>(repo: &'r git2::Repository, branch: &str) -> Option<git2::Tree<'r>> {
    repo.find_branch(branch, git2::BranchType::Local)
        .ok()?
        .get()
        .peel_to_tree()
        .ok()
}

/// Every file under `dir` of `tree`, by path relative to the repository root.
fn tree_files(
    repo: &git2::Repository,
    tree: &git2::Tree<'_>,
    dir: &str,
) -> Result<std::collections::BTreeMap<String, Vec<u8>>, WorkspaceError> {
    let git = |e: git2::Error| WorkspaceError::Git(e.message().to_string());
    let mut out = std::collections::BTreeMap::new();
    let Ok(entry) = tree.get_path(Path::new(dir)) else {
        return Ok(out);
    };
    let Ok(sub) = repo.find_tree(entry.id()) else {
        return Ok(out);
    };
    let mut failed = None;
    sub.walk(git2::TreeWalkMode::PreOrder, |prefix, e| {
        if e.kind() == Some(git2::ObjectType::Blob) {
            let name = format!("{dir}/{prefix}{}", e.name().unwrap_or_default());
            match repo.find_blob(e.id()) {
                Ok(b) => {
                    out.insert(name, b.content().to_vec());
                }
                Err(err) => {
                    failed = Some(err);
                    return git2::TreeWalkResult::Abort;
                }
            }
        }
        git2::TreeWalkResult::Ok
    })
    .map_err(git)?;
    if let Some(e) = failed {
        return Err(git(e));
    }
    Ok(out)
}

/// Every file under `dir` of the working tree at `root`, by path relative to the root (a
/// symbolic link counts with its target path as content: it is never followed).
fn worktree_files(
    root: &Path,
    dir: &str,
) -> Result<std::collections::BTreeMap<String, Vec<u8>>, WorkspaceError> {
    fn walk(
        root: &Path,
        at: &Path,
        out: &mut std::collections::BTreeMap<String, Vec<u8>>,
    ) -> std::io::Result<()> {
        for e in fs::read_dir(at)? {
            let e = e?;
            let ft = e.file_type()?;
            let path = e.path();
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            if ft.is_dir() {
                walk(root, &path, out)?;
            } else if ft.is_symlink() {
                let target = fs::read_link(&path)?;
                out.insert(rel, target.as_os_str().as_encoded_bytes().to_vec());
            } else if ft.is_file() {
                out.insert(rel, fs::read(&path)?);
            }
        }
        Ok(())
    }
    let mut out = std::collections::BTreeMap::new();
    let start = root.join(dir);
    if !start.is_dir() {
        return Ok(out);
    }
    walk(root, &start, &mut out).map_err(|e| WorkspaceError::Io {
        path: start.display().to_string(),
        why: e.to_string(),
    })?;
    Ok(out)
}

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
    // The target branch is fixed now, from the settings in the working tree at this moment
    // (or the defaults about to be written); read before anything is written.
    let settings_file = root.join(SETTINGS_PATH);
    let initial_target = match fs::read_to_string(&settings_file) {
        Ok(text) => parse_settings(&settings_file.display().to_string(), &text)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => files
            .iter()
            .find(|(rel, _)| *rel == SETTINGS_PATH)
            .map(|(_, text)| parse_settings(SETTINGS_PATH, text))
            .transpose()?
            .unwrap_or_default(),
        Err(e) => {
            return Err(WorkspaceError::Io {
                path: settings_file.display().to_string(),
                why: e.to_string(),
            }
            .into())
        }
    }
    .workflow
    .target_branch;
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
    let target_branch = store.write(|tx| -> Result<String, Error> {
        let inserted = tx.execute(
            "INSERT INTO workspaces (path, created_at, target_branch) VALUES (?1, ?2, ?3)
             ON CONFLICT(path) DO NOTHING",
            rusqlite::params![root_text, ts, initial_target],
        )?;
        // A workspace initialised before the target was recorded gets it now, once.
        tx.execute(
            "UPDATE workspaces SET target_branch = ?2 WHERE path = ?1 AND target_branch IS NULL",
            rusqlite::params![root_text, initial_target],
        )?;
        let target: String = tx.query_row(
            "SELECT target_branch FROM workspaces WHERE path = ?1",
            [&root_text],
            |r| r.get(0),
        )?;
        if inserted > 0 || !created.is_empty() {
            audit::append(
                tx,
                NewEvent {
                    actor,
                    kind: "workspace.init",
                    subject: &root_text,
                    payload: json!({ "created": created, "db": db_path.display().to_string(),
                                     "target_branch": target }),
                },
                &ts,
            )?;
        }
        Ok(target)
    })?;
    Ok(InitReport {
        workspace: root_text,
        db: db_path.display().to_string(),
        created,
        target_branch,
    })
}

/// An open workspace: the repository root, its settings and its database.
#[derive(Debug)]
pub struct Workspace {
    root: PathBuf,
    store: Store,
    clock: Clock,
    /// The target branch's commit every read of the committed governance uses while a decision
    /// is being made ([`Workspace::pin_governance`]); `None`: the branch's tip at each read.
    governance_pin: Arc<Mutex<Option<git2::Oid>>>,
}

/// While alive, every read of the committed governance (`committed_governance`,
/// `committed_file`, `settings`, and what is built on them: the registry, the policy, the
/// checks contract) sees the target branch as it was when the pin was taken, and
/// [`Workspace::governance_pin`] names that commit. One decision (an approval, a promotion) is then judged on one snapshot: a
/// governance commit landing on the branch midway cannot make some gates read the old rules and
/// others the new ones. Dropping it unpins; a pin taken while one is held changes nothing.
#[must_use = "the governance is pinned only while the guard lives"]
#[derive(Debug)]
pub struct GovernancePin {
    slot: Arc<Mutex<Option<git2::Oid>>>,
    outer: bool,
}

impl GovernancePin {
    /// The pinned commit (`None`: the target branch does not exist, nothing is committed).
    pub fn commit(&self) -> Option<git2::Oid> {
        *lock_pin(&self.slot)
    }
}

impl Drop for GovernancePin {
    fn drop(&mut self) {
        if self.outer {
            *lock_pin(&self.slot) = None;
        }
    }
}

/// The pin's slot; a poisoned lock (a panic while it was held) still holds a valid `Oid`.
fn lock_pin(slot: &Mutex<Option<git2::Oid>>) -> std::sync::MutexGuard<'_, Option<git2::Oid>> {
    slot.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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
            governance_pin: Arc::default(),
        })
    }

    /// Pins the committed governance at the target branch's tip as it is now (see
    /// [`GovernancePin`]). Inside an existing pin, returns a guard of the same commit.
    pub fn pin_governance(&self) -> Result<GovernancePin, Error> {
        let mut slot = lock_pin(&self.governance_pin);
        if slot.is_some() {
            return Ok(GovernancePin {
                slot: Arc::clone(&self.governance_pin),
                outer: false,
            });
        }
        let git = |e: git2::Error| WorkspaceError::Git(e.message().to_string());
        let repo = git2::Repository::open(&self.root).map_err(git)?;
        let target = self.target_branch()?;
        // No branch yet: nothing to pin (every read then finds nothing committed). Any other
        // failure is reported, never taken for "no governance".
        *slot = match repo.find_branch(&target, git2::BranchType::Local) {
            Ok(b) => Some(b.get().peel_to_commit().map_err(git)?.id()),
            Err(e) if e.code() == git2::ErrorCode::NotFound => None,
            Err(e) => return Err(git(e).into()),
        };
        Ok(GovernancePin {
            slot: Arc::clone(&self.governance_pin),
            outer: slot.is_some(),
        })
    }

    /// The commit the governance is pinned at, if a [`GovernancePin`] is held.
    pub fn governance_pin(&self) -> Option<git2::Oid> {
        *lock_pin(&self.governance_pin)
    }

    /// The tree the committed governance is read from: the pinned commit's, else the target
    /// branch tip's (`None`: no branch or commit yet).
    fn governance_tree<'r>(
        &self,
        repo: &'r git2::Repository,
    ) -> Result<Option<git2::Tree<'r>>, Error> {
        if let Some(pin) = self.governance_pin() {
            let git = |e: git2::Error| WorkspaceError::Git(e.message().to_string());
            let tree = repo.find_commit(pin).and_then(|c| c.tree()).map_err(git)?;
            return Ok(Some(tree));
        }
        Ok(branch_tree(repo, &self.target_branch()?))
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

    /// The target branch fixed for this workspace (`oxide init`, `oxide target set`): the
    /// branch promotions land on and whose committed tip holds the governance in force.
    pub fn target_branch(&self) -> Result<String, Error> {
        use rusqlite::OptionalExtension;
        let root = self.root.display().to_string();
        let t: Option<Option<String>> = self
            .store
            .conn()
            .query_row(
                "SELECT target_branch FROM workspaces WHERE path = ?1",
                [&root],
                |r| r.get(0),
            )
            .optional()?;
        Ok(t.flatten()
            .unwrap_or_else(|| DEFAULT_TARGET_BRANCH.to_string()))
    }

    /// The governance files (everything under `.oxide/`) as committed on the target branch's
    /// tip (at the pinned commit while a [`GovernancePin`] is held), by path relative to the
    /// repository root (empty: no branch, commit or folder yet).
    pub fn committed_governance(
        &self,
    ) -> Result<std::collections::BTreeMap<String, Vec<u8>>, Error> {
        let git = |e: git2::Error| WorkspaceError::Git(e.message().to_string());
        let repo = git2::Repository::open(&self.root).map_err(git)?;
        let files = match self.governance_tree(&repo)? {
            Some(tree) => tree_files(&repo, &tree, GOVERNANCE_DIR)?,
            None => Default::default(),
        };
        Ok(files)
    }

    /// One file as committed on the target branch's tip, or the pinned commit (`None`: not
    /// committed there).
    pub fn committed_file(&self, path: &str) -> Result<Option<Vec<u8>>, Error> {
        let git = |e: git2::Error| WorkspaceError::Git(e.message().to_string());
        let repo = git2::Repository::open(&self.root).map_err(git)?;
        let Some(tree) = self.governance_tree(&repo)? else {
            return Ok(None);
        };
        let Ok(entry) = tree.get_path(Path::new(path)) else {
            return Ok(None);
        };
        let bytes = repo
            .find_blob(entry.id())
            .ok()
            .map(|b| b.content().to_vec());
        Ok(bytes)
    }

    /// Governance files whose working-tree content differs from the committed target's
    /// (changed, added or deleted): drafts, not in force until committed on the target branch.
    pub fn drafts(&self) -> Result<Vec<String>, Error> {
        let committed = self.committed_governance()?;
        let local = worktree_files(&self.root, GOVERNANCE_DIR)?;
        let mut out: Vec<String> = committed
            .keys()
            .chain(local.keys())
            .filter(|p| committed.get(*p) != local.get(*p))
            .cloned()
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The settings in force: `.oxide/oxide.toml` as committed on the target branch's tip (the
    /// defaults when it is not committed there), with the workspace's fixed target branch. The
    /// working tree's copy is a draft and is never read here.
    pub fn settings(&self) -> Result<Settings, Error> {
        let target = self.target_branch()?;
        let mut settings = match self.committed_file(SETTINGS_PATH)? {
            Some(bytes) => {
                let origin = format!("{SETTINGS_PATH} (committed on {target})");
                let text = String::from_utf8(bytes).map_err(|_| WorkspaceError::BadConfig {
                    path: origin.clone(),
                    why: "it is not UTF-8".into(),
                })?;
                parse_settings(&origin, &text)?
            }
            None => Settings::default(),
        };
        settings.workflow.target_branch = target;
        Ok(settings)
    }

    /// `oxide target set`: changes the workspace's target branch to `branch` (which must exist
    /// locally), audited with `reason` (required) in one transaction.
    #[tracing::instrument(name = "workspace.target_set", skip_all, fields(branch = branch))]
    pub fn set_target_branch(
        &mut self,
        branch: &str,
        reason: &str,
        actor: &str,
    ) -> Result<TargetChange, Error> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(WorkspaceError::ReasonRequired.into());
        }
        let git = |e: git2::Error| WorkspaceError::Git(e.message().to_string());
        let repo = git2::Repository::open(&self.root).map_err(git)?;
        if branch_tree(&repo, branch).is_none() {
            return Err(WorkspaceError::NoSuchBranch(branch.to_string()).into());
        }
        let from = self.target_branch()?;
        let root = self.root.display().to_string();
        let ts = self.clock.now_rfc3339();
        let change = TargetChange {
            from,
            to: branch.to_string(),
            reason: reason.to_string(),
        };
        self.store.write(|tx| -> Result<(), Error> {
            tx.execute(
                "INSERT INTO workspaces (path, created_at, target_branch) VALUES (?1, ?2, ?3)
                 ON CONFLICT(path) DO UPDATE SET target_branch = excluded.target_branch",
                rusqlite::params![root, ts, change.to],
            )?;
            audit::append(
                tx,
                NewEvent {
                    actor,
                    kind: "workspace.target_set",
                    subject: &root,
                    payload: json!({ "from": change.from, "to": change.to, "reason": change.reason }),
                },
                &ts,
            )?;
            Ok(())
        })?;
        Ok(change)
    }

    pub fn audit_list(
        &self,
        after: Option<i64>,
        limit: Option<u32>,
    ) -> Result<Vec<AuditEvent>, Error> {
        Ok(audit::list(self.store.conn(), after, limit)?)
    }

    /// One page of the audit timeline (filters, cursors, jumps: `audit::query`).
    pub fn audit_page(&self, q: &audit::TimelineQuery) -> Result<audit::TimelinePage, Error> {
        Ok(audit::query(self.store.conn(), q)?)
    }

    /// The events matching `q`, in its order, handed to `each` (`audit::for_each_matching`).
    pub fn audit_for_each(
        &self,
        q: &audit::TimelineQuery,
        each: impl FnMut(AuditEvent) -> Result<(), audit::AuditError>,
    ) -> Result<u64, Error> {
        Ok(audit::for_each_matching(self.store.conn(), q, each)?)
    }

    /// How many events match `filter` (`audit::count_matching`).
    pub fn audit_count(&self, filter: &audit::TimelineFilter) -> Result<u64, Error> {
        Ok(audit::count_matching(self.store.conn(), filter)?)
    }

    /// The events matching `q` written as JSON Lines to `path` (`audit::export_matching`).
    pub fn audit_export_matching(
        &self,
        path: &Path,
        q: &audit::TimelineQuery,
    ) -> Result<u64, Error> {
        Ok(audit::export_matching(self.store.conn(), path, q)?)
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
    // The governance files are committed with the demo: what governs is what is committed.
    for (rel, text) in demo_files.iter().chain(files.iter()) {
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

    /// Commits every file of the working tree on `main`.
    fn commit_all(dir: &Path) {
        let repo = git2::Repository::open(dir).unwrap();
        let mut index = repo.index().unwrap();
        index
            .add_all(["*", ".oxide"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("T", "t@example.invalid").unwrap();
        let parent = repo
            .find_reference("refs/heads/main")
            .ok()
            .and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        repo.commit(Some("refs/heads/main"), &sig, &sig, "c", &tree, &parents)
            .unwrap();
    }

    #[test]
    fn settings_come_from_the_committed_target_and_drafts_are_listed() {
        let r = repo();
        let data = tempfile::tempdir().unwrap();
        let db = data.path().join("s.sqlite3");
        let rep = init_with(r.path(), Some(&db), "t", Clock::system(), defaults::FILES).unwrap();
        assert_eq!(rep.target_branch, "main");
        commit_all(r.path());
        let ws = Workspace::open(r.path(), Some(&db)).unwrap();
        assert!(ws.drafts().unwrap().is_empty());
        // A working-tree edit (even an unparsable one) is a draft, never read.
        fs::write(
            r.path().join(".oxide/oxide.toml"),
            "[workflow]\ntarget_branch = \"lax\"\n[binder]\nrollout_mode = \"yolo\"\n",
        )
        .unwrap();
        fs::write(r.path().join(".oxide/extra.toml"), "x = 1\n").unwrap();
        assert_eq!(ws.settings().unwrap(), Settings::default());
        assert_eq!(
            ws.drafts().unwrap(),
            vec![
                ".oxide/extra.toml".to_string(),
                ".oxide/oxide.toml".to_string()
            ]
        );
    }

    #[test]
    fn a_pin_holds_the_governance_of_one_commit_until_dropped() {
        let r = repo();
        let data = tempfile::tempdir().unwrap();
        let db = data.path().join("s.sqlite3");
        init_with(r.path(), Some(&db), "t", Clock::system(), defaults::FILES).unwrap();
        commit_all(r.path());
        let ws = Workspace::open(r.path(), Some(&db)).unwrap();
        let tip = |r: &Path| {
            git2::Repository::open(r)
                .unwrap()
                .find_reference("refs/heads/main")
                .unwrap()
                .target()
                .unwrap()
        };
        let before = tip(r.path());
        let old = ws.committed_file(SETTINGS_PATH).unwrap().unwrap();
        assert_eq!(ws.governance_pin(), None);
        let pin = ws.pin_governance().unwrap();
        assert_eq!(pin.commit(), Some(before));
        assert_eq!(ws.governance_pin(), Some(before));
        // A governance commit lands on the target branch mid-decision.
        fs::write(
            r.path().join(SETTINGS_PATH),
            "[approvals]\nlifetime_hours = 1\n",
        )
        .unwrap();
        fs::write(r.path().join(".oxide/added.toml"), "x = 1\n").unwrap();
        commit_all(r.path());
        assert_ne!(tip(r.path()), before);
        // Every read still sees the pinned commit: the file, the folder, the settings.
        assert_eq!(ws.committed_file(SETTINGS_PATH).unwrap().unwrap(), old);
        assert!(!ws
            .committed_governance()
            .unwrap()
            .contains_key(".oxide/added.toml"));
        assert_eq!(ws.settings().unwrap(), Settings::default());
        // A pin taken inside it keeps the outer commit and, dropped, does not unpin.
        let inner = ws.pin_governance().unwrap();
        assert_eq!(inner.commit(), Some(before));
        drop(inner);
        assert_eq!(ws.governance_pin(), Some(before));
        // Dropped: the tip again.
        drop(pin);
        assert_eq!(ws.governance_pin(), None);
        assert_ne!(ws.committed_file(SETTINGS_PATH).unwrap().unwrap(), old);
        assert!(ws
            .committed_governance()
            .unwrap()
            .contains_key(".oxide/added.toml"));
        // No branch at all: nothing to pin, and nothing stays pinned.
        let e = repo();
        let edb = data.path().join("e.sqlite3");
        init_with(e.path(), Some(&edb), "t", Clock::system(), defaults::FILES).unwrap();
        let ews = Workspace::open(e.path(), Some(&edb)).unwrap();
        let p = ews.pin_governance().unwrap();
        assert_eq!(p.commit(), None);
        assert!(ews.committed_governance().unwrap().is_empty());
    }

    #[test]
    fn target_set_needs_a_reason_and_an_existing_branch() {
        let r = repo();
        let data = tempfile::tempdir().unwrap();
        let db = data.path().join("s.sqlite3");
        init_with(r.path(), Some(&db), "t", Clock::system(), defaults::FILES).unwrap();
        commit_all(r.path());
        let mut ws = Workspace::open(r.path(), Some(&db)).unwrap();
        let events = ws.audit_list(None, None).unwrap().len();
        let e = ws.set_target_branch("main", "  ", "t").unwrap_err();
        assert_eq!(e.code(), "WORKSPACE_REASON_REQUIRED");
        let e = ws.set_target_branch("nope", "why", "t").unwrap_err();
        assert_eq!(e.code(), "WORKSPACE_NO_SUCH_BRANCH");
        assert_eq!(ws.audit_list(None, None).unwrap().len(), events);
        let repo = git2::Repository::open(r.path()).unwrap();
        let head = repo
            .find_reference("refs/heads/main")
            .unwrap()
            .peel_to_commit()
            .unwrap();
        repo.branch("release", &head, false).unwrap();
        let c = ws.set_target_branch("release", "cut 1.0", "t").unwrap();
        assert_eq!((c.from.as_str(), c.to.as_str()), ("main", "release"));
        assert_eq!(ws.target_branch().unwrap(), "release");
        assert_eq!(ws.settings().unwrap().workflow.target_branch, "release");
        let last = ws.audit_list(None, None).unwrap().pop().unwrap();
        assert_eq!(last.kind, "workspace.target_set");
        // A second init keeps the fixed target.
        let rep = init_with(r.path(), Some(&db), "t", Clock::system(), defaults::FILES).unwrap();
        assert_eq!(rep.target_branch, "release");
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
        commit_all(r.path());
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
