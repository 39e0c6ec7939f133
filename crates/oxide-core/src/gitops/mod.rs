//! git2 plumbing for proposals: the branch `oxide/proposals/<short-id>` made from the bundle's
//! base commit with the intent applied to a tree (never to the user's checkout or index), a
//! commit by the bot identity with `Oxide-Proposal`/`Oxide-Skill` trailers, the "did the
//! target move and does the intent still apply" question, and temporary worktrees.
//!
//! What an intent does is decided by `proposal::apply_ops` (pure); this room only reads the
//! base through [`TreeFiles`] and writes the resulting blobs and trees.

use std::path::{Path, PathBuf};

use git2::{build::TreeUpdateBuilder, FileMode, Oid, Repository, Signature, Time};
use serde::{Deserialize, Serialize};

use crate::proposal::{apply_ops, Bundle, Change, Problem, TreeFiles};

pub mod diffstat;
pub mod promote;
pub mod revert;
pub mod review_diff;
pub mod ssh;
pub mod transport;

/// Prefix of every proposal branch.
pub const BRANCH_PREFIX: &str = "oxide/proposals/";
/// Prefix of the names of temporary worktrees made by validation.
pub const WORKTREE_PREFIX: &str = "oxide-validate-";

/// Errors of the `gitops` room.
#[derive(Debug, thiserror::Error)]
pub enum GitopsError {
    #[error("the base commit {commit} of this proposal is not in the repository; fetch it (git fetch) or re-propose against the current {branch}")]
    BaseMissing { commit: String, branch: String },
    #[error("the intent does not apply to {at}: {}; re-propose against the current branch", summarize(.problems))]
    DoesNotApply { at: String, problems: Vec<Problem> },
    #[error("branch {branch} exists and is not this proposal's (it points at {found}); delete or rename it, then retry")]
    BranchConflict { branch: String, found: String },
    #[error("branch {branch} does not point at the commit this proposal's bundle makes (expected {expected}, found {found}): something rewrote it; the proposal is quarantined and the branch left for inspection")]
    BranchForged {
        branch: String,
        expected: String,
        found: String,
    },
    #[error("the target branch '{0}' does not exist in the repository; set [workflow] target_branch in .oxide/oxide.toml")]
    NoTarget(String),
    #[error("{refname} moved meanwhile (expected {expected}, found {found}); nothing was changed, retry")]
    RefMoved {
        refname: String,
        expected: String,
        found: String,
    },
    #[error("git: {0}")]
    Git(String),
    #[error("{0}")]
    TooLarge(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    #[error("cannot sync through remote '{remote}': {why}")]
    RemoteUnusable { remote: String, why: String },
    #[error("refusing the ssh server at {host} (port {port}): its host key {fingerprint} is not verified: {why}")]
    HostKeyUnverified {
        host: String,
        port: u16,
        fingerprint: String,
        why: String,
    },
    #[error("ssh authentication to {host} for remote '{remote}' failed ({detail}); tried: {tried}. Load your key into ssh-agent (`ssh-add`) or keep an unencrypted ~/.ssh/id_ed25519, id_ecdsa or id_rsa, and make sure its public key is in the server's authorized_keys")]
    SshAuth {
        remote: String,
        host: String,
        tried: String,
        detail: String,
    },
}

impl From<rusqlite::Error> for GitopsError {
    fn from(e: rusqlite::Error) -> Self {
        GitopsError::Store(e.into())
    }
}

fn summarize(problems: &[Problem]) -> String {
    let mut s: Vec<String> = problems
        .iter()
        .take(3)
        .map(|p| format!("{} {}", p.pointer, p.message))
        .collect();
    if problems.len() > 3 {
        s.push(format!("and {} more", problems.len() - 3));
    }
    s.join("; ")
}

impl From<git2::Error> for GitopsError {
    fn from(e: git2::Error) -> Self {
        GitopsError::Git(e.message().to_string())
    }
}

impl GitopsError {
    pub fn code(&self) -> &'static str {
        match self {
            GitopsError::BaseMissing { .. } => "GITOPS_BASE_MISSING",
            GitopsError::DoesNotApply { .. } => "GITOPS_DOES_NOT_APPLY",
            GitopsError::BranchConflict { .. } => "GITOPS_BRANCH_CONFLICT",
            GitopsError::BranchForged { .. } => "GITOPS_BRANCH_FORGED",
            GitopsError::NoTarget(_) => "GITOPS_NO_TARGET",
            GitopsError::RefMoved { .. } => "GITOPS_REF_MOVED",
            GitopsError::Git(_) => "GITOPS_GIT",
            GitopsError::TooLarge(_) => "GITOPS_TOO_LARGE",
            GitopsError::Store(e) => e.code(),
            GitopsError::Audit(e) => e.code(),
            GitopsError::RemoteUnusable { .. } => "GITOPS_REMOTE_UNUSABLE",
            GitopsError::HostKeyUnverified { .. } => "GITOPS_HOSTKEY_UNVERIFIED",
            GitopsError::SshAuth { .. } => "GITOPS_SSH_AUTH_FAILED",
        }
    }

    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            GitopsError::Git(_) => crate::ErrorKind::Internal,
            GitopsError::RefMoved { .. } => crate::ErrorKind::Refused,
            GitopsError::HostKeyUnverified { .. } => crate::ErrorKind::Refused,
            GitopsError::Store(e) => e.kind(),
            GitopsError::Audit(e) => e.kind(),
            _ => crate::ErrorKind::Invalid,
        }
    }
}

