//! Signed audit checkpoints. The audit chain alone proves nothing to someone holding the
//! database file: they can rewrite an event and recompute every later hash. A checkpoint is
//! this device's signature (key `device:<keyid>` in the OS keyring) over the chain's head —
//! a C2SP tlog-checkpoint signed note (`note.rs`) — so a rewrite of anything up to a signed
//! head no longer matches a signature only the keyring's key can make.
//!
//! - [`create`] signs the current head (after every governance transition, and on demand:
//!   `oxide audit checkpoint`). It refuses to sign a log that does not extend what this
//!   device signed before. The newest note is also kept in the OS keyring
//!   (`witness:<device keyid>`), so deleting checkpoint rows (or the log's tail) shows.
//! - [`verify_audit`] = the chain check (`audit::verify`) + every checkpoint's signature
//!   (this device's key from the keyring, or a key of the trust registry) + its root equal
//!   to the chain's hash at its size + the witness.
//! - [`export`] writes the audit export and, next to it, `FILE.checkpoints` (JSON Lines).
//!
//! What is protected is the history up to the newest checkpoint: events after it are only
//! as good as the plain chain until the next checkpoint signs them.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::keys::{self, KeyPurpose};
use super::note::{self, Note};
use super::registry::{Registry, Standing};
use super::{keyring, SigningError};
use crate::audit;
use crate::clock::format_ts;
use crate::workspace::Workspace;

/// One checkpoint as stored: `note` is the signed note; `seq`, `hash`, `keyid` repeat it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Checkpoint {
    /// The tree size: the audit event whose hash was signed.
    pub seq: i64,
    /// That event's hash, `sha256:<hex>`.
    pub hash: String,
    /// The signing key's keyid.
    pub keyid: String,
    pub note: String,
    pub created_at: String,
}

/// One thing `verify_audit` found wrong. `code` is stable (see docs/audit.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AuditProblem {
    pub code: String,
    /// The event (or checkpoint size) it is about, when there is one.
    pub seq: Option<i64>,
    pub message: String,
}

/// The outcome of `verify_audit` (`oxide audit verify`, the desktop's audit check).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AuditVerifyReport {
    pub ok: bool,
    pub events: u64,
    /// The first event that cannot be trusted (edited, missing, or in a range a signed
    /// checkpoint no longer matches).
    pub first_bad_seq: Option<i64>,
    /// The first problem's message (the same as `problems[0].message`).
    pub problem: Option<String>,
    /// Checkpoints whose signature verified.
    pub checkpoints: u64,
    /// The newest checkpoint whose signature verified and whose root matches the chain.
    pub last_checkpoint: Option<Checkpoint>,
    pub problems: Vec<AuditProblem>,
}

/// What `export` wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportReport {
    pub events: u64,
    pub checkpoints: u64,
    /// Where the checkpoints went: `FILE.checkpoints`.
    pub checkpoints_file: PathBuf,
}

/// Problem codes.
pub mod problem {
    /// The hash chain itself is broken after the last checkpoint.
    pub const CHAIN_BROKEN: &str = "AUDIT_CHAIN_BROKEN";
    /// The chain is broken at or before a signed checkpoint: signed history was changed.
    pub const REWRITTEN: &str = "AUDIT_REWRITTEN";
    /// A checkpoint's root no longer equals the chain's hash at its size.
    pub const CHECKPOINT_MISMATCH: &str = "CHECKPOINT_MISMATCH";
    /// A checkpoint signs more events than the log has.
    pub const CHECKPOINT_BEYOND_LOG: &str = "CHECKPOINT_BEYOND_LOG";
    /// A checkpoint note is not a well-formed signed checkpoint.
    pub const CHECKPOINT_MALFORMED: &str = "CHECKPOINT_MALFORMED";
    /// A checkpoint is not signed by a trusted key (forged, or signed by an unknown key).
    pub const CHECKPOINT_UNTRUSTED: &str = "CHECKPOINT_UNTRUSTED";
    /// A checkpoint row's columns disagree with its signed note.
    pub const CHECKPOINT_ROW_MISMATCH: &str = "CHECKPOINT_ROW_MISMATCH";
    /// The keyring's witness names a checkpoint the database no longer has.
    pub const CHECKPOINT_DELETED: &str = "CHECKPOINT_DELETED";
    /// This device signed checkpoints, but the keyring holds no witness of them.
    pub const WITNESS_MISSING: &str = "WITNESS_MISSING";
    /// The keyring's witness is not a valid note by this device's key.
    pub const WITNESS_INVALID: &str = "WITNESS_INVALID";
    /// This database's device key is not in the OS keyring, so its checkpoints cannot be
    /// checked.
    pub const DEVICE_KEY_MISSING: &str = "DEVICE_KEY_MISSING";
}

