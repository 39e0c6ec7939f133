//! Issue 13 item 3, crash safety: `oxide promote` killed with SIGKILL at random points
//! (delays from a seeded RNG, spanning the whole promotion: gates, signing, the intent, the
//! ref update, the recording transaction, the checkout), cycle after cycle. After each kill
//! the next start (`oxide status`, which reconciles) must leave the database, the refs and the
//! audit chain in agreement: a proposal is `promoted` exactly when a promotion row names it,
//! exactly when the target's history holds one signed commit whose trailers name it, exactly
//! when one `rollout.promoted` event records it; no intent stays pending; nothing is promoted
//! twice; `oxide audit verify` exits 0. A cycle that killed before the ref moved simply tries
//! the same proposal again. Every fourth cycle kills the moment the target ref moves, so the
//! window between the ref update and its recording transaction (the one reconcile repairs from
//! the ref and the commit's trailers) is hit on purpose, not by luck.
//!
//! `oxide rollback` gets the same treatment (its own intent journal): after each kill and
//! restart a proposal is `rolled_back` exactly when a rollback row names it, exactly when the
//! target's history holds one signed revert commit of its promotion, exactly when one
//! `rollout.rolled_back` event records it; no rollback intent stays pending; nothing is
//! rolled back twice; `oxide audit verify` exits 0.
//!
//! `OXIDE_CRASH_CYCLES` (default 100, per test) and `OXIDE_CRASH_SEED` tune a run; the seed is
//! printed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use oxide_journeys::signing::SignedRepo;
use oxide_journeys::{git, manual_bundle};
use serde_json::json;

/// xorshift64*: a seeded, dependency-free RNG (the seed makes a failing run repeatable).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// An approved proposal creating `crash/<n>.txt` on the current target head.
fn approved(s: &SignedRepo, n: usize, approver: &str) -> String {
    let head = git(s.repo.path(), &["rev-parse", "main"])
        .trim()
        .to_string();
    let b = manual_bundle(
        &head,
        &oxide_journeys::signing::random_hex32(),
        &format!("crash cycle {n}"),
        json!([{"op": "create_file", "path": format!("crash/{n}.txt"), "content": format!("{n}\n")}]),
        "2026-11-21T05:00:00Z",
    );
    let f = s.repo.data.path().join(format!("crash-{n}.json"));
    std::fs::write(&f, b.to_string()).unwrap();
    let id = s
        .run(&["--json", "proposal", "import", f.to_str().unwrap()], &[])
        .expect(0)
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.run(&["--json", "validate", "--quiet", &id], &[])
        .expect(0);
    let a = s.approve(&id, approver).expect(0).json();
    assert_eq!(a["state"], "approved", "{a:#}");
    id
}

/// The promotion commits on main's first-parent history: proposal id → commits naming it.
fn promotion_commits(repo: &git2::Repository) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut walk = repo.revwalk().unwrap();
    walk.push_ref("refs/heads/main").unwrap();
    walk.simplify_first_parent().unwrap();
    for oid in walk {
        let c = repo.find_commit(oid.unwrap()).unwrap();
        let msg = c.message().unwrap_or("");
        if !msg.contains("Oxide-Promoted-By:") {
            continue;
        }
        let id = msg
            .lines()
            .find_map(|l| l.strip_prefix("Oxide-Proposal: "))
            .expect("a promotion commit names its proposal")
            .trim()
            .to_string();
        assert!(
            repo.extract_signature(&c.id(), None).is_ok(),
            "promotion commit {} is unsigned",
            c.id()
        );
        out.entry(id).or_default().push(c.id().to_string());
    }
    out
}

