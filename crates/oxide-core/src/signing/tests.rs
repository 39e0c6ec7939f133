use super::*;

#[test]
fn person_ids_are_principal_safe() {
    for ok in ["alice", "bob.smith", "a_b-c", "x@example.org", "A1"] {
        assert_eq!(check_person_id(ok).unwrap(), ok);
    }
    for bad in [
        "",
        "-alice",
        "al ice",
        "a,b",
        "a\"b",
        "person:x",
        &"a".repeat(65),
    ] {
        let e = check_person_id(bad).unwrap_err();
        assert_eq!(e.code(), "SIGNING_BAD_PERSON", "{bad:?}");
        assert_eq!(e.kind(), ErrorKind::Invalid);
    }
}

#[test]
fn atomically_rolls_back_on_error_in_and_out_of_a_transaction() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
    let r: Result<(), _> = atomically(&conn, |c| {
        c.execute("INSERT INTO t VALUES (1)", [])?;
        Err(SigningError::ReasonRequired)
    });
    assert!(r.is_err());
    let n: i64 = conn
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);
    assert!(conn.is_autocommit());

    conn.execute_batch("BEGIN").unwrap();
    conn.execute("INSERT INTO t VALUES (2)", []).unwrap();
    let r: Result<(), _> = atomically(&conn, |c| {
        c.execute("INSERT INTO t VALUES (3)", [])?;
        Err(SigningError::ReasonRequired)
    });
    assert!(r.is_err());
    atomically(&conn, |c| {
        c.execute("INSERT INTO t VALUES (4)", [])?;
        Ok(())
    })
    .unwrap();
    assert!(!conn.is_autocommit(), "the caller's transaction stays open");
    conn.execute_batch("COMMIT").unwrap();
    let xs: Vec<i64> = conn
        .prepare("SELECT x FROM t ORDER BY x")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(xs, vec![2, 4]);
}

// ---------------------------------------------------------------------------------------
// Through the real OS keyring (Secret Service in `dbus-run-session` with an unlocked
// gnome-keyring, as `scripts/test` runs every test). Without one these tests fail with
// SIGNING_NO_KEYRING: they are never skipped.

use std::path::PathBuf;

use time::macros::datetime;

use crate::store::Store;

fn db() -> (tempfile::TempDir, PathBuf, Store) {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("s.sqlite3");
    let store = Store::open(&path).unwrap();
    (d, path, store)
}

/// A person id no other test (or run) uses: the keyring is shared by the whole test run.
fn unique_person(tag: &str) -> String {
    format!("{tag}-{}", &SecretKey::generate().keyid()[..16])
}

/// Deletes the keyring entries a test made, also when it fails.
struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for e in &self.0 {
            let _ = keyring::delete(e);
        }
    }
}

fn seed_hex(entry: &str) -> String {
    keyring::get_text(entry).unwrap().unwrap().to_string()
}

fn assert_no_secret(bytes: &[u8], seed_hex: &str) {
    use base64::Engine as _;
    let raw = hex::decode(seed_hex).unwrap();
    let hay = String::from_utf8_lossy(bytes).to_lowercase();
    assert!(!hay.contains(seed_hex), "hex seed found");
    for enc in [
        base64::engine::general_purpose::STANDARD.encode(&raw),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw),
    ] {
        assert!(
            !String::from_utf8_lossy(bytes).contains(&enc[..40]),
            "base64 seed found"
        );
    }
    assert!(
        !bytes.windows(32).any(|w| w == raw.as_slice()),
        "raw seed found"
    );
}

fn all_db_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        out.extend(std::fs::read(e.unwrap().path()).unwrap());
    }
    out
}

