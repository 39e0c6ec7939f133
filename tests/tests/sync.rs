//! Issue 13 item 6: team sync through git (`oxide sync`, docs/sync.md), through the real
//! `oxide` binary, a bare repository and two clones — each with its own database, its own
//! data directories and its own keyring person (the approver's key is generated on clone 1,
//! the lead's on clone 2). Runs inside the test command's D-Bus session with an unlocked
//! gnome-keyring (scripts/test).
//!
//! Attacks: a forged approval that reaches clone 2 through an honest device (a local user of
//! clone 1 edited its database) and through a self-endorsed device; a tampered audit segment
//! and a forged checkpoint. Each is refused, reported and audited, and nothing counts.

use std::path::Path;

use oxide_journeys::signing::{random_hex32, statement_of, unique_person, who_i_am, Forget};
use oxide_journeys::{git, manual_bundle, Run, TestRepo};
use serde_json::{json, Value};

/// The required check runs on the host (`sandbox = false`): the default policy makes such a
/// proposal high risk (an approver and a lead).
const CHECKS: &str = "[[check]]\nname = \"unit\"\nrun = [\"true\"]\nenv = [\"PATH\"]\ntimeout_s = 30\nrequired = true\nsandbox = false\n";

struct Team {
    bare: tempfile::TempDir,
    c1: TestRepo,
    c2: TestRepo,
    /// Proposes on clone 1 (its who-I-am, so clone 1's device is endorsed by the author
    /// too): the approver and the lead the policy asks for are never the initiator.
    author: String,
    approver: String,
    lead: String,
    _forget: Forget,
}

fn ox(repo: &TestRepo, args: &[&str], actor: &str) -> Run {
    repo.oxide_env(args, &[("OXIDE_ACTOR", actor)])
}

fn keygen(repo: &TestRepo, person: &str) {
    ox(
        repo,
        &["--json", "keys", "generate", "--person", person],
        person,
    )
    .expect(0);
}

fn register(repo: &TestRepo, person: &str, role: &str) {
    ox(
        repo,
        &[
            "--json",
            "approvers",
            "add",
            "--person",
            person,
            "--name",
            person,
            "--role",
            role,
        ],
        person,
    )
    .expect(0);
}

fn commit_all(dir: &Path, msg: &str) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", msg]);
}

/// A bare repository; clone 1 (author and approver) made it, clone 2 (lead) cloned it; the
/// committed trust registry holds the three persons on both clones. Each clone's who-I-am
/// names its own person (the author on clone 1, the lead on clone 2).
fn team() -> Team {
    let author = unique_person("author");
    let approver = unique_person("approver");
    let lead = unique_person("lead");
    let forget = Forget(vec![author.clone(), approver.clone(), lead.clone()]);
    let c1 = TestRepo::with_files(&[
        ("README.md", "# team\n"),
        ("src/config.txt", "retries = 3\n"),
    ]);
    c1.init();
    std::fs::write(c1.path().join(".oxide/checks.toml"), CHECKS).unwrap();
    keygen(&c1, &author);
    register(&c1, &author, "approver");
    keygen(&c1, &approver);
    register(&c1, &approver, "approver");
    who_i_am(&c1, Some(&author));
    commit_all(c1.path(), "governance: checks, the author, the approver");
    let bare = tempfile::tempdir().unwrap();
    git(bare.path(), &["init", "-q", "--bare", "-b", "main"]);
    let url = format!("file://{}", bare.path().display());
    git(c1.path(), &["remote", "add", "origin", &url]);
    git(c1.path(), &["push", "-q", "origin", "main"]);
    git(
        c1.path(),
        &["branch", "-q", "--set-upstream-to=origin/main", "main"],
    );

    let c2 = TestRepo {
        dir: tempfile::tempdir().unwrap(),
        data: tempfile::tempdir().unwrap(),
    };
    git(c2.path(), &["clone", "-q", &url, "."]);
    c2.init();
    keygen(&c2, &lead);
    register(&c2, &lead, "lead");
    who_i_am(&c2, Some(&lead));
    commit_all(c2.path(), "governance: the lead");
    git(c2.path(), &["push", "-q", "origin", "main"]);
    git(c1.path(), &["pull", "-q", "--ff-only"]);
    Team {
        bare,
        c1,
        c2,
        author,
        approver,
        lead,
        _forget: forget,
    }
}

fn head(dir: &Path, rev: &str) -> String {
    git(dir, &["rev-parse", rev]).trim().to_string()
}

/// A high-risk proposal imported and validated on clone 1 (audit actor `tester`; initiator
/// the author, clone 1's who-I-am).
fn validated_on_c1(t: &Team) -> String {
    let b = manual_bundle(
        &head(t.c1.path(), "main"),
        &"ab".repeat(32),
        "raise retries",
        json!([{"op": "text_edit", "path": "src/config.txt", "find": "retries = 3", "replace": "retries = 5"}]),
        "2026-11-30T10:00:00Z",
    );
    let id = t.c1.import_bundle("change", &b);
    let v = t.c1.oxide(&["--json", "validate", &id]).expect(0).json();
    assert_eq!(v["state"], "validated", "{v:#}");
    let p =
        t.c1.oxide(&["--json", "policy", "eval", &id])
            .expect(0)
            .json();
    assert_eq!(p["risk"], "high", "{p:#}");
    id
}

fn sync(repo: &TestRepo, actor: &str) -> Value {
    ox(repo, &["--json", "sync"], actor).expect(0).json()
}

fn state(repo: &TestRepo, id: &str) -> String {
    repo.oxide(&["--json", "proposal", "show", id])
        .expect(0)
        .json()["state"]
        .as_str()
        .unwrap()
        .to_string()
}

