//! The numbers behind the maintainer's charts, read through the rooms' functions: events per
//! day by kind (audit), proposals by state and by risk over time (workflow's guard records,
//! policy's decisions), the time from validated to approved and to promoted per week
//! (median and 90th percentile), denials by `policy_reason_code` and failures by
//! `failure_reason_code` (the binder's `mv_*` views). Values only; the UI draws them.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::audit::{self, DayKindCount, TimelineFilter};
use crate::binder::QueryFilter;
use crate::policy::Risk;
use crate::workflow::{self, State};

/// How many proposals were in `state` at the end of `day` (UTC), for each day on which some
/// proposal changed state (a step chart: the value holds until the next day listed). Every
/// state a proposal has been in is listed each such day, zero included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct StateDayCount {
    pub day: String,
    pub state: State,
    pub count: u64,
}

/// How many proposals were judged at `risk` on `day` (a proposal counts once a day, with the
/// risk of its last decision that day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct RiskDayCount {
    pub day: String,
    pub risk: Risk,
    pub count: u64,
}

/// The end of a lead time measured from a proposal's first `validated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum Milestone {
    Approved,
    Promoted,
}

/// Time from validated to `milestone` for the proposals that reached it in the ISO week
/// starting `week` (a Monday, UTC): median and 90th percentile in seconds (nearest rank).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct LeadTimeWeek {
    pub week: String,
    pub milestone: Milestone,
    pub proposals: u64,
    pub median_seconds: f64,
    pub p90_seconds: f64,
}

/// A reason code and how often it occurred.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ReasonCount {
    pub code: String,
    pub count: u64,
}

/// Every chart's data at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Charts {
    pub events_per_day: Vec<DayKindCount>,
    pub proposals_by_state: Vec<StateDayCount>,
    pub proposals_by_risk: Vec<RiskDayCount>,
    pub lead_times: Vec<LeadTimeWeek>,
    /// From the binder's `mv_guard_denials_by_policy_reason_code`, most frequent first.
    pub denials_by_policy_reason: Vec<ReasonCount>,
    /// From the binder's `mv_recent_failures_by_taskspec`, most frequent first.
    pub failures_by_failure_reason: Vec<ReasonCount>,
}

fn day(at: &str) -> String {
    at.get(..10).unwrap_or(at).to_string()
}

/// Proposals by state at the end of each day a state changed.
pub fn proposals_by_state(conn: &Connection) -> Result<Vec<StateDayCount>, crate::Error> {
    let mut current: BTreeMap<String, State> = BTreeMap::new();
    let mut seen: BTreeSet<State> = BTreeSet::new();
    let mut out = Vec::new();
    let mut records = workflow::all_records(conn)?
        .into_iter()
        .filter(|r| r.passed())
        .peekable();
    while let Some(r) = records.next() {
        let d = day(&r.at);
        current.insert(r.proposal.clone(), r.to);
        seen.insert(r.to);
        if records.peek().is_none_or(|next| day(&next.at) != d) {
            for s in &seen {
                let count = current.values().filter(|x| *x == s).count() as u64;
                out.push(StateDayCount {
                    day: d.clone(),
                    state: *s,
                    count,
                });
            }
        }
    }
    Ok(out)
}

/// Proposals judged per day by risk.
pub fn proposals_by_risk(conn: &Connection) -> Result<Vec<RiskDayCount>, crate::Error> {
    let mut per_day: BTreeMap<String, BTreeMap<String, Risk>> = BTreeMap::new();
    for p in crate::policy::record::risk_points(conn)? {
        per_day
            .entry(day(&p.decided_at))
            .or_default()
            .insert(p.proposal_id, p.risk);
    }
    let mut out = Vec::new();
    for (d, proposals) in per_day {
        let mut counts: BTreeMap<Risk, u64> = BTreeMap::new();
        for r in proposals.values() {
            *counts.entry(*r).or_default() += 1;
        }
        for (risk, count) in counts {
            out.push(RiskDayCount {
                day: d.clone(),
                risk,
                count,
            });
        }
    }
    Ok(out)
}

/// The nearest-rank `p` percentile of sorted `xs` (non-empty).
fn percentile(xs: &[f64], p: f64) -> f64 {
    let rank = (p * xs.len() as f64).ceil().max(1.0) as usize;
    xs[rank.min(xs.len()) - 1]
}

