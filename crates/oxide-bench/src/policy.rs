//! `oxide-bench policy`: the default Rego policy through regorus.
//!
//! 1. Evaluation time per proposal (target ≤ 1 ms), against a same-run reference: checking the
//!    same input document against the contract and digesting it (work every evaluation does
//!    anyway, without Rego).
//! 2. Replaying a 10,000-decision snapshot (target ≤ 5 s): decisions recorded in a real SQLite
//!    store, exported, read back and simulated under a changed threshold, against a same-run
//!    reference: reading and parsing the same snapshot without evaluating anything.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use oxide_core::policy::{self, PolicyInput, PolicySet};
use oxide_core::store::Store;
use serde_json::{json, Value};

use crate::report;

const DECISIONS: usize = 10_000;

fn input(i: usize) -> Value {
    // A spread of proposals: small edits, mid-sized and large changes, deletions, protected and
    // governance paths, O.X.I.D.E and manual provenance, failed checks, capsules.
    let lines = [1u64, 12, 40, 60, 90, 150, 300][i % 7];
    let mut ops = vec![
        json!({"op": "text_edit", "path": format!("src/mod{}/lib.rs", i % 13), "lines_added": lines, "lines_removed": lines / 2}),
    ];
    if i.is_multiple_of(5) {
        ops.push(json!({"op": "delete_file", "path": format!("src/old{}.rs", i % 17), "lines_added": 0, "lines_removed": 10}));
    }
    if i.is_multiple_of(11) {
        ops.push(json!({"op": "text_edit", "path": "src/auth/session.rs", "lines_added": 2, "lines_removed": 2}));
    }
    if i.is_multiple_of(23) {
        ops.push(json!({"op": "text_edit", "path": ".github/workflows/ci.yml", "lines_added": 1, "lines_removed": 1}));
    }
    let mut paths: Vec<String> = ops
        .iter()
        .map(|o| o["path"].as_str().unwrap().to_string())
        .collect();
    paths.sort();
    paths.dedup();
    let added: u64 = ops.iter().map(|o| o["lines_added"].as_u64().unwrap()).sum();
    let removed: u64 = ops
        .iter()
        .map(|o| o["lines_removed"].as_u64().unwrap())
        .sum();
    // The real-diff size facts (one file per touched path; a binary asset every 13th) and the
    // rolling windows of recent proposals, as `policy eval ID` hands them in.
    let files: Vec<Value> = ops
        .iter()
        .map(|o| {
            let (a, r) = (o["lines_added"].as_u64().unwrap(), o["lines_removed"].as_u64().unwrap());
            json!({"path": o["path"], "change": if o["op"] == "delete_file" { "deleted" } else { "modified" },
                   "lines_added": a, "lines_removed": r, "bytes_added": a * 38, "bytes_removed": r * 38,
                   "binary": false})
        })
        .chain(i.is_multiple_of(13).then(|| json!({"path": "assets/logo.png", "change": "modified",
            "lines_added": 21, "lines_removed": 20, "bytes_added": 4100, "bytes_removed": 3900, "binary": true})))
        .collect();
    let sum = |k: &str| files.iter().map(|f| f[k].as_u64().unwrap()).sum::<u64>();
    let size = json!({
        "files": files,
        "lines_added": sum("lines_added"), "lines_removed": sum("lines_removed"),
        "bytes_added": sum("bytes_added"), "bytes_removed": sum("bytes_removed"),
        "binary_files": files.iter().filter(|f| f["binary"] == true).count(),
        "files_deleted": files.iter().filter(|f| f["change"] == "deleted").count(),
        "base_files": 400, "base_bytes": 2_000_000, "max_line_bytes": 200
    });
    let window = |key: &str, n: usize| {
        json!({"key": key, "proposals": n, "ids": (0..n).map(|k| format!("w{k:03}")).collect::<Vec<_>>(),
               "lines_added": 30 * n, "lines_removed": 10 * n, "bytes_added": 1200 * n, "bytes_removed": 400 * n,
               "files_deleted": n / 4, "touched_paths": (0..n).map(|k| format!("src/mod{k}/lib.rs")).collect::<Vec<_>>(),
               "not_sized": 0})
    };
    json!({
        "version": policy::types::INPUT_VERSION,
        "window": {"days": 7, "max_proposals": 50, "skill": window("skill", i % 9),
                   "submitter": window("ana", i % 50)},
        "proposal": {
            "id": format!("p{i:05}"),
            "digest": format!("sha256:{:064x}", i),
            "state": "validated",
            "failure_reason_code": null,
            "ops": ops,
            "touched_paths": paths,
            "lines_added": added,
            "lines_removed": removed,
            "size": size,
            "risk_hints": []
        },
        "skill": {"digest": format!("sha256:{:064x}", i + 1), "source": "host", "submitted_by": "ana"},
        "provenance": {"synthesizer": if i.is_multiple_of(3) { "manual" } else { "ollama" }, "model": "llama3.2:latest", "model_digest": "abc"},
        "validation": {"ran": true, "checks": [
            {"name": "unit", "status": if i.is_multiple_of(19) { "failed" } else { "passed" }, "required": true},
            {"name": "lint", "status": "passed", "required": false}
        ]},
        "capsules": if i % 7 == 3 { json!([{
            "upsert_key": format!("sha256:{:064x}", 7), "target": {"kind": "path", "id": "src/mod3/**"},
            "action_kind": "edit", "failure_reason_code": "UNIT_FAILED", "eligible": true, "confidence": 0.8
        }]) } else { json!([]) },
        "actor": "bench",
        "settings": {"target_branch": "main", "rollout_mode": if i.is_multiple_of(2) { "guided" } else { "prescriptive" }, "fallback_mode": "strict"}
    })
}

