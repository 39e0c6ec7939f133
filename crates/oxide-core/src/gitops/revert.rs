//! Revert commits for rollbacks (REC-006): git's revert of a promotion commit computed on the
//! CURRENT target head in the object database (never the user's checkout or index), a commit
//! signed by a signer the caller passes in (SSHSIG, `gpgsig` header), a compare-and-swap ref
//! update, and trailer parsing. Deciding who may roll back and recording it is `rollout`'s.

use git2::{Oid, Repository, Signature};

use super::GitopsError;

/// What reverting a commit on a head gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevertTree {
    /// The tree of the head with the commit's change taken back.
    Clean(Oid),
    /// The revert does not apply cleanly: these paths conflict (later changes touched them).
    Conflict(Vec<String>),
}

/// The tree that reverting `commit` (a non-merge commit) on `head` makes, written to the
/// object database. Nothing else is touched.
pub fn revert_tree(repo: &Repository, commit: Oid, head: Oid) -> Result<RevertTree, GitopsError> {
    let c = repo.find_commit(commit)?;
    if c.parent_count() != 1 {
        return Err(GitopsError::Git(format!(
            "commit {commit} has {} parents; only a single-parent promotion commit can be reverted",
            c.parent_count()
        )));
    }
    let h = repo.find_commit(head)?;
    let mut index = repo.revert_commit(&c, &h, 0, None)?;
    if index.has_conflicts() {
        let mut paths: Vec<String> = index
            .conflicts()?
            .filter_map(|c| c.ok())
            .filter_map(|c| c.our.or(c.their).or(c.ancestor))
            .map(|e| String::from_utf8_lossy(&e.path).into_owned())
            .collect();
        paths.sort();
        paths.dedup();
        return Ok(RevertTree::Conflict(paths));
    }
    Ok(RevertTree::Clean(index.write_tree_to(repo)?))
}

