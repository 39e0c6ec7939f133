//! Team state as git objects and refs, and moving them through the repository's own remote
//! (issue 13 item 6; the layout is in docs/sync.md).
//!
//! - [`write_files_commit`]: a set of files (path → bytes) as a commit on a ref, whose parent
//!   is the ref's previous commit — written only when the tree changed, so a sync with
//!   nothing new makes no commit and pushes nothing.
//! - [`read_files`]: every file of a commit's tree (what another device published).
//! - [`fetch`] / [`push`]: git2 over the remote configured in the repository (`git remote`),
//!   reporting exactly which refs moved. This build of libgit2 carries local paths,
//!   `file://` and `ssh://` (also scp-style `user@host:path`; libssh2, credentials and
//!   known_hosts checks in [`super::ssh`]); `https://`, `http://` and `git://` are refused up
//!   front with [`GitopsError::RemoteUnusable`] (git2 is built without its HTTPS transport).

use std::collections::BTreeMap;

use git2::{FileMode, Oid, Repository, Signature, Time};

use super::GitopsError;

/// Who writes the sync commits (content-addressed state snapshots, not code).
const SYNC_NAME: &str = "oxide-sync";
const SYNC_EMAIL: &str = "oxide-sync@oxide.invalid";

/// A ref that moved: `old` is `None` when it was created.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct RefMove {
    pub name: String,
    pub old: Option<String>,
    pub new: String,
}

/// Builds the tree of `files` (paths with `/`), recursively.
fn build_tree(repo: &Repository, files: &BTreeMap<String, Vec<u8>>) -> Result<Oid, GitopsError> {
    // Group by first path component.
    let mut blobs: BTreeMap<String, Oid> = BTreeMap::new();
    let mut dirs: BTreeMap<String, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
    for (path, bytes) in files {
        match path.split_once('/') {
            Some((dir, rest)) => {
                dirs.entry(dir.to_string())
                    .or_default()
                    .insert(rest.to_string(), bytes.clone());
            }
            None => {
                blobs.insert(path.clone(), repo.blob(bytes)?);
            }
        }
    }
    let mut tb = repo.treebuilder(None)?;
    for (name, oid) in blobs {
        tb.insert(&name, oid, FileMode::Blob.into())?;
    }
    for (name, sub) in dirs {
        let oid = build_tree(repo, &sub)?;
        tb.insert(&name, oid, FileMode::Tree.into())?;
    }
    Ok(tb.write()?)
}

/// Writes `files` as the tree of a new commit on `refname` (parent: the ref's current commit)
/// unless the ref's commit already has exactly that tree. Returns the move, or `None` when
/// nothing changed. The commit time is `at` (unix seconds), the message says what it is.
pub fn write_files_commit(
    repo: &Repository,
    refname: &str,
    files: &BTreeMap<String, Vec<u8>>,
    message: &str,
    at: i64,
) -> Result<Option<RefMove>, GitopsError> {
    let tree_id = build_tree(repo, files)?;
    let parent = repo
        .find_reference(refname)
        .ok()
        .and_then(|r| r.peel_to_commit().ok());
    if parent.as_ref().is_some_and(|p| p.tree_id() == tree_id) {
        return Ok(None);
    }
    let tree = repo.find_tree(tree_id)?;
    let sig = Signature::new(SYNC_NAME, SYNC_EMAIL, &Time::new(at, 0))?;
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    let oid = repo.commit(None, &sig, &sig, message, &tree, &parents)?;
    let old = parent.as_ref().map(|p| p.id());
    match old {
        Some(o) => repo.reference_matching(refname, oid, true, o, message)?,
        None => repo.reference(refname, oid, false, message)?,
    };
    Ok(Some(RefMove {
        name: refname.to_string(),
        old: old.map(|o| o.to_string()),
        new: oid.to_string(),
    }))
}

/// Points `refname` at `target` (a commit that exists), creating or moving it.
pub fn set_ref(
    repo: &Repository,
    refname: &str,
    target: &str,
    why: &str,
) -> Result<bool, GitopsError> {
    let oid = Oid::from_str(target)?;
    let old = repo.refname_to_id(refname).ok();
    if old == Some(oid) {
        return Ok(false);
    }
    repo.reference(refname, oid, true, why)?;
    Ok(true)
}

