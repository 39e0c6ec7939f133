//! Ingestion: a streaming line reader with a size cap, per-line validation outside the
//! database, then one `BEGIN IMMEDIATE` transaction per batch with cached prepared
//! statements. Capsule and condition changes are aggregated per batch and applied as
//! order-independent upserts (sums, min, max). One audit event opens the run and one closes
//! it with the counts and the file digest.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::io::{BufRead, Read};

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::envelope::{self, Binding, Derivation, Envelope, Rejection, Signal};
use super::BinderError;
use crate::audit::{self, NewEvent};
use crate::store::Store;
use crate::workspace::config::FallbackMode;

/// Longest accepted line in bytes; longer lines are quarantined without being buffered.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Lines per transaction.
pub const BATCH_LINES: usize = 20_000;

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
    Bound(Box<Binding>, u64),
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

struct RawLine {
    bytes: Vec<u8>,
    /// Set when the line was longer than the cap: (total length, sha256 of the whole line).
    too_long: Option<(u64, String)>,
}

impl<R: BufRead> LineReader<R> {
    fn next_line(&mut self, buf: &mut Vec<u8>) -> std::io::Result<Option<RawLine>> {
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
            bytes: buf.clone(),
            too_long,
        }))
    }
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

fn excerpt(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(400)])
        .chars()
        .take(200)
        .collect()
}

type CachedFingerprint = (Vec<(String, String)>, BTreeMap<String, String>, String);

/// Fingerprints are recomputed only for gate sets and environments not seen before.
#[derive(Default)]
struct FingerprintCache {
    map: HashMap<u64, Vec<CachedFingerprint>>,
}

impl FingerprintCache {
    fn get(&mut self, gates: &[(String, String)], env: &BTreeMap<String, String>) -> String {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        gates.hash(&mut h);
        env.hash(&mut h);
        let bucket = self.map.entry(h.finish()).or_default();
        if let Some((_, _, fp)) = bucket.iter().find(|(g, e, _)| g == gates && e == env) {
            return fp.clone();
        }
        let fp = envelope::fingerprint(gates, env);
        if self.map.len() < 100_000 {
            self.map
                .entry(h.finish())
                .or_default()
                .push((gates.to_vec(), env.clone(), fp.clone()));
        }
        fp
    }
}

/// Classifies one raw line.
fn classify(raw: RawLine, line: u64, mode: FallbackMode, fps: &mut FingerprintCache) -> Outcome {
    let rejected = |rejection: Rejection, raw: &RawLine| Outcome::Rejected {
        line,
        rejection,
        digest: crate::canon::sha256_bytes(&raw.bytes),
        excerpt: excerpt(&raw.bytes),
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
            excerpt: excerpt(&raw.bytes),
            byte_len: len,
        };
    }
    let text = match std::str::from_utf8(&raw.bytes) {
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
    match envelope::bind(env, mode, &mut |g, e| fps.get(g, e)) {
        Ok(b) => Outcome::Bound(Box::new(b), line),
        Err(r) => rejected(r, &raw),
    }
}

/// The (failure_reason_code, policy_reason_code) parts of the derived key of a supporting
/// envelope: `fail` keeps its failure code; `error` (lenient only) uses its code or
/// `wrapper_error`; `deny` keeps its failure code or '' and its policy code or
/// `unspecified` (lenient only), so denial capsules never mix with failure capsules.
pub fn capsule_codes(
    signal: Signal,
    failure: Option<&str>,
    policy: Option<&str>,
) -> (String, String) {
    match signal {
        Signal::Deny => (
            failure.unwrap_or_default().to_string(),
            policy.unwrap_or("unspecified").to_string(),
        ),
        Signal::Error => (
            failure.unwrap_or("wrapper_error").to_string(),
            String::new(),
        ),
        Signal::Fail | Signal::Pass => (failure.unwrap_or_default().to_string(), String::new()),
    }
}

#[derive(Hash, PartialEq, Eq, Clone)]
struct ConditionKey {
    scope: String,
    target_kind: String,
    target_id: String,
    action_kind: String,
    fingerprint_hash: String,
    binder_version: i64,
}

#[derive(Hash, PartialEq, Eq, Clone)]
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

type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fx>>;

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

/// The digests of derived keys, computed once per run instead of once per batch.
#[derive(Default)]
struct KeyCache {
    capsules: FastMap<CapsuleKey, (String, String)>,
    conditions: FastMap<ConditionKey, String>,
    /// Row ids of capsules known to exist (valid for this run: a failed batch ends the run).
    ids: FastMap<CapsuleKey, i64>,
}

impl KeyCache {
    const LIMIT: usize = 200_000;

    fn condition(&mut self, k: &ConditionKey) -> String {
        if let Some(ck) = self.conditions.get(k) {
            return ck.clone();
        }
        let ck = condition_key(
            &k.scope,
            &k.target_kind,
            &k.target_id,
            &k.action_kind,
            &k.fingerprint_hash,
            k.binder_version,
        );
        if self.conditions.len() >= Self::LIMIT {
            self.conditions.clear();
        }
        self.conditions.insert(k.clone(), ck.clone());
        ck
    }

