//! Ingestion: a streaming line reader with a size cap, per-line validation outside the
//! database on a parser thread that hands over batches of [`BATCH_LINES`] lines, then one
//! `BEGIN IMMEDIATE` transaction per window of [`WINDOW_LINES`] lines with cached prepared
//! statements. Capsule and condition changes are aggregated over the whole window and
//! applied, in the window's transaction, as order-independent upserts (sums, min, max), so a
//! committed window is always complete: its bindings together with their derivations. One
//! audit event opens the run and one closes it with the counts and the file digest.

use std::collections::BTreeMap;
use std::hash::Hasher;
use std::io::{BufRead, Read};

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::envelope::{self, Binding, Derivation, Envelope, Gate, GatesEnv, Rejection, Signal};
use super::BinderError;
use crate::audit::{self, NewEvent};
use crate::store::Store;
use crate::workspace::config::FallbackMode;

/// Longest accepted line in bytes; longer lines are quarantined without being buffered.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Lines per batch handed from the parser thread to the writer (bounds memory in flight).
pub const BATCH_LINES: usize = 20_000;
/// Lines per transaction (and per capsule/condition aggregation window). Every binding costs
/// one INSERT, but a capsule or condition costs one UPDATE per window it is touched in, so
/// wider windows mean fewer writes; the width also bounds how long the ingest holds the write
/// lock (~2 s at this size), which other writers wait for within the store's busy timeout.
pub const WINDOW_LINES: usize = 200_000;

/// How to ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Where the lines come from, as shown in the quarantine (e.g. the file path).
    pub source: String,
    /// Who runs the ingest (audit actor).
    pub actor: String,
    /// The workspace's `[binder] fallback_mode`.
    pub fallback_mode: FallbackMode,
    /// The time recorded for the run and its quarantined lines.
    pub now: String,
    pub batch_lines: usize,
    /// Lines per transaction; rounded up to whole batches.
    pub window_lines: usize,
    pub max_line_bytes: usize,
}

impl IngestOptions {
    pub fn new(source: &str, actor: &str, fallback_mode: FallbackMode, now: &str) -> Self {
        IngestOptions {
            source: source.to_string(),
            actor: actor.to_string(),
            fallback_mode,
            now: now.to_string(),
            batch_lines: BATCH_LINES,
            window_lines: WINDOW_LINES,
            max_line_bytes: MAX_LINE_BYTES,
        }
    }
}

/// What one ingest did. `accepted + duplicates + quarantined + blank == lines`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct IngestReport {
    pub run: i64,
    pub source: String,
    /// `sha256:<hex>` of the file's bytes.
    pub source_digest: String,
    pub fallback_mode: String,
    pub lines: u64,
    /// Empty or whitespace-only lines (not envelopes).
    pub blank: u64,
    /// New bindings stored.
    pub accepted: u64,
    /// Lines already stored (same idempotency key and same content) or already quarantined.
    pub duplicates: u64,
    /// Lines newly quarantined.
    pub quarantined: u64,
    /// Of `duplicates`: lines that had been quarantined before.
    pub already_quarantined: u64,
    /// Capsules created or updated by this run.
    pub capsules_touched: u64,
    pub binder_version: i64,
    pub anomaly_triggers: String,
}

enum Outcome {
    Blank,
    Bound(Box<Binding>, u64, KeyIds),
    Rejected {
        line: u64,
        rejection: Rejection,
        digest: String,
        excerpt: String,
        byte_len: u64,
    },
}

/// Reads lines of at most `cap` bytes; a longer line is consumed (hashed, not buffered) and
/// reported as too long. Every byte also feeds the file digest.
struct LineReader<R> {
    inner: R,
    cap: usize,
    file_hash: Sha256,
}

/// One line as read, borrowed from the reader's buffer until it is classified.
struct RawLine<'a> {
    bytes: &'a [u8],
    /// Set when the line was longer than the cap: (total length, sha256 of the whole line).
    too_long: Option<(u64, String)>,
}

impl<R: BufRead> LineReader<R> {
    fn next_line<'b>(&mut self, buf: &'b mut Vec<u8>) -> std::io::Result<Option<RawLine<'b>>> {
        buf.clear();
        let mut total: u64 = 0;
        let mut overflow: Option<Sha256> = None;
        let mut saw_any = false;
        loop {
            let avail = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                break;
            }
            saw_any = true;
            let (chunk, done) = match memchr_nl(avail) {
                Some(i) => (&avail[..=i], true),
                None => (avail, false),
            };
            self.file_hash.update(chunk);
            let body = if done {
                &chunk[..chunk.len() - 1]
            } else {
                chunk
            };
            total += body.len() as u64;
            match &mut overflow {
                Some(h) => h.update(body),
                None if buf.len() + body.len() > self.cap => {
                    let mut h = Sha256::new();
                    h.update(&buf[..]);
                    h.update(body);
                    let room = 200usize.saturating_sub(buf.len());
                    buf.extend_from_slice(&body[..room.min(body.len())]);
                    buf.truncate(200);
                    overflow = Some(h);
                }
                None => buf.extend_from_slice(body),
            }
            let n = chunk.len();
            self.inner.consume(n);
            if done {
                break;
            }
        }
        if !saw_any {
            return Ok(None);
        }
        if overflow.is_none() && buf.last() == Some(&b'\r') {
            buf.pop();
        }
        let too_long = overflow.map(|h| (total, format!("sha256:{}", hex::encode(h.finalize()))));
        Ok(Some(RawLine {
            bytes: buf,
            too_long,
        }))
    }
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', b)
}

fn excerpt(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(400)])
        .chars()
        .take(200)
        .collect()
}

