//! The trust registry `.oxide/approvers.toml`: who may approve, with which roles and which
//! public keys, each valid over a time range and maybe revoked.
//!
//! What is in force is the file as committed on the target branch's tip
//! ([`Registry::committed`]), like every governance input; the working-tree copy is a draft
//! that `oxide approvers add`, `keys rotate` and `keys revoke` edit ([`Draft`], comments and
//! layout kept) and that takes effect once committed.
//!
//! ```toml
//! [[person]]
//! id = "alice"                       # 1-64 of [A-Za-z0-9._@-]
//! name = "Alice Example"
//! roles = ["approver", "lead"]       # approver | lead | maintainer
//!
//! [[person.keys]]
//! public = "ssh-ed25519 AAAAC3Nza... alice"
//! valid_from = "2026-11-30T16:00:00Z"        # RFC 3339
//! # valid_until = "2027-11-30T16:00:00Z"     # optional: not valid from then on
//! # revoked_at = "2026-12-01T09:00:00Z"      # optional: never valid again
//! # revoke_reason = "laptop lost"
//! ```
//!
//! Parsing is strict: unknown fields, duplicate persons, roles or keys, keys that are not
//! ed25519, bad times are refused with the line and field. Lookups by keyid are O(1) (a map
//! built once at parse time): approval verification runs one per signature.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use toml::Spanned;

use super::keys::{keyid, openssh_public, parse_openssh_public};
use super::{check_person_id, SigningError};
use crate::clock::{format_ts, parse_ts};
use crate::workspace::Workspace;
use crate::Error;

/// Where the registry lives (relative to the repository root).
pub const REGISTRY_PATH: &str = ".oxide/approvers.toml";

/// What `oxide init` writes: an empty registry that explains itself.
pub const DEFAULT_REGISTRY: &str = r#"# The trust registry: who may approve proposals, with which roles and which public keys.
# It is a governance file: what is committed on the target branch is in force; edits in the
# working tree are drafts until committed (and reviewed like any other governance change).
#
# Add people with `oxide approvers add --person ID --name NAME --role ROLE`, which uses the
# person's key from this machine's keyring (`oxide keys generate --person ID`) or
# --public-key "ssh-ed25519 AAAA...". Roles: approver, lead, maintainer. Times are RFC 3339.
#
# [[person]]
# id = "alice"
# name = "Alice Example"
# roles = ["approver", "lead"]
#
# [[person.keys]]
# public = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA... alice"
# valid_from = "2026-11-30T16:00:00Z"
# # valid_until = "2027-11-30T16:00:00Z"
# # revoked_at = "2026-12-01T09:00:00Z"
# # revoke_reason = "laptop lost"
"#;

/// A person's role in the registry (never taken from an approval's own claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Role {
    Approver,
    Lead,
    Maintainer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Approver, Role::Lead, Role::Maintainer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Approver => "approver",
            Role::Lead => "lead",
            Role::Maintainer => "maintainer",
        }
    }

    /// `approver` | `lead` | `maintainer` (`SIGNING_BAD_ROLE` otherwise).
    pub fn parse(s: &str) -> Result<Role, SigningError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| SigningError::BadRole(s.to_string()))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One registered public key of a person, with its validity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct RegisteredKey {
    /// OpenSSH public-key line.
    pub public: String,
    /// Derived: sha256 hex of the raw public key (not in the file).
    pub keyid: String,
    pub valid_from: String,
    pub valid_until: Option<String>,
    pub revoked_at: Option<String>,
    pub revoke_reason: Option<String>,
}

/// One person of the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Person {
    pub id: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub keys: Vec<RegisteredKey>,
}

/// Where a key stands at a given time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Standing {
    Valid,
    /// The time is before the key's `valid_from`.
    NotYetValid,
    /// The time is at or after the key's `valid_until`.
    Expired,
    /// The key is revoked (whatever the time: a revoked key's signatures are never trusted,
    /// since a signer can claim any issue time).
    Revoked {
        at: String,
    },
}

