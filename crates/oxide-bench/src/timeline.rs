//! `oxide-bench timeline`: a database of 1,000,000 audit events of a realistic mix (proposal
//! lifecycles: skills, admits, branches, validation runs, policy decisions, approvals,
//! promotions, binder ingests) appended through `audit::append` in big transactions, then in
//! the same run:
//!
//! - a 50-event page (`audit::query`) at the newest end, the oldest end, a random seq and with
//!   each filter, against the same rows read by a bare indexed SELECT through rusqlite
//!   (`WHERE seq IN (...)` on the primary key, values read as text; prepared once) —
//!   target ≤ 2× that reference, median;
//! - `audit::verify` of the million events against `sha256sum` over the JSON Lines export
//!   (`audit::export`) of the same events — target ≤ 2×.
//!
//! The database is cached under `target/oxide-bench/` (keyed by the generator and schema
//! versions), so a second run skips the build; `OXIDE_BENCH_REBUILD=1` forces it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oxide_core::audit::{self, Jump, NewEvent, Order, TimelineFilter, TimelineQuery};
use oxide_core::store::Store;
use rusqlite::params_from_iter;
use serde_json::json;

const EVENTS: u64 = 1_000_000;
/// Bump when the generated mix changes: the cached database is rebuilt.
const GENERATOR: u32 = 1;
const PAGE: u32 = 50;
const REPS: usize = 41;
const TX_EVENTS: u64 = 50_000;

const PERSONS: [&str; 10] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
];

/// splitmix64: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        while s.len() < n {
            s.push_str(&format!("{:016x}", self.next()));
        }
        s.truncate(n);
        s
    }
}

struct Gen {
    rng: Rng,
    /// Milliseconds since the start of the chain.
    t_ms: u64,
}

/// One event to append.
struct Ev {
    actor: String,
    kind: &'static str,
    subject: String,
    payload: serde_json::Value,
}

impl Gen {
    fn digest(&mut self) -> String {
        format!("sha256:{}", self.rng.hex(64))
    }

    fn transition(
        &mut self,
        actor: &str,
        id: &str,
        guard: &'static str,
        (from, to): (&str, &str),
        passed: bool,
        reason: Option<&str>,
    ) -> Ev {
        let kind: &'static str = match (guard, passed) {
            ("admit", _) => "workflow.admit",
            ("pass_validation", true) => "workflow.pass_validation",
            ("fail_validation", true) => "workflow.fail_validation",
            ("approve", true) => "workflow.approve",
            ("approve", false) => "workflow.approve.denied",
            ("deny", _) => "workflow.deny",
            ("promote", _) => "workflow.promote",
            _ => "workflow.supersede",
        };
        let inputs_digest = self.digest();
        Ev {
            actor: actor.into(),
            kind,
            subject: id.into(),
            payload: json!({
                "from": from, "to": to, "guard": guard,
                "outcome": if passed { "passed" } else { "denied" },
                "failure_reason_code": if guard == "fail_validation" { reason } else { None },
                "policy_reason_code": if guard == "deny" { reason } else { None },
                "inputs_digest": inputs_digest,
                "inputs": {"bundle_digest": format!("sha256:{}", self.rng.hex(64)), "synthesizer": "ollama"},
                "why": if passed { None } else { Some("not enough valid approvals") },
            }),
        }
    }

    /// One proposal's lifecycle (and now and then a skill, a binder ingest or a memory
    /// entry): 3 to 10 events.
    fn lifecycle(&mut self, out: &mut Vec<Ev>) {
        let person = PERSONS[self.rng.below(PERSONS.len() as u64) as usize].to_string();
        let id = self.rng.hex(12);
        if self.rng.chance(15) {
            let skill = self.rng.hex(12);
            let digest = self.digest();
            out.push(Ev {
                actor: person.clone(),
                kind: "skill.added",
                subject: skill,
                payload: json!({"digest": digest, "title": "Keep retries in config", "source": "host"}),
            });
        }
        out.push(self.transition(
            "oxide",
            &id,
            "admit",
            ("discovered", "proposed"),
            true,
            None,
        ));
        let head = self.rng.hex(40);
        let base = self.rng.hex(40);
        out.push(Ev {
            actor: "oxide".into(),
            kind: "gitops.branch_created",
            subject: id.clone(),
            payload: json!({"branch": format!("oxide/proposals/{id}"), "base_commit": base, "head_commit": head}),
        });
        let run_id = self.rng.hex(16);
        out.push(Ev {
            actor: person.clone(),
            kind: "checks.run_started",
            subject: id.clone(),
            payload: json!({"run_id": run_id, "commit": head, "checks": ["unit", "lint", "fmt"], "contract_at": base}),
        });
        if self.rng.chance(15) {
            let code = ["E_TEST", "E_LINT", "E_TIMEOUT", "E_BUILD"][self.rng.below(4) as usize];
            out.push(self.transition(
                &person,
                &id,
                "fail_validation",
                ("proposed", "failed_validation"),
                true,
                Some(code),
            ));
            return;
        }
        out.push(self.transition(
            &person,
            &id,
            "pass_validation",
            ("proposed", "validated"),
            true,
            None,
        ));
        let risk = ["low", "low", "medium", "high", "critical"][self.rng.below(5) as usize];
        let denied = self.rng.chance(10);
        let policy_digest = self.digest();
        out.push(Ev {
            actor: person.clone(),
            kind: "policy.decision",
            subject: id.clone(),
            payload: json!({
                "outcome": if denied { "denied" } else { "allowed" }, "risk": risk,
                "required": {"count": 1, "roles": ["approver"]},
                "policy_reason_code": if denied { Some("oxide.protected_path") } else { None },
                "failure_reason_code": null, "denials": [], "policy_digest": policy_digest,
            }),
        });
        if denied {
            out.push(self.transition(
                &person,
                &id,
                "deny",
                ("validated", "denied"),
                true,
                Some("oxide.protected_path"),
            ));
            return;
        }
        if self.rng.chance(10) {
            out.push(self.transition(
                &person,
                &id,
                "approve",
                ("validated", "approved"),
                false,
                None,
            ));
        }
        if self.rng.chance(75) {
            let approver = PERSONS[self.rng.below(PERSONS.len() as u64) as usize];
            out.push(self.transition(
                approver,
                &id,
                "approve",
                ("validated", "approved"),
                true,
                None,
            ));
            if self.rng.chance(80) {
                out.push(self.transition(
                    approver,
                    &id,
                    "promote",
                    ("approved", "promoted"),
                    true,
                    None,
                ));
            }
        }
        if self.rng.chance(5) {
            out.push(Ev {
                actor: "oxide".into(),
                kind: "binder.ingest",
                subject: format!("ci-run-{}", self.rng.hex(8)),
                payload: json!({"accepted": self.rng.below(5000), "duplicates": 0, "quarantined": self.rng.below(3)}),
            });
        }
        if self.rng.chance(2) {
            out.push(Ev {
                actor: person,
                kind: "memory.set",
                subject: "personality/tone".into(),
                payload: json!({"version": self.rng.below(100), "digest": self.digest()}),
            });
        }
    }
}

fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/oxide-bench")
        .components()
        .collect()
}

/// Builds (or reuses) the million-event database; returns its path and the build time (None
/// when cached).
fn database() -> Result<(PathBuf, Option<Duration>), String> {
    let dir = cache_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(format!(
        "timeline-{EVENTS}-g{GENERATOR}-s{}.sqlite3",
        oxide_core::store::known_schema_version()
    ));
    let done = path.with_extension("done");
    if done.exists() && std::env::var_os("OXIDE_BENCH_REBUILD").is_none() {
        return Ok((path, None));
    }
    for ext in ["sqlite3", "sqlite3-wal", "sqlite3-shm", "done"] {
        let _ = std::fs::remove_file(path.with_extension(ext));
    }
    eprintln!("timeline: building {} events in {}", EVENTS, path.display());
    let started = Instant::now();
    let mut store = Store::open(&path).map_err(|e| e.to_string())?;
    let start = oxide_core::clock::parse_ts("2025-06-01T00:00:00Z").ok_or("start time")?;
    let ts_at = |ms: u64| oxide_core::clock::format_ts(start + Duration::from_millis(ms));
    let mut gen = Gen {
        rng: Rng(0x0d15_ea5e),
        t_ms: 0,
    };
    let mut pending: Vec<Ev> = Vec::new();
    let mut written = 0u64;
    while written < EVENTS {
        let n = TX_EVENTS.min(EVENTS - written);
        store
            .write(|tx| -> Result<(), oxide_core::audit::AuditError> {
                for _ in 0..n {
                    if pending.is_empty() {
                        gen.lifecycle(&mut pending);
                        pending.reverse();
                        // Lifecycles start ~4 minutes apart; their events seconds apart.
                        gen.t_ms += 60_000 + gen.rng.below(360_000);
                    }
                    let ev = pending.pop().expect("a lifecycle has events");
                    gen.t_ms += 200 + gen.rng.below(20_000);
                    audit::append(
                        tx,
                        NewEvent {
                            actor: &ev.actor,
                            kind: ev.kind,
                            subject: &ev.subject,
                            payload: ev.payload,
                        },
                        &ts_at(gen.t_ms),
                    )?;
                }
                Ok(())
            })
            .map_err(|e| e.to_string())?;
        written += n;
        eprintln!(
            "timeline: {written} events ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
    }
    let took = started.elapsed();
    store
        .conn()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;")
        .map_err(|e| e.to_string())?;
    drop(store);
    std::fs::write(
        &done,
        format!("{EVENTS} events, built in {:.1} s\n", took.as_secs_f64()),
    )
    .map_err(|e| e.to_string())?;
    Ok((path, Some(took)))
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

struct Scenario {
    name: String,
    /// The query for round `i` (the random-seq scenario varies it).
    query: Box<dyn Fn(usize) -> TimelineQuery>,
}

/// One measured row: (scenario, events on the page, oxide median µs, reference median µs).
struct Measured {
    name: String,
    events: usize,
    ours_us: f64,
    ref_us: f64,
    plan: String,
}

const COLS: &str = "seq, ts, actor, kind, subject, payload, prev, hash";

/// The reference: the page's rows by primary key, every column read.
fn reference(conn: &rusqlite::Connection, seqs: &[i64]) -> Result<(Duration, usize), String> {
    let placeholders = vec!["?"; seqs.len().max(1)].join(", ");
    let started = Instant::now();
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLS} FROM audit_events WHERE seq IN ({placeholders})"
        ))
        .map_err(|e| e.to_string())?;
    let mut rows = stmt
        .query(params_from_iter(if seqs.is_empty() {
            vec![0i64]
        } else {
            seqs.to_vec()
        }))
        .map_err(|e| e.to_string())?;
    let mut n = 0usize;
    let mut sink = 0usize;
    while let Some(r) = rows.next().map_err(|e| e.to_string())? {
        let seq: i64 = r.get(0).map_err(|e| e.to_string())?;
        let mut cols: Vec<String> = Vec::with_capacity(6);
        for i in 1..=5 {
            cols.push(r.get(i).map_err(|e| e.to_string())?);
        }
        let prev: Option<String> = r.get(6).map_err(|e| e.to_string())?;
        let hash: String = r.get(7).map_err(|e| e.to_string())?;
        sink += seq as usize
            + cols.iter().map(String::len).sum::<usize>()
            + prev.map_or(0, |p| p.len())
            + hash.len();
        n += 1;
    }
    let took = started.elapsed();
    std::hint::black_box(sink);
    Ok((took, n))
}