/// A memo of [`envelope::gates_env`] keyed by the gates and environment exactly as received:
/// wrappers repeat a few gate sets and environments across thousands of envelopes, so their
/// validation, normalization, serialization and fingerprint are computed once per distinct
/// pair. A hit needs equal inputs (the hash only finds candidates); failures are not kept.
#[derive(Default)]
struct GatesEnvMemo {
    map: hashbrown::HashTable<MemoEntry>,
}

/// (hash, gates as received, environment as received, what they give)
type MemoEntry = (u64, Vec<Gate>, BTreeMap<String, Value>, GatesEnv);

impl GatesEnvMemo {
    const LIMIT: usize = 100_000;

    /// `None` for an environment with nested values (never valid, so never memoized).
    fn hash(gates: &[Gate], env: &BTreeMap<String, Value>) -> Option<u64> {
        let mut h = Fx::default();
        for g in gates {
            h.write(g.name.as_bytes());
            h.write_u8(0xff);
            h.write(g.version.as_bytes());
            h.write_u8(0xff);
            h.write_u8(g.status as u8);
        }
        h.write_u8(0xfe);
        for (k, v) in env {
            h.write(k.as_bytes());
            h.write_u8(0xff);
            match v {
                Value::String(s) => {
                    h.write_u8(0);
                    h.write(s.as_bytes());
                    h.write_u8(0xff);
                }
                Value::Number(n) => {
                    h.write_u8(1);
                    h.write_u64(
                        n.as_u64()
                            .or(n.as_i64().map(|i| i as u64))
                            .unwrap_or_else(|| n.as_f64().map_or(0, f64::to_bits)),
                    );
                }
                Value::Bool(b) => h.write_u8(2 + u8::from(*b)),
                Value::Null => h.write_u8(4),
                Value::Array(_) | Value::Object(_) => return None,
            }
        }
        Some(h.finish())
    }

    fn get(
        &mut self,
        gates: &[Gate],
        env: &BTreeMap<String, Value>,
    ) -> Result<GatesEnv, Rejection> {
        let Some(h) = Self::hash(gates, env) else {
            return envelope::gates_env(gates, env);
        };
        if let Some((_, _, _, out)) = self.map.find(h, |(eh, g, e, _)| {
            *eh == h && g.as_slice() == gates && e == env
        }) {
            return Ok(out.clone());
        }
        let out = envelope::gates_env(gates, env)?;
        if self.map.len() >= Self::LIMIT {
            self.map.clear();
        }
        self.map
            .insert_unique(h, (h, gates.to_vec(), env.clone(), out.clone()), |e| e.0);
        Ok(out)
    }
}

/// Classifies one raw line.
fn classify(
    raw: RawLine<'_>,
    line: u64,
    mode: FallbackMode,
    memo: &mut GatesEnvMemo,
    keys: &mut Interner,
) -> Outcome {
    let rejected = |rejection: Rejection, raw: &RawLine| Outcome::Rejected {
        line,
        rejection,
        digest: crate::canon::sha256_bytes(raw.bytes),
        excerpt: excerpt(raw.bytes),
        byte_len: raw.bytes.len() as u64,
    };
    if let Some((len, digest)) = raw.too_long {
        return Outcome::Rejected {
            line,
            rejection: Rejection {
                code: "BINDER_LINE_TOO_LONG",
                message: format!(
                    "line is {len} bytes; the limit is {} bytes per envelope",
                    MAX_LINE_BYTES
                ),
            },
            digest,
            excerpt: excerpt(raw.bytes),
            byte_len: len,
        };
    }
    let text = match std::str::from_utf8(raw.bytes) {
        Ok(t) => t,
        Err(e) => {
            return rejected(
                Rejection {
                    code: "BINDER_NOT_UTF8",
                    message: format!(
                        "line is not UTF-8 (invalid byte at offset {}); envelopes are UTF-8 JSON",
                        e.valid_up_to()
                    ),
                },
                &raw,
            )
        }
    };
    if text.trim().is_empty() {
        return Outcome::Blank;
    }
    let env: Envelope = match serde_json::from_str(text) {
        Ok(e) => e,
        Err(e) => {
            use serde_json::error::Category;
            let code = match e.classify() {
                Category::Syntax | Category::Eof => "BINDER_MALFORMED_JSON",
                Category::Data | Category::Io => {
                    let m = e.to_string();
                    if m.starts_with("missing field") {
                        "BINDER_MISSING_FIELD"
                    } else if m.starts_with("unknown field") {
                        "BINDER_UNKNOWN_FIELD"
                    } else {
                        "BINDER_SCHEMA_VIOLATION"
                    }
                }
            };
            return rejected(
                Rejection {
                    code,
                    message: format!(
                        "{e}; see docs/schemas/envelope.schema.json for the envelope format"
                    ),
                },
                &raw,
            );
        }
    };
    match envelope::bind(env, mode, &mut |g, e| memo.get(g, e)) {
        Ok(b) => {
            let ids = keys.ids(&b);
            Outcome::Bound(Box::new(b), line, ids)
        }
        Err(r) => rejected(r, &raw),
    }
}

/// The (failure_reason_code, policy_reason_code) parts of the derived key of a supporting
/// envelope: `fail` keeps its failure code; `error` (lenient only) uses its code or
/// `wrapper_error`; `deny` keeps its failure code or '' and its policy code or
/// `unspecified` (lenient only), so denial capsules never mix with failure capsules.
pub fn capsule_codes<'a>(
    signal: Signal,
    failure: Option<&'a str>,
    policy: Option<&'a str>,
) -> (&'a str, &'a str) {
    match signal {
        Signal::Deny => (failure.unwrap_or_default(), policy.unwrap_or("unspecified")),
        Signal::Error => (failure.unwrap_or("wrapper_error"), ""),
        Signal::Fail | Signal::Pass => (failure.unwrap_or_default(), ""),
    }
}

