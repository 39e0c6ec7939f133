use crate::output::{CliError, Out};
use crate::Cli;

pub fn run(cli: &Cli, out: &mut Out) -> Result<(), CliError> {
    let mut ws = cli.open()?;
    // Finish or abandon promotions a killed process left behind (docs/promotion.md).
    oxide_core::rollout::reconcile(&mut ws, &oxide_core::actor::from_env())?;
    let st = oxide_core::views::status(&ws)?;
    out.result(&st, || {
        let mut s = format!("workspace {}\ndatabase  {}\n", st.workspace, st.db);
        if !st.initialized {
            s.push_str("not initialised: run `oxide init`\n");
        }
        s.push_str("proposals:\n");
        for (state, n) in &st.proposals {
            s.push_str(&format!("  {state:<18} {n}\n"));
        }
        s.push_str(&format!("audit events: {}\n", st.audit_events));
        s.push_str(&format!("target branch: {}\n", st.target_branch));
        if !st.drafts.is_empty() {
            s.push_str(&format!(
                "governance drafts (not in force until committed on {}):\n",
                st.target_branch
            ));
            for d in &st.drafts {
                s.push_str(&format!("  {d}\n"));
            }
        }
        s
    });
    Ok(())
}