/// Database, refs and audit agree (see the module docs); returns the promoted ids.
fn agree(s: &SignedRepo, ids: &[String]) -> Vec<String> {
    let db = rusqlite::Connection::open(s.repo.db()).unwrap();
    let pending: i64 = db
        .query_row(
            "SELECT count(*) FROM promotion_intents WHERE status = 'pending'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(pending, 0, "an intent is still pending after the restart");
    let repo = git2::Repository::open(s.repo.path()).unwrap();
    let on_main = promotion_commits(&repo);
    let rows: BTreeMap<String, String> = db
        .prepare("SELECT proposal_id, commit_id FROM promotions")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let events: Vec<(String, String)> = db
        .prepare("SELECT subject, payload FROM audit_events WHERE kind = 'rollout.promoted'")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let guards: i64 = db
        .query_row(
            "SELECT count(*) FROM transitions WHERE guard = 'promote' AND outcome = 'passed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut promoted = Vec::new();
    for id in ids {
        let state: String = db
            .query_row("SELECT state FROM proposals WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        let commits = on_main.get(id).cloned().unwrap_or_default();
        assert!(commits.len() <= 1, "{id} promoted twice: {commits:?}");
        let ev: Vec<_> = events.iter().filter(|(sub, _)| sub == id).collect();
        match rows.get(id) {
            Some(commit) => {
                assert_eq!(state, "promoted", "{id} has a promotion row but is {state}");
                assert_eq!(commits, vec![commit.clone()], "{id}: row and ref disagree");
                assert_eq!(ev.len(), 1, "{id}: {} rollout.promoted events", ev.len());
                assert!(ev[0].1.contains(commit.as_str()));
                promoted.push(id.clone());
            }
            None => {
                assert_eq!(
                    state, "approved",
                    "{id} has no promotion row but is {state}"
                );
                assert!(
                    commits.is_empty(),
                    "{id} is on main without a promotion row"
                );
                assert!(ev.is_empty(), "{id} audited as promoted without a row");
            }
        }
    }
    assert_eq!(
        rows.len(),
        promoted.len(),
        "promotion rows of unknown proposals"
    );
    assert_eq!(guards as usize, promoted.len(), "workflow promote records");
    let v = s.run(&["--json", "audit", "verify"], &[]).expect(0).json();
    assert_eq!(v["ok"], true, "{v:#}");
    promoted
}

#[test]
fn promote_killed_at_random_points_never_promotes_twice_or_loses_one() {
    let cycles: usize = std::env::var("OXIDE_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let seed: u64 = std::env::var("OXIDE_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x0_5EED_1313);
    eprintln!("promote crash test: {cycles} cycles, OXIDE_CRASH_SEED={seed}");
    let mut rng = Rng(seed | 1);
    let s = SignedRepo::new(&[("ana", "approver"), ("lee", "lead")]);
    let (ana, lee) = (s.person(0).to_string(), s.person(1).to_string());

    // One uninterrupted promotion measures how long a promotion takes here; random kills land
    // anywhere within that (most before the ref moves, so the same proposal is retried and
    // fewer need preparing).
    let first = approved(&s, 0, &ana);
    let t = Instant::now();
    s.run(&["--json", "promote", &first, "--person", &lee], &[])
        .expect(0);
    let span = (t.elapsed().as_millis() as u64).max(50);
    let mut ids = vec![first];
    let mut current: Option<String> = None;
    let (mut killed, mut finished_by_reconcile, mut retried) = (0usize, 0usize, 0usize);
    let mut stale_locks = 0usize;
    let started = Instant::now();
    let mut spent = [Duration::ZERO; 4]; // prepare, promote, restart, agree
    for n in 1..=cycles {
        let t = Instant::now();
        let id = match current.take() {
            Some(id) => id,
            None => {
                let id = approved(&s, n, &ana);
                ids.push(id.clone());
                id
            }
        };
        spent[0] += t.elapsed();
        let t = Instant::now();
        // Every fourth cycle kills the moment the target ref moves (the window between the
        // ref update and the recording transaction); the others after a random delay.
        let at_cas = n % 4 == 0;
        let delay = rng.below(span);
        let main_ref = s.repo.path().join(".git/refs/heads/main");
        let old_main = std::fs::read_to_string(&main_ref).unwrap_or_default();
        let mut child = s
            .repo
            .oxide_command(&["--json", "promote", &id, "--person", &lee])
            .env("OXIDE_ACTOR", &lee)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start oxide promote");
        if at_cas {
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().unwrap().is_none()
                && std::fs::read_to_string(&main_ref).unwrap_or_default() == old_main
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_micros(200));
            }
        } else {
            std::thread::sleep(Duration::from_millis(delay));
        }
        let done = child.try_wait().unwrap().is_some();
        if !done {
            // SIGKILL, then reap it: a dead owner lets the next start reconcile its intent.
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
        // A kill inside libgit2's ref-lock window leaves `refs/heads/main.lock`, exactly as a
        // killed `git` does; `oxide promote` then refuses with GITOPS_GIT and says to remove it
        // if no git process runs. None does here (the child is reaped), so the operator's step
        // is taken: what is checked is that nothing is promoted twice or lost.
        let lock = s.repo.path().join(".git/refs/heads/main.lock");
        if lock.exists() {
            std::fs::remove_file(&lock).unwrap();
            stale_locks += 1;
        }
        spent[1] += t.elapsed();
        let t = Instant::now();
        // The restart: `status` reconciles what the killed process left.
        let before: i64 = rusqlite::Connection::open(s.repo.db())
            .unwrap()
            .query_row(
                "SELECT count(*) FROM promotion_intents WHERE status = 'pending'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        s.run(&["--json", "status"], &[]).expect(0);
        spent[2] += t.elapsed();
        let t = Instant::now();
        let promoted = agree(&s, &ids);
        spent[3] += t.elapsed();
        if promoted.contains(&id) {
            if before > 0 {
                finished_by_reconcile += 1;
            }
        } else {
            // Killed before the ref moved: the same proposal is tried again next cycle.
            retried += 1;
            current = Some(id);
        }
    }
    // Whatever is left is promoted by an uninterrupted run, exactly once.
    if let Some(id) = current {
        s.run(&["--json", "promote", &id, "--person", &lee], &[])
            .expect(0);
    }
    let promoted = agree(&s, &ids);
    assert_eq!(promoted.len(), ids.len(), "a proposal was lost");
    eprintln!(
        "{cycles} cycles in {:?}: {killed} killed ({stale_locks} left a ref lock), {finished_by_reconcile} finished by reconcile, {retried} retried, {} promoted; time in prepare/promote/restart/check: {spent:?}",
        started.elapsed(),
        promoted.len()
    );
    assert!(
        killed > cycles / 4,
        "too few kills ({killed}) to mean anything"
    );
}

/// The revert commits on main's first-parent history: proposal id → commits rolling it back
/// (each signed, each naming the promotion commit it reverts).
fn revert_commits(repo: &git2::Repository) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut walk = repo.revwalk().unwrap();
    walk.push_ref("refs/heads/main").unwrap();
    walk.simplify_first_parent().unwrap();
    for oid in walk {
        let c = repo.find_commit(oid.unwrap()).unwrap();
        let msg = c.message().unwrap_or("");
        let Some(of) = msg
            .lines()
            .find_map(|l| l.strip_prefix("Oxide-Rollback-Of: "))
        else {
            continue;
        };
        let id = msg
            .lines()
            .find_map(|l| l.strip_prefix("Oxide-Proposal: "))
            .expect("a revert commit names its proposal")
            .trim()
            .to_string();
        assert!(
            repo.extract_signature(&c.id(), None).is_ok(),
            "revert commit {} is unsigned",
            c.id()
        );
        out.entry(id)
            .or_default()
            .push((c.id().to_string(), of.trim().to_string()));
    }
    out
}

/// Rollback rows, refs and audit agree; returns the rolled-back ids.
fn rollbacks_agree(s: &SignedRepo, ids: &[String]) -> Vec<String> {
    let db = rusqlite::Connection::open(s.repo.db()).unwrap();
    let pending: i64 = db
        .query_row(
            "SELECT count(*) FROM rollback_intents WHERE status = 'pending'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        pending, 0,
        "a rollback intent is still pending after the restart"
    );
    let repo = git2::Repository::open(s.repo.path()).unwrap();
    let on_main = revert_commits(&repo);
    let rows: BTreeMap<String, (String, String)> = db
        .prepare("SELECT proposal_id, revert_commit, promotion_commit FROM rollbacks")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let events: Vec<(String, String)> = db
        .prepare("SELECT subject, payload FROM audit_events WHERE kind = 'rollout.rolled_back'")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let guards: i64 = db
        .query_row(
            "SELECT count(*) FROM transitions WHERE guard = 'roll_back' AND outcome = 'passed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut rolled = Vec::new();
    for id in ids {
        let state: String = db
            .query_row("SELECT state FROM proposals WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        let promotion: String = db
            .query_row(
                "SELECT commit_id FROM promotions WHERE proposal_id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        let reverts = on_main.get(id).cloned().unwrap_or_default();
        assert!(reverts.len() <= 1, "{id} rolled back twice: {reverts:?}");
        let ev: Vec<_> = events.iter().filter(|(sub, _)| sub == id).collect();
        match rows.get(id) {
            Some((revert, of)) => {
                assert_eq!(
                    state, "rolled_back",
                    "{id} has a rollback row but is {state}"
                );
                assert_eq!(of, &promotion, "{id}: the row reverts another commit");
                assert_eq!(
                    reverts,
                    vec![(revert.clone(), promotion.clone())],
                    "{id}: row and ref disagree"
                );
                assert_eq!(ev.len(), 1, "{id}: {} rollout.rolled_back events", ev.len());
                assert!(ev[0].1.contains(revert.as_str()));
                rolled.push(id.clone());
            }
            None => {
                assert_eq!(state, "promoted", "{id} has no rollback row but is {state}");
                assert!(
                    reverts.is_empty(),
                    "{id} reverted on main without a rollback row"
                );
                assert!(ev.is_empty(), "{id} audited as rolled back without a row");
            }
        }
    }
    assert_eq!(
        rows.len(),
        rolled.len(),
        "rollback rows of unknown proposals"
    );
    assert_eq!(guards as usize, rolled.len(), "workflow roll_back records");
    let v = s.run(&["--json", "audit", "verify"], &[]).expect(0).json();
    assert_eq!(v["ok"], true, "{v:#}");
    rolled
}

#[test]
fn rollback_killed_at_random_points_never_rolls_back_twice_or_loses_one() {
    let cycles: usize = std::env::var("OXIDE_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let seed: u64 = std::env::var("OXIDE_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x0_5EED_1313);
    eprintln!("rollback crash test: {cycles} cycles, OXIDE_CRASH_SEED={seed}");
    let mut rng = Rng(seed.rotate_left(17) | 1);
    let s = SignedRepo::new(&[("ana", "approver"), ("lee", "lead")]);
    let (ana, lee) = (s.person(0).to_string(), s.person(1).to_string());
    let promoted = |n: usize| {
        let id = approved(&s, n, &ana);
        let p = s
            .run(&["--json", "promote", &id, "--person", &lee], &[])
            .expect(0)
            .json();
        assert_eq!(p["state"], "promoted", "{p:#}");
        id
    };
    let rollback = |id: &str| {
        s.repo
            .oxide_command(&[
                "--json",
                "rollback",
                id,
                "--reason",
                "crash drill",
                "--person",
                &lee,
            ])
            .env("OXIDE_ACTOR", &lee)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start oxide rollback")
    };

    // One uninterrupted rollback measures how long one takes here.
    let first = promoted(0);
    let t = Instant::now();
    assert!(rollback(&first).wait().unwrap().success());
    let span = (t.elapsed().as_millis() as u64 * 5 / 4).max(50);
    let mut ids = vec![first];
    let mut current: Option<String> = None;
    let (mut killed, mut finished_by_reconcile, mut retried) = (0usize, 0usize, 0usize);
    let mut stale_locks = 0usize;
    let started = Instant::now();
    for n in 1..=cycles {
        let id = match current.take() {
            Some(id) => id,
            None => {
                let id = promoted(n);
                ids.push(id.clone());
                id
            }
        };
        // Most of a rollback's time is after its transaction (binder hand-over, the signed
        // checkpoint): kills are drawn from the first 70% so the journal's window is hit, and
        // every other cycle from the first eighth (before the journal: the same proposal is
        // tried again, so fewer need preparing and the run stays short).
        let delay = if n % 2 == 0 {
            rng.below(span * 7 / 10)
        } else {
            rng.below((span / 8).max(1))
        };
        let mut child = rollback(&id);
        std::thread::sleep(Duration::from_millis(delay));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
        // As in the promote test: a kill inside libgit2's ref-lock window leaves the lock a
        // killed `git` would; the operator removes it as GITOPS_GIT's message says.
        let lock = s.repo.path().join(".git/refs/heads/main.lock");
        if lock.exists() {
            std::fs::remove_file(&lock).unwrap();
            stale_locks += 1;
        }
        let before: i64 = rusqlite::Connection::open(s.repo.db())
            .unwrap()
            .query_row(
                "SELECT count(*) FROM rollback_intents WHERE status = 'pending'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        // The restart: `status` reconciles what the killed process left.
        s.run(&["--json", "status"], &[]).expect(0);
        let rolled = rollbacks_agree(&s, &ids);
        if rolled.contains(&id) {
            if before > 0 {
                finished_by_reconcile += 1;
            }
            // Never twice: a second rollback of it is refused and changes nothing.
            if n % 10 == 0 {
                let r = s.run(
                    &[
                        "--json", "rollback", &id, "--reason", "again", "--person", &lee,
                    ],
                    &[],
                );
                assert_eq!(r.code, 3, "{}", r.stdout);
                rollbacks_agree(&s, &ids);
            }
        } else {
            retried += 1;
            current = Some(id);
        }
    }
    if let Some(id) = current {
        assert!(rollback(&id).wait().unwrap().success());
    }
    let rolled = rollbacks_agree(&s, &ids);
    assert_eq!(rolled.len(), ids.len(), "a rollback was lost");
    eprintln!(
        "{cycles} rollback cycles in {:?}: {killed} killed ({stale_locks} left a ref lock), {finished_by_reconcile} finished by reconcile, {retried} retried, {} rolled back",
        started.elapsed(),
        rolled.len()
    );
    assert!(
        killed > cycles / 4,
        "too few kills ({killed}) to mean anything"
    );
}