/// The hashes of a binding's condition and capsule keys, computed on the parser thread so
/// the writer's per-window aggregation only probes and compares.
#[derive(Clone, Copy)]
struct KeyHashes {
    condition: u64,
    capsule: u64,
}

impl KeyHashes {
    fn of(b: &Binding) -> Self {
        let mut h = Fx::default();
        for part in [
            &b.scope,
            &b.target_kind,
            &b.target_id,
            &b.action_kind,
            &b.fingerprint_hash,
        ] {
            h.write(part.as_bytes());
            h.write_u8(0xff);
        }
        h.write_u64(b.binder_version as u64);
        let condition = h.finish();
        let (f, p) = capsule_codes(
            b.signal,
            b.failure_reason_code.as_deref(),
            b.policy_reason_code.as_deref(),
        );
        h.write(f.as_bytes());
        h.write_u8(0xff);
        h.write(p.as_bytes());
        KeyHashes {
            condition,
            capsule: h.finish(),
        }
    }
}

#[derive(PartialEq, Eq, Clone)]
struct ConditionKey {
    scope: String,
    target_kind: String,
    target_id: String,
    action_kind: String,
    fingerprint_hash: String,
    binder_version: i64,
}

#[derive(PartialEq, Eq, Clone)]
struct CapsuleKey {
    cond: ConditionKey,
    failure_reason_code: String,
    policy_reason_code: String,
}

