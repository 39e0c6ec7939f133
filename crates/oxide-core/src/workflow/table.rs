//! The invariant's home: the proposal states, the named transitions and `TABLE`, the one
//! place that says which state may move where. Everything here is pure; every other module
//! (in this room or any other) asks these functions instead of restating a row.

use serde::{Deserialize, Serialize};

/// A proposal state. Its JSON / SQL spelling is the snake_case name (`as_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum State {
    Discovered,
    Proposed,
    Validated,
    Approved,
    Promoted,
    NoOp,
    Quarantined,
    FailedValidation,
    Denied,
    Rejected,
    Superseded,
    RolledBack,
}

impl State {
    /// Every state, the happy path first, then the exits.
    pub const ALL: [State; 12] = [
        State::Discovered,
        State::Proposed,
        State::Validated,
        State::Approved,
        State::Promoted,
        State::NoOp,
        State::Quarantined,
        State::FailedValidation,
        State::Denied,
        State::Rejected,
        State::Superseded,
        State::RolledBack,
    ];

    /// The spelling in JSON and in the database (the same as serde's).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Discovered => "discovered",
            State::Proposed => "proposed",
            State::Validated => "validated",
            State::Approved => "approved",
            State::Promoted => "promoted",
            State::NoOp => "no_op",
            State::Quarantined => "quarantined",
            State::FailedValidation => "failed_validation",
            State::Denied => "denied",
            State::Rejected => "rejected",
            State::Superseded => "superseded",
            State::RolledBack => "rolled_back",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.iter().copied().find(|st| st.as_str() == s)
    }

    /// Every state's spelling, comma separated (for messages).
    pub fn names() -> String {
        State::ALL.map(State::as_str).join(", ")
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A named move between states; each has exactly one guarded function in `workflow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Transition {
    Admit,
    PassValidation,
    FailValidation,
    Quarantine,
    Supersede,
    Approve,
    Deny,
    Reject,
    Promote,
    RollBack,
}

impl Transition {
    pub const ALL: [Transition; 10] = [
        Transition::Admit,
        Transition::PassValidation,
        Transition::FailValidation,
        Transition::Quarantine,
        Transition::Supersede,
        Transition::Approve,
        Transition::Deny,
        Transition::Reject,
        Transition::Promote,
        Transition::RollBack,
    ];

    /// The guard's name as recorded (`transitions.guard`).
    pub fn name(self) -> &'static str {
        match self {
            Transition::Admit => "admit",
            Transition::PassValidation => "pass_validation",
            Transition::FailValidation => "fail_validation",
            Transition::Quarantine => "quarantine",
            Transition::Supersede => "supersede",
            Transition::Approve => "approve",
            Transition::Deny => "deny",
            Transition::Reject => "reject",
            Transition::Promote => "promote",
            Transition::RollBack => "roll_back",
        }
    }
}

use State as S;
use Transition as T;

/// THE transition table: `(transition, from, to)`. Nothing else decides legality.
/// `discovered → no_op` is not here: a synthesis that falls back creates no proposal row (the
/// synth room records it as an audit event), so there is nothing for a guard to move.
pub const TABLE: &[(Transition, State, State)] = &[
    (T::Admit, S::Discovered, S::Proposed),
    (T::PassValidation, S::Proposed, S::Validated),
    (T::FailValidation, S::Proposed, S::FailedValidation),
    (T::Quarantine, S::Proposed, S::Quarantined),
    (T::Quarantine, S::Validated, S::Quarantined),
    (T::Quarantine, S::Approved, S::Quarantined),
    (T::Supersede, S::Proposed, S::Superseded),
    (T::Supersede, S::Validated, S::Superseded),
    (T::Supersede, S::Approved, S::Superseded),
    (T::Supersede, S::FailedValidation, S::Superseded),
    (T::Approve, S::Validated, S::Approved),
    (T::Deny, S::Validated, S::Denied),
    (T::Deny, S::Approved, S::Denied),
    (T::Reject, S::Validated, S::Rejected),
    (T::Reject, S::Approved, S::Rejected),
    (T::Promote, S::Approved, S::Promoted),
    (T::RollBack, S::Promoted, S::RolledBack),
];

/// Where `t` leads from `from`, or `None` when the table does not allow it.
pub fn target(from: State, t: Transition) -> Option<State> {
    TABLE
        .iter()
        .find(|(tt, f, _)| *tt == t && *f == from)
        .map(|(_, _, to)| *to)
}

/// Whether the table allows `t` from `state` (the question other rooms ask).
pub fn can(state: State, t: Transition) -> bool {
    target(state, t).is_some()
}

/// One row of `TABLE`, for drawing the state machine (the UI never restates the table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct TableEdge {
    pub transition: Transition,
    pub from: State,
    pub to: State,
}

/// `TABLE` as values.
pub fn table_edges() -> Vec<TableEdge> {
    TABLE
        .iter()
        .map(|(t, f, to)| TableEdge {
            transition: *t,
            from: *f,
            to: *to,
        })
        .collect()
}

/// The states `t` may start from (for messages and docs).
pub fn sources(t: Transition) -> Vec<State> {
    TABLE
        .iter()
        .filter(|(tt, _, _)| *tt == t)
        .map(|(_, f, _)| *f)
        .collect()
}

impl State {
    /// Off the happy path (`discovered → … → promoted`): where a proposal ends.
    pub fn is_exit(self) -> bool {
        !matches!(
            self,
            State::Discovered
                | State::Proposed
                | State::Validated
                | State::Approved
                | State::Promoted
        )
    }
}

/// The state diagram of `docs/workflow.md` (Mermaid), drawn from `TABLE`: one arrow per row,
/// plus the `discovered → no_op` fallback that creates no proposal row, and every exit
/// marked final. A test keeps the document equal to this.
pub fn state_diagram() -> String {
    let mut s = String::from("```mermaid\nstateDiagram-v2\n    [*] --> discovered\n");
    for (i, (t, from, to)) in TABLE.iter().enumerate() {
        s.push_str(&format!("    {from} --> {to}: {}\n", t.name()));
        if i == 0 {
            s.push_str("    discovered --> no_op: (synthesis fell back — no proposal row)\n");
        }
    }
    for st in State::ALL.iter().filter(|s| s.is_exit()) {
        s.push_str(&format!("    {st} --> [*]\n"));
    }
    s.push_str("```\n");
    s
}
