//! Issue 13 (items 1–2): `oxide promote` through the real binary under the real Secret
//! Service (scripts/test's gnome-keyring). The happy path ends with a commit `git
//! verify-commit` calls a good signature of the promoter, given the allowed_signers that
//! `oxide keys export-allowed-signers` prints. Then every gate is attacked — by a local user
//! holding the database file, their own key, the working tree or the refs — and each attack
//! exits 3 with NOTHING promoted: the target ref where it was, the state as it was (unless
//! the rule itself moves it: REC-001 quarantines, a moved target supersedes), no promotion
//! row.

use std::path::Path;
use std::process::Command;

use oxide_journeys::signing::{commit_all, keyring_seed, random_hex32, SignedRepo};
use oxide_journeys::{git, manual_bundle};
use serde_json::{json, Value};

fn rev(s: &SignedRepo, what: &str) -> String {
    git(s.repo.path(), &["rev-parse", what]).trim().to_string()
}

fn db(s: &SignedRepo) -> rusqlite::Connection {
    rusqlite::Connection::open(s.repo.db()).unwrap()
}

fn count(s: &SignedRepo, sql: &str) -> i64 {
    db(s).query_row(sql, [], |r| r.get(0)).unwrap()
}

/// What a refused promotion must leave as it was.
#[derive(Debug, PartialEq)]
struct Snap {
    main: String,
    state: String,
    promotions: i64,
    pending: i64,
    audit: i64,
}

fn snap(s: &SignedRepo, id: &str) -> Snap {
    Snap {
        main: rev(s, "main"),
        state: s.state(id),
        promotions: count(s, "SELECT count(*) FROM promotions"),
        pending: count(
            s,
            "SELECT count(*) FROM promotion_intents WHERE status = 'pending'",
        ),
        audit: count(s, "SELECT count(*) FROM audit_events"),
    }
}

fn promote(s: &SignedRepo, id: &str, person: &str) -> oxide_journeys::Run {
    s.run(
        &["--json", "promote", id, "--person", person],
        &[("OXIDE_ACTOR", person)],
    )
}

/// `promote` exits 3 with `code` and changes nothing at all (refs, state, rows, audit).
fn refused(s: &SignedRepo, id: &str, person: &str, code: &str) -> Value {
    let before = snap(s, id);
    let r = promote(s, id, person).expect(3);
    assert_eq!(r.error_code(), code, "{}", r.stdout);
    assert_eq!(snap(s, id), before, "a refused promotion changed something");
    r.json()
}

/// `promote` exits 3 with `code`: nothing promoted (ref, rows), the state now `state`.
fn refused_to(s: &SignedRepo, id: &str, person: &str, code: &str, state: &str) -> Value {
    let main = rev(s, "main");
    let rows = count(s, "SELECT count(*) FROM promotions");
    let r = promote(s, id, person).expect(3);
    assert_eq!(r.error_code(), code, "{}", r.stdout);
    assert_eq!(rev(s, "main"), main, "the target moved");
    assert_eq!(count(s, "SELECT count(*) FROM promotions"), rows);
    assert_eq!(s.state(id), state);
    r.json()
}

/// A local user with the database file sets a proposal's state.
fn force_state(s: &SignedRepo, id: &str, state: &str) {
    db(s)
        .execute(
            "UPDATE proposals SET state = ?2 WHERE id = ?1",
            rusqlite::params![id, state],
        )
        .unwrap();
}