fn default_policy() -> Result<PolicySet, String> {
    let mut files = BTreeMap::new();
    files.insert("oxide.rego".to_string(), policy::DEFAULT_POLICY.to_string());
    files.insert(
        "oxide_test.rego".to_string(),
        policy::DEFAULT_POLICY_TESTS.to_string(),
    );
    PolicySet::from_files(files).map_err(|e| e.to_string())
}

fn per_op(total: Duration, n: usize) -> f64 {
    total.as_secs_f64() * 1e6 / n as f64
}

/// Time this thread spent on a CPU (Linux `/proc/thread-self/schedstat`, nanoseconds): on a
/// shared, loaded machine wall time also counts waiting for a core.
fn cpu_now() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

/// CPU time of the whole process, all threads (`/proc/self/stat` utime + stime, 100 Hz ticks).
fn process_cpu() -> Duration {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command name; utime and stime are fields 14, 15.
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
            Some(Duration::from_millis(ticks * 10))
        })
        .unwrap_or_default()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

pub fn run() -> Result<(), String> {
    let set = default_policy()?;
    let sample: Vec<Value> = (0..200).map(input).collect();

    // ---- 1. per-proposal evaluation vs. contract check + digest of the same input.
    for v in &sample {
        let d = set.evaluate("warm", v);
        if d.is_policy_error() {
            return Err(format!("default policy failed closed: {:?}", d.denials));
        }
    }
    let load_before = load_average();
    let rounds = 10;
    let mut eval_times = Vec::new();
    let mut eval_cpu = Vec::new();
    let mut ref_times = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let c = cpu_now();
        for v in &sample {
            std::hint::black_box(set.evaluate("bench", v));
        }
        eval_cpu.push(cpu_now() - c);
        eval_times.push(t.elapsed());
        let t = Instant::now();
        for v in &sample {
            let typed: PolicyInput =
                serde_json::from_value(v.clone()).map_err(|e| e.to_string())?;
            std::hint::black_box(typed);
            std::hint::black_box(oxide_core::canon::digest(v).map_err(|e| e.to_string())?);
        }
        ref_times.push(t.elapsed());
    }
    eval_times.sort();
    eval_cpu.sort();
    ref_times.sort();
    let eval_cpu_us = per_op(eval_cpu[rounds / 2], sample.len());
    let eval_us = per_op(eval_times[rounds / 2], sample.len());
    let ref_us = per_op(ref_times[rounds / 2], sample.len());
    let eval_best_us = per_op(eval_times[0], sample.len());

    // ---- 2. 10,000 recorded decisions: record, export, replay under a raised threshold.
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut store = Store::open(&dir.path().join("bench.sqlite3")).map_err(|e| e.to_string())?;
    let t = Instant::now();
    store
        .write(|tx| -> Result<(), oxide_core::Error> {
            for i in 0..DECISIONS {
                let v = input(i);
                let d = set.evaluate(&format!("p{i:05}"), &v);
                policy::record(
                    tx,
                    Some(&format!("p{i:05}")),
                    &v,
                    &d,
                    "bench",
                    "2026-01-01T00:00:00.000Z",
                )?;
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    let record_time = t.elapsed();
    let snap = dir.path().join("snapshot.jsonl");
    let t = Instant::now();
    let n = policy::export_snapshot(store.conn(), &snap).map_err(|e| e.to_string())?;
    let export_time = t.elapsed();
    if n as usize != DECISIONS {
        return Err(format!("exported {n} decisions, expected {DECISIONS}"));
    }
    let mut raised_files = set.files().clone();
    let text = raised_files["oxide.rego"]
        .replace("medium_change_lines := 50", "medium_change_lines := 100");
    raised_files.insert("oxide.rego".into(), text);
    let raised = PolicySet::from_files(raised_files).map_err(|e| e.to_string())?;

    let t = Instant::now();
    let entries = policy::read_snapshot(&snap).map_err(|e| e.to_string())?;
    let read_time = t.elapsed();
    let t = Instant::now();
    let c = process_cpu();
    let entries2 = policy::read_snapshot(&snap).map_err(|e| e.to_string())?;
    let report_sim = policy::simulate(&raised, &entries2);
    let replay_cpu = process_cpu() - c;
    let replay_time = t.elapsed();
    let same = policy::simulate(&set, &entries);
    if same.changed != 0 {
        return Err(format!(
            "replay under the same policy changed {} decisions",
            same.changed
        ));
    }
    let bytes = std::fs::metadata(&snap).map(|m| m.len()).unwrap_or(0);

    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let body = format!(
        "## policy — Rego decisions through regorus\n\n\
         `cargo run --release -p oxide-bench -- policy` ({cores} cores, load average {load} at the\n\
         start, {when}). On-CPU time is this thread's time on a core (`/proc/thread-self/schedstat`);\n\
         wall time also counts waiting for one on the shared machine. The default policy\n\
         (`.oxide/policy/oxide.rego` as `oxide init` writes it), 200 varied proposal inputs\n\
         (1–300 changed lines, deletions, protected and governance paths, failed checks, capsules).\n\n\
         {t1}\n\
         Evaluation is {ratio1:.1}× the reference (contract check + RFC 8785 digest of the same input,\n\
         which every evaluation also does).\n\n\
         {t2}\n\
         The replay splits the snapshot over the available cores (contiguous chunks, results in\n\
         snapshot order). Replay is {ratio2:.1}× the reference (reading and parsing the same snapshot). {flips} of\n\
         {DECISIONS} decisions flip when `medium_change_lines` goes from 50 to 100; replaying under\n\
         the unchanged policy flips none.\n",
        when = oxide_core::Clock::system().now_rfc3339(),
        load = load_before,
        t1 = report::table(
            &["measure", "per proposal", "target", ""],
            &[
                vec!["policy evaluation, on-CPU (median of 10 rounds)".into(), format!("{:.0} µs", eval_cpu_us), "≤ 1 ms".into(), verdict(eval_cpu_us <= 1000.0).into()],
                vec!["policy evaluation, wall clock (median)".into(), format!("{:.0} µs", eval_us), "≤ 1 ms".into(), verdict(eval_us <= 1000.0).into()],
                vec!["policy evaluation (best round)".into(), format!("{:.0} µs", eval_best_us), String::new(), String::new()],
                vec!["reference: contract check + digest".into(), format!("{:.0} µs", ref_us), String::new(), String::new()],
            ],
        ),
        ratio1 = eval_us / ref_us,
        t2 = report::table(
            &["measure", "10,000 decisions", "target", ""],
            &[
                vec!["replay: read snapshot + simulate, wall clock".into(), format!("{:.2} s", replay_time.as_secs_f64()), "≤ 5 s".into(), verdict(replay_time.as_secs_f64() <= 5.0).into()],
                vec!["replay, CPU time of all threads".into(), format!("{:.2} s", replay_cpu.as_secs_f64()), "≤ 5 s".into(), verdict(replay_cpu.as_secs_f64() <= 5.0).into()],
                vec!["reference: read + parse snapshot".into(), format!("{:.2} s", read_time.as_secs_f64()), String::new(), String::new()],
                vec!["record (evaluate + insert + audit, one transaction)".into(), format!("{:.2} s", record_time.as_secs_f64()), String::new(), String::new()],
                vec![format!("snapshot export ({:.1} MB)", bytes as f64 / 1e6), format!("{:.2} s", export_time.as_secs_f64()), String::new(), String::new()],
            ],
        ),
        ratio2 = replay_time.as_secs_f64() / read_time.as_secs_f64(),
        flips = report_sim.changed,
    );
    print!("{body}");
    report::write_section("policy", &body)
}
