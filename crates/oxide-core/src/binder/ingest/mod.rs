//! Ingestion: a streaming line reader with a size cap, per-line validation outside the
//! database on a parser thread that hands over batches of [`BATCH_LINES`] lines, then one
//! `BEGIN IMMEDIATE` transaction per window of [`WINDOW_LINES`] lines with cached prepared
//! statements. Capsule and condition changes are aggregated over the whole window and
//! applied, in the window's transaction, as order-independent upserts (sums, min, max), so a
//! committed window is always complete: its bindings together with their derivations. One
//! audit event opens the run and one closes it with the counts and the file digest.
//!
//! Layout: `read` (capped line reading and the file digest), `classify` (one line to a
//! binding or a rejection, with the gates/env memo), `intern` (capsule and condition keys,
//! their digests and ids), `writer` (a batch's rows and a window's aggregated upserts); this
//! file holds the options, the report and the threaded driver, [`ingest_reader`].

mod classify;
mod intern;
mod read;
mod writer;

use std::io::Read;

use rusqlite::params;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::envelope;
use super::BinderError;
use crate::audit::{self, NewEvent};
use crate::store::Store;
use crate::workspace::config::FallbackMode;

use classify::{classify, GatesEnvMemo, Outcome};
pub use intern::{capsule_codes, condition_key, upsert_key};
use intern::{CapsuleKey, ConditionKey, Interner};
use read::LineReader;
use writer::{insert_batch, write_window, Counts, StoredBatch, WriterKeys};

/// Longest accepted line in bytes; longer lines are quarantined without being buffered.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// Lines per batch handed from the parser thread to the writer (bounds memory in flight).
pub const BATCH_LINES: usize = 20_000;
/// Lines per transaction (and per capsule/condition aggregation window). Every binding costs
/// one INSERT, but a capsule or condition costs one UPDATE per window it is touched in, so
/// wider windows mean fewer writes; the width also bounds how long the ingest holds the write
/// lock (~2 s at this size), which other writers wait for within the store's busy timeout.
pub const WINDOW_LINES: usize = 200_000;

/// How to ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Where the lines come from, as shown in the quarantine (e.g. the file path).
    pub source: String,
    /// Who runs the ingest (audit actor).
    pub actor: String,
    /// The workspace's `[binder] fallback_mode`.
    pub fallback_mode: FallbackMode,
    /// The time recorded for the run and its quarantined lines.
    pub now: String,
    pub batch_lines: usize,
    /// Lines per transaction; rounded up to whole batches.
    pub window_lines: usize,
    pub max_line_bytes: usize,
}

impl IngestOptions {
    pub fn new(source: &str, actor: &str, fallback_mode: FallbackMode, now: &str) -> Self {
        IngestOptions {
            source: source.to_string(),
            actor: actor.to_string(),
            fallback_mode,
            now: now.to_string(),
            batch_lines: BATCH_LINES,
            window_lines: WINDOW_LINES,
            max_line_bytes: MAX_LINE_BYTES,
        }
    }
}

/// What one ingest did. `accepted + duplicates + quarantined + blank == lines`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct IngestReport {
    pub run: i64,
    pub source: String,
    /// `sha256:<hex>` of the file's bytes.
    pub source_digest: String,
    pub fallback_mode: String,
    pub lines: u64,
    /// Empty or whitespace-only lines (not envelopes).
    pub blank: u64,
    /// New bindings stored.
    pub accepted: u64,
    /// Lines already stored (same idempotency key and same content) or already quarantined.
    pub duplicates: u64,
    /// Lines newly quarantined.
    pub quarantined: u64,
    /// Of `duplicates`: lines that had been quarantined before.
    pub already_quarantined: u64,
    /// Capsules created or updated by this run.
    pub capsules_touched: u64,
    pub binder_version: i64,
    pub anomaly_triggers: String,
}

/// A batch handed from the parser to the writer.
struct Handoff {
    outcomes: Vec<Outcome>,
    /// Lines read so far (this batch included).
    lines: u64,
    /// The parser numbers keys afresh from this batch on (always at a window's start).
    fresh_ids: bool,
    /// Keys first used in this batch; their ids continue the numbering.
    capsule_keys: Vec<CapsuleKey>,
    condition_keys: Vec<ConditionKey>,
    /// The last batch of its window: the writer commits after it.
    ends_window: bool,
}

