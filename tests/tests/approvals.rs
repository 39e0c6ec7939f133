//! Issue 12 journeys (items 4–6) through the real `oxide` binary under the real Secret
//! Service (gnome-keyring inside `dbus-run-session`, started by scripts/test): signed
//! approvals bound to what was reviewed, their statuses, the two-person rule, and every
//! attack on them — a flipped byte, a replay onto another proposal, a revoked key, an
//! expired approval, a moved bundle/branch/policy, one person with two keys, the initiator
//! and the skill's submitter, a database row edited by a local user — refused with exit 3 and
//! the state unchanged.
//!
//! Person ids carry the test's own tag: keyring entries (`person:<id>`) are shared by every
//! test of the run.

use oxide_journeys::signing::Forget;
use oxide_journeys::{git, TestRepo};
use serde_json::{json, Value};

/// Checks that pass, sandboxed (low risk for a small change).
const SANDBOXED: &str = r#"
[[check]]
name = "has-new-file"
run = ["test", "-f", "NEW.txt"]
env = ["PATH"]
timeout_s = 30
"#;

/// The same check on the host: the default policy makes every proposal high risk.
const UNSANDBOXED: &str = r#"
[[check]]
name = "has-new-file"
run = ["test", "-f", "NEW.txt"]
env = ["PATH"]
timeout_s = 30
sandbox = false
"#;

fn head(repo: &TestRepo) -> String {
    git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string()
}

fn commit_all(repo: &TestRepo, msg: &str) {
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", msg]);
}

/// A person id unique to this test run (the keyring outlives one test), whose keyring entry
/// is removed when the test ends.
fn pid(name: &str, tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{tag}-{}-{:x}", std::process::id(), nanos)
}

/// A workspace whose committed contract is `checks`, with `team` = (person, role) each given
/// a keyring key and registered in the committed trust registry.
/// Also gives an author (registered as an approver) a key: the person who proposes when [`validated`] is told
/// `tester` (see [`author`]), so the approvers a test names are never the initiator.
fn team_repo(checks: &str, team: &[(&str, &str)]) -> TestRepo {
    let repo = TestRepo::with_files(&[("README.md", "# test\n"), ("src/a.txt", "a\n")]);
    repo.init();
    let author = pid("author", "team");
    keygen(&repo, &author);
    // Registered: only a key the committed registry registers to its holder names the
    // initiator (docs/roles.md, "Who initiated a proposal").
    register(&repo, &author, "approver", None);
    std::fs::write(repo.data.path().join("author"), &author).unwrap();
    std::fs::write(repo.path().join(".oxide/checks.toml"), checks).unwrap();
    for (person, role) in team {
        keygen(&repo, person);
        register(&repo, person, role, None);
    }
    commit_all(&repo, "governance");
    repo
}

fn keygen(repo: &TestRepo, person: &str) -> Value {
    let k = repo
        .oxide(&["--json", "keys", "generate", "--person", person])
        .expect(0)
        .json();
    assert!(k["keyid"].as_str().is_some_and(|s| s.len() == 64), "{k}");
    k
}

fn register(repo: &TestRepo, person: &str, role: &str, public: Option<&str>) {
    let mut args = vec![
        "--json",
        "approvers",
        "add",
        "--person",
        person,
        "--name",
        person,
        "--role",
        role,
    ];
    if let Some(p) = public {
        args.extend(["--public-key", p]);
    }
    repo.oxide(&args).expect(0);
}

/// The repository's author (made by [`team_repo`]). Their keyring entry stays in the test
/// run's keyring (scripts/test starts a fresh one per run); the id is unique per test.
fn author(repo: &TestRepo) -> String {
    std::fs::read_to_string(repo.data.path().join("author")).unwrap()
}

/// Imports a bundle creating NEW.txt with `lines` lines (audit actor `actor`), validates it
/// and returns its id (state `validated`). The person who proposes — chosen as who-I-am for
/// the import — is `actor`, or the repository's author when `actor` is `tester`.
fn validated(repo: &TestRepo, name: &str, lines: usize, skill_hex: &str, actor: &str) -> String {
    let author = author(repo);
    let proposer = if actor == "tester" { &author } else { actor };
    oxide_journeys::signing::who_i_am(repo, Some(proposer));
    let id = import(repo, name, lines, skill_hex, actor);
    oxide_journeys::signing::who_i_am(repo, None);
    let v = repo.oxide(&["--json", "validate", &id]).expect(0).json();
    assert_eq!(v["state"], "validated", "{v:#}");
    id
}

