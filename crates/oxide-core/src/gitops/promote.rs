//! The promotion commit (git plumbing only; the gates are `rollout`'s): a commit whose parent
//! is the target head and whose tree is the proposal branch's tree, with the `Oxide-*`
//! trailers, signed with an SSHSIG signature made by a signer passed in (this room holds no
//! key) and written with `commit_signed` (a `gpgsig` header, as `git commit -S` writes it);
//! the compare-and-swap update of the target ref; the safe update of a checked-out target;
//! the trivial-rebase comparison; and parsing the trailers back (reconcile, sync).
//!
//! Nothing here touches HEAD, the index or working files except [`checkout_paths`], which
//! the caller runs only after [`dirty_paths`] said the paths are clean.

use std::path::Path;

use git2::{Oid, Repository, Signature, Time};
use serde::{Deserialize, Serialize};

use super::GitopsError;
use crate::proposal::{Bundle, Problem};

pub const TRAILER_PROPOSAL: &str = "Oxide-Proposal";
pub const TRAILER_BUNDLE_DIGEST: &str = "Oxide-Bundle-Digest";
pub const TRAILER_APPROVAL: &str = "Oxide-Approval";
pub const TRAILER_PROMOTED_BY: &str = "Oxide-Promoted-By";
/// On a promotion carried over a trivial rebase: the base the proposal was reviewed on.
pub const TRAILER_REBASED_FROM: &str = "Oxide-Rebased-From";

/// What a promotion commit says about itself (its trailers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PromotionTrailers {
    pub proposal: String,
    /// `sha256:<hex>`.
    pub bundle_digest: String,
    /// Key ids of the approvals that counted.
    pub approvals: Vec<String>,
    pub promoted_by: String,
    pub rebased_from: Option<String>,
}

/// Untrusted text made safe for one line of a commit message.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// `oxide: promote <title>`, a blank line, then the trailers as the last paragraph.
pub fn promotion_message(title: &str, t: &PromotionTrailers) -> String {
    let title: String = one_line(title).chars().take(60).collect();
    let title = if title.is_empty() {
        format!("proposal {}", t.proposal)
    } else {
        title
    };
    let mut m = format!(
        "oxide: promote {title}\n\n{TRAILER_PROPOSAL}: {}\n{TRAILER_BUNDLE_DIGEST}: {}\n",
        one_line(&t.proposal),
        one_line(&t.bundle_digest)
    );
    for k in &t.approvals {
        m.push_str(&format!("{TRAILER_APPROVAL}: {}\n", one_line(k)));
    }
    if let Some(r) = &t.rebased_from {
        m.push_str(&format!("{TRAILER_REBASED_FROM}: {}\n", one_line(r)));
    }
    m.push_str(&format!(
        "{TRAILER_PROMOTED_BY}: {}\n",
        one_line(&t.promoted_by)
    ));
    m
}

/// The trailers of a promotion commit's message, or `None` when it is not one (no
/// `Oxide-Promoted-By`, or a missing proposal/digest). A proposal branch commit's
/// `Oxide-Proposal: sha256:..` is not a promotion.
pub fn parse_trailers(message: &str) -> Option<PromotionTrailers> {
    let trailers = git2::message_trailers_strs(message).ok()?;
    let (mut proposal, mut digest, mut by, mut rebased) = (None, None, None, None);
    let mut approvals = Vec::new();
    for (k, v) in trailers.iter() {
        let v = v.trim().to_string();
        match k {
            TRAILER_PROPOSAL => proposal = Some(v),
            TRAILER_BUNDLE_DIGEST => digest = Some(v),
            TRAILER_APPROVAL => approvals.push(v),
            TRAILER_PROMOTED_BY => by = Some(v),
            TRAILER_REBASED_FROM => rebased = Some(v),
            _ => {}
        }
    }
    Some(PromotionTrailers {
        proposal: proposal?,
        bundle_digest: digest?,
        approvals,
        promoted_by: by?,
        rebased_from: rebased,
    })
}

