//! Canary checks, rollbacks and the rollback drill (issue 13, REC-005/REC-006, R-009) through
//! the real `oxide` binary with real keyring keys and real git: a failed canary rolls the
//! promotion back with a signed revert commit git verifies; a lead or maintainer rolls back
//! by hand, nobody else, and never a proposal that is not promoted; runtime-memory targets are
//! restored; the drill rehearses it all on a scratch branch; and the attacks — a canary
//! reaching for the database and the refs, a database edit claiming a promotion — change
//! nothing.

use std::path::Path;

use oxide_journeys::signing::{commit_all, unique_person, SignedRepo};
use oxide_journeys::{git, manual_bundle};
use serde_json::{json, Value};

const PERSONS: &[(&str, &str)] = &[("ana", "approver"), ("lee", "lead"), ("max", "maintainer")];

fn head(s: &SignedRepo) -> String {
    git(s.repo.path(), &["rev-parse", "main"])
        .trim()
        .to_string()
}

fn audit_count(s: &SignedRepo) -> u64 {
    let v = s.run(&["--json", "status"], &[]).expect(0).json();
    v["audit_events"].as_u64().unwrap()
}

fn kinds(s: &SignedRepo, kind: &str) -> Vec<Value> {
    let v = s
        .run(&["--json", "audit", "list", "--kind", kind], &[])
        .expect(0)
        .json();
    v["events"].as_array().unwrap().clone()
}

/// Commits `.oxide/checks.toml` with a required check and the given `[[canary]]` tables.
fn with_canaries(s: &SignedRepo, canaries: &str) {
    std::fs::write(
        s.repo.path().join(".oxide/checks.toml"),
        format!("[[check]]\nname = \"unit\"\nrun = [\"true\"]\nenv = [\"PATH\"]\ntimeout_s = 30\nrequired = true\n{canaries}"),
    )
    .unwrap();
    commit_all(&s.repo, "governance: canary checks");
}

/// Imports a manual proposal of `ops` on the current `main` (as `tester`), validates it and
/// has `approvers` approve it; asserts it ends `approved`.
fn approved(s: &SignedRepo, ops: Value, approvers: &[usize]) -> String {
    let skill_hex: String = unique_person("s")
        .bytes()
        .map(|b| format!("{:x}", b % 16))
        .collect();
    let skill_hex = format!("{skill_hex:0>64}");
    let bundle = manual_bundle(
        &head(s),
        &skill_hex[skill_hex.len() - 64..],
        "tune",
        ops,
        "2026-01-01T00:00:00Z",
    );
    let file = s
        .repo
        .data
        .path()
        .join(format!("{}.json", unique_person("b")));
    std::fs::write(&file, bundle.to_string()).unwrap();
    let id = s
        .run(
            &["--json", "proposal", "import", file.to_str().unwrap()],
            &[],
        )
        .expect(0)
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v = s.run(&["--json", "validate", &id], &[]).expect(0).json();
    assert_eq!(v["state"], "validated", "{v:#}");
    for i in approvers {
        s.approve(&id, s.person(*i)).expect(0);
    }
    assert_eq!(s.state(&id), "approved", "{:#}", s.approvals(&id));
    id
}

fn edit(path: &str, find: &str, replace: &str) -> Value {
    json!([{"op": "text_edit", "path": path, "find": find, "replace": replace}])
}

fn promote(s: &SignedRepo, id: &str, person: &str) -> oxide_journeys::Run {
    s.run(&["--json", "promote", id, "--person", person], &[])
}

/// A promoted proposal changing `src/config.txt` (retries = 3 → `to`).
fn promoted(s: &SignedRepo, to: &str) -> (String, String) {
    let id = approved(s, edit("src/config.txt", "retries = 3", to), &[0]);
    let p = promote(s, &id, s.person(1)).expect(0).json();
    assert_eq!(p["state"], "promoted", "{p:#}");
    (id, p["commit"].as_str().unwrap().to_string())
}