/// The answer of [`Registry::lookup`]: whose key it is and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStanding<'r> {
    pub person: &'r str,
    pub name: &'r str,
    pub roles: &'r [Role],
    pub keyid: &'r str,
    pub verifying_key: VerifyingKey,
    pub standing: Standing,
}

#[derive(Debug, Clone)]
struct Indexed {
    person: usize,
    key: usize,
    verifying_key: VerifyingKey,
    valid_from: OffsetDateTime,
    valid_until: Option<OffsetDateTime>,
    revoked: bool,
}

/// The trust registry, parsed and indexed by keyid.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Registry {
    pub persons: Vec<Person>,
    #[serde(skip)]
    index: HashMap<String, Indexed>,
}

impl PartialEq for Registry {
    fn eq(&self, other: &Self) -> bool {
        self.persons == other.persons
    }
}

// ------------------------------------------------------------------------- the file format

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    person: Vec<RawPerson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPerson {
    id: Spanned<String>,
    name: Spanned<String>,
    roles: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    keys: Vec<RawKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    public: Spanned<String>,
    valid_from: Spanned<String>,
    valid_until: Option<Spanned<String>>,
    revoked_at: Option<Spanned<String>>,
    revoke_reason: Option<Spanned<String>>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

impl Registry {
    /// An empty registry (nobody may approve).
    pub fn empty() -> Registry {
        Registry::default()
    }

    /// The registry in force: `.oxide/approvers.toml` as committed on the target branch's tip
    /// (empty when it is not committed there). The working tree's copy is never read here.
    pub fn committed(ws: &Workspace) -> Result<Registry, Error> {
        let target = ws.target_branch()?;
        let origin = format!("{REGISTRY_PATH} (committed on {target})");
        match ws.committed_file(REGISTRY_PATH)? {
            None => Ok(Registry::empty()),
            Some(bytes) => {
                let text = String::from_utf8(bytes).map_err(|_| SigningError::RegistryInvalid {
                    origin: origin.clone(),
                    why: "it is not UTF-8".into(),
                })?;
                Ok(Registry::parse(&origin, &text)?)
            }
        }
    }

    /// Parses registry text strictly; `origin` names the file in errors.
    pub fn parse(origin: &str, text: &str) -> Result<Registry, SigningError> {
        let invalid = |why: String| SigningError::RegistryInvalid {
            origin: origin.to_string(),
            why,
        };
        let at = |span: std::ops::Range<usize>, field: &str, why: String| {
            invalid(format!(
                "line {}: {field}: {why}",
                line_of(text, span.start)
            ))
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| format!("line {}: ", line_of(text, s.start)))
                .unwrap_or_default();
            invalid(format!("{line}{}", e.message().trim_end()))
        })?;
        let mut persons = Vec::with_capacity(raw.person.len());
        let mut index: HashMap<String, Indexed> = HashMap::new();
        let mut ids = HashSet::new();
        for (pi, rp) in raw.person.into_iter().enumerate() {
            let id = rp.id.get_ref().clone();
            check_person_id(&id).map_err(|e| at(rp.id.span(), "id", e.to_string()))?;
            if !ids.insert(id.clone()) {
                return Err(at(
                    rp.id.span(),
                    "id",
                    format!("person '{id}' is listed twice; keep one [[person]] per id"),
                ));
            }
            let name = rp.name.get_ref().trim().to_string();
            if name.is_empty() || name.contains(['\n', '\r']) {
                return Err(at(
                    rp.name.span(),
                    "name",
                    format!("person '{id}' needs a one-line, non-empty name"),
                ));
            }
            let mut roles = Vec::new();
            for r in rp.roles.get_ref() {
                let role =
                    Role::parse(r.get_ref()).map_err(|e| at(r.span(), "roles", e.to_string()))?;
                if roles.contains(&role) {
                    return Err(at(
                        r.span(),
                        "roles",
                        format!("role '{role}' is listed twice for '{id}'"),
                    ));
                }
                roles.push(role);
            }
            let mut keys = Vec::with_capacity(rp.keys.len());
            for (ki, rk) in rp.keys.into_iter().enumerate() {
                let vk = parse_openssh_public(rk.public.get_ref())
                    .map_err(|e| at(rk.public.span(), "keys.public", e.to_string()))?;
                let kid = keyid(&vk);
                if let Some(prev) = index.get(&kid) {
                    let owner = &persons
                        .get(prev.person)
                        .map_or(id.as_str(), |p: &Person| p.id.as_str());
                    return Err(at(
                        rk.public.span(),
                        "keys.public",
                        format!("key {kid} is already registered (for '{owner}'); a key belongs to one person, once"),
                    ));
                }
                let time = |s: &Spanned<String>, field: &str| {
                    parse_ts(s.get_ref()).ok_or_else(|| {
                        at(
                            s.span(),
                            field,
                            format!(
                                "'{}' is not an RFC 3339 time (e.g. \"2026-11-30T16:00:00Z\")",
                                s.get_ref()
                            ),
                        )
                    })
                };
                let valid_from = time(&rk.valid_from, "keys.valid_from")?;
                let valid_until = rk
                    .valid_until
                    .as_ref()
                    .map(|s| time(s, "keys.valid_until"))
                    .transpose()?;
                if let (Some(until), Some(s)) = (valid_until, rk.valid_until.as_ref()) {
                    if until <= valid_from {
                        return Err(at(
                            s.span(),
                            "keys.valid_until",
                            "it must be later than valid_from".into(),
                        ));
                    }
                }
                let revoked_at = rk
                    .revoked_at
                    .as_ref()
                    .map(|s| time(s, "keys.revoked_at"))
                    .transpose()?;
                if let (Some(reason), None) = (rk.revoke_reason.as_ref(), revoked_at) {
                    return Err(at(
                        reason.span(),
                        "keys.revoke_reason",
                        "a revoke_reason needs a revoked_at".into(),
                    ));
                }
                index.insert(
                    kid.clone(),
                    Indexed {
                        person: pi,
                        key: ki,
                        verifying_key: vk,
                        valid_from,
                        valid_until,
                        revoked: revoked_at.is_some(),
                    },
                );
                keys.push(RegisteredKey {
                    public: rk.public.get_ref().trim().to_string(),
                    keyid: kid,
                    valid_from: format_ts(valid_from),
                    valid_until: valid_until.map(format_ts),
                    revoked_at: revoked_at.map(format_ts),
                    revoke_reason: rk.revoke_reason.map(|s| s.into_inner()),
                });
            }
            persons.push(Person {
                id,
                name,
                roles,
                keys,
            });
        }
        Ok(Registry { persons, index })
    }

    /// The key with this keyid and where it stands at `at` (`None`: not registered).
    pub fn lookup(&self, keyid: &str, at: OffsetDateTime) -> Option<KeyStanding<'_>> {
        let ix = self.index.get(keyid)?;
        let person = &self.persons[ix.person];
        let key = &person.keys[ix.key];
        let standing = if ix.revoked {
            Standing::Revoked {
                at: key.revoked_at.clone().unwrap_or_default(),
            }
        } else if at < ix.valid_from {
            Standing::NotYetValid
        } else if ix.valid_until.is_some_and(|u| at >= u) {
            Standing::Expired
        } else {
            Standing::Valid
        };
        Some(KeyStanding {
            person: &person.id,
            name: &person.name,
            roles: &person.roles,
            keyid: &key.keyid,
            verifying_key: ix.verifying_key,
            standing,
        })
    }

    pub fn person(&self, id: &str) -> Option<&Person> {
        self.persons.iter().find(|p| p.id == id)
    }

    /// The roles of `person` (empty when not registered).
    pub fn roles_of(&self, person: &str) -> &[Role] {
        self.person(person).map_or(&[], |p| p.roles.as_slice())
    }

    /// git's `allowed_signers` (`gpg.ssh.allowedSignersFile`, `ssh-keygen -Y verify -f`): one
    /// line per registered key that is not revoked,
    /// `<person-id> namespaces="git"[,valid-after="YYYYMMDDHHMMSSZ"][,valid-before="..."] ssh-ed25519 AAAA...`;
    /// revoked keys appear only as comments.
    pub fn allowed_signers(&self) -> String {
        let stamp = |t: &str| {
            parse_ts(t)
                .map(|t| {
                    let t = t.to_offset(time::UtcOffset::UTC);
                    format!(
                        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
                        t.year(),
                        u8::from(t.month()),
                        t.day(),
                        t.hour(),
                        t.minute(),
                        t.second()
                    )
                })
                .unwrap_or_default()
        };
        let mut out = String::from(
            "# git allowed_signers from .oxide/approvers.toml as committed (oxide keys export-allowed-signers)\n",
        );
        for p in &self.persons {
            for k in &p.keys {
                if let Some(at) = &k.revoked_at {
                    out.push_str(&format!("# revoked at {at}: {} {}\n", p.id, k.keyid));
                    continue;
                }
                let mut opts = format!(
                    "namespaces=\"git\",valid-after=\"{}\"",
                    stamp(&k.valid_from)
                );
                if let Some(until) = &k.valid_until {
                    opts.push_str(&format!(",valid-before=\"{}\"", stamp(until)));
                }
                let key = self
                    .index
                    .get(&k.keyid)
                    .map(|ix| openssh_public(&ix.verifying_key, ""))
                    .unwrap_or_default();
                out.push_str(&format!("{} {opts} {}\n", p.id, key.trim_end()));
            }
        }
        out
    }
}

