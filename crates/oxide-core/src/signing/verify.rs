//! Verifying one approval envelope — PURE: the envelope bytes against the facts of the
//! proposal now ([`Current`]), the committed trust registry, the time and the [`Ledger`]
//! (nonce uses, local revocations). No I/O, no clock, no database.
//!
//! Order: the envelope is opened; the key is looked up in the registry by the envelope's
//! `keyid` (a hint only — the signature is checked with the registry's key, and a key the
//! registry does not hold is `invalid`); the strict ed25519 signature over the DSSE PAE;
//! only then the payload is parsed. Then the statement: our predicate type, the subject
//! naming this proposal (another proposal's approval replayed here is `invalid`), the person
//! equal to the key's registered owner, a reason on a rejection, times that parse, a nonce
//! used once. The key: valid at `issued_at`, not revoked (by the registry or locally) →
//! `revoked`. Expiry → `expired`. Then every fact the approval bound compared with today's:
//! bundle digest, base commit, branch commit, result tree, policy digest, risk, validation
//! run and checks digest → `stale` when any moved. The status is the worst found:
//! `invalid` > `revoked` > `expired` > `stale` > `valid`; `problems` names each finding.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::dsse;
use super::registry::{Registry, Role, Standing};
use super::statement::{ApprovalPredicate, Decision, Statement, PREDICATE_TYPE, STATEMENT_TYPE};

/// How far in the future `issued_at` may lie (clock skew between desktops).
pub const MAX_CLOCK_SKEW_S: i64 = 300;

/// An approval's status. The derived order is the severity order (worst last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum ApprovalStatus {
    Valid,
    Stale,
    Expired,
    Revoked,
    Invalid,
}

impl ApprovalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Valid => "valid",
            ApprovalStatus::Stale => "stale",
            ApprovalStatus::Expired => "expired",
            ApprovalStatus::Revoked => "revoked",
            ApprovalStatus::Invalid => "invalid",
        }
    }
}

impl std::fmt::Display for ApprovalStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// The facts of a proposal now, gathered by the approval orchestrator. `None` for the
/// validation means there is no passed validation of the current branch commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Current {
    pub proposal_id: String,
    /// `sha256:<hex>`, recomputed from the stored bundle.
    pub bundle_digest: String,
    pub base_commit: String,
    pub branch_commit: String,
    pub result_tree: String,
    pub policy_digest: String,
    pub risk: String,
    pub validation_run: Option<String>,
    pub checks_digest: Option<String>,
}

/// What verification needs beyond one envelope: how many stored approvals use each nonce, and
/// keys revoked on this machine (`keys revoke`; keyid → RFC 3339 time) even before the
/// registry says so.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    pub nonce_uses: HashMap<String, u32>,
    pub local_revocations: HashMap<String, String>,
}

/// The outcome for one envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Checked {
    pub status: ApprovalStatus,
    pub problems: Vec<String>,
    /// The key id the envelope names (a hint; verified against the registry's key).
    pub keyid: String,
    /// The key's registered owner (the claimed person when the key is unknown).
    pub person: Option<String>,
    /// The owner's roles in the committed registry (empty when unknown).
    pub roles: Vec<Role>,
    pub decision: Option<Decision>,
    /// The proposal id the statement's subject names.
    pub subject: Option<String>,
    /// The subject's bundle digest, `sha256:<hex>`.
    pub subject_digest: Option<String>,
    pub predicate: Option<ApprovalPredicate>,
}

impl Checked {
    fn new(keyid: String) -> Checked {
        Checked {
            status: ApprovalStatus::Valid,
            problems: Vec::new(),
            keyid,
            person: None,
            roles: Vec::new(),
            decision: None,
            subject: None,
            subject_digest: None,
            predicate: None,
        }
    }

    fn find(&mut self, status: ApprovalStatus, problem: String) {
        self.status = self.status.max(status);
        self.problems.push(problem);
    }

    fn invalid(mut self, problem: String) -> Checked {
        self.find(ApprovalStatus::Invalid, problem);
        self
    }
}