/// `git verify-commit C` with the exported allowed_signers: git's own verdict (stderr).
fn verify_commit(s: &SignedRepo, commit: &str) -> (bool, String) {
    let signers = s
        .run(&["keys", "export-allowed-signers"], &[])
        .expect(0)
        .stdout;
    let f = s.repo.data.path().join("allowed_signers");
    std::fs::write(&f, signers).unwrap();
    let out = std::process::Command::new("git")
        .current_dir(s.repo.path())
        .args([
            "-c",
            "gpg.format=ssh",
            "-c",
            &format!("gpg.ssh.allowedSignersFile={}", f.display()),
            "verify-commit",
            commit,
        ])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn trailer(s: &SignedRepo, commit: &str, key: &str) -> String {
    git(
        s.repo.path(),
        &[
            "log",
            "-1",
            &format!("--format=%(trailers:key={key},valueonly)"),
            commit,
        ],
    )
    .trim()
    .to_string()
}

fn bindings_of(s: &SignedRepo, run_id: &str) -> Vec<(String, Option<String>)> {
    let conn = rusqlite::Connection::open(s.repo.db()).unwrap();
    let mut st = conn
        .prepare("SELECT signal, failure_reason_code FROM binder_bindings WHERE run_id = ?1")
        .unwrap();
    st.query_map([run_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// What must not change when a rollback is refused.
fn snapshot(s: &SignedRepo, id: &str) -> (String, String, u64, String) {
    (
        head(s),
        s.state(id),
        audit_count(s),
        git(s.repo.path(), &["status", "--porcelain"]),
    )
}

#[test]
fn a_failing_canary_rolls_back_with_a_signed_revert_commit() {
    let s = SignedRepo::new(PERSONS);
    with_canaries(
        &s,
        "[[canary]]\nname = \"smoke\"\nrun = [\"sh\", \"-c\", \"echo smoke-log-line; exit 7\"]\nenv = [\"PATH\"]\ntimeout_s = 30\n",
    );
    let id = approved(
        &s,
        edit("src/config.txt", "retries = 3", "retries = 9"),
        &[0],
    );
    let before = head(&s);
    let r = promote(&s, &id, s.person(1));
    // The canary gate said no: exit 3 with the result document.
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    let p = r.json();
    assert_eq!(p["state"], "rolled_back", "{p:#}");
    let canary = &p["canary"];
    assert_eq!(canary["status"], "failed", "{p:#}");
    assert_eq!(canary["checks"][0]["exit_code"], 7, "{p:#}");
    let revert = canary["rolled_back"]["commit"]
        .as_str()
        .unwrap()
        .to_string();
    let promotion = p["commit"].as_str().unwrap().to_string();
    // The target holds the revert of the promotion, on top of it.
    assert_eq!(head(&s), revert);
    assert_eq!(
        git(s.repo.path(), &["rev-parse", &format!("{revert}^")]).trim(),
        promotion
    );
    assert_eq!(
        git(s.repo.path(), &["rev-parse", &format!("{promotion}^")]).trim(),
        before
    );
    assert_eq!(
        git(s.repo.path(), &["show", "main:src/config.txt"]),
        "retries = 3\n"
    );
    // The checked-out files follow the target.
    assert_eq!(
        std::fs::read_to_string(s.repo.path().join("src/config.txt")).unwrap(),
        "retries = 3\n"
    );
    // Signed by the promoter; git verifies it with the exported allowed_signers.
    let (ok, out) = verify_commit(&s, &revert);
    assert!(ok, "{out}");
    assert!(out.contains("Good \"git\" signature"), "{out}");
    assert!(out.contains(s.person(1)), "{out}");
    assert_eq!(trailer(&s, &revert, "Oxide-Rollback-Of"), promotion);
    assert_eq!(trailer(&s, &revert, "Oxide-Proposal"), id);
    assert_eq!(trailer(&s, &revert, "Oxide-Reason-Code"), "CANARY_FAILED");
    // State, reason code, audit event, the binder's envelope.
    let show = s
        .run(&["--json", "proposal", "show", &id], &[])
        .expect(0)
        .json();
    assert_eq!(show["state"], "rolled_back");
    assert_eq!(show["failure_reason_code"], "CANARY_FAILED", "{show:#}");
    let ev = kinds(&s, "rollout.rolled_back");
    assert_eq!(ev.len(), 1, "{ev:#?}");
    assert_eq!(ev[0]["subject"], id.as_str());
    assert_eq!(kinds(&s, "rollout.canary_finished").len(), 1);
    assert_eq!(
        bindings_of(&s, &format!("rollback/{id}")),
        [("fail".to_string(), Some("CANARY_FAILED".to_string()))]
    );
    // The canary run is recorded with its log.
    let c = s.run(&["--json", "canary", &id], &[]).expect(0).json();
    assert_eq!(c["runs"][0]["status"], "failed", "{c:#}");
    assert!(
        c["runs"][0]["checks"][0]["output"]
            .as_str()
            .unwrap()
            .contains("smoke-log-line"),
        "{c:#}"
    );
    s.run(&["--json", "audit", "verify"], &[]).expect(0);
    // Never rolled back twice: a manual rollback now is refused, nothing changes.
    let snap = snapshot(&s, &id);
    let again = s.run(
        &[
            "--json",
            "rollback",
            &id,
            "--reason",
            "again",
            "--person",
            s.person(1),
        ],
        &[],
    );
    assert_eq!(again.code, 3, "{}", again.stdout);
    assert_eq!(snapshot(&s, &id), snap);
}

#[test]
fn a_passing_canary_keeps_the_promotion() {
    let s = SignedRepo::new(PERSONS);
    with_canaries(
        &s,
        "[[canary]]\nname = \"smoke\"\nrun = [\"sh\", \"-c\", \"grep -q 'retries = 5' src/config.txt\"]\nenv = [\"PATH\"]\ntimeout_s = 30\n",
    );
    let id = approved(
        &s,
        edit("src/config.txt", "retries = 3", "retries = 5"),
        &[0],
    );
    let p = promote(&s, &id, s.person(1)).expect(0).json();
    assert_eq!(p["state"], "promoted", "{p:#}");
    assert_eq!(p["canary"]["status"], "passed", "{p:#}");
    assert!(p["canary"]["rolled_back"].is_null());
    assert_eq!(head(&s), p["commit"].as_str().unwrap());
    // The canaries run again on demand (after an abandoned run), by a lead; not an approver.
    let r = s.run(
        &["--json", "canary", &id, "--run", "--person", s.person(0)],
        &[],
    );
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert_eq!(r.error_code(), "ROLLOUT_ROLLBACK_ROLE");
    let c = s
        .run(
            &["--json", "canary", &id, "--run", "--person", s.person(1)],
            &[],
        )
        .expect(0)
        .json();
    let runs = c["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{c:#}");
    assert!(runs.iter().all(|r| r["status"] == "passed"), "{c:#}");
    assert_eq!(c["state"], "promoted");
}

#[test]
fn a_lead_or_a_maintainer_rolls_back_by_hand_and_nobody_else() {
    let s = SignedRepo::new(PERSONS);
    let (id, promotion) = promoted(&s, "retries = 4");
    // The approver may not: exit 3, the rule named, nothing changed.
    let snap = snapshot(&s, &id);
    let r = s.run(
        &[
            "--json",
            "rollback",
            &id,
            "--reason",
            "bad",
            "--person",
            s.person(0),
        ],
        &[],
    );
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.error_code(), "ROLLOUT_ROLLBACK_ROLE");
    assert_eq!(snapshot(&s, &id), snap);
    // Neither may someone outside the registry, nor O.X.I.D.E's actor name.
    for who in ["oxide", "host-brain"] {
        let r = s.run(
            &[
                "--json", "rollback", &id, "--reason", "bad", "--person", who,
            ],
            &[],
        );
        assert_eq!(r.code, 3, "{who}: {}", r.stdout);
        assert_eq!(snapshot(&s, &id), snap);
    }
    // A reason is required (exit 2).
    let r = s.run(
        &[
            "--json",
            "rollback",
            &id,
            "--reason",
            " ",
            "--person",
            s.person(1),
        ],
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert_eq!(snapshot(&s, &id), snap);
    // The lead may.
    let rb = s
        .run(
            &[
                "--json",
                "rollback",
                &id,
                "--reason",
                "latency doubled",
                "--person",
                s.person(1),
            ],
            &[],
        )
        .expect(0)
        .json();
    assert_eq!(rb["id"], id.as_str());
    assert_eq!(rb["state"], "rolled_back");
    let revert = rb["commit"].as_str().unwrap();
    assert_eq!(head(&s), revert);
    assert_eq!(trailer(&s, revert, "Oxide-Rollback-Of"), promotion);
    assert_eq!(trailer(&s, revert, "Oxide-Reason-Code"), "MANUAL_ROLLBACK");
    let (ok, out) = verify_commit(&s, revert);
    assert!(ok && out.contains("Good \"git\" signature"), "{out}");
    assert!(git(s.repo.path(), &["log", "-1", "--format=%B", revert]).contains("latency doubled"));
    assert_eq!(
        bindings_of(&s, &format!("rollback/{id}")),
        [("fail".to_string(), Some("MANUAL_ROLLBACK".to_string()))]
    );
    // The maintainer may too (another promotion).
    let (id2, _) = promoted(&s, "retries = 3\nbackoff = 2");
    let rb2 = s
        .run(
            &[
                "--json",
                "rollback",
                &id2,
                "--reason",
                "noise",
                "--person",
                s.person(2),
            ],
            &[],
        )
        .expect(0)
        .json();
    assert_eq!(rb2["state"], "rolled_back");
    s.run(&["--json", "audit", "verify"], &[]).expect(0);
}

#[test]
fn a_proposal_that_is_not_promoted_is_never_rolled_back() {
    let s = SignedRepo::new(PERSONS);
    let id = approved(
        &s,
        edit("src/config.txt", "retries = 3", "retries = 6"),
        &[0],
    );
    let snap = snapshot(&s, &id);
    let r = s.run(
        &[
            "--json",
            "rollback",
            &id,
            "--reason",
            "x",
            "--person",
            s.person(1),
        ],
        &[],
    );
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert_eq!(r.error_code(), "WORKFLOW_ILLEGAL_TRANSITION");
    assert_eq!(snapshot(&s, &id), snap);
    // A local user with the database file claims it was promoted (state and a forged
    // promotion row pointing at the current head): the promotion does not verify.
    let conn = rusqlite::Connection::open(s.repo.db()).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    conn.execute(
        "UPDATE proposals SET state = 'promoted' WHERE id = ?1",
        [&id],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO promotions (proposal_id, target_ref, old_head, commit_id, person, keyid,
             approval_keyids, carried_over, intent_id, at, audit_seq)
         VALUES (?1, 'refs/heads/main', ?2, ?2, 'lee', 'k', '[]', 0, 1, 't', 1)",
        rusqlite::params![id, head(&s)],
    )
    .unwrap();
    drop(conn);
    let before = (head(&s), git(s.repo.path(), &["for-each-ref"]));
    let r = s.run(
        &[
            "--json",
            "rollback",
            &id,
            "--reason",
            "x",
            "--person",
            s.person(1),
        ],
        &[],
    );
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.error_code(), "ROLLOUT_NO_PROMOTION");
    assert_eq!((head(&s), git(s.repo.path(), &["for-each-ref"])), before);
    assert!(kinds(&s, "rollout.rolled_back").is_empty());
}

#[test]
fn a_memory_target_is_written_at_promotion_and_restored_at_rollback() {
    let s = SignedRepo::new(PERSONS);
    let set = |v: Value| json!([{"op": "memory_set", "namespace": "behavior", "key": "review.tone", "value": v}]);
    // A memory change is at least medium: two approvers (the approver and the maintainer).
    let first = approved(&s, set(json!("terse")), &[0, 2]);
    let risk = s
        .run(&["--json", "policy", "eval", &first], &[])
        .expect(0)
        .json();
    assert_eq!(risk["risk"], "medium", "{risk:#}");
    promote(&s, &first, s.person(1)).expect(0);
    let second = approved(&s, set(json!({"tone": "warm"})), &[0, 2]);
    promote(&s, &second, s.person(1)).expect(0);
    let show = |s: &SignedRepo| {
        s.run(
            &["--json", "memory", "show", "behavior", "review.tone"],
            &[],
        )
        .expect(0)
        .json()
    };
    let m = show(&s);
    assert_eq!(m["entry"]["version"], 2, "{m:#}");
    assert_eq!(m["entry"]["value"], json!({"tone": "warm"}));
    assert_eq!(m["entry"]["proposal_id"], second.as_str());
    let rb = s
        .run(
            &[
                "--json",
                "rollback",
                &second,
                "--reason",
                "too chatty",
                "--person",
                s.person(1),
            ],
            &[],
        )
        .expect(0)
        .json();
    assert_eq!(rb["memory_restored"][0]["value"], "terse", "{rb:#}");
    let m = show(&s);
    assert_eq!(m["entry"]["version"], 3, "{m:#}");
    assert_eq!(m["entry"]["value"], "terse");
    assert_eq!(
        m["entry"]["proposal_id"],
        second.as_str(),
        "history names the proposal"
    );
    let reasons: Vec<&str> = m["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            format!("promoted proposal {first}"),
            format!("promoted proposal {second}"),
            format!("rolled back proposal {second}")
        ]
    );
    // Rolling back the first now would discard the restore of the second's: refused.
    let before = show(&s);
    let r = s.run(
        &[
            "--json",
            "rollback",
            &first,
            "--reason",
            "x",
            "--person",
            s.person(1),
        ],
        &[],
    );
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert_eq!(r.error_code(), "ROLLOUT_MEMORY_CONFLICT");
    assert_eq!(show(&s), before);
    assert_eq!(s.state(&first), "promoted");
    s.run(&["--json", "audit", "verify"], &[]).expect(0);
}

#[test]
fn a_canary_reaching_for_the_database_and_the_refs_changes_nothing() {
    let s = SignedRepo::new(PERSONS);
    with_canaries(
        &s,
        "[[canary]]\nname = \"smoke\"\nrun = [\"sh\", \"./smoke.sh\"]\nenv = [\"PATH\"]\ntimeout_s = 30\n",
    );
    std::fs::write(s.repo.path().join("smoke.sh"), "exit 0\n").unwrap();
    commit_all(&s.repo, "smoke test");
    let db = s.repo.db();
    let git_dir = s.repo.path().join(".git");
    // The promoted change's own smoke.sh: forge a passing result, rewrite the database and the
    // target ref, then fail.
    let evil = format!(
        "echo '{{\"status\":\"passed\"}}' > canary-result.json\n\
         printf 'forged' > '{db}' 2>/dev/null && echo WROTE-DB\n\
         sqlite3 '{db}' \"UPDATE canary_runs SET status = 'passed'\" 2>/dev/null && echo SQL-DB\n\
         echo 0000000000000000000000000000000000000000 > '{git}/refs/heads/main' 2>/dev/null && echo WROTE-REF\n\
         ls '{git}' >/dev/null 2>&1 && echo SAW-GIT\n\
         exit 1\n",
        db = db.display(),
        git = git_dir.display()
    );
    let id = approved(
        &s,
        json!([{"op": "text_edit", "path": "smoke.sh", "find": "exit 0\n", "replace": evil}]),
        &[0],
    );
    let db_before = std::fs::metadata(&db).unwrap().len();
    let r = promote(&s, &id, s.person(1));
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    let p = r.json();
    assert_eq!(p["state"], "rolled_back", "{p:#}");
    let c = s.run(&["--json", "canary", &id], &[]).expect(0).json();
    let out = c["runs"][0]["checks"][0]["output"]
        .as_str()
        .unwrap()
        .to_string();
    for bad in ["WROTE-DB", "SQL-DB", "WROTE-REF", "SAW-GIT"] {
        assert!(
            !out.contains(bad),
            "the sandbox let the canary {bad}: {out}"
        );
    }
    assert_eq!(c["runs"][0]["status"], "failed");
    // The ref holds the signed revert; the database is whole; its audit chain verifies.
    let revert = p["canary"]["rolled_back"]["commit"].as_str().unwrap();
    assert_eq!(head(&s), revert);
    assert!(verify_commit(&s, revert).0);
    assert!(std::fs::metadata(&db).unwrap().len() >= db_before);
    s.run(&["--json", "audit", "verify"], &[]).expect(0);
    assert!(!Path::new(&s.repo.path().join("canary-result.json")).exists());
}

#[test]
fn the_rollback_drill_rehearses_on_a_scratch_branch_and_records_evidence() {
    let s = SignedRepo::new(PERSONS);
    with_canaries(
        &s,
        "[[canary]]\nname = \"smoke\"\nrun = [\"true\"]\nenv = [\"PATH\"]\ntimeout_s = 30\n",
    );
    let before = head(&s);
    let d = s
        .run(
            &["--json", "rollback", "drill", "--person", s.person(1)],
            &[],
        )
        .expect(0)
        .json();
    assert_eq!(d["ok"], true, "{d:#}");
    assert_eq!(d["target_unchanged"], true);
    assert_eq!(d["signatures_verified"], true);
    assert_eq!(d["restored_base_tree"], true);
    assert_eq!(d["canary_passed"], true);
    assert_eq!(d["canaries"][0]["name"], "smoke");
    assert_eq!(head(&s), before, "the target never moves in a drill");
    let branch = d["branch"].as_str().unwrap();
    assert!(branch.starts_with("oxide/drill/"), "{branch}");
    let tip = git(s.repo.path(), &["rev-parse", branch])
        .trim()
        .to_string();
    assert_eq!(tip, d["revert_commit"].as_str().unwrap());
    for c in [&tip, d["promotion_commit"].as_str().unwrap()] {
        let (ok, out) = verify_commit(&s, c);
        assert!(ok, "{out}");
    }
    let ev = kinds(&s, "rollout.drill");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["seq"], d["audit_seq"]);
    // An approver may not run the drill; nothing recorded.
    let r = s.run(
        &["--json", "rollback", "drill", "--person", s.person(0)],
        &[],
    );
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert_eq!(r.error_code(), "ROLLOUT_ROLLBACK_ROLE");
    assert_eq!(kinds(&s, "rollout.drill").len(), 1);
    s.run(&["--json", "audit", "verify"], &[]).expect(0);
}

/// A local user with the database file writes a `pending` rollback intent (dead owner) naming
/// `new_head` as its revert commit, `old` as the head it was made on and the lead as its
/// person; returns nothing, the row is there.
fn forge_intent(s: &SignedRepo, id: &str, promotion: &str, old: &str, new_head: &str) {
    rusqlite::Connection::open(s.repo.db())
        .unwrap()
        .execute(
            "INSERT INTO rollback_intents (proposal_id, target_ref, old_head, new_head,
                 promotion_commit, person, keyid, trigger, failure_reason_code, reason,
                 canary_run, pid, owner_start, owner_token, at, status)
             VALUES (?1, 'refs/heads/main', ?2, ?3, ?4, ?5, 'k', 'manual', 'MANUAL_ROLLBACK',
                     'forged', NULL, 2147483000, 1, 'dead', '2026-11-30T00:00:00Z', 'pending')",
            rusqlite::params![id, old, new_head, promotion, s.person(1)],
        )
        .unwrap();
}

