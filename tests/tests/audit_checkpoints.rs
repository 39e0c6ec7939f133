//! Issue 12 journeys: signed audit checkpoints through the real `oxide` binary and the real
//! Secret Service (gnome-keyring in the test command's D-Bus session).
//!
//! Attacks as a local user holding the database file (rusqlite on the file, triggers dropped):
//! an event rewritten with the whole chain and its head record recomputed, checkpoint rows
//! deleted, the log truncated, and checkpoints forged with another key. Each is reported by
//! `oxide audit verify` with exit 3; a new checkpoint is refused over a tampered log.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use oxide_journeys::TestRepo;
use rusqlite::{params, Connection};
use serde_json::Value;
use sha2::{Digest, Sha256};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// An initialised workspace with a few more audit events (skills added).
fn workspace_with_events(n: usize) -> TestRepo {
    let repo = TestRepo::new();
    repo.init();
    for i in 0..n {
        let f = repo.data.path().join(format!("skill{i}.json"));
        std::fs::write(
            &f,
            serde_json::json!({
                "title": format!("Lesson {i}"),
                "description": format!("Retry the flaky step {i} times"),
                "source": "manual", "submitted_by": "carol",
                "evidence_refs": [], "targets": ["src/**"]
            })
            .to_string(),
        )
        .unwrap();
        repo.oxide(&["--json", "skill", "add", f.to_str().unwrap()])
            .expect(0);
    }
    repo
}

fn checkpoint(repo: &TestRepo) -> Value {
    repo.oxide(&["--json", "audit", "checkpoint"])
        .expect(0)
        .json()
}

fn verify(repo: &TestRepo) -> (i32, Value) {
    let r = repo.oxide(&["--json", "audit", "verify"]);
    let code = r.code;
    (code, r.json())
}

fn problem_codes(v: &Value) -> Vec<String> {
    v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_string())
        .collect()
}

fn open(db: &Path) -> Connection {
    Connection::open(db).unwrap()
}