/// `git -c gpg.ssh.allowedSignersFile=F ARGS` (verify-commit and log print to stderr and
/// stdout respectively); returns (success, stdout + stderr).
fn git_signed(dir: &Path, signers: &Path, args: &[&str]) -> (bool, String) {
    let o = Command::new("git")
        .current_dir(dir)
        .arg("-c")
        .arg(format!("gpg.ssh.allowedSignersFile={}", signers.display()))
        .args(args)
        .output()
        .expect("run git");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

fn allowed_signers(s: &SignedRepo) -> std::path::PathBuf {
    let text = s
        .run(&["keys", "export-allowed-signers"], &[])
        .expect(0)
        .stdout;
    let f = s.repo.data.path().join("allowed_signers");
    std::fs::write(&f, text).unwrap();
    f
}

/// A manual proposal creating `path` with `lines` lines (60 lines: medium risk, two
/// approvers), imported with `initiator` as the audit actor and validated. The person who
/// proposes is `initiator` when it is one of the persons (who-I-am for the import), else
/// the repository's author.
fn validated_file(s: &SignedRepo, path: &str, lines: usize, initiator: &str) -> String {
    let content: String = (0..lines)
        .map(|i| format!("line {i} of {path}\n"))
        .collect();
    let b = manual_bundle(
        &rev(s, "main"),
        &random_hex32(),
        &format!("Add {path}"),
        json!([{"op": "create_file", "path": path, "content": content}]),
        "2026-11-21T05:00:00Z",
    );
    let f = s
        .repo
        .data
        .path()
        .join(format!("{}.json", path.replace('/', "_")));
    std::fs::write(&f, b.to_string()).unwrap();
    let person = s.persons.iter().any(|p| p.0 == initiator);
    let who = if person { initiator } else { s.author.as_str() };
    oxide_journeys::signing::who_i_am(&s.repo, Some(who));
    let id = s.run(
        &["--json", "proposal", "import", f.to_str().unwrap()],
        &[("OXIDE_ACTOR", initiator)],
    );
    oxide_journeys::signing::who_i_am(&s.repo, Some(&s.author));
    let id = id.expect(0).json()["id"].as_str().unwrap().to_string();
    let v = s.run(&["--json", "validate", &id], &[]).expect(0).json();
    assert_eq!(v["state"], "validated", "{v:#}");
    id
}

/// Commits `text` to `path` on main (the checked-out target), as another developer would.
fn commit_file(s: &SignedRepo, path: &str, text: &str, msg: &str) -> String {
    let p = s.repo.path().join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
    commit_all(&s.repo, msg)
}

/// Every commit object in the repository's object database (reachable or not) that is signed
/// (`gpgsig`) and carries `Oxide-Proposal: <id>`.
fn signed_promotion_commits(s: &SignedRepo, id: &str) -> Vec<String> {
    let all = git(
        s.repo.path(),
        &[
            "cat-file",
            "--batch-all-objects",
            "--batch-check=%(objectname) %(objecttype)",
        ],
    );
    all.lines()
        .filter_map(|l| l.strip_suffix(" commit"))
        .filter(|oid| {
            let body = git(s.repo.path(), &["cat-file", "commit", oid]);
            body.lines().any(|l| l.starts_with("gpgsig "))
                && body
                    .lines()
                    .any(|l| l.trim() == format!("Oxide-Proposal: {id}"))
        })
        .map(str::to_string)
        .collect()
}

// ------------------------------------------------------------------ the happy path

#[test]
fn a_lead_promotes_with_a_signed_commit_git_verifies() {
    let s = SignedRepo::new(&[("ana", "approver"), ("lee", "lead")]);
    let (ana, lee) = (s.person(0).to_string(), s.person(1).to_string());
    let ana_keyid = s.persons[0].2.clone();
    let id = s.validated_change("src/config.txt", "retries = 3", "retries = 5", "tester");
    s.approve(&id, &ana).expect(0);
    assert_eq!(s.state(&id), "approved");
    let base = rev(&s, "main");
    let branch_tree = rev(&s, &format!("oxide/proposals/{id}^{{tree}}"));

    let r = promote(&s, &id, &lee).expect(0).json();
    assert_eq!(r["id"], id.as_str(), "{r:#}");
    assert_eq!(r["state"], "promoted", "{r:#}");
    let commit = r["commit"].as_str().unwrap().to_string();
    assert_eq!(rev(&s, "main"), commit);
    assert_eq!(
        rev(&s, "main^"),
        base,
        "parent = the target head it was judged on"
    );
    assert_eq!(
        rev(&s, "main^{tree}"),
        branch_tree,
        "tree = the proposal branch's"
    );
    assert_eq!(s.state(&id), "promoted");

    // git alone verifies it, with the allowed_signers OXIDE exports.
    let signers = allowed_signers(&s);
    let (ok, out) = git_signed(s.repo.path(), &signers, &["verify-commit", &commit]);
    assert!(ok, "git verify-commit refused: {out}");
    assert!(
        out.contains(&format!("Good \"git\" signature for {lee}")),
        "{out}"
    );
    let (ok, log) = git_signed(
        s.repo.path(),
        &signers,
        &["log", "--show-signature", "-1", &commit],
    );
    assert!(ok, "{log}");
    assert!(
        log.contains(&format!("Good \"git\" signature for {lee}")),
        "{log}"
    );
    assert!(log.contains(&format!("Oxide-Proposal: {id}")), "{log}");
    assert!(
        log.contains(&format!("Oxide-Approval: {ana_keyid}")),
        "{log}"
    );
    assert!(log.contains(&format!("Oxide-Promoted-By: {lee}")), "{log}");
    assert!(log.contains("Oxide-Bundle-Digest: sha256:"), "{log}");
    assert!(log.contains(&format!("<{lee}@oxide.invalid>")), "{log}");
    // A commit signed by nobody in the allowed signers does not pass.
    let empty = s.repo.data.path().join("nobody");
    std::fs::write(&empty, "").unwrap();
    assert!(!git_signed(s.repo.path(), &empty, &["verify-commit", &commit]).0);

    // The checked-out target's files followed, and nothing else changed there.
    assert_eq!(
        std::fs::read_to_string(s.repo.path().join("src/config.txt")).unwrap(),
        "retries = 5\n"
    );
    assert_eq!(git(s.repo.path(), &["status", "--porcelain"]), "");

    // One promotion row, its intent done, audited; the chain verifies.
    let d = db(&s);
    let (c, person, approvals): (String, String, String) = d
        .query_row(
            "SELECT commit_id, person, approval_keyids FROM promotions WHERE proposal_id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (c.as_str(), person.as_str()),
        (commit.as_str(), lee.as_str())
    );
    assert!(approvals.contains(&ana_keyid));
    assert_eq!(
        count(
            &s,
            "SELECT count(*) FROM promotion_intents WHERE status = 'done'"
        ),
        1
    );
    assert_eq!(
        count(
            &s,
            "SELECT count(*) FROM audit_events WHERE kind = 'rollout.promoted'"
        ),
        1
    );
    let v = s.run(&["--json", "audit", "verify"], &[]).expect(0).json();
    assert_eq!(v["ok"], true, "{v:#}");

    // Never twice.
    refused(&s, &id, &lee, "ROLLOUT_NOT_APPROVED");
}

#[test]
fn a_maintainer_promotes_and_the_person_must_be_named_when_ambiguous() {
    let s = SignedRepo::new(&[("ana", "approver"), ("mo", "maintainer")]);
    let (ana, mo) = (s.person(0).to_string(), s.person(1).to_string());
    let id = s.validated_change("src/config.txt", "retries = 3", "retries = 4", "tester");
    s.approve(&id, &ana).expect(0);
    // Two persons' keys are held here: without --person and with nobody chosen as who-I-am,
    // nobody is guessed (exit 2).
    oxide_journeys::signing::who_i_am(&s.repo, None);
    let before = snap(&s, &id);
    let r = s.run(&["--json", "promote", &id], &[]).expect(2);
    assert_eq!(r.error_code(), "ROLLOUT_NO_PERSON");
    assert_eq!(snap(&s, &id), before);
    let r = promote(&s, &id, &mo).expect(0).json();
    assert_eq!(r["state"], "promoted", "{r:#}");
    let signers = allowed_signers(&s);
    let (ok, out) = git_signed(s.repo.path(), &signers, &["verify-commit", "main"]);
    assert!(
        ok && out.contains(&format!("Good \"git\" signature for {mo}")),
        "{out}"
    );
}

#[test]
fn only_a_lead_or_maintainer_of_the_committed_registry_promotes() {
    let s = SignedRepo::new(&[("ana", "approver"), ("abe", "approver"), ("lee", "lead")]);
    let (ana, abe, lee) = (
        s.person(0).to_string(),
        s.person(1).to_string(),
        s.person(2).to_string(),
    );
    let id = s.validated_change("src/config.txt", "retries = 3", "retries = 6", "tester");
    s.approve(&id, &ana).expect(0);
    // An approver — even one who approved — may not promote.
    let e = refused(&s, &id, &ana, "ROLLOUT_NOT_PROMOTER");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("lead or maintainer"),
        "{e:#}"
    );
    refused(&s, &id, &abe, "ROLLOUT_NOT_PROMOTER");
    // A person with a keyring key, registered as a lead only in the working-tree draft.
    let zed = oxide_journeys::signing::unique_person("zed");
    s.run(&["--json", "keys", "generate", "--person", &zed], &[])
        .expect(0);
    s.run(
        &[
            "--json",
            "approvers",
            "add",
            "--person",
            &zed,
            "--name",
            "Zed",
            "--role",
            "lead",
        ],
        &[],
    )
    .expect(0);
    refused(&s, &id, &zed, "ROLLOUT_NOT_PROMOTER");
    // No such person at all (e.g. O.X.I.D.E or the host brain: never persons).
    refused(&s, &id, "oxide", "ROLLOUT_NOT_PROMOTER");
    git(s.repo.path(), &["checkout", "--", ".oxide/approvers.toml"]);
    promote(&s, &id, &lee).expect(0);
}

