use super::*;
use crate::store::Store;
use serde_json::json;

fn store_with(n: usize) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.sqlite3")).unwrap();
    for i in 0..n {
        store
            .write(|tx| {
                append(
                    tx,
                    NewEvent {
                        actor: "alice",
                        kind: "test.event",
                        subject: &format!("s{i}"),
                        payload: json!({"i": i}),
                    },
                    &format!("2026-01-01T00:00:{i:02}Z"),
                )
            })
            .unwrap();
    }
    (dir, store)
}

fn tamper(store: &Store, sql: &str) {
    store
        .conn()
        .execute_batch(&format!(
            "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete; {sql}"
        ))
        .unwrap();
}

#[test]
fn chain_links_and_verifies() {
    let (_d, store) = store_with(5);
    let evs = list(store.conn(), None, None).unwrap();
    assert_eq!(evs.len(), 5);
    assert_eq!(evs[0].prev, None);
    for w in evs.windows(2) {
        assert_eq!(w[1].prev.as_ref(), Some(&w[0].hash));
    }
    let v = verify(store.conn()).unwrap();
    assert_eq!(
        v,
        AuditVerify {
            ok: true,
            events: 5,
            first_bad_seq: None,
            problem: None
        }
    );
    assert_eq!(list(store.conn(), Some(3), Some(1)).unwrap()[0].seq, 4);
}

#[test]
fn the_application_cannot_rewrite_history() {
    let (_d, store) = store_with(2);
    assert!(store
        .conn()
        .execute("UPDATE audit_events SET actor = 'mallory'", [])
        .is_err());
    assert!(store
        .conn()
        .execute("DELETE FROM audit_events", [])
        .is_err());
}

#[test]
fn edited_payload_is_found() {
    let (_d, store) = store_with(5);
    tamper(
        &store,
        r#"UPDATE audit_events SET payload = '{"i":99}' WHERE seq = 3"#,
    );
    let v = verify(store.conn()).unwrap();
    assert!(!v.ok);
    assert_eq!(v.first_bad_seq, Some(3));
}

#[test]
fn edited_actor_is_found() {
    let (_d, store) = store_with(4);
    tamper(
        &store,
        "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2",
    );
    assert_eq!(verify(store.conn()).unwrap().first_bad_seq, Some(2));
}

#[test]
fn deleted_event_is_found() {
    let (_d, store) = store_with(5);
    tamper(&store, "DELETE FROM audit_events WHERE seq = 2");
    assert_eq!(verify(store.conn()).unwrap().first_bad_seq, Some(2));
}

#[test]
fn deleted_tail_is_found() {
    let (_d, store) = store_with(5);
    tamper(&store, "DELETE FROM audit_events WHERE seq = 5");
    let v = verify(store.conn()).unwrap();
    assert!(!v.ok);
    assert_eq!(v.first_bad_seq, Some(5));
}

#[test]
fn inserted_event_is_found() {
    let (_d, store) = store_with(4);
    // Shift 3.. up by one and forge a well-hashed event at 3 that links to 2.
    tamper(&store, "UPDATE audit_events SET seq = seq + 10 WHERE seq >= 3; UPDATE audit_events SET seq = seq - 9 WHERE seq >= 13;");
    let prev: String = store
        .conn()
        .query_row("SELECT hash FROM audit_events WHERE seq = 2", [], |r| {
            r.get(0)
        })
        .unwrap();
    let payload = json!({"forged": true});
    let h = event_hash(
        3,
        "2026-01-01T00:00:02Z",
        "mallory",
        "x",
        "y",
        &payload,
        &Some(prev.clone()),
    )
    .unwrap();
    store.conn().execute(
        "INSERT INTO audit_events VALUES (3, '2026-01-01T00:00:02Z', 'mallory', 'x', 'y', ?1, ?2, ?3)",
        params![canon::canonical_string(&payload).unwrap(), prev, h],
    ).unwrap();
    let v = verify(store.conn()).unwrap();
    assert_eq!(
        v.first_bad_seq,
        Some(4),
        "the event after the forgery no longer links"
    );
}