/// The Monday (UTC) of `t`'s ISO week, `YYYY-MM-DD`.
fn week_of(t: OffsetDateTime) -> String {
    let d = t.to_offset(time::UtcOffset::UTC).date();
    let monday = d - time::Duration::days(i64::from(d.weekday().number_days_from_monday()));
    monday.to_string()
}

/// Lead times from validated to approved and to promoted, per week of the milestone.
pub fn lead_times(conn: &Connection) -> Result<Vec<LeadTimeWeek>, crate::Error> {
    let parse = |at: &str| OffsetDateTime::parse(at, &Rfc3339).ok();
    let mut validated: BTreeMap<String, OffsetDateTime> = BTreeMap::new();
    let mut reached: BTreeMap<(String, Milestone), OffsetDateTime> = BTreeMap::new();
    for r in workflow::all_records(conn)?
        .into_iter()
        .filter(|r| r.passed())
    {
        let Some(at) = parse(&r.at) else { continue };
        let milestone = match r.to {
            State::Validated => {
                validated.entry(r.proposal).or_insert(at);
                continue;
            }
            State::Approved => Milestone::Approved,
            State::Promoted => Milestone::Promoted,
            _ => continue,
        };
        reached.entry((r.proposal, milestone)).or_insert(at);
    }
    let mut weeks: BTreeMap<(String, Milestone), Vec<f64>> = BTreeMap::new();
    for ((proposal, milestone), at) in reached {
        if let Some(v) = validated.get(&proposal) {
            let secs = (at - *v).as_seconds_f64();
            weeks
                .entry((week_of(at), milestone))
                .or_default()
                .push(secs);
        }
    }
    Ok(weeks
        .into_iter()
        .map(|((week, milestone), mut xs)| {
            xs.sort_by(f64::total_cmp);
            LeadTimeWeek {
                week,
                milestone,
                proposals: xs.len() as u64,
                median_seconds: percentile(&xs, 0.5),
                p90_seconds: percentile(&xs, 0.9),
            }
        })
        .collect())
}

/// Sums a binder view's `count_col` per `code_col`, most frequent first.
fn reason_counts(
    conn: &Connection,
    view: &str,
    code_col: &str,
    count_col: &str,
) -> Result<Vec<ReasonCount>, crate::Error> {
    let mut sums: BTreeMap<String, u64> = BTreeMap::new();
    for row in crate::binder::query(conn, view, &QueryFilter::default())? {
        let code = match row.get(code_col) {
            Some(Value::String(s)) => s.clone(),
            _ => continue,
        };
        let n = row.get(count_col).and_then(Value::as_u64).unwrap_or(0);
        *sums.entry(code).or_default() += n;
    }
    let mut out: Vec<ReasonCount> = sums
        .into_iter()
        .map(|(code, count)| ReasonCount { code, count })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(&b.code)));
    Ok(out)
}

/// Guard denials by `policy_reason_code` (binder envelopes with signal `deny`).
pub fn denials_by_policy_reason(conn: &Connection) -> Result<Vec<ReasonCount>, crate::Error> {
    reason_counts(
        conn,
        "mv_guard_denials_by_policy_reason_code",
        "policy_reason_code",
        "denials",
    )
}

/// Failures by `failure_reason_code` (binder envelopes with signal `fail`).
pub fn failures_by_failure_reason(conn: &Connection) -> Result<Vec<ReasonCount>, crate::Error> {
    reason_counts(
        conn,
        "mv_recent_failures_by_taskspec",
        "failure_reason_code",
        "failures",
    )
}

/// Every chart; `events` narrows the events-per-day chart (give `since` on a long chain).
#[tracing::instrument(name = "views.charts", skip_all)]
pub fn charts(conn: &Connection, events: &TimelineFilter) -> Result<Charts, crate::Error> {
    Ok(Charts {
        events_per_day: audit::events_per_day(conn, events)?,
        proposals_by_state: proposals_by_state(conn)?,
        proposals_by_risk: proposals_by_risk(conn)?,
        lead_times: lead_times(conn)?,
        denials_by_policy_reason: denials_by_policy_reason(conn)?,
        failures_by_failure_reason: failures_by_failure_reason(conn)?,
    })
}