/// Who commits proposal branches (`[workflow] bot_name` / `bot_email`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotIdentity {
    pub name: String,
    pub email: String,
}

impl Default for BotIdentity {
    fn default() -> Self {
        BotIdentity::from(&crate::workspace::config::WorkflowSettings::default())
    }
}

impl From<&crate::workspace::config::WorkflowSettings> for BotIdentity {
    fn from(w: &crate::workspace::config::WorkflowSettings) -> Self {
        BotIdentity {
            name: w.bot_name.clone(),
            email: w.bot_email.clone(),
        }
    }
}

/// A proposal's branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct BranchInfo {
    pub branch: String,
    pub base_commit: String,
    pub head_commit: String,
    /// False when an existing, matching branch was reused.
    pub created: bool,
}

/// `oxide/proposals/<id>`.
pub fn branch_name(proposal_id: &str) -> String {
    format!("{BRANCH_PREFIX}{proposal_id}")
}

fn find_base<'r>(repo: &'r Repository, bundle: &Bundle) -> Result<git2::Commit<'r>, GitopsError> {
    let missing = || GitopsError::BaseMissing {
        commit: bundle.base.commit.clone(),
        branch: bundle.base.branch.clone(),
    };
    let oid = Oid::from_str(&bundle.base.commit).map_err(|_| missing())?;
    repo.find_commit(oid).map_err(|_| missing())
}

/// Applies the intent to `commit`'s tree, writing blobs and trees to the object database
/// (nothing else). Returns the new tree.
pub fn apply_to_tree(
    repo: &Repository,
    commit: &git2::Commit<'_>,
    bundle: &Bundle,
) -> Result<Oid, GitopsError> {
    let tree = commit.tree()?;
    let changes = {
        let files = TreeFiles::new(repo, tree.clone());
        apply_ops(&files, &bundle.intent.ops).map_err(|problems| GitopsError::DoesNotApply {
            at: format!("commit {}", commit.id()),
            problems,
        })?
    };
    let mut upd = TreeUpdateBuilder::new();
    for (path, change) in &changes.files {
        match change {
            Change::Write(bytes) => {
                let blob = repo.blob(bytes)?;
                // Keep an existing file's mode (e.g. executable); new files are 0644.
                let mode = match tree.get_path(Path::new(path)) {
                    Ok(e) if e.filemode() == i32::from(FileMode::BlobExecutable) => {
                        FileMode::BlobExecutable
                    }
                    _ => FileMode::Blob,
                };
                upd.upsert(path.as_str(), blob, mode);
            }
            Change::Delete => {
                upd.remove(path.as_str());
            }
        }
    }
    Ok(upd.create_updated(repo, &tree)?)
}

/// Problems applying the intent at `commit` (empty: it applies).
pub fn problems_at(
    repo: &Repository,
    commit: Oid,
    bundle: &Bundle,
) -> Result<Vec<Problem>, GitopsError> {
    let c = repo.find_commit(commit)?;
    let files = TreeFiles::new(repo, c.tree()?);
    Ok(apply_ops(&files, &bundle.intent.ops)
        .err()
        .unwrap_or_default())
}

/// Untrusted text made safe for a commit message: no control characters but newline/tab.
fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