// ------------------------------------------------------------------ the gates, attacked

#[test]
fn no_approvals_promote_nothing() {
    let s = SignedRepo::new(&[("ana", "approver"), ("lee", "lead")]);
    let lee = s.person(1).to_string();
    let id = s.validated_change("src/config.txt", "retries = 3", "retries = 5", "tester");
    let e = refused(&s, &id, &lee, "ROLLOUT_NOT_APPROVED");
    assert!(e["error"]["message"]
        .as_str()
        .unwrap()
        .contains("gate `state`"));
    // The state forged to `approved` in the database file: the approvals gate still says no.
    force_state(&s, &id, "approved");
    let e = refused(&s, &id, &lee, "ROLLOUT_APPROVALS");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no approvals"),
        "{e:#}"
    );
}

#[test]
fn one_person_with_two_keys_counts_once_at_promotion() {
    let s = SignedRepo::new(&[("dan", "approver"), ("lee", "lead")]);
    let (dan, lee) = (s.person(0).to_string(), s.person(1).to_string());
    // 60 new lines: medium risk, two distinct approvers required.
    let id = validated_file(&s, "NEW.txt", 60, "tester");
    s.approve(&id, &dan).expect(0);
    s.run(&["--json", "keys", "rotate", "--person", &dan], &[])
        .expect(0);
    commit_all(&s.repo, "dan's second key");
    let second = s.approve(&id, &dan).expect(0).json();
    assert_eq!(second["counted"], false, "{second:#}");
    assert_eq!(s.state(&id), "validated");
    force_state(&s, &id, "approved");
    let e = refused(&s, &id, &lee, "ROLLOUT_APPROVALS");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("missing"),
        "{e:#}"
    );
}

