//! `proposal validate-file FILE --dry-run` (seed: `oxide:validate-proposal --dry-run`): a
//! bundle file is checked against the JSON Schema, then for meaning (schema version,
//! digests, timestamps), then for applicability against its base commit in the repository.
//! Nothing is written. Every problem carries a JSON pointer into the file.

use std::path::Path;

use git2::{Oid, Repository};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::apply::{apply_ops, codes, BaseFiles, Problem};
use super::schema;
use super::types::{Bundle, BUNDLE_SCHEMA_VERSION};

/// Largest bundle file read.
pub const MAX_BUNDLE_BYTES: u64 = 8 * 1024 * 1024;

/// Errors of the `proposal` room.
#[derive(Debug, thiserror::Error)]
pub enum ProposalError {
    #[error("cannot read the bundle file {path}: {why}")]
    Read { path: String, why: String },
    #[error("the bundle file {path} is {len} bytes; at most {MAX_BUNDLE_BYTES} are accepted")]
    TooLarge { path: String, len: u64 },
    #[error("cannot read the repository at {path}: {why}")]
    Repo { path: String, why: String },
    #[error("no proposal '{0}'; list them with `oxide proposal list`")]
    NotFound(String),
    #[error("database error: {0}")]
    Store(#[from] crate::store::StoreError),
}

impl ProposalError {
    pub fn code(&self) -> &'static str {
        match self {
            ProposalError::Read { .. } => "PROPOSAL_READ",
            ProposalError::TooLarge { .. } => "PROPOSAL_TOO_LARGE",
            ProposalError::Repo { .. } => "PROPOSAL_REPO",
            ProposalError::NotFound(_) => "PROPOSAL_NOT_FOUND",
            ProposalError::Store(e) => e.code(),
        }
    }

    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            ProposalError::Read { .. }
            | ProposalError::TooLarge { .. }
            | ProposalError::NotFound(_) => crate::ErrorKind::Invalid,
            ProposalError::Repo { .. } => crate::ErrorKind::Internal,
            ProposalError::Store(e) => e.kind(),
        }
    }
}

/// The dry run's answer: `{"ok", "problems": [{"pointer", "message", "code"}]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ValidationReport {
    pub ok: bool,
    pub problems: Vec<Problem>,
    /// The bundle digest, when the file is a well-formed bundle.
    pub digest: Option<String>,
    /// Files the intent would change (when it applies), sorted.
    pub changes: Vec<String>,
}

/// Checks a bundle document's schema and meaning (pure). `Ok` carries the parsed bundle
/// when it is well-formed (its applicability is not checked here).
pub fn check_document(doc: &Value) -> (Option<Bundle>, Vec<Problem>) {
    let problems = schema::check_bundle(doc);
    if !problems.is_empty() {
        return (None, problems);
    }
    let bundle: Bundle = match serde_json::from_value(doc.clone()) {
        Ok(b) => b,
        Err(e) => {
            return (
                None,
                vec![Problem::new(
                    "",
                    codes::SCHEMA,
                    format!("not a bundle: {e}"),
                )],
            )
        }
    };
    let mut problems = super::apply::check_limits(&bundle.intent);
    if bundle.schema_version != BUNDLE_SCHEMA_VERSION {
        problems.push(Problem::new(
            "/schema_version",
            codes::SCHEMA,
            format!("schema_version must be `{BUNDLE_SCHEMA_VERSION}`"),
        ));
    }
    if crate::canon::parse_digest(&bundle.skill_digest).is_err() {
        problems.push(Problem::new(
            "/skill_digest",
            codes::SCHEMA,
            "skill_digest must be `sha256:` and 64 lowercase hex digits",
        ));
    }
    let c = &bundle.base.commit;
    if c.len() != 40 || !c.bytes().all(|b| b.is_ascii_hexdigit()) {
        problems.push(Problem::new(
            "/base/commit",
            codes::SCHEMA,
            "base.commit must be a full 40-hex commit id",
        ));
    }
    if bundle.base.branch.trim().is_empty() {
        problems.push(Problem::new(
            "/base/branch",
            codes::SCHEMA,
            "base.branch is empty",
        ));
    }
    if crate::clock::parse_ts(&bundle.created_at).is_none() {
        problems.push(Problem::new(
            "/created_at",
            codes::SCHEMA,
            "created_at must be an RFC 3339 timestamp",
        ));
    }
    (Some(bundle), problems)
}

/// Applicability of a well-formed bundle against `files` (the base commit's tree).
pub fn check_applies(bundle: &Bundle, files: &dyn BaseFiles) -> Result<Vec<String>, Vec<Problem>> {
    apply_ops(files, &bundle.intent.ops).map(|c| c.files.into_keys().collect())
}