/// How much of a published tree [`read_files`] / [`read_file`] will load (a remote is not
/// trusted to be small: neither per file, nor in number of files, nor in total).
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    pub max_file_bytes: usize,
    pub max_total_bytes: usize,
    pub max_entries: usize,
}

/// One blob of `commit`'s tree (`None`: no such file), refused when larger than
/// `max_bytes` before its content is loaded.
pub fn read_file(
    repo: &Repository,
    commit: &str,
    path: &str,
    max_bytes: usize,
) -> Result<Option<Vec<u8>>, GitopsError> {
    let tree = repo.find_commit(Oid::from_str(commit)?)?.tree()?;
    let entry = match tree.get_path(std::path::Path::new(path)) {
        Ok(e) => e,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if entry.kind() != Some(git2::ObjectType::Blob) {
        return Ok(None);
    }
    let (size, _) = repo.odb()?.read_header(entry.id())?;
    if size > max_bytes {
        return Err(GitopsError::TooLarge(format!(
            "{path} in {commit} is {size} bytes, more than the {max_bytes} it may have"
        )));
    }
    Ok(Some(repo.find_blob(entry.id())?.content().to_vec()))
}

/// Every blob of `commit`'s tree, by path (`a/b/c`). Sizes are read from the object headers
/// first: a tree with more than `max_entries` files, a file larger than `max_file_bytes`, or
/// files adding up to more than `max_total_bytes` is refused before any content is loaded.
pub fn read_files(
    repo: &Repository,
    commit: &str,
    limits: ReadLimits,
) -> Result<BTreeMap<String, Vec<u8>>, GitopsError> {
    let c = repo.find_commit(Oid::from_str(commit)?)?;
    let tree = c.tree()?;
    let odb = repo.odb()?;
    let mut listed: Vec<(String, Oid)> = Vec::new();
    let mut total: usize = 0;
    let mut err: Option<GitopsError> = None;
    let walked = tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        if entry.kind() != Some(git2::ObjectType::Blob) {
            return git2::TreeWalkResult::Ok;
        }
        let path = format!("{dir}{}", entry.name().unwrap_or_default());
        if listed.len() >= limits.max_entries {
            err = Some(GitopsError::TooLarge(format!(
                "{commit} has more than the {} files a sync state may have",
                limits.max_entries
            )));
            return git2::TreeWalkResult::Abort;
        }
        let size = match odb.read_header(entry.id()) {
            Ok((size, _)) => size,
            Err(e) => {
                err = Some(e.into());
                return git2::TreeWalkResult::Abort;
            }
        };
        if size > limits.max_file_bytes {
            err = Some(GitopsError::TooLarge(format!(
                "{path} in {commit} is {size} bytes, more than the {} a sync file may have",
                limits.max_file_bytes
            )));
            return git2::TreeWalkResult::Abort;
        }
        total = total.saturating_add(size);
        if total > limits.max_total_bytes {
            err = Some(GitopsError::TooLarge(format!(
                "the files of {commit} add up to more than the {} bytes a sync state may have",
                limits.max_total_bytes
            )));
            return git2::TreeWalkResult::Abort;
        }
        listed.push((path, entry.id()));
        git2::TreeWalkResult::Ok
    });
    // An aborted walk is reported by its reason, not by libgit2's "callback aborted".
    if let Some(e) = err {
        return Err(e);
    }
    walked?;
    let mut out = BTreeMap::new();
    for (path, oid) in listed {
        out.insert(path, repo.find_blob(oid)?.content().to_vec());
    }
    Ok(out)
}

/// The refs under `prefix` and their targets.
pub fn refs_under(
    repo: &Repository,
    prefix: &str,
) -> Result<BTreeMap<String, String>, GitopsError> {
    let mut out = BTreeMap::new();
    for r in repo.references_glob(&format!("{prefix}*"))? {
        let r = r?;
        if let (Some(name), Some(t)) = (r.name(), r.target()) {
            out.insert(name.to_string(), t.to_string());
        }
    }
    Ok(out)
}

/// Checks that remote `name` is configured and carried by this build (before anything else
/// is done).
pub fn check_remote(repo: &Repository, name: &str) -> Result<(), GitopsError> {
    usable_remote(repo, name).map(|_| ())
}