/// RFC 8785 for the values an audit event holds (objects, arrays, strings, integers, bools,
/// null): keys sorted by UTF-16 code units (ASCII here), no whitespace.
fn jcs(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", serde_json::to_string(k).unwrap(), jcs(&m[*k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(jcs).collect::<Vec<_>>().join(",")),
        other => serde_json::to_string(other).unwrap(),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// An audit row as stored: seq, ts, actor, kind, subject, payload text, prev.
type StoredEvent = (i64, String, String, String, String, String, Option<String>);

/// The attacker's rewrite: drop the append-only triggers, change event `seq`'s payload with
/// `edit`, recompute every hash from there on (and each `prev`) and the head record, as
/// docs/audit.md tells anyone how to.
fn rewrite_event(db: &Path, seq: i64, edit: impl Fn(&mut Value)) {
    let c = open(db);
    c.execute_batch(
        "DROP TRIGGER IF EXISTS audit_events_no_update; DROP TRIGGER IF EXISTS audit_events_no_delete;",
    )
    .unwrap();
    let rows: Vec<StoredEvent> = c
        .prepare(
            "SELECT seq, ts, actor, kind, subject, payload, prev FROM audit_events ORDER BY seq",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut prev: Option<String> = None;
    let mut last = (0i64, String::new());
    for (s, ts, actor, kind, subject, payload, stored_prev) in rows {
        let mut p: Value = serde_json::from_str(&payload).unwrap();
        if s == seq {
            edit(&mut p);
        }
        let prev_now = if s < seq { stored_prev } else { prev.clone() };
        let body = serde_json::json!({
            "seq": s, "ts": ts, "actor": actor, "kind": kind, "subject": subject,
            "payload": p, "prev": prev_now,
        });
        let hash = format!("sha256:{}", sha256_hex(jcs(&body).as_bytes()));
        if s >= seq {
            c.execute(
                "UPDATE audit_events SET payload = ?1, prev = ?2, hash = ?3 WHERE seq = ?4",
                params![jcs(&p), prev_now, hash, s],
            )
            .unwrap();
        }
        prev = Some(hash.clone());
        last = (s, hash);
    }
    c.execute(
        "UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1",
        params![last.0, last.1],
    )
    .unwrap();
}

fn table_rows(db: &Path, sql: &str) -> Vec<String> {
    let c = open(db);
    let mut st = c.prepare(sql).unwrap();
    let n = st.column_count();
    st.query_map([], |r| {
        Ok((0..n)
            .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
            .collect::<Vec<_>>()
            .join("|"))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// The device's public key as the database records it (OpenSSH line), decoded.
fn device_public(db: &Path) -> (String, VerifyingKey) {
    let c = open(db);
    let (keyid, public): (String, String) = c
        .query_row(
            "SELECT keyid, public FROM signing_keys WHERE purpose = 'device'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    (keyid, parse_openssh(&public))
}

fn parse_openssh(line: &str) -> VerifyingKey {
    let blob = B64.decode(line.split_whitespace().nth(1).unwrap()).unwrap();
    // string "ssh-ed25519" (4 + 11 bytes), then string key (4 + 32 bytes).
    assert_eq!(&blob[4..15], b"ssh-ed25519");
    VerifyingKey::from_bytes(blob[19..51].try_into().unwrap()).unwrap()
}

/// An independent check of a checkpoint note (C2SP signed-note, ed25519): text, key hash,
/// signature. Returns (origin, size, root hash as sha256:<hex>).
fn check_note(note: &str, name: &str, vk: &VerifyingKey) -> (String, i64, String) {
    let (text, sigs) = note.rsplit_once("\n\n").unwrap();
    let text = format!("{text}\n");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "origin, size, root: {note}");
    let line = sigs.trim_end();
    let rest = line.strip_prefix("\u{2014} ").expect("em dash, space");
    let (n, b64) = rest.split_once(' ').unwrap();
    assert_eq!(n, name);
    let raw = B64.decode(b64).unwrap();
    let mut kh = Sha256::new();
    kh.update(name.as_bytes());
    kh.update([0x0a, 0x01]);
    kh.update(vk.as_bytes());
    assert_eq!(&raw[..4], &kh.finalize()[..4], "key hash per signed-note");
    let sig = ed25519_dalek::Signature::from_slice(&raw[4..]).unwrap();
    vk.verify_strict(text.as_bytes(), &sig).expect("signature");
    let root = B64.decode(lines[2]).unwrap();
    (
        lines[0].to_string(),
        lines[1].parse().unwrap(),
        format!("sha256:{}", hex(&root)),
    )
}

fn secret_tool_lookup(user: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", "dev.oxide.review", "username", user])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn audit_checkpoint_signs_the_head_as_a_c2sp_note_and_verify_checks_it() {
    let repo = workspace_with_events(2);
    let (code, v) = verify(&repo);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["checkpoints"], 0);

    let c = checkpoint(&repo);
    let (keyid, vk) = device_public(&repo.db());
    assert_eq!(c["keyid"], keyid.as_str());
    // The head it signed is the last event (the device key's creation is covered too).
    let events = table_rows(
        &repo.db(),
        "SELECT seq, hash FROM audit_events ORDER BY seq",
    );
    let last = repo.oxide(&["--json", "audit", "list"]).expect(0).json()["events"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(c["seq"], last["seq"]);
    assert_eq!(c["hash"], last["hash"]);
    assert_eq!(events.len() as i64, c["seq"].as_i64().unwrap());

    // The stored note verifies with standard signed-note rules and the device key.
    let note: String = open(&repo.db())
        .query_row("SELECT note FROM audit_checkpoints", [], |r| r.get(0))
        .unwrap();
    let name = format!("oxide-review/{keyid}");
    let (origin, size, root) = check_note(&note, &name, &vk);
    assert_eq!(origin, name);
    assert_eq!(size, c["seq"].as_i64().unwrap());
    assert_eq!(root, c["hash"].as_str().unwrap());

    // The witness is the same note, in the real Secret Service.
    let witness = secret_tool_lookup(&format!("witness:{keyid}"))
        .expect("secret-tool finds the witness in the Secret Service");
    assert_eq!(witness.trim_end(), note.trim_end());

    // Idempotent on an unchanged head; a new head gets a new checkpoint.
    assert_eq!(checkpoint(&repo)["seq"], c["seq"]);
    let more = workspace_events_add(&repo, "later");
    let c2 = checkpoint(&repo);
    assert_eq!(c2["seq"].as_i64().unwrap(), more);

    let (code, v) = verify(&repo);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["ok"], true);
    assert_eq!(v["checkpoints"], 2);
    assert_eq!(v["first_bad_seq"], Value::Null);
    assert_eq!(v["problems"], serde_json::json!([]));
    assert_eq!(v["last_checkpoint"]["seq"], c2["seq"]);
}

/// Adds one skill (one audit event); returns the new head seq.
fn workspace_events_add(repo: &TestRepo, tag: &str) -> i64 {
    let f = repo.data.path().join(format!("skill-{tag}.json"));
    std::fs::write(
        &f,
        serde_json::json!({"title": format!("Lesson {tag}"), "description": "more",
                           "source": "manual", "submitted_by": "carol",
                           "evidence_refs": [], "targets": ["src/**"]})
        .to_string(),
    )
    .unwrap();
    repo.oxide(&["--json", "skill", "add", f.to_str().unwrap()])
        .expect(0);
    repo.oxide(&["--json", "status"]).expect(0).json()["audit_events"]
        .as_i64()
        .unwrap()
}

#[test]
fn an_event_rewritten_with_the_chain_recomputed_is_reported_because_a_checkpoint_no_longer_matches()
{
    let repo = workspace_with_events(3);
    let c = checkpoint(&repo);
    let signed = c["seq"].as_i64().unwrap();
    workspace_events_add(&repo, "after");

    // The attacker rewrites event 2 (a skill's payload) and recomputes the whole chain.
    rewrite_event(&repo.db(), 2, |p| {
        p["title"] = Value::from("Lesson rewritten by someone holding the file");
    });
    let checkpoints_before = table_rows(&repo.db(), "SELECT * FROM audit_checkpoints");
    let (code, v) = verify(&repo);
    assert_eq!(code, 3, "{v:#}");
    assert_eq!(v["ok"], false);
    let codes = problem_codes(&v);
    assert!(codes.contains(&"CHECKPOINT_MISMATCH".to_string()), "{v:#}");
    assert!(
        !codes.contains(&"AUDIT_CHAIN_BROKEN".to_string())
            && !codes.contains(&"AUDIT_REWRITTEN".to_string()),
        "the chain itself was recomputed, so only the checkpoint catches it: {v:#}"
    );
    // No checkpoint before the signed one matched, so everything from event 1 is suspect.
    assert_eq!(v["first_bad_seq"], 1, "{v:#}");
    assert!(v["problem"]
        .as_str()
        .unwrap()
        .contains(&format!("event {signed}")));

    // Verification wrote nothing; a new checkpoint over the tampered log is refused.
    assert_eq!(
        table_rows(&repo.db(), "SELECT * FROM audit_checkpoints"),
        checkpoints_before
    );
    let r = repo.oxide(&["--json", "audit", "checkpoint"]).expect(3);
    assert_eq!(r.error_code(), "SIGNING_AUDIT_TAMPERED");
    assert_eq!(
        table_rows(&repo.db(), "SELECT * FROM audit_checkpoints"),
        checkpoints_before
    );

    // Human output names the problem too.
    let human = repo.oxide(&["audit", "verify"]).expect(3);
    assert!(
        human.stderr.contains("CHECKPOINT_MISMATCH"),
        "{}",
        human.stderr
    );
}

#[test]
fn a_rewrite_between_two_checkpoints_names_the_range_after_the_older_one() {
    let repo = workspace_with_events(1);
    let first = checkpoint(&repo)["seq"].as_i64().unwrap();
    let target = workspace_events_add(&repo, "x");
    workspace_events_add(&repo, "y");
    checkpoint(&repo);
    rewrite_event(&repo.db(), target, |p| {
        p["description"] = Value::from("changed");
    });
    let (code, v) = verify(&repo);
    assert_eq!(code, 3, "{v:#}");
    assert_eq!(v["first_bad_seq"], first + 1, "{v:#}");
    assert_eq!(v["checkpoints"], 2);
    assert_eq!(
        v["last_checkpoint"]["seq"], first,
        "the older checkpoint still matches"
    );
}

#[test]
fn deleted_checkpoint_rows_are_caught_by_the_keyring_witness() {
    let repo = workspace_with_events(1);
    checkpoint(&repo);
    workspace_events_add(&repo, "a");
    let newest = checkpoint(&repo);

    // Delete only the newest checkpoint row.
    let c = open(&repo.db());
    c.execute_batch("DROP TRIGGER IF EXISTS audit_checkpoints_no_delete;")
        .unwrap();
    c.execute(
        "DELETE FROM audit_checkpoints WHERE seq = ?1",
        [newest["seq"].as_i64().unwrap()],
    )
    .unwrap();
    drop(c);
    let (code, v) = verify(&repo);
    assert_eq!(code, 3, "{v:#}");
    assert!(
        problem_codes(&v).contains(&"CHECKPOINT_DELETED".to_string()),
        "{v:#}"
    );
    assert_eq!(v["checkpoints"], 1);

    // Delete them all: still caught.
    open(&repo.db())
        .execute("DELETE FROM audit_checkpoints", [])
        .unwrap();
    let (code, v) = verify(&repo);
    assert_eq!(code, 3, "{v:#}");
    assert!(
        problem_codes(&v).contains(&"CHECKPOINT_DELETED".to_string()),
        "{v:#}"
    );
    let r = repo.oxide(&["--json", "audit", "checkpoint"]).expect(3);
    assert_eq!(r.error_code(), "SIGNING_AUDIT_TAMPERED");
}

#[test]
fn a_truncated_log_is_caught_even_with_its_head_record_and_checkpoints_fixed() {
    let repo = workspace_with_events(2);
    let keep = checkpoint(&repo)["seq"].as_i64().unwrap();
    workspace_events_add(&repo, "a");
    workspace_events_add(&repo, "b");
    let newest = checkpoint(&repo)["seq"].as_i64().unwrap();
    assert!(newest > keep);

    // The attacker removes the tail and the checkpoint over it, and repairs the head record.
    let c = open(&repo.db());
    c.execute_batch(
        "DROP TRIGGER IF EXISTS audit_events_no_delete; DROP TRIGGER IF EXISTS audit_checkpoints_no_delete;",
    )
    .unwrap();
    c.execute("DELETE FROM audit_events WHERE seq > ?1", [keep])
        .unwrap();
    c.execute("DELETE FROM audit_checkpoints WHERE seq > ?1", [keep])
        .unwrap();
    let hash: String = c
        .query_row(
            "SELECT hash FROM audit_events WHERE seq = ?1",
            [keep],
            |r| r.get(0),
        )
        .unwrap();
    c.execute(
        "UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1",
        params![keep, hash],
    )
    .unwrap();
    drop(c);

    let (code, v) = verify(&repo);
    assert_eq!(code, 3, "{v:#}");
    let codes = problem_codes(&v);
    assert!(codes.contains(&"CHECKPOINT_DELETED".to_string()), "{v:#}");
    assert!(codes.contains(&"CHECKPOINT_MISMATCH".to_string()), "{v:#}");
    assert_eq!(v["first_bad_seq"], keep + 1, "{v:#}");
}

/// A note over `(size, root)` signed by `sk` under `name`, built the signed-note way.
fn forge_note(name: &str, size: i64, root_hex: &str, sk: &SigningKey) -> String {
    let mut root = [0u8; 32];
    for (i, b) in root.iter_mut().enumerate() {
        *b = u8::from_str_radix(&root_hex[2 * i..2 * i + 2], 16).unwrap();
    }
    let text = format!("{name}\n{size}\n{}\n", B64.encode(root));
    let mut kh = Sha256::new();
    kh.update(name.as_bytes());
    kh.update([0x0a, 0x01]);
    kh.update(sk.verifying_key().as_bytes());
    let mut raw = kh.finalize()[..4].to_vec();
    raw.extend_from_slice(&sk.sign(text.as_bytes()).to_bytes());
    format!("{text}\n\u{2014} {name} {}\n", B64.encode(raw))
}

#[test]
fn a_forged_checkpoint_signed_by_another_key_is_refused() {
    let repo = workspace_with_events(2);
    let real = checkpoint(&repo);
    let (device_keyid, _) = device_public(&repo.db());

    // The attacker rewrites event 2, then signs the new head with a key of their own: once
    // under their own name, once claiming the device's key name.
    rewrite_event(&repo.db(), 2, |p| {
        p["title"] = Value::from("forged");
    });
    let (seq, hash): (i64, String) = open(&repo.db())
        .query_row("SELECT seq, hash FROM audit_head", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let attacker = SigningKey::from_bytes(&[9u8; 32]);
    let attacker_id = sha256_hex(attacker.verifying_key().as_bytes());
    let c = open(&repo.db());
    c.execute_batch(
        "DROP TRIGGER IF EXISTS audit_checkpoints_no_delete; DROP TRIGGER IF EXISTS audit_checkpoints_no_update;",
    )
    .unwrap();
    // Replace the real checkpoint (whose root no longer matches) with forged ones.
    c.execute("DELETE FROM audit_checkpoints", []).unwrap();
    for (name, keyid) in [
        (format!("oxide-review/{attacker_id}"), attacker_id.clone()),
        (format!("oxide-review/{device_keyid}"), device_keyid.clone()),
    ] {
        let note = forge_note(&name, seq, hash.strip_prefix("sha256:").unwrap(), &attacker);
        c.execute(
            "INSERT INTO audit_checkpoints (seq, hash, keyid, note, created_at)
             VALUES (?1, ?2, ?3, ?4, '2026-11-30T00:00:00.000Z')",
            params![seq, hash, keyid, note],
        )
        .unwrap();
    }
    drop(c);

    let (code, v) = verify(&repo);
    assert_eq!(code, 3, "{v:#}");
    let codes = problem_codes(&v);
    assert_eq!(
        codes
            .iter()
            .filter(|c| *c == "CHECKPOINT_UNTRUSTED")
            .count(),
        2,
        "{v:#}"
    );
    assert_eq!(v["checkpoints"], 0, "no forged note counts: {v:#}");
    // The witness still names the real checkpoint, which is gone and no longer matches.
    assert!(codes.contains(&"CHECKPOINT_DELETED".to_string()), "{v:#}");
    assert!(codes.contains(&"CHECKPOINT_MISMATCH".to_string()), "{v:#}");
    assert_eq!(real["keyid"], device_keyid.as_str());
}

#[test]
fn audit_export_writes_the_signed_checkpoints_next_to_the_events() {
    let repo = workspace_with_events(1);
    let c = checkpoint(&repo);
    let out = repo.data.path().join("audit.jsonl");
    let r = repo
        .oxide(&["--json", "audit", "export", out.to_str().unwrap()])
        .expect(0)
        .json();
    assert_eq!(r["checkpoints"], 1);
    let cp_file = repo.data.path().join("audit.jsonl.checkpoints");
    assert_eq!(r["checkpoints_file"], cp_file.to_str().unwrap());
    let events: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(r["events"], events.len());
    let lines: Vec<Value> = std::fs::read_to_string(&cp_file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    let l = &lines[0];
    assert_eq!(l["seq"], c["seq"]);
    assert_eq!(l["keyid"], c["keyid"]);
    // Anyone can check it: the public key in the line (compared with the database's), the
    // note's signature, and its root against the exported event at that seq.
    let vk = parse_openssh(l["public"].as_str().unwrap());
    assert_eq!(vk, device_public(&repo.db()).1);
    let name = format!("oxide-review/{}", c["keyid"].as_str().unwrap());
    let (_, size, root) = check_note(l["note"].as_str().unwrap(), &name, &vk);
    let ev = events.iter().find(|e| e["seq"] == size).unwrap();
    assert_eq!(ev["hash"], root.as_str());
}