const COLUMNS: &str = "seq, hash, keyid, note, created_at";

fn row_to_checkpoint(r: &rusqlite::Row<'_>) -> rusqlite::Result<Checkpoint> {
    Ok(Checkpoint {
        seq: r.get(0)?,
        hash: r.get(1)?,
        keyid: r.get(2)?,
        note: r.get(3)?,
        created_at: r.get(4)?,
    })
}

/// Every stored checkpoint, oldest (lowest seq) first. Not verified.
pub fn list(conn: &Connection) -> Result<Vec<Checkpoint>, SigningError> {
    let mut st = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM audit_checkpoints ORDER BY seq, id"
    ))?;
    let rows = st
        .query_map([], row_to_checkpoint)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn latest_by(conn: &Connection, keyid: &str) -> Result<Option<Checkpoint>, SigningError> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM audit_checkpoints WHERE keyid = ?1 ORDER BY seq DESC, id DESC LIMIT 1"
            ),
            [keyid],
            row_to_checkpoint,
        )
        .optional()?)
}

/// Parses and verifies a note against exactly one key; the note's size and root.
fn open_with(text: &str, keyid: &str, vk: &VerifyingKey) -> Result<Note, String> {
    let n = note::parse(text)?;
    let name = note::key_name(keyid);
    note::verify(&n, |nm| (nm == name).then_some(*vk))?;
    Ok(n)
}

fn tampered(seq: Option<i64>, why: String) -> SigningError {
    SigningError::AuditTampered {
        first_bad_seq: seq,
        why,
    }
}

/// Checks that event `seq` still carries `hash`; `Err` says what changed.
fn chain_has(conn: &Connection, seq: i64, hash: &str) -> Result<Result<(), String>, SigningError> {
    Ok(match audit::event(conn, seq)? {
        None => Err(format!(
            "event {seq}, signed in a checkpoint, is no longer in the log (events were removed)"
        )),
        Some(e) if e.hash != hash => Err(format!(
            "event {seq} now has hash {}, but a checkpoint signed {hash}: the log up to event {seq} was rewritten",
            e.hash
        )),
        Some(_) => Ok(()),
    })
}