/// The remote `name` as configured, refused when its URL needs a transport this build lacks.
fn usable_remote<'r>(repo: &'r Repository, name: &str) -> Result<git2::Remote<'r>, GitopsError> {
    let remote = repo.find_remote(name).map_err(|_| GitopsError::RemoteUnusable {
        remote: name.to_string(),
        why: "no such remote in this repository (see `git remote -v`); add one with `git remote add NAME URL` or pass --remote".into(),
    })?;
    let url = remote.url().unwrap_or_default().to_string();
    let lower = url.to_ascii_lowercase();
    let unsupported = ["https://", "http://", "git://"]
        .iter()
        .find(|p| lower.starts_with(**p))
        .copied();
    if let Some(p) = unsupported {
        return Err(GitopsError::RemoteUnusable {
            remote: name.to_string(),
            why: format!("its URL {url} uses {p}, and this build of libgit2 carries only local paths, file:// and ssh:// (built without HTTPS support); sync through an ssh:// or file:// remote"),
        });
    }
    if lower.contains("://")
        && !lower.starts_with("file://")
        && super::ssh::parse_ssh_url(&url).is_none()
    {
        return Err(GitopsError::RemoteUnusable {
            remote: name.to_string(),
            why: format!("its URL {url} uses a transport this build does not carry (local paths, file:// and ssh:// only)"),
        });
    }
    Ok(remote)
}

/// Fetches `refspecs` (e.g. `+refs/oxide/devices/*:refs/oxide/remotes/origin/devices/*`) from
/// remote `name`; returns the local refs that moved (under the destinations' prefixes).
pub fn fetch(
    repo: &Repository,
    name: &str,
    refspecs: &[String],
    watch_prefixes: &[String],
) -> Result<Vec<RefMove>, GitopsError> {
    let mut remote = usable_remote(repo, name)?;
    let before: Vec<BTreeMap<String, String>> = watch_prefixes
        .iter()
        .map(|p| refs_under(repo, p))
        .collect::<Result<_, _>>()?;
    let ssh = super::ssh::SshSession::new(remote.url().unwrap_or_default());
    let mut opts = git2::FetchOptions::new();
    opts.remote_callbacks(ssh.callbacks());
    opts.prune(git2::FetchPrune::Off);
    opts.download_tags(git2::AutotagOption::None);
    let specs: Vec<&str> = refspecs.iter().map(String::as_str).collect();
    let fetched = remote.fetch(&specs, Some(&mut opts), Some("oxide sync: fetch"));
    drop(opts);
    fetched.map_err(|e| ssh.error(name, "fetching from", e))?;
    let mut moved = Vec::new();
    for (p, old) in watch_prefixes.iter().zip(before) {
        for (n, t) in refs_under(repo, p)? {
            if old.get(&n) != Some(&t) {
                moved.push(RefMove {
                    old: old.get(&n).cloned(),
                    name: n,
                    new: t,
                });
            }
        }
    }
    Ok(moved)
}

/// What a push did: the refs the remote updated, and those it refused with its reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pushed {
    pub updated: Vec<String>,
    pub refused: Vec<(String, String)>,
}

/// Pushes `refspecs` to remote `name`. Each refspec the remote refuses (e.g. not a
/// fast-forward) comes back in `refused` with the remote's reason; nothing is forced
/// unless the refspec starts with `+`.
pub fn push(repo: &Repository, name: &str, refspecs: &[String]) -> Result<Pushed, GitopsError> {
    if refspecs.is_empty() {
        return Ok(Pushed::default());
    }
    let mut remote = usable_remote(repo, name)?;
    let statuses: std::cell::RefCell<Vec<(String, Option<String>)>> = Default::default();
    let ssh = super::ssh::SshSession::new(remote.url().unwrap_or_default());
    let mut cb = ssh.callbacks();
    cb.push_update_reference(|r, status| {
        statuses
            .borrow_mut()
            .push((r.to_string(), status.map(str::to_string)));
        Ok(())
    });
    let mut opts = git2::PushOptions::new();
    opts.remote_callbacks(cb);
    let specs: Vec<&str> = refspecs.iter().map(String::as_str).collect();
    let pushed = remote.push(&specs, Some(&mut opts));
    drop(opts);
    pushed.map_err(|e| ssh.error(name, "pushing to", e))?;
    let mut out = Pushed::default();
    for (r, s) in statuses.into_inner() {
        match s {
            None => out.updated.push(r),
            Some(why) => out.refused.push((r, why)),
        }
    }
    Ok(out)
}