/// The commit message: subject, rationale, then the trailers as the last paragraph.
pub fn commit_message(bundle: &Bundle, bundle_digest: &str) -> String {
    let rationale = clean(bundle.intent.rationale.trim());
    let first = rationale.lines().next().unwrap_or("").trim();
    let mut subject: String = first.chars().take(60).collect();
    if subject.is_empty() {
        subject = "proposed change".into();
    }
    format!(
        "oxide: {subject}\n\n{rationale}\n\nOxide-Proposal: {bundle_digest}\nOxide-Skill: {}\n",
        bundle.skill_digest
    )
}

fn bot_signature(bot: &BotIdentity, bundle: &Bundle) -> Result<Signature<'static>, GitopsError> {
    // The bundle's own time, so the same bundle always gives the same commit id.
    let t = crate::clock::parse_ts(&bundle.created_at)
        .map(|t| t.unix_timestamp())
        .unwrap_or(0);
    Ok(Signature::new(&bot.name, &bot.email, &Time::new(t, 0))?)
}

/// The commit a bundle makes, as (the raw commit object, its base): the intent applied to the
/// base tree, the bot identity as author and committer at the bundle's own `created_at`, and
/// the trailers naming the bundle digest. Nothing in it depends on the machine, the clock or
/// the refs, so it is the same in every clone; the blobs and trees are written, the commit is
/// not.
fn commit_buffer<'r>(
    repo: &'r Repository,
    bundle: &Bundle,
    bot: &BotIdentity,
) -> Result<(git2::Buf, git2::Commit<'r>), GitopsError> {
    let base = find_base(repo, bundle)?;
    let digest = bundle
        .digest()
        .map_err(|e| GitopsError::Git(e.to_string()))?;
    let tree_id = apply_to_tree(repo, &base, bundle)?;
    let tree = repo.find_tree(tree_id)?;
    let sig = bot_signature(bot, bundle)?;
    let msg = commit_message(bundle, &digest);
    let buf = repo.commit_create_buffer(&sig, &sig, &msg, &tree, &[&base])?;
    Ok((buf, base))
}

/// The id of the commit the proposal branch must point at for `bundle` (see [`commit_buffer`]);
/// computed, never read from a ref.
pub fn expected_commit(
    repo: &Repository,
    bundle: &Bundle,
    bot: &BotIdentity,
) -> Result<Oid, GitopsError> {
    let (buf, _) = commit_buffer(repo, bundle, bot)?;
    Ok(Oid::hash_object(git2::ObjectType::Commit, &buf)?)
}

/// Recomputes the commit `bundle` makes and compares it with what
/// `refs/heads/oxide/proposals/<id>` points at now. Call it before every use of the branch
/// (validation before and after its checks, approval, promotion): a ref moved to any other
/// commit — even one with the right parent and trailers — is [`GitopsError::BranchForged`]
/// (a missing ref too). Returns the verified commit id.
#[tracing::instrument(name = "gitops.verify_branch", skip_all, fields(proposal = proposal_id))]
pub fn verify_branch(
    repo: &Repository,
    proposal_id: &str,
    bundle: &Bundle,
    bot: &BotIdentity,
) -> Result<Oid, GitopsError> {
    let expected = expected_commit(repo, bundle, bot)?;
    let branch = branch_name(proposal_id);
    let found = repo
        .find_reference(&format!("refs/heads/{branch}"))
        .ok()
        .and_then(|r| r.resolve().ok())
        .and_then(|r| r.target());
    if found == Some(expected) {
        return Ok(expected);
    }
    Err(GitopsError::BranchForged {
        branch,
        expected: expected.to_string(),
        found: found.map_or_else(|| "no branch".to_string(), |o| o.to_string()),
    })
}