#[test]
fn the_initiators_own_approval_does_not_count_at_promotion() {
    let s = SignedRepo::new(&[("ana", "approver"), ("ivan", "approver"), ("lee", "lead")]);
    let (ana, ivan, lee) = (
        s.person(0).to_string(),
        s.person(1).to_string(),
        s.person(2).to_string(),
    );
    let id = validated_file(&s, "NEW.txt", 60, &ivan);
    let genuine = s.approve(&id, &ana).expect(0).json();
    assert_eq!(s.state(&id), "validated");
    // ivan, the initiator, signs his own approval with his own keyring key (valid signature,
    // registered key) and writes it into the database file next to ana's, then forges the
    // state: it must not count.
    let mut st: Value = oxide_journeys::signing::statement_of(&genuine["envelope"]);
    st["predicate"]["person"] = json!(ivan);
    st["predicate"]["nonce"] = json!(random_hex32());
    let statement: oxide_core::signing::statement::Statement = serde_json::from_value(st).unwrap();
    let seed: [u8; 32] = keyring_seed(&format!("person:{ivan}")).try_into().unwrap();
    let key = oxide_core::signing::SecretKey::from_seed(&seed);
    let env = oxide_core::signing::dsse::sign(
        oxide_core::signing::dsse::PAYLOAD_TYPE,
        &statement.to_payload(),
        &key,
    )
    .to_json();
    let d = db(&s);
    d.execute(
        "INSERT INTO approvals (proposal_id, envelope, keyid, person, decision, nonce,
             bundle_digest, issued_at, expires_at, stored_at, audit_seq)
         SELECT proposal_id, ?2, ?3, ?4, decision, ?5, bundle_digest, issued_at, expires_at,
                stored_at, audit_seq FROM approvals WHERE proposal_id = ?1",
        rusqlite::params![id, env, key.keyid(), ivan, statement.predicate.nonce],
    )
    .unwrap();
    force_state(&s, &id, "approved");
    let e = refused(&s, &id, &lee, "ROLLOUT_APPROVALS");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("missing") && msg.contains("not counted"),
        "{e:#}"
    );
}

