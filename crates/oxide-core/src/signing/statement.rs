//! The payload of an approval: an in-toto Statement v1 whose one subject is the proposal
//! bundle (`oxide-proposal:<id>`, digest = the bundle digest's hex) and whose predicate, of
//! type [`PREDICATE_TYPE`], binds the decision to exactly what was reviewed. See
//! `docs/approvals.md`.

use serde::{Deserialize, Serialize};

/// in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// Our predicate type (documented in `docs/approvals.md`).
pub const PREDICATE_TYPE: &str = "https://oxide-review.dev/approval/v1";
/// The subject name prefix; the proposal id follows.
pub const SUBJECT_PREFIX: &str = "oxide-proposal:";

/// A person's decision on a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, rename = "ApprovalDecision")
)]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        }
    }

    pub fn parse(s: &str) -> Option<Decision> {
        match s {
            "approve" => Some(Decision::Approve),
            "reject" => Some(Decision::Reject),
            _ => None,
        }
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectDigest {
    /// Lowercase hex (in-toto's DigestSet spelling: no `sha256:` prefix).
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    pub name: String,
    pub digest: SubjectDigest,
}

/// What an approval binds. Every field is required; `reason` is empty for a plain approval
/// and required for a rejection; `validation_run`/`checks_digest` name the passed validation
/// run of `branch_commit` the person saw; `role` is the role the signer claimed — it is shown,
/// never trusted (roles come from the committed registry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ApprovalPredicate {
    pub decision: Decision,
    pub reason: String,
    pub person: String,
    pub role: String,
    pub base_commit: String,
    pub branch_commit: String,
    pub result_tree: String,
    pub policy_digest: String,
    pub validation_run: String,
    pub checks_digest: String,
    pub risk: String,
    /// RFC 3339 UTC.
    pub issued_at: String,
    /// RFC 3339 UTC.
    pub expires_at: String,
    /// 32 random bytes, lowercase hex: one approval, one nonce.
    pub nonce: String,
}

/// An in-toto Statement v1 carrying an approval predicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub type_: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: ApprovalPredicate,
}

impl Statement {
    /// The statement for `predicate` over proposal `id` with bundle digest `sha256:<hex>`.
    pub fn new(id: &str, bundle_digest: &str, predicate: ApprovalPredicate) -> Statement {
        Statement {
            type_: STATEMENT_TYPE.into(),
            subject: vec![Subject {
                name: format!("{SUBJECT_PREFIX}{id}"),
                digest: SubjectDigest {
                    sha256: bundle_digest
                        .strip_prefix("sha256:")
                        .unwrap_or(bundle_digest)
                        .to_string(),
                },
            }],
            predicate_type: PREDICATE_TYPE.into(),
            predicate,
        }
    }

    /// The payload bytes (RFC 8785 canonical JSON, so the same statement is the same bytes).
    pub fn to_payload(&self) -> Vec<u8> {
        crate::canon::canonical_bytes(self).expect("a statement of strings is canonical JSON")
    }

    /// The proposal id named by the one subject (`None` when the subject is not ours).
    pub fn proposal_id(&self) -> Option<&str> {
        match self.subject.as_slice() {
            [s] => s.name.strip_prefix(SUBJECT_PREFIX),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn predicate() -> ApprovalPredicate {
        ApprovalPredicate {
            decision: Decision::Approve,
            reason: String::new(),
            person: "alice".into(),
            role: "approver".into(),
            base_commit: "a".repeat(40),
            branch_commit: "b".repeat(40),
            result_tree: "c".repeat(40),
            policy_digest: format!("sha256:{}", "d".repeat(64)),
            validation_run: "run-1".into(),
            checks_digest: format!("sha256:{}", "e".repeat(64)),
            risk: "low".into(),
            issued_at: "2026-11-30T10:00:00.000Z".into(),
            expires_at: "2026-12-07T10:00:00.000Z".into(),
            nonce: "0".repeat(64),
        }
    }

    #[test]
    fn the_statement_has_the_in_toto_v1_shape() {
        let st = Statement::new("abc123", &format!("sha256:{}", "f".repeat(64)), predicate());
        let v: serde_json::Value = serde_json::from_slice(&st.to_payload()).unwrap();
        assert_eq!(v["_type"], STATEMENT_TYPE);
        assert_eq!(v["predicateType"], PREDICATE_TYPE);
        assert_eq!(v["subject"][0]["name"], "oxide-proposal:abc123");
        assert_eq!(v["subject"][0]["digest"]["sha256"], "f".repeat(64));
        assert_eq!(v["predicate"]["decision"], "approve");
        assert_eq!(st.proposal_id(), Some("abc123"));
        let back: Statement = serde_json::from_slice(&st.to_payload()).unwrap();
        assert_eq!(back, st);
    }

    #[test]
    fn unknown_or_missing_predicate_fields_are_refused() {
        let st = Statement::new("abc123", &format!("sha256:{}", "f".repeat(64)), predicate());
        let mut v: serde_json::Value = serde_json::from_slice(&st.to_payload()).unwrap();
        v["predicate"]["extra"] = "x".into();
        assert!(serde_json::from_value::<Statement>(v.clone()).is_err());
        v["predicate"].as_object_mut().unwrap().remove("extra");
        v["predicate"].as_object_mut().unwrap().remove("nonce");
        assert!(serde_json::from_value::<Statement>(v).is_err());
    }
}
