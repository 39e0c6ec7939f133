//! `oxide keys ...`: signing keys kept in the OS keyring (generate, list, export, rotate,
//! revoke). The core does the work (`oxide_core::signing::admin`); this only translates.

use clap::Subcommand;
use serde_json::json;

use oxide_core::signing::admin;

use crate::output::{CliError, Out};
use crate::Cli;

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// Make an ed25519 signing key for a person: the private key goes to the OS keyring only
    /// (service dev.oxide.review, entry person:ID); prints the keyid and the OpenSSH public key.
    /// Refused when the person already has a key (use `keys rotate`).
    Generate {
        /// The person id (as in .oxide/approvers.toml).
        #[arg(long, value_name = "ID")]
        person: String,
    },
    /// The keys this workspace's database knows (public data only).
    List,
    /// git's allowed_signers text (gpg.ssh.allowedSignersFile) from the registry as committed
    /// on the target branch, with each key's validity. Text, also with --json
    /// ({"allowed_signers": TEXT}).
    ExportAllowedSigners,
    /// A person's public key in OpenSSH format (text; with --json {keyid, public, ...}).
    ExportPublic {
        #[arg(long, value_name = "ID")]
        person: String,
    },
    /// Replace a person's key: a new key in the keyring; in the working-tree registry the old
    /// key ends now (valid_until) and the new one is added. Commit .oxide/approvers.toml for
    /// it to take effect.
    Rotate {
        #[arg(long, value_name = "ID")]
        person: String,
    },
    /// Revoke a key: recorded in this database and as revoked_at in the working-tree
    /// registry. Commit .oxide/approvers.toml for verification to refuse the key.
    Revoke {
        /// The keyid (64 hex digits, `keys list`).
        keyid: String,
        /// Why (recorded with the revocation).
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
}

pub fn run(cli: &Cli, cmd: &KeysCmd, out: &mut Out) -> Result<(), CliError> {
    let actor = oxide_core::actor::from_env();
    match cmd {
        KeysCmd::Generate { person } => {
            let ws = cli.open()?;
            let k = admin::generate(&ws, person, &actor)?;
            out.result(&k, || {
                eprintln!(
                    "generated a key for {person} (keyid {}); the private key is in the OS keyring \
                     entry '{}' only. Register it: oxide approvers add --person {person} --name NAME --role ROLE",
                    k.keyid, k.keyring_entry
                );
                k.public.clone()
            });
        }
        KeysCmd::List => {
            let ws = cli.open()?;
            let keys = admin::list(&ws)?;
            out.result(&json!({ "keys": keys }), || {
                if keys.is_empty() {
                    return "no keys yet (oxide keys generate --person ID)".into();
                }
                keys.iter()
                    .map(|k| {
                        let state = match (&k.revoked_at, &k.rotated_at) {
                            (Some(at), _) => format!("revoked {at}"),
                            (None, Some(at)) => format!("rotated {at}"),
                            (None, None) => "current".into(),
                        };
                        format!(
                            "{}  {:<8} {:<16} {:<22} {}",
                            k.keyid,
                            k.purpose.as_str(),
                            k.person.as_deref().unwrap_or("-"),
                            state,
                            k.created_at
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        KeysCmd::ExportAllowedSigners => {
            let ws = cli.open()?;
            let text = admin::export_allowed_signers(&ws)?;
            out.result(&json!({ "allowed_signers": text }), || text.clone());
        }
        KeysCmd::ExportPublic { person } => {
            let r = admin::export_public(person)?;
            out.result(&r, || r.public.clone());
        }
        KeysCmd::Rotate { person } => {
            let ws = cli.open()?;
            let r = admin::rotate(&ws, person, &actor)?;
            out.result(&r, || {
                let mut lines = vec![format!(
                    "rotated the key of {person}: {} -> {} (the new private key is in the OS keyring only)",
                    r.old_keyid, r.keyid
                )];
                lines.extend(r.registry.notes.iter().map(|n| format!("  {n}")));
                lines.push(r.note.clone());
                eprintln!("{}", lines.join("\n"));
                r.public.clone()
            });
        }
        KeysCmd::Revoke { keyid, reason } => {
            let ws = cli.open()?;
            let r = admin::revoke(&ws, keyid, reason, &actor)?;
            out.result(&r, || {
                let mut lines = vec![format!(
                    "revoked key {} at {}{}",
                    r.keyid,
                    r.revoked_at,
                    r.person
                        .as_deref()
                        .map(|p| format!(" (of {p})"))
                        .unwrap_or_default()
                )];
                lines.extend(r.registry.notes.iter().map(|n| format!("  {n}")));
                lines.push(r.note.clone());
                lines.join("\n")
            });
        }
    }
    Ok(())
}