fn ts(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Verifies one approval envelope. See the module documentation for every rule.
pub fn verify(
    envelope: &[u8],
    current: &Current,
    registry: &Registry,
    now: OffsetDateTime,
    ledger: &Ledger,
) -> Checked {
    let mut scratch = Vec::new();
    verify_with(envelope, current, registry, now, ledger, &mut scratch)
}

/// [`verify`] with a caller-owned buffer for the PAE bytes (for loops over many envelopes).
pub fn verify_with(
    envelope: &[u8],
    current: &Current,
    registry: &Registry,
    now: OffsetDateTime,
    ledger: &Ledger,
    scratch: &mut Vec<u8>,
) -> Checked {
    let opened = match dsse::open(envelope) {
        Ok(o) => o,
        Err(e) => return Checked::new(String::new()).invalid(e.to_string()),
    };
    let mut out = Checked::new(opened.keyid.clone());
    // The key: only the registry's. The keyid merely says which entry to try.
    let Some(key) = registry.lookup(&opened.keyid, now) else {
        return out.invalid(format!(
            "key {} is not in the committed trust registry (.oxide/approvers.toml)",
            opened.keyid
        ));
    };
    if !dsse::verify_strict(
        &key.verifying_key,
        &opened.payload,
        &opened.signature,
        scratch,
    ) {
        return out.invalid(format!(
            "the signature does not verify with the registered key {} of {}",
            opened.keyid, key.person
        ));
    }
    out.person = Some(key.person.to_string());
    out.roles = key.roles.to_vec();
    let st: Statement = match serde_json::from_slice(&opened.payload) {
        Ok(st) => st,
        Err(e) => {
            return out.invalid(format!(
                "the payload is not an in-toto statement with our approval predicate: {e}"
            ))
        }
    };
    let p = &st.predicate;
    out.decision = Some(p.decision);
    if st.type_ != STATEMENT_TYPE {
        out.find(
            ApprovalStatus::Invalid,
            format!("_type is '{}', expected '{STATEMENT_TYPE}'", st.type_),
        );
    }
    if st.predicate_type != PREDICATE_TYPE {
        out.find(
            ApprovalStatus::Invalid,
            format!(
                "predicateType is '{}', expected '{PREDICATE_TYPE}'",
                st.predicate_type
            ),
        );
    }
    match st.proposal_id() {
        Some(id) if id == current.proposal_id => {}
        Some(id) => out.find(
            ApprovalStatus::Invalid,
            format!(
                "the approval is for proposal {id}, not {} (replayed from another proposal)",
                current.proposal_id
            ),
        ),
        None => out.find(
            ApprovalStatus::Invalid,
            "the statement must have exactly one subject named oxide-proposal:<id>".into(),
        ),
    }
    if p.person != key.person {
        out.find(
            ApprovalStatus::Invalid,
            format!(
                "the approval claims person '{}' but key {} belongs to '{}' in the registry",
                p.person, opened.keyid, key.person
            ),
        );
    }
    if p.decision == Decision::Reject && p.reason.trim().is_empty() {
        out.find(
            ApprovalStatus::Invalid,
            "a rejection without a reason".into(),
        );
    }
    if ledger.nonce_uses.get(&p.nonce).copied().unwrap_or(0) > 1 {
        out.find(
            ApprovalStatus::Invalid,
            format!("nonce {} is used by more than one approval", p.nonce),
        );
    }
    let (issued, expires) = (ts(&p.issued_at), ts(&p.expires_at));
    match (issued, expires) {
        (Some(i), Some(e)) => {
            if e <= i {
                out.find(
                    ApprovalStatus::Invalid,
                    format!("expires_at {} is not after issued_at {}", p.expires_at, p.issued_at),
                );
            }
            if (i - now).whole_seconds() > MAX_CLOCK_SKEW_S {
                out.find(
                    ApprovalStatus::Invalid,
                    format!("issued_at {} lies in the future", p.issued_at),
                );
            }
            key_standing(&mut out, registry, &opened.keyid, i, now, ledger);
            if now >= e {
                out.find(
                    ApprovalStatus::Expired,
                    format!("the approval expired at {}", p.expires_at),
                );
            }
        }
        _ => out.find(
            ApprovalStatus::Invalid,
            format!(
                "issued_at '{}' / expires_at '{}' are not RFC 3339 times",
                p.issued_at, p.expires_at
            ),
        ),
    }
    stale_facts(&mut out, &st, current);
    out.subject = st.proposal_id().map(str::to_string);
    out.subject_digest = st
        .subject
        .first()
        .map(|s| format!("sha256:{}", s.digest.sha256));
    out.predicate = Some(st.predicate);
    out
}

/// The key at `issued_at` and now: revoked (registry or local) → `revoked`; not valid when
/// the approval was issued → `invalid`.
fn key_standing(
    out: &mut Checked,
    registry: &Registry,
    keyid: &str,
    issued: OffsetDateTime,
    now: OffsetDateTime,
    ledger: &Ledger,
) {
    if let Some(at) = ledger.local_revocations.get(keyid) {
        out.find(
            ApprovalStatus::Revoked,
            format!("key {keyid} was revoked on this machine at {at}"),
        );
    }
    if let Some(k) = registry.lookup(keyid, now) {
        if let Standing::Revoked { at } = &k.standing {
            out.find(
                ApprovalStatus::Revoked,
                format!("key {keyid} is revoked in the registry (since {at})"),
            );
            return;
        }
    }
    match registry.lookup(keyid, issued).map(|k| k.standing) {
        Some(Standing::Valid) => {}
        Some(Standing::Revoked { at }) => out.find(
            ApprovalStatus::Revoked,
            format!("key {keyid} was revoked in the registry (since {at})"),
        ),
        Some(Standing::NotYetValid) => out.find(
            ApprovalStatus::Invalid,
            format!("key {keyid} was not yet valid when the approval was issued"),
        ),
        Some(Standing::Expired) => out.find(
            ApprovalStatus::Invalid,
            format!("key {keyid} had expired when the approval was issued"),
        ),
        None => out.find(
            ApprovalStatus::Invalid,
            format!("key {keyid} is not in the registry"),
        ),
    }
}

/// Every bound fact against today's: a difference makes the approval `stale`.
fn stale_facts(out: &mut Checked, st: &Statement, c: &Current) {
    let p = &st.predicate;
    let subject_hex = st
        .subject
        .first()
        .map(|s| s.digest.sha256.as_str())
        .unwrap_or("");
    let current_hex = c
        .bundle_digest
        .strip_prefix("sha256:")
        .unwrap_or(&c.bundle_digest);
    let mut moved = |what: &str, then: &str, now: &str| {
        if then != now {
            out.find(
                ApprovalStatus::Stale,
                format!("{what} changed since the approval: approved {then}, now {now}"),
            );
        }
    };
    moved("the bundle digest", subject_hex, current_hex);
    moved("the base commit", &p.base_commit, &c.base_commit);
    moved("the branch commit", &p.branch_commit, &c.branch_commit);
    moved("the result tree", &p.result_tree, &c.result_tree);
    moved("the policy digest", &p.policy_digest, &c.policy_digest);
    moved("the risk", &p.risk, &c.risk);
    match (&c.validation_run, &c.checks_digest) {
        (Some(run), Some(checks)) => {
            moved("the validation run", &p.validation_run, run);
            moved("the checks digest", &p.checks_digest, checks);
        }
        _ => out.find(
            ApprovalStatus::Stale,
            "there is no passed validation of the current branch commit".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::dsse;
    use crate::signing::statement::{ApprovalPredicate, Statement};
    use crate::signing::test_support::{key, registry_of};
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-30 12:00 UTC);

    fn current() -> Current {
        Current {
            proposal_id: "p1".into(),
            bundle_digest: format!("sha256:{}", "f".repeat(64)),
            base_commit: "a".repeat(40),
            branch_commit: "b".repeat(40),
            result_tree: "c".repeat(40),
            policy_digest: format!("sha256:{}", "d".repeat(64)),
            risk: "low".into(),
            validation_run: Some("run-1".into()),
            checks_digest: Some(format!("sha256:{}", "e".repeat(64))),
        }
    }

    fn predicate(person: &str) -> ApprovalPredicate {
        let c = current();
        ApprovalPredicate {
            decision: Decision::Approve,
            reason: String::new(),
            person: person.into(),
            role: "approver".into(),
            base_commit: c.base_commit,
            branch_commit: c.branch_commit,
            result_tree: c.result_tree,
            policy_digest: c.policy_digest,
            validation_run: c.validation_run.unwrap(),
            checks_digest: c.checks_digest.unwrap(),
            risk: c.risk,
            issued_at: "2026-11-30T11:00:00.000Z".into(),
            expires_at: "2026-12-07T11:00:00.000Z".into(),
            nonce: "1".repeat(64),
        }
    }

    fn envelope(seed: u8, p: ApprovalPredicate) -> Vec<u8> {
        let st = Statement::new("p1", &current().bundle_digest, p);
        dsse::sign(dsse::PAYLOAD_TYPE, &st.to_payload(), &key(seed))
            .to_json()
            .into_bytes()
    }

    fn check(env: &[u8], reg: &Registry) -> Checked {
        verify(env, &current(), reg, NOW, &Ledger::default())
    }

    #[test]
    fn a_fresh_approval_is_valid_and_names_the_registered_person_and_roles() {
        let reg = registry_of(&[("alice", &[Role::Approver], &[1], None)]);
        let c = check(&envelope(1, predicate("alice")), &reg);
        assert_eq!(c.status, ApprovalStatus::Valid, "{:?}", c.problems);
        assert_eq!(c.person.as_deref(), Some("alice"));
        assert_eq!(c.roles, vec![Role::Approver]);
        assert_eq!(c.subject.as_deref(), Some("p1"));
        assert!(c.problems.is_empty());
    }

    #[test]
    fn flipping_any_bit_of_any_byte_of_the_envelope_fails() {
        let reg = registry_of(&[("alice", &[Role::Approver], &[1], None)]);
        let env = envelope(1, predicate("alice"));
        for i in 0..env.len() {
            for bit in [0x01u8, 0x20] {
                let mut t = env.clone();
                t[i] ^= bit;
                let c = check(&t, &reg);
                assert_ne!(
                    c.status,
                    ApprovalStatus::Valid,
                    "byte {i} ^ {bit:#x} ({:?}) still verifies",
                    String::from_utf8_lossy(&t[i..(i + 1).min(t.len())])
                );
            }
        }
    }

    #[test]
    fn flipping_any_byte_of_the_payload_fails() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let reg = registry_of(&[("alice", &[Role::Approver], &[1], None)]);
        let env: dsse::Envelope = serde_json::from_slice(&envelope(1, predicate("alice"))).unwrap();
        let payload = b64.decode(&env.payload).unwrap();
        for i in 0..payload.len() {
            let mut p = payload.clone();
            p[i] ^= 0x01;
            let mut t = env.clone();
            t.payload = b64.encode(&p);
            let c = check(t.to_json().as_bytes(), &reg);
            assert_eq!(c.status, ApprovalStatus::Invalid, "payload byte {i}");
        }
    }

    #[test]
    fn the_keyid_is_never_trusted_alone() {
        let reg = registry_of(&[
            ("alice", &[Role::Approver], &[1], None),
            ("bob", &[Role::Lead], &[2], None),
        ]);
        // Signed by an unregistered key but naming bob's keyid: bob's key does not verify it.
        let mut env: dsse::Envelope =
            serde_json::from_slice(&envelope(9, predicate("bob"))).unwrap();
        env.signatures[0].keyid = key(2).keyid().to_string();
        let c = check(env.to_json().as_bytes(), &reg);
        assert_eq!(c.status, ApprovalStatus::Invalid);
        assert!(c.problems[0].contains("does not verify"), "{:?}", c.problems);
        // An unregistered key is invalid.
        let c = check(&envelope(9, predicate("zed")), &reg);
        assert_eq!(c.status, ApprovalStatus::Invalid);
        // alice's key claiming to be bob (the lead): invalid, and the roles stay alice's.
        let c = check(&envelope(1, predicate("bob")), &reg);
        assert_eq!(c.status, ApprovalStatus::Invalid);
        assert_eq!(c.roles, vec![Role::Approver]);
    }

    #[test]
    fn replay_onto_another_proposal_is_invalid() {
        let reg = registry_of(&[("alice", &[Role::Approver], &[1], None)]);
        let env = envelope(1, predicate("alice"));
        let mut other = current();
        other.proposal_id = "p2".into();
        let c = verify(&env, &other, &reg, NOW, &Ledger::default());
        assert_eq!(c.status, ApprovalStatus::Invalid);
        assert!(c.problems.iter().any(|p| p.contains("replayed")));
    }

    #[test]
    fn revoked_keys_expired_approvals_and_reused_nonces() {
        let reg = registry_of(&[(
            "alice",
            &[Role::Approver],
            &[1],
            Some(datetime!(2026-11-30 11:30 UTC)),
        )]);
        let env = envelope(1, predicate("alice"));
        assert_eq!(check(&env, &reg).status, ApprovalStatus::Revoked);
        let reg = registry_of(&[("alice", &[Role::Approver], &[1], None)]);
        let mut local = Ledger::default();
        local
            .local_revocations
            .insert(key(1).keyid().to_string(), "2026-11-30T11:59:00Z".into());
        assert_eq!(
            verify(&env, &current(), &reg, NOW, &local).status,
            ApprovalStatus::Revoked
        );
        let later = datetime!(2026-12-07 11:00 UTC);
        assert_eq!(
            verify(&env, &current(), &reg, later, &Ledger::default()).status,
            ApprovalStatus::Expired
        );
        let mut reused = Ledger::default();
        reused.nonce_uses.insert("1".repeat(64), 2);
        assert_eq!(
            verify(&env, &current(), &reg, NOW, &reused).status,
            ApprovalStatus::Invalid
        );
        let mut p = predicate("alice");
        p.issued_at = "2026-11-30T13:00:00.000Z".into();
        assert_eq!(
            check(&envelope(1, p), &reg).status,
            ApprovalStatus::Invalid,
            "issued in the future"
        );
        let mut p = predicate("alice");
        p.decision = Decision::Reject;
        assert_eq!(
            check(&envelope(1, p.clone()), &reg).status,
            ApprovalStatus::Invalid,
            "a rejection needs a reason"
        );
        p.reason = "no".into();
        assert_eq!(check(&envelope(1, p), &reg).status, ApprovalStatus::Valid);
    }

    #[test]
    fn any_moved_fact_makes_the_approval_stale() {
        let reg = registry_of(&[("alice", &[Role::Approver], &[1], None)]);
        let env = envelope(1, predicate("alice"));
        let moves: Vec<fn(&mut Current)> = vec![
            |c| c.bundle_digest = format!("sha256:{}", "0".repeat(64)),
            |c| c.base_commit = "0".repeat(40),
            |c| c.branch_commit = "0".repeat(40),
            |c| c.result_tree = "0".repeat(40),
            |c| c.policy_digest = format!("sha256:{}", "0".repeat(64)),
            |c| c.risk = "high".into(),
            |c| c.validation_run = Some("run-2".into()),
            |c| c.checks_digest = Some(format!("sha256:{}", "0".repeat(64))),
            |c| {
                c.validation_run = None;
                c.checks_digest = None;
            },
        ];
        for (i, m) in moves.into_iter().enumerate() {
            let mut cur = current();
            m(&mut cur);
            let c = verify(&env, &cur, &reg, NOW, &Ledger::default());
            assert_eq!(c.status, ApprovalStatus::Stale, "move {i}: {:?}", c.problems);
        }
    }
}