#[test]
fn an_approval_of_an_older_bundle_does_not_count() {
    let s = SignedRepo::new(&[("ana", "approver"), ("lee", "lead")]);
    let (ana, lee) = (s.person(0).to_string(), s.person(1).to_string());
    let old = validated_file(&s, "NEW.txt", 3, "tester");
    s.approve(&old, &ana).expect(0);
    assert_eq!(s.state(&old), "approved");
    // A newer bundle of the change; the approval of the older one moved onto it in the
    // database file, the state forged.
    let newer = validated_file(&s, "NEW2.txt", 3, "tester");
    db(&s)
        .execute(
            "UPDATE approvals SET proposal_id = ?2 WHERE proposal_id = ?1",
            rusqlite::params![old, newer],
        )
        .unwrap();
    force_state(&s, &newer, "approved");
    let e = refused(&s, &newer, &lee, "ROLLOUT_APPROVALS");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not counted"),
        "{e:#}"
    );
    // And the older proposal has lost it: nothing to promote there either.
    refused(&s, &old, &lee, "ROLLOUT_APPROVALS");
}

#[test]
fn a_bundle_edited_in_the_database_after_approval_is_quarantined_not_promoted() {
    let s = SignedRepo::new(&[("ana", "approver"), ("lee", "lead")]);
    let (ana, lee) = (s.person(0).to_string(), s.person(1).to_string());
    let id = s.validated_change("src/config.txt", "retries = 3", "retries = 5", "tester");
    s.approve(&id, &ana).expect(0);
    db(&s)
        .execute(
            "UPDATE proposals SET bundle = replace(bundle, 'retries = 5', 'retries = 9')
             WHERE id = ?1",
            [&id],
        )
        .unwrap();
    let e = refused_to(&s, &id, &lee, "ROLLOUT_BUNDLE_INVALID", "quarantined");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("bundle"),
        "{e:#}"
    );
    assert_eq!(
        std::fs::read_to_string(s.repo.path().join("src/config.txt")).unwrap(),
        "retries = 3\n"
    );
}

#[test]
fn a_moved_target_supersedes_unless_a_trivial_rebase_may_keep_the_approvals() {
    let s = SignedRepo::new(&[("ana", "approver"), ("lee", "lead")]);
    let (ana, lee) = (s.person(0).to_string(), s.person(1).to_string());
    // The intent no longer applies on the new head.
    let id = s.validated_change("src/config.txt", "retries = 3", "retries = 5", "tester");
    s.approve(&id, &ana).expect(0);
    let head = commit_file(
        &s,
        "src/config.txt",
        "retries = 4\n",
        "someone else's change",
    );
    let e = refused_to(&s, &id, &lee, "ROLLOUT_SUPERSEDED", "superseded");
    assert!(
        e["error"]["message"].as_str().unwrap().contains(&head),
        "{e:#}"
    );
    // It still applies and its diff is identical, but the committed settings do not carry
    // approvals over a rebase (the default): superseded too.
    let id2 = s.validated_change("src/config.txt", "retries = 4", "retries = 8", "tester");
    s.approve(&id2, &ana).expect(0);
    commit_file(&s, "README.md", "# moved on\n", "docs");
    let e = refused_to(&s, &id2, &lee, "ROLLOUT_SUPERSEDED", "superseded");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("trivial_rebase_keeps_approvals"),
        "{e:#}"
    );
}

