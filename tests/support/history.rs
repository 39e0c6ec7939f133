//! A long audit history for the Timeline journeys, written through oxide-core's own append
//! path (the same hashing, chaining and indexing as every room's events), in big
//! transactions so a hundred thousand events take seconds.

use std::path::Path;

use oxide_core::audit::{self, NewEvent};
use oxide_core::store::Store;
use serde_json::json;

/// Events per transaction.
const BATCH: u64 = 20_000;

/// The mix of kinds a busy repository records (weights out of 20): mostly validations,
/// checks and policy decisions, some transitions, binder ingests and skill intake.
const MIX: &[(&str, u64)] = &[
    ("workflow.validate", 3),
    ("checks.run_started", 4),
    ("policy.decision", 4),
    ("workflow.approve", 2),
    ("workflow.validate.denied", 1),
    ("gitops.branch_created", 2),
    ("binder.ingest", 2),
    ("skill.added", 1),
    ("memory.set", 1),
];

/// Appends `n` events of a realistic mix to the database at `db` (after whatever it holds),
/// one second apart from `start_unix`, about `subjects` (round robin, each a proposal id or
/// any subject) by a few actors. Returns the head's seq.
pub fn append_history(db: &Path, n: u64, subjects: &[String], start_unix: i64) -> i64 {
    assert!(!subjects.is_empty(), "name at least one subject");
    let mut store = Store::open(db).unwrap_or_else(|e| panic!("open {}: {e}", db.display()));
    let total: u64 = MIX.iter().map(|(_, w)| w).sum();
    let actors = ["alice", "bob", "oxide", "ci-bot"];
    let mut head = 0;
    let mut i = 0u64;
    while i < n {
        let upto = (i + BATCH).min(n);
        head = store
            .write(|tx| {
                let mut last = 0;
                for k in i..upto {
                    let mut pick = k % total;
                    let kind = MIX
                        .iter()
                        .find(|(_, w)| {
                            if pick < *w {
                                true
                            } else {
                                pick -= w;
                                false
                            }
                        })
                        .map(|(kind, _)| *kind)
                        .expect("the weights cover every pick");
                    let subject = &subjects[(k as usize) % subjects.len()];
                    let ts = unix_to_rfc3339(start_unix + k as i64);
                    let ev = audit::append(
                        tx,
                        NewEvent {
                            actor: actors[(k % 4) as usize],
                            kind,
                            subject,
                            payload: json!({"n": k, "note": "synthetic history for the timeline journey"}),
                        },
                        &ts,
                    )?;
                    last = ev.seq;
                }
                Ok::<i64, audit::AuditError>(last)
            })
            .unwrap_or_else(|e| panic!("append events {i}..{upto}: {e}"));
        i = upto;
    }
    head
}

/// `1970-01-01T00:00:00Z` + `secs`, as RFC 3339 (UTC).
pub fn unix_to_rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .expect("a time within the calendar")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("RFC 3339 formats every UTC time")
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_times_in_utc() {
        assert_eq!(super::unix_to_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            super::unix_to_rfc3339(1_795_000_000),
            "2026-11-18T11:06:40Z"
        );
    }
}