fn measure(conn: &rusqlite::Connection, s: &Scenario) -> Result<Measured, String> {
    let mut ours = Vec::with_capacity(REPS);
    let mut refs = Vec::with_capacity(REPS);
    let mut events = 0;
    // One warm-up of each, then alternate.
    for i in 0..=REPS {
        let q = (s.query)(i);
        let started = Instant::now();
        let page = audit::query(conn, &q).map_err(|e| format!("{}: {e}", s.name))?;
        let took = started.elapsed();
        let seqs: Vec<i64> = page.events.iter().map(|e| e.seq).collect();
        let (ref_took, n) = reference(conn, &seqs)?;
        if n != seqs.len() && !seqs.is_empty() {
            return Err(format!(
                "{}: the reference read {n} rows, the page has {}",
                s.name,
                seqs.len()
            ));
        }
        if i > 0 {
            ours.push(took.as_secs_f64() * 1e6);
            refs.push(ref_took.as_secs_f64() * 1e6);
            events = seqs.len();
        }
    }
    let plan = oxide_core::audit::timeline::explain(conn, &(s.query)(0))
        .map_err(|e| e.to_string())?
        .join("; ");
    Ok(Measured {
        name: s.name.clone(),
        events,
        ours_us: median(&mut ours),
        ref_us: median(&mut refs),
        plan,
    })
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "dev profile (debug assertions; oxide crates unoptimized, dependencies at opt-level 2)"
    } else {
        "release profile"
    }
}