/// Makes (or finds, when it already points at the commit this bundle makes) the proposal
/// branch: base commit → intent applied to its tree → bot commit with trailers →
/// `refs/heads/oxide/proposals/<id>`. An existing branch at any other commit is never reused:
/// one carrying this bundle's `Oxide-Proposal` trailer was rewritten
/// ([`GitopsError::BranchForged`]), any other is someone else's ([`GitopsError::BranchConflict`]).
/// HEAD, the index and the working files are not touched.
#[tracing::instrument(name = "gitops.prepare_branch", skip_all, fields(proposal = proposal_id))]
pub fn prepare_branch(
    repo: &Repository,
    proposal_id: &str,
    bundle: &Bundle,
    bot: &BotIdentity,
) -> Result<BranchInfo, GitopsError> {
    let (buf, base) = commit_buffer(repo, bundle, bot)?;
    let expected = Oid::hash_object(git2::ObjectType::Commit, &buf)?;
    let digest = bundle
        .digest()
        .map_err(|e| GitopsError::Git(e.to_string()))?;
    let branch = branch_name(proposal_id);
    let refname = format!("refs/heads/{branch}");
    if let Ok(existing) = repo.find_reference(&refname) {
        let c = existing.peel_to_commit()?;
        if c.id() == expected {
            return Ok(BranchInfo {
                branch,
                base_commit: base.id().to_string(),
                head_commit: expected.to_string(),
                created: false,
            });
        }
        let claims_ours = c
            .message_raw()
            .is_some_and(|m| m.contains(&format!("Oxide-Proposal: {digest}")));
        return Err(if claims_ours {
            GitopsError::BranchForged {
                branch,
                expected: expected.to_string(),
                found: c.id().to_string(),
            }
        } else {
            GitopsError::BranchConflict {
                branch,
                found: c.id().to_string(),
            }
        });
    }
    let oid = repo.odb()?.write(git2::ObjectType::Commit, &buf)?;
    debug_assert_eq!(oid, expected);
    repo.reference(
        &refname,
        oid,
        false,
        &format!("oxide: proposal {proposal_id}"),
    )?;
    Ok(BranchInfo {
        branch,
        base_commit: base.id().to_string(),
        head_commit: oid.to_string(),
        created: true,
    })
}

/// Records that a proposal's branch was found rewritten (`gitops.branch_forged`, with what was
/// expected and found), in the caller's transaction — next to the quarantine. The forged ref
/// is left where it is, for inspection: a quarantined proposal never uses its branch again.
pub fn record_forgery(
    conn: &rusqlite::Connection,
    proposal_id: &str,
    err: &GitopsError,
    stage: &str,
    stamp: &crate::clock::Stamp<'_>,
) -> Result<(), GitopsError> {
    let GitopsError::BranchForged {
        branch,
        expected,
        found,
    } = err
    else {
        return Ok(());
    };
    crate::audit::append(
        conn,
        crate::audit::NewEvent {
            actor: stamp.actor,
            kind: "gitops.branch_forged",
            subject: proposal_id,
            payload: serde_json::json!({"branch": branch, "expected": expected, "found": found,
                                        "stage": stage}),
        },
        stamp.at,
    )?;
    Ok(())
}

/// Whether the target branch moved past the base, and if so whether the intent still applies
/// to its head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetStatus {
    pub target_branch: String,
    pub head: String,
    pub moved: bool,
    /// Problems applying the intent to the moved head (empty: it still applies).
    pub problems: Vec<Problem>,
}

impl TargetStatus {
    /// The target moved and the intent no longer applies: the proposal is superseded.
    pub fn superseded(&self) -> bool {
        self.moved && !self.problems.is_empty()
    }
}

pub fn target_status(
    repo: &Repository,
    target_branch: &str,
    bundle: &Bundle,
) -> Result<TargetStatus, GitopsError> {
    let r = repo
        .find_branch(target_branch, git2::BranchType::Local)
        .map_err(|_| GitopsError::NoTarget(target_branch.into()))?;
    let head = r.get().peel_to_commit()?.id();
    let moved = head.to_string() != bundle.base.commit;
    let problems = if moved {
        problems_at(repo, head, bundle)?
    } else {
        Vec::new()
    };
    Ok(TargetStatus {
        target_branch: target_branch.into(),
        head: head.to_string(),
        moved,
        problems,
    })
}

/// Adds a worktree `name` at `path` (must not exist) with `commit` checked out, detached: the
/// files come from the commit id, never from a branch name someone could move meanwhile.
/// libgit2 adds worktrees only on a branch, so a private branch `name` is made at `commit`, the
/// worktree's HEAD is then detached at `commit` and its files forced to that commit's tree
/// (whatever the private branch pointed at for a moment), and the private branch is deleted.
pub fn add_worktree(
    repo: &Repository,
    name: &str,
    path: &Path,
    commit: Oid,
) -> Result<PathBuf, GitopsError> {
    let c = repo.find_commit(commit)?;
    let mut scratch = repo.branch(name, &c, false)?;
    let added = (|| -> Result<PathBuf, GitopsError> {
        let mut opts = git2::WorktreeAddOptions::new();
        opts.reference(Some(scratch.get()));
        let wt = repo.worktree(name, path, Some(&opts))?;
        let wrepo = Repository::open_from_worktree(&wt)?;
        wrepo.set_head_detached(commit)?;
        let mut co = git2::build::CheckoutBuilder::new();
        co.force().remove_untracked(true).remove_ignored(true);
        let wc = wrepo.find_commit(commit)?;
        wrepo.checkout_tree(wc.as_object(), Some(&mut co))?;
        let head = wrepo.head()?;
        if !wrepo.head_detached()? || head.target() != Some(commit) {
            return Err(GitopsError::Git(format!(
                "the worktree {name} is not detached at {commit}"
            )));
        }
        Ok(wt.path().to_path_buf())
    })();
    let deleted = scratch.delete();
    let path = added?;
    deleted?;
    Ok(path)
}

