//! OXIDE Review's domain core. Every decision lives here; the `oxide` CLI and the desktop
//! shell only translate. One module (room) per concern, each owning its tables; layers only
//! point down (see ARCHITECTURE.md and `tests/tidy.rs`):
//!
//! - foundation: `actor`, `canon`, `clock`, `store`, `audit`, `workspace` (handle, settings,
//!   files);
//! - rooms: `proposal`, `memory`, `recent`, `binder`, `skill`, `workflow`, `gitops`,
//!   `checks`, `synth`, `policy`, `signing`;
//! - read models and orchestrators: `views`, `setup`, `approval` (sign and count approvals),
//!   `govern` (governance edits proposed from the app), `rollout` (promotion: gates, signed
//!   commit, crash recovery; canary, rollback, drill), `sync` (team state through the git
//!   remote);
//! - `error`: the aggregate of every room's error, the top of the crate.

pub mod actor;
pub mod approval;
pub mod audit;
pub mod binder;
pub mod canon;
pub mod checks;
pub mod clock;
pub mod error;
pub mod gitops;
pub mod govern;
pub mod memory;
pub mod policy;
pub mod proposal;
pub mod recent;
pub mod rollout;
pub mod setup;
pub mod signing;
pub mod skill;
pub mod store;
pub mod sync;
pub mod synth;
pub mod views;
pub mod workflow;
pub mod workspace;

pub use clock::{Clock, Stamp};
pub use error::{Error, ErrorDto, ErrorKind};
pub use views::Status;
pub use workflow::State;
pub use workspace::{GovernancePin, InitReport, Workspace};