fn count(s: &SignedRepo, sql: &str) -> i64 {
    rusqlite::Connection::open(s.repo.db())
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_forged_rollback_intent_is_abandoned_and_changes_nothing() {
    let s = SignedRepo::new(PERSONS);
    // A promotion changing a checked-out file and a runtime-memory entry.
    let mut ops = edit("src/config.txt", "retries = 3", "retries = 4");
    ops.as_array_mut()
        .unwrap()
        .push(json!({"op": "memory_set", "namespace": "behavior",
        "key": "review.tone", "value": "terse"}));
    let id = approved(&s, ops, &[0, 2]);
    let p = promote(&s, &id, s.person(1)).expect(0).json();
    assert_eq!(p["state"], "promoted", "{p:#}");
    let promotion = p["commit"].as_str().unwrap().to_string();
    let base = git(s.repo.path(), &["rev-parse", &format!("{promotion}^")])
        .trim()
        .to_string();
    let old = head(&s);
    let memory = |s: &SignedRepo| {
        s.run(
            &["--json", "memory", "show", "behavior", "review.tone"],
            &[],
        )
        .expect(0)
        .json()
    };
    let config = |s: &SignedRepo| std::fs::read_to_string(s.repo.path().join("src/config.txt"));
    let binder = |s: &SignedRepo| count(s, "SELECT count(*) FROM binder_bindings");
    let before = (
        head(&s),
        s.state(&id),
        config(&s).unwrap(),
        memory(&s),
        binder(&s),
    );
    assert_eq!(before.2, "retries = 4\n");

    // 1. new_head = the commit before the promotion (an ancestor of the tip, unsigned).
    forge_intent(&s, &id, &promotion, &old, &base);
    s.run(&["--json", "status"], &[]).expect(0);
    let after = (
        head(&s),
        s.state(&id),
        config(&s).unwrap(),
        memory(&s),
        binder(&s),
    );
    assert_eq!(after, before, "a forged rollback intent changed something");
    assert_eq!(count(&s, "SELECT count(*) FROM rollbacks"), 0);
    assert!(kinds(&s, "rollout.rolled_back").is_empty());
    assert_eq!(
        count(
            &s,
            "SELECT count(*) FROM rollback_intents WHERE status = 'abandoned'"
        ),
        1
    );
    let ab = kinds(&s, "rollout.rollback_abandoned");
    assert_eq!(ab.len(), 1, "{ab:#?}");
    assert!(bindings_of(&s, &format!("rollback/{id}")).is_empty());

    // 2. The local user also commits a revert with every trailer onto main (parent = the old
    //    head) — unsigned: still abandoned, the proposal stays promoted, nothing recorded.
    std::fs::write(s.repo.path().join("src/config.txt"), "retries = 3\n").unwrap();
    commit_all(
        &s.repo,
        &format!(
            "oxide: roll back\n\nThis reverts commit {promotion}.\n\n\
             Oxide-Rollback-Of: {promotion}\nOxide-Proposal: {id}\n\
             Oxide-Reason-Code: MANUAL_ROLLBACK\nOxide-Rolled-Back-By: {}\n",
            s.person(1)
        ),
    );
    let forged = head(&s);
    forge_intent(&s, &id, &promotion, &old, &forged);
    s.run(&["--json", "status"], &[]).expect(0);
    assert_eq!(s.state(&id), "promoted");
    assert_eq!(head(&s), forged, "reconcile moved the ref");
    assert_eq!(
        memory(&s),
        before.3,
        "runtime memory restored by a forged intent"
    );
    assert_eq!(binder(&s), before.4);
    assert_eq!(count(&s, "SELECT count(*) FROM rollbacks"), 0);
    assert!(kinds(&s, "rollout.rolled_back").is_empty());
    assert_eq!(kinds(&s, "rollout.rollback_abandoned").len(), 2);
    assert_eq!(
        count(
            &s,
            "SELECT count(*) FROM rollback_intents WHERE status = 'pending'"
        ),
        0
    );
    let v = s.run(&["--json", "audit", "verify"], &[]).expect(0).json();
    assert_eq!(v["ok"], true, "{v:#}");
}