#[test]
fn a_trivial_rebase_keeps_the_approvals_and_is_revalidated() {
    let s = SignedRepo::new(&[("ana", "approver"), ("lee", "lead")]);
    let (ana, lee) = (s.person(0).to_string(), s.person(1).to_string());
    // The repository allows carrying approvals over a trivial rebase, and its contract has a
    // check that a moved target can break.
    let toml = s.repo.path().join(".oxide/oxide.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        format!("{text}\n[rollout]\ntrivial_rebase_keeps_approvals = true\n"),
    )
    .unwrap();
    std::fs::write(
        s.repo.path().join(".oxide/checks.toml"),
        "[[check]]\nname = \"unit\"\nrun = [\"true\"]\nenv = [\"PATH\"]\ntimeout_s = 30\nrequired = true\n\n\
         [[check]]\nname = \"not-broken\"\nrun = [\"test\", \"!\", \"-e\", \"BROKEN\"]\nenv = [\"PATH\"]\ntimeout_s = 30\nrequired = true\n",
    )
    .unwrap();
    commit_all(&s.repo, "governance: carry approvals over trivial rebases");

    // Positive: an unrelated commit lands; the proposal's diff is identical on it.
    let id = s.validated_change("src/config.txt", "retries = 3", "retries = 5", "tester");
    let base = rev(&s, "main");
    s.approve(&id, &ana).expect(0);
    let moved = commit_file(&s, "README.md", "# moved on\n", "docs");
    let r = promote(&s, &id, &lee).expect(0).json();
    assert_eq!(r["state"], "promoted", "{r:#}");
    assert_eq!(r["carried_over"], true, "{r:#}");
    let commit = r["commit"].as_str().unwrap().to_string();
    assert_eq!(rev(&s, "main"), commit);
    assert_eq!(rev(&s, "main^"), moved, "parent = the moved head");
    let files = git(s.repo.path(), &["show", "main:README.md"]);
    assert_eq!(files, "# moved on\n", "the moved head's change is kept");
    assert_eq!(
        git(s.repo.path(), &["show", "main:src/config.txt"]),
        "retries = 5\n"
    );
    let msg = git(s.repo.path(), &["log", "-1", "--format=%B", "main"]);
    assert!(
        msg.contains(&format!("Oxide-Rebased-From: {base}")),
        "{msg}"
    );
    let signers = allowed_signers(&s);
    assert!(git_signed(s.repo.path(), &signers, &["verify-commit", "main"]).0);
    // The re-validation on the moved head is in the audited promotion.
    let payload: String = db(&s)
        .query_row(
            "SELECT payload FROM audit_events WHERE kind = 'rollout.promoted'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let p: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(p["carried_over"], true, "{p:#}");
    let checks = p["detail"]["revalidation"]["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2, "{p:#}");
    assert!(checks.iter().all(|c| c["status"] == "passed"), "{p:#}");
    assert_eq!(p["detail"]["revalidation"]["head"], moved.as_str());

    // Negative: the intent applies, but the diff is not the reviewed one (the file changed
    // around the edit): superseded.
    let id3 = s.validated_change("src/config.txt", "retries = 5", "retries = 6", "tester");
    s.approve(&id3, &ana).expect(0);
    commit_file(
        &s,
        "src/config.txt",
        "retries = 5\ntimeout = 9\n",
        "tune timeout",
    );
    let e = refused_to(&s, &id3, &lee, "ROLLOUT_SUPERSEDED", "superseded");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("src/config.txt"),
        "{e:#}"
    );

    // Negative: trivial, but the re-validation on the moved head fails: superseded.
    let id2 = validated_file(&s, "NEW.txt", 3, "tester");
    s.approve(&id2, &ana).expect(0);
    commit_file(&s, "BROKEN", "x\n", "break the build");
    let e = refused_to(&s, &id2, &lee, "ROLLOUT_REVALIDATION_FAILED", "superseded");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not-broken"),
        "{e:#}"
    );
    // Nothing was signed before the re-validation failed: no commit in the object database
    // names the proposal in a promotion trailer, none carries a signature for it.
    let promotions_of_id2 = signed_promotion_commits(&s, &id2);
    assert!(
        promotions_of_id2.is_empty(),
        "a failed re-validation left signed promotion commits: {promotions_of_id2:?}"
    );
    // The check itself sees the carried-over promotion that did land (id): it is not blind.
    assert_eq!(signed_promotion_commits(&s, &id), vec![commit.clone()]);
    let v = s.run(&["--json", "audit", "verify"], &[]).expect(0).json();
    assert_eq!(v["ok"], true, "{v:#}");
}

#[test]
fn a_policy_changed_and_committed_after_the_decision_refuses() {
    let s = SignedRepo::new(&[("ana", "approver"), ("lee", "lead")]);
    let (ana, lee) = (s.person(0).to_string(), s.person(1).to_string());
    let id = s.validated_change("src/config.txt", "retries = 3", "retries = 5", "tester");
    s.approve(&id, &ana).expect(0);
    let rego = s.repo.path().join(".oxide/policy/oxide.rego");
    let text = std::fs::read_to_string(&rego).unwrap();
    std::fs::write(&rego, format!("{text}\n# tuned after the decision\n")).unwrap();
    commit_all(&s.repo, "policy tuned");
    let e = refused(&s, &id, &lee, "ROLLOUT_POLICY_CHANGED");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("gate `policy`"),
        "{e:#}"
    );
}

/// One promotion is judged on one snapshot of the governance. Here a policy commit lands on
/// `main` after the decision took its snapshot (the caller holds the pin, as a push between
/// two of the gates' reads would): the gates judge the pinned commit, where the approval
/// holds, and the compare-and-swap refuses to land the promotion on any other head. Nothing
/// is promoted, and once the pin is gone the gates see the new policy and refuse as well.
#[test]
fn a_governance_commit_landing_mid_decision_is_not_mixed_into_it() {
    let s = SignedRepo::new(&[("ana", "approver"), ("lee", "lead")]);
    let (ana, lee) = (s.person(0).to_string(), s.person(1).to_string());
    let id = s.validated_change("src/config.txt", "retries = 3", "retries = 5", "tester");
    s.approve(&id, &ana).expect(0);
    let mut ws = oxide_core::Workspace::open(s.repo.path(), Some(&s.repo.db())).unwrap();
    let risk =
        |ws: &oxide_core::Workspace| oxide_core::approval::current(ws, &id).unwrap().current.risk;
    let risk_before = risk(&ws);
    assert_ne!(risk_before, "high");
    let pin = ws.pin_governance().unwrap();
    let judged = pin.commit().expect("main exists").to_string();
    assert_eq!(judged, rev(&s, "main"));
    // The policy is tuned, and the checks contract makes the proposal's file part of the
    // required check's harness (which the committed policy rates high risk).
    let rego = s.repo.path().join(".oxide/policy/oxide.rego");
    let text = std::fs::read_to_string(&rego).unwrap();
    std::fs::write(&rego, format!("{text}\n# tuned mid-decision\n")).unwrap();
    let checks = s.repo.path().join(".oxide/checks.toml");
    let text = std::fs::read_to_string(&checks).unwrap();
    std::fs::write(&checks, format!("{}harness = [\"src/**\"]\n", text)).unwrap();
    let moved = commit_all(&s.repo, "governance tuned");
    assert_ne!(moved, judged);
    let before = snap(&s, &id);
    // Inside the pin every gate, the policy's included, reads the pinned commit and holds;
    // the facts an approval would sign keep the pinned contract's risk.
    let r = oxide_core::rollout::readiness(&ws, &id, Some(&lee)).unwrap();
    assert!(r.gates.iter().all(|g| g.ok), "{r:#?}");
    assert_eq!(risk(&ws), risk_before, "the harness of the pinned contract");
    let e =
        oxide_core::rollout::promote(&mut ws, &id, &lee, &lee, &|_| None, &mut |_| {}).unwrap_err();
    assert_eq!(e.code(), "ROLLOUT_TARGET_MOVED", "{e}");
    assert!(
        e.to_string().contains(&judged) && e.to_string().contains(&moved),
        "{e}"
    );
    drop(pin);
    let after = snap(&s, &id);
    assert_eq!(
        after.main, moved,
        "main stays where the policy commit put it"
    );
    assert_eq!(
        (after.state.as_str(), after.promotions, after.pending),
        (before.state.as_str(), 0, 0)
    );
    assert!(signed_promotion_commits(&s, &id).iter().all(|c| git(
        s.repo.path(),
        &["branch", "--contains", c]
    )
    .trim()
    .is_empty()));
    // Unpinned, the gates read the tuned governance: the file is now harness (high risk), and
    // the approval was given under another policy.
    assert_eq!(risk(&ws), "high");
    let r = oxide_core::rollout::readiness(&ws, &id, Some(&lee)).unwrap();
    let policy = r
        .gates
        .iter()
        .find(|g| g.gate == oxide_core::rollout::Gate::Policy)
        .unwrap();
    assert!(!policy.ok, "{policy:?}");
    refused(&s, &id, &lee, "ROLLOUT_POLICY_CHANGED");
}

#[test]
fn a_revoked_key_refuses_the_approval_and_the_promoter() {
    let s = SignedRepo::new(&[("ana", "approver"), ("lee", "lead"), ("mo", "maintainer")]);
    let (ana, lee, mo) = (
        s.person(0).to_string(),
        s.person(1).to_string(),
        s.person(2).to_string(),
    );
    // The approver's key revoked after the approval.
    let id = s.validated_change("src/config.txt", "retries = 3", "retries = 5", "tester");
    let a = s.approve(&id, &ana).expect(0).json();
    s.run(
        &[
            "--json",
            "keys",
            "revoke",
            a["keyid"].as_str().unwrap(),
            "--reason",
            "laptop lost",
        ],
        &[],
    )
    .expect(0);
    refused(&s, &id, &lee, "ROLLOUT_APPROVALS");

    // The promoter's own key revoked.
    let id2 = validated_file(&s, "NEW.txt", 3, "tester");
    s.approve(&id2, &mo).expect(0);
    s.run(
        &[
            "--json",
            "keys",
            "revoke",
            &s.persons[1].2,
            "--reason",
            "left",
        ],
        &[],
    )
    .expect(0);
    let e = refused(&s, &id2, &lee, "ROLLOUT_NOT_PROMOTER");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("revoked"),
        "{e:#}"
    );
}