pub fn run() -> Result<(), String> {
    let (path, build) = database()?;
    let store = Store::open(&path).map_err(|e| e.to_string())?;
    let conn = store.conn();
    let total = audit::count(conn).map_err(|e| e.to_string())?;
    if total != EVENTS {
        return Err(format!(
            "{} holds {total} events, expected {EVENTS}; rerun with OXIDE_BENCH_REBUILD=1",
            path.display()
        ));
    }
    // Pick filter values from the data: a proposal in the middle, its time, a mid kind.
    let mid: (String, String) = conn
        .query_row(
            "SELECT subject, ts FROM audit_events WHERE seq = ?1",
            [EVENTS as i64 / 2],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(|e| e.to_string())?;
    let (subject, mid_ts) = mid;
    let day_start = format!("{}T00:00:00Z", &mid_ts[..10]);
    let day_end = {
        let d = oxide_core::audit::timeline::parse_time(&day_start).map_err(|e| e.to_string())?;
        oxide_core::clock::format_ts(d + Duration::from_secs(86_400))
    };
    let mut rng = Rng(42);
    let randoms: Vec<i64> = (0..=REPS).map(|_| 1 + rng.below(EVENTS) as i64).collect();
    let page = |f: TimelineFilter| -> Box<dyn Fn(usize) -> TimelineQuery> {
        Box::new(move |_| TimelineQuery {
            filter: f.clone(),
            limit: Some(PAGE),
            ..Default::default()
        })
    };
    let kinds = |ks: &[&str]| ks.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    let scenarios = vec![
        Scenario {
            name: "newest end".into(),
            query: page(TimelineFilter::default()),
        },
        Scenario {
            name: "oldest end".into(),
            query: Box::new(|_| TimelineQuery {
                order: Order::OldestFirst,
                limit: Some(PAGE),
                ..Default::default()
            }),
        },
        Scenario {
            name: "random seq (jump)".into(),
            query: Box::new(move |i| TimelineQuery {
                jump: Some(Jump::Seq(randoms[i])),
                limit: Some(PAGE),
                ..Default::default()
            }),
        },
        Scenario {
            name: "kind = workflow.promote".into(),
            query: page(TimelineFilter {
                kinds: kinds(&["workflow.promote"]),
                ..Default::default()
            }),
        },
        Scenario {
            name: "kind = memory.set (rare)".into(),
            query: page(TimelineFilter {
                kinds: kinds(&["memory.set"]),
                ..Default::default()
            }),
        },
        Scenario {
            name: "2 kinds (deny, fail_validation)".into(),
            query: page(TimelineFilter {
                kinds: kinds(&["workflow.deny", "workflow.fail_validation"]),
                ..Default::default()
            }),
        },
        Scenario {
            name: "actor = carol".into(),
            query: page(TimelineFilter {
                actor: Some("carol".into()),
                ..Default::default()
            }),
        },
        Scenario {
            name: "actor = carol + kind = workflow.approve".into(),
            query: page(TimelineFilter {
                actor: Some("carol".into()),
                kinds: kinds(&["workflow.approve"]),
                ..Default::default()
            }),
        },
        Scenario {
            name: format!("subject = {subject} (one proposal)"),
            query: page(TimelineFilter {
                subject: Some(subject.clone()),
                ..Default::default()
            }),
        },
        Scenario {
            name: "one day (since + until)".into(),
            query: page(TimelineFilter {
                since: Some(day_start.clone()),
                until: Some(day_end.clone()),
                ..Default::default()
            }),
        },
        Scenario {
            name: "search \"promote\"".into(),
            query: page(TimelineFilter {
                search: Some("promote".into()),
                ..Default::default()
            }),
        },
        Scenario {
            name: "search \"prom\" (prefix)".into(),
            query: page(TimelineFilter {
                search: Some("prom".into()),
                ..Default::default()
            }),
        },
        Scenario {
            name: format!("search \"{}\" (subject prefix)", &subject[..6]),
            query: page(TimelineFilter {
                search: Some(subject[..6].to_string()),
                ..Default::default()
            }),
        },
        Scenario {
            name: "search \"carol\" + kind = workflow.approve".into(),
            query: page(TimelineFilter {
                search: Some("carol".into()),
                kinds: kinds(&["workflow.approve"]),
                ..Default::default()
            }),
        },
    ];
    let mut measured = Vec::new();
    for s in &scenarios {
        let m = measure(conn, s)?;
        eprintln!(
            "timeline: {:<44} {:>3} events  {:>9.1} µs  ref {:>8.1} µs  {:.2}×",
            m.name,
            m.events,
            m.ours_us,
            m.ref_us,
            m.ours_us / m.ref_us
        );
        measured.push(m);
    }

    // Verify against sha256sum over the export.
    let export = cache_dir().join("timeline-export.jsonl");
    let started = Instant::now();
    let exported = audit::export(conn, &export).map_err(|e| e.to_string())?;
    let export_s = started.elapsed().as_secs_f64();
    let export_mb = std::fs::metadata(&export).map_err(|e| e.to_string())?.len() as f64 / 1e6;
    let mut sums = Vec::new();
    let mut verifies = Vec::new();
    for round in 0..4 {
        let started = Instant::now();
        let out = std::process::Command::new("sha256sum")
            .arg(&export)
            .output()
            .map_err(|e| format!("sha256sum: {e}"))?;
        let took = started.elapsed().as_secs_f64();
        if !out.status.success() {
            return Err("sha256sum failed".into());
        }
        let started = Instant::now();
        let v = audit::verify(conn).map_err(|e| e.to_string())?;
        let vtook = started.elapsed().as_secs_f64();
        if !v.ok || v.events != EVENTS {
            return Err(format!("verify of the bench database: {v:?}"));
        }
        if round > 0 {
            sums.push(took);
            verifies.push(vtook);
        }
        eprintln!("timeline: verify {vtook:.2} s, sha256sum {took:.2} s");
    }
    let _ = std::fs::remove_file(&export);
    let sum_s = median(&mut sums);
    let verify_s = median(&mut verifies);
    let verify_ratio = verify_s / sum_s;

    let fmt_us = |us: f64| {
        if us >= 1000.0 {
            format!("{:.2} ms", us / 1000.0)
        } else {
            format!("{us:.0} µs")
        }
    };
    let rows: Vec<Vec<String>> = measured
        .iter()
        .map(|m| {
            let ratio = m.ours_us / m.ref_us;
            vec![
                m.name.clone(),
                m.events.to_string(),
                fmt_us(m.ours_us),
                fmt_us(m.ref_us),
                format!("{ratio:.2}"),
                if ratio <= 2.0 {
                    "met".into()
                } else {
                    "MISSED".into()
                },
            ]
        })
        .collect();
    let plans: Vec<Vec<String>> = measured
        .iter()
        .map(|m| vec![m.name.clone(), format!("`{}`", m.plan)])
        .collect();
    let met = measured
        .iter()
        .filter(|m| m.ours_us / m.ref_us <= 2.0)
        .count();
    let db_mb = std::fs::metadata(&path).map_err(|e| e.to_string())?.len() as f64 / 1e6;
    let build_line = match build {
        Some(d) => format!(
            "built in this run in {:.0} s ({:.0} events/s through `audit::append`, {} events a transaction)",
            d.as_secs_f64(),
            EVENTS as f64 / d.as_secs_f64(),
            TX_EVENTS
        ),
        None => "reused from an earlier run (cached under target/oxide-bench/)".into(),
    };
    let body = format!(
        "## timeline — the audit timeline at 1,000,000 events\n\n\
         `cargo run --release -p oxide-bench -- timeline`, measured in the {profile}, 2 cores shared \
         with other work (load average {load} at the end). The database: {events} events of a \
         proposal-lifecycle mix (skills, admits, branches, validation runs, policy decisions, \
         approvals, promotions, binder ingests, memory) appended through `audit::append`, \
         {db_mb:.0} MB, {build_line}. **No audit checkpoints**: `signing::checkpoint::create` \
         (issue 12) was not on main when this was measured, so the chain has none.\n\n\
         Pages: `audit::query` for a 50-event page (newest first; the page, one row past it and \
         the probe for the other direction), against the same rows read by a bare indexed \
         SELECT through rusqlite (`WHERE seq IN (…)` on the primary key, every column read as \
         text, statement prepared once). Medians of {REPS} rounds. Target ≤ 2× the reference: \
         {met} of {n} met.\n\n{table}\n\
         Verify: `audit::verify` of the {events} events against `sha256sum` over the JSON Lines \
         export of the same events ({export_mb:.0} MB, written by `audit::export` in \
         {export_s:.1} s). Medians of 3 rounds after a warm-up (the export is in the page cache).\n\n{vtable}\n\
         Query plans (`EXPLAIN QUERY PLAN`):\n\n{ptable}",
        profile = build_profile(),
        load = load_average(),
        events = EVENTS,
        n = measured.len(),
        table = crate::report::table(
            &["page", "events", "audit::query", "bare SELECT", "ratio", "≤ 2×"],
            &rows
        ),
        vtable = crate::report::table(
            &["measure", "time", "ratio", "target"],
            &[
                vec![
                    "`audit::verify` (chain: links and hashes)".into(),
                    format!("{verify_s:.2} s"),
                    format!("{verify_ratio:.2}"),
                    format!("≤ 2× ({})", if verify_ratio <= 2.0 { "met" } else { "MISSED" }),
                ],
                vec![
                    format!("`sha256sum` of the export ({exported} lines)"),
                    format!("{sum_s:.2} s"),
                    "1".into(),
                    String::new(),
                ],
            ]
        ),
        ptable = crate::report::table(&["page", "plan"], &plans),
    );
    crate::report::write_section("timeline", &body)?;
    Ok(())
}
