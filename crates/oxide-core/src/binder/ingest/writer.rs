//! The window writer: stores a batch's bindings and quarantined lines, and applies a window's
//! aggregated capsule and condition changes before the window's transaction commits.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde_json::json;

use super::classify::Outcome;
use super::intern::{condition_key, upsert_key, CapsuleKey, ConditionKey, KeyIds};
use super::IngestOptions;
use crate::binder::envelope::{self, Binding, Derivation};

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
pub(super) struct WriterKeys {
    capsules: Vec<CapsuleSlot>,
    conditions: Vec<ConditionSlot>,
    touched_capsules: Vec<u32>,
    touched_conditions: Vec<u32>,
}

impl WriterKeys {
    pub(super) fn learn(&mut self, capsules: Vec<CapsuleKey>, conditions: Vec<ConditionKey>) {
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

/// The run's counts so far (see [`super::IngestReport`]).
#[derive(Default)]
pub(super) struct Counts {
    pub(super) lines: u64,
    pub(super) blank: u64,
    pub(super) accepted: u64,
    pub(super) duplicates: u64,
    pub(super) quarantined: u64,
    pub(super) already_quarantined: u64,
    pub(super) capsules_touched: u64,
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

/// A batch's bindings in the boxes the parser made them in (moved, never copied).
pub(super) type StoredBatch = Vec<Box<Binding>>;

/// Stores one batch's bindings and quarantined lines; the derivations of the new bindings
/// are added to `window`, which [`write_window`] applies before the window commits.
pub(super) fn insert_batch(
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
pub(super) fn write_window(
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
