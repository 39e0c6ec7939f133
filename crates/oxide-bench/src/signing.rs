//! `oxide-bench signing`: what signing costs.
//!
//! 1. Approval verification throughput: `signing::verify` over N stored envelopes (the JSON
//!    bytes as the database keeps them) with a committed-style registry of many persons,
//!    against the raw ed25519 `verify_strict` of the same signatures over the same PAE bytes
//!    with the same keys, in the same run (target: verify ≥ 0.8× the raw throughput).
//! 2. The cost of one approve through the core API with the real OS keyring: the person's key
//!    from the Secret Service, the envelope signed, stored, the two-person tally, the workflow
//!    transition and the signed audit checkpoint, on a real workspace. Without a Secret
//!    Service the benchmark says so and stops: it never measures a stand-in.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use oxide_core::signing::dsse;
use oxide_core::signing::keys::{openssh_public, SecretKey};
use oxide_core::signing::registry::Registry;
use oxide_core::signing::statement::{ApprovalPredicate, Decision, Statement};
use oxide_core::signing::verify::{verify_with, ApprovalStatus, Current, Ledger};

use crate::fixture::{err, git};
use crate::report;

const PERSONS: usize = 200;
const ENVELOPES: usize = 10_000;
const ROUNDS: usize = 7;

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A deterministic, bench-only seed (these keys never leave this process).
fn seed(i: usize) -> [u8; 32] {
    let mut s = [0u8; 32];
    for (k, b) in s.iter_mut().enumerate() {
        *b = (i.wrapping_mul(131) ^ k.wrapping_mul(29) ^ 0x5a) as u8;
    }
    s[0] = i as u8;
    s[1] = (i >> 8) as u8;
    s
}

fn current() -> Current {
    Current {
        proposal_id: "p-bench".into(),
        bundle_digest: format!("sha256:{}", "ab".repeat(32)),
        base_commit: "1".repeat(40),
        branch_commit: "2".repeat(40),
        result_tree: "3".repeat(40),
        policy_digest: format!("sha256:{}", "cd".repeat(32)),
        risk: "high".into(),
        validation_run: Some("run-1".into()),
        checks_digest: Some(format!("sha256:{}", "ef".repeat(32))),
    }
}

/// The fixed "now" of the verification corpus (verification is pure: time is an input).
const NOW: &str = "2026-06-01T12:00:00Z";
const ISSUED: &str = "2026-06-01T11:00:00Z";
const EXPIRES: &str = "2026-06-08T11:00:00Z";

struct Corpus {
    registry: Registry,
    envelopes: Vec<Vec<u8>>,
    keys: Vec<SecretKey>,
    ledger: Ledger,
}

