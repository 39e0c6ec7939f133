//! `oxide-bench timeline`: a workspace with 1,000,000 audit events of a realistic mix
//! (proposal lifecycles: skills, admits, branches, validation runs, policy decisions,
//! approvals, promotions, binder ingests) appended through `audit::append` after `oxide init`,
//! with a signed audit checkpoint (`signing::checkpoint::create`, device key in the OS
//! keyring) every 1,000 events; then in the same run:
//!
//! - a 50-event page (`audit::query`) at the newest end, the oldest end, a random seq and with
//!   each filter, against the same rows read by a bare indexed SELECT through rusqlite (the
//!   filter written by hand as one statement served by the schema's indexes, values read as
//!   text, prepared once; rows checked equal) — target ≤ 2× that reference, median; also
//!   against the rows read by primary key given their seqs (a floor);
//! - `oxide audit verify` (the chain and every checkpoint) of the million events against
//!   `sha256sum` over the JSON Lines export (`audit::export`) of the same events — target ≤ 2×;
//! - the desktop app's Timeline: from the click that opens the view to its first page drawn
//!   (under Xvfb, through WebDriver as the desktop journeys drive the app).
//!
//! The workspace is cached under `target/oxide-bench/` (keyed by the generator and schema
//! versions), so a second run skips the build; `OXIDE_BENCH_REBUILD=1` forces it. Its
//! checkpoints need the same keyring: run inside a D-Bus session with gnome-keyring unlocked
//! and a fixed `XDG_DATA_HOME`: `scripts/bench timeline` does.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oxide_core::audit::{self, Jump, NewEvent, Order, TimelineFilter, TimelineQuery};
use oxide_core::clock::Clock;
use oxide_core::store::Store;
use rusqlite::params_from_iter;
use serde_json::json;

use crate::fixture::{err, git};

pub const EVENTS: u64 = 1_000_000;
/// Bump when the generated mix changes: the cached workspace is rebuilt.
const GENERATOR: u32 = 3;
const PAGE: u32 = 50;
const REPS: usize = 41;
/// Events per transaction; a signed checkpoint after each.
const CHECKPOINT_EVERY: u64 = 1_000;
/// Times the desktop Timeline is opened.
const OPENS: usize = 7;

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

pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/oxide-bench")
        .components()
        .collect()
}

/// The million-event workspace: a git repository after `oxide init` and its database.
pub struct BenchWorkspace {
    pub repo: PathBuf,
    pub db: PathBuf,
    /// The build time when it was built in this run (None: reused from the cache).
    pub built: Option<Duration>,
    /// The build resumed an interrupted one at this many events.
    pub resumed_from: Option<u64>,
}

/// Why the cached workspace cannot be reused, if it cannot.
fn stale(dir: &Path, db: &Path) -> Option<String> {
    if std::env::var_os("OXIDE_BENCH_REBUILD").is_some() {
        return Some("OXIDE_BENCH_REBUILD is set".into());
    }
    if !dir.join("done").exists() {
        return Some("no complete cached workspace".into());
    }
    device_key_missing(db)
}

/// Why this keyring cannot check (or extend) the database's checkpoints, if it cannot: they
/// are signed by a device key in the OS keyring, which a new keyring (another
/// XDG_DATA_HOME) does not hold.
fn device_key_missing(db: &Path) -> Option<String> {
    if !db.exists() {
        return Some("no database".into());
    }
    let store = match Store::open(db) {
        Ok(s) => s,
        Err(e) => return Some(format!("cannot open it: {e}")),
    };
    let keys = match oxide_core::signing::keys::list(store.conn()) {
        Ok(k) => k,
        Err(e) => return Some(format!("cannot list its keys: {e}")),
    };
    let Some(device) = keys
        .iter()
        .find(|k| k.purpose == oxide_core::signing::keys::KeyPurpose::Device)
    else {
        return Some("it has no device key (no checkpoints)".into());
    };
    let entry = oxide_core::signing::keyring::device_entry(&device.keyid);
    match oxide_core::signing::keyring::load_key(&entry) {
        Ok(Some(k)) if k.keyid() == device.keyid => None,
        Ok(_) => Some(format!(
            "this keyring does not hold its device key {} (run with the same XDG_DATA_HOME as the run that built it, e.g. target/oxide-bench/xdg)",
            device.keyid
        )),
        Err(e) => Some(format!("no keyring: {e}")),
    }
}

