//! `oxide propose --skill ID [--replay]` and `oxide synth attempts [--skill ID]`.

use clap::{Args, Subcommand};
use serde_json::json;

use crate::output::{CliError, Out};
use crate::Cli;

#[derive(Args, Debug)]
pub struct ProposeArgs {
    /// The skill to synthesise a change for (id or digest).
    #[arg(long, value_name = "ID")]
    pub skill: String,
    /// Answer from the replay store only; Ollama is not contacted.
    #[arg(long)]
    pub replay: bool,
}

/// Codes that are a gate's refusal (exit 3): the model pin.
const PIN_CODES: &[&str] = &[
    oxide_core::synth::reason::DIGEST_MISMATCH,
    oxide_core::synth::reason::MODEL_NOT_PINNED,
];

pub fn run(cli: &Cli, args: &ProposeArgs, out: &mut Out) -> Result<(), CliError> {
    let mut ws = cli.open()?;
    let opts = oxide_core::synth::ProposeOptions {
        replay: args.replay,
        host: oxide_core::synth::host_from_env(),
        cancel: None,
    };
    let o =
        oxide_core::synth::propose(&mut ws, &args.skill, &opts, &oxide_core::actor::from_env())?;
    let human = || match (&o.id, &o.failure_reason_code) {
        (Some(id), _) => format!(
            "{} proposal {id} ({}) {}\n{}",
            if o.existing { "existing" } else { "new" },
            o.state,
            o.digest.as_deref().unwrap_or(""),
            o.message
        ),
        (None, code) => format!(
            "no_op [{}]: {}\nno proposal was created (attempt {})",
            code.as_deref().unwrap_or("?"),
            o.message,
            o.attempt
        ),
    };
    let pin_refusal = o
        .failure_reason_code
        .as_deref()
        .is_some_and(|c| PIN_CODES.contains(&c));
    if o.state == oxide_core::State::NoOp && !out.json() {
        eprintln!("{}", human());
    }
    if pin_refusal {
        out.refused_result(&o, String::new);
    } else if o.state == oxide_core::State::NoOp {
        out.result(&o, String::new);
    } else {
        out.result(&o, human);
    }
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum SynthCmd {
    /// Synthesis attempts (proposed, existing and no_op), newest first.
    Attempts {
        /// Only this skill's attempts.
        #[arg(long, value_name = "ID")]
        skill: Option<String>,
        /// At most N attempts.
        #[arg(long, value_name = "N", default_value_t = 50)]
        limit: u32,
    },
    /// Is the Ollama server at OLLAMA_HOST reachable?
    Probe,
    /// The models on the Ollama server with the digests to pin (`GET /api/tags`).
    Models,
    /// Is the pinned model there with the pinned digest? Exit 3 when it is not.
    Pin,
}

pub fn run_synth(cli: &Cli, cmd: &SynthCmd, out: &mut Out) -> Result<(), CliError> {
    match cmd {
        SynthCmd::Attempts { skill, limit } => {
            let ws = cli.open()?;
            let attempts = oxide_core::synth::attempts(ws.store().conn(), skill.as_deref(), *limit)
                .map_err(oxide_core::Error::from)?;
            out.result(&json!({ "attempts": attempts }), || {
                attempts
                    .iter()
                    .map(|a| {
                        format!(
                            "{:>5}  {}  {:<8} {:<8} {:<28} {}",
                            a.id,
                            a.at,
                            a.outcome,
                            a.source,
                            a.proposal_id
                                .clone()
                                .or(a.failure_reason_code.clone())
                                .unwrap_or_default(),
                            a.skill_id
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        SynthCmd::Models => {
            let models = oxide_core::synth::models(&oxide_core::synth::host_from_env())
                .map_err(oxide_core::Error::from)?;
            out.result(&json!({ "models": models }), || {
                models
                    .iter()
                    .map(|m| format!("{:<32} {}", m.name, m.digest))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        SynthCmd::Pin => {
            let ws = cli.open()?;
            let settings = ws.settings()?;
            let st =
                oxide_core::synth::pin_status(&settings.synth, &oxide_core::synth::host_from_env());
            if st.ok {
                out.result(&st, || st.message.clone());
            } else {
                if !out.json() {
                    eprintln!("{} [{}]", st.message, st.code.as_deref().unwrap_or(""));
                }
                out.refused_result(&st, String::new);
            }
        }
        SynthCmd::Probe => {
            let st = oxide_core::synth::probe(&oxide_core::synth::host_from_env());
            out.result(&st, || st.message.clone());
        }
    }
    Ok(())
}