fn corpus() -> Result<Corpus, String> {
    let keys: Vec<SecretKey> = (0..PERSONS)
        .map(|i| SecretKey::from_seed(&seed(i)))
        .collect();
    let mut toml = String::from("# bench registry\n");
    for (i, k) in keys.iter().enumerate() {
        let role = ["approver", "lead", "maintainer"][i % 3];
        toml.push_str(&format!(
            "\n[[person]]\nid = \"p{i:04}\"\nname = \"Person {i}\"\nroles = [\"{role}\"]\n\n[[person.keys]]\npublic = \"{}\"\nvalid_from = \"2026-01-01T00:00:00Z\"\n",
            openssh_public(&k.verifying_key(), &format!("p{i:04}"))
        ));
    }
    let registry = Registry::parse("bench approvers.toml", &toml).map_err(|e| e.to_string())?;
    let c = current();
    let mut envelopes = Vec::with_capacity(ENVELOPES);
    let mut nonce_uses = HashMap::new();
    for n in 0..ENVELOPES {
        let i = n % PERSONS;
        let nonce = hex(&seed(n + 1_000_000));
        nonce_uses.insert(nonce.clone(), 1);
        let predicate = ApprovalPredicate {
            decision: Decision::Approve,
            reason: String::new(),
            person: format!("p{i:04}"),
            role: ["approver", "lead", "maintainer"][i % 3].into(),
            base_commit: c.base_commit.clone(),
            branch_commit: c.branch_commit.clone(),
            result_tree: c.result_tree.clone(),
            policy_digest: c.policy_digest.clone(),
            validation_run: c.validation_run.clone().unwrap_or_default(),
            checks_digest: c.checks_digest.clone().unwrap_or_default(),
            risk: c.risk.clone(),
            issued_at: ISSUED.into(),
            expires_at: EXPIRES.into(),
            nonce,
        };
        let payload = Statement::new(&c.proposal_id, &c.bundle_digest, predicate).to_payload();
        let env = dsse::sign(dsse::PAYLOAD_TYPE, &payload, &keys[i]);
        envelopes.push(env.to_json().into_bytes());
    }
    Ok(Corpus {
        registry,
        envelopes,
        keys,
        ledger: Ledger {
            nonce_uses,
            local_revocations: HashMap::new(),
        },
    })
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Part 1; returns the report rows and the median ratio.
fn verification() -> Result<(String, f64), String> {
    let now = oxide_core::clock::parse_ts(NOW).ok_or("bad NOW")?;
    let c = corpus()?;
    let cur = current();
    // The reference's inputs, decoded ahead: (key, PAE bytes, signature) per envelope.
    let mut raw = Vec::with_capacity(c.envelopes.len());
    for (n, e) in c.envelopes.iter().enumerate() {
        let opened = dsse::open(e).map_err(|e| e.to_string())?;
        raw.push((
            c.keys[n % PERSONS].verifying_key(),
            dsse::pae(dsse::PAYLOAD_TYPE, &opened.payload),
            opened.signature,
        ));
    }
    // Every envelope must come out valid, or the comparison means nothing.
    let mut scratch = Vec::new();
    for (n, e) in c.envelopes.iter().enumerate() {
        let r = verify_with(e, &cur, &c.registry, now, &c.ledger, &mut scratch);
        if r.status != ApprovalStatus::Valid {
            return Err(format!("envelope {n} is {}: {:?}", r.status, r.problems));
        }
    }
    let (mut ox, mut rawt, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let run_oxide = |scratch: &mut Vec<u8>| {
            let t = Instant::now();
            for e in &c.envelopes {
                std::hint::black_box(verify_with(e, &cur, &c.registry, now, &c.ledger, scratch));
            }
            t.elapsed()
        };
        let run_raw = || {
            let t = Instant::now();
            for (k, pae, sig) in &raw {
                std::hint::black_box(k.verify_strict(pae, sig).is_ok());
            }
            t.elapsed()
        };
        // Alternate which goes first.
        let (o, r) = if round % 2 == 0 {
            let o = run_oxide(&mut scratch);
            (o, run_raw())
        } else {
            let r = run_raw();
            (run_oxide(&mut scratch), r)
        };
        ratios.push(r.as_secs_f64() / o.as_secs_f64());
        ox.push(o);
        rawt.push(r);
    }
    ratios.sort_by(f64::total_cmp);
    let ratio = ratios[ROUNDS / 2];
    let (o, r) = (median(&mut ox), median(&mut rawt));
    let per_s = |d: Duration| ENVELOPES as f64 / d.as_secs_f64();
    let met = if ratio >= 0.8 { "met" } else { "MISSED" };
    let table = report::table(
        &["", "per second", "µs per envelope", "median of rounds"],
        &[
            vec![
                "`signing::verify` (open + registry lookup + verify_strict + statement checks)"
                    .into(),
                format!("{:.0}", per_s(o)),
                format!("{:.1}", o.as_secs_f64() * 1e6 / ENVELOPES as f64),
                format!("{:.1} ms", o.as_secs_f64() * 1e3),
            ],
            vec![
                "reference: `VerifyingKey::verify_strict` of the same signatures over the same PAE"
                    .into(),
                format!("{:.0}", per_s(r)),
                format!("{:.1}", r.as_secs_f64() * 1e6 / ENVELOPES as f64),
                format!("{:.1} ms", r.as_secs_f64() * 1e3),
            ],
        ],
    );
    Ok((
        format!(
            "{table}\nThroughput ratio verify / raw (median of {ROUNDS} interleaved rounds): **{ratio:.2}** \
             (target ≥ 0.8: {met}; per-round {:.2}–{:.2}).\n",
            ratios[0],
            ratios[ROUNDS - 1]
        ),
        ratio,
    ))
}

const APPROVALS: usize = 12;

/// The `oxide` binary of the bench's own profile, for the set-up steps (not timed).
fn oxide_bin() -> Result<std::path::PathBuf, String> {
    let exe = std::env::current_exe().map_err(err("current exe"))?;
    let bin = exe.with_file_name("oxide");
    if !bin.exists() {
        return Err(format!(
            "{} is missing: build it first (cargo build --release --locked -p oxide-cli)",
            bin.display()
        ));
    }
    Ok(bin)
}

/// Part 2: `approval::sign` through the core API on a real workspace with the OS keyring.
fn approve_cost() -> Result<String, String> {
    use oxide_core::signing::keys;
    // No Secret Service, no numbers: say so and stop. The probe stores and deletes a
    // throw-away text entry (a lookup alone cannot tell "no entry" from "no keyring" before
    // the first item creates the default collection).
    let probe = format!("bench-probe:{}", std::process::id());
    let probed = oxide_core::signing::keyring::set_text(&probe, "probe")
        .and_then(|()| oxide_core::signing::keyring::delete(&probe));
    if let Err(e) = probed {
        return Err(format!(
            "no usable OS keyring (Secret Service), so the approve cost cannot be measured: {e}. \
             Run inside `dbus-run-session` with `gnome-keyring-daemon --unlock --components=secrets` \
             (as scripts/test does); nothing was measured or written"
        ));
    }
    let oxide = oxide_bin()?;
    let base = tempfile::tempdir().map_err(err("temp dir"))?;
    let repo = base.path().join("repo");
    let db = base.path().join("oxide.sqlite3");
    std::fs::create_dir_all(repo.join("src")).map_err(err("mkdir"))?;
    for i in 0..APPROVALS {
        std::fs::write(repo.join(format!("src/f{i}.txt")), format!("value = {i}\n"))
            .map_err(err("fixture"))?;
    }
    git(&repo, &["init", "-q", "-b", "main"])?;
    git(&repo, &["add", "-A"])?;
    git(&repo, &["commit", "-q", "-m", "initial"])?;
    let ox = |args: &[&str], actor: &str| -> Result<serde_json::Value, String> {
        let o = std::process::Command::new(&oxide)
            .arg("--workspace")
            .arg(&repo)
            .arg("--db")
            .arg(&db)
            .arg("--json")
            .args(args)
            .env("OXIDE_ACTOR", actor)
            .output()
            .map_err(err("run oxide"))?;
        if !o.status.success() {
            return Err(format!(
                "oxide {args:?}: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        serde_json::from_slice(&o.stdout).map_err(err("oxide --json"))
    };
    ox(&["init"], "bench")?;
    std::fs::write(
        repo.join(".oxide/checks.toml"),
        "[[check]]\nname = \"unit\"\nrun = [\"true\"]\nenv = [\"PATH\"]\ntimeout_s = 30\nrequired = true\n",
    )
    .map_err(err("checks.toml"))?;
    let person = format!("bench-{}", std::process::id());
    {
        // The person's key (keyring) and registry entry, through the core API.
        let ws = oxide_core::Workspace::open(&repo, Some(&db)).map_err(err("open workspace"))?;
        oxide_core::signing::admin::generate(&ws, &person, "bench")
            .map_err(err("keys generate"))?;
        oxide_core::signing::admin::approvers_add(
            &ws,
            &person,
            "Bench",
            &["approver".to_string()],
            None,
        )
        .map_err(err("approvers add"))?;
    }
    git(&repo, &["add", "-A"])?;
    git(&repo, &["commit", "-q", "-m", "governance"])?;
    let head = git(&repo, &["rev-parse", "HEAD"])?.trim().to_string();
    let mut ids = Vec::new();
    for i in 0..APPROVALS {
        let bundle = serde_json::json!({
            "schema_version": "oxide.proposal/v1",
            "skill_digest": format!("sha256:{:064x}", i + 1),
            "base": {"branch": "main", "commit": head},
            "intent": {"rationale": "bump", "risk_hints": [], "ops": [
                {"op": "text_edit", "path": format!("src/f{i}.txt"), "find": format!("value = {i}"), "replace": format!("value = {}", i + 100)}
            ]},
            "provenance": {"synthesizer": "manual", "model": null, "model_digest": null,
                           "options": null, "prompt_template_version": null,
                           "prompt_sha256": null, "response_sha256": null},
            "created_at": "2026-01-01T00:00:00Z"
        });
        let f = base.path().join(format!("b{i}.json"));
        std::fs::write(&f, bundle.to_string()).map_err(err("bundle"))?;
        let p = ox(
            &["proposal", "import", f.to_str().unwrap_or_default()],
            "bench",
        )?;
        let id = p["id"].as_str().ok_or("import gave no id")?.to_string();
        let v = ox(&["validate", &id], "bench")?;
        if v["state"] != "validated" {
            return Err(format!("validate {id}: {v}"));
        }
        ids.push(id);
    }

    // Timed: one approve each (key from the Secret Service, sign, store, tally, the
    // transition to `approved`, the signed audit checkpoint), then the pieces alone.
    let mut ws = oxide_core::Workspace::open(&repo, Some(&db)).map_err(err("open workspace"))?;
    let mut total = Vec::new();
    for id in &ids {
        let t = Instant::now();
        let rep = oxide_core::approval::sign(&mut ws, id, &person, Decision::Approve, "", "bench")
            .map_err(err("approve"))?;
        total.push(t.elapsed());
        std::hint::black_box(rep);
    }
    let state = ox(&["proposal", "show", &ids[0]], "bench")?;
    if state["state"] != "approved" {
        return Err(format!(
            "the timed approve did not approve: {}",
            state["state"]
        ));
    }
    let mut keyring_t = Vec::new();
    let mut checkpoint = Vec::new();
    for _ in 0..APPROVALS {
        let t = Instant::now();
        std::hint::black_box(keys::person_key(&person).map_err(err("keyring"))?);
        keyring_t.push(t.elapsed());
        let now = ws.clock().now();
        let t = Instant::now();
        std::hint::black_box(
            oxide_core::signing::checkpoint::create(ws.store().conn(), now)
                .map_err(err("checkpoint"))?,
        );
        checkpoint.push(t.elapsed());
    }
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
    let (mut t2, mut k2, mut c2) = (total.clone(), keyring_t.clone(), checkpoint.clone());
    t2.sort();
    let table = report::table(
        &["", "median", "fastest", "slowest"],
        &[
            vec![
                "`approval::sign` (one approve, end to end)".into(),
                ms(median(&mut total)),
                ms(t2[0]),
                ms(t2[t2.len() - 1]),
            ],
            vec![
                "of which: the person's key from the Secret Service (`keys::person_key`)".into(),
                ms(median(&mut k2)),
                ms(*keyring_t.iter().min().unwrap_or(&Duration::ZERO)),
                ms(*keyring_t.iter().max().unwrap_or(&Duration::ZERO)),
            ],
            vec![
                "of which: one signed audit checkpoint (`signing::checkpoint::create`)".into(),
                ms(median(&mut c2)),
                ms(*checkpoint.iter().min().unwrap_or(&Duration::ZERO)),
                ms(*checkpoint.iter().max().unwrap_or(&Duration::ZERO)),
            ],
        ],
    );
    // Leave no key behind in the keyring of whoever ran the bench.
    let _ =
        oxide_core::signing::keyring::delete(&oxide_core::signing::keyring::person_entry(&person));
    Ok(format!(
        "{APPROVALS} low-risk proposals of a real git repository (manual bundles, validated with one \
         required check), each approved once through the core API `approval::sign` with a person key \
         in gnome-keyring's Secret Service (D-Bus): facts gathered (bundle, branch, policy decision, \
         validation), key fetched, statement signed, envelope stored with its audit event, the \
         tally and the guarded transition to `approved` in one transaction, then the audit \
         checkpoint signed with the device key. The two pieces below were timed alone afterwards.\n\n{table}"
    ))
}

pub fn run() -> Result<(), String> {
    let load_before = load_average();
    let approve = approve_cost()?;
    let (verify_table, _ratio) = verification()?;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let body = format!(
        "## signing: approval verification and the cost of one approve\n\n\
         `cargo run --release -p oxide-bench -- signing` — measured a **{profile}** build, {cores} cores, \
         load average {load_before} at the start and {load_after} at the end.\n\n\
         ### Verification throughput\n\n\
         {ENVELOPES} approval envelopes (DSSE JSON bytes as stored, each one statement of ~900 bytes), \
         signed by {PERSONS} persons of a registry parsed from `approvers.toml` text; every one verifies \
         `valid` (checked before timing). `signing::verify` does everything `oxide verify` does per \
         envelope: parse, keyid lookup in the registry, strict ed25519 over the PAE, statement checks, \
         key standing, expiry, nonce, currency of every bound fact. The reference verifies the same \
         signatures with the same keys over the same PAE bytes, decoded ahead of time.\n\n\
         {verify_table}\n\
         ### One approve\n\n\
         {approve}",
        profile = profile(),
        load_after = load_average(),
    );
    report::write_section("signing", &body)?;
    print!("{body}");
    Ok(())
}