fn approvals(repo: &TestRepo, id: &str) -> Vec<(String, String)> {
    repo.oxide(&["--json", "approvals", id]).expect(0).json()["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["person"].as_str().unwrap().to_string(),
                a["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn count(repo: &TestRepo, sql: &str) -> i64 {
    let db = rusqlite::Connection::open(repo.db()).unwrap();
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn refused(report: &Value) -> Vec<Value> {
    report["refused"].as_array().unwrap().clone()
}

fn audit_kinds(repo: &TestRepo, kind: &str) -> usize {
    repo.oxide(&["--json", "audit", "list", "--kind", kind])
        .expect(0)
        .json()["events"]
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn two_clones_meet_through_the_remote_and_the_promotion_wins() {
    let t = team();
    let id = validated_on_c1(&t);
    ox(
        &t.c1,
        &["--json", "approve", &id, "--person", &t.approver],
        &t.approver,
    )
    .expect(0);
    assert_eq!(state(&t.c1, &id), "validated");

    // Clone 1 publishes.
    let s1 = sync(&t.c1, &t.approver);
    assert!(s1["pushed"].as_u64().unwrap() >= 2, "{s1:#}");
    assert!(refused(&s1).is_empty(), "{s1:#}");
    let device1 = s1["device"].as_str().unwrap().to_string();
    let refs = git(
        t.bare.path(),
        &["for-each-ref", "--format=%(refname)", "refs/oxide/"],
    );
    assert!(
        refs.contains(&format!("refs/oxide/devices/{device1}/state")),
        "{refs}"
    );
    assert!(
        refs.contains(&format!("refs/oxide/devices/{device1}/branches/{id}")),
        "{refs}"
    );

    // Clone 2 receives the proposal, its validation and the approver's approval, verified.
    let s2 = sync(&t.c2, &t.lead);
    assert!(refused(&s2).is_empty(), "{s2:#}");
    assert_eq!(s2["received"]["proposals"], json!([id]), "{s2:#}");
    assert_eq!(
        s2["received"]["validations"].as_array().unwrap().len(),
        1,
        "{s2:#}"
    );
    assert_eq!(
        s2["received"]["approvals"].as_array().unwrap().len(),
        1,
        "{s2:#}"
    );
    assert_eq!(state(&t.c2, &id), "validated");
    assert_eq!(
        approvals(&t.c2, &id),
        vec![(t.approver.clone(), "valid".to_string())]
    );
    // Same proposal, same branch commit on both clones.
    assert_eq!(
        head(t.c1.path(), &format!("oxide/proposals/{id}")),
        head(t.c2.path(), &format!("oxide/proposals/{id}"))
    );
    // The approver's device chain is on clone 2, verifiable, in the merged timeline.
    let v = ox(
        &t.c2,
        &["--json", "audit", "verify", "--all-devices"],
        &t.lead,
    )
    .expect(0)
    .json();
    let devices = v["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1, "{v:#}");
    assert_eq!(devices[0]["device"], device1.as_str());
    assert_eq!(devices[0]["ok"], true, "{v:#}");
    let theirs =
        t.c2.oxide(&[
            "--json",
            "audit",
            "list",
            "--device",
            &device1,
            "--kind",
            "signing.approval",
        ])
        .expect(0)
        .json();
    assert_eq!(theirs["events"].as_array().unwrap().len(), 1, "{theirs:#}");
    let all =
        t.c2.oxide(&["--json", "audit", "list", "--all-devices"])
            .expect(0)
            .json();
    let devs: std::collections::BTreeSet<&str> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["device"].as_str().unwrap())
        .collect();
    assert_eq!(devs.len(), 2, "local and the approver's device: {devs:?}");

    // The lead approves and promotes on clone 2, then syncs (the target moves on the remote).
    ox(
        &t.c2,
        &["--json", "approve", &id, "--person", &t.lead],
        &t.lead,
    )
    .expect(0);
    assert_eq!(state(&t.c2, &id), "approved");
    let p = ox(
        &t.c2,
        &["--json", "promote", &id, "--person", &t.lead],
        &t.lead,
    )
    .expect(0)
    .json();
    assert_eq!(p["state"], "promoted", "{p:#}");
    let commit = p["commit"].as_str().unwrap().to_string();
    let s3 = sync(&t.c2, &t.lead);
    assert!(refused(&s3).is_empty(), "{s3:#}");
    assert!(
        s3["pushed_refs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "refs/heads/main"),
        "{s3:#}"
    );
    assert_eq!(head(t.bare.path(), "main"), commit);

    // Clone 1 syncs: the lead's approval arrives, and the remote's promotion is recorded.
    let s4 = sync(&t.c1, &t.approver);
    assert!(refused(&s4).is_empty(), "{s4:#}");
    assert_eq!(s4["promoted"], json!([id]), "{s4:#}");
    assert_eq!(state(&t.c1, &id), "promoted");
    assert_eq!(audit_kinds(&t.c1, "sync.promotion_received"), 1);

    // git verify-commit with the exported allowed_signers: a good signature.
    let signers =
        t.c1.oxide(&["keys", "export-allowed-signers"])
            .expect(0)
            .stdout;
    let f = t.c1.data.path().join("allowed_signers");
    std::fs::write(&f, signers).unwrap();
    git(t.c1.path(), &["fetch", "-q", "origin"]);
    let o = std::process::Command::new("git")
        .current_dir(t.c1.path())
        .args([
            "-c",
            &format!("gpg.ssh.allowedSignersFile={}", f.display()),
            "verify-commit",
            &commit,
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success() && err.contains("Good \"git\" signature"),
        "{err}"
    );

    // Idempotent: a second sync on each side moves nothing.
    let again = sync(&t.c1, &t.approver);
    assert_eq!(
        (again["pushed"].as_u64(), again["fetched"].as_u64()),
        (Some(0), Some(0)),
        "{again:#}"
    );
    let s5 = sync(&t.c2, &t.lead);
    assert!(refused(&s5).is_empty(), "{s5:#}");
    let again2 = sync(&t.c2, &t.lead);
    assert_eq!(
        (again2["pushed"].as_u64(), again2["fetched"].as_u64()),
        (Some(0), Some(0)),
        "{again2:#}"
    );
    assert_eq!(
        ox(&t.c1, &["--json", "audit", "verify", "--all-devices"], "x")
            .expect(0)
            .json()["ok"],
        true
    );
}

#[test]
fn a_second_sync_moves_nothing_and_approvals_merge_once() {
    let t = team();
    let id = validated_on_c1(&t);
    ox(
        &t.c1,
        &["--json", "approve", &id, "--person", &t.approver],
        &t.approver,
    )
    .expect(0);
    sync(&t.c1, &t.approver);
    let again = sync(&t.c1, &t.approver);
    assert_eq!(
        (again["pushed"].as_u64(), again["fetched"].as_u64()),
        (Some(0), Some(0)),
        "{again:#}"
    );

    let first = sync(&t.c2, &t.lead);
    assert_eq!(first["received"]["approvals"].as_array().unwrap().len(), 1);
    let events = count(&t.c2, "SELECT count(*) FROM audit_events");
    let second = sync(&t.c2, &t.lead);
    assert_eq!(
        (second["pushed"].as_u64(), second["fetched"].as_u64()),
        (Some(0), Some(0)),
        "{second:#}"
    );
    assert_eq!(second["received"]["approvals"], json!([]));
    assert_eq!(count(&t.c2, "SELECT count(*) FROM audit_events"), events);
    // Clone 2 republishes the approval it holds; clone 1 stores it once (union by nonce).
    let back = sync(&t.c1, &t.approver);
    assert!(refused(&back).is_empty(), "{back:#}");
    assert_eq!(count(&t.c1, "SELECT count(*) FROM approvals"), 1);
    assert_eq!(count(&t.c2, "SELECT count(*) FROM approvals"), 1);
    let quiet = sync(&t.c1, &t.approver);
    assert_eq!(
        (quiet["pushed"].as_u64(), quiet["fetched"].as_u64()),
        (Some(0), Some(0)),
        "{quiet:#}"
    );
}

/// A forged approval (signed with a key the registry does not hold, claiming the lead)
/// inserted into clone 1's database by a local user, then published by clone 1's honest
/// device: clone 2 refuses it, reports and audits it; it never counts.
#[test]
fn a_forged_approval_received_through_sync_is_refused_and_never_counts() {
    let t = team();
    let id = validated_on_c1(&t);
    let real = ox(
        &t.c1,
        &["--json", "approve", &id, "--person", &t.approver],
        &t.approver,
    )
    .expect(0)
    .json();
    let mut st = statement_of(&real["envelope"]);
    st["predicate"]["person"] = t.lead.clone().into();
    st["predicate"]["role"] = "lead".into();
    let nonce = random_hex32();
    st["predicate"]["nonce"] = nonce.clone().into();
    let seed = hex32_bytes(&random_hex32());
    let forged = sign_with_seed(&seed, &st);
    {
        let db = rusqlite::Connection::open(t.c1.db()).unwrap();
        db.execute(
            "INSERT INTO approvals (proposal_id, envelope, keyid, person, decision, nonce, bundle_digest,
                 issued_at, expires_at, stored_at, audit_seq)
             SELECT proposal_id, ?1, ?2, ?3, decision, ?4, bundle_digest, issued_at, expires_at, stored_at, audit_seq
             FROM approvals LIMIT 1",
            rusqlite::params![
                forged.to_string(),
                forged["signatures"][0]["keyid"].as_str().unwrap(),
                t.lead,
                nonce
            ],
        )
        .unwrap();
    }
    sync(&t.c1, &t.approver);
    let s2 = sync(&t.c2, &t.lead);
    let r = refused(&s2);
    assert_eq!(r.len(), 1, "{s2:#}");
    assert_eq!(r[0]["kind"], "approval");
    assert_eq!(r[0]["code"], "SYNC_APPROVAL_REFUSED");
    assert_eq!(r[0]["item"], format!("{id}/{nonce}"));
    assert!(
        r[0]["message"]
            .as_str()
            .unwrap()
            .contains("not in the committed trust registry"),
        "{s2:#}"
    );
    // Only the real approval is stored; the refusal is audited once, even when re-offered.
    assert_eq!(
        approvals(&t.c2, &id),
        vec![(t.approver.clone(), "valid".to_string())]
    );
    assert_eq!(audit_kinds(&t.c2, "sync.refused"), 1);
    let again = sync(&t.c2, &t.lead);
    assert_eq!(refused(&again).len(), 1);
    assert_eq!(audit_kinds(&t.c2, "sync.refused"), 1);
    // The lead's own approval is still missing: promote refuses with exit 3, nothing promoted.
    assert_eq!(state(&t.c2, &id), "validated");
    let main = head(t.c2.path(), "main");
    let p = ox(
        &t.c2,
        &["--json", "promote", &id, "--person", &t.lead],
        &t.lead,
    )
    .expect(3);
    assert!(!p.stdout.is_empty(), "{}", p.stderr);
    assert_eq!(head(t.c2.path(), "main"), main);
    assert_eq!(state(&t.c2, &id), "validated");
}

/// Clone 1 validates; a local user of clone 1 then rewrites the stored run with `sql` (its
/// device still endorses what it publishes), and clone 2 syncs. Returns the proposal id and
/// clone 2's sync report.
fn tampered_run_reaches_c2(t: &Team, sql: &str) -> (String, Value) {
    let id = validated_on_c1(t);
    {
        let db = rusqlite::Connection::open(t.c1.db()).unwrap();
        let n = db.execute(sql, []).unwrap();
        assert!(n >= 1, "the tampering changed nothing: {sql}");
    }
    let s1 = sync(&t.c1, &t.approver);
    assert!(refused(&s1).is_empty(), "{s1:#}");
    let s2 = sync(&t.c2, &t.lead);
    assert_eq!(s2["received"]["proposals"], json!([id]), "{s2:#}");
    (id, s2)
}

/// The one refusal of `report`: the run, as SYNC_RUN_INVALID, saying `why`.
fn run_refused(report: &Value, why: &str) {
    let r = refused(report);
    assert_eq!(r.len(), 1, "{report:#}");
    assert_eq!(r[0]["kind"], "validation", "{report:#}");
    assert_eq!(r[0]["code"], "SYNC_RUN_INVALID", "{report:#}");
    assert!(
        r[0]["message"].as_str().unwrap().contains(why),
        "wanted '{why}': {report:#}"
    );
    assert_eq!(
        report["received"]["validations"].as_array().unwrap().len(),
        0,
        "{report:#}"
    );
}

/// Finding: a peer's run named its own required check, which "passed", and the proposal
/// became validated. The run must be the contract committed here: refused, nothing stored,
/// the proposal stays proposed and promote refuses (exit 3) with nothing promoted.
#[test]
fn a_synced_run_with_a_self_invented_required_check_is_refused() {
    let t = team();
    let (id, s2) = tampered_run_reaches_c2(
        &t,
        "UPDATE check_results SET name = 'x', status = 'passed' WHERE name = 'unit'",
    );
    run_refused(
        &s2,
        "the contract committed on the target requires 'unit' (required)",
    );
    assert_eq!(state(&t.c2, &id), "proposed");
    assert_eq!(count(&t.c2, "SELECT count(*) FROM validation_runs"), 0);
    assert_eq!(count(&t.c2, "SELECT count(*) FROM check_results"), 0);
    assert_eq!(audit_kinds(&t.c2, "checks.run_imported"), 0);
    assert_eq!(audit_kinds(&t.c2, "sync.refused"), 1);
    // Offered again on the next sync: refused again, still nothing stored.
    let again = sync(&t.c2, &t.lead);
    assert_eq!(refused(&again).len(), 1, "{again:#}");
    assert_eq!(state(&t.c2, &id), "proposed");
    let main = head(t.c2.path(), "main");
    let p = ox(
        &t.c2,
        &["--json", "promote", &id, "--person", &t.lead],
        &t.lead,
    )
    .expect(3);
    assert!(!p.stdout.is_empty(), "{}", p.stderr);
    assert_eq!(head(t.c2.path(), "main"), main);
    assert_eq!(state(&t.c2, &id), "proposed");
    assert_eq!(count(&t.c2, "SELECT count(*) FROM promotions"), 0);
}

/// A run that demotes the contract's required check to advisory (so that its failure would
/// not count) is refused: the required flags are the committed contract's.
#[test]
fn a_synced_run_demoting_a_required_check_to_advisory_is_refused() {
    let t = team();
    let (id, s2) = tampered_run_reaches_c2(
        &t,
        "UPDATE check_results SET required = 0 WHERE name = 'unit'",
    );
    run_refused(&s2, "ran the checks 'unit' (advisory)");
    assert_eq!(state(&t.c2, &id), "proposed");
    assert_eq!(count(&t.c2, "SELECT count(*) FROM validation_runs"), 0);
}

/// The `sandboxed` fact the policy reads must be the committed contract's (`sandbox = false`
/// here: high risk), never what the peer's envelope claims (sandboxed would make it low risk).
#[test]
fn a_synced_run_claiming_a_sandbox_the_contract_does_not_give_changes_no_policy_input() {
    let t = team();
    let (id, s2) = tampered_run_reaches_c2(
        &t,
        "UPDATE check_results SET envelope = json_set(envelope, '$.env.sandbox', json('true'))
         WHERE name = 'unit'",
    );
    run_refused(
        &s2,
        "claims sandbox = true, but the contract committed on the target says sandbox = false",
    );
    assert_eq!(state(&t.c2, &id), "proposed");
    assert_eq!(count(&t.c2, "SELECT count(*) FROM check_results"), 0);
    // Before any run: the policy input holds no check at all.
    let before = ox(&t.c2, &["--json", "policy", "eval", &id], &t.lead).expect(3);
    assert_eq!(
        before.json()["input"]["validation"]["checks"],
        json!([]),
        "{}",
        before.stdout
    );
    // Validated here under the committed contract: the policy sees it unsandboxed (high risk).
    let v = t.c2.oxide(&["--json", "validate", &id]).expect(0).json();
    assert_eq!(v["state"], "validated", "{v:#}");
    assert_eq!(count(&t.c2, "SELECT count(*) FROM validation_runs"), 1);
    let d = ox(&t.c2, &["--json", "policy", "eval", &id], &t.lead)
        .expect(0)
        .json();
    let checks = d["input"]["validation"]["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 1, "{d:#}");
    assert_eq!(checks[0]["sandboxed"], false, "{d:#}");
    assert_eq!(d["risk"], "high", "{d:#}");
}

/// An attacker with push access publishes a device of their own: a self-made endorsement
/// (their key is not in the registry) carrying a "lead" approval. Refused; nothing of it used.
#[test]
fn a_self_endorsed_device_is_refused_with_everything_it_carries() {
    let t = team();
    let id = validated_on_c1(&t);
    ox(
        &t.c1,
        &["--json", "approve", &id, "--person", &t.approver],
        &t.approver,
    )
    .expect(0);
    sync(&t.c1, &t.approver);
    sync(&t.c2, &t.lead);
    // The attacker copies clone 1's published state, swaps in their own endorsement and a
    // forged approval, and pushes it under a device id of their own.
    let bare = git2::Repository::open_bare(t.bare.path()).unwrap();
    let state_ref = bare
        .references_glob("refs/oxide/devices/*/state")
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let tree = state_ref.peel_to_commit().unwrap().tree().unwrap();
    let attacker = hex32_bytes(&random_hex32());
    let endorsement = blob_text(&bare, &tree, "endorsement.json");
    let mut st = statement_of(&serde_json::from_str(&endorsement).unwrap());
    st["predicate"]["person"] = t.lead.clone().into();
    let fake_endorsement = sign_with_seed(&attacker, &st);
    let fake_device = "f".repeat(64);
    let new_tree = replace_files(
        &bare,
        &tree,
        &[("endorsement.json", fake_endorsement.to_string())],
    );
    let sig = git2::Signature::now("mallory", "m@example.invalid").unwrap();
    let c = bare
        .commit(
            None,
            &sig,
            &sig,
            "forged",
            &bare.find_tree(new_tree).unwrap(),
            &[],
        )
        .unwrap();
    bare.reference(
        &format!("refs/oxide/devices/{fake_device}/state"),
        c,
        true,
        "forged",
    )
    .unwrap();
    let before = count(&t.c2, "SELECT count(*) FROM approvals");
    let s = sync(&t.c2, &t.lead);
    let r = refused(&s);
    assert!(
        r.iter().any(|x| x["kind"] == "endorsement"
            && x["device"] == fake_device.as_str()
            && x["code"] == "SYNC_ENDORSEMENT_INVALID"),
        "{s:#}"
    );
    assert_eq!(count(&t.c2, "SELECT count(*) FROM approvals"), before);
    assert_eq!(
        count(
            &t.c2,
            &format!("SELECT count(*) FROM audit_device_events WHERE device = '{fake_device}'")
        ),
        0
    );
    assert_eq!(
        count(
            &t.c2,
            &format!("SELECT count(*) FROM sync_devices WHERE device_keyid = '{fake_device}'")
        ),
        0
    );
}

/// A device state with more files than a sync state may carry (an honest endorsement, then
/// 20 001 extra entries sharing one small blob, cheap to push and costly to load) is refused as
/// a whole with its own code: nothing of it is applied, the device is not even recorded.
/// (The total-bytes cap is the same check on the object headers; 256 MiB is too much to push
/// in a journey, so its arithmetic is covered by the core's transport tests.)
#[test]
fn a_device_state_with_too_many_files_is_refused_before_it_is_loaded() {
    let t = team();
    let id = validated_on_c1(&t);
    let s1 = sync(&t.c1, &t.approver);
    let device1 = s1["device"].as_str().unwrap().to_string();
    let bare = git2::Repository::open_bare(t.bare.path()).unwrap();
    let refname = format!("refs/oxide/devices/{device1}/state");
    let honest = bare.refname_to_id(&refname).unwrap();
    let tree = bare.find_commit(honest).unwrap().tree().unwrap();
    let blob = bare.blob(b"x").unwrap();
    let mut b = git2::build::TreeUpdateBuilder::new();
    for i in 0..20_001 {
        b.upsert(format!("junk/{i:05}"), blob, git2::FileMode::Blob);
    }
    let big = b.create_updated(&bare, &tree).unwrap();
    force(&bare, &refname, big, honest);

    let s2 = sync(&t.c2, &t.lead);
    let r = refused(&s2);
    assert!(
        r.iter().any(|x| x["device"] == device1.as_str()
            && x["code"] == "SYNC_STATE_TOO_LARGE"
            && x["message"].as_str().unwrap().contains("20000 files")),
        "{s2:#}"
    );
    assert!(
        s2["received"]["proposals"].as_array().unwrap().is_empty(),
        "{s2:#}"
    );
    assert_eq!(
        count(
            &t.c2,
            &format!("SELECT count(*) FROM proposals WHERE id = '{id}'")
        ),
        0
    );
    assert_eq!(
        count(
            &t.c2,
            &format!("SELECT count(*) FROM sync_devices WHERE device_keyid = '{device1}'")
        ),
        0
    );
    assert_eq!(count(&t.c2, "SELECT count(*) FROM audit_device_events"), 0);
}

/// Clone 1's published audit segment is rewritten (an event's actor changed and the chain
/// re-hashed so it links), first with the honest checkpoint left in place, then with a
/// checkpoint the attacker signed themselves: both refused, nothing imported; the rest of
/// the device's state (signed by its manifest) still arrives.
#[test]
fn a_tampered_audit_segment_and_a_forged_checkpoint_are_refused() {
    let t = team();
    let id = validated_on_c1(&t);
    let s1 = sync(&t.c1, &t.approver);
    let device1 = s1["device"].as_str().unwrap().to_string();
    let bare = git2::Repository::open_bare(t.bare.path()).unwrap();
    let refname = format!("refs/oxide/devices/{device1}/state");
    let honest = bare.refname_to_id(&refname).unwrap();
    let tree = bare.find_commit(honest).unwrap().tree().unwrap();
    let events = blob_text(&bare, &tree, "audit/events.jsonl");
    let mut parsed: Vec<oxide_core::audit::AuditEvent> = events
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    parsed[1].actor = "mallory".into();
    let mut prev = parsed[0].hash.clone();
    for e in parsed.iter_mut().skip(1) {
        e.prev = Some(prev.clone());
        e.hash = oxide_core::audit::event_hash(
            e.seq,
            &e.ts,
            &e.actor,
            &e.kind,
            &e.subject,
            &e.payload.value(),
            &e.prev,
        )
        .unwrap();
        prev = e.hash.clone();
    }
    let rewritten: String = parsed
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect();

    // 1. The rewritten chain under the honest checkpoint.
    let t1 = replace_files(&bare, &tree, &[("audit/events.jsonl", rewritten.clone())]);
    force(&bare, &refname, t1, honest);
    let s2 = sync(&t.c2, &t.lead);
    let audit_refusals: Vec<&Value> = s2["refused"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "audit")
        .collect();
    assert_eq!(audit_refusals.len(), 1, "{s2:#}");
    assert_eq!(audit_refusals[0]["code"], "SYNC_AUDIT_INVALID");
    assert!(
        audit_refusals[0]["message"]
            .as_str()
            .unwrap()
            .contains("checkpoint"),
        "{s2:#}"
    );
    assert_eq!(count(&t.c2, "SELECT count(*) FROM audit_device_events"), 0);
    // The manifest-signed rest still verified: the proposal arrived.
    assert_eq!(s2["received"]["proposals"], json!([id]), "{s2:#}");

    // 2. A checkpoint over the rewritten chain, signed by the attacker's own key.
    let last = parsed.last().unwrap();
    let mallory = ed25519_dalek::SigningKey::from_bytes(&hex32_bytes(&random_hex32()));
    let vk = mallory.verifying_key();
    let name = oxide_core::signing::note::key_name(&device1);
    let text = oxide_core::signing::note::checkpoint_text(&name, last.seq, &last.hash).unwrap();
    let sig = ed25519_dalek::Signer::sign(&mallory, text.as_bytes());
    let note = oxide_core::signing::note::assemble(
        &text,
        &[oxide_core::signing::note::signature_line(&name, &vk, &sig)],
    );
    let t2 = replace_files(
        &bare,
        &tree,
        &[
            ("audit/events.jsonl", rewritten),
            ("audit/checkpoint", note),
        ],
    );
    let cur = bare.refname_to_id(&refname).unwrap();
    force(&bare, &refname, t2, cur);
    let s3 = sync(&t.c2, &t.lead);
    let r: Vec<&Value> = s3["refused"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "audit")
        .collect();
    assert_eq!(r.len(), 1, "{s3:#}");
    assert!(
        r[0]["message"]
            .as_str()
            .unwrap()
            .contains("not signed by the endorsed device key"),
        "{s3:#}"
    );
    assert_eq!(count(&t.c2, "SELECT count(*) FROM audit_device_events"), 0);
    assert!(audit_kinds(&t.c2, "sync.refused") >= 2);

    // 3. The honest segment again: it verifies and imports.
    let cur = bare.refname_to_id(&refname).unwrap();
    bare.reference_matching(&refname, honest, true, cur, "restore")
        .unwrap();
    let s4 = sync(&t.c2, &t.lead);
    assert!(s4["received"]["events"].as_u64().unwrap() > 0, "{s4:#}");
    assert_eq!(
        ox(&t.c2, &["--json", "audit", "verify", "--all-devices"], "x")
            .expect(0)
            .json()["ok"],
        true
    );
}

/// Someone with push access puts an unsigned "promotion" of the proposal (the right tree, the
/// right trailers) on the remote's target branch. Clone 1, holding the proposal approved,
/// refuses to record it: reported, audited, the proposal stays approved.
#[test]
fn an_unsigned_promotion_on_the_remote_is_not_recorded() {
    let t = team();
    let id = validated_on_c1(&t);
    ox(
        &t.c1,
        &["--json", "approve", &id, "--person", &t.approver],
        &t.approver,
    )
    .expect(0);
    sync(&t.c1, &t.approver);
    sync(&t.c2, &t.lead);
    ox(
        &t.c2,
        &["--json", "approve", &id, "--person", &t.lead],
        &t.lead,
    )
    .expect(0);
    sync(&t.c2, &t.lead);
    // The forged promotion: the proposal branch's tree on top of main, no signature.
    let branch = head(t.c2.path(), &format!("oxide/proposals/{id}"));
    let tree = head(t.c2.path(), &format!("{branch}^{{tree}}"));
    let main = head(t.c2.path(), "main");
    let digest =
        t.c2.oxide(&["--json", "proposal", "show", &id])
            .expect(0)
            .json()["digest"]
            .as_str()
            .unwrap()
            .to_string();
    let forged = git(
        t.c2.path(),
        &[
            "commit-tree",
            &tree,
            "-p",
            &main,
            "-m",
            &format!(
                "oxide: promote\n\nOxide-Proposal: {id}\nOxide-Bundle-Digest: {digest}\nOxide-Promoted-By: {}\n",
                t.lead
            ),
        ],
    )
    .trim()
    .to_string();
    git(
        t.c2.path(),
        &["push", "-q", "origin", &format!("{forged}:refs/heads/main")],
    );

    let s = sync(&t.c1, &t.approver);
    assert_eq!(
        s["received"]["approvals"].as_array().unwrap().len(),
        1,
        "{s:#}"
    );
    let r: Vec<&Value> = s["refused"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "promotion")
        .collect();
    assert_eq!(r.len(), 1, "{s:#}");
    assert_eq!(r[0]["code"], "SYNC_PROMOTION_UNVERIFIED");
    assert!(
        r[0]["message"].as_str().unwrap().contains("it is unsigned"),
        "{s:#}"
    );
    assert_eq!(s["promoted"], json!([]));
    assert_eq!(state(&t.c1, &id), "approved");
    assert_eq!(audit_kinds(&t.c1, "sync.promotion_received"), 0);
    assert_eq!(audit_kinds(&t.c1, "sync.refused"), 1);
}

/// Clone 1 holds the same proposal but never validated or approved it; clone 2 validated,
/// approved (both persons' keys are on this machine's keyring) and promoted it. Clone 1 does
/// not claim a promotion it never saw approved: its copy becomes superseded.
#[test]
fn a_copy_this_clone_never_approved_is_superseded_by_the_remote_promotion() {
    let t = team();
    let b = manual_bundle(
        &head(t.c1.path(), "main"),
        &"cd".repeat(32),
        "raise retries",
        json!([{"op": "text_edit", "path": "src/config.txt", "find": "retries = 3", "replace": "retries = 7"}]),
        "2026-11-30T11:00:00Z",
    );
    let id = t.c1.import_bundle("same", &b);
    // The author imports the same bundle on clone 2 too (its who-I-am for the import): the
    // lead, who approves and promotes it there, is not its initiator.
    who_i_am(&t.c2, Some(&t.author));
    assert_eq!(t.c2.import_bundle("same", &b), id);
    who_i_am(&t.c2, Some(&t.lead));
    let v = t.c2.oxide(&["--json", "validate", &id]).expect(0).json();
    assert_eq!(v["state"], "validated", "{v:#}");
    ox(
        &t.c2,
        &["--json", "approve", &id, "--person", &t.approver],
        &t.approver,
    )
    .expect(0);
    ox(
        &t.c2,
        &["--json", "approve", &id, "--person", &t.lead],
        &t.lead,
    )
    .expect(0);
    ox(
        &t.c2,
        &["--json", "promote", &id, "--person", &t.lead],
        &t.lead,
    )
    .expect(0);
    sync(&t.c2, &t.lead);

    let s = sync(&t.c1, &t.approver);
    assert!(refused(&s).is_empty(), "{s:#}");
    assert_eq!(s["superseded"], json!([id]), "{s:#}");
    assert_eq!(s["promoted"], json!([]));
    let show =
        t.c1.oxide(&["--json", "proposal", "show", &id])
            .expect(0)
            .json();
    assert_eq!(show["state"], "superseded", "{show:#}");
    assert_eq!(
        show["failure_reason_code"], "PROMOTED_ELSEWHERE",
        "{show:#}"
    );
    assert_eq!(audit_kinds(&t.c1, "sync.promotion_received"), 1);
}

#[test]
fn an_https_remote_is_refused_up_front_because_this_libgit2_has_no_https() {
    // Skipped transport: git2 is built with ssh but without its HTTPS transport, so https://
    // is not carried; sync says so before writing anything (docs/sync.md, "Transports").
    let t = team();
    git(
        t.c1.path(),
        &["remote", "add", "far", "https://example.invalid/repo.git"],
    );
    let events = count(&t.c1, "SELECT count(*) FROM audit_events");
    let r = ox(&t.c1, &["--json", "sync", "--remote", "far"], &t.approver).expect(2);
    assert_eq!(r.error_code(), "GITOPS_REMOTE_UNUSABLE", "{}", r.stdout);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("https://"));
    assert_eq!(
        count(&t.c1, "SELECT count(*) FROM audit_events"),
        events,
        "nothing written"
    );
    assert_eq!(count(&t.c1, "SELECT count(*) FROM sync_devices"), 0);
    let unknown = ox(
        &t.c1,
        &["--json", "sync", "--remote", "nowhere"],
        &t.approver,
    )
    .expect(2);
    assert_eq!(unknown.error_code(), "GITOPS_REMOTE_UNUSABLE");
}

// ------------------------------------------------------------------------------ ssh://

/// A test-only `sshd` on 127.0.0.1 (its own host key, `AuthorizedKeysFile` in its temp dir),
/// and the client side: a key in a test `ssh-agent`, a HOME whose known_hosts holds the
/// server's key. Killed (by process id) when dropped.
struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    user: String,
    sshd: std::process::Child,
    agent: std::process::Child,
    /// `ssh-ed25519 AAAA...` of the server.
    host_key: String,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        for c in [&mut self.sshd, &mut self.agent] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn run_ok(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn keygen_file(path: &Path) -> String {
    run_ok(
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "oxide-test", "-f"])
            .arg(path),
    );
    std::fs::read_to_string(path.with_extension("pub"))
        .unwrap()
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

impl Sshd {
    fn start() -> Sshd {
        let bin = Path::new("/usr/sbin/sshd");
        assert!(
            bin.exists(),
            "/usr/sbin/sshd is missing, so the ssh:// sync journey cannot run: run scripts/setup.sh (it installs openssh-server)"
        );
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let host_key = keygen_file(&d.join("host_key"));
        // The client's key lives only in the agent: the file is removed once added.
        let client_pub = keygen_file(&d.join("client_key"));
        std::fs::write(d.join("authorized_keys"), format!("{client_pub}\n")).unwrap();
        let sock = d.join("agent.sock");
        let agent = std::process::Command::new("ssh-agent")
            .args(["-D", "-a"])
            .arg(&sock)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("ssh-agent");
        wait_for(|| sock.exists(), "ssh-agent's socket");
        run_ok(
            std::process::Command::new("ssh-add")
                .arg("-q")
                .arg(d.join("client_key"))
                .env("SSH_AUTH_SOCK", &sock),
        );
        std::fs::remove_file(d.join("client_key")).unwrap();
        std::fs::create_dir_all(d.join("home/.ssh")).unwrap();
        // sshd as root needs its privilege-separation directory (made by the service unit
        // normally).
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let user = run_ok(std::process::Command::new("id").arg("-un"))
            .trim()
            .to_string();
        let config = format!(
            "ListenAddress 127.0.0.1\nPort {port}\nHostKey {hk}\nAuthorizedKeysFile {ak}\nPidFile {pid}\nStrictModes no\nUsePAM no\nPubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nAllowUsers {user}\n",
            hk = d.join("host_key").display(),
            ak = d.join("authorized_keys").display(),
            pid = d.join("sshd.pid").display(),
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let mut sshd = std::process::Command::new(bin)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(d.join("sshd.log")).unwrap())
            .spawn()
            .expect("sshd");
        wait_for(
            || {
                if let Ok(Some(st)) = sshd.try_wait() {
                    panic!(
                        "sshd exited ({st}): {}",
                        std::fs::read_to_string(d.join("sshd.log")).unwrap_or_default()
                    );
                }
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            },
            "sshd listening",
        );
        let s = Sshd {
            dir,
            port,
            user,
            sshd,
            agent,
            host_key,
        };
        s.known_hosts(&s.host_key.clone());
        s
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    fn home(&self) -> std::path::PathBuf {
        self.dir.path().join("home")
    }

    /// Writes the client's known_hosts: `key` for `[127.0.0.1]:PORT`.
    fn known_hosts(&self, key: &str) {
        std::fs::write(
            self.home().join(".ssh/known_hosts"),
            format!("[127.0.0.1]:{} {key}\n", self.port),
        )
        .unwrap();
    }

    fn url(&self, bare: &Path) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            bare.display()
        )
    }

    /// `oxide ARGS` as `actor` with HOME and the agent of this client.
    fn ox(&self, repo: &TestRepo, args: &[&str], actor: &str) -> Run {
        let home = self.home();
        let sock = self.dir.path().join("agent.sock");
        repo.oxide_env(
            args,
            &[
                ("OXIDE_ACTOR", actor),
                ("HOME", home.to_str().unwrap()),
                ("SSH_AUTH_SOCK", sock.to_str().unwrap()),
            ],
        )
    }

    fn sync(&self, repo: &TestRepo, actor: &str) -> Value {
        let r = self.ox(repo, &["--json", "sync", "--remote", "ssh"], actor);
        if r.code != 0 {
            panic!(
                "sync over ssh failed: {} {}\nsshd log:\n{}",
                r.stdout,
                r.stderr,
                std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
            );
        }
        r.json()
    }
}

fn wait_for(mut ok: impl FnMut() -> bool, what: &str) {
    for _ in 0..200 {
        if ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn two_clones_meet_through_an_ssh_remote() {
    let t = team();
    let sshd = Sshd::start();
    let url = sshd.url(t.bare.path());
    for c in [&t.c1, &t.c2] {
        git(c.path(), &["remote", "add", "ssh", &url]);
    }
    let id = validated_on_c1(&t);
    ox(
        &t.c1,
        &["--json", "approve", &id, "--person", &t.approver],
        &t.approver,
    )
    .expect(0);

    // Clone 1 publishes over ssh:// (the key only in the agent).
    let s1 = sshd.sync(&t.c1, &t.approver);
    assert!(s1["pushed"].as_u64().unwrap() >= 2, "{s1:#}");
    assert!(refused(&s1).is_empty(), "{s1:#}");
    let device1 = s1["device"].as_str().unwrap().to_string();
    let refs = git(
        t.bare.path(),
        &["for-each-ref", "--format=%(refname)", "refs/oxide/"],
    );
    assert!(
        refs.contains(&format!("refs/oxide/devices/{device1}/state")),
        "{refs}"
    );
    // It really went through the server, authenticated by the agent's key.
    assert!(
        sshd.log()
            .contains(&format!("Accepted publickey for {}", sshd.user)),
        "{}",
        sshd.log()
    );

    // Clone 2 receives it over ssh:// and verifies it, as through file://.
    let s2 = sshd.sync(&t.c2, &t.lead);
    assert!(refused(&s2).is_empty(), "{s2:#}");
    assert_eq!(s2["received"]["proposals"], json!([id]), "{s2:#}");
    assert_eq!(
        s2["received"]["validations"].as_array().unwrap().len(),
        1,
        "{s2:#}"
    );
    assert_eq!(state(&t.c2, &id), "validated");
    assert_eq!(
        approvals(&t.c2, &id),
        vec![(t.approver.clone(), "valid".to_string())]
    );
    assert_eq!(
        head(t.c1.path(), &format!("oxide/proposals/{id}")),
        head(t.c2.path(), &format!("oxide/proposals/{id}"))
    );

    // The lead approves and promotes; the target moves on the remote over ssh://.
    ox(
        &t.c2,
        &["--json", "approve", &id, "--person", &t.lead],
        &t.lead,
    )
    .expect(0);
    let p = ox(
        &t.c2,
        &["--json", "promote", &id, "--person", &t.lead],
        &t.lead,
    )
    .expect(0)
    .json();
    let commit = p["commit"].as_str().unwrap().to_string();
    let s3 = sshd.sync(&t.c2, &t.lead);
    assert!(refused(&s3).is_empty(), "{s3:#}");
    assert_eq!(head(t.bare.path(), "main"), commit);

    // Clone 1 syncs: the promotion is recorded there. A second sync moves nothing.
    let s4 = sshd.sync(&t.c1, &t.approver);
    assert!(refused(&s4).is_empty(), "{s4:#}");
    assert_eq!(s4["promoted"], json!([id]), "{s4:#}");
    assert_eq!(state(&t.c1, &id), "promoted");
    let s5 = sshd.sync(&t.c1, &t.approver);
    assert_eq!(s5["pushed"], 0, "{s5:#}");

    // Without the agent, an unencrypted ~/.ssh/id_ed25519 is used; with neither, sync
    // says what it tried and what to do.
    // (a second client key, authorized too, as the user's ~/.ssh/id_ed25519)
    let file_pub = keygen_file(&sshd.home().join(".ssh/id_ed25519"));
    let ak = sshd.dir.path().join("authorized_keys");
    let mut keys = std::fs::read_to_string(&ak).unwrap();
    keys.push_str(&format!("{file_pub}\n"));
    std::fs::write(&ak, keys).unwrap();
    t.c2.oxide_env(
        &["--json", "sync", "--remote", "ssh"],
        &[
            ("OXIDE_ACTOR", t.lead.as_str()),
            ("HOME", sshd.home().to_str().unwrap()),
            ("SSH_AUTH_SOCK", ""),
        ],
    )
    .expect(0);
    std::fs::remove_file(sshd.home().join(".ssh/id_ed25519")).unwrap();
    let home = sshd.home();
    let none = t.c2.oxide_env(
        &["--json", "sync", "--remote", "ssh"],
        &[
            ("OXIDE_ACTOR", t.lead.as_str()),
            ("HOME", home.to_str().unwrap()),
            ("SSH_AUTH_SOCK", ""),
        ],
    );
    assert_eq!(
        none.error_code(),
        "GITOPS_SSH_AUTH_FAILED",
        "{}",
        none.stdout
    );
    assert!(
        none.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ssh-add"),
        "{}",
        none.stdout
    );
}

#[test]
fn an_ssh_server_with_an_unknown_or_different_host_key_is_refused() {
    let t = team();
    let sshd = Sshd::start();
    git(
        t.c1.path(),
        &["remote", "add", "ssh", &sshd.url(t.bare.path())],
    );
    // Clone 1 has synced once (through file://), so it is endorsed: what the refused syncs
    // would write is only what arrives.
    sync(&t.c1, &t.approver);
    let before = (
        count(&t.c1, "SELECT count(*) FROM audit_events"),
        count(&t.c1, "SELECT count(*) FROM sync_runs"),
        git(t.bare.path(), &["for-each-ref"]),
    );
    let attacker = keygen_file(&tempfile::tempdir().unwrap().path().join("k"));
    let cases = [
        (Some(attacker.as_str()), "DIFFERENT key"),
        (None, "ssh-keyscan -p"),
    ];
    for (listed, says) in cases {
        match listed {
            Some(k) => sshd.known_hosts(k),
            None => std::fs::write(sshd.home().join(".ssh/known_hosts"), "").unwrap(),
        }
        let r = sshd
            .ox(&t.c1, &["--json", "sync", "--remote", "ssh"], &t.approver)
            .expect(3);
        assert_eq!(r.error_code(), "GITOPS_HOSTKEY_UNVERIFIED", "{}", r.stdout);
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains(says), "{msg}");
        assert!(msg.contains("SHA256:"), "names the fingerprint: {msg}");
        assert_eq!(
            (
                count(&t.c1, "SELECT count(*) FROM audit_events"),
                count(&t.c1, "SELECT count(*) FROM sync_runs"),
                git(t.bare.path(), &["for-each-ref"]),
            ),
            before,
            "nothing fetched, pushed or written"
        );
        assert_eq!(
            git(
                t.c1.path(),
                &[
                    "for-each-ref",
                    "refs/oxide/remotes/ssh/",
                    "refs/remotes/ssh/"
                ]
            ),
            "",
            "nothing fetched"
        );
    }
    // The client hung up at the host key: it never authenticated.
    assert!(!sshd.log().contains("Accepted publickey"), "{}", sshd.log());
    // The right key: the same sync goes through.
    sshd.known_hosts(&sshd.host_key.clone());
    let ok = sshd.sync(&t.c1, &t.approver);
    assert!(refused(&ok).is_empty(), "{ok:#}");
}

// ------------------------------------------------------------------------------ helpers

/// `statement` as a DSSE envelope signed (ed25519 over the PAE) by the key with `seed`: an
/// attacker's own key, which no registry holds.
fn sign_with_seed(seed: &[u8; 32], statement: &Value) -> Value {
    use base64::Engine as _;
    use sha2::Digest as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = ed25519_dalek::SigningKey::from_bytes(seed);
    let payload = serde_json::to_vec(statement).unwrap();
    let ty = "application/vnd.in-toto+json";
    let mut pae = format!("DSSEv1 {} {ty} {} ", ty.len(), payload.len()).into_bytes();
    pae.extend_from_slice(&payload);
    let sig = ed25519_dalek::Signer::sign(&key, &pae);
    let keyid: String = sha2::Sha256::digest(key.verifying_key().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    json!({"payload": b64.encode(&payload), "payloadType": ty,
           "signatures": [{"keyid": keyid, "sig": b64.encode(sig.to_bytes())}]})
}

fn hex32_bytes(hex: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

fn blob_text(repo: &git2::Repository, tree: &git2::Tree<'_>, path: &str) -> String {
    let e = tree.get_path(Path::new(path)).unwrap();
    String::from_utf8(repo.find_blob(e.id()).unwrap().content().to_vec()).unwrap()
}

fn replace_files(
    repo: &git2::Repository,
    tree: &git2::Tree<'_>,
    files: &[(&str, String)],
) -> git2::Oid {
    let mut b = git2::build::TreeUpdateBuilder::new();
    for (path, text) in files {
        let blob = repo.blob(text.as_bytes()).unwrap();
        b.upsert(*path, blob, git2::FileMode::Blob);
    }
    b.create_updated(repo, tree).unwrap()
}

fn force(repo: &git2::Repository, refname: &str, tree: git2::Oid, parent: git2::Oid) {
    let sig = git2::Signature::now("mallory", "m@example.invalid").unwrap();
    let parent = repo.find_commit(parent).unwrap();
    let c = repo
        .commit(
            None,
            &sig,
            &sig,
            "rewritten",
            &repo.find_tree(tree).unwrap(),
            &[&parent],
        )
        .unwrap();
    repo.reference(refname, c, true, "rewritten").unwrap();
}

/// Endorsing needs a person whose keyring key the committed registry holds: a person with no
/// key, and a person with a key the registry does not know, are refused with nothing written
/// (no device key made, no audit event).
#[test]
fn an_endorser_the_registry_does_not_know_is_refused_writing_nothing() {
    let t = team();
    let stranger = unique_person("stranger");
    let _forget = Forget(vec![stranger.clone()]);
    keygen(&t.c1, &stranger);
    let events = count(&t.c1, "SELECT count(*) FROM audit_events");
    let nobody = ox(
        &t.c1,
        &["--json", "sync", "--person", "nobody-at-all"],
        &t.approver,
    )
    .expect(2);
    assert_eq!(nobody.error_code(), "SIGNING_NO_KEY", "{}", nobody.stdout);
    let r = ox(
        &t.c1,
        &["--json", "sync", "--person", &stranger],
        &t.approver,
    )
    .expect(2);
    assert_eq!(r.error_code(), "SYNC_NO_ENDORSER", "{}", r.stdout);
    // Several person keys in this database, no --person and nobody chosen as who-I-am:
    // which one must be said.
    who_i_am(&t.c1, None);
    let which = ox(&t.c1, &["--json", "sync"], &t.approver).expect(2);
    assert_eq!(which.error_code(), "SYNC_NO_ENDORSER", "{}", which.stdout);
    assert_eq!(count(&t.c1, "SELECT count(*) FROM audit_events"), events);
    assert_eq!(
        count(
            &t.c1,
            "SELECT count(*) FROM signing_keys WHERE purpose = 'device'"
        ),
        0
    );
    assert_eq!(count(&t.c1, "SELECT count(*) FROM sync_devices"), 0);
    let refs = git(t.bare.path(), &["for-each-ref", "refs/oxide/"]);
    assert!(refs.is_empty(), "{refs}");
    // Naming the registered person works.
    let ok = ox(
        &t.c1,
        &["--json", "sync", "--person", &t.approver],
        &t.approver,
    )
    .expect(0)
    .json();
    assert!(ok["pushed"].as_u64().unwrap() >= 1, "{ok:#}");
}

/// A device publishes only its own person's proposals: the initiator of a received proposal
/// is the publishing device's endorsed person. A publication naming anyone else — a made-up
/// name, or the lead (whose approval would then silently stop counting) — is refused on
/// receipt (SYNC_INITIATOR_MISMATCH), reported, audited, and nothing of it is applied. The
/// attacker here is a sync peer: a local user of clone 1 who edits its database and
/// publishes with its own (endorsed, valid) device key.
#[test]
fn a_publication_naming_another_initiator_is_refused_and_nothing_applied() {
    let t = team();
    let id = validated_on_c1(&t);
    let db1 = rusqlite::Connection::open(t.c1.db()).unwrap();
    // A forging device: its database file edited (the trigger that fixes the initiator at
    // admission dropped first).
    db1.execute_batch("DROP TRIGGER IF EXISTS proposals_initiator_fixed;")
        .unwrap();
    let on_c1 = |sql: &str, named: Option<&str>| {
        db1.execute(sql, rusqlite::params![named, id]).unwrap();
    };
    for (i, named) in ["x", t.lead.as_str()].into_iter().enumerate() {
        on_c1(
            "UPDATE proposals SET initiator = ?1 WHERE id = ?2",
            Some(named),
        );
        let s1 = sync(&t.c1, &t.approver);
        assert!(refused(&s1).is_empty(), "{s1:#}");
        let events = count(&t.c2, "SELECT count(*) FROM audit_events");
        let s2 = sync(&t.c2, &t.lead);
        let r: Vec<Value> = refused(&s2)
            .into_iter()
            .filter(|r| r["kind"] == "proposal" && r["item"] == id.as_str())
            .collect();
        assert_eq!(r.len(), 1, "{s2:#}");
        assert_eq!(r[0]["code"], "SYNC_INITIATOR_MISMATCH", "{s2:#}");
        let msg = r[0]["message"].as_str().unwrap();
        assert!(msg.contains(named) && msg.contains(&t.author), "{msg}");
        // Nothing applied: no proposal, no run, no approval; one audited refusal each time.
        assert_eq!(s2["received"]["proposals"], json!([]), "{s2:#}");
        assert_eq!(count(&t.c2, "SELECT count(*) FROM proposals"), 0);
        assert_eq!(count(&t.c2, "SELECT count(*) FROM approvals"), 0);
        assert_eq!(audit_kinds(&t.c2, "sync.refused"), i + 1);
        assert_eq!(audit_kinds(&t.c2, "sync.proposal_received"), 0);
        assert_eq!(
            count(
                &t.c2,
                &format!("SELECT count(*) FROM audit_events WHERE seq > {events} AND (kind LIKE 'workflow.%' OR subject = '{id}')")
            ),
            1,
            "only the refusal names the proposal: nothing of it was applied"
        );
    }
    // Not resolved on clone 1 (`null`): clone 2 takes clone 1's endorsed person, the author,
    // never its own actor; the approver's approval then counts there. (Approved on clone 1
    // while its row still matches the admission: an edited row refuses approving there.)
    on_c1(
        "UPDATE proposals SET initiator = ?1, initiator_candidates = NULL WHERE id = ?2",
        Some(t.author.as_str()),
    );
    ox(
        &t.c1,
        &["--json", "approve", &id, "--person", &t.approver],
        &t.approver,
    )
    .expect(0);
    on_c1(
        "UPDATE proposals SET initiator = ?1, initiator_candidates = '[]' WHERE id = ?2",
        None,
    );
    sync(&t.c1, &t.approver);
    let s2 = sync(&t.c2, &t.lead);
    assert_eq!(s2["received"]["proposals"], json!([id]), "{s2:#}");
    assert_eq!(
        count(
            &t.c2,
            &format!(
                "SELECT count(*) FROM proposals WHERE id = '{id}' AND initiator = '{}'",
                t.author
            )
        ),
        1
    );
    let a = t.c2.oxide(&["--json", "approvals", &id]).expect(0).json();
    assert_eq!(
        a["tally"]["counted"][0]["person"],
        t.approver.as_str(),
        "{a:#}"
    );
}

/// A device holding the author's and the approver's keys cannot tell which of them proposed
/// (no who-I-am): it publishes no initiator but both candidates, and endorsed as the author,
/// the receiver records the proposal unresolved with both — the approver's approval does not
/// count there, where it would if the receiver named the endorsed author alone.
#[test]
fn an_unresolved_proposal_keeps_its_candidates_through_sync() {
    let t = team();
    who_i_am(&t.c1, None);
    let id = validated_on_c1(&t);
    let db1 = rusqlite::Connection::open(t.c1.db()).unwrap();
    let could: String = db1
        .query_row(
            "SELECT initiator_candidates FROM proposals WHERE id = ?1 AND initiator IS NULL",
            [&id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(could.contains(t.approver.as_str()), "{could}");
    ox(&t.c1, &["--json", "sync", "--person", &t.author], &t.author).expect(0);
    let s2 = sync(&t.c2, &t.lead);
    assert_eq!(s2["received"]["proposals"], json!([id]), "{s2:#}");
    let db2 = rusqlite::Connection::open(t.c2.db()).unwrap();
    let (initiator, could2): (Option<String>, Option<String>) = db2
        .query_row(
            "SELECT initiator, initiator_candidates FROM proposals WHERE id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(initiator, None, "the endorsed person alone was named");
    let could2 = could2.unwrap();
    assert!(
        could2.contains(t.approver.as_str()) && could2.contains(t.author.as_str()),
        "{could2}"
    );
    let r = ox(
        &t.c2,
        &["--json", "approve", &id, "--person", &t.approver],
        &t.approver,
    )
    .expect(0)
    .json();
    assert_eq!(r["counted"], false, "{r:#}");
}