#[test]
fn person_key_generate_rotate_revoke_through_the_keyring() {
    let (dir, _path, store) = db();
    let conn = store.conn();
    let p = unique_person("gen");
    let _clean = Cleanup(vec![keyring::person_entry(&p)]);
    let now = datetime!(2026-11-30 16:00 UTC);

    let e = person_key(&p).unwrap_err();
    assert_eq!(e.code(), "SIGNING_NO_KEY");
    assert!(e
        .to_string()
        .contains(&format!("oxide keys generate --person {p}")));

    let k1 = generate_person(conn, &p, "tester", now).unwrap();
    assert_eq!(k1.purpose, KeyPurpose::Person);
    assert_eq!(k1.person.as_deref(), Some(p.as_str()));
    assert_eq!(k1.keyring_entry, format!("person:{p}"));
    assert_eq!(k1.created_at, "2026-11-30T16:00:00Z");
    let sk1 = person_key(&p).unwrap();
    assert_eq!(sk1.keyid(), k1.keyid);
    assert_eq!(
        parse_openssh_public(&k1.public).unwrap(),
        sk1.verifying_key()
    );
    let seed1 = seed_hex(&k1.keyring_entry);
    assert_eq!(
        seed1.len(),
        64,
        "the entry holds the hex seed and nothing else"
    );

    let e = generate_person(conn, &p, "tester", now).unwrap_err();
    assert_eq!(e.code(), "SIGNING_KEY_EXISTS");
    assert!(e.to_string().contains(&k1.keyid));
    assert_eq!(
        list(conn).unwrap().len(),
        1,
        "nothing written by the refusal"
    );

    let later = datetime!(2026-12-01 09:00 UTC);
    let rot = rotate_person(conn, &p, "tester", later).unwrap();
    assert_eq!(rot.old.keyid, k1.keyid);
    assert_eq!(rot.old.rotated_at.as_deref(), Some("2026-12-01T09:00:00Z"));
    assert_ne!(rot.new.keyid, k1.keyid);
    assert_eq!(person_key(&p).unwrap().keyid(), rot.new.keyid);
    let seed2 = seed_hex(&k1.keyring_entry);
    assert_ne!(seed1, seed2);

    let r = revoke(conn, &k1.keyid, " lost laptop ", "tester", later).unwrap();
    assert_eq!(r.reason, "lost laptop");
    assert_eq!(r.person.as_deref(), Some(p.as_str()));
    assert_eq!(
        revoke(conn, &k1.keyid, "again", "tester", later)
            .unwrap_err()
            .code(),
        "SIGNING_ALREADY_REVOKED"
    );
    assert_eq!(
        revoke(conn, &"0".repeat(64), "x", "tester", later)
            .unwrap_err()
            .code(),
        "SIGNING_UNKNOWN_KEY"
    );
    assert_eq!(
        revoke(conn, &rot.new.keyid, " ", "tester", later)
            .unwrap_err()
            .code(),
        "SIGNING_REASON_REQUIRED"
    );
    let keys = list(conn).unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].revoked_at.as_deref(), Some("2026-12-01T09:00:00Z"));
    assert!(keys[1].rotated_at.is_none() && keys[1].revoked_at.is_none());

    // Every change is audited; the chain verifies; the database never saw a seed.
    let v = crate::audit::verify(conn).unwrap();
    assert!(v.ok);
    assert_eq!(v.events, 3);
    // A rotation or revocation is never undone, a row never deleted (triggers).
    assert!(conn
        .execute(
            "UPDATE signing_keys SET revoked_at = NULL, revoke_reason = NULL",
            []
        )
        .is_err());
    assert!(conn.execute("DELETE FROM signing_keys", []).is_err());
    assert!(conn
        .execute("UPDATE signing_keys SET public = 'x'", [])
        .is_err());

    // A holder of the database file drops the triggers and clears the revocation, then
    // deletes the row: the audit chain still says revoked, and every reader asks it too.
    let revoked = keys[0].keyid.clone();
    conn.execute_batch(
        "DROP TRIGGER signing_keys_no_unrevoke; DROP TRIGGER signing_keys_no_delete;
         UPDATE signing_keys SET revoked_at = NULL, revoke_reason = NULL;",
    )
    .unwrap();
    let found = find(conn, &revoked).unwrap().unwrap();
    assert_eq!(found.revoked_at.as_deref(), Some("2026-12-01T09:00:00Z"));
    assert_eq!(found.revoke_reason.as_deref(), Some("lost laptop"));
    conn.execute("DELETE FROM signing_keys WHERE keyid = ?1", [&revoked])
        .unwrap();
    let all = revocations(conn).unwrap();
    assert_eq!(
        all.get(&revoked).map(String::as_str),
        Some("2026-12-01T09:00:00Z")
    );
    assert!(!all.contains_key(&keys[1].keyid), "{all:?}");
    drop(store);
    let bytes = all_db_bytes(dir.path());
    assert_no_secret(&bytes, &seed1);
    assert_no_secret(&bytes, &seed2);
}