    fn remember_id(&mut self, k: &CapsuleKey, id: i64) {
        if self.ids.len() >= Self::LIMIT {
            self.ids.clear();
        }
        if !self.ids.contains_key(k) {
            self.ids.insert(k.clone(), id);
        }
    }

    /// (upsert_key, condition_key)
    fn capsule(&mut self, k: &CapsuleKey) -> (String, String) {
        if let Some(v) = self.capsules.get(k) {
            return v.clone();
        }
        let ck = self.condition(&k.cond);
        let c = &k.cond;
        let uk = upsert_key(
            &c.scope,
            &c.target_kind,
            &c.target_id,
            &c.action_kind,
            &k.failure_reason_code,
            &c.fingerprint_hash,
            c.binder_version,
            &k.policy_reason_code,
        );
        if self.capsules.len() >= Self::LIMIT {
            self.capsules.clear();
        }
        self.capsules.insert(k.clone(), (uk.clone(), ck.clone()));
        (uk, ck)
    }
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

fn min_opt(a: Option<String>, b: &str) -> Option<String> {
    Some(match a {
        Some(a) if a.as_str() <= b => a,
        _ => b.to_string(),
    })
}

fn max_opt(a: Option<String>, b: &str) -> Option<String> {
    Some(match a {
        Some(a) if a.as_str() >= b => a,
        _ => b.to_string(),
    })
}

#[derive(Default)]
struct Batch {
    capsules: FastMap<CapsuleKey, CapsuleDelta>,
    conditions: FastMap<ConditionKey, ConditionDelta>,
}

impl Batch {
    /// Moves the key fields out of `b`; the rest of it is freed by the caller (off the
    /// writer thread).
    fn add(&mut self, b: &mut Binding) {
        let take = std::mem::take::<String>;
        let (scope, target_kind, target_id, action_kind, fingerprint_hash) = (
            take(&mut b.scope),
            take(&mut b.target_kind),
            take(&mut b.target_id),
            take(&mut b.action_kind),
            take(&mut b.fingerprint_hash),
        );
        let (binder_version, signal, derivation) = (b.binder_version, b.signal, b.derivation);
        let (failure_reason_code, policy_reason_code, observed_at) = (
            b.failure_reason_code.take(),
            b.policy_reason_code.take(),
            take(&mut b.observed_at),
        );
        let cond = ConditionKey {
            scope,
            target_kind,
            target_id,
            action_kind,
            fingerprint_hash,
            binder_version,
        };
        match derivation {
            Derivation::Contradiction => {
                let d = self.conditions.entry(cond).or_default();
                d.pass += 1;
                d.first_pass = min_opt(d.first_pass.take(), &observed_at);
                d.last_pass = max_opt(d.last_pass.take(), &observed_at);
            }
            Derivation::Support { inferred } => {
                if signal == Signal::Deny {
                    self.conditions.entry(cond.clone()).or_default().deny += 1;
                }
                let (failure, policy) = capsule_codes(
                    signal,
                    failure_reason_code.as_deref(),
                    policy_reason_code.as_deref(),
                );
                let key = CapsuleKey {
                    cond,
                    failure_reason_code: failure,
                    policy_reason_code: policy,
                };
                match self.capsules.entry(key) {
                    std::collections::hash_map::Entry::Occupied(mut o) => {
                        let d = o.get_mut();
                        d.support += 1;
                        d.inferred += i64::from(inferred);
                        if observed_at < d.first {
                            d.first = observed_at;
                        } else if observed_at > d.last {
                            d.last = observed_at;
                        }
                    }
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(CapsuleDelta {
                            support: 1,
                            inferred: i64::from(inferred),
                            first: observed_at.clone(),
                            last: observed_at,
                        });
                    }
                }
            }
            Derivation::None => {
                if signal == Signal::Deny {
                    self.conditions.entry(cond).or_default().deny += 1;
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

/// What a written batch leaves behind, freed on another thread: freeing a batch's
/// strings one by one was ~10 % of the writer thread.
type Spent = (Vec<Box<Binding>>, Batch);

fn write_batch(
    tx: &Transaction<'_>,
    opts: &IngestOptions,
    outcomes: &mut Vec<Outcome>,
    counts: &mut Counts,
    keys: &mut KeyCache,
) -> Result<Spent, rusqlite::Error> {
    let mut batch = Batch::default();
    let mut spent = Vec::with_capacity(outcomes.len());
    {
        let mut ins = tx.prepare_cached(INSERT_BINDING)?;
        for o in outcomes.drain(..) {
            match o {
                Outcome::Blank => counts.blank += 1,
                Outcome::Bound(mut b, line) => {
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
                        batch.add(&mut b);
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
    // Capsules: the immutable part once, the counters in a narrow row of their own, so a
    // batch that updates thousands of capsules rewrites few pages (and little WAL).
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
    for (k, d) in &batch.capsules {
        counts.capsules_touched += 1;
        let id = match keys.ids.get(k) {
            Some(id) => Some(*id),
            None => {
                let (uk, _) = keys.capsule(k);
                find_c
                    .query_row(params![uk], |r| r.get::<_, i64>(0))
                    .optional()?
            }
        };
        if let Some(id) = id {
            upd_s.execute(params![id, d.support, d.inferred, d.first, d.last])?;
            keys.remember_id(k, id);
            continue;
        }
        let (uk, ck) = keys.capsule(k);
        let kind = if k.policy_reason_code.is_empty() {
            "failure"
        } else {
            "denial"
        };
        ins_c.execute(params![
            uk,
            ck,
            kind,
            k.cond.scope,
            k.cond.target_kind,
            k.cond.target_id,
            k.cond.action_kind,
            k.failure_reason_code,
            k.policy_reason_code,
            k.cond.fingerprint_hash,
            k.cond.binder_version,
        ])?;
        let id = tx.last_insert_rowid();
        ins_s.execute(params![id, d.support, d.inferred, d.first, d.last])?;
        keys.remember_id(k, id);
    }
    let mut up_d = tx.prepare_cached(
        "INSERT INTO binder_conditions (condition_key, pass_count, deny_count, first_pass_ts, last_pass_ts)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (condition_key) DO UPDATE SET
           pass_count = pass_count + excluded.pass_count,
           deny_count = deny_count + excluded.deny_count,
           first_pass_ts = CASE WHEN first_pass_ts IS NULL THEN excluded.first_pass_ts
                                WHEN excluded.first_pass_ts IS NULL THEN first_pass_ts
                                ELSE min(first_pass_ts, excluded.first_pass_ts) END,
           last_pass_ts = CASE WHEN last_pass_ts IS NULL THEN excluded.last_pass_ts
                               WHEN excluded.last_pass_ts IS NULL THEN last_pass_ts
                               ELSE max(last_pass_ts, excluded.last_pass_ts) END",
    )?;
    for (k, d) in &batch.conditions {
        let ck = keys.condition(k);
        up_d.execute(params![ck, d.pass, d.deny, d.first_pass, d.last_pass])?;
    }
    Ok((spent, batch))
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
    // Two stages on two threads: a parser (read, validate, normalize, fingerprint) hands
    // batches over a bounded channel to this thread, which writes them. Memory stays bounded
    // by two batches in flight.
    let mut counts = Counts::default();
    let mut keys = KeyCache::default();
    let (to_writer, batches) = std::sync::mpsc::sync_channel::<(Vec<Outcome>, u64)>(1);
    let batch_lines = opts.batch_lines.max(1);
    let (max_line_bytes, mode_in) = (opts.max_line_bytes, opts.fallback_mode);
    let outcome = std::thread::scope(|scope| -> Result<String, BinderError> {
        let parser = scope.spawn(move || -> std::io::Result<String> {
            let _span = tracing::debug_span!("binder.parse").entered();
            let mut lines = LineReader {
                inner: std::io::BufReader::with_capacity(256 * 1024, reader),
                cap: max_line_bytes,
                file_hash: Sha256::new(),
            };
            let mut fps = FingerprintCache::default();
            let mut buf = Vec::with_capacity(4096);
            let mut n: u64 = 0;
            let mut outcomes = Vec::with_capacity(batch_lines);
            while let Some(raw) = lines.next_line(&mut buf)? {
                n += 1;
                outcomes.push(classify(raw, n, mode_in, &mut fps));
                if outcomes.len() >= batch_lines {
                    let full = std::mem::replace(&mut outcomes, Vec::with_capacity(batch_lines));
                    if to_writer.send((full, n)).is_err() {
                        // the writer stopped (its error is reported); stop reading
                        return Ok(String::new());
                    }
                }
            }
            if !outcomes.is_empty() {
                let _ = to_writer.send((outcomes, n));
            }
            Ok(format!(
                "sha256:{}",
                hex::encode(lines.file_hash.finalize())
            ))
        });
        // Frees what each written batch leaves behind, so the writer does not.
        let (to_dropper, spent_batches) = std::sync::mpsc::channel::<Spent>();
        let dropper = scope.spawn(move || spent_batches.iter().for_each(drop));
        let mut write_err = None;
        for (mut outcomes, lines_so_far) in batches.iter() {
            let _span = tracing::debug_span!("binder.batch", lines = outcomes.len()).entered();
            counts.lines = lines_so_far;
            let r = store.write(|tx| -> Result<Spent, BinderError> {
                let spent = write_batch(tx, opts, &mut outcomes, &mut counts, &mut keys)?;
                tx.execute(
                    "UPDATE binder_ingest_runs SET lines = ?2, accepted = ?3, duplicates = ?4, quarantined = ?5 WHERE id = ?1",
                    params![run, counts.lines as i64, counts.accepted as i64, counts.duplicates as i64, counts.quarantined as i64],
                )?;
                Ok(spent)
            });
            match r {
                Ok(spent) => {
                    let _ = to_dropper.send(spent);
                }
                Err(e) => {
                    write_err = Some(e);
                    break;
                }
            }
        }
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
    let source_digest = outcome?;
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
