//! OXIDE Review's domain core. Every decision lives here; the `oxide` CLI and the desktop
//! shell only translate. One module (room) per concern, each owning its tables.

pub mod actor;
pub mod audit;
pub mod binder;
pub mod canon;
pub mod checks;
pub mod clock;
pub mod error;
pub mod gitops;
pub mod memory;
pub mod policy;
pub mod proposal;
pub mod recent;
pub mod skill;
pub mod store;
pub mod synth;
pub mod workflow;
pub mod workspace;

pub use clock::Clock;
pub use error::{Error, ErrorDto, ErrorKind};
pub use workspace::{InitReport, Status, Workspace};

/// Every proposal state, the happy path first, then the exits.
pub const STATES: &[&str] = &[
    "discovered",
    "proposed",
    "validated",
    "approved",
    "promoted",
    "no_op",
    "quarantined",
    "failed_validation",
    "denied",
    "rejected",
    "superseded",
    "rolled_back",
];