/// Removes worktree `name`: its files (if any) and its registration. Missing is fine.
pub fn remove_worktree(
    repo: &Repository,
    name: &str,
    path: Option<&Path>,
) -> Result<(), GitopsError> {
    if let Some(p) = path {
        if p.exists() {
            std::fs::remove_dir_all(p)
                .map_err(|e| GitopsError::Git(format!("cannot remove {}: {e}", p.display())))?;
        }
    }
    if let Ok(wt) = repo.find_worktree(name) {
        // Only the registration: the path in git's metadata can be edited by anyone who can
        // write the git directory, so it is never deleted (the caller removed `path`).
        let mut o = git2::WorktreePruneOptions::new();
        o.valid(true).locked(true).working_tree(false);
        wt.prune(Some(&mut o))?;
    }
    // The private branch `add_worktree` makes, if a crash left it behind.
    if name.starts_with(WORKTREE_PREFIX) {
        if let Ok(mut b) = repo.find_branch(name, git2::BranchType::Local) {
            b.delete()?;
        }
    }
    Ok(())
}

/// Names of registered worktrees made by validation (`oxide-validate-*`).
pub fn validation_worktrees(repo: &Repository) -> Result<Vec<String>, GitopsError> {
    Ok(repo
        .worktrees()?
        .iter()
        .flatten()
        .filter(|n| n.starts_with(WORKTREE_PREFIX))
        .map(String::from)
        .collect())
}

/// Reads files at `commit` of the repository at `root`: the returned function gives a path's
/// bytes, or `None` when the repository, the commit or the file is missing (or not a file).
pub fn blob_reader(root: &Path, commit: &str) -> impl Fn(&str) -> Option<Vec<u8>> {
    let tree = Repository::open(root).ok().and_then(|repo| {
        let oid = Oid::from_str(commit).ok()?;
        let id = repo.find_commit(oid).ok()?.tree().ok()?.id();
        Some((repo, id))
    });
    move |path: &str| {
        let (repo, tree_id) = tree.as_ref()?;
        let tree = repo.find_tree(*tree_id).ok()?;
        let entry = tree.get_path(Path::new(path)).ok()?;
        let blob = repo.find_blob(entry.id()).ok()?;
        Some(blob.content().to_vec())
    }
}

/// Records a proposal's branch (`proposal_branches`) with a `gitops.branch_created` audit
/// event, in the caller's transaction. The first record stays: a branch already recorded for
/// the proposal is left as it is and nothing is audited. Returns whether a row was written.
pub fn record_branch(
    conn: &rusqlite::Connection,
    proposal_id: &str,
    branch: &BranchInfo,
    stamp: &crate::clock::Stamp<'_>,
) -> Result<bool, GitopsError> {
    let n = conn.execute(
        "INSERT INTO proposal_branches (proposal_id, branch, base_commit, head_commit, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(proposal_id) DO NOTHING",
        rusqlite::params![
            proposal_id,
            branch.branch,
            branch.base_commit,
            branch.head_commit,
            stamp.at
        ],
    )?;
    if n > 0 {
        crate::audit::append(
            conn,
            crate::audit::NewEvent {
                actor: stamp.actor,
                kind: "gitops.branch_created",
                subject: proposal_id,
                payload: serde_json::json!({"branch": branch.branch, "base": branch.base_commit,
                                            "commit": branch.head_commit}),
            },
            stamp.at,
        )?;
    }
    Ok(n > 0)
}

/// The branch recorded for a proposal (`proposal_branches`), if validation made one.
pub fn stored_branch(
    conn: &rusqlite::Connection,
    proposal_id: &str,
) -> rusqlite::Result<Option<BranchInfo>> {
    use rusqlite::OptionalExtension;
    conn.query_row(
        "SELECT branch, base_commit, head_commit FROM proposal_branches WHERE proposal_id = ?1",
        [proposal_id],
        |r| {
            Ok(BranchInfo {
                branch: r.get(0)?,
                base_commit: r.get(1)?,
                head_commit: r.get(2)?,
                created: false,
            })
        },
    )
    .optional()
}

#[cfg(test)]
mod tests;