/// Builds (or reuses) the million-event workspace under `target/oxide-bench/`: `oxide init`
/// on a fresh repository, then the generated history through `audit::append`, a signed
/// checkpoint (`signing::checkpoint::create`, the device key in the OS keyring) after every
/// `CHECKPOINT_EVERY` events.
pub fn workspace() -> Result<BenchWorkspace, String> {
    let dir = cache_dir().join(format!(
        "timeline-{EVENTS}-g{GENERATOR}-s{}",
        oxide_core::store::known_schema_version()
    ));
    let repo = dir.join("repo");
    let db = dir.join("data").join("oxide.sqlite3");
    let why = match stale(&dir, &db) {
        None => {
            return Ok(BenchWorkspace {
                repo,
                db,
                built: None,
                resumed_from: None,
            })
        }
        Some(why) => why,
    };
    let start = oxide_core::clock::parse_ts("2025-06-01T00:00:00Z").ok_or("start time")?;
    // A build cut short (the keyring daemon once crashed mid-build) resumes when this keyring
    // still holds the device key: the chain and the last checkpoint are intact.
    let resume = std::env::var_os("OXIDE_BENCH_REBUILD").is_none()
        && !dir.join("done").exists()
        && device_key_missing(&db).is_none();
    if resume {
        eprintln!(
            "timeline: resuming the workspace in {} ({why})",
            dir.display()
        );
    } else {
        eprintln!(
            "timeline: building a workspace of {EVENTS} events in {} ({why})",
            dir.display()
        );
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(err("remove the stale workspace"))?;
        }
        std::fs::create_dir_all(&repo).map_err(err("create the repository dir"))?;
        std::fs::create_dir_all(db.parent().unwrap()).map_err(err("create the data dir"))?;
        git(&repo, &["init", "-q", "-b", "main"])?;
        std::fs::write(repo.join("README.md"), "bench\n").map_err(err("write README"))?;
        git(&repo, &["add", "."])?;
        git(&repo, &["commit", "-q", "-m", "start"])?;
        oxide_core::setup::init(&repo, Some(&db), "bench", Clock::fixed(start))
            .map_err(err("oxide init"))?;
    }

    let started = Instant::now();
    let mut store = Store::open(&db).map_err(err("open the database"))?;
    let at = |ms: u64| start + Duration::from_millis(ms);
    let mut total = audit::count(store.conn()).map_err(err("count"))?;
    let resumed_from = resume.then_some(total);
    let mut gen = Gen {
        rng: Rng(0x0d15_ea5e ^ total),
        t_ms: 60_000,
    };
    if resume {
        let (_, last) = audit::head(store.conn())
            .map_err(err("head"))?
            .ok_or("the resumed database is empty")?;
        let ev = audit::event(store.conn(), total as i64)
            .map_err(err("newest event"))?
            .ok_or(format!("no event {total} (head {last})"))?;
        let t = oxide_core::clock::parse_ts(&ev.ts).ok_or("the newest event's time")?;
        gen.t_ms = (t - start).whole_milliseconds().max(0) as u64 + 1000;
    }
    let mut pending: Vec<Ev> = Vec::new();
    let mut checkpoint_s = 0.0;
    while total < EVENTS {
        let n = CHECKPOINT_EVERY.min(EVENTS - total);
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
                        &oxide_core::clock::format_ts(at(gen.t_ms)),
                    )?;
                }
                Ok(())
            })
            .map_err(err("append"))?;
        // After the transaction, as the product does after a governance change. The first
        // one makes the device key, which appends its own event.
        let t = Instant::now();
        gen.t_ms += 1000;
        oxide_core::signing::checkpoint::create(store.conn(), at(gen.t_ms))
            .map_err(err("sign a checkpoint"))?;
        checkpoint_s += t.elapsed().as_secs_f64();
        total = audit::count(store.conn()).map_err(err("count"))?;
        if total % 50_000 < CHECKPOINT_EVERY + 2 {
            eprintln!(
                "timeline: {total} events ({:.0} s, of which checkpoints {checkpoint_s:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let took = started.elapsed();
    store
        .conn()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;")
        .map_err(err("checkpoint the WAL"))?;
    drop(store);
    std::fs::write(
        dir.join("done"),
        format!(
            "{total} events, built in {:.1} s (checkpoints {checkpoint_s:.1} s)\n",
            took.as_secs_f64()
        ),
    )
    .map_err(err("write the done marker"))?;
    Ok(BenchWorkspace {
        repo,
        db,
        built: Some(took),
        resumed_from,
    })
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// A statement and its parameters.
type Bare = (String, Vec<rusqlite::types::Value>);

struct Scenario {
    name: String,
    /// The query for round `i` (the random-seq scenario varies it).
    query: Box<dyn Fn(usize) -> TimelineQuery>,
    /// The reference for round `i`: the same page as one bare SELECT written by hand for this
    /// schema and its indexes (what a careful SQLite user would type), in one or more forms;
    /// the fastest form of each round counts.
    bare: Box<dyn Fn(usize) -> Vec<Bare>>,
}

/// One measured row: (scenario, events on the page, oxide median µs, reference median µs).
struct Measured {
    name: String,
    events: usize,
    ours_us: f64,
    /// The bare SELECT of the same filter (fastest form each round).
    ref_us: f64,
    /// The page's rows read by primary key, given their seqs (a lower bound: it is handed
    /// the answer).
    key_us: f64,
    plan: String,
    /// The reference's plan (its fastest form's).
    ref_plan: String,
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

/// Runs one bare statement, reading every column as text like [`reference`]; returns its time
/// and the seqs it read, in order.
fn bare_select(
    conn: &rusqlite::Connection,
    (sql, params): &Bare,
) -> Result<(Duration, Vec<i64>), String> {
    let started = Instant::now();
    let mut stmt = conn
        .prepare_cached(sql)
        .map_err(|e| format!("{sql}: {e}"))?;
    let mut rows = stmt
        .query(params_from_iter(params.iter()))
        .map_err(|e| e.to_string())?;
    let mut seqs = Vec::with_capacity(PAGE as usize);
    let mut sink = 0usize;
    while let Some(r) = rows.next().map_err(|e| e.to_string())? {
        let seq: i64 = r.get(0).map_err(|e| e.to_string())?;
        let mut cols: Vec<String> = Vec::with_capacity(6);
        for i in 1..=5 {
            cols.push(r.get(i).map_err(|e| e.to_string())?);
        }
        let prev: Option<String> = r.get(6).map_err(|e| e.to_string())?;
        let hash: String = r.get(7).map_err(|e| e.to_string())?;
        sink +=
            cols.iter().map(String::len).sum::<usize>() + prev.map_or(0, |p| p.len()) + hash.len();
        seqs.push(seq);
    }
    let took = started.elapsed();
    std::hint::black_box(sink);
    Ok((took, seqs))
}

fn measure(conn: &rusqlite::Connection, s: &Scenario) -> Result<Measured, String> {
    let mut ours = Vec::with_capacity(REPS);
    let mut refs = Vec::with_capacity(REPS);
    let mut keys = Vec::with_capacity(REPS);
    let mut events = 0;
    let forms = (s.bare)(0).len();
    let mut per_form: Vec<Vec<f64>> = vec![Vec::with_capacity(REPS); forms];
    // Every timed call follows the same call untimed, so each reads with its own pages in
    // SQLite's cache (a reference that scans half the table would otherwise evict the page's
    // pages before the next call, and a random seq's pages would be cold only for whichever
    // ran first); the order of the three alternates between rounds. Round 0 is a warm-up.
    for i in 0..=REPS {
        let q = (s.query)(i);
        let run_ours = || -> Result<(Duration, Vec<i64>), String> {
            audit::query(conn, &q).map_err(|e| format!("{}: {e}", s.name))?;
            let started = Instant::now();
            let page = audit::query(conn, &q).map_err(|e| format!("{}: {e}", s.name))?;
            let took = started.elapsed();
            Ok((took, page.events.iter().map(|e| e.seq).collect()))
        };
        let run_bare = |seqs: &[i64]| -> Result<Vec<f64>, String> {
            let mut times = Vec::new();
            for bare in (s.bare)(i).iter() {
                bare_select(conn, bare)?;
                let (t, got) = bare_select(conn, bare)?;
                if got != seqs {
                    return Err(format!(
                        "{}: the bare SELECT `{}` read other rows than the page ({} vs {} events; first {:?} vs {:?})",
                        s.name,
                        bare.0,
                        got.len(),
                        seqs.len(),
                        got.first(),
                        seqs.first()
                    ));
                }
                times.push(t.as_secs_f64() * 1e6);
            }
            Ok(times)
        };
        let run_key = |seqs: &[i64]| -> Result<f64, String> {
            reference(conn, seqs)?;
            let (t, n) = reference(conn, seqs)?;
            if n != seqs.len() && !seqs.is_empty() {
                return Err(format!(
                    "{}: the reference read {n} rows, the page has {}",
                    s.name,
                    seqs.len()
                ));
            }
            Ok(t.as_secs_f64() * 1e6)
        };
        let (took, seqs, forms_us, key_us) = if i % 2 == 0 {
            let (took, seqs) = run_ours()?;
            let f = run_bare(&seqs)?;
            let k = run_key(&seqs)?;
            (took, seqs, f, k)
        } else {
            // The references need the page's rows to check theirs against: read it untimed.
            let seqs: Vec<i64> = audit::query(conn, &q)
                .map_err(|e| format!("{}: {e}", s.name))?
                .events
                .iter()
                .map(|e| e.seq)
                .collect();
            let k = run_key(&seqs)?;
            let f = run_bare(&seqs)?;
            let (took, got) = run_ours()?;
            if got != seqs {
                return Err(format!("{}: the page changed between two reads", s.name));
            }
            (took, seqs, f, k)
        };
        if i > 0 {
            for (f, us) in forms_us.iter().enumerate() {
                per_form[f].push(*us);
            }
            ours.push(took.as_secs_f64() * 1e6);
            refs.push(forms_us.iter().cloned().fold(f64::MAX, f64::min));
            keys.push(key_us);
            events = seqs.len();
        }
    }
    let plan = oxide_core::audit::timeline::explain(conn, &(s.query)(0))
        .map_err(|e| e.to_string())?
        .join("; ");
    // The plan of the form that was fastest most often (by median).
    let fastest = (0..forms)
        .min_by(|a, b| {
            median(&mut per_form[*a].clone()).total_cmp(&median(&mut per_form[*b].clone()))
        })
        .unwrap_or(0);
    let (sql, params) = &(s.bare)(0)[fastest];
    let ref_plan = explain_bare(conn, sql, params)?;
    Ok(Measured {
        name: s.name.clone(),
        events,
        ours_us: median(&mut ours),
        ref_us: median(&mut refs),
        key_us: median(&mut keys),
        plan,
        ref_plan: format!("{sql} — {ref_plan}"),
    })
}

fn explain_bare(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[rusqlite::types::Value],
) -> Result<String, String> {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map(params_from_iter(params.iter()), |r| r.get::<_, String>(3))
        .map_err(|e| e.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    Ok(rows.join("; "))
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// A binary built next to this benchmark (`target/<profile>/<name>`), or `env`'s path.
pub fn sibling_bin(env: &str, name: &str) -> Result<PathBuf, String> {
    let p = match std::env::var_os(env) {
        Some(p) => PathBuf::from(p),
        None => std::env::current_exe()
            .map_err(err("where is oxide-bench"))?
            .with_file_name(name),
    };
    if !p.is_file() {
        return Err(format!(
            "{} is missing: build it with the same profile as oxide-bench (`cargo build --release --locked -p oxide-cli -p oxide-review -p oxide-bench`) or set {env}",
            p.display()
        ));
    }
    Ok(p)
}

/// Which build a binary is, from the directory cargo put it in.
pub fn build_of(bin: &Path) -> String {
    let profile = bin
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let what = match profile.as_str() {
        "release" => "release profile",
        "debug" => "dev profile (our crates unoptimized; the hot dependencies optimized)",
        _ => "unknown profile",
    };
    // Named relative to the target directory, so the report does not carry this machine's
    // checkout path.
    let shown = bin
        .ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == "target"))
        .and_then(|t| t.parent())
        .and_then(|root| bin.strip_prefix(root).ok())
        .unwrap_or(bin);
    format!("`{}` ({what})", shown.display())
}

/// Why the desktop app cannot be driven here, if it cannot (checked before starting it: the
/// journeys' launcher panics on a missing piece).
pub fn desktop_missing() -> Option<String> {
    if std::env::var_os("DISPLAY").is_none() {
        return Some("no DISPLAY (run under xvfb-run)".into());
    }
    let app = match sibling_bin("OXIDE_REVIEW_BIN", "oxide-review") {
        Ok(p) => p,
        Err(e) => return Some(e),
    };
    // The journeys' launcher finds the app through OXIDE_REVIEW_BIN.
    std::env::set_var("OXIDE_REVIEW_BIN", &app);
    if oxide_journeys::desktop::tauri_driver_bin().is_none() {
        return Some(
            "tauri-driver is not installed (`cargo install tauri-driver --locked`)".into(),
        );
    }
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("WebKitWebDriver").is_file()));
    if !on_path {
        return Some("WebKitWebDriver is not on PATH (Debian package webkit2gtk-driver)".into());
    }
    None
}

/// Starts the desktop app on the workspace (as the desktop journeys do) with its own XDG
/// folders under `xdg`, logging what `log` (an `OXIDE_LOG` filter) lets through.
pub fn launch(
    ws: &BenchWorkspace,
    xdg: &Path,
    name: &str,
    log: &str,
) -> oxide_journeys::desktop::DesktopApp {
    oxide_journeys::desktop::Launch::new(name)
        .env("OXIDE_WORKSPACE", &ws.repo)
        .env("OXIDE_DB", &ws.db)
        .env("XDG_DATA_HOME", xdg.join("data"))
        .env("XDG_CONFIG_HOME", xdg.join("config"))
        .env("OXIDE_LOG", log)
        .start()
}

/// The time from the click that opens the Timeline to its first page drawn (the
/// `oxide:timeline-drawn` mark the view sets on the second frame callback after the page
/// was rendered), `OPENS` times, each from the Inbox.
fn desktop_timeline(ws: &BenchWorkspace) -> Result<Vec<f64>, String> {
    let xdg = tempfile::tempdir().map_err(err("temp dir"))?;
    let app = launch(ws, xdg.path(), "bench-timeline", "warn");
    app.wait_for("the Inbox to be drawn", Duration::from_secs(120), || {
        app.execute(
            "return performance.getEntriesByName('oxide:inbox-drawn').length > 0 ? true : null;",
            &[],
        )
        .as_bool()
    });
    let mut opens = Vec::new();
    for i in 0..OPENS {
        app.click("nav-inbox");
        app.wait_for("the Inbox", Duration::from_secs(60), || {
            app.attr("app-shell", "data-view").filter(|v| v == "inbox")
        });
        // The click and the mark in the page's own clock: WebDriver's round trips not counted.
        app.execute(
            "performance.clearMarks('oxide:timeline-drawn'); performance.clearMarks('oxide:timeline-click'); \
             performance.mark('oxide:timeline-click'); \
             document.querySelector('[data-testid=\"nav-timeline\"]').click(); return true;",
            &[],
        );
        let ms = app.wait_for(
            "the Timeline's first page",
            Duration::from_secs(120),
            || {
                app.execute(
                    "const d = performance.getEntriesByName('oxide:timeline-drawn')[0]; \
                 const c = performance.getEntriesByName('oxide:timeline-click')[0]; \
                 return d && c ? d.startTime - c.startTime : null;",
                    &[],
                )
                .as_f64()
            },
        );
        let top = app
            .attr("vlist-viewport", "data-top-seq")
            .unwrap_or_default();
        eprintln!(
            "timeline: desktop open {}: {ms:.0} ms to the first page drawn (top seq {top})",
            i + 1
        );
        if top != EVENTS.to_string() {
            return Err(format!(
                "the Timeline opened at seq {top:?}, not at the newest event {EVENTS}"
            ));
        }
        opens.push(ms);
    }
    drop(app);
    Ok(opens)
}

fn median_of(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    median(&mut s)
}

/// Runs `cmd` `rounds` + 1 times (the first a warm-up); the medians of the rest, in seconds.
fn time_cmd(
    what: &str,
    rounds: usize,
    mut make: impl FnMut() -> std::process::Command,
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<f64, String> {
    let mut times = Vec::new();
    for round in 0..=rounds {
        let t = Instant::now();
        let out = make().output().map_err(err(what))?;
        let took = t.elapsed().as_secs_f64();
        if !out.status.success() {
            return Err(format!(
                "{what} failed: {}{}",
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out.stdout)
            ));
        }
        check(&String::from_utf8_lossy(&out.stdout))?;
        eprintln!("timeline: {what}: {took:.2} s");
        if round > 0 {
            times.push(took);
        }
    }
    Ok(median_of(&times))
}

pub fn run() -> Result<(), String> {
    let oxide = sibling_bin("OXIDE_BIN", "oxide")?;
    let ws = workspace()?;
    let store = Store::open(&ws.db).map_err(err("open the database"))?;
    let conn = store.conn();
    let total = audit::count(conn).map_err(err("count"))?;
    if total != EVENTS {
        return Err(format!(
            "{} holds {total} events, expected {EVENTS}; rerun with OXIDE_BENCH_REBUILD=1",
            ws.db.display()
        ));
    }
    let checkpoints = oxide_core::signing::checkpoint::list(conn)
        .map_err(err("list checkpoints"))?
        .len();
    // Pick filter values from the data: a promoted proposal in the middle (its whole
    // lifecycle: admit, branch, checks, validation, decision, approval, promotion), its time.
    let (subject, mid_ts): (String, String) = conn
        .query_row(
            "SELECT subject, ts FROM audit_events WHERE kind = 'workflow.promote' AND seq >= ?1 \
             ORDER BY seq LIMIT 1",
            [EVENTS as i64 / 2],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(err("read the middle event"))?;
    let day_start = format!("{}T00:00:00Z", &mid_ts[..10]);
    let day_end = {
        let d = oxide_core::audit::timeline::parse_time(&day_start).map_err(err("day"))?;
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
    // The hand-written references: every column, the newest 50 matching rows.
    use rusqlite::types::Value as V;
    let t = |s: &str| V::Text(s.to_string());
    let one = |sql: String, params: Vec<V>| -> Box<dyn Fn(usize) -> Vec<Bare>> {
        Box::new(move |_| vec![(sql.clone(), params.clone())])
    };
    let newest = |filter: &str| {
        format!("SELECT {COLS} FROM audit_events {filter} ORDER BY seq DESC LIMIT {PAGE}")
    };
    // FTS5 as its manual teaches: a prefix query, joined to the rows by rowid (= seq), or the
    // matching rowids first and then the rows.
    let fts = |m: String, extra: &str, extra_params: Vec<V>| -> Box<dyn Fn(usize) -> Vec<Bare>> {
        let join = format!(
            "SELECT e.seq, e.ts, e.actor, e.kind, e.subject, e.payload, e.prev, e.hash \
             FROM audit_fts JOIN audit_events e ON e.seq = audit_fts.rowid \
             WHERE audit_fts MATCH ?1{extra} ORDER BY audit_fts.rowid DESC LIMIT {PAGE}"
        );
        let sub_extra = extra.replace("e.", "");
        let sub = format!(
            "SELECT {COLS} FROM audit_events WHERE seq IN (SELECT rowid FROM audit_fts \
             WHERE audit_fts MATCH ?1){sub_extra} ORDER BY seq DESC LIMIT {PAGE}"
        );
        let mut params = vec![V::Text(m)];
        params.extend(extra_params);
        Box::new(move |_| {
            vec![
                (join.clone(), params.clone()),
                (sub.clone(), params.clone()),
            ]
        })
    };
    let rand_for_bare = randoms.clone();
    let scenarios = vec![
        Scenario {
            name: "newest end".into(),
            query: page(TimelineFilter::default()),
            bare: one(newest(""), vec![]),
        },
        Scenario {
            name: "oldest end".into(),
            query: Box::new(|_| TimelineQuery {
                order: Order::OldestFirst,
                limit: Some(PAGE),
                ..Default::default()
            }),
            bare: one(
                format!("SELECT {COLS} FROM audit_events ORDER BY seq ASC LIMIT {PAGE}"),
                vec![],
            ),
        },
        Scenario {
            name: "random seq (jump)".into(),
            query: Box::new(move |i| TimelineQuery {
                jump: Some(Jump::Seq(randoms[i])),
                limit: Some(PAGE),
                ..Default::default()
            }),
            bare: {
                let sql = newest("WHERE seq <= ?1");
                Box::new(move |i| vec![(sql.clone(), vec![V::Integer(rand_for_bare[i])])])
            },
        },
        Scenario {
            name: "kind = workflow.promote".into(),
            query: page(TimelineFilter {
                kinds: kinds(&["workflow.promote"]),
                ..Default::default()
            }),
            bare: one(newest("WHERE kind = ?1"), vec![t("workflow.promote")]),
        },
        Scenario {
            name: "kind = memory.set (rare)".into(),
            query: page(TimelineFilter {
                kinds: kinds(&["memory.set"]),
                ..Default::default()
            }),
            bare: one(newest("WHERE kind = ?1"), vec![t("memory.set")]),
        },
        Scenario {
            name: "2 kinds (deny, fail_validation)".into(),
            query: page(TimelineFilter {
                kinds: kinds(&["workflow.deny", "workflow.fail_validation"]),
                ..Default::default()
            }),
            bare: {
                let params = vec![t("workflow.deny"), t("workflow.fail_validation")];
                let in_list = newest("WHERE kind IN (?1, ?2)");
                let union = format!(
                    "SELECT {COLS} FROM audit_events WHERE kind = ?1 UNION ALL \
                     SELECT {COLS} FROM audit_events WHERE kind = ?2 \
                     ORDER BY seq DESC LIMIT {PAGE}"
                );
                Box::new(move |_| {
                    vec![
                        (in_list.clone(), params.clone()),
                        (union.clone(), params.clone()),
                    ]
                })
            },
        },
        Scenario {
            name: "actor = carol".into(),
            query: page(TimelineFilter {
                actor: Some("carol".into()),
                ..Default::default()
            }),
            bare: one(newest("WHERE actor = ?1"), vec![t("carol")]),
        },
        Scenario {
            name: "actor = carol + kind = workflow.approve".into(),
            query: page(TimelineFilter {
                actor: Some("carol".into()),
                kinds: kinds(&["workflow.approve"]),
                ..Default::default()
            }),
            bare: one(
                newest("WHERE actor = ?1 AND kind = ?2"),
                vec![t("carol"), t("workflow.approve")],
            ),
        },
        Scenario {
            name: format!("subject = {subject} (one proposal)"),
            query: page(TimelineFilter {
                subject: Some(subject.clone()),
                ..Default::default()
            }),
            bare: one(newest("WHERE subject = ?1"), vec![t(&subject)]),
        },
        Scenario {
            name: "one day (since + until)".into(),
            query: page(TimelineFilter {
                since: Some(day_start.clone()),
                until: Some(day_end.clone()),
                ..Default::default()
            }),
            bare: {
                // By time, or by the (day, kind) expression index.
                let range = newest("WHERE ts >= ?1 AND ts < ?2");
                let range_params = vec![t(&day_start), t(&day_end)];
                let by_day = newest("WHERE substr(ts, 1, 10) = ?1");
                let day_params = vec![t(&day_start[..10])];
                Box::new(move |_| {
                    vec![
                        (range.clone(), range_params.clone()),
                        (by_day.clone(), day_params.clone()),
                    ]
                })
            },
        },
        Scenario {
            name: "search \"promote\"".into(),
            query: page(TimelineFilter {
                search: Some("promote".into()),
                ..Default::default()
            }),
            bare: fts("\"promote\"*".into(), "", vec![]),
        },
        Scenario {
            name: "search \"prom\" (prefix)".into(),
            query: page(TimelineFilter {
                search: Some("prom".into()),
                ..Default::default()
            }),
            bare: fts("\"prom\"*".into(), "", vec![]),
        },
        Scenario {
            name: format!("search \"{}\" (subject prefix)", &subject[..6]),
            query: page(TimelineFilter {
                search: Some(subject[..6].to_string()),
                ..Default::default()
            }),
            bare: fts(format!("\"{}\"*", &subject[..6]), "", vec![]),
        },
        Scenario {
            name: "search \"carol\" + kind = workflow.approve".into(),
            query: page(TimelineFilter {
                search: Some("carol".into()),
                kinds: kinds(&["workflow.approve"]),
                ..Default::default()
            }),
            bare: fts(
                "\"carol\"*".into(),
                " AND e.kind = ?2",
                vec![t("workflow.approve")],
            ),
        },
    ];
    let mut measured = Vec::new();
    for s in &scenarios {
        let m = measure(conn, s)?;
        eprintln!(
            "timeline: {:<44} {:>3} events  {:>9.1} µs  bare {:>8.1} µs  {:.2}×  by key {:>8.1} µs  {:.2}×",
            m.name,
            m.events,
            m.ours_us,
            m.ref_us,
            m.ours_us / m.ref_us,
            m.key_us,
            m.ours_us / m.key_us
        );
        measured.push(m);
    }

    // The events-per-day chart (views::charts), counted in SQL over the (day, kind) index:
    // the last 30 days of the history and the whole of it.
    let (_, last_ts): (i64, String) = conn
        .query_row(
            "SELECT seq, ts FROM audit_events ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(err("read the newest event"))?;
    let month_ago = {
        let t = oxide_core::audit::timeline::parse_time(&last_ts).map_err(err("newest time"))?;
        oxide_core::clock::format_ts(t - Duration::from_secs(30 * 86_400))
    };
    let mut per_day = Vec::new();
    for (name, f) in [
        (
            "last 30 days".to_string(),
            TimelineFilter {
                since: Some(month_ago.clone()),
                ..Default::default()
            },
        ),
        ("the whole history".to_string(), TimelineFilter::default()),
    ] {
        let mut times = Vec::new();
        let mut counted = 0;
        let mut days = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let rows = audit::events_per_day(conn, &f).map_err(err("events per day"))?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
            counted = rows.iter().map(|r| r.count).sum::<u64>();
            days = rows
                .iter()
                .map(|r| r.day.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .len();
        }
        let plan = oxide_core::audit::timeline::explain_events_per_day(conn, &f)
            .map_err(err("explain events per day"))?
            .join("; ");
        eprintln!(
            "timeline: events per day, {name}: {counted} events over {days} days in {:.1} ms ({plan})",
            median_of(&times)
        );
        per_day.push(vec![
            name,
            counted.to_string(),
            days.to_string(),
            format!("{:.1} ms", median_of(&times)),
            format!("`{plan}`"),
        ]);
    }

    // `oxide audit verify` against sha256sum over the export of the same events.
    let export = cache_dir().join("timeline-export.jsonl");
    let started = Instant::now();
    let exported = audit::export(conn, &export).map_err(err("export"))?;
    let export_s = started.elapsed().as_secs_f64();
    let export_mb = std::fs::metadata(&export)
        .map_err(err("export size"))?
        .len() as f64
        / 1e6;
    let sum_s = time_cmd(
        "sha256sum of the export",
        3,
        || {
            let mut c = std::process::Command::new("sha256sum");
            c.arg(&export);
            c
        },
        |out| {
            if out.len() >= 64 {
                Ok(())
            } else {
                Err(format!("sha256sum said {out:?}"))
            }
        },
    )?;
    let verify_s = time_cmd(
        "oxide audit verify",
        3,
        || {
            let mut c = std::process::Command::new(&oxide);
            c.arg("--workspace").arg(&ws.repo).arg("--db").arg(&ws.db);
            c.args(["--json", "audit", "verify"]);
            c
        },
        |out| {
            let v: serde_json::Value = serde_json::from_str(out).map_err(err("verify output"))?;
            if v["ok"] != json!(true)
                || v["events"].as_u64() != Some(EVENTS)
                || v["checkpoints"].as_u64() != Some(checkpoints as u64)
            {
                return Err(format!(
                    "verify did not pass over {EVENTS} events and {checkpoints} checkpoints: {out}"
                ));
            }
            Ok(())
        },
    )?;
    let _ = std::fs::remove_file(&export);
    // Where the time goes: the chain alone, in this process.
    let mut chain = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let v = audit::verify(conn).map_err(err("verify the chain"))?;
        chain.push(t.elapsed().as_secs_f64());
        if !v.ok || v.events != EVENTS {
            return Err(format!("the chain of the bench workspace: {v:?}"));
        }
    }
    let chain_s = median_of(&chain);
    let verify_ratio = verify_s / sum_s;
    drop(store);

    // The desktop Timeline, same workspace.
    let desktop = match desktop_missing() {
        Some(why) => Err(why),
        None => Ok((
            desktop_timeline(&ws)?,
            sibling_bin("OXIDE_REVIEW_BIN", "oxide-review")?,
        )),
    };

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
                fmt_us(m.key_us),
                format!("{:.2}", m.ours_us / m.key_us),
            ]
        })
        .collect();
    let plans: Vec<Vec<String>> = measured
        .iter()
        .map(|m| {
            vec![
                m.name.clone(),
                format!("`{}`", m.plan),
                format!("`{}`", m.ref_plan),
            ]
        })
        .collect();
    let met = measured
        .iter()
        .filter(|m| m.ours_us / m.ref_us <= 2.0)
        .count();
    let db_mb = std::fs::metadata(&ws.db).map_err(err("db size"))?.len() as f64 / 1e6;
    let build_text = match ws.built {
        Some(d) => match ws.resumed_from {
            None => format!(
                "built in this run in {:.0} s ({:.0} events/s through `audit::append` and the checkpoints)",
                d.as_secs_f64(),
                EVENTS as f64 / d.as_secs_f64(),
            ),
            Some(n) => format!(
                "built in this run: {n} events by an earlier run cut short (gnome-keyring-daemon crashed), the other {} in {:.0} s",
                EVENTS - n,
                d.as_secs_f64()
            ),
        },
        None => "reused from an earlier run (cached under target/oxide-bench/)".into(),
    };
    let desktop_text = match &desktop {
        Ok((opens, app)) => format!(
            "Desktop: the app {build} on the same workspace under Xvfb, driven through WebDriver \
             as the desktop journeys drive it. Opening the Timeline from the Inbox {OPENS} times \
             in one app session; each time from the click on the Timeline tab to the \
             `oxide:timeline-drawn` mark (set on the second frame callback after the first page \
             was rendered, so the frame showing it was painted), both read in the page's own \
             clock. The page opens at the newest event (seq {EVENTS}, checked).\n\n{}",
            crate::report::table(
                &["measure", "time"],
                &[
                    vec![
                        "open the Timeline → first page drawn (median)".into(),
                        format!("{:.0} ms", median_of(opens)),
                    ],
                    vec![
                        "the first open in the session".into(),
                        format!("{:.0} ms", opens[0]),
                    ],
                    vec![
                        "slowest".into(),
                        format!("{:.0} ms", opens.iter().cloned().fold(0.0, f64::max)),
                    ],
                ],
            ),
            build = build_of(app),
        ),
        Err(why) => format!("Desktop: **SKIPPED** in this run: {why}.\n"),
    };
    let body = format!(
        "## timeline — the audit timeline at 1,000,000 events\n\n\
         `scripts/bench timeline` (release build; under Xvfb in a D-Bus session with \
         gnome-keyring unlocked); 2 cores shared with other work (load average {load} at the end). The workspace: `oxide init` on a git \
         repository, then {EVENTS} events in total of a proposal-lifecycle mix (skills, admits, \
         branches, validation runs, policy decisions, approvals, promotions, binder ingests, \
         memory) appended through `audit::append`, {CHECKPOINT_EVERY} a transaction, with a \
         signed audit checkpoint (`signing::checkpoint::create`: the device key and the witness \
         in gnome-keyring's Secret Service) after each transaction: {checkpoints} checkpoints; \
         {db_mb:.0} MB, {build_text}.\n\n\
         Pages: `audit::query` for a 50-event page (newest first; the page, one row past it, the \
         probe for the other direction; each event's payload handed on as its stored JSON), \
         against the same rows read by a bare indexed SELECT through rusqlite: the filter written \
         by hand as one statement for this schema and its indexes (`WHERE kind = ? ORDER BY seq \
         DESC LIMIT 50`; FTS5's prefix query `\"word\"*` joined by rowid, or its rowids first; \
         for two kinds `IN` or a `UNION ALL`; for a day `ts` bounds or the (day, kind) \
         expression index — where there are several forms, each round counts the fastest), \
         every column read as text, statements prepared once, and the rows checked equal to the \
         page's every round. Medians of {REPS} rounds. Target ≤ 2× the reference: {met} of {n} \
         met. The last two columns hold the page against its own rows read by primary key \
         (`WHERE seq IN (…)`, handed the seqs the page found: a floor no query can reach, as the \
         previous version of this benchmark measured).\n\n{table}\n\
         Verify: `oxide --json audit verify` ({oxide_build}: the chain's links and hashes, every \
         checkpoint's signature and root, the keyring's witness) of the {EVENTS} events against \
         `sha256sum` over the JSON Lines export of the same events ({export_mb:.0} MB, written \
         by `audit::export` in {export_s:.1} s). Medians of 3 runs after a warm-up (the \
         database and the export are in the page cache).\n\n{vtable}\n{desktop_text}\n\
         Charts: the events-per-day chart's numbers (`audit::events_per_day`, what the Charts \
         view asks for), counted by SQLite over the (day, kind) index; medians of 5.\n\n{ctable}\n\
         Query plans (`EXPLAIN QUERY PLAN`):\n\n{ptable}",
        load = load_average(),
        n = measured.len(),
        oxide_build = build_of(&oxide),
        table = crate::report::table(
            &[
                "page",
                "events",
                "audit::query",
                "bare SELECT",
                "ratio",
                "≤ 2×",
                "rows by key",
                "÷ by key"
            ],
            &rows
        ),
        vtable = crate::report::table(
            &["measure", "time", "÷ sha256sum", "target"],
            &[
                vec![
                    format!("`oxide audit verify` (chain + {checkpoints} checkpoints + witness)"),
                    format!("{verify_s:.2} s"),
                    format!("{verify_ratio:.2}"),
                    format!("≤ 2× ({})", if verify_ratio <= 2.0 { "met" } else { "MISSED" }),
                ],
                vec![
                    "of which the chain alone (`audit::verify`, in process)".into(),
                    format!("{chain_s:.2} s"),
                    format!("{:.2}", chain_s / sum_s),
                    String::new(),
                ],
                vec![
                    format!("`sha256sum` of the export ({exported} lines)"),
                    format!("{sum_s:.2} s"),
                    "1".into(),
                    String::new(),
                ],
            ]
        ),
        ptable = crate::report::table(&["page", "plan", "reference and its plan"], &plans),
        ctable = crate::report::table(&["window", "events", "days", "time", "plan"], &per_day),
    );
    crate::report::write_section("timeline", &body)?;
    print!("{body}");
    Ok(())
}