#[test]
fn a_proposal_branch_moved_after_validation_refuses() {
    let s = SignedRepo::new(&[("ana", "approver"), ("lee", "lead")]);
    let (ana, lee) = (s.person(0).to_string(), s.person(1).to_string());
    let id = s.validated_change("src/config.txt", "retries = 3", "retries = 5", "tester");
    s.approve(&id, &ana).expect(0);
    let branch = format!("refs/heads/oxide/proposals/{id}");
    let good = rev(&s, &branch);
    // Moved to a commit with other content (the reviewed parent plus a change of its own).
    let evil = git(
        s.repo.path(),
        &[
            "commit-tree",
            "-p",
            "main",
            "-m",
            "evil",
            &rev(&s, "main^{tree}"),
        ],
    )
    .trim()
    .to_string();
    git(s.repo.path(), &["update-ref", &branch, &evil]);
    refused(&s, &id, &lee, "ROLLOUT_BRANCH_MOVED");
    // Back where it was: the same command promotes (the refusal was about the branch).
    git(s.repo.path(), &["update-ref", &branch, &good]);
    promote(&s, &id, &lee).expect(0);
}

#[test]
fn local_changes_in_the_promoted_paths_refuse_before_the_ref_moves() {
    let s = SignedRepo::new(&[("ana", "approver"), ("lee", "lead")]);
    let (ana, lee) = (s.person(0).to_string(), s.person(1).to_string());
    let id = s.validated_change("src/config.txt", "retries = 3", "retries = 5", "tester");
    s.approve(&id, &ana).expect(0);
    let cfg = s.repo.path().join("src/config.txt");
    std::fs::write(&cfg, "retries = 7\n").unwrap();
    refused(&s, &id, &lee, "ROLLOUT_WORKTREE_DIRTY");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "retries = 7\n");
    // Local work elsewhere is left alone and does not block.
    git(s.repo.path(), &["checkout", "--", "src/config.txt"]);
    std::fs::write(s.repo.path().join("README.md"), "# my notes\n").unwrap();
    promote(&s, &id, &lee).expect(0);
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "retries = 5\n");
    assert_eq!(
        std::fs::read_to_string(s.repo.path().join("README.md")).unwrap(),
        "# my notes\n"
    );
}