/// What the writer hands to the helper thread: a written batch's bindings, to free there
/// (freeing a batch's strings one by one was ~10 % of the writer thread), or word that a
/// window committed, so the WAL can be checkpointed.
enum Done {
    Batch(StoredBatch),
    WindowCommitted,
}

/// Ingests JSON Lines of envelopes from `reader`. See the module docs for the transactions.
#[tracing::instrument(name = "binder.ingest", skip_all, fields(source = %opts.source))]
pub fn ingest_reader<R: Read + Send>(
    store: &mut Store,
    reader: R,
    opts: &IngestOptions,
) -> Result<IngestReport, BinderError> {
    let mode = envelope::mode_str(opts.fallback_mode);
    let run: i64 = store.write(|tx| -> Result<i64, BinderError> {
        tx.execute(
            "INSERT INTO binder_ingest_runs (source, fallback_mode, status, started_at) VALUES (?1, ?2, 'running', ?3)",
            params![opts.source, mode, opts.now],
        )?;
        let run = tx.last_insert_rowid();
        audit::append(
            tx,
            NewEvent {
                actor: &opts.actor,
                kind: "binder.ingest_started",
                subject: &format!("binder-ingest:{run}"),
                payload: json!({"run": run, "source": opts.source, "fallback_mode": mode,
                                "binder_version": envelope::BINDER_VERSION}),
            },
            &opts.now,
        )?;
        Ok(run)
    })?;

    // A bigger page cache for this connection: capsule upserts hit a working set larger
    // than SQLite's 2 MB default.
    store.conn().pragma_update(None, "cache_size", -65_536)?;
    store.conn().pragma_update(None, "temp_store", "MEMORY")?;
    // Two stages on two threads: a parser (read, validate, normalize, fingerprint, key ids)
    // hands batches over a bounded channel to this thread, which writes them a window per
    // transaction. Memory stays bounded: at most two batches wait in the channel. A third
    // thread frees written batches and checkpoints the WAL after each window.
    let mut counts = Counts::default();
    let mut keys = WriterKeys::default();
    let (to_writer, batches) = std::sync::mpsc::sync_channel::<Handoff>(2);
    let batch_lines = opts.batch_lines.max(1);
    let window_lines = opts.window_lines.max(batch_lines);
    let (max_line_bytes, mode_in) = (opts.max_line_bytes, opts.fallback_mode);
    let checkpointer = store.checkpointer()?;
    let outcome = std::thread::scope(|scope| -> Result<String, BinderError> {
        // The CHECK constraints of the binder's tables guard other writers; every value this
        // ingest puts in a checked column is a closed Rust enum (signal, modes, derivation),
        // a string literal (capsule kind), a line number counted from 1 or a sum of positive
        // counts, so checking them again per row (~15 % of the writer's time) proves nothing.
        // `PRAGMA integrity_check` re-verifies them (tested). Both pragmas are restored below,
        // whatever the outcome.
        store
            .conn()
            .pragma_update(None, "ignore_check_constraints", true)?;
        let parser = scope.spawn(move || -> std::io::Result<String> {
            let _span = tracing::debug_span!("binder.parse").entered();
            let mut lines = LineReader::new(reader, max_line_bytes);
            let mut memo = GatesEnvMemo::default();
            let mut keys = Interner::default();
            let mut fresh_ids = true;
            let batches_per_window = window_lines.div_ceil(batch_lines);
            let mut batches_in_window = 0;
            let mut buf = Vec::with_capacity(4096);
            let mut n: u64 = 0;
            let mut outcomes = Vec::with_capacity(batch_lines);
            while let Some(raw) = lines.next_line(&mut buf)? {
                n += 1;
                outcomes.push(classify(raw, n, mode_in, &mut memo, &mut keys));
                if outcomes.len() >= batch_lines {
                    batches_in_window += 1;
                    let ends_window = batches_in_window == batches_per_window;
                    let (capsule_keys, condition_keys) = keys.new_keys();
                    let handoff = Handoff {
                        outcomes: std::mem::replace(&mut outcomes, Vec::with_capacity(batch_lines)),
                        lines: n,
                        fresh_ids: std::mem::take(&mut fresh_ids),
                        capsule_keys,
                        condition_keys,
                        ends_window,
                    };
                    if to_writer.send(handoff).is_err() {
                        // the writer stopped (its error is reported); stop reading
                        return Ok(String::new());
                    }
                    if ends_window {
                        batches_in_window = 0;
                        if keys.full() {
                            keys = Interner::default();
                            fresh_ids = true;
                        }
                    }
                }
            }
            if !outcomes.is_empty() {
                let (capsule_keys, condition_keys) = keys.new_keys();
                let _ = to_writer.send(Handoff {
                    outcomes,
                    lines: n,
                    fresh_ids,
                    capsule_keys,
                    condition_keys,
                    ends_window: true,
                });
            }
            Ok(lines.digest())
        });
        // Frees what each written batch leaves behind, so the writer does not, and after
        // each committed window checkpoints the WAL beside the writer.
        let (to_dropper, done) = std::sync::mpsc::channel::<Done>();
        let dropper = scope.spawn(move || {
            for d in done.iter() {
                match d {
                    Done::Batch(bindings) => drop(bindings),
                    Done::WindowCommitted => {
                        if let Err(e) = checkpointer.checkpoint() {
                            tracing::warn!(error = %e, "WAL checkpoint beside the ingest failed; SQLite checkpoints later");
                        }
                    }
                }
            }
        });
        let mut write_err = None;
        let mut incoming = batches.iter().peekable();
        while incoming.peek().is_some() {
            let _span = tracing::debug_span!("binder.window").entered();
            let r = store.write(|tx| -> Result<(), BinderError> {
                // until the parser marks the window's last batch (or the input ends)
                for mut handoff in incoming.by_ref() {
                    let _span =
                        tracing::debug_span!("binder.batch", lines = handoff.outcomes.len())
                            .entered();
                    counts.lines = handoff.lines;
                    if handoff.fresh_ids {
                        keys = WriterKeys::default();
                    }
                    keys.learn(handoff.capsule_keys, handoff.condition_keys);
                    let spent =
                        insert_batch(tx, opts, &mut handoff.outcomes, &mut counts, &mut keys)?;
                    let _ = to_dropper.send(Done::Batch(spent));
                    if handoff.ends_window {
                        break;
                    }
                }
                write_window(tx, &mut keys, &mut counts)?;
                tx.execute(
                    "UPDATE binder_ingest_runs SET lines = ?2, accepted = ?3, duplicates = ?4, quarantined = ?5 WHERE id = ?1",
                    params![run, counts.lines as i64, counts.accepted as i64, counts.duplicates as i64, counts.quarantined as i64],
                )?;
                Ok(())
            });
            match r {
                Ok(()) => {
                    let _ = to_dropper.send(Done::WindowCommitted);
                }
                Err(e) => {
                    write_err = Some(e);
                    break;
                }
            }
        }
        drop(incoming);
        drop(batches);
        drop(to_dropper);
        let _ = dropper.join();
        let parsed = parser.join().map_err(|_| BinderError::Read {
            source_name: opts.source.clone(),
            why: "the parser thread panicked".into(),
        })?;
        if let Some(e) = write_err {
            return Err(e);
        }
        parsed.map_err(|e| BinderError::Read {
            source_name: opts.source.clone(),
            why: e.to_string(),
        })
    });
    let checks_back = store
        .conn()
        .pragma_update(None, "ignore_check_constraints", false);
    let checkpoints_back = store.resume_auto_checkpoint();
    let source_digest = outcome?;
    checks_back?;
    checkpoints_back?;
    let report = IngestReport {
        run,
        source: opts.source.clone(),
        source_digest,
        fallback_mode: mode.to_string(),
        lines: counts.lines,
        blank: counts.blank,
        accepted: counts.accepted,
        duplicates: counts.duplicates,
        quarantined: counts.quarantined,
        already_quarantined: counts.already_quarantined,
        capsules_touched: counts.capsules_touched,
        binder_version: envelope::BINDER_VERSION,
        anomaly_triggers: envelope::ANOMALY_TRIGGERS_VERSION.to_string(),
    };
    store.write(|tx| -> Result<(), BinderError> {
        tx.execute(
            "UPDATE binder_ingest_runs SET status = 'complete', source_digest = ?2, finished_at = ?3 WHERE id = ?1",
            params![run, report.source_digest, opts.now],
        )?;
        audit::append(
            tx,
            NewEvent {
                actor: &opts.actor,
                kind: "binder.ingest",
                subject: &report.source_digest,
                payload: serde_json::to_value(&report).expect("report serializes"),
            },
            &opts.now,
        )?;
        Ok(())
    })?;
    tracing::info!(
        lines = report.lines,
        accepted = report.accepted,
        duplicates = report.duplicates,
        quarantined = report.quarantined,
        "binder ingest done"
    );
    Ok(report)
}
