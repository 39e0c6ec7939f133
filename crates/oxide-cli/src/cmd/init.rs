use crate::output::{CliError, Out};
use crate::Cli;

pub fn run(cli: &Cli, out: &mut Out) -> Result<(), CliError> {
    let actor = oxide_core::actor::from_env();
    let rep = oxide_core::setup::init(
        &cli.workspace_dir()?,
        cli.db.as_deref(),
        &actor,
        oxide_core::Clock::system(),
    )?;
    out.result(&rep, || {
        let mut s = format!("workspace {}\ndatabase  {}\n", rep.workspace, rep.db);
        if rep.created.is_empty() {
            s.push_str("already initialised; nothing written\n");
        } else {
            for f in &rep.created {
                s.push_str(&format!("wrote {f}\n"));
            }
            s.push_str("commit .oxide/ : it is your repository's governance\n");
        }
        s
    });
    Ok(())
}
