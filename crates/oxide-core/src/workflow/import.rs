//! `oxide proposal import FILE`: a hand-written bundle (provenance `synthesizer = manual`)
//! becomes a proposal through the same gates as a synthesised one — the dry-run validation
//! (schema, meaning, applicability at its base commit) and then `admit`. Nothing is written
//! unless every check passes.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::admit;
use crate::proposal::{self, Bundle, Problem, Synthesizer};
use crate::{Error, Workspace};

/// The answer of `proposal import`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ImportReport {
    pub ok: bool,
    pub problems: Vec<Problem>,
    pub id: Option<String>,
    pub state: Option<super::State>,
    pub digest: Option<String>,
}

/// Imports the bundle in `file` as a proposal in state `proposed`.
#[tracing::instrument(name = "workflow.import", skip_all)]
pub fn import(ws: &mut Workspace, file: &Path, actor: &str) -> Result<ImportReport, Error> {
    let dry = proposal::validate_file(ws.root(), file)?;
    if !dry.ok {
        return Ok(refused(dry.problems, dry.digest));
    }
    // validate_file accepted it, so it reads and parses; read it once more for the value.
    let bytes = std::fs::read(file).map_err(|e| proposal::ProposalError::Read {
        path: file.display().to_string(),
        why: e.to_string(),
    })?;
    let bundle: Bundle =
        serde_json::from_slice(&bytes).map_err(|e| proposal::ProposalError::Read {
            path: file.display().to_string(),
            why: e.to_string(),
        })?;
    admit_manual(ws, &bundle, dry.digest, actor)
}

/// Imports a hand-written bundle built in memory (a governance edit from the app) through the
/// same gates as [`import`]: the dry-run validation of its document, the manual-provenance
/// and base-on-target checks, then `admit`. Nothing is written unless every check passes.
#[tracing::instrument(name = "workflow.import_bundle", skip_all)]
pub fn import_bundle(
    ws: &mut Workspace,
    bundle: &Bundle,
    actor: &str,
) -> Result<ImportReport, Error> {
    let doc = serde_json::to_value(bundle)
        .map_err(|e| crate::canon::CanonError::Canonicalize(e.to_string()))?;
    let dry = proposal::validate_document(ws.root(), &doc)?;
    if !dry.ok {
        return Ok(refused(dry.problems, dry.digest));
    }
    admit_manual(ws, bundle, dry.digest, actor)
}

fn refused(problems: Vec<Problem>, digest: Option<String>) -> ImportReport {
    ImportReport {
        ok: false,
        problems,
        id: None,
        state: None,
        digest,
    }
}

/// The gates after the dry run: manual provenance, a base on the target branch; then `admit`.
fn admit_manual(
    ws: &mut Workspace,
    bundle: &Bundle,
    digest: Option<String>,
    actor: &str,
) -> Result<ImportReport, Error> {
    if bundle.provenance.synthesizer != Synthesizer::Manual {
        return Ok(refused(
            vec![Problem::new(
                "/provenance/synthesizer",
                "PROVENANCE",
                "only hand-written bundles (synthesizer \"manual\") can be imported; bundles from O.X.I.D.E are made by `oxide propose`, so their provenance cannot be claimed by a file",
            )],
            digest,
        ));
    }
    if let Some(p) = base_off_target(ws, bundle)? {
        return Ok(refused(vec![p], digest));
    }
    // The person who proposes, resolved on this device; `actor` only labels the audit event.
    let initiator = crate::signing::whoami::initiator_here(ws)?;
    let ts = ws.clock().now_rfc3339();
    let row = ws.store_mut().write(|tx| {
        admit(
            tx,
            bundle,
            &initiator,
            &crate::clock::Stamp::new(actor, &ts),
        )
    })?;
    Ok(ImportReport {
        ok: true,
        problems: Vec::new(),
        id: Some(row.id),
        state: Some(row.state),
        digest: Some(row.digest),
    })
}

/// A bundle's base must be the target branch's tip or one of its ancestors: otherwise a
/// hand-written bundle could build on any commit in the object database (one from before a
/// security fix, a fork's commit with governance edits). `Some(problem)` when it is not.
fn base_off_target(ws: &Workspace, bundle: &Bundle) -> Result<Option<Problem>, Error> {
    const CODE: &str = "BASE_NOT_ON_TARGET";
    let target = ws.settings()?.workflow.target_branch;
    let problem = |pointer: &str, msg: String| Ok(Some(Problem::new(pointer, CODE, msg)));
    let Ok(repo) = git2::Repository::open(ws.root()) else {
        return problem(
            "/base/commit",
            format!("{} is not a git repository", ws.root().display()),
        );
    };
    let Some(tip) = repo
        .find_branch(&target, git2::BranchType::Local)
        .ok()
        .and_then(|b| b.get().peel_to_commit().ok())
        .map(|c| c.id())
    else {
        return problem(
            "/base/branch",
            format!("the target branch `{target}` has no commit in this repository; commit on it (or fix `workflow.target_branch`) before importing"),
        );
    };
    let base = git2::Oid::from_str(&bundle.base.commit).ok();
    let on_target =
        base.is_some_and(|b| b == tip || repo.graph_descendant_of(tip, b).unwrap_or(false));
    if on_target {
        return Ok(None);
    }
    problem(
        "/base/commit",
        format!(
            "base commit {} is not on the target branch `{target}` (tip {tip}): a proposal must build on the target branch's tip or one of its ancestors; re-create the bundle on `{target}`",
            bundle.base.commit
        ),
    )
}