/// Writes a commit of `tree` on `parent` by `who` (author and committer) with `message`, signed:
/// `sign` gets the exact commit buffer and returns the armored signature (SSHSIG PEM), stored
/// in the `gpgsig` header as git does. No ref is moved.
pub fn signed_commit(
    repo: &Repository,
    tree: Oid,
    parent: Oid,
    message: &str,
    who: &Signature<'_>,
    sign: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<Oid, GitopsError> {
    let tree = repo.find_tree(tree)?;
    let parent = repo.find_commit(parent)?;
    let buf = repo.commit_create_buffer(who, who, message, &tree, &[&parent])?;
    let text = std::str::from_utf8(&buf)
        .map_err(|_| GitopsError::Git("the commit buffer is not UTF-8".into()))?
        .to_string();
    let signature = sign(&text).map_err(|why| GitopsError::Git(format!("signing: {why}")))?;
    // libgit2 indents every line after the first; a trailing newline would leave a header
    // line holding one space, which git does not write.
    Ok(repo.commit_signed(&text, signature.trim_end_matches('\n'), Some("gpgsig"))?)
}

/// Moves `name` from `old` to `new` only if it still points at `old` (compare-and-swap, with a
/// reflog entry). `Ok(false)`: it moved meanwhile, nothing was changed.
pub fn cas_ref(
    repo: &Repository,
    name: &str,
    new: Oid,
    old: Oid,
    log: &str,
) -> Result<bool, GitopsError> {
    match repo.reference_matching(name, new, true, old, log) {
        Ok(_) => Ok(true),
        Err(e)
            if e.code() == git2::ErrorCode::Modified
                || e.code() == git2::ErrorCode::Locked
                || e.class() == git2::ErrorClass::Reference =>
        {
            // Tell a real mismatch from other reference errors by looking again.
            let now = repo.refname_to_id(name).ok();
            if now != Some(old) {
                Ok(false)
            } else {
                Err(e.into())
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// The trailers of a commit message (`Key: value` lines of the last paragraph), in order.
pub fn trailers(message: &str) -> Vec<(String, String)> {
    match git2::message_trailers_strs(message) {
        Ok(t) => t
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The first value of trailer `key` in `message`.
pub fn trailer(message: &str, key: &str) -> Option<String> {
    trailers(message)
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// Is `ancestor` reachable from `tip` (or equal to it)?
pub fn reachable(repo: &Repository, ancestor: Oid, tip: Oid) -> Result<bool, GitopsError> {
    Ok(ancestor == tip || repo.graph_descendant_of(tip, ancestor)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(repo: &Repository, parent: Option<Oid>, files: &[(&str, &str)]) -> Oid {
        let mut tb = repo.treebuilder(None).unwrap();
        for (p, c) in files {
            let b = repo.blob(c.as_bytes()).unwrap();
            tb.insert(p, b, 0o100644).unwrap();
        }
        let tree = repo.find_tree(tb.write().unwrap()).unwrap();
        let sig = Signature::now("t", "t@example.com").unwrap();
        let parents: Vec<git2::Commit<'_>> = parent
            .map(|p| vec![repo.find_commit(p).unwrap()])
            .unwrap_or_default();
        let refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        repo.commit(None, &sig, &sig, "c", &tree, &refs).unwrap()
    }

    #[test]
    fn reverts_on_a_moved_head_and_reports_conflicts() {
        let d = tempfile::tempdir().unwrap();
        let repo = Repository::init(d.path()).unwrap();
        let base = commit(&repo, None, &[("a", "1\n"), ("b", "x\n")]);
        let promo = commit(&repo, Some(base), &[("a", "2\n"), ("b", "x\n")]);
        // Someone changed `b` after the promotion: the revert still applies.
        let later = commit(&repo, Some(promo), &[("a", "2\n"), ("b", "y\n")]);
        let RevertTree::Clean(tree) = revert_tree(&repo, promo, later).unwrap() else {
            panic!("expected a clean revert")
        };
        let t = repo.find_tree(tree).unwrap();
        let a = repo
            .find_blob(t.get_name("a").unwrap().id())
            .unwrap()
            .content()
            .to_vec();
        assert_eq!(a, b"1\n");
        // Someone changed `a` again: the revert conflicts, nothing written as a ref.
        let clash = commit(&repo, Some(later), &[("a", "3\n"), ("b", "y\n")]);
        assert_eq!(
            revert_tree(&repo, promo, clash).unwrap(),
            RevertTree::Conflict(vec!["a".into()])
        );
    }

    #[test]
    fn signed_commit_carries_the_signature_and_cas_refuses_a_moved_ref() {
        let d = tempfile::tempdir().unwrap();
        let repo = Repository::init(d.path()).unwrap();
        let base = commit(&repo, None, &[("a", "1\n")]);
        repo.reference("refs/heads/main", base, true, "t").unwrap();
        let tree = repo.find_commit(base).unwrap().tree_id();
        let who = Signature::now("Lee", "lee@oxide.invalid").unwrap();
        let mut seen = String::new();
        let c = signed_commit(
            &repo,
            tree,
            base,
            "revert\n\nOxide-Proposal: p1\nOxide-Reason-Code: MANUAL_ROLLBACK\n",
            &who,
            &mut |buf| {
                seen = buf.to_string();
                Ok("-----BEGIN SSH SIGNATURE-----\nabc\n-----END SSH SIGNATURE-----".into())
            },
        )
        .unwrap();
        let (sig, data) = repo.extract_signature(&c, None).unwrap();
        assert!(sig.as_str().unwrap().contains("SSH SIGNATURE"));
        assert_eq!(data.as_str().unwrap(), seen);
        let msg = repo.find_commit(c).unwrap().message().unwrap().to_string();
        assert_eq!(trailer(&msg, "oxide-proposal").as_deref(), Some("p1"));
        assert_eq!(
            trailer(&msg, "Oxide-Reason-Code").as_deref(),
            Some("MANUAL_ROLLBACK")
        );
        // CAS: from the wrong old value nothing moves.
        assert!(!cas_ref(&repo, "refs/heads/main", c, c, "x").unwrap());
        assert_eq!(repo.refname_to_id("refs/heads/main").unwrap(), base);
        assert!(cas_ref(&repo, "refs/heads/main", c, base, "x").unwrap());
        assert_eq!(repo.refname_to_id("refs/heads/main").unwrap(), c);
        assert!(reachable(&repo, base, c).unwrap());
        assert!(!reachable(&repo, c, base).unwrap());
    }
}
