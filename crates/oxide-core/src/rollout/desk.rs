//! What the desktop's promote desk reads: a proposal's promotion, canary and rollback as
//! recorded (`view`), the approved proposals a person may promote with each one's readiness
//! (`queue`), and the page of a promotion a shell polls (`PromotionPage`). Composes the
//! rollout room's own records and `readiness`; decides nothing new.

use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::canary::{self, CanaryRun};
use super::reconcile::{self, Promotion};
use super::rollback::{self, RolledBack};
use super::{readiness, GateStatus, Promoted};
use crate::checks::ValidationProgress;
use crate::policy::{self, Risk};
use crate::signing::registry::{Registry, Role};
use crate::workflow::{self, State};
use crate::{Error, ErrorDto, Workspace};

/// A page of a running promotion for shells that poll (the desktop's webview gets no event
/// permissions): the canary's progress events after `from`, and the outcome once done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PromotionPage {
    pub events: Vec<ValidationProgress>,
    /// Pass this as `from` next time.
    pub next: u32,
    pub done: bool,
    pub report: Option<Promoted>,
    pub error: Option<ErrorDto>,
}

/// How the rollback of `id` was started (`automatic` after a failed canary, or `manual`)
/// and the reason recorded with it.
fn trigger_and_reason(conn: &Connection, id: &str) -> Result<Option<(String, String)>, Error> {
    Ok(conn
        .query_row(
            "SELECT trigger, reason FROM rollbacks WHERE proposal_id = ?1",
            [id],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        )
        .optional()?
        .map(|(trigger, reason)| {
            let trigger = if trigger == "canary" {
                "automatic"
            } else {
                "manual"
            };
            (trigger.to_string(), reason)
        }))
}

/// A proposal's promotion, its newest canary run (with its checks' output) and its rollback,
/// as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct RolloutView {
    pub id: String,
    pub state: State,
    pub promotion: Option<Promotion>,
    pub canary: Option<CanaryRun>,
    pub rollback: Option<RolledBack>,
    /// `automatic` (a failed canary) or `manual`.
    pub rollback_trigger: Option<String>,
    /// The reason recorded with the rollback.
    pub rollback_reason: Option<String>,
}

/// `view ID`: what promotion, canary and rollback recorded for proposal `id`.
pub fn view(ws: &Workspace, id: &str) -> Result<RolloutView, Error> {
    let conn = ws.store().conn();
    let row = workflow::require(conn, id)?;
    let promotion = reconcile::promotion(conn, &row.id)?;
    let canary = canary::runs_for(conn, &row.id)?.pop();
    let rollback = rollback::recorded(conn, &row.id)?;
    let (rollback_trigger, rollback_reason) = match trigger_and_reason(conn, &row.id)? {
        Some((t, r)) => (Some(t), Some(r)),
        None => (None, None),
    };
    Ok(RolloutView {
        id: row.id.clone(),
        state: row.state,
        promotion,
        canary,
        rollback,
        rollback_trigger,
        rollback_reason,
    })
}

/// An approved proposal in a lead's "ready to promote" list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PromoteItem {
    pub id: String,
    /// The rationale's first line.
    pub rationale: String,
    /// The risk of the proposal's latest policy decision, when one is recorded.
    pub risk: Option<Risk>,
    /// Every gate is green for this person now.
    pub ready: bool,
    /// The gates that say no, with exactly what is missing.
    pub missing: Vec<GateStatus>,
}

/// The approved proposals `person` may promote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PromoteQueue {
    pub person: String,
    /// The person holds a role that may promote (lead or maintainer, docs/roles.md) in the
    /// committed registry; otherwise the list is empty.
    pub may_promote: bool,
    /// Ready ones first, then newest first.
    pub items: Vec<PromoteItem>,
    /// Proposals whose readiness could not be gathered, with why.
    pub problems: Vec<String>,
}

/// `queue PERSON`: every approved proposal with its readiness for `person` (a lead or
/// maintainer; nobody else may promote, so their list is empty).
pub fn queue(ws: &Workspace, person: &str) -> Result<PromoteQueue, Error> {
    let person = crate::signing::check_person_id(person)?.to_string();
    let registry = Registry::committed(ws)?;
    // The promoter gate's role rule (readiness.rs) decides; this only spares non-promoters a
    // list of red gates.
    let may_promote = registry
        .roles_of(&person)
        .iter()
        .any(|r| matches!(r, Role::Lead | Role::Maintainer));
    let mut items = Vec::new();
    let mut problems = Vec::new();
    if may_promote {
        let conn = ws.store().conn();
        for row in workflow::rows::list(conn, Some(State::Approved))? {
            match readiness(ws, &row.id, Some(&person)) {
                Ok(r) => items.push(PromoteItem {
                    id: row.id.clone(),
                    rationale: row
                        .bundle
                        .intent
                        .rationale
                        .lines()
                        .next()
                        .unwrap_or("")
                        .to_string(),
                    risk: policy::decisions_for(conn, &row.id)?
                        .first()
                        .map(|d| d.decision.risk),
                    ready: r.ready,
                    missing: r.gates.into_iter().filter(|g| !g.ok).collect(),
                }),
                Err(e) => problems.push(format!("{}: {e}", row.id)),
            }
        }
        // Stable: ready ones first, the list's own order (newest first) otherwise.
        items.sort_by_key(|i| !i.ready);
    }
    Ok(PromoteQueue {
        person,
        may_promote,
        items,
        problems,
    })
}
