//! `oxide skill add FILE | list | discover`.

use std::path::PathBuf;

use clap::Subcommand;
use serde_json::json;

use crate::output::{CliError, Out};
use crate::Cli;

#[derive(Subcommand, Debug)]
pub enum SkillCmd {
    /// Store a skill descriptor (JSON; see the CLI contract). Its text stays untrusted data.
    Add { file: PathBuf },
    /// Every stored skill.
    List,
    /// Turn eligible failure capsules from the binder into skill candidates (source `capsule`).
    Discover,
}

pub fn run(cli: &Cli, cmd: &SkillCmd, out: &mut Out) -> Result<(), CliError> {
    let mut ws = cli.open()?;
    match cmd {
        SkillCmd::Add { file } => {
            let added = oxide_core::skill::add_file(&mut ws, file, &oxide_core::actor::from_env())?;
            out.result(&added, || {
                if added.existing {
                    format!("skill {} already stored ({})", added.id, added.digest)
                } else {
                    format!("skill {} added ({})", added.id, added.digest)
                }
            });
        }
        SkillCmd::List => {
            let skills =
                oxide_core::skill::list(ws.store().conn()).map_err(oxide_core::Error::from)?;
            out.result(&json!({ "skills": skills }), || {
                if skills.is_empty() {
                    return "no skills yet: add one with `oxide skill add FILE`".into();
                }
                skills
                    .iter()
                    .map(|s| {
                        format!(
                            "{}  {:<8} {:<12} {}",
                            s.id,
                            s.source.as_str(),
                            s.submitted_by,
                            s.title
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        SkillCmd::Discover => {
            let mode = ws.settings()?.binder.rollout_mode;
            let found = oxide_core::skill::discover(&mut ws, &oxide_core::actor::from_env())?;
            out.result(&json!({ "skills": found, "rollout_mode": mode }), || {
                if found.is_empty() && mode == oxide_core::workspace::config::RolloutMode::Shadow {
                    return "rollout mode is shadow: capsules are computed but not surfaced; set [binder] rollout_mode = \"guided\" in .oxide/oxide.toml to discover skills from them".into();
                }
                if found.is_empty() {
                    return "no eligible failure capsules: nothing to discover".into();
                }
                found
                    .iter()
                    .map(|d| {
                        format!(
                            "{}  {}  confidence {:.2}, support {}  {}",
                            d.id,
                            if d.new { "new     " } else { "existing" },
                            d.confidence,
                            d.support_count,
                            d.title
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}