/// The promoter as git author and committer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

/// The unsigned commit object text: `parent` (the target head), `tree`, `message`, author
/// and committer `who` at `time` (unix seconds, UTC). Nothing is written.
pub fn commit_content(
    repo: &Repository,
    parent: Oid,
    tree: Oid,
    message: &str,
    who: &Identity,
    time: i64,
) -> Result<String, GitopsError> {
    let parent = repo.find_commit(parent)?;
    let tree = repo.find_tree(tree)?;
    let sig = Signature::new(&who.name, &who.email, &Time::new(time, 0))?;
    let buf = repo.commit_create_buffer(&sig, &sig, message, &tree, &[&parent])?;
    buf.as_str()
        .map(str::to_string)
        .ok_or_else(|| GitopsError::Git("the commit object is not UTF-8".into()))
}

/// Writes `content` signed with `signature` (armored SSHSIG) as a `gpgsig` header, the way
/// `git commit -S` with `gpg.format=ssh` does. The object is written; no ref moves.
pub fn write_signed(repo: &Repository, content: &str, signature: &str) -> Result<Oid, GitopsError> {
    // libgit2 indents every line after the first; a trailing newline would leave a line
    // holding one space, which git does not write.
    Ok(repo.commit_signed(content, signature.trim_end_matches('\n'), None)?)
}

