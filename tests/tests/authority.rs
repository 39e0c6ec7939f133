//! The authority matrix of docs/roles.md, cell by cell, through the real `oxide`
//! binary with real keyring keys: what the host brain, O.X.I.D.E, an approver, a lead and a
//! maintainer may each do, and that everything else is refused or does not count. Each test
//! attacks one rule (as a local user holding a key, a database file or the working tree) and
//! shows the proposal did not move.
//!
//! `every_test_named_in_roles_md_exists` keeps docs/roles.md honest: each cell names the tests
//! that enforce it, and each named test must exist in tests/tests.

use std::path::{Path, PathBuf};

use oxide_journeys::git;
use oxide_journeys::signing::{
    keyring_entries, keyring_seed, random_hex32, sign_with_seed, statement_of, unique_person,
    SignedRepo,
};
use serde_json::{json, Value};

fn intent(path: &str, find: &str, replace: &str) -> Value {
    json!({"rationale": "tune", "risk_hints": [],
           "ops": [{"op": "text_edit", "path": path, "find": find, "replace": replace}]})
}

/// The approvals row of `person` (panics when absent).
fn row(s: &SignedRepo, id: &str, person: &str) -> Value {
    let a = s.approvals(id);
    a["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["person"] == person)
        .cloned()
        .unwrap_or_else(|| panic!("no approval by {person}\n{a:#}"))
}

/// An approval attempt that must not count: refused by a gate (exit 3, nothing stored) or
/// stored but not counted (the signature may well be valid: who signed is what fails).
/// Either way the proposal stays `validated`.
fn assert_not_counted(s: &SignedRepo, id: &str, person: &str, r: oxide_journeys::Run) {
    assert!(
        r.code == 0 || r.code == 3,
        "exit {}: {}\n{}",
        r.code,
        r.stdout,
        r.stderr
    );
    assert_eq!(
        s.state(id),
        "validated",
        "{person}'s approval moved the proposal"
    );
}

fn policy_risk(s: &SignedRepo, id: &str) -> String {
    let d = s.run(&["--json", "policy", "eval", id], &[]).json();
    d["risk"].as_str().unwrap_or_default().to_string()
}

// ------------------------------------------------------------------ O.X.I.D.E

#[test]
fn oxide_cannot_propose_governance_paths() {
    let s = SignedRepo::new(&[("ana", "approver")]);
    let skill = s.add_skill("host-brain");
    let main_before = git(s.repo.path(), &["rev-parse", "main"]);
    let registry_before = git(s.repo.path(), &["show", "main:.oxide/approvers.toml"]);
    // The model asks to register itself as a maintainer and to relax the policy.
    for (path, find, replace) in [
        (".oxide/approvers.toml", "", "[[persons]]\nid = \"oxide\"\n"),
        (".oxide/checks.toml", "required = true", "required = false"),
    ] {
        let i = if find.is_empty() {
            json!({"rationale": "register", "risk_hints": [],
                   "ops": [{"op": "create_file", "path": path, "content": replace}]})
        } else {
            intent(path, find, replace)
        };
        let p = s.propose(&skill, &i).expect(0).json();
        assert_eq!(p["state"], "no_op", "{p:#}");
        assert_eq!(p["failure_reason_code"], "SYNTH_GOVERNANCE_PATH", "{p:#}");
    }
    assert_eq!(git(s.repo.path(), &["rev-parse", "main"]), main_before);
    assert_eq!(
        git(s.repo.path(), &["show", "main:.oxide/approvers.toml"]),
        registry_before
    );
}

#[test]
fn oxide_proposing_adds_no_skill_and_no_approval() {
    let s = SignedRepo::new(&[("ana", "approver")]);
    let skill = s.add_skill("host-brain");
    let skills_before = s.run(&["--json", "skill", "list"], &[]).expect(0).json();
    let p = s
        .propose(
            &skill,
            &intent("src/config.txt", "retries = 3", "retries = 4"),
        )
        .expect(0)
        .json();
    assert_eq!(p["state"], "proposed", "{p:#}");
    let id = p["id"].as_str().unwrap();
    let skills_after = s.run(&["--json", "skill", "list"], &[]).expect(0).json();
    assert_eq!(skills_before, skills_after, "O.X.I.D.E wrote a skill");
    let a = s.approvals(id);
    assert_eq!(
        a["approvals"],
        json!([]),
        "O.X.I.D.E approved its own bundle"
    );
}

#[test]
fn the_instance_key_cannot_approve() {
    // A local user lifts the O.X.I.D.E instance key out of the keyring and signs, with it, the
    // lead's half of a high-risk approval: it is no registered person's key, so it never counts.
    let s = SignedRepo::new(&[("ana", "approver"), ("lee", "lead")]);
    let (ana, lee) = (s.person(0).to_string(), s.person(1).to_string());
    let id = s.validated_change("src/auth/session.txt", "ttl = 60", "ttl = 30", "tester");
    let genuine = s.approve(&id, &ana).expect(0).json();
    assert_eq!(s.state(&id), "validated");
    let mut statement = statement_of(&genuine["envelope"]);
    statement["predicate"]["person"] = json!(lee);
    statement["predicate"]["role"] = json!("lead");
    statement["predicate"]["nonce"] = json!(random_hex32());
    let instances: Vec<(String, Vec<u8>)> = keyring_entries()
        .into_iter()
        .filter(|(u, _)| u.starts_with("instance:"))
        .collect();
    assert!(!instances.is_empty(), "no instance key in the keyring");
    for (name, seed) in instances {
        let env = sign_with_seed(&seed, &statement);
        let f = s.repo.data.path().join("instance.dsse.json");
        std::fs::write(&f, env.to_string()).unwrap();
        let r = s.run(
            &["--json", "approve", &id, "--envelope", f.to_str().unwrap()],
            &[],
        );
        assert!(
            r.code == 3 || r.code == 2,
            "an envelope signed by {name} was accepted: {}",
            r.stdout
        );
        assert_eq!(s.state(&id), "validated");
    }
    // The lead's own key does count (so the refusal above was about the key).
    s.approve(&id, &lee).expect(0);
    assert_eq!(s.state(&id), "approved");
}

// ------------------------------------------------------------------ persons

#[test]
fn one_approver_approves_low_risk() {
    let s = SignedRepo::new(&[("ana", "approver")]);
    let id = s.validated_change("src/config.txt", "retries = 3", "retries = 5", "tester");
    assert_eq!(policy_risk(&s, &id), "low");
    s.approve(&id, s.person(0)).expect(0);
    assert_eq!(row(&s, &id, s.person(0))["status"], "valid");
    assert_eq!(s.state(&id), "approved");
}

#[test]
fn any_registered_role_approves_low_risk() {
    // The approver slot takes any registered person: a lead alone, a maintainer alone.
    let s = SignedRepo::new(&[("lee", "lead"), ("max", "maintainer")]);
    for i in 0..2 {
        let id = s.validated_change(
            "src/config.txt",
            "retries = 3",
            &format!("retries = {}", 5 + i),
            "tester",
        );
        assert_eq!(policy_risk(&s, &id), "low");
        s.approve(&id, s.person(i)).expect(0);
        assert_eq!(s.state(&id), "approved", "{} alone", s.persons[i].1);
    }
}

#[test]
fn a_person_not_in_the_registry_is_refused() {
    // ghost has a keyring key but no entry in the committed registry.
    let s = SignedRepo::new(&[("ana", "approver")]);
    let ghost = unique_person("ghost");
    s.run(&["--json", "keys", "generate", "--person", &ghost], &[])
        .expect(0);
    let id = s.validated_change("src/config.txt", "retries = 3", "retries = 5", "tester");
    let r = s.approve(&id, &ghost);
    assert_not_counted(&s, &id, &ghost, r);
    // The host brain is no person at all: no key, no registry entry.
    let r = s.approve(&id, "host-brain");
    assert_ne!(r.code, 0, "{}", r.stdout);
    assert_eq!(s.state(&id), "validated");
}

#[test]
fn an_uncommitted_registry_entry_grants_nothing() {
    // Mallory adds herself as a lead in the working tree (a draft) and does not commit.
    let s = SignedRepo::new(&[("ana", "approver")]);
    let mallory = unique_person("mallory");
    s.run(&["--json", "keys", "generate", "--person", &mallory], &[])
        .expect(0);
    s.run(
        &[
            "--json",
            "approvers",
            "add",
            "--person",
            &mallory,
            "--name",
            "M",
            "--role",
            "lead",
        ],
        &[],
    )
    .expect(0);
    let id = s.validated_change("src/config.txt", "retries = 3", "retries = 5", "tester");
    let r = s.approve(&id, &mallory);
    assert_not_counted(&s, &id, &mallory, r);
}

#[test]
fn the_initiator_cannot_approve_own_proposal() {
    let s = SignedRepo::new(&[("ana", "approver"), ("ben", "approver")]);
    let (ana, ben) = (s.person(0).to_string(), s.person(1).to_string());
    let id = s.validated_change("src/config.txt", "retries = 3", "retries = 5", &ana);
    let r = s.approve(&id, &ana);
    assert_not_counted(&s, &id, &ana, r);
    s.approve(&id, &ben).expect(0);
    assert_eq!(s.state(&id), "approved", "another person's approval counts");
}

#[test]
fn skill_submitter_approval_does_not_count() {
    let s = SignedRepo::new(&[("ana", "approver"), ("ben", "approver")]);
    let (ana, ben) = (s.person(0).to_string(), s.person(1).to_string());
    let skill = s.add_skill(&ana);
    let p = s
        .propose(
            &skill,
            &intent("src/config.txt", "retries = 3", "retries = 4"),
        )
        .expect(0)
        .json();
    let id = p["id"].as_str().unwrap().to_string();
    let v = s.run(&["--json", "validate", &id], &[]).expect(0).json();
    assert_eq!(v["state"], "validated", "{v:#}");
    let r = s.approve(&id, &ana);
    assert_not_counted(&s, &id, &ana, r);
    s.approve(&id, &ben).expect(0);
    assert_eq!(s.state(&id), "approved");
}

#[test]
fn an_approver_alone_cannot_approve_high_risk() {
    let s = SignedRepo::new(&[("ana", "approver"), ("ben", "approver"), ("lee", "lead")]);
    let id = s.validated_change("src/auth/session.txt", "ttl = 60", "ttl = 30", "tester");
    assert_eq!(policy_risk(&s, &id), "high");
    s.approve(&id, s.person(0)).expect(0);
    assert_eq!(s.state(&id), "validated");
    // Two approvers are still no lead.
    s.approve(&id, s.person(1)).expect(0);
    assert_eq!(s.state(&id), "validated", "high risk needs a lead");
}

#[test]
fn a_lead_gives_the_second_approval_for_high_risk() {
    let s = SignedRepo::new(&[("ana", "approver"), ("lee", "lead")]);
    let id = s.validated_change("src/auth/session.txt", "ttl = 60", "ttl = 30", "tester");
    s.approve(&id, s.person(0)).expect(0);
    assert_eq!(s.state(&id), "validated");
    s.approve(&id, s.person(1)).expect(0);
    assert_eq!(s.state(&id), "approved");
}

#[test]
fn a_maintainer_is_not_a_lead() {
    // High risk needs a lead; a maintainer fills the approver slot, never the lead's.
    let s = SignedRepo::new(&[("ana", "approver"), ("max", "maintainer")]);
    let id = s.validated_change("src/auth/session.txt", "ttl = 60", "ttl = 30", "tester");
    s.approve(&id, s.person(0)).expect(0);
    s.approve(&id, s.person(1)).expect(0);
    assert_eq!(
        s.state(&id),
        "validated",
        "a maintainer stood in for the lead"
    );
}

#[test]
fn a_role_claim_in_the_statement_grants_nothing() {
    // Ana (an approver) signs, with her own key, a statement claiming she is a lead.
    let s = SignedRepo::new(&[("ana", "approver"), ("ben", "approver")]);
    let (ana, ben) = (s.person(0).to_string(), s.person(1).to_string());
    let id = s.validated_change("src/auth/session.txt", "ttl = 60", "ttl = 30", "tester");
    let genuine = s.approve(&id, &ana).expect(0).json();
    let mut statement = statement_of(&genuine["envelope"]);
    statement["predicate"]["role"] = json!("lead");
    statement["predicate"]["nonce"] = json!(random_hex32());
    let env = sign_with_seed(&keyring_seed(&format!("person:{ana}")), &statement);
    let f = s.repo.data.path().join("claim.dsse.json");
    std::fs::write(&f, env.to_string()).unwrap();
    let _ = s.run(
        &["--json", "approve", &id, "--envelope", f.to_str().unwrap()],
        &[("OXIDE_ACTOR", &ana)],
    );
    s.approve(&id, &ben).expect(0);
    assert_eq!(
        s.state(&id),
        "validated",
        "a claimed role filled the lead slot"
    );
    for r in s.approvals(&id)["approvals"].as_array().unwrap() {
        if r["person"] == ana.as_str() {
            assert_eq!(
                r["role"], "approver",
                "the role comes from the registry: {r:#}"
            );
        }
    }
}

#[test]
fn a_reject_from_a_required_role_blocks() {
    // Low risk: an approver's reject blocks another approver's approval. High risk: a lead's
    // reject blocks the other lead. Critical: the maintainer's reject blocks two leads.
    let s = SignedRepo::new(&[
        ("ana", "approver"),
        ("ben", "approver"),
        ("lee", "lead"),
        ("lou", "lead"),
        ("max", "maintainer"),
    ]);
    let p = |i: usize| s.person(i).to_string();
    let reject = |id: &str, who: &str| {
        s.run(
            &[
                "--json",
                "approve",
                id,
                "--person",
                who,
                "--reject",
                "--reason",
                "not like this",
            ],
            &[("OXIDE_ACTOR", who)],
        )
        .expect(0)
    };
    let low = s.validated_change("src/config.txt", "retries = 3", "retries = 5", "tester");
    reject(&low, &p(0));
    let _ = s.approve(&low, &p(1));
    assert_ne!(
        s.state(&low),
        "approved",
        "an approver's reject did not block (low risk)"
    );

    let high = s.validated_change("src/auth/session.txt", "ttl = 60", "ttl = 30", "tester");
    reject(&high, &p(2));
    let _ = s.approve(&high, &p(0));
    let _ = s.approve(&high, &p(3));
    assert_ne!(
        s.state(&high),
        "approved",
        "a lead's reject did not block (high risk)"
    );

    let critical = s.validated_change(
        ".oxide/checks.toml",
        "timeout_s = 30",
        "timeout_s = 45",
        "tester",
    );
    reject(&critical, &p(4));
    let _ = s.approve(&critical, &p(2));
    let _ = s.approve(&critical, &p(3));
    assert_ne!(
        s.state(&critical),
        "approved",
        "the maintainer's reject did not block (critical)"
    );
}

#[test]
fn a_governance_change_needs_two_leads_and_a_maintainer() {
    // A person proposes a policy edit by hand (the only way governance changes): critical.
    let s = SignedRepo::new(&[
        ("ana", "approver"),
        ("lee", "lead"),
        ("lou", "lead"),
        ("max", "maintainer"),
    ]);
    let id = s.validated_change(
        ".oxide/checks.toml",
        "timeout_s = 30",
        "timeout_s = 60",
        "tester",
    );
    assert_eq!(policy_risk(&s, &id), "critical");
    for i in 0..3 {
        s.approve(&id, s.person(i)).expect(0);
        assert_eq!(
            s.state(&id),
            "validated",
            "critical: an approver and two leads are not enough without the maintainer"
        );
    }
    s.approve(&id, s.person(3)).expect(0);
    assert_eq!(s.state(&id), "approved");
}

#[test]
fn audit_checkpoint_is_signed_by_the_device_not_a_person() {
    let s = SignedRepo::new(&[("ana", "approver")]);
    let c = s
        .run(&["--json", "audit", "checkpoint"], &[])
        .expect(0)
        .json();
    let keyid = c["keyid"].as_str().expect("keyid");
    assert_ne!(
        keyid, s.persons[0].2,
        "a person's key signed the checkpoint"
    );
    let v = s.run(&["--json", "audit", "verify"], &[]).expect(0).json();
    assert_eq!(v["ok"], true, "{v:#}");
}

// ------------------------------------------------------------------ docs/roles.md

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `file::…::test` references of docs/roles.md's matrix (between its markers), per row.
fn matrix_rows() -> Vec<(String, Vec<String>)> {
    let doc = std::fs::read_to_string(root().join("docs/roles.md")).unwrap();
    let start = doc
        .find("<!-- roles:matrix -->")
        .expect("matrix start marker");
    let end = doc
        .find("<!-- /roles:matrix -->")
        .expect("matrix end marker");
    doc[start..end]
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("| ---") && !l.starts_with("|---"))
        .skip(1) // the header
        .map(|l| {
            let cells: Vec<String> = l
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect();
            (cells[0].clone(), cells[1..].to_vec())
        })
        .collect()
}

