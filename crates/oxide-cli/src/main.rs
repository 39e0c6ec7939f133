//! `oxide`: the headless shell over oxide-core. Parses arguments, calls the core, prints
//! (human text to stderr/stdout, or exactly one JSON document with `--json`). No decisions.

/// mimalloc: the binder ingest frees many small strings on another thread than made them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cmd;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use output::{CliError, Out};

#[derive(Parser, Debug)]
#[command(
    name = "oxide",
    version,
    about = "OXIDE Review: governed AI change proposals for a git repository"
)]
pub struct Cli {
    /// The governed git repository (default: the repository around the current directory).
    #[arg(long, global = true, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// The state database (default: one per workspace under the user's data directory).
    #[arg(long, global = true, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Print exactly one JSON document on stdout (errors as {"error": {code, message}}).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write .oxide/ defaults (if absent) and create the state database. Idempotent.
    Init,
    /// Proposal counts per state, the number of audit events, the target branch and the
    /// governance drafts (working-tree edits of .oxide/ not in force until committed).
    Status,
    /// The target branch (fixed at init): `target set BRANCH --reason TEXT` changes it, audited.
    #[command(subcommand)]
    Target(cmd::target::TargetCmd),
    /// The tamper-evident audit timeline.
    #[command(subcommand)]
    Audit(cmd::audit::AuditCmd),
    /// Skills: untrusted lessons O.X.I.D.E turns into proposals (add, list, discover).
    #[command(subcommand)]
    Skill(cmd::skill::SkillCmd),
    /// Ask O.X.I.D.E (Ollama, pinned) for a proposal for a skill; falls back to no_op.
    Propose(cmd::propose::ProposeArgs),
    /// Synthesis attempts and the Ollama probe.
    #[command(subcommand)]
    Synth(cmd::propose::SynthCmd),
    /// Proposal bundles: validate a bundle file (dry run).
    #[command(subcommand)]
    Proposal(cmd::proposal::ProposalCmd),
    /// Run the CI contract (.oxide/checks.toml) against a proposal in a temporary worktree.
    Validate(cmd::validate::ValidateArgs),
    /// Risk and policy gates: evaluate, test, simulate, export snapshots.
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCmd),
    /// Wrapper envelopes -> bindings -> capsules; eligibility, query views, quarantine.
    #[command(subcommand)]
    Binder(cmd::binder::BinderCmd),
    /// Signing keys in the OS keyring: generate, list, export, rotate, revoke.
    #[command(subcommand)]
    Keys(cmd::keys::KeysCmd),
    /// The trust registry .oxide/approvers.toml: add (working-tree draft), list (committed).
    #[command(subcommand)]
    Approvers(cmd::approvers::ApproversCmd),
    /// Sign an approval (or with --reject, a rejection) of a validated proposal with your
    /// keyring key; the proposal moves to approved once the two-person rule is satisfied.
    Approve(cmd::approve::ApproveArgs),
    /// A proposal's approvals: status (valid, stale, expired, revoked, invalid), the
    /// two-person tally, what is missing; --export DIR writes the DSSE envelopes.
    Approvals(cmd::approve::ApprovalsArgs),
    /// Verify a proposal's approvals now (exit 3 when not ok).
    Verify(cmd::approve::VerifyArgs),
    /// Roll back a promoted proposal: a signed revert commit on the target, state
    /// rolled_back (lead or maintainer); `rollback drill` rehearses it on a scratch branch.
    Rollback(cmd::rollback::RollbackArgs),
    /// A proposal's canary runs (the [[canary]] checks run after its promotion) and their logs.
    Canary(cmd::rollback::CanaryArgs),
    /// Runtime memory (behavior/personality entries) and its history.
    #[command(subcommand)]
    Memory(cmd::rollback::MemoryCmd),
    /// Promote an approved proposal: every gate re-checked (bundle signature, branch,
    /// validation, policy committed now, approvals, strict up-to-date, promoter role), then a
    /// commit signed with your keyring key (SSHSIG) moves the target branch (exit 3 on any
    /// gate; nothing promoted). See docs/promotion.md.
    Promote(cmd::promote::PromoteArgs),
    /// Team sync through the git remote: publish this device's proposals, validations,
    /// approvals and audit segment under refs/oxide/*, receive the other devices' (each
    /// verified before it is used), and see promotions made elsewhere.
    Sync(cmd::sync::SyncArgs),
}

impl Cli {
    pub fn workspace_dir(&self) -> Result<PathBuf, CliError> {
        match &self.workspace {
            Some(d) => Ok(d.clone()),
            None => std::env::current_dir()
                .map_err(|e| CliError::io("cannot read the current directory", e)),
        }
    }

    pub fn open(&self) -> Result<oxide_core::Workspace, CliError> {
        Ok(oxide_core::Workspace::open(
            &self.workspace_dir()?,
            self.db.as_deref(),
        )?)
    }
}

fn run(cli: &Cli, out: &mut Out) -> Result<(), CliError> {
    match &cli.command {
        Command::Init => cmd::init::run(cli, out),
        Command::Status => cmd::status::run(cli, out),
        Command::Target(c) => cmd::target::run(cli, c, out),
        Command::Audit(c) => cmd::audit::run(cli, c, out),
        Command::Skill(c) => cmd::skill::run(cli, c, out),
        Command::Propose(a) => cmd::propose::run(cli, a, out),
        Command::Synth(c) => cmd::propose::run_synth(cli, c, out),
        Command::Proposal(c) => cmd::proposal::run(cli, c, out),
        Command::Validate(a) => cmd::validate::run(cli, a, out),
        Command::Policy(c) => cmd::policy::run(cli, c, out),
        Command::Binder(c) => cmd::binder::run(cli, c, out),
        Command::Keys(c) => cmd::keys::run(cli, c, out),
        Command::Approvers(c) => cmd::approvers::run(cli, c, out),
        Command::Approve(a) => cmd::approve::approve(cli, a, out),
        Command::Approvals(a) => cmd::approve::approvals(cli, a, out),
        Command::Verify(a) => cmd::approve::verify(cli, a, out),
        Command::Rollback(a) => cmd::rollback::run(cli, a, out),
        Command::Canary(a) => cmd::rollback::canary(cli, a, out),
        Command::Memory(c) => cmd::rollback::memory(cli, c, out),
        Command::Promote(a) => cmd::promote::run(cli, a, out),
        Command::Sync(a) => cmd::sync::run(cli, a, out),
    }
}

fn main() -> ExitCode {
    let json_requested = std::env::args().any(|a| a == "--json");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return output::usage_error(e, json_requested),
    };
    output::init_tracing();
    let mut out = Out::new(cli.json);
    let result = run(&cli, &mut out);
    out.finish(result)
}
