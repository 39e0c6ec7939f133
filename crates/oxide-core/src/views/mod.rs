//! Read models: answers that gather several rooms' values for the shells (the proposal list
//! and view, a proposal's diff and history, the workspace status, the maintainer's charts). They sit above the rooms, read only
//! through the rooms' public functions, and decide nothing.

pub mod charts;
pub mod event;
pub mod history;
pub mod proposals;
pub mod status;

pub use charts::{charts, Charts};
pub use event::{device_event_detail, event_detail, EventDetail};
pub use history::{proposal_history, HistoryEntry, ProposalHistory};

pub use proposals::{detail, diff, list, view, ProposalDetail, ProposalSummary, ProposalView};
pub use status::{status, Status};

#[cfg(test)]
mod tests;