/// Validates a bundle file against the repository at `repo_root` (dry run: reads only).
#[tracing::instrument(name = "proposal.validate_file", skip_all)]
pub fn validate_file(repo_root: &Path, file: &Path) -> Result<ValidationReport, ProposalError> {
    let read_err = |why: String| ProposalError::Read {
        path: file.display().to_string(),
        why,
    };
    let meta = std::fs::metadata(file).map_err(|e| read_err(e.to_string()))?;
    if meta.len() > MAX_BUNDLE_BYTES {
        return Err(ProposalError::TooLarge {
            path: file.display().to_string(),
            len: meta.len(),
        });
    }
    let bytes = std::fs::read(file).map_err(|e| read_err(e.to_string()))?;
    let report = |problems: Vec<Problem>, digest, changes| ValidationReport {
        ok: problems.is_empty(),
        problems,
        digest,
        changes,
    };
    let doc: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            return Ok(report(
                vec![Problem::new(
                    "",
                    codes::SCHEMA,
                    format!("the file is not JSON: {e}"),
                )],
                None,
                vec![],
            ))
        }
    };
    validate_document(repo_root, &doc)
}

/// Validates a bundle document (already parsed JSON) against the repository at `repo_root`:
/// schema, meaning, then applicability at its base commit (dry run: reads only). What
/// [`validate_file`] does after reading the file; used for bundles built in memory (a
/// governance edit from the app), so they pass the very same checks as a file.
pub fn validate_document(repo_root: &Path, doc: &Value) -> Result<ValidationReport, ProposalError> {
    let report = |problems: Vec<Problem>, digest, changes| ValidationReport {
        ok: problems.is_empty(),
        problems,
        digest,
        changes,
    };
    let (bundle, mut problems) = check_document(doc);
    let Some(bundle) = bundle else {
        return Ok(report(problems, None, vec![]));
    };
    let digest = bundle.digest().ok();
    if !problems.is_empty() {
        return Ok(report(problems, digest, vec![]));
    }
    let repo = Repository::open(repo_root).map_err(|e| ProposalError::Repo {
        path: repo_root.display().to_string(),
        why: e.message().to_string(),
    })?;
    let commit = Oid::from_str(&bundle.base.commit)
        .ok()
        .and_then(|oid| repo.find_commit(oid).ok());
    let Some(commit) = commit else {
        problems.push(Problem::new(
            "/base/commit",
            super::apply::codes::BASE_MISSING,
            format!(
                "commit {} is not in this repository; fetch it or re-synthesise against the current `{}`",
                bundle.base.commit, bundle.base.branch
            ),
        ));
        return Ok(report(problems, digest, vec![]));
    };
    let tree = commit.tree().map_err(|e| ProposalError::Repo {
        path: repo_root.display().to_string(),
        why: e.message().to_string(),
    })?;
    let files = super::TreeFiles::new(&repo, tree);
    match check_applies(&bundle, &files) {
        Ok(changes) => Ok(report(vec![], digest, changes)),
        Err(p) => Ok(report(p, digest, vec![])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proposal::MapBase;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "schema_version": BUNDLE_SCHEMA_VERSION,
            "skill_digest": format!("sha256:{}", "a".repeat(64)),
            "base": {"branch": "main", "commit": "0".repeat(40)},
            "intent": {"rationale": "r", "risk_hints": [], "ops": [
                {"op": "text_edit", "path": "a.txt", "find": "x", "replace": "y"}]},
            "provenance": {"synthesizer": "manual", "model": null, "model_digest": null,
                "options": null, "prompt_template_version": null, "prompt_sha256": null,
                "response_sha256": null},
            "created_at": "2026-01-01T00:00:00Z"
        })
    }

    #[test]
    fn documents_are_checked_for_meaning() {
        let (b, p) = check_document(&doc());
        assert!(p.is_empty(), "{p:?}");
        let b = b.unwrap();
        assert!(check_applies(&b, &MapBase::new().with_file("a.txt", "x")).is_ok());
        let err = check_applies(&b, &MapBase::new().with_file("a.txt", "xx")).unwrap_err();
        assert_eq!(err[0].pointer, "/intent/ops/0/find");
        let mut d = doc();
        d["base"]["commit"] = json!("abc");
        d["created_at"] = json!("yesterday");
        let (_, p) = check_document(&d);
        let ptrs: Vec<_> = p.iter().map(|p| p.pointer.as_str()).collect();
        assert_eq!(ptrs, ["/base/commit", "/created_at"]);
        let mut d = doc();
        d["intent"]["ops"][0]["op"] = json!("chmod");
        let (b, p) = check_document(&d);
        assert!(b.is_none());
        assert!(
            p.iter().all(|p| p.pointer.starts_with("/intent/ops/0")),
            "{p:?}"
        );
    }
}