/// Imports a bundle creating NEW.txt with `lines` lines, `OXIDE_ACTOR` = `actor`: its id.
fn import(repo: &TestRepo, name: &str, lines: usize, skill_hex: &str, actor: &str) -> String {
    let content: String = (0..lines)
        .map(|i| format!("line {i} of {name}\n"))
        .collect();
    let b = oxide_journeys::manual_bundle(
        &head(repo),
        skill_hex,
        &format!("Add NEW.txt ({name})"),
        json!([{"op": "create_file", "path": "NEW.txt", "content": content}]),
        "2026-11-21T05:00:00Z",
    );
    let file = repo.data.path().join(format!("{name}.json"));
    std::fs::write(&file, b.to_string()).unwrap();
    repo.oxide_env(
        &["--json", "proposal", "import", file.to_str().unwrap()],
        &[("OXIDE_ACTOR", actor)],
    )
    .expect(0)
    .json()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn state(repo: &TestRepo, id: &str) -> String {
    repo.oxide(&["--json", "proposal", "show", id])
        .expect(0)
        .json()["state"]
        .as_str()
        .unwrap()
        .to_string()
}

fn approvals(repo: &TestRepo, id: &str) -> Value {
    repo.oxide(&["--json", "approvals", id]).expect(0).json()
}

fn statuses(repo: &TestRepo, id: &str) -> Vec<String> {
    approvals(repo, id)["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap().to_string())
        .collect()
}

fn approve(repo: &TestRepo, id: &str, person: &str) -> Value {
    repo.oxide(&["--json", "approve", id, "--person", person])
        .expect(0)
        .json()
}

/// Counts the rows of a table through the database file.
fn count(repo: &TestRepo, table: &str) -> i64 {
    let db = rusqlite::Connection::open(repo.db()).unwrap();
    db.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// What a refusal must leave as it was: the proposal's state and every approval row.
fn unchanged_after(repo: &TestRepo, id: &str, f: impl FnOnce()) {
    let before = (state(repo, id), count(repo, "approvals"));
    f();
    assert_eq!((state(repo, id), count(repo, "approvals")), before);
}

fn verify_fails(repo: &TestRepo, id: &str) -> Value {
    let v = repo.oxide(&["--json", "verify", id]).expect(3).json();
    assert_eq!(v["ok"], false, "{v:#}");
    assert!(!v["problems"].as_array().unwrap().is_empty(), "{v:#}");
    v
}

#[test]
fn a_low_risk_approval_is_signed_stored_exported_and_verified() {
    let alice = pid("alice", "low");
    let _forget = Forget(vec![alice.clone()]);
    let repo = team_repo(SANDBOXED, &[(&alice, "approver")]);
    let id = validated(&repo, "low", 3, &"ab".repeat(32), "tester");

    let r = approve(&repo, &id, &alice);
    assert_eq!(r["id"], id.as_str());
    assert_eq!(r["state"], "approved", "{r:#}");
    let env = &r["envelope"];
    assert_eq!(env["payloadType"], "application/vnd.in-toto+json");
    assert_eq!(env["signatures"][0]["keyid"], r["keyid"]);
    assert_eq!(state(&repo, &id), "approved");

    let a = approvals(&repo, &id);
    let first = &a["approvals"][0];
    for k in ["person", "role", "keyid", "decision", "status"] {
        assert!(first.get(k).is_some(), "{k} in {first}");
    }
    assert_eq!(first["person"], alice.as_str());
    assert_eq!(first["status"], "valid");
    assert_eq!(first["decision"], "approve");
    assert_eq!(a["tally"]["satisfied"], true);

    let v = repo.oxide(&["--json", "verify", &id]).expect(0).json();
    assert_eq!(v["ok"], true, "{v:#}");

    // The guard record of validated → approved lists who counted.
    let h = repo
        .oxide(&["--json", "proposal", "history", &id])
        .expect(0)
        .json();
    let last = h["transitions"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["to"], "approved", "{h:#}");
    // The guard record's audit event carries the tally's evidence: who counted, and why.
    let db = rusqlite::Connection::open(repo.db()).unwrap();
    let p: String = db
        .query_row(
            "SELECT payload FROM audit_events WHERE kind = 'workflow.approve' ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let p: Value = serde_json::from_str(&p).unwrap();
    assert_eq!(p["inputs"]["counted"][0]["person"], alice.as_str(), "{p:#}");
    assert_eq!(p["inputs"]["counted"][0]["slot"], "approver", "{p:#}");

    // Export: one DSSE file per approval, the envelope as stored.
    let dir = repo.data.path().join("export");
    let e = repo
        .oxide(&[
            "--json",
            "approvals",
            &id,
            "--export",
            dir.to_str().unwrap(),
        ])
        .expect(0)
        .json();
    let files = e["exported"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(files[0].as_str().unwrap()).unwrap();
    let exported: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(&exported, env);
}

#[test]
fn a_database_edit_of_an_approval_row_is_caught() {
    let alice = pid("alice", "dbedit");
    let _forget = Forget(vec![alice.clone()]);
    let repo = team_repo(SANDBOXED, &[(&alice, "approver")]);
    let id = validated(&repo, "dbedit", 3, &"ab".repeat(32), "tester");
    approve(&repo, &id, &alice);
    repo.oxide(&["--json", "verify", &id]).expect(0);
    let db = rusqlite::Connection::open(repo.db()).unwrap();
    let env: String = db
        .query_row("SELECT envelope FROM approvals", [], |r| r.get(0))
        .unwrap();

    // One byte of the signature flipped (a character of its base64 changed).
    let mut doc: Value = serde_json::from_str(&env).unwrap();
    let sig = doc["signatures"][0]["sig"].as_str().unwrap().to_string();
    let flipped = format!(
        "{}{}{}",
        &sig[..10],
        if &sig[10..11] == "A" { "B" } else { "A" },
        &sig[11..]
    );
    doc["signatures"][0]["sig"] = flipped.into();
    db.execute(
        "UPDATE approvals SET envelope = ?1",
        [serde_json::to_string(&doc).unwrap()],
    )
    .unwrap();
    assert_eq!(statuses(&repo, &id), ["invalid"]);
    verify_fails(&repo, &id);

    // The envelope restored, but the row's person column rewritten: caught as well.
    db.execute(
        "UPDATE approvals SET envelope = ?1, person = 'mallory'",
        [&env],
    )
    .unwrap();
    assert_eq!(statuses(&repo, &id), ["invalid"]);
    let v = verify_fails(&repo, &id);
    assert!(
        v["problems"]
            .to_string()
            .contains("the database was edited"),
        "{v:#}"
    );

    // The row deleted: the audit log still names the approval.
    db.execute("DELETE FROM approvals", []).unwrap();
    let v = verify_fails(&repo, &id);
    assert!(
        v["problems"]
            .to_string()
            .contains("missing from the database"),
        "{v:#}"
    );
}

#[test]
fn an_approval_replayed_onto_another_proposal_is_refused() {
    let alice = pid("alice", "replay");
    let _forget = Forget(vec![alice.clone()]);
    let repo = team_repo(SANDBOXED, &[(&alice, "approver")]);
    let p1 = validated(&repo, "one", 3, &"ab".repeat(32), "tester");
    let p2 = validated(&repo, "two", 4, &"ab".repeat(32), "tester");
    approve(&repo, &p1, &alice);
    let dir = repo.data.path().join("export");
    let e = repo
        .oxide(&[
            "--json",
            "approvals",
            &p1,
            "--export",
            dir.to_str().unwrap(),
        ])
        .expect(0)
        .json();
    let file = e["exported"][0].as_str().unwrap().to_string();

    unchanged_after(&repo, &p2, || {
        let r = repo
            .oxide(&["--json", "approve", &p2, "--envelope", &file])
            .expect(3);
        assert_eq!(r.error_code(), "APPROVAL_ENVELOPE_REFUSED");
        assert!(r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("replayed"));
    });
    assert_eq!(state(&repo, &p2), "validated");

    // Moved onto p2 in the database file: invalid there, and p2 is not approved by it.
    let db = rusqlite::Connection::open(repo.db()).unwrap();
    db.execute("UPDATE approvals SET proposal_id = ?1", [&p2])
        .unwrap();
    assert_eq!(statuses(&repo, &p2), ["invalid"]);
    verify_fails(&repo, &p2);
}

#[test]
fn a_revoked_key_revokes_its_approvals() {
    let alice = pid("alice", "revoke");
    let _forget = Forget(vec![alice.clone()]);
    let repo = team_repo(SANDBOXED, &[(&alice, "approver")]);
    let id = validated(&repo, "revoke", 3, &"ab".repeat(32), "tester");
    let r = approve(&repo, &id, &alice);
    let keyid = r["keyid"].as_str().unwrap().to_string();
    repo.oxide(&[
        "--json",
        "keys",
        "revoke",
        &keyid,
        "--reason",
        "laptop lost",
    ])
    .expect(0);
    assert_eq!(statuses(&repo, &id), ["revoked"]);
    verify_fails(&repo, &id);
}

#[test]
fn an_approval_expires_after_the_committed_lifetime() {
    let alice = pid("alice", "expire");
    let _forget = Forget(vec![alice.clone()]);
    let repo = team_repo(SANDBOXED, &[(&alice, "approver")]);
    let toml = repo.path().join(".oxide/oxide.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let text = text.replace("lifetime_hours = 168", "lifetime_hours = 0.0005");
    assert!(text.contains("lifetime_hours = 0.0005"), "{text}");
    std::fs::write(&toml, text).unwrap();
    commit_all(&repo, "approvals live 1.8 s");
    let id = validated(&repo, "expire", 3, &"ab".repeat(32), "tester");
    approve(&repo, &id, &alice);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(statuses(&repo, &id), ["expired"]);
    verify_fails(&repo, &id);
}

#[test]
fn a_moved_branch_or_policy_makes_approvals_stale_and_refuses_signing() {
    let alice = pid("alice", "stale");
    let bob = pid("bob", "stale");
    let _forget = Forget(vec![alice.clone(), bob.clone()]);
    let repo = team_repo(SANDBOXED, &[(&alice, "approver"), (&bob, "approver")]);
    let id = validated(&repo, "stale", 3, &"ab".repeat(32), "tester");
    approve(&repo, &id, &alice);
    assert_eq!(statuses(&repo, &id), ["valid"]);

    // The policy changed after the approval (a governance commit on the target branch).
    let rego = repo.path().join(".oxide/policy/oxide.rego");
    let text = std::fs::read_to_string(&rego).unwrap();
    std::fs::write(&rego, format!("{text}\n# tuned after the approval\n")).unwrap();
    commit_all(&repo, "policy tuned");
    assert_eq!(statuses(&repo, &id), ["stale"]);
    let v = verify_fails(&repo, &id);
    assert!(v["problems"].to_string().contains("policy digest"), "{v:#}");

    // The proposal branch moved to another commit: refused, and reported.
    let branch = format!("refs/heads/oxide/proposals/{id}");
    let good = git(repo.path(), &["rev-parse", &branch]).trim().to_string();
    git(repo.path(), &["update-ref", &branch, &head(&repo)]);
    unchanged_after(&repo, &id, || {
        let r = repo
            .oxide(&["--json", "approve", &id, "--person", &bob])
            .expect(3);
        assert_eq!(r.error_code(), "APPROVAL_BRANCH_FORGED");
    });
    let a = approvals(&repo, &id);
    assert!(
        a["problems"].to_string().contains("cannot be trusted"),
        "{a:#}"
    );
    assert_ne!(a["approvals"][0]["status"], "valid");
    git(repo.path(), &["update-ref", &branch, &good]);
}

#[test]
fn one_person_with_two_keys_counts_once() {
    let dan = pid("dan", "twokeys");
    let eve = pid("eve", "twokeys");
    let _forget = Forget(vec![dan.clone(), eve.clone()]);
    let repo = team_repo(SANDBOXED, &[(&dan, "approver"), (&eve, "approver")]);
    // 60 lines: a medium change, two approvers needed.
    let id = validated(&repo, "twokeys", 60, &"ab".repeat(32), "tester");
    let first = approve(&repo, &id, &dan);
    assert_eq!(first["state"], "validated", "{first:#}");
    // dan's second key (`keys rotate` registers it in the draft), committed.
    let k2 = repo
        .oxide(&["--json", "keys", "rotate", "--person", &dan])
        .expect(0)
        .json();
    assert_ne!(k2["keyid"], first["keyid"]);
    commit_all(&repo, "dan's second key");
    let second = approve(&repo, &id, &dan);
    assert_ne!(first["keyid"], second["keyid"]);
    assert_eq!(second["state"], "validated", "{second:#}");
    assert_eq!(second["counted"], false);
    assert!(
        second["why"].as_str().unwrap().contains("counts once"),
        "{second:#}"
    );
    assert_eq!(state(&repo, &id), "validated");
    // A second person completes it.
    let third = approve(&repo, &id, &eve);
    assert_eq!(third["state"], "approved", "{third:#}");
}

#[test]
fn the_initiator_and_the_skill_submitter_cannot_approve() {
    let ivan = pid("ivan", "self");
    let sue = pid("sue", "self");
    let _forget = Forget(vec![ivan.clone(), sue.clone()]);
    let repo = team_repo(SANDBOXED, &[(&ivan, "approver"), (&sue, "approver")]);
    let skill = repo.data.path().join("skill.json");
    std::fs::write(
        &skill,
        json!({"title": "Add a file", "description": "Add NEW.txt.", "source": "manual",
               "submitted_by": sue, "evidence_refs": [], "targets": ["NEW.txt"]})
        .to_string(),
    )
    .unwrap();
    let s = repo
        .oxide(&["--json", "skill", "add", skill.to_str().unwrap()])
        .expect(0)
        .json();
    let hex = s["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let id = validated(&repo, "self", 3, &hex, &ivan);
    for person in [&ivan, &sue] {
        unchanged_after(&repo, &id, || {
            let r = repo
                .oxide(&["--json", "approve", &id, "--person", person])
                .expect(3);
            assert_eq!(r.error_code(), "APPROVAL_CONFLICT_OF_INTEREST", "{person}");
        });
    }
    assert_eq!(state(&repo, &id), "validated");
}

#[test]
fn high_risk_reaches_approved_only_after_a_leads_signature() {
    let ann = pid("ann", "high");
    let lee = pid("lee", "high");
    let _forget = Forget(vec![ann.clone(), lee.clone()]);
    let repo = team_repo(UNSANDBOXED, &[(&ann, "approver"), (&lee, "lead")]);
    let id = validated(&repo, "high", 3, &"ab".repeat(32), "tester");
    let a = approve(&repo, &id, &ann);
    assert_eq!(a["state"], "validated", "{a:#}");
    assert_eq!(a["tally"]["missing"], json!(["lead"]), "{a:#}");
    let v = verify_fails(&repo, &id);
    assert!(v["problems"].to_string().contains("missing lead"), "{v:#}");
    let l = approve(&repo, &id, &lee);
    assert_eq!(l["state"], "approved", "{l:#}");
    assert_eq!(state(&repo, &id), "approved");
    let a = approvals(&repo, &id);
    let roles: Vec<_> = a["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["role"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(roles, ["approver", "lead"]);
    repo.oxide(&["--json", "verify", &id]).expect(0);
}

#[test]
fn a_rejection_needs_a_reason_and_a_required_role_blocks() {
    let ann = pid("ann", "reject");
    let lee = pid("lee", "reject");
    let _forget = Forget(vec![ann.clone(), lee.clone()]);
    let repo = team_repo(UNSANDBOXED, &[(&ann, "approver"), (&lee, "lead")]);
    let id = validated(&repo, "reject", 3, &"ab".repeat(32), "tester");
    unchanged_after(&repo, &id, || {
        let r = repo
            .oxide(&["--json", "approve", &id, "--person", &lee, "--reject"])
            .expect(2);
        assert_eq!(r.error_code(), "APPROVAL_REASON_REQUIRED");
    });
    approve(&repo, &id, &ann);
    let r = repo
        .oxide(&[
            "--json",
            "approve",
            &id,
            "--person",
            &lee,
            "--reject",
            "--reason",
            "too risky",
        ])
        .expect(0)
        .json();
    assert_eq!(r["state"], "rejected", "{r:#}");
    assert_eq!(state(&repo, &id), "rejected");
    // Nothing more can be signed.
    unchanged_after(&repo, &id, || {
        let r = repo
            .oxide(&["--json", "approve", &id, "--person", &ann])
            .expect(3);
        assert_eq!(r.error_code(), "APPROVAL_NOT_READY");
    });
}

#[test]
fn unregistered_persons_and_unvalidated_proposals_are_refused() {
    let ann = pid("ann", "gates");
    let zed = pid("zed", "gates");
    let _forget = Forget(vec![ann.clone(), zed.clone()]);
    let repo = team_repo(SANDBOXED, &[(&ann, "approver")]);
    // zed has a keyring key but is not in the committed registry (only in a draft).
    keygen(&repo, &zed);
    register(&repo, &zed, "lead", None);
    let id = validated(&repo, "gates", 3, &"ab".repeat(32), "tester");
    unchanged_after(&repo, &id, || {
        let r = repo
            .oxide(&["--json", "approve", &id, "--person", &zed])
            .expect(3);
        assert_eq!(r.error_code(), "APPROVAL_NOT_REGISTERED");
    });
    // A proposal never validated.
    let b = oxide_journeys::manual_bundle(
        &head(&repo),
        &"ab".repeat(32),
        "not validated",
        json!([{"op": "create_file", "path": "OTHER.txt", "content": "x\n"}]),
        "2026-11-21T05:00:00Z",
    );
    let p = repo.import_bundle("unvalidated", &b);
    unchanged_after(&repo, &p, || {
        let r = repo
            .oxide(&["--json", "approve", &p, "--person", &ann])
            .expect(3);
        assert_eq!(r.error_code(), "APPROVAL_NOT_READY");
    });
}

/// The initiator is the person this device resolves — who-I-am if it names a person whose key
/// is here, else the only person whose key is here — never the actor name: with
/// `OXIDE_ACTOR` and `USER` set to someone else (and who-I-am naming a person without a key
/// here), the only key holder still initiated the proposal, and their own approval is
/// refused (exit 3, nothing signed or changed).
#[test]
fn an_actor_name_never_makes_the_initiators_own_approval_count() {
    let alice = pid("alice", "actor");
    let _forget = Forget(vec![alice.clone()]);
    let repo = TestRepo::with_files(&[("README.md", "# test\n"), ("src/a.txt", "a\n")]);
    repo.init();
    std::fs::write(repo.path().join(".oxide/checks.toml"), SANDBOXED).unwrap();
    keygen(&repo, &alice);
    register(&repo, &alice, "approver", None);
    commit_all(&repo, "governance");
    oxide_journeys::signing::who_i_am(&repo, Some("nobody"));
    let file = repo.data.path().join("actor.json");
    std::fs::write(
        &file,
        oxide_journeys::manual_bundle(
            &head(&repo),
            &"ab".repeat(32),
            "Add NEW.txt",
            json!([{"op": "create_file", "path": "NEW.txt", "content": "x\n"}]),
            "2026-11-21T05:00:00Z",
        )
        .to_string(),
    )
    .unwrap();
    let id = repo
        .oxide_env(
            &["--json", "proposal", "import", file.to_str().unwrap()],
            &[("OXIDE_ACTOR", "nobody"), ("USER", "nobody")],
        )
        .expect(0)
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    repo.oxide(&["--json", "validate", &id]).expect(0);
    let db = rusqlite::Connection::open(repo.db()).unwrap();
    let (initiator, actor): (Option<String>, String) = db
        .query_row(
            "SELECT p.initiator, e.actor FROM proposals p JOIN audit_events e
             ON e.subject = p.id AND e.kind = 'workflow.admit' WHERE p.id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(initiator.as_deref(), Some(alice.as_str()));
    assert_eq!(actor, "nobody", "the actor stays the audit label");
    unchanged_after(&repo, &id, || {
        let r = repo
            .oxide_env(
                &["--json", "approve", &id, "--person", &alice],
                &[("OXIDE_ACTOR", "nobody")],
            )
            .expect(3);
        assert_eq!(
            r.error_code(),
            "APPROVAL_CONFLICT_OF_INTEREST",
            "{}",
            r.stdout
        );
        assert!(r.stdout.contains(&alice) || r.stderr.contains(&alice));
    });
    assert_eq!(state(&repo, &id), "validated");
}

/// With several persons' keys on this device and nobody chosen as who-I-am, no single person
/// proposed as far as this device can tell: every key holder could have, so none of their
/// approvals counts — each is stored, and the tally says why.
#[test]
fn with_several_keys_and_no_who_i_am_no_key_holder_counts() {
    let ana = pid("ana", "many");
    let bo = pid("bo", "many");
    let _forget = Forget(vec![ana.clone(), bo.clone()]);
    let repo = team_repo(SANDBOXED, &[(&ana, "approver"), (&bo, "approver")]);
    let _author = Forget(vec![author(&repo)]);
    // No who-I-am: the import is not resolved to a person.
    let id = import(&repo, "many", 3, &"ab".repeat(32), &ana);
    repo.oxide(&["--json", "validate", &id]).expect(0);
    let db = rusqlite::Connection::open(repo.db()).unwrap();
    let (initiator, could): (Option<String>, String) = db
        .query_row(
            "SELECT initiator, initiator_candidates FROM proposals WHERE id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(initiator, None);
    for p in [&ana, &bo] {
        assert!(could.contains(p.as_str()), "{could}");
        let r = approve(&repo, &id, p);
        assert_eq!(r["counted"], false, "{r:#}");
        assert!(
            r["why"].as_str().unwrap().contains("could have initiated"),
            "{r:#}"
        );
        assert_eq!(r["state"], "validated", "{r:#}");
    }
    let a = approvals(&repo, &id);
    assert_eq!(a["tally"]["satisfied"], false, "{a:#}");
    assert_eq!(
        a["tally"]["not_counted"].as_array().unwrap().len(),
        2,
        "{a:#}"
    );
    assert_eq!(state(&repo, &id), "validated");
}

/// Proposed on a device without any key (the initiator cannot be resolved), then a key is
/// made here: its holder could be the one who proposed, so their approval does not count
/// (stored, and the tally says why) — a key made after proposing never launders one's own
/// proposal.
#[test]
fn a_key_made_here_after_an_unresolved_proposal_does_not_count() {
    let alice = pid("alice", "later");
    let _forget = Forget(vec![alice.clone()]);
    let repo = TestRepo::with_files(&[("README.md", "# test\n"), ("src/a.txt", "a\n")]);
    repo.init();
    std::fs::write(repo.path().join(".oxide/checks.toml"), SANDBOXED).unwrap();
    commit_all(&repo, "governance: checks");
    let id = import(&repo, "later", 3, &"ab".repeat(32), "someone-else");
    let db = rusqlite::Connection::open(repo.db()).unwrap();
    let (initiator, could): (Option<String>, String) = db
        .query_row(
            "SELECT initiator, initiator_candidates FROM proposals WHERE id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((initiator, could.as_str()), (None, "[]"));
    keygen(&repo, &alice);
    register(&repo, &alice, "approver", None);
    commit_all(&repo, "governance: alice");
    repo.oxide(&["--json", "validate", &id]).expect(0);
    let r = approve(&repo, &id, &alice);
    assert_eq!(r["counted"], false, "{r:#}");
    assert!(
        r["why"].as_str().unwrap().contains("could have initiated"),
        "{r:#}"
    );
    assert_eq!(state(&repo, &id), "validated");
    let v = verify_fails(&repo, &id);
    assert!(v["problems"].to_string().contains("not satisfied"), "{v:#}");
}

/// A keyring entry alone never makes anyone the initiator: ana (an approver) makes a key
/// under lee's name with a scratch database (lee's registered key is elsewhere), chooses lee
/// as who she is and imports a proposal, then chooses herself again and approves. lee's entry
/// here is not the key the committed registry registers to lee, so nobody is named: ana could
/// have proposed, and her approval is stored but does not count.
#[test]
fn a_key_under_another_persons_name_does_not_make_them_the_initiator() {
    let ana = pid("ana", "fake");
    let lee = pid("lee", "fake");
    let lee_real = pid("leereal", "fake");
    let _forget = Forget(vec![ana.clone(), lee.clone(), lee_real.clone()]);
    let repo = team_repo(SANDBOXED, &[(&ana, "approver")]);
    let _author = Forget(vec![author(&repo)]);
    // lee's own key, made on lee's device (another database): registered to lee here.
    let lees_device = TestRepo::with_files(&[("README.md", "# lee\n")]);
    lees_device.init();
    let real = keygen(&lees_device, &lee_real);
    register(&repo, &lee, "lead", Some(real["public"].as_str().unwrap()));
    commit_all(&repo, "governance: lee");
    // ana's forgery: a key under lee's name in her keyring, made with a scratch database.
    let scratch = TestRepo::with_files(&[("README.md", "# scratch\n")]);
    scratch.init();
    let fake = keygen(&scratch, &lee);
    assert_ne!(fake["keyid"], real["keyid"]);
    oxide_journeys::signing::who_i_am(&repo, Some(&lee));
    let id = import(&repo, "fake", 3, &"ab".repeat(32), &lee);
    oxide_journeys::signing::who_i_am(&repo, Some(&ana));
    repo.oxide(&["--json", "validate", &id]).expect(0);
    let db = rusqlite::Connection::open(repo.db()).unwrap();
    let (initiator, could): (Option<String>, Option<String>) = db
        .query_row(
            "SELECT initiator, initiator_candidates FROM proposals WHERE id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(initiator, None, "lee was named from an unregistered key");
    let could = could.unwrap();
    assert!(could.contains(ana.as_str()), "{could}");
    let r = approve(&repo, &id, &ana);
    assert_eq!(r["counted"], false, "{r:#}");
    assert!(
        r["why"].as_str().unwrap().contains("could have initiated"),
        "{r:#}"
    );
    assert_eq!(r["state"], "validated", "{r:#}");
    let a = approvals(&repo, &id);
    assert_eq!(a["tally"]["satisfied"], false, "{a:#}");
}

/// A local user with the database file erases who initiated a proposal, so that the author's
/// own approval would count: the trigger refuses the edit; with the trigger dropped, the row
/// no longer matches the admission's audit event, so approving is refused as tampered (exit
/// 3, nothing stored or changed) and the tally reports the edit.
#[test]
fn an_initiator_erased_in_the_database_is_caught() {
    let ana = pid("ana", "erase");
    let _forget = Forget(vec![ana.clone()]);
    let repo = team_repo(SANDBOXED, &[(&ana, "approver")]);
    let author = author(&repo);
    let _author = Forget(vec![author.clone()]);
    let id = validated(&repo, "erase", 3, &"ab".repeat(32), "tester");
    let db = rusqlite::Connection::open(repo.db()).unwrap();
    let erase = "UPDATE proposals SET initiator = NULL, initiator_candidates = NULL WHERE id = ?1";
    let refused = db.execute(erase, [&id]).unwrap_err().to_string();
    assert!(refused.contains("fixed at admission"), "{refused}");
    db.execute_batch("DROP TRIGGER IF EXISTS proposals_initiator_fixed;")
        .unwrap();
    assert_eq!(db.execute(erase, [&id]).unwrap(), 1);
    unchanged_after(&repo, &id, || {
        let r = repo
            .oxide(&["--json", "approve", &id, "--person", &author])
            .expect(3);
        assert_eq!(r.error_code(), "APPROVAL_TAMPERED", "{}", r.stdout);
        assert!(r.stdout.contains("database was edited"), "{}", r.stdout);
    });
    let a = approvals(&repo, &id);
    assert!(
        a["problems"].to_string().contains("admission recorded"),
        "{a:#}"
    );
    assert_eq!(a["tally"]["satisfied"], false, "{a:#}");
    // Another person is named instead: caught the same way.
    db.execute(
        "UPDATE proposals SET initiator = ?2 WHERE id = ?1",
        rusqlite::params![id, ana],
    )
    .unwrap();
    unchanged_after(&repo, &id, || {
        let r = repo
            .oxide(&["--json", "approve", &id, "--person", &author])
            .expect(3);
        assert_eq!(r.error_code(), "APPROVAL_TAMPERED", "{}", r.stdout);
    });
    assert_eq!(state(&repo, &id), "validated");
}

/// Proposed while this workspace knew nobody (no registry committed, ana's key made with
/// another database), so unresolved with no candidate; then ana is registered with that key.
/// She is in today's registry and her key is in this keyring: she could have proposed, so her
/// approval does not count — hiding the registry when proposing, or registering after, never
/// launders one's own proposal.
#[test]
fn registering_after_an_unresolved_proposal_does_not_make_the_holder_count() {
    let ana = pid("ana", "hidden");
    let _forget = Forget(vec![ana.clone()]);
    let repo = TestRepo::with_files(&[("README.md", "# test\n"), ("src/a.txt", "a\n")]);
    repo.init();
    std::fs::write(repo.path().join(".oxide/checks.toml"), SANDBOXED).unwrap();
    commit_all(&repo, "governance: checks");
    let elsewhere = TestRepo::with_files(&[("README.md", "# elsewhere\n")]);
    elsewhere.init();
    let k = keygen(&elsewhere, &ana);
    let id = import(&repo, "hidden", 3, &"ab".repeat(32), &ana);
    let db = rusqlite::Connection::open(repo.db()).unwrap();
    let (initiator, could): (Option<String>, String) = db
        .query_row(
            "SELECT initiator, initiator_candidates FROM proposals WHERE id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((initiator, could.as_str()), (None, "[]"));
    register(&repo, &ana, "approver", Some(k["public"].as_str().unwrap()));
    commit_all(&repo, "governance: ana");
    repo.oxide(&["--json", "validate", &id]).expect(0);
    let r = approve(&repo, &id, &ana);
    assert_eq!(r["counted"], false, "{r:#}");
    assert!(
        r["why"].as_str().unwrap().contains("could have initiated"),
        "{r:#}"
    );
    assert_eq!(state(&repo, &id), "validated");
    let a = approvals(&repo, &id);
    assert_eq!(a["tally"]["satisfied"], false, "{a:#}");
}
