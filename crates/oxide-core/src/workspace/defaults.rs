//! The governance files `oxide init` writes when they are absent, with commented defaults
//! (those of the foundation; rooms add their own, e.g. the default policy, in `crate::setup`).

pub const OXIDE_TOML: &str = r#"# OXIDE Review settings for this repository. A change to any file under .oxide/ is a
# governance change: always the highest risk, never proposable by O.X.I.D.E itself.

[workflow]
# The protected branch that promotions land on.
target_branch = "main"
# Who commits proposal branches (oxide/proposals/<id>, with Oxide-Proposal/Oxide-Skill trailers).
bot_name = "O.X.I.D.E"
bot_email = "oxide-bot@oxide.invalid"

[binder]
# How learned failure capsules are used: shadow (computed, not surfaced) | guided (shown as
# advice) | prescriptive (eligible capsules gate proposals).
rollout_mode = "shadow"
# How wrapper envelopes become capsules: strict | hybrid | lenient (see docs/binder.md).
fallback_mode = "strict"

[synth]
# The Ollama model O.X.I.D.E uses, pinned by name and by the digest GET /api/tags reports.
# Synthesis is refused while model_digest is empty or does not match.
model = "llama3.2:latest"
model_digest = ""
seed = 42
num_ctx = 8192
timeout_s = 120

[approvals]
# Hours a signed approval stays valid (fractions allowed); an expired approval no longer counts.
lifetime_hours = 168

[rollout]
# The target branch moved after the review, and the proposal's own diff is byte-identical on
# the new head (a trivial rebase): re-validate it there and keep its approvals (true), or
# supersede it so that it is reviewed again (false). See docs/promotion.md.
trivial_rebase_keeps_approvals = false
"#;

pub const CHECKS_TOML: &str = r#"# The CI contract: checks run against every proposal in a temporary worktree.
# run = argv (a shell only with shell = true and run = "a string"); env = allow-list, all
# other variables are cleared; required checks must pass, advisory ones only report.
# Checks run sandboxed (bubblewrap: system directories read-only, the worktree writable, no
# home, no network); a toolchain under your home is listed in ro_paths; sandbox = false runs a
# check on the host and makes every proposal it validates high risk (docs/checks.md).
#
# [[check]]
# name = "unit"
# run = ["cargo", "test", "--offline"]
# timeout_s = 600
# env = ["PATH", "HOME", "CARGO_HOME", "RUSTUP_HOME"]
# ro_paths = ["/home/me/.cargo", "/home/me/.rustup"]
# required = true
#
# A check whose entry point is a repository script can run the target branch's copy of it,
# whatever a proposal did to it: pin = "target" (also pins plain paths listed in harness).
# [[check]]
# name = "ci"
# run = ["sh", "./scripts/ci.sh"]
# harness = ["tests/**"]
# pin = "target"
#
# Canary checks run after promotion; a failure triggers an automatic rollback.
# [[canary]]
# name = "smoke"
# run = ["./scripts/smoke"]
# timeout_s = 120
"#;

pub const POLICY_README: &str = r#"# Policy

Rego (v1) risk and policy gates for this repository, evaluated in-process by OXIDE Review.
Every file `*.rego` in this folder (tests included) is part of the policy; its digest is
recorded with every decision. The evaluator asks for `data.oxide.decision`.

- `oxide.rego`: the default rules: risk levels, escalations, denials, approvals required.
- `oxide_test.rego`: its tests; `oxide policy test` runs every `test_*` rule.
- `oxide policy sim --snapshot FILE --policy DIR` shows which recorded decisions an edit
  would flip before you commit it (`oxide policy snapshot export FILE` writes the snapshot).

A policy that does not parse, errs, runs past its time limit or returns anything but the
decision object denies every proposal with POLICY_ERROR (fail closed). See the project's
docs/policy.md for the input and output contracts.
"#;

/// `(path relative to the repository root, contents)` of the foundation's default files.
pub const FILES: &[(&str, &str)] = &[
    (".oxide/oxide.toml", OXIDE_TOML),
    (".oxide/checks.toml", CHECKS_TOML),
    (".oxide/policy/README.md", POLICY_README),
];