/// The `gpgsig` signature of a commit and the content it signs (`None`: unsigned).
pub fn signature_of(
    repo: &Repository,
    commit: Oid,
) -> Result<Option<(String, Vec<u8>)>, GitopsError> {
    match repo.extract_signature(&commit, None) {
        Ok((sig, content)) => Ok(Some((
            String::from_utf8_lossy(&sig).into_owned(),
            content.to_vec(),
        ))),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Where a ref points (`None`: it does not exist).
pub fn ref_target(repo: &Repository, refname: &str) -> Result<Option<Oid>, GitopsError> {
    match repo.find_reference(refname) {
        Ok(r) => Ok(r.resolve()?.target()),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Compare-and-swap: `refname` moves from `old` to `new`, or nothing happens and the branch's
/// current head is reported ([`GitopsError::RefMoved`]).
pub fn cas_update(
    repo: &Repository,
    refname: &str,
    new: Oid,
    old: Oid,
    log: &str,
) -> Result<(), GitopsError> {
    match repo.reference_matching(refname, new, true, old, log) {
        Ok(_) => Ok(()),
        Err(e) if e.code() == git2::ErrorCode::Locked => Err(GitopsError::Git(format!(
            "{refname} is locked by another git process ({}); if none is running, a crashed one left {}.lock behind: remove it and retry. Nothing was changed",
            e.message(),
            repo.path().join(refname).display()
        ))),
        Err(e) if e.code() == git2::ErrorCode::Modified => {
            let found = ref_target(repo, refname)?;
            Err(GitopsError::RefMoved {
                refname: refname.into(),
                expected: old.to_string(),
                found: found.map_or_else(|| "nothing".into(), |o| o.to_string()),
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether the main worktree has `refname` checked out (HEAD a symbolic ref to it).
pub fn checked_out(repo: &Repository, refname: &str) -> bool {
    if repo.is_bare() {
        return false;
    }
    repo.find_reference("HEAD")
        .ok()
        .and_then(|h| h.symbolic_target().map(|t| t == refname))
        .unwrap_or(false)
}

/// One file's change between two trees: path, old and new blob ids (zero: absent) and modes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileChange {
    pub path: String,
    pub old: String,
    pub new: String,
    pub old_mode: u32,
    pub new_mode: u32,
}

/// Every file that differs between trees `a` and `b` (no rename detection), sorted.
pub fn tree_changes(repo: &Repository, a: Oid, b: Oid) -> Result<Vec<FileChange>, GitopsError> {
    let ta = repo.find_tree(a)?;
    let tb = repo.find_tree(b)?;
    let diff = repo.diff_tree_to_tree(Some(&ta), Some(&tb), None)?;
    let mut out: Vec<FileChange> = diff
        .deltas()
        .map(|d| {
            let path = d
                .new_file()
                .path()
                .or_else(|| d.old_file().path())
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            FileChange {
                path,
                old: d.old_file().id().to_string(),
                new: d.new_file().id().to_string(),
                old_mode: u32::from(d.old_file().mode()),
                new_mode: u32::from(d.new_file().mode()),
            }
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Of `paths`, those whose index or working file differs from HEAD (or that exist untracked):
/// a checkout of them would lose someone's work.
pub fn dirty_paths(repo: &Repository, paths: &[String]) -> Result<Vec<String>, GitopsError> {
    let mut dirty = Vec::new();
    for p in paths {
        let s = match repo.status_file(Path::new(p)) {
            Ok(s) => s,
            Err(e) if e.code() == git2::ErrorCode::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        if !(s.is_empty() || s == git2::Status::CURRENT || s.contains(git2::Status::IGNORED)) {
            dirty.push(p.clone());
        }
    }
    Ok(dirty)
}

/// Writes `paths` of `tree` to the index and the working tree (files absent from `tree` are
/// removed). Call it only for paths [`dirty_paths`] found clean.
pub fn checkout_paths(repo: &Repository, tree: Oid, paths: &[String]) -> Result<(), GitopsError> {
    if paths.is_empty() {
        return Ok(());
    }
    let t = repo.find_tree(tree)?;
    let mut co = git2::build::CheckoutBuilder::new();
    co.force().disable_pathspec_match(true);
    for p in paths {
        co.path(p);
    }
    repo.checkout_tree(t.as_object(), Some(&mut co))?;
    Ok(())
}

/// The proposal's intent on a moved target: its tree on `head` and whether the proposal's
/// own diff is byte-identical there (Gerrit's TRIVIAL_REBASE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebase {
    pub head: Oid,
    /// The intent applied to `head`'s tree (`None`: it does not apply).
    pub tree: Option<Oid>,
    pub problems: Vec<Problem>,
    /// The diff `head → tree` equals the reviewed diff `base → branch commit`, file by file
    /// (paths, blob ids, modes).
    pub trivial: bool,
    /// Paths whose change differs (when not trivial).
    pub differences: Vec<String>,
}

/// [`Rebase`] of `bundle` (reviewed as `branch_commit`, whose parent is its base) onto `head`.
pub fn rebase_onto(
    repo: &Repository,
    bundle: &Bundle,
    branch_commit: Oid,
    head: Oid,
) -> Result<Rebase, GitopsError> {
    let reviewed = repo.find_commit(branch_commit)?;
    let base = reviewed.parent(0)?;
    let head_c = repo.find_commit(head)?;
    let problems = super::problems_at(repo, head, bundle)?;
    if !problems.is_empty() {
        return Ok(Rebase {
            head,
            tree: None,
            problems,
            trivial: false,
            differences: Vec::new(),
        });
    }
    let tree = super::apply_to_tree(repo, &head_c, bundle)?;
    let before = tree_changes(repo, base.tree_id(), reviewed.tree_id())?;
    let after = tree_changes(repo, head_c.tree_id(), tree)?;
    let mut differences: Vec<String> = before
        .iter()
        .filter(|c| !after.contains(c))
        .chain(after.iter().filter(|c| !before.contains(c)))
        .map(|c| c.path.clone())
        .collect();
    differences.sort();
    differences.dedup();
    Ok(Rebase {
        head,
        tree: Some(tree),
        problems,
        trivial: differences.is_empty(),
        differences,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_with(files: &[(&str, &str)]) -> (tempfile::TempDir, Repository, Oid) {
        let d = tempfile::tempdir().unwrap();
        let repo = Repository::init(d.path()).unwrap();
        let head = commit_files(&repo, None, files);
        repo.reference("refs/heads/main", head, true, "init")
            .unwrap();
        (d, repo, head)
    }

    fn commit_files(repo: &Repository, parent: Option<Oid>, files: &[(&str, &str)]) -> Oid {
        let mut b = git2::build::TreeUpdateBuilder::new();
        for (p, t) in files {
            b.upsert(*p, repo.blob(t.as_bytes()).unwrap(), git2::FileMode::Blob);
        }
        let base = match parent {
            Some(p) => repo.find_commit(p).unwrap().tree().unwrap(),
            None => repo
                .find_tree(repo.treebuilder(None).unwrap().write().unwrap())
                .unwrap(),
        };
        let tree = repo
            .find_tree(b.create_updated(repo, &base).unwrap())
            .unwrap();
        let sig = Signature::new("t", "t@e", &Time::new(1, 0)).unwrap();
        let parents: Vec<git2::Commit<'_>> = parent
            .map(|p| repo.find_commit(p).unwrap())
            .into_iter()
            .collect();
        let refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        repo.commit(None, &sig, &sig, "c", &tree, &refs).unwrap()
    }

    #[test]
    fn a_signed_commit_carries_its_signature_and_the_ref_moves_only_from_the_expected_head() {
        let (_d, repo, head) = repo_with(&[("a.txt", "1\n")]);
        let next = commit_files(&repo, Some(head), &[("a.txt", "2\n")]);
        let tree = repo.find_commit(next).unwrap().tree_id();
        let who = Identity {
            name: "Lee".into(),
            email: "lee@oxide.invalid".into(),
        };
        let content = commit_content(&repo, head, tree, "oxide: promote x\n", &who, 10).unwrap();
        let fake_sig = "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n";
        let oid = write_signed(&repo, &content, fake_sig).unwrap();
        let (sig, signed) = signature_of(&repo, oid).unwrap().expect("signed");
        assert_eq!(sig, fake_sig.trim_end());
        assert_eq!(
            signed,
            content.as_bytes(),
            "the signature covers exactly the content"
        );
        assert_eq!(signature_of(&repo, head).unwrap(), None);
        // CAS: from a head that is not the current one, nothing moves.
        let e = cas_update(&repo, "refs/heads/main", oid, next, "x").unwrap_err();
        assert!(matches!(e, GitopsError::RefMoved { .. }), "{e:?}");
        assert_eq!(ref_target(&repo, "refs/heads/main").unwrap(), Some(head));
        cas_update(&repo, "refs/heads/main", oid, head, "x").unwrap();
        assert_eq!(ref_target(&repo, "refs/heads/main").unwrap(), Some(oid));
        let ch = tree_changes(&repo, repo.find_commit(head).unwrap().tree_id(), tree).unwrap();
        assert_eq!(ch.len(), 1);
        assert_eq!(ch[0].path, "a.txt");
    }

    #[test]
    fn trailers_round_trip_and_branch_commits_are_not_promotions() {
        let t = PromotionTrailers {
            proposal: "abc123".into(),
            bundle_digest: format!("sha256:{}", "a".repeat(64)),
            approvals: vec!["k1".into(), "k2".into()],
            promoted_by: "lee".into(),
            rebased_from: None,
        };
        let m = promotion_message("Tune\nretries", &t);
        assert!(m.starts_with("oxide: promote Tune retries\n\n"), "{m}");
        assert_eq!(parse_trailers(&m), Some(t.clone()));
        let r = PromotionTrailers {
            rebased_from: Some("0".repeat(40)),
            ..t
        };
        assert_eq!(parse_trailers(&promotion_message("x", &r)), Some(r));
        let branch = format!(
            "oxide: x\n\nwhy\n\nOxide-Proposal: sha256:{}\nOxide-Skill: sha256:{}\n",
            "a".repeat(64),
            "b".repeat(64)
        );
        assert_eq!(parse_trailers(&branch), None);
    }
}