/// Signs the current audit head with this device's key (made on first use) and stores the
/// checkpoint; the newest note also goes to the OS keyring as the witness. Idempotent: when
/// the head is already signed, that checkpoint is returned.
///
/// Refuses (`SIGNING_AUDIT_TAMPERED`, nothing signed) when the log does not extend what this
/// device signed before: the witness or the newest checkpoint no longer matches, or the chain
/// after it does not verify. Call it after the transaction of the change it covers commits,
/// on a connection in autocommit mode (never inside a transaction): the row must be durable
/// before the keyring's witness names it, or a crash in between leaves a witness that looks
/// exactly like deleted checkpoint rows (found by tests/tests/promote_crash.rs).
#[tracing::instrument(name = "signing.checkpoint", skip_all)]
pub fn create(conn: &Connection, now: OffsetDateTime) -> Result<Checkpoint, SigningError> {
    debug_assert!(
        conn.is_autocommit(),
        "signing::checkpoint::create inside a transaction: the witness would precede the row"
    );
    let key = keys::device_key(conn, now)?;
    let keyid = key.keyid().to_string();
    let vk = key.verifying_key();
    // After device_key: making the key appends an event, which this checkpoint then covers.
    let (seq, hash) = audit::head(conn)?.ok_or(SigningError::NothingToCheckpoint)?;

    // What this device signed before: the keyring's witness and the newest stored checkpoint.
    let witness_entry = keyring::witness_entry(&keyid);
    let mut anchor: Option<(i64, String)> = None;
    if let Some(text) = keyring::get_text(&witness_entry)? {
        let w = open_with(&text, &keyid, &vk).map_err(|why| {
            tampered(
                None,
                format!("the witness in the OS keyring ('{witness_entry}') is not a valid checkpoint of this device: {why}"),
            )
        })?;
        chain_has(conn, w.size, &w.root_hash)?.map_err(|why| tampered(Some(w.size), why))?;
        anchor = Some((w.size, w.root_hash));
    }
    let last = latest_by(conn, &keyid)?;
    if let Some(c) = &last {
        let n = open_with(&c.note, &keyid, &vk).map_err(|why| {
            tampered(
                Some(c.seq),
                format!(
                    "the stored checkpoint at event {} is not valid: {why}",
                    c.seq
                ),
            )
        })?;
        chain_has(conn, n.size, &n.root_hash)?.map_err(|why| tampered(Some(n.size), why))?;
        if anchor.as_ref().is_none_or(|(s, _)| n.size > *s) {
            anchor = Some((n.size, n.root_hash));
        }
    }
    if let Some((ws, _)) = &anchor {
        if last.as_ref().is_none_or(|c| c.seq < *ws) {
            return Err(tampered(
                None,
                format!("the OS keyring's witness names a checkpoint at event {ws} that the database no longer has: checkpoint rows were deleted"),
            ));
        }
    }
    let segment = audit::verify_from(conn, anchor.as_ref().map(|(s, h)| (*s, h.as_str())))?;
    if !segment.ok {
        return Err(tampered(
            segment.first_bad_seq,
            segment.problem.unwrap_or_default(),
        ));
    }

    let checkpoint = match last.filter(|c| c.seq == seq && c.hash == hash) {
        Some(existing) => existing,
        None => {
            let name = note::key_name(&keyid);
            let text =
                note::checkpoint_text(&name, seq, &hash).map_err(|why| tampered(Some(seq), why))?;
            let line = note::signature_line(&name, &vk, &key.sign(text.as_bytes()));
            let c = Checkpoint {
                seq,
                hash,
                keyid: keyid.clone(),
                note: note::assemble(&text, &[line]),
                created_at: format_ts(now),
            };
            conn.execute(
                "INSERT INTO audit_checkpoints (seq, hash, keyid, note, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (seq, keyid) DO NOTHING",
                params![c.seq, c.hash, c.keyid, c.note, c.created_at],
            )?;
            c
        }
    };
    keyring::set_text(&witness_entry, &checkpoint.note)?;
    Ok(checkpoint)
}

/// The keys a checkpoint may be signed by: this device's key as the OS keyring holds it,
/// and the trust registry's keys in good standing.
struct Trusted<'a> {
    device: Option<(String, VerifyingKey)>,
    registry: Option<&'a Registry>,
    now: OffsetDateTime,
}

impl Trusted<'_> {
    fn key_for(&self, name: &str) -> Option<VerifyingKey> {
        let keyid = note::keyid_of_name(name)?;
        if let Some((id, vk)) = &self.device {
            if id == keyid {
                return Some(*vk);
            }
        }
        let s = self.registry?.lookup(keyid, self.now)?;
        matches!(s.standing, Standing::Valid).then_some(s.verifying_key)
    }
}

/// This database's device key from the OS keyring, without making one: `Ok(None)` when the
/// database has none; `Err(problem)` when it names one the keyring does not hold.
fn device_public(
    conn: &Connection,
) -> Result<Result<Option<(String, VerifyingKey)>, String>, SigningError> {
    let Some(info) = keys::list(conn)?
        .into_iter()
        .find(|k| k.purpose == KeyPurpose::Device)
    else {
        return Ok(Ok(None));
    };
    let entry = keyring::device_entry(&info.keyid);
    Ok(match keyring::load_key(&entry)? {
        Some(k) if k.keyid() == info.keyid => Ok(Some((info.keyid, k.verifying_key()))),
        Some(k) => Err(format!(
            "the keyring entry '{entry}' holds key {}, not this database's device key {}",
            k.keyid(),
            info.keyid
        )),
        None => Err(format!(
            "the OS keyring holds no device key {} (entry '{entry}'); checkpoints signed by it cannot be checked on this machine",
            info.keyid
        )),
    })
}

