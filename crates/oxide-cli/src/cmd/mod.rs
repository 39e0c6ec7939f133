//! One file per command group; each only translates arguments and prints results.
pub mod approve;
pub mod approvers;
pub mod audit;
pub mod binder;
pub mod init;
pub mod keys;
pub mod lifecycle;
pub mod policy;
pub mod promote;
pub mod proposal;
pub mod propose;
pub mod rollback;
pub mod skill;
pub mod status;
pub mod sync;
pub mod target;
pub mod validate;
