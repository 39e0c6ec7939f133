//! One audit event as the desktop Timeline's detail shows it: the stored event, its payload as
//! the exact canonical (RFC 8785) text that was hashed, and the proposal it is about when its
//! subject names one.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::audit::{self, AuditError, AuditEvent};
use crate::{workflow, Error};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct EventDetail {
    pub event: AuditEvent,
    /// The payload's RFC 8785 text: the bytes that went into `hash`.
    pub canonical_payload: String,
    /// The proposal this event is about (its subject is a proposal's id), if any.
    pub proposal: Option<String>,
    /// The device whose chain holds the event: `None` = this database's own chain, else the
    /// keyid of a device received through sync.
    pub device: Option<String>,
}

/// The event `seq`, or `AUDIT_NO_SUCH_EVENT`.
pub fn event_detail(conn: &Connection, seq: i64) -> Result<EventDetail, Error> {
    let event = audit::list(conn, Some(seq.saturating_sub(1)), Some(1))?
        .into_iter()
        .find(|e| e.seq == seq)
        .ok_or(AuditError::NoSuchEvent(seq))?;
    let canonical_payload = audit::canonical_payload(&event)?;
    let proposal = workflow::rows::get(conn, &event.subject)?.map(|row| row.id);
    Ok(EventDetail {
        event,
        canonical_payload,
        proposal,
        device: None,
    })
}

/// Event `seq` of the chain received from `device` (the Timeline with a device chosen), or
/// `AUDIT_NO_SUCH_EVENT`.
pub fn device_event_detail(
    conn: &Connection,
    device: &str,
    seq: i64,
) -> Result<EventDetail, Error> {
    let event =
        audit::devices::device_event(conn, device, seq)?.ok_or(AuditError::NoSuchEvent(seq))?;
    let canonical_payload = audit::canonical_payload(&event)?;
    let proposal = workflow::rows::get(conn, &event.subject)?.map(|row| row.id);
    Ok(EventDetail {
        event,
        canonical_payload,
        proposal,
        device: Some(device.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::NewEvent;
    use crate::store::Store;
    use serde_json::json;

    #[test]
    fn names_the_canonical_payload_and_refuses_a_missing_seq() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.sqlite3")).unwrap();
        store
            .write(|tx| {
                audit::append(
                    tx,
                    NewEvent {
                        actor: "alice",
                        kind: "test.event",
                        subject: "not-a-proposal",
                        payload: json!({"b": 1, "a": [true, "x"]}),
                    },
                    "2026-01-01T00:00:00Z",
                )
            })
            .unwrap();
        let d = event_detail(store.conn(), 1).unwrap();
        assert_eq!(d.canonical_payload, r#"{"a":[true,"x"],"b":1}"#);
        assert_eq!(d.proposal, None);
        assert_eq!(d.event.seq, 1);
        assert_eq!(d.device, None, "this database's own chain");
        let e = event_detail(store.conn(), 2).unwrap_err();
        assert_eq!(e.code(), "AUDIT_NO_SUCH_EVENT");
        // The same event received from another device: named by that device's keyid.
        let ev = audit::list(store.conn(), None, None).unwrap();
        audit::devices::import_device_events(store.conn(), "dev1", &ev).unwrap();
        let r = device_event_detail(store.conn(), "dev1", 1).unwrap();
        assert_eq!(r.device.as_deref(), Some("dev1"));
        assert_eq!(r.canonical_payload, d.canonical_payload);
        assert_eq!(
            device_event_detail(store.conn(), "dev1", 2)
                .unwrap_err()
                .code(),
            "AUDIT_NO_SUCH_EVENT"
        );
        assert_eq!(
            device_event_detail(store.conn(), "dev2", 1)
                .unwrap_err()
                .code(),
            "AUDIT_NO_SUCH_EVENT"
        );
    }
}