/// The `Oxide-Proposal: <id>` trailers of the commits reachable from `new` but not from
/// `old` (oldest first): `(commit, proposal id)`.
pub fn proposal_trailers(
    repo: &Repository,
    old: Option<&str>,
    new: &str,
) -> Result<Vec<(String, String)>, GitopsError> {
    let mut walk = repo.revwalk()?;
    walk.push(Oid::from_str(new)?)?;
    if let Some(o) = old {
        if let Ok(oid) = Oid::from_str(o) {
            if repo.find_commit(oid).is_ok() {
                walk.hide(oid)?;
            }
        }
    }
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)?;
    let mut out = Vec::new();
    for oid in walk {
        let oid = oid?;
        let c = repo.find_commit(oid)?;
        let msg = c.message_raw().unwrap_or_default();
        for line in msg.lines() {
            if let Some(id) = line.strip_prefix("Oxide-Proposal: ") {
                let id = id.trim();
                // Proposal branch commits carry the bundle DIGEST in this trailer; promotion
                // commits carry the proposal id.
                if !id.starts_with("sha256:") {
                    out.push((oid.to_string(), id.to_string()));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree of `n` entries all pointing at one blob of `size` bytes, as a commit.
    fn state(repo: &Repository, n: usize, size: usize) -> String {
        let blob = repo.blob(&vec![b'x'; size]).unwrap();
        let mut b = git2::build::TreeUpdateBuilder::new();
        b.upsert(
            "endorsement.json",
            repo.blob(b"{}").unwrap(),
            FileMode::Blob,
        );
        for i in 0..n {
            b.upsert(format!("f/{i}"), blob, FileMode::Blob);
        }
        let empty = repo
            .find_tree(repo.treebuilder(None).unwrap().write().unwrap())
            .unwrap();
        let tree = repo
            .find_tree(b.create_updated(repo, &empty).unwrap())
            .unwrap();
        let sig = Signature::now("t", "t@example.invalid").unwrap();
        repo.commit(None, &sig, &sig, "s", &tree, &[])
            .unwrap()
            .to_string()
    }

    const LIMITS: ReadLimits = ReadLimits {
        max_file_bytes: 100,
        max_total_bytes: 1000,
        max_entries: 11,
    };

    #[test]
    fn reads_within_the_limits_and_refuses_beyond_each() {
        let d = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(d.path()).unwrap();
        // 1 + 10 files of 90 bytes: 902 bytes, 11 entries: read.
        let ok = state(&repo, 10, 90);
        assert_eq!(read_files(&repo, &ok, LIMITS).unwrap().len(), 11);
        // One entry too many.
        let many = state(&repo, 11, 1);
        let e = read_files(&repo, &many, LIMITS).unwrap_err();
        assert_eq!(e.code(), "GITOPS_TOO_LARGE", "{e}");
        assert!(e.to_string().contains("11 files"), "{e}");
        // One file too big.
        let big = state(&repo, 1, 101);
        let e = read_files(&repo, &big, LIMITS).unwrap_err();
        assert!(e.to_string().contains("101 bytes"), "{e}");
        // Each file fits, the total does not (11 x 99 > 1000).
        let total = state(&repo, 10, 99 + 1);
        let e = read_files(&repo, &total, LIMITS).unwrap_err();
        assert!(
            e.to_string().contains("add up to more than the 1000"),
            "{e}"
        );
        // The endorsement alone, read without the rest; a missing file is None.
        assert_eq!(
            read_file(&repo, &many, "endorsement.json", 10)
                .unwrap()
                .as_deref(),
            Some(&b"{}"[..])
        );
        assert_eq!(read_file(&repo, &many, "nope.json", 10).unwrap(), None);
        let e = read_file(&repo, &big, "f/0", 100).unwrap_err();
        assert_eq!(e.code(), "GITOPS_TOO_LARGE", "{e}");
    }
}
