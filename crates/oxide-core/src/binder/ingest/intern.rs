//! Keys: the capsule and condition keys a binding counts towards, their digests, and the
//! parser's interning of them into ids the writer aggregates by.

use std::hash::Hasher;

use serde_json::json;

use crate::binder::envelope::{Binding, Derivation, Signal};

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
pub(super) struct ConditionKey {
    pub(super) scope: String,
    pub(super) target_kind: String,
    pub(super) target_id: String,
    pub(super) action_kind: String,
    pub(super) fingerprint_hash: String,
    pub(super) binder_version: i64,
}

#[derive(PartialEq, Eq, Clone)]
pub(super) struct CapsuleKey {
    pub(super) cond: ConditionKey,
    pub(super) failure_reason_code: String,
    pub(super) policy_reason_code: String,
}

/// FxHash (rustc's hasher): the keys are ours, not attacker-chosen per process, and SipHash
/// dominated the per-line cost.
#[derive(Default, Clone, Copy)]
pub(super) struct Fx(u64);

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
pub(super) struct KeyIds {
    pub(super) capsule: Option<u32>,
    pub(super) condition: Option<u32>,
}

/// The parser's side of the key ids: each distinct capsule and condition key gets an id in
/// order of first sight. Every key travels to the writer once, with the batch that first
/// uses it; the writer then aggregates by id and remembers each key's row, without hashing
/// or comparing keys. The numbering starts afresh (at a window boundary) once it holds
/// [`Interner::LIMIT`] keys, which bounds memory on both sides.
#[derive(Default)]
pub(super) struct Interner {
    capsules: hashbrown::HashTable<(u64, u32)>,
    capsule_keys: Vec<CapsuleKey>,
    conditions: hashbrown::HashTable<(u64, u32)>,
    condition_keys: Vec<ConditionKey>,
    sent_capsules: usize,
    sent_conditions: usize,
}

impl Interner {
    const LIMIT: usize = 200_000;

    pub(super) fn full(&self) -> bool {
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

    pub(super) fn ids(&mut self, b: &Binding) -> KeyIds {
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
    pub(super) fn new_keys(&mut self) -> (Vec<CapsuleKey>, Vec<ConditionKey>) {
        let out = (
            self.capsule_keys[self.sent_capsules..].to_vec(),
            self.condition_keys[self.sent_conditions..].to_vec(),
        );
        self.sent_capsules = self.capsule_keys.len();
        self.sent_conditions = self.condition_keys.len();
        out
    }
}
