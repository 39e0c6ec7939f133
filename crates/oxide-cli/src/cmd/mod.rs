//! One file per command group; each only translates arguments and prints results.
pub mod audit;
pub mod binder;
pub mod init;
pub mod lifecycle;
pub mod policy;
pub mod proposal;
pub mod propose;
pub mod skill;
pub mod status;
pub mod validate;

/// Who is acting: `OXIDE_ACTOR`, else the login name.
pub fn actor() -> String {
    std::env::var("OXIDE_ACTOR")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into())
}
