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
        let e = event_detail(store.conn(), 2).unwrap_err();
        assert_eq!(e.code(), "AUDIT_NO_SUCH_EVENT");
    }
}