#[test]
fn a_lost_keyring_key_is_retired_by_the_next_generate() {
    let (_d, _p, store) = db();
    let conn = store.conn();
    let p = unique_person("lost");
    let _clean = Cleanup(vec![keyring::person_entry(&p)]);
    let now = datetime!(2026-11-30 16:00 UTC);
    let k1 = generate_person(conn, &p, "tester", now).unwrap();
    assert!(keyring::delete(&k1.keyring_entry).unwrap());
    assert_eq!(
        rotate_person(conn, &p, "tester", now).unwrap_err().code(),
        "SIGNING_NO_KEY"
    );
    let k2 = generate_person(conn, &p, "tester", now).unwrap();
    let keys = list(conn).unwrap();
    let old = keys.iter().find(|k| k.keyid == k1.keyid).unwrap();
    assert!(old.rotated_at.is_some());
    assert!(keys
        .iter()
        .any(|k| k.keyid == k2.keyid && k.rotated_at.is_none()));
}

#[test]
fn instance_and_device_keys_are_made_once_and_checked_against_the_keyring() {
    let (_d, path, mut store) = db();
    let now = datetime!(2026-11-30 16:00 UTC);
    let first = instance_key(store.conn(), now).unwrap();
    let mut clean = Cleanup(vec![keyring::instance_entry(first.keyid())]);
    let again = instance_key(store.conn(), now).unwrap();
    assert_eq!(first.keyid(), again.keyid());
    // Inside a caller's transaction (bundle admission): the savepoint path.
    let dev = store.write(|tx| device_key(tx, now)).unwrap();
    clean.0.push(keyring::device_entry(dev.keyid()));
    assert_ne!(dev.keyid(), first.keyid());
    assert_eq!(device_key(store.conn(), now).unwrap().keyid(), dev.keyid());
    let keys = list(store.conn()).unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().any(|k| k.purpose == KeyPurpose::Instance
        && k.keyring_entry == format!("instance:{}", first.keyid())
        && k.public.ends_with(" oxide-instance")));

    // The keyring entry swapped for another key: refused, nothing signed.
    let swapped = SecretKey::generate();
    keyring::store_key(&keyring::instance_entry(first.keyid()), &swapped).unwrap();
    let e = instance_key(store.conn(), now).unwrap_err();
    assert_eq!(e.code(), "SIGNING_KEY_MISMATCH");
    assert_eq!(e.kind(), crate::ErrorKind::Refused);
    // The entry gone (a database copied to another machine): SIGNING_NO_KEY, no new key.
    keyring::delete(&keyring::instance_entry(first.keyid())).unwrap();
    let e = instance_key(store.conn(), now).unwrap_err();
    assert_eq!(e.code(), "SIGNING_NO_KEY");
    assert_eq!(list(store.conn()).unwrap().len(), 2);

    // Concurrent first uses from two connections: one key, one row.
    let (_d2, path2, store2) = db();
    drop(store2);
    let made: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let p = path2.clone();
                s.spawn(move || {
                    let st = Store::open(&p).unwrap();
                    device_key(st.conn(), now).unwrap().keyid().to_string()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    clean.0.push(keyring::device_entry(&made[0]));
    assert!(made.iter().all(|k| *k == made[0]), "{made:?}");
    let st = Store::open(&path2).unwrap();
    assert_eq!(list(st.conn()).unwrap().len(), 1);
    drop(path);
}
