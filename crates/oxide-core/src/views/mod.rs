//! Read models: answers that gather several rooms' values for the shells (the proposal list
//! and view, a proposal's diff, the workspace status). They sit above the rooms, read only
//! through the rooms' public functions, and decide nothing.

pub mod event;
pub mod proposals;
pub mod status;

pub use event::{event_detail, EventDetail};
pub use proposals::{detail, diff, list, view, ProposalDetail, ProposalSummary, ProposalView};
pub use status::{status, Status};
