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
    pub state: Option<String>,
    pub digest: Option<String>,
}

/// Imports the bundle in `file` as a proposal in state `proposed`.
#[tracing::instrument(name = "workflow.import", skip_all)]
pub fn import(ws: &mut Workspace, file: &Path, actor: &str) -> Result<ImportReport, Error> {
    let dry = proposal::validate_file(ws.root(), file)?;
    let refused = |problems: Vec<Problem>, digest: Option<String>| ImportReport {
        ok: false,
        problems,
        id: None,
        state: None,
        digest,
    };
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
    if bundle.provenance.synthesizer != Synthesizer::Manual {
        return Ok(refused(
            vec![Problem::new(
                "/provenance/synthesizer",
                "PROVENANCE",
                "only hand-written bundles (synthesizer \"manual\") can be imported; bundles from O.X.I.D.E are made by `oxide propose`, so their provenance cannot be claimed by a file",
            )],
            dry.digest,
        ));
    }
    let ts = ws.clock().now_rfc3339();
    let row = ws.store_mut().write(|tx| admit(tx, &bundle, actor, &ts))?;
    Ok(ImportReport {
        ok: true,
        problems: Vec::new(),
        id: Some(row.id),
        state: Some(row.state),
        digest: Some(row.digest),
    })
}