/// Verifies the audit log: the hash chain, every checkpoint (signature by this device's key
/// from the keyring or a registry key valid at `now`, root equal to the chain at its size),
/// and the keyring's witness (the newest checkpoint this device signed is still there).
/// `registry`: the trust registry as committed, when there is one.
#[tracing::instrument(name = "signing.verify_audit", skip_all)]
pub fn verify_audit(
    conn: &Connection,
    registry: Option<&Registry>,
    now: OffsetDateTime,
) -> Result<AuditVerifyReport, SigningError> {
    let chain = audit::verify(conn)?;
    let mut problems: Vec<AuditProblem> = Vec::new();
    let mut first_bad: Option<i64> = None;
    let mut push = |code: &str, seq: Option<i64>, message: String| {
        problems.push(AuditProblem {
            code: code.into(),
            seq,
            message,
        })
    };

    let device = match device_public(conn)? {
        Ok(d) => d,
        Err(why) => {
            push(problem::DEVICE_KEY_MISSING, None, why);
            None
        }
    };
    let trusted = Trusted {
        device: device.clone(),
        registry,
        now,
    };

    // Every checkpoint, by size. `matched` = the newest size whose checkpoint matched.
    let mut verified = 0u64;
    let mut matched: Option<i64> = None;
    let mut last_ok: Option<Checkpoint> = None;
    let mut device_signed = 0u64;
    for c in list(conn)? {
        let n = match note::parse(&c.note) {
            Ok(n) => n,
            Err(why) => {
                push(
                    problem::CHECKPOINT_MALFORMED,
                    Some(c.seq),
                    format!("the checkpoint stored for event {}: {why}", c.seq),
                );
                continue;
            }
        };
        let signers = match note::verify(&n, |nm| trusted.key_for(nm)) {
            Ok(s) => s,
            Err(why) => {
                push(
                    problem::CHECKPOINT_UNTRUSTED,
                    Some(n.size),
                    format!("the checkpoint for event {} was refused: {why} (forged, or signed by a key that is neither this device's nor in the trust registry)", n.size),
                );
                continue;
            }
        };
        verified += 1;
        let signer_ids: Vec<&str> = signers
            .iter()
            .filter_map(|s| note::keyid_of_name(s))
            .collect();
        if device
            .as_ref()
            .is_some_and(|(id, _)| signer_ids.contains(&id.as_str()))
        {
            device_signed += 1;
        }
        if n.size != c.seq || n.root_hash != c.hash || !signer_ids.contains(&c.keyid.as_str()) {
            push(
                problem::CHECKPOINT_ROW_MISMATCH,
                Some(n.size),
                format!(
                    "the checkpoint row says event {} / {} / key {}, but its signed note says event {} / {}",
                    c.seq, c.hash, c.keyid, n.size, n.root_hash
                ),
            );
        }
        match audit::event(conn, n.size)? {
            None => {
                push(
                    problem::CHECKPOINT_BEYOND_LOG,
                    Some(n.size),
                    format!("a signed checkpoint covers event {}, but the log has only {} events: events were removed", n.size, chain.events),
                );
                lower(&mut first_bad, (chain.events as i64 + 1).min(n.size));
            }
            Some(e) if e.hash != n.root_hash => {
                let from = matched.filter(|m| *m < n.size).map_or(1, |m| m + 1);
                push(
                    problem::CHECKPOINT_MISMATCH,
                    Some(n.size),
                    format!("event {} has hash {}, but the checkpoint signed {}: an event between {from} and {} was changed after it was signed", n.size, e.hash, n.root_hash, n.size),
                );
                lower(&mut first_bad, from);
            }
            Some(_) => {
                if matched.is_none_or(|m| n.size >= m) {
                    matched = Some(n.size);
                    last_ok = Some(c.clone());
                }
            }
        }
    }

    // The witness: the newest note this device signed, kept outside the database.
    if let Some((keyid, vk)) = &device {
        let entry = keyring::witness_entry(keyid);
        match keyring::get_text(&entry)? {
            None if device_signed > 0 => push(
                problem::WITNESS_MISSING,
                None,
                format!("this device signed {device_signed} checkpoint(s), but the OS keyring holds no witness ('{entry}')"),
            ),
            None => {}
            Some(text) => match open_with(&text, keyid, vk) {
                Err(why) => push(
                    problem::WITNESS_INVALID,
                    None,
                    format!("the witness in the OS keyring ('{entry}') is not a valid checkpoint of this device: {why}"),
                ),
                Ok(w) => {
                    let stored = list_at(conn, w.size, keyid)?;
                    if !stored.iter().any(|c| c.note == text.as_str()) {
                        push(
                            problem::CHECKPOINT_DELETED,
                            Some(w.size),
                            format!("the newest checkpoint this device signed (event {}, kept in the OS keyring) is not in the database: checkpoint rows were deleted", w.size),
                        );
                    }
                    if let Err(why) = chain_has(conn, w.size, &w.root_hash)? {
                        push(problem::CHECKPOINT_MISMATCH, Some(w.size), format!("the keyring's witness: {why}"));
                        let from = match audit::event(conn, w.size)? {
                            None => (chain.events as i64 + 1).min(w.size),
                            Some(_) => matched.filter(|m| *m < w.size).map_or(1, |m| m + 1),
                        };
                        lower(&mut first_bad, from);
                    }
                }
            },
        }
    }

    // The chain itself.
    if let (false, Some(k)) = (chain.ok, chain.first_bad_seq) {
        let signed_up_to = matched.unwrap_or(0);
        let why = chain.problem.clone().unwrap_or_default();
        if k <= signed_up_to {
            push(
                problem::REWRITTEN,
                Some(k),
                format!("{why}; event {k} is covered by the signed checkpoint at event {signed_up_to}: signed history was changed"),
            );
        } else {
            push(problem::CHAIN_BROKEN, Some(k), why);
        }
        lower(&mut first_bad, k);
    }

    Ok(AuditVerifyReport {
        ok: problems.is_empty(),
        events: chain.events,
        first_bad_seq: first_bad,
        problem: problems.first().map(|p| p.message.clone()),
        checkpoints: verified,
        last_checkpoint: last_ok,
        problems,
    })
}