#[test]
fn reordered_events_are_found() {
    let (_d, store) = store_with(5);
    tamper(&store, "UPDATE audit_events SET seq = 100 WHERE seq = 2; UPDATE audit_events SET seq = 2 WHERE seq = 3; UPDATE audit_events SET seq = 3 WHERE seq = 100;");
    assert_eq!(verify(store.conn()).unwrap().first_bad_seq, Some(2));
}

#[test]
fn export_is_json_lines_that_rehash() {
    let (d, store) = store_with(3);
    let out = d.path().join("audit.jsonl");
    assert_eq!(export(store.conn(), &out).unwrap(), 3);
    let text = std::fs::read_to_string(&out).unwrap();
    let mut prev: Option<String> = None;
    for line in text.lines() {
        let e: AuditEvent = serde_json::from_str(line).unwrap();
        assert_eq!(e.prev, prev);
        let h = event_hash(
            e.seq,
            &e.ts,
            &e.actor,
            &e.kind,
            &e.subject,
            &e.payload.value(),
            &e.prev,
        )
        .unwrap();
        assert_eq!(h, e.hash);
        prev = Some(e.hash);
    }
    assert_eq!(text.lines().count(), 3);
}

#[test]
fn non_object_payload_is_refused() {
    let (_d, mut store) = store_with(0);
    let err = store
        .write(|tx| {
            append(
                tx,
                NewEvent {
                    actor: "a",
                    kind: "k",
                    subject: "s",
                    payload: json!([1]),
                },
                "t",
            )
        })
        .unwrap_err();
    assert_eq!(err.code(), "AUDIT_BAD_PAYLOAD");
    assert_eq!(count(store.conn()).unwrap(), 0);
}

/// Walks the chain `max` events at a time, as the desktop's verify badge does.
fn verify_in_chunks(conn: &Connection, max: u32) -> (AuditVerify, Vec<u64>) {
    let mut cursor = None;
    let mut progress = Vec::new();
    loop {
        let step = verify_step(conn, cursor.as_ref(), max).unwrap();
        progress.push(step.checked);
        if let Some(v) = step.verdict {
            return (v, progress);
        }
        cursor = step.cursor;
    }
}

#[test]
fn chunked_verification_reports_progress_and_the_same_verdict() {
    let (_d, store) = store_with(7);
    let (v, progress) = verify_in_chunks(store.conn(), 3);
    assert_eq!(v, verify(store.conn()).unwrap());
    assert!(v.ok);
    assert_eq!(progress, [3, 6, 7]);
    let first = verify_step(store.conn(), None, 3).unwrap();
    assert_eq!(first.total, 7);
    assert_eq!(first.cursor.as_ref().map(|c| c.last_seq), Some(3));
    // A chunk that ends exactly at the head still checks the head record.
    let (v, progress) = verify_in_chunks(store.conn(), 7);
    assert!(v.ok);
    assert_eq!(progress, [7, 7]);
}

#[test]
fn chunked_verification_names_the_same_first_bad_seq_for_every_tampering() {
    let cases: &[(&str, i64)] = &[
        ("UPDATE audit_events SET payload = '{\"i\":99}' WHERE seq = 5", 5),
        ("DELETE FROM audit_events WHERE seq = 4", 4),
        ("DELETE FROM audit_events WHERE seq = 7", 7),
        ("UPDATE audit_events SET actor = 'mallory' WHERE seq = 6", 6),
        ("UPDATE audit_events SET seq = 100 WHERE seq = 2; UPDATE audit_events SET seq = 2 WHERE seq = 3; UPDATE audit_events SET seq = 3 WHERE seq = 100;", 2),
        ("INSERT INTO audit_events VALUES (0, '2026-01-01T00:00:00Z', 'mallory', 'x', 'y', '{}', NULL, 'sha256:forged')", 0),
    ];
    for (sql, bad) in cases {
        let (_d, store) = store_with(7);
        tamper(&store, sql);
        let whole = verify(store.conn()).unwrap();
        assert_eq!(whole.first_bad_seq, Some(*bad), "{sql}");
        for max in [1, 2, 3, 4] {
            let (v, _) = verify_in_chunks(store.conn(), max);
            assert_eq!(v, whole, "{sql} in chunks of {max}");
        }
    }
}

