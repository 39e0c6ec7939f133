//! `oxide approvers ...`: the trust registry `.oxide/approvers.toml` (add edits the
//! working-tree draft; list shows what is committed, i.e. in force).

use clap::Subcommand;

use oxide_core::signing::admin;

use crate::output::{CliError, Out};
use crate::Cli;

#[derive(Subcommand, Debug)]
pub enum ApproversCmd {
    /// Add a person (or their new roles / key) to .oxide/approvers.toml in the working tree.
    /// Without --public-key the person's key from this machine's keyring is used. In force
    /// once committed on the target branch (a governance change).
    Add {
        #[arg(long, value_name = "ID")]
        person: String,
        /// The person's display name.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// approver | lead | maintainer (repeat for several).
        #[arg(long = "role", value_name = "ROLE", required = true)]
        roles: Vec<String>,
        /// An OpenSSH ed25519 public key ("ssh-ed25519 AAAA...").
        #[arg(long, value_name = "KEY")]
        public_key: Option<String>,
    },
    /// The registry in force (as committed on the target branch); says when the working tree
    /// holds a draft that differs.
    List,
}

pub fn run(cli: &Cli, cmd: &ApproversCmd, out: &mut Out) -> Result<(), CliError> {
    let ws = cli.open()?;
    match cmd {
        ApproversCmd::Add {
            person,
            name,
            roles,
            public_key,
        } => {
            let r = admin::approvers_add(&ws, person, name, roles, public_key.as_deref())?;
            out.result(&r, || {
                let mut lines: Vec<String> = r.registry.notes.clone();
                lines.push(r.note.clone());
                lines.join("\n")
            });
        }
        ApproversCmd::List => {
            let l = admin::approvers_list(&ws)?;
            out.result(&l, || {
                let mut lines = Vec::new();
                if l.persons.is_empty() {
                    lines.push(format!(
                        "no approvers committed on '{}' (oxide approvers add, then commit .oxide/approvers.toml)",
                        l.target_branch
                    ));
                }
                for p in &l.persons {
                    let roles: Vec<&str> = p.roles.iter().map(|r| r.as_str()).collect();
                    lines.push(format!("{} ({}): {}", p.id, p.name, roles.join(", ")));
                    for k in &p.keys {
                        let mut s = format!("  {}  from {}", k.keyid, k.valid_from);
                        if let Some(u) = &k.valid_until {
                            s.push_str(&format!(" until {u}"));
                        }
                        if let Some(at) = &k.revoked_at {
                            s.push_str(&format!(" REVOKED {at}"));
                        }
                        lines.push(s);
                    }
                }
                if l.draft_pending {
                    lines.push(
                        "draft: .oxide/approvers.toml in the working tree differs from the committed one; it is not in force until committed"
                            .into(),
                    );
                }
                lines.join("\n")
            });
        }
    }
    Ok(())
}