fn refs_in(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .filter(|r| r.contains("::"))
        .map(str::to_string)
        .collect()
}

/// Whether `tests/tests/<file>.rs` defines the test `a::b::name` (a `fn name(` in it, or a
/// red-team case `name => "…"`).
fn test_exists(reference: &str) -> bool {
    let parts: Vec<&str> = reference.split("::").collect();
    let file = root().join("tests/tests").join(format!("{}.rs", parts[0]));
    let Ok(src) = std::fs::read_to_string(file) else {
        return false;
    };
    let name = parts[parts.len() - 1];
    let is_test_fn = src.split("#[test]").skip(1).any(|after| {
        after
            .trim_start()
            .trim_start_matches("#[ignore]")
            .trim_start()
            .starts_with(&format!("fn {name}("))
    });
    is_test_fn || src.contains(&format!("    {name} => \""))
}

#[test]
fn every_test_named_in_roles_md_exists() {
    let rows = matrix_rows();
    assert!(
        rows.len() >= 10,
        "docs/roles.md: the matrix has {} rows",
        rows.len()
    );
    let mut missing = Vec::new();
    let mut named = 0;
    for (action, cells) in &rows {
        assert_eq!(
            cells.len(),
            5,
            "docs/roles.md row '{action}': one cell per actor (host brain, O.X.I.D.E, approver, lead, maintainer)"
        );
        for (i, cell) in cells.iter().enumerate() {
            let refs = refs_in(cell);
            assert!(
                !refs.is_empty() || cell.contains("pending (issue 13)"),
                "docs/roles.md row '{action}', column {}: name the test that enforces it (or say `pending (issue 13)`): {cell}",
                i + 1
            );
            for r in refs {
                named += 1;
                if !test_exists(&r) {
                    missing.push(format!("{action}: {r}"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/roles.md names tests that do not exist in tests/tests:\n{}",
        missing.join("\n")
    );
    assert!(named >= 30, "only {named} test references");
    // The checker itself: a made-up name is caught.
    assert!(!test_exists("authority::no_such_test_anywhere"));
    assert!(test_exists(
        "authority::every_test_named_in_roles_md_exists"
    ));
    assert!(test_exists("redteam::c07_injection_edits_oxide_policy"));
}