#[test]
fn verify_hashes_the_stored_bytes_exactly_as_append_hashed_them() {
    // Strings JCS escapes (quotes, backslashes, control characters, non-ASCII, U+2028) and
    // payloads with nesting, numbers and key order to sort.
    let tricky = [
        "plain",
        "quote \" and backslash \\",
        "ctl \u{1} \u{1f} \t \n \r \u{8} \u{c}",
        "ünïcödé ✓ 😀 \u{2028}\u{2029} \u{7f}",
        "",
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.sqlite3")).unwrap();
    store
        .write(|tx| -> Result<(), AuditError> {
            for (i, s) in tricky.iter().enumerate() {
                let e = append(
                    tx,
                    NewEvent {
                        actor: s,
                        kind: s,
                        subject: s,
                        payload: json!({"z": [1, 2.5, -0.0, 1e21, {"b": s, "a": null}], "a": s, "i": i}),
                    },
                    s,
                )?;
                let mut buf = Vec::new();
                let payload_text = e.payload.text().to_string();
                assert_eq!(payload_text, canon::canonical_string(&e.payload.value()).unwrap());
                hashed_bytes(
                    &mut buf,
                    &StoredRow {
                        seq: e.seq,
                        ts: &e.ts,
                        actor: &e.actor,
                        kind: &e.kind,
                        subject: &e.subject,
                        payload_text: &payload_text,
                        prev: e.prev.as_deref(),
                    },
                )
                .unwrap();
                assert_eq!(canon::sha256_bytes(&buf), e.hash, "{s:?}");
            }
            Ok(())
        })
        .unwrap();
    assert!(verify(store.conn()).unwrap().ok);
}

#[test]
fn a_payload_made_non_canonical_is_named() {
    let (_d, store) = store_with(3);
    // Same meaning, other bytes: a space after the colon.
    tamper(
        &store,
        r#"UPDATE audit_events SET payload = '{"i": 1}' WHERE seq = 2"#,
    );
    let v = verify(store.conn()).unwrap();
    assert_eq!(v.first_bad_seq, Some(2));
    assert!(v.problem.unwrap().contains("not canonical"));
}

/// A listed event hands on its payload as the stored text (no tree built), which must still
/// serialize as the JSON object it is; a stored text that is not JSON (a damaged file) comes
/// out as a JSON string of it; one read back from JSON keeps the RFC 8785 text its hash covers.
#[test]
fn payload_is_handed_on_as_its_stored_json() {
    let (_d, store) = store_with(1);
    let e = &list(store.conn(), None, None).unwrap()[0];
    let line = serde_json::to_string(e).unwrap();
    let back: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(back["payload"], e.payload.value());
    assert!(back["payload"].is_object(), "{line}");
    assert!(
        line.contains(&format!("\"payload\":{}", e.payload.text())),
        "{line}"
    );

    let damaged = Payload::from_stored("{not json");
    assert_eq!(
        damaged.value(),
        serde_json::Value::String("{not json".into())
    );
    assert_eq!(damaged.text(), "\"{not json\"");

    let read: Payload = serde_json::from_str(r#"{ "b": 1, "a": [true, null] }"#).unwrap();
    assert_eq!(read.text(), r#"{"a":[true,null],"b":1}"#);
    assert_eq!(read.str_field("a"), None);
    let s = Payload::from_value(&serde_json::json!({"k": "v"})).unwrap();
    assert_eq!(s.str_field("k").as_deref(), Some("v"));
}