/// `verify_audit` for a workspace: its database, the trust registry as committed on the
/// target branch, and the workspace clock. An unreadable registry trusts no registry key (it
/// is logged; this device's own key is checked either way).
pub fn verify_workspace(ws: &Workspace) -> Result<AuditVerifyReport, crate::Error> {
    let registry = match Registry::committed(ws) {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!(
                code = e.code(),
                "trust registry unreadable; checkpoints are checked against this device's key only"
            );
            None
        }
    };
    Ok(verify_audit(
        ws.store().conn(),
        registry.as_ref(),
        ws.clock().now(),
    )?)
}

/// Lowers `first_bad` to `s`.
fn lower(first_bad: &mut Option<i64>, s: i64) {
    *first_bad = Some(first_bad.map_or(s, |f| f.min(s)));
}

fn list_at(conn: &Connection, seq: i64, keyid: &str) -> Result<Vec<Checkpoint>, SigningError> {
    let mut st = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM audit_checkpoints WHERE seq = ?1 AND keyid = ?2"
    ))?;
    let rows = st
        .query_map(params![seq, keyid], row_to_checkpoint)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// One line of `FILE.checkpoints`.
#[derive(Serialize)]
struct ExportLine<'a> {
    seq: i64,
    hash: &'a str,
    keyid: &'a str,
    /// The signer's OpenSSH public key when it is this database's device key (compare it
    /// with `oxide keys list` before trusting it).
    public: Option<&'a str>,
    created_at: &'a str,
    note: &'a str,
}

/// `oxide audit export FILE`: the events as JSON Lines (`audit::export`) and every checkpoint
/// as JSON Lines in `FILE.checkpoints` (`{seq, hash, keyid, public, created_at, note}`), each
/// written atomically.
pub fn export(
    conn: &Connection,
    path: &Path,
    q: &audit::TimelineQuery,
) -> Result<ExportReport, SigningError> {
    let events = audit::export_matching(conn, path, q)?;
    let mut cp_path = path.as_os_str().to_owned();
    cp_path.push(".checkpoints");
    let cp_path = PathBuf::from(cp_path);
    let keys = keys::list(conn)?;
    let err = |why: String| SigningError::Io {
        what: "write the checkpoints to",
        path: cp_path.display().to_string(),
        why,
    };
    let mut buf = Vec::new();
    let checkpoints = list(conn)?;
    for c in &checkpoints {
        let public = keys
            .iter()
            .find(|k| k.keyid == c.keyid && k.purpose == KeyPurpose::Device)
            .map(|k| k.public.as_str());
        serde_json::to_writer(
            &mut buf,
            &ExportLine {
                seq: c.seq,
                hash: &c.hash,
                keyid: &c.keyid,
                public,
                created_at: &c.created_at,
                note: &c.note,
            },
        )
        .map_err(|e| err(e.to_string()))?;
        buf.push(b'\n');
    }
    let dir = cp_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".oxide-checkpoints-{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&buf)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &cp_path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e.to_string())
    })?;
    Ok(ExportReport {
        events,
        checkpoints: checkpoints.len() as u64,
        checkpoints_file: cp_path,
    })
}