/// FxHash (rustc's hasher): the keys are ours, not attacker-chosen per process, and SipHash
/// dominated the per-line cost.
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl Fx {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// `sha256` of the canonical JSON of the derived upsert key.
#[allow(clippy::too_many_arguments)]
pub fn upsert_key(
    scope: &str,
    target_kind: &str,
    target_id: &str,
    action_kind: &str,
    failure_reason_code: &str,
    fingerprint_hash: &str,
    binder_version: i64,
    policy_reason_code: &str,
) -> String {
    crate::canon::digest(&json!([
        scope,
        target_kind,
        target_id,
        action_kind,
        failure_reason_code,
        fingerprint_hash,
        binder_version,
        policy_reason_code
    ]))
    .expect("strings canonicalize")
}

/// `sha256` of the canonical JSON of the condition key.
pub fn condition_key(
    scope: &str,
    target_kind: &str,
    target_id: &str,
    action_kind: &str,
    fingerprint_hash: &str,
    binder_version: i64,
) -> String {
    crate::canon::digest(&json!([
        scope,
        target_kind,
        target_id,
        action_kind,
        fingerprint_hash,
        binder_version
    ]))
    .expect("strings canonicalize")
}

struct CapsuleDelta {
    support: i64,
    inferred: i64,
    first: String,
    last: String,
}

#[derive(Default)]
struct ConditionDelta {
    pass: i64,
    deny: i64,
    first_pass: Option<String>,
    last_pass: Option<String>,
}

impl ConditionDelta {
    fn saw_pass(&mut self, at: &str) {
        self.pass += 1;
        match &mut self.first_pass {
            Some(f) if f.as_str() <= at => {}
            slot => *slot = Some(at.to_string()),
        }
        match &mut self.last_pass {
            Some(l) if l.as_str() >= at => {}
            slot => *slot = Some(at.to_string()),
        }
    }
}

fn same_condition(k: &ConditionKey, b: &Binding) -> bool {
    k.binder_version == b.binder_version
        && k.target_id == b.target_id
        && k.fingerprint_hash == b.fingerprint_hash
        && k.scope == b.scope
        && k.target_kind == b.target_kind
        && k.action_kind == b.action_kind
}

fn condition_of(b: &Binding) -> ConditionKey {
    ConditionKey {
        scope: b.scope.clone(),
        target_kind: b.target_kind.clone(),
        target_id: b.target_id.clone(),
        action_kind: b.action_kind.clone(),
        fingerprint_hash: b.fingerprint_hash.clone(),
        binder_version: b.binder_version,
    }
}

/// Which capsule and condition a bound line counts towards: ids into its window's keys.
#[derive(Clone, Copy)]
struct KeyIds {
    capsule: Option<u32>,
    condition: Option<u32>,
}

/// The parser's side of the key ids: each distinct capsule and condition key gets an id in
/// order of first sight. Every key travels to the writer once, with the batch that first
/// uses it; the writer then aggregates by id and remembers each key's row, without hashing
/// or comparing keys. The numbering starts afresh (at a window boundary) once it holds
/// [`Interner::LIMIT`] keys, which bounds memory on both sides.
#[derive(Default)]
struct Interner {
    capsules: hashbrown::HashTable<(u64, u32)>,
    capsule_keys: Vec<CapsuleKey>,
    conditions: hashbrown::HashTable<(u64, u32)>,
    condition_keys: Vec<ConditionKey>,
    sent_capsules: usize,
    sent_conditions: usize,
}

impl Interner {
    const LIMIT: usize = 200_000;

    fn full(&self) -> bool {
        self.capsule_keys.len() + self.condition_keys.len() >= Self::LIMIT
    }

    fn condition_id(&mut self, h: u64, b: &Binding) -> u32 {
        let keys = &mut self.condition_keys;
        let entry = self.conditions.entry(
            h,
            |(eh, id)| *eh == h && same_condition(&keys[*id as usize], b),
            |e| e.0,
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(o) => o.get().1,
            hashbrown::hash_table::Entry::Vacant(v) => {
                let id = keys.len() as u32;
                keys.push(condition_of(b));
                v.insert((h, id));
                id
            }
        }
    }

    fn ids(&mut self, b: &Binding) -> KeyIds {
        let counts_condition =
            b.derivation == Derivation::Contradiction || b.signal == Signal::Deny;
        let supports = matches!(b.derivation, Derivation::Support { .. });
        if !counts_condition && !supports {
            return KeyIds {
                capsule: None,
                condition: None,
            };
        }
        let hashes = KeyHashes::of(b);
        let condition = counts_condition.then(|| self.condition_id(hashes.condition, b));
        let capsule = supports.then(|| {
            let (failure, policy) = capsule_codes(
                b.signal,
                b.failure_reason_code.as_deref(),
                b.policy_reason_code.as_deref(),
            );
            let (h, keys) = (hashes.capsule, &mut self.capsule_keys);
            let entry = self.capsules.entry(
                h,
                |(eh, id)| {
                    let k = &keys[*id as usize];
                    *eh == h
                        && k.failure_reason_code == failure
                        && k.policy_reason_code == policy
                        && same_condition(&k.cond, b)
                },
                |e| e.0,
            );
            match entry {
                hashbrown::hash_table::Entry::Occupied(o) => o.get().1,
                hashbrown::hash_table::Entry::Vacant(v) => {
                    let id = keys.len() as u32;
                    keys.push(CapsuleKey {
                        cond: condition_of(b),
                        failure_reason_code: failure.to_string(),
                        policy_reason_code: policy.to_string(),
                    });
                    v.insert((h, id));
                    id
                }
            }
        });
        KeyIds { capsule, condition }
    }

    /// The keys first seen since the last call, for the writer.
    fn new_keys(&mut self) -> (Vec<CapsuleKey>, Vec<ConditionKey>) {
        let out = (
            self.capsule_keys[self.sent_capsules..].to_vec(),
            self.condition_keys[self.sent_conditions..].to_vec(),
        );
        self.sent_capsules = self.capsule_keys.len();
        self.sent_conditions = self.condition_keys.len();
        out
    }
}

/// A batch handed from the parser to the writer.
struct Handoff {
    outcomes: Vec<Outcome>,
    /// Lines read so far (this batch included).
    lines: u64,
    /// The parser numbers keys afresh from this batch on (always at a window's start).
    fresh_ids: bool,
    /// Keys first used in this batch; their ids continue the numbering.
    capsule_keys: Vec<CapsuleKey>,
    condition_keys: Vec<ConditionKey>,
    /// The last batch of its window: the writer commits after it.
    ends_window: bool,
}

struct CapsuleSlot {
    key: CapsuleKey,
    /// Its `binder_capsules.id` once known (valid for this run: a failed window ends it).
    row: Option<i64>,
    /// Changes of the current window (`None`: untouched so far).
    delta: Option<CapsuleDelta>,
}

struct ConditionSlot {
    key: ConditionKey,
    row: Option<i64>,
    delta: Option<ConditionDelta>,
}

/// The writer's side of the key ids: every key by id with its row once known, and the
/// changes of the current window (one transaction) for the keys it touched.
#[derive(Default)]
struct WriterKeys {
    capsules: Vec<CapsuleSlot>,
    conditions: Vec<ConditionSlot>,
    touched_capsules: Vec<u32>,
    touched_conditions: Vec<u32>,
}

impl WriterKeys {
    fn learn(&mut self, capsules: Vec<CapsuleKey>, conditions: Vec<ConditionKey>) {
        self.capsules
            .extend(capsules.into_iter().map(|key| CapsuleSlot {
                key,
                row: None,
                delta: None,
            }));
        self.conditions
            .extend(conditions.into_iter().map(|key| ConditionSlot {
                key,
                row: None,
                delta: None,
            }));
    }

    /// Adds a newly stored binding's derivation to the current window.
    fn add(&mut self, b: &Binding, ids: KeyIds) {
        if let Some(id) = ids.condition {
            let slot = &mut self.conditions[id as usize];
            if slot.delta.is_none() {
                self.touched_conditions.push(id);
            }
            let d = slot.delta.get_or_insert_default();
            if b.derivation == Derivation::Contradiction {
                d.saw_pass(&b.observed_at);
            } else {
                d.deny += 1;
            }
        }
        if let (Some(id), Derivation::Support { inferred }) = (ids.capsule, b.derivation) {
            let at = b.observed_at.as_str();
            let slot = &mut self.capsules[id as usize];
            match &mut slot.delta {
                Some(d) => {
                    d.support += 1;
                    d.inferred += i64::from(inferred);
                    if at < d.first.as_str() {
                        d.first.clear();
                        d.first.push_str(at);
                    } else if at > d.last.as_str() {
                        d.last.clear();
                        d.last.push_str(at);
                    }
                }
                none => {
                    self.touched_capsules.push(id);
                    *none = Some(CapsuleDelta {
                        support: 1,
                        inferred: i64::from(inferred),
                        first: at.to_string(),
                        last: at.to_string(),
                    })
                }
            }
        }
    }
}

#[derive(Default)]
struct Counts {
    lines: u64,
    blank: u64,
    accepted: u64,
    duplicates: u64,
    quarantined: u64,
    already_quarantined: u64,
    capsules_touched: u64,
}

const INSERT_BINDING: &str = "INSERT INTO binder_bindings (run_id, task_id, group_id, binder_version, event_id, sequence, signal, wrapper_policy, effective_mode, scope, target_kind, target_id, action_kind, failure_reason_code, policy_reason_code, fingerprint_hash, gates, env, evidence_refs, observed_at, anomalies, derivation) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22) ON CONFLICT DO NOTHING";

const SELECT_BINDING: &str = "SELECT event_id, sequence, signal, wrapper_policy, effective_mode, scope, target_kind, target_id, action_kind, failure_reason_code, policy_reason_code, fingerprint_hash, gates, env, evidence_refs, observed_at, anomalies, derivation FROM binder_bindings WHERE run_id = ?1 AND task_id = ?2 AND group_id = ?3 AND binder_version = ?4";

const INSERT_QUARANTINE: &str = "INSERT INTO binder_quarantine (line_digest, source, line, code, message, excerpt, byte_len, quarantined_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING";

/// Does the stored binding with `b`'s idempotency key hold exactly `b`'s values?
fn same_as_stored(tx: &Connection, b: &Binding) -> Result<bool, rusqlite::Error> {
    let mut st = tx.prepare_cached(SELECT_BINDING)?;
    let stored: Option<Vec<rusqlite::types::Value>> = st
        .query_row(
            params![b.run_id, b.task_id, b.group_id, b.binder_version],
            |r| (0..18).map(|i| r.get(i)).collect(),
        )
        .optional()?;
    let Some(stored) = stored else {
        return Ok(false);
    };
    use rusqlite::types::Value as V;
    let t = |s: &str| V::Text(s.to_string());
    let o = |s: &Option<String>| s.as_ref().map_or(V::Null, |s| V::Text(s.clone()));
    let mine = vec![
        t(&b.event_id),
        V::Integer(b.sequence),
        t(b.signal.as_str()),
        t(envelope::mode_str(b.wrapper_policy)),
        t(envelope::mode_str(b.effective_mode)),
        t(&b.scope),
        t(&b.target_kind),
        t(&b.target_id),
        t(&b.action_kind),
        o(&b.failure_reason_code),
        o(&b.policy_reason_code),
        t(&b.fingerprint_hash),
        t(&b.gates_json),
        t(&b.env_json),
        t(&b.evidence_json),
        t(&b.observed_at),
        t(&b.anomalies_json),
        t(b.derivation.as_str()),
    ];
    Ok(stored == mine)
}

#[allow(clippy::too_many_arguments)]
fn quarantine(
    tx: &Transaction<'_>,
    opts: &IngestOptions,
    counts: &mut Counts,
    digest: &str,
    line: u64,
    code: &str,
    message: &str,
    excerpt: &str,
    byte_len: u64,
) -> Result<(), rusqlite::Error> {
    let mut st = tx.prepare_cached(INSERT_QUARANTINE)?;
    let n = st.execute(params![
        digest,
        opts.source,
        line as i64,
        code,
        message,
        excerpt,
        byte_len as i64,
        opts.now
    ])?;
    if n == 1 {
        counts.quarantined += 1;
    } else {
        counts.duplicates += 1;
        counts.already_quarantined += 1;
    }
    Ok(())
}

/// What the writer hands to the helper thread: a written batch's bindings, to free there
/// (freeing a batch's strings one by one was ~10 % of the writer thread), or word that a
/// window committed, so the WAL can be checkpointed.
/// A batch's bindings in the boxes the parser made them in (moved, never copied).
type StoredBatch = Vec<Box<Binding>>;

enum Done {
    Batch(StoredBatch),
    WindowCommitted,
}

/// Stores one batch's bindings and quarantined lines; the derivations of the new bindings
/// are added to `window`, which [`write_window`] applies before the window commits.
fn insert_batch(
    tx: &Transaction<'_>,
    opts: &IngestOptions,
    outcomes: &mut Vec<Outcome>,
    counts: &mut Counts,
    window: &mut WriterKeys,
) -> Result<StoredBatch, rusqlite::Error> {
    let mut spent = Vec::with_capacity(outcomes.len());
    {
        let mut ins = tx.prepare_cached(INSERT_BINDING)?;
        for o in outcomes.drain(..) {
            match o {
                Outcome::Blank => counts.blank += 1,
                Outcome::Bound(b, line, ids) => {
                    let n = ins.execute(params![
                        b.run_id,
                        b.task_id,
                        b.group_id,
                        b.binder_version,
                        b.event_id,
                        b.sequence,
                        b.signal.as_str(),
                        envelope::mode_str(b.wrapper_policy),
                        envelope::mode_str(b.effective_mode),
                        b.scope,
                        b.target_kind,
                        b.target_id,
                        b.action_kind,
                        b.failure_reason_code,
                        b.policy_reason_code,
                        b.fingerprint_hash,
                        b.gates_json,
                        b.env_json,
                        b.evidence_json,
                        b.observed_at,
                        b.anomalies_json,
                        b.derivation.as_str(),
                    ])?;
                    if n == 1 {
                        counts.accepted += 1;
                        window.add(&b, ids);
                    } else if same_as_stored(tx, &b)? {
                        counts.duplicates += 1;
                    } else {
                        // Same idempotency key, different facts: never overwrite.
                        let text = serde_json::to_string(&json!({
                            "run_id": b.run_id, "task_id": b.task_id, "group_id": b.group_id,
                            "event_id": b.event_id, "sequence": b.sequence,
                        }))
                        .expect("json");
                        let digest = crate::canon::sha256_bytes(
                            format!("conflict:{}:{}", text, b.observed_at).as_bytes(),
                        );
                        quarantine(
                            tx,
                            opts,
                            counts,
                            &digest,
                            line,
                            "BINDER_IDEMPOTENCY_CONFLICT",
                            &format!(
                                "an envelope with idempotency key (run_id {}, task_id {}, group_id {}, binder_version {}) is already stored with different content; a replay must repeat the same facts",
                                b.run_id, b.task_id, b.group_id, b.binder_version
                            ),
                            &text,
                            text.len() as u64,
                        )?;
                    }
                    spent.push(b);
                }
                Outcome::Rejected {
                    line,
                    rejection,
                    digest,
                    excerpt,
                    byte_len,
                } => quarantine(
                    tx,
                    opts,
                    counts,
                    &digest,
                    line,
                    rejection.code,
                    &rejection.message,
                    &excerpt,
                    byte_len,
                )?,
            }
        }
    }
    Ok(spent)
}

/// Applies a window's aggregated capsule and condition changes; a key's row is looked up
/// (or created) the first time it is touched in the run, then updated by row id.
fn write_window(
    tx: &Transaction<'_>,
    keys: &mut WriterKeys,
    counts: &mut Counts,
) -> Result<(), rusqlite::Error> {
    // Capsules: the immutable part once, the counters in a narrow row of their own, so a
    // window that updates thousands of capsules rewrites few pages (and little WAL).
    let mut find_c = tx.prepare_cached("SELECT id FROM binder_capsules WHERE upsert_key = ?1")?;
    let mut ins_c = tx.prepare_cached(
        "INSERT INTO binder_capsules (upsert_key, condition_key, kind, scope, target_kind, target_id, action_kind, failure_reason_code, policy_reason_code, fingerprint_hash, binder_version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    let mut ins_s = tx.prepare_cached(
        "INSERT INTO binder_capsule_stats (capsule_id, support_count, inferred_count, first_seen_ts, last_seen_ts)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut upd_s = tx.prepare_cached(
        "UPDATE binder_capsule_stats SET support_count = support_count + ?2,
           inferred_count = inferred_count + ?3,
           first_seen_ts = min(first_seen_ts, ?4), last_seen_ts = max(last_seen_ts, ?5)
         WHERE capsule_id = ?1",
    )?;
    for id in keys.touched_capsules.drain(..) {
        let slot = &mut keys.capsules[id as usize];
        let d = slot.delta.take().expect("a touched capsule has changes");
        counts.capsules_touched += 1;
        let k = &slot.key;
        let c = &k.cond;
        let digest = || {
            upsert_key(
                &c.scope,
                &c.target_kind,
                &c.target_id,
                &c.action_kind,
                &k.failure_reason_code,
                &c.fingerprint_hash,
                c.binder_version,
                &k.policy_reason_code,
            )
        };
        let row = match slot.row {
            Some(row) => Some(row),
            None => find_c
                .query_row(params![digest()], |r| r.get::<_, i64>(0))
                .optional()?,
        };
        if let Some(row) = row {
            upd_s.execute(params![row, d.support, d.inferred, d.first, d.last])?;
            slot.row = Some(row);
            continue;
        }
        let kind = if k.policy_reason_code.is_empty() {
            "failure"
        } else {
            "denial"
        };
        ins_c.execute(params![
            digest(),
            condition_key(
                &c.scope,
                &c.target_kind,
                &c.target_id,
                &c.action_kind,
                &c.fingerprint_hash,
                c.binder_version
            ),
            kind,
            c.scope,
            c.target_kind,
            c.target_id,
            c.action_kind,
            k.failure_reason_code,
            k.policy_reason_code,
            c.fingerprint_hash,
            c.binder_version,
        ])?;
        let row = tx.last_insert_rowid();
        ins_s.execute(params![row, d.support, d.inferred, d.first, d.last])?;
        slot.row = Some(row);
    }
    const MERGE_PASS_TS: &str = "
           first_pass_ts = CASE WHEN first_pass_ts IS NULL THEN ?4
                                WHEN ?4 IS NULL THEN first_pass_ts
                                ELSE min(first_pass_ts, ?4) END,
           last_pass_ts = CASE WHEN last_pass_ts IS NULL THEN ?5
                               WHEN ?5 IS NULL THEN last_pass_ts
                               ELSE max(last_pass_ts, ?5) END";
    let mut upsert_d = tx.prepare_cached(&format!(
        "INSERT INTO binder_conditions (condition_key, pass_count, deny_count, first_pass_ts, last_pass_ts)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (condition_key) DO UPDATE SET
           pass_count = pass_count + ?2, deny_count = deny_count + ?3, {MERGE_PASS_TS}
         RETURNING rowid"
    ))?;
    let mut upd_d = tx.prepare_cached(&format!(
        "UPDATE binder_conditions SET
           pass_count = pass_count + ?2, deny_count = deny_count + ?3, {MERGE_PASS_TS}
         WHERE rowid = ?1"
    ))?;
    for id in keys.touched_conditions.drain(..) {
        let slot = &mut keys.conditions[id as usize];
        let d = slot.delta.take().expect("a touched condition has changes");
        if let Some(row) = slot.row {
            upd_d.execute(params![row, d.pass, d.deny, d.first_pass, d.last_pass])?;
            continue;
        }
        let k = &slot.key;
        let ck = condition_key(
            &k.scope,
            &k.target_kind,
            &k.target_id,
            &k.action_kind,
            &k.fingerprint_hash,
            k.binder_version,
        );
        let row: i64 = upsert_d.query_row(
            params![ck, d.pass, d.deny, d.first_pass, d.last_pass],
            |r| r.get(0),
        )?;
        slot.row = Some(row);
    }
    Ok(())
}

/// Ingests JSON Lines of envelopes from `reader`. See the module docs for the transactions.
#[tracing::instrument(name = "binder.ingest", skip_all, fields(source = %opts.source))]
pub fn ingest_reader<R: Read + Send>(
    store: &mut Store,
    reader: R,
    opts: &IngestOptions,
) -> Result<IngestReport, BinderError> {
    let mode = envelope::mode_str(opts.fallback_mode);
    let run: i64 = store.write(|tx| -> Result<i64, BinderError> {
        tx.execute(
            "INSERT INTO binder_ingest_runs (source, fallback_mode, status, started_at) VALUES (?1, ?2, 'running', ?3)",
            params![opts.source, mode, opts.now],
        )?;
        let run = tx.last_insert_rowid();
        audit::append(
            tx,
            NewEvent {
                actor: &opts.actor,
                kind: "binder.ingest_started",
                subject: &format!("binder-ingest:{run}"),
                payload: json!({"run": run, "source": opts.source, "fallback_mode": mode,
                                "binder_version": envelope::BINDER_VERSION}),
            },
            &opts.now,
        )?;
        Ok(run)
    })?;

    // A bigger page cache for this connection: capsule upserts hit a working set larger
    // than SQLite's 2 MB default.
    store.conn().pragma_update(None, "cache_size", -65_536)?;
    store.conn().pragma_update(None, "temp_store", "MEMORY")?;
    // Two stages on two threads: a parser (read, validate, normalize, fingerprint, key ids)
    // hands batches over a bounded channel to this thread, which writes them a window per
    // transaction. Memory stays bounded: at most two batches wait in the channel. A third
    // thread frees written batches and checkpoints the WAL after each window.
    let mut counts = Counts::default();
    let mut keys = WriterKeys::default();
    let (to_writer, batches) = std::sync::mpsc::sync_channel::<Handoff>(2);
    let batch_lines = opts.batch_lines.max(1);
    let window_lines = opts.window_lines.max(batch_lines);
    let (max_line_bytes, mode_in) = (opts.max_line_bytes, opts.fallback_mode);
    let checkpointer = store.checkpointer()?;
    let outcome = std::thread::scope(|scope| -> Result<String, BinderError> {
        // The CHECK constraints of the binder's tables guard other writers; every value this
        // ingest puts in a checked column is a closed Rust enum (signal, modes, derivation),
        // a string literal (capsule kind), a line number counted from 1 or a sum of positive
        // counts, so checking them again per row (~15 % of the writer's time) proves nothing.
        // `PRAGMA integrity_check` re-verifies them (tested). Both pragmas are restored below,
        // whatever the outcome.
        store
            .conn()
            .pragma_update(None, "ignore_check_constraints", true)?;
        let parser = scope.spawn(move || -> std::io::Result<String> {
            let _span = tracing::debug_span!("binder.parse").entered();
            let mut lines = LineReader {
                inner: std::io::BufReader::with_capacity(256 * 1024, reader),
                cap: max_line_bytes,
                file_hash: Sha256::new(),
            };
            let mut memo = GatesEnvMemo::default();
            let mut keys = Interner::default();
            let mut fresh_ids = true;
            let batches_per_window = window_lines.div_ceil(batch_lines);
            let mut batches_in_window = 0;
            let mut buf = Vec::with_capacity(4096);
            let mut n: u64 = 0;
            let mut outcomes = Vec::with_capacity(batch_lines);
            while let Some(raw) = lines.next_line(&mut buf)? {
                n += 1;
                outcomes.push(classify(raw, n, mode_in, &mut memo, &mut keys));
                if outcomes.len() >= batch_lines {
                    batches_in_window += 1;
                    let ends_window = batches_in_window == batches_per_window;
                    let (capsule_keys, condition_keys) = keys.new_keys();
                    let handoff = Handoff {
                        outcomes: std::mem::replace(&mut outcomes, Vec::with_capacity(batch_lines)),
                        lines: n,
                        fresh_ids: std::mem::take(&mut fresh_ids),
                        capsule_keys,
                        condition_keys,
                        ends_window,
                    };
                    if to_writer.send(handoff).is_err() {
                        // the writer stopped (its error is reported); stop reading
                        return Ok(String::new());
                    }
                    if ends_window {
                        batches_in_window = 0;
                        if keys.full() {
                            keys = Interner::default();
                            fresh_ids = true;
                        }
                    }
                }
            }
            if !outcomes.is_empty() {
                let (capsule_keys, condition_keys) = keys.new_keys();
                let _ = to_writer.send(Handoff {
                    outcomes,
                    lines: n,
                    fresh_ids,
                    capsule_keys,
                    condition_keys,
                    ends_window: true,
                });
            }
            Ok(format!(
                "sha256:{}",
                hex::encode(lines.file_hash.finalize())
            ))
        });
        // Frees what each written batch leaves behind, so the writer does not, and after
        // each committed window checkpoints the WAL beside the writer.
        let (to_dropper, done) = std::sync::mpsc::channel::<Done>();
        let dropper = scope.spawn(move || {
            for d in done.iter() {
                match d {
                    Done::Batch(bindings) => drop(bindings),
                    Done::WindowCommitted => {
                        if let Err(e) = checkpointer.checkpoint() {
                            tracing::warn!(error = %e, "WAL checkpoint beside the ingest failed; SQLite checkpoints later");
                        }
                    }
                }
            }
        });
        let mut write_err = None;
        let mut incoming = batches.iter().peekable();
        while incoming.peek().is_some() {
            let _span = tracing::debug_span!("binder.window").entered();
            let r = store.write(|tx| -> Result<(), BinderError> {
                // until the parser marks the window's last batch (or the input ends)
                for mut handoff in incoming.by_ref() {
                    let _span =
                        tracing::debug_span!("binder.batch", lines = handoff.outcomes.len())
                            .entered();
                    counts.lines = handoff.lines;
                    if handoff.fresh_ids {
                        keys = WriterKeys::default();
                    }
                    keys.learn(handoff.capsule_keys, handoff.condition_keys);
                    let spent =
                        insert_batch(tx, opts, &mut handoff.outcomes, &mut counts, &mut keys)?;
                    let _ = to_dropper.send(Done::Batch(spent));
                    if handoff.ends_window {
                        break;
                    }
                }
                write_window(tx, &mut keys, &mut counts)?;
                tx.execute(
                    "UPDATE binder_ingest_runs SET lines = ?2, accepted = ?3, duplicates = ?4, quarantined = ?5 WHERE id = ?1",
                    params![run, counts.lines as i64, counts.accepted as i64, counts.duplicates as i64, counts.quarantined as i64],
                )?;
                Ok(())
            });
            match r {
                Ok(()) => {
                    let _ = to_dropper.send(Done::WindowCommitted);
                }
                Err(e) => {
                    write_err = Some(e);
                    break;
                }
            }
        }
        drop(incoming);
        drop(batches);
        drop(to_dropper);
        let _ = dropper.join();
        let parsed = parser.join().map_err(|_| BinderError::Read {
            source_name: opts.source.clone(),
            why: "the parser thread panicked".into(),
        })?;
        if let Some(e) = write_err {
            return Err(e);
        }
        parsed.map_err(|e| BinderError::Read {
            source_name: opts.source.clone(),
            why: e.to_string(),
        })
    });
    let checks_back = store
        .conn()
        .pragma_update(None, "ignore_check_constraints", false);
    let checkpoints_back = store.resume_auto_checkpoint();
    let source_digest = outcome?;
    checks_back?;
    checkpoints_back?;
    let report = IngestReport {
        run,
        source: opts.source.clone(),
        source_digest,
        fallback_mode: mode.to_string(),
        lines: counts.lines,
        blank: counts.blank,
        accepted: counts.accepted,
        duplicates: counts.duplicates,
        quarantined: counts.quarantined,
        already_quarantined: counts.already_quarantined,
        capsules_touched: counts.capsules_touched,
        binder_version: envelope::BINDER_VERSION,
        anomaly_triggers: envelope::ANOMALY_TRIGGERS_VERSION.to_string(),
    };
    store.write(|tx| -> Result<(), BinderError> {
        tx.execute(
            "UPDATE binder_ingest_runs SET status = 'complete', source_digest = ?2, finished_at = ?3 WHERE id = ?1",
            params![run, report.source_digest, opts.now],
        )?;
        audit::append(
            tx,
            NewEvent {
                actor: &opts.actor,
                kind: "binder.ingest",
                subject: &report.source_digest,
                payload: serde_json::to_value(&report).expect("report serializes"),
            },
            &opts.now,
        )?;
        Ok(())
    })?;
    tracing::info!(
        lines = report.lines,
        accepted = report.accepted,
        duplicates = report.duplicates,
        quarantined = report.quarantined,
        "binder ingest done"
    );
    Ok(report)
}

#[cfg(test)]
mod memo_tests {
    use super::*;

    fn gate(name: &str, version: &str, status: &str) -> Gate {
        serde_json::from_value(json!({"name": name, "version": version, "status": status})).unwrap()
    }

    fn env(v: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    /// The memo answers exactly what `gates_env` answers, for inputs that differ only in a
    /// value's type, a gate's status or order, or in whitespace that normalization removes.
    #[test]
    fn memo_answers_what_gates_env_answers() {
        let inputs = [
            (vec![gate("unit", "v1", "pass")], env(json!({"rust": 1}))),
            (vec![gate("unit", "v1", "pass")], env(json!({"rust": "1"}))),
            (vec![gate("unit", "v1", "fail")], env(json!({"rust": "1"}))),
            (vec![gate("unit", "v1", "pass")], env(json!({"rust": true}))),
            (vec![gate("unit", "v1", "pass")], env(json!({"rust": null}))),
            (vec![gate("unit", "v1", "pass")], env(json!({"rust": 1.5}))),
            (vec![gate("unit", "v1", "pass")], env(json!({"rust": -1}))),
            (
                vec![gate("lint", "2", "pass"), gate("unit", "v1", "pass")],
                env(json!({"os": "linux"})),
            ),
            (
                vec![gate("unit", "v1", "pass"), gate("lint", "2", "pass")],
                env(json!({"os": "linux"})),
            ),
            (
                vec![gate(" unit ", "v1", "pass")],
                env(json!({"OS": " linux "})),
            ),
        ];
        let mut memo = GatesEnvMemo::default();
        for round in 0..2 {
            for (g, e) in &inputs {
                assert_eq!(
                    memo.get(g, e).unwrap(),
                    envelope::gates_env(g, e).unwrap(),
                    "round {round}: {g:?} {e:?}"
                );
            }
        }
    }

    /// Invalid inputs are refused every time (never memoized), and nested environments are
    /// refused without being hashed.
    #[test]
    fn memo_never_keeps_a_refusal() {
        let mut memo = GatesEnvMemo::default();
        let dup = vec![gate("unit", "v1", "pass"), gate("unit", "v2", "pass")];
        for _ in 0..2 {
            let r = memo.get(&dup, &BTreeMap::new()).unwrap_err();
            assert_eq!(r.code, "BINDER_DUPLICATE_GATE");
        }
        let nested = env(json!({"os": {"name": "linux"}}));
        for _ in 0..2 {
            let r = memo.get(&[], &nested).unwrap_err();
            assert_eq!(r.code, "BINDER_ENV_NOT_FLAT");
        }
        assert_eq!(memo.map.len(), 0);
    }
}