#[test]
fn a_forged_intent_in_the_journal_records_nothing() {
    // A local user with the database file and the repository commits to main a commit that
    // claims to promote an approved proposal (trailers, no valid signature), and writes a
    // `pending` intent for it whose owner is dead: reconcile must not record a promotion.
    let s = SignedRepo::new(&[("ana", "approver"), ("lee", "lead")]);
    let (ana, lee) = (s.person(0).to_string(), s.person(1).to_string());
    let id = s.validated_change("src/config.txt", "retries = 3", "retries = 5", "tester");
    s.approve(&id, &ana).expect(0);
    let old = rev(&s, "main");
    std::fs::write(s.repo.path().join("src/config.txt"), "retries = 5\n").unwrap();
    git(s.repo.path(), &["add", "-A"]);
    git(
        s.repo.path(),
        &[
            "commit",
            "-q",
            "-m",
            &format!(
                "oxide: promote forged\n\nOxide-Proposal: {id}\nOxide-Bundle-Digest: sha256:{}\nOxide-Promoted-By: {lee}\n",
                "0".repeat(64)
            ),
        ],
    );
    let forged = rev(&s, "main");
    db(&s)
        .execute(
            "INSERT INTO promotion_intents (proposal_id, target_ref, old_head, new_commit, person,
                 keyid, approval_keyids, carried_over, gates, status, owner_pid, owner_start,
                 owner_token, at, checkout)
             VALUES (?1, 'refs/heads/main', ?2, ?3, ?4, 'k', '[]', 0, '[]', 'pending', 2147483000,
                     1, 'dead', '2026-11-30T00:00:00Z', 'none')",
            rusqlite::params![id, old, forged, lee],
        )
        .unwrap();
    s.run(&["--json", "status"], &[]).expect(0);
    assert_eq!(s.state(&id), "approved");
    assert_eq!(count(&s, "SELECT count(*) FROM promotions"), 0);
    assert_eq!(
        count(
            &s,
            "SELECT count(*) FROM promotion_intents WHERE status = 'abandoned'"
        ),
        1
    );
    assert_eq!(
        count(
            &s,
            "SELECT count(*) FROM audit_events WHERE kind = 'rollout.promote_abandoned'"
        ),
        1
    );
}