// --------------------------------------------------------------------- the working-tree draft

/// What an edit of the draft did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct DraftChange {
    /// The file edited (absolute path of the working-tree copy).
    pub path: String,
    pub person: Option<String>,
    /// Whether the file changed.
    pub changed: bool,
    /// What changed, one line each (or why nothing did).
    pub notes: Vec<String>,
}

/// The working-tree `.oxide/approvers.toml`, open for editing. Comments and layout are
/// kept (toml_edit); every edit is checked by the strict parser before it is written.
#[derive(Debug)]
pub struct Draft {
    path: PathBuf,
    doc: toml_edit::DocumentMut,
}

fn edit_err(what: impl Into<String>) -> SigningError {
    SigningError::RegistryEdit { what: what.into() }
}

fn key_item(public: &str, valid_from: &str) -> toml_edit::Table {
    let mut t = toml_edit::Table::new();
    t.insert("public", toml_edit::value(public));
    t.insert("valid_from", toml_edit::value(valid_from));
    t
}

/// The keys of a `[[person]]` table, as `[[person.keys]]` tables or an inline array.
enum KeysMut<'a> {
    Tables(&'a mut toml_edit::ArrayOfTables),
    Inline(&'a mut toml_edit::Array),
}

impl Draft {
    /// Opens the working-tree draft under `root` (the default text when absent). A draft that
    /// does not parse strictly is refused before anything is edited.
    pub fn open(root: &Path) -> Result<Draft, SigningError> {
        let path = root.join(REGISTRY_PATH);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => DEFAULT_REGISTRY.to_string(),
            Err(e) => {
                return Err(SigningError::Io {
                    what: "read",
                    path: path.display().to_string(),
                    why: e.to_string(),
                })
            }
        };
        let origin = format!("{REGISTRY_PATH} (working tree)");
        Registry::parse(&origin, &text)?;
        let doc =
            text.parse::<toml_edit::DocumentMut>()
                .map_err(|e| SigningError::RegistryInvalid {
                    origin,
                    why: e.to_string(),
                })?;
        Ok(Draft { path, doc })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The draft as a registry (strictly parsed).
    pub fn registry(&self) -> Result<Registry, SigningError> {
        Registry::parse(
            &format!("{REGISTRY_PATH} (working tree)"),
            &self.doc.to_string(),
        )
    }

    /// The draft's text as it would be written.
    pub fn text(&self) -> String {
        self.doc.to_string()
    }

    fn change(&self, person: Option<&str>, notes: Vec<String>, changed: bool) -> DraftChange {
        DraftChange {
            path: self.path.display().to_string(),
            person: person.map(str::to_string),
            changed,
            notes,
        }
    }

    fn persons_mut(&mut self) -> Result<&mut toml_edit::ArrayOfTables, SigningError> {
        if !self.doc.contains_key("person") {
            self.doc.insert(
                "person",
                toml_edit::Item::ArrayOfTables(toml_edit::ArrayOfTables::new()),
            );
        }
        self.doc["person"]
            .as_array_of_tables_mut()
            .ok_or_else(|| edit_err("the persons in .oxide/approvers.toml are not written as [[person]] tables, which oxide can edit; rewrite them as [[person]] tables"))
    }

    fn person_index(&self, id: &str) -> Option<usize> {
        self.doc
            .get("person")?
            .as_array_of_tables()?
            .iter()
            .position(|t| t.get("id").and_then(|v| v.as_str()) == Some(id))
    }

    fn keys_mut(table: &mut toml_edit::Table) -> Result<KeysMut<'_>, SigningError> {
        if !table.contains_key("keys") {
            table.insert(
                "keys",
                toml_edit::Item::ArrayOfTables(toml_edit::ArrayOfTables::new()),
            );
        }
        match table.get_mut("keys") {
            Some(toml_edit::Item::ArrayOfTables(a)) => Ok(KeysMut::Tables(a)),
            Some(toml_edit::Item::Value(toml_edit::Value::Array(a))) => Ok(KeysMut::Inline(a)),
            _ => Err(edit_err(
                "a person's keys are neither [[person.keys]] tables nor an array of tables",
            )),
        }
    }

    /// Sets `field = value` on the key `keyid` wherever it is; returns the owner's id
    /// (`None`: the draft does not hold that key). `only_if_unset` leaves a set field alone
    /// and reports it as `Some((owner, Some(previous)))`.
    fn set_key_field(
        &mut self,
        keyid_wanted: &str,
        fields: &[(&str, &str)],
        guard: &str,
    ) -> Result<Option<(String, Option<String>)>, SigningError> {
        let Some(persons) = self
            .doc
            .get_mut("person")
            .and_then(|p| p.as_array_of_tables_mut())
        else {
            return Ok(None);
        };
        for person in persons.iter_mut() {
            let owner = person
                .get("id")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            let matches = |public: Option<&str>| {
                public
                    .and_then(|p| parse_openssh_public(p).ok())
                    .is_some_and(|vk| keyid(&vk) == keyid_wanted)
            };
            match Self::keys_mut(person)? {
                KeysMut::Tables(keys) => {
                    for k in keys.iter_mut() {
                        if matches(k.get("public").and_then(|v| v.as_str())) {
                            if let Some(prev) = k.get(guard).and_then(|v| v.as_str()) {
                                return Ok(Some((owner, Some(prev.to_string()))));
                            }
                            for (f, v) in fields {
                                k.insert(f, toml_edit::value(*v));
                            }
                            return Ok(Some((owner, None)));
                        }
                    }
                }
                KeysMut::Inline(keys) => {
                    for k in keys.iter_mut() {
                        let Some(t) = k.as_inline_table_mut() else {
                            continue;
                        };
                        if matches(t.get("public").and_then(|v| v.as_str())) {
                            if let Some(prev) = t.get(guard).and_then(|v| v.as_str()) {
                                return Ok(Some((owner, Some(prev.to_string()))));
                            }
                            for (f, v) in fields {
                                t.insert(*f, (*v).into());
                            }
                            return Ok(Some((owner, None)));
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    fn push_key(person: &mut toml_edit::Table, public: &str, at: &str) -> Result<(), SigningError> {
        match Self::keys_mut(person)? {
            KeysMut::Tables(keys) => keys.push(key_item(public, at)),
            KeysMut::Inline(keys) => {
                let mut t = toml_edit::InlineTable::new();
                t.insert("public", public.into());
                t.insert("valid_from", at.into());
                keys.push(t);
            }
        }
        Ok(())
    }

    /// `oxide approvers add`: adds person `id` (or, when present, the roles and key they do
    /// not have yet) with `public` valid from `now`.
    pub fn add(
        &mut self,
        id: &str,
        name: &str,
        roles: &[Role],
        public: &str,
        now: OffsetDateTime,
    ) -> Result<DraftChange, SigningError> {
        check_person_id(id)?;
        let name = name.trim();
        if name.is_empty() || name.contains(['\n', '\r']) {
            return Err(edit_err("--name must be a one-line, non-empty name"));
        }
        if roles.is_empty() {
            return Err(edit_err(
                "give at least one --role (approver, lead or maintainer)",
            ));
        }
        let vk = parse_openssh_public(public)?;
        let kid = keyid(&vk);
        let public = openssh_public(&vk, id);
        let at = format_ts(now);
        let current = self.registry()?;
        if let Some(owner) = current.lookup(&kid, now).map(|s| s.person.to_string()) {
            if owner != id {
                return Err(edit_err(format!(
                    "key {kid} is already registered for '{owner}'; a key belongs to one person"
                )));
            }
        }
        let mut notes = Vec::new();
        match self.person_index(id) {
            None => {
                let mut t = toml_edit::Table::new();
                t.insert("id", toml_edit::value(id));
                t.insert("name", toml_edit::value(name));
                let mut arr = toml_edit::Array::new();
                for r in roles {
                    arr.push(r.as_str());
                }
                t.insert("roles", toml_edit::value(arr));
                let mut keys = toml_edit::ArrayOfTables::new();
                keys.push(key_item(&public, &at));
                t.insert("keys", toml_edit::Item::ArrayOfTables(keys));
                if !self.doc.contains_key("person") {
                    // A file of comments only (the default): they stay above the first person.
                    let header = self.doc.trailing().as_str().unwrap_or_default().to_string();
                    if !header.trim().is_empty() {
                        self.doc.set_trailing("");
                        let sep = if header.ends_with("\n\n") { "" } else { "\n" };
                        t.decor_mut().set_prefix(format!("{header}{sep}"));
                    }
                }
                self.persons_mut()?.push(t);
                notes.push(format!(
                    "added {id} ({name}) with roles {} and key {kid}, valid from {at}",
                    roles
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            Some(i) => {
                let known = current.person(id).cloned();
                let persons = self.persons_mut()?;
                let t = persons
                    .get_mut(i)
                    .ok_or_else(|| edit_err(format!("person '{id}' vanished from the draft")))?;
                if known.as_ref().map(|p| p.name.as_str()) != Some(name) {
                    t.insert("name", toml_edit::value(name));
                    notes.push(format!("name of {id} set to {name}"));
                }
                let have: Vec<Role> = known.as_ref().map(|p| p.roles.clone()).unwrap_or_default();
                let new_roles: Vec<Role> = roles
                    .iter()
                    .copied()
                    .filter(|r| !have.contains(r))
                    .collect();
                if !new_roles.is_empty() {
                    let arr = t
                        .get_mut("roles")
                        .and_then(|v| v.as_array_mut())
                        .ok_or_else(|| edit_err(format!("the roles of '{id}' are not an array")))?;
                    for r in &new_roles {
                        arr.push(r.as_str());
                        notes.push(format!("role {r} added to {id}"));
                    }
                }
                let has_key = known
                    .as_ref()
                    .is_some_and(|p| p.keys.iter().any(|k| k.keyid == kid));
                if !has_key {
                    Self::push_key(t, &public, &at)?;
                    notes.push(format!("key {kid} added to {id}, valid from {at}"));
                }
            }
        }
        let changed = !notes.is_empty();
        if !changed {
            notes.push(format!(
                "{id} is already registered with these roles and this key; nothing changed"
            ));
        }
        self.registry()?;
        Ok(self.change(Some(id), notes, changed))
    }

    /// After `keys rotate`: `old_keyid` of `person` stops being valid at `now`
    /// (`valid_until`) and `new_public` is added, valid from `now`. Nothing changes when the
    /// person is not in the draft (they are not registered yet).
    pub fn rotate(
        &mut self,
        person: &str,
        old_keyid: &str,
        new_public: &str,
        now: OffsetDateTime,
    ) -> Result<DraftChange, SigningError> {
        let Some(i) = self.person_index(person) else {
            return Ok(self.change(
                Some(person),
                vec![format!(
                    "{person} is not in the registry draft; add them with `oxide approvers add --person {person} ...`"
                )],
                false,
            ));
        };
        let vk = parse_openssh_public(new_public)?;
        let kid = keyid(&vk);
        let public = openssh_public(&vk, person);
        let at = format_ts(now);
        let mut notes = Vec::new();
        match self.set_key_field(old_keyid, &[("valid_until", &at)], "valid_until")? {
            Some((owner, None)) if owner == person => {
                notes.push(format!("key {old_keyid} of {person} valid until {at}"));
            }
            Some((owner, Some(prev))) if owner == person => {
                notes.push(format!(
                    "key {old_keyid} of {person} already ends at {prev}; left as is"
                ));
            }
            Some((owner, _)) => {
                return Err(edit_err(format!(
                    "key {old_keyid} is registered for '{owner}', not '{person}'"
                )))
            }
            None => notes.push(format!(
                "the old key {old_keyid} is not in the draft; nothing to end"
            )),
        }
        let already = self
            .registry()?
            .person(person)
            .is_some_and(|p| p.keys.iter().any(|k| k.keyid == kid));
        if !already {
            let t = self
                .persons_mut()?
                .get_mut(i)
                .ok_or_else(|| edit_err(format!("person '{person}' vanished from the draft")))?;
            Self::push_key(t, &public, &at)?;
            notes.push(format!("key {kid} added to {person}, valid from {at}"));
        }
        self.registry()?;
        Ok(self.change(Some(person), notes, true))
    }

    /// After `keys revoke`: key `keyid` gets `revoked_at = now` and the reason. `changed` is
    /// false when the draft does not hold that key.
    pub fn revoke(
        &mut self,
        keyid_wanted: &str,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<DraftChange, SigningError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(SigningError::ReasonRequired);
        }
        let at = format_ts(now);
        match self.set_key_field(
            keyid_wanted,
            &[("revoked_at", &at), ("revoke_reason", reason)],
            "revoked_at",
        )? {
            Some((owner, None)) => {
                self.registry()?;
                Ok(self.change(
                    Some(&owner),
                    vec![format!("key {keyid_wanted} of {owner} revoked at {at}")],
                    true,
                ))
            }
            Some((_, Some(prev))) => Err(SigningError::AlreadyRevoked {
                keyid: keyid_wanted.to_string(),
                at: prev,
            }),
            None => Ok(self.change(
                None,
                vec![format!("key {keyid_wanted} is not in the registry draft")],
                false,
            )),
        }
    }

    /// Writes the draft (checked by the strict parser first) through a temporary file and a
    /// rename.
    pub fn save(&self) -> Result<(), SigningError> {
        let text = self.text();
        Registry::parse(&format!("{REGISTRY_PATH} (edited draft)"), &text)?;
        let io = |what: &'static str, e: std::io::Error| SigningError::Io {
            what,
            path: self.path.display().to_string(),
            why: e.to_string(),
        };
        if let Some(parent) = self.path.parent() {
            fs::create_dir_all(parent).map_err(|e| io("create the folder of", e))?;
        }
        let tmp = self.path.with_extension("toml.oxide-tmp");
        fs::write(&tmp, text).map_err(|e| io("write", e))?;
        fs::rename(&tmp, &self.path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io("replace", e)
        })
    }
}

#[cfg(test)]
mod tests;
