//! Desktop journeys (issue 13, item 7): the lead's promote desk in the real app, with real
//! persons' keys in the real OS keyring (gnome-keyring in the test's D-Bus session), a
//! committed trust registry, and real git.
//!
//! 1. Two clones of one bare repository, each with its own database: the approver signs on
//!    clone 1 with the CLI and runs `oxide sync`; the lead's app on clone 2 syncs from its
//!    header, opens the proposal (the approval arrived), signs, promotes, and sees the canary
//!    pass — the promotion commit is on clone 2's `main`, signed — then rolls it back by hand
//!    with a reason.
//! 2. A canary fails after the promotion: the app shows the automatic rollback (state
//!    `rolled_back`, the signed revert commit, `CANARY_FAILED`), and git agrees.

use std::path::Path;
use std::time::Duration;

use oxide_journeys::desktop::{keys, DesktopApp, Launch};
use oxide_journeys::signing::{unique_person, who_i_am, Forget};
use oxide_journeys::{git, manual_bundle, TestRepo};
use serde_json::{json, Value};

fn whoami(app: &DesktopApp, person: &str) {
    app.chord(&[keys::ALT], "7");
    app.wait_text("view-title", |t| t == "Settings");
    let input = app.find("whoami-input");
    app.execute(
        "arguments[0].value = ''; arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
        &[oxide_journeys::desktop::Session::element_arg(&input)],
    );
    app.type_into("whoami-input", person);
    app.click("whoami-save");
    app.wait_text("whoami-current", |t| t == person);
}

fn state_of(repo: &TestRepo, id: &str) -> String {
    repo.oxide(&["--json", "proposal", "show", id])
        .expect(0)
        .json()["state"]
        .as_str()
        .unwrap()
        .to_string()
}

fn head(dir: &Path, rev: &str) -> String {
    git(dir, &["rev-parse", rev]).trim().to_string()
}

/// `.oxide/checks.toml`: one passing check, and one canary running the shell line `canary`.
fn contract(canary: &str) -> String {
    format!(
        "[[check]]\nname = \"unit\"\nrun = [\"true\"]\nenv = [\"PATH\"]\n\n\
         [[canary]]\nname = \"smoke\"\nrun = [\"sh\", \"-c\", {canary:?}]\nenv = [\"PATH\"]\ntimeout_s = 30\n"
    )
}

fn as_person(repo: &TestRepo, person: &str, args: &[&str]) -> Value {
    repo.oxide_env(args, &[("OXIDE_ACTOR", person)])
        .expect(0)
        .json()
}

/// `person`'s keyring key, from `repo`'s database, registered in its working tree with `role`.
fn key_and_register(repo: &TestRepo, person: &str, role: &str) {
    as_person(
        repo,
        person,
        &["--json", "keys", "generate", "--person", person],
    );
    as_person(
        repo,
        person,
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
    );
}

fn commit_all(dir: &Path, msg: &str) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", msg]);
}

fn files() -> [(&'static str, &'static str); 2] {
    [
        ("README.md", "# demo\n"),
        ("src/auth/session.rs", "pub const MAX_AGE_S: u32 = 86400;\n"),
    ]
}

/// One repository with governance committed: the contract with `canary`, and the registry
/// naming `author`, `approver` and `lead` with their keyring keys. The author is who signs on
/// this device (who-I-am), so proposals made here are theirs, never the approver's or the
/// lead's.
fn governed_repo(canary: &str, author: &str, approver: &str, lead: &str) -> TestRepo {
    let repo = TestRepo::with_files(&files());
    repo.init();
    std::fs::write(repo.path().join(".oxide/checks.toml"), contract(canary)).unwrap();
    key_and_register(&repo, author, "approver");
    who_i_am(&repo, Some(author));
    key_and_register(&repo, approver, "approver");
    key_and_register(&repo, lead, "lead");
    commit_all(repo.path(), "governance");
    repo
}

/// A validated high-risk proposal (authentication code) on `repo`'s `main`.
fn high_risk_proposal(repo: &TestRepo) -> String {
    let base = head(repo.path(), "HEAD");
    let id = repo.import_bundle(
        "auth",
        &manual_bundle(
            &base,
            &"ab".repeat(32),
            "Shorten sessions to one hour",
            json!([{"op": "text_edit", "path": "src/auth/session.rs",
                    "find": "86400", "replace": "3600"}]),
            "2026-11-30T09:00:00Z",
        ),
    );
    let v = repo.oxide(&["--json", "validate", &id]).expect(0).json();
    assert_eq!(v["state"], "validated", "{v:#}");
    let d = repo
        .oxide(&["--json", "policy", "eval", &id])
        .expect(0)
        .json();
    assert_eq!(d["risk"], "high", "{d:#}");
    id
}

/// Opens proposal `id` from the lead's Inbox ("ready to promote" list), promotes it with p
/// and the confirmation, and waits until the promotion finished (canary included).
fn promote_from_inbox(app: &DesktopApp, id: &str) {
    app.chord(&[keys::ALT], "1");
    app.wait_text("view-title", |t| t == "Inbox");
    app.wait_for(
        "the proposal ready to promote",
        Duration::from_secs(30),
        || {
            app.find_all("promote-item")
                .iter()
                .any(|el| {
                    app.session()
                        .attribute(el, "data-id")
                        .ok()
                        .flatten()
                        .as_deref()
                        == Some(id)
                        && app
                            .session()
                            .attribute(el, "data-ready")
                            .ok()
                            .flatten()
                            .as_deref()
                            == Some("true")
                })
                .then_some(())
        },
    );
    app.execute(
        "document.querySelector(`[data-testid=\"promote-item\"][data-id=\"${arguments[0]}\"]`).click(); return true;",
        &[json!(id)],
    );
    app.wait_for("Promote enabled", Duration::from_secs(30), || {
        (app.attr("promote-panel", "data-ready").as_deref() == Some("true")).then_some(())
    });
    assert!(
        app.texts("promote-missing").is_empty(),
        "every gate is green"
    );
    app.screenshot("docs-promote-ready");
    app.chord(&[], "p");
    app.find("promote-step");
    app.click("promote-confirm");
}

#[test]
fn desktop_lead_promotes_a_proposal_approved_on_another_clone_and_the_canary_passes() {
    let (ana, lee) = (unique_person("ana-prom"), unique_person("lee-prom"));
    let author = unique_person("author-prom");
    let _forget = Forget(vec![ana.clone(), lee.clone(), author.clone()]);
    let (ana, lee) = (ana.as_str(), lee.as_str());

    // Clone 1, the approver's: the contract and the approver, pushed to a bare repository.
    let one = TestRepo::with_files(&files());
    one.init();
    std::fs::write(
        one.path().join(".oxide/checks.toml"),
        contract("echo smoke ok; echo canary-passed-marker"),
    )
    .unwrap();
    // The author proposes on clone 1 (its who-I-am, so its device is endorsed by the author
    // too): the approver and the lead are never the initiator.
    key_and_register(&one, &author, "approver");
    who_i_am(&one, Some(&author));
    key_and_register(&one, ana, "approver");
    commit_all(one.path(), "governance: checks, the author, the approver");
    let bare = tempfile::tempdir().unwrap();
    git(bare.path(), &["init", "-q", "--bare", "-b", "main"]);
    let url = format!("file://{}", bare.path().display());
    git(one.path(), &["remote", "add", "origin", &url]);
    git(one.path(), &["push", "-q", "origin", "main"]);
    git(
        one.path(),
        &["branch", "-q", "--set-upstream-to=origin/main", "main"],
    );

    // Clone 2, the lead's: its own checkout, database and keyring person; the lead registered
    // and pushed, clone 1 pulls.
    let two = TestRepo {
        dir: tempfile::tempdir().unwrap(),
        data: tempfile::tempdir().unwrap(),
    };
    git(two.path(), &["clone", "-q", &url, "."]);
    two.init();
    key_and_register(&two, lee, "lead");
    commit_all(two.path(), "governance: the lead");
    git(two.path(), &["push", "-q", "origin", "main"]);
    git(one.path(), &["pull", "-q", "--ff-only"]);

    // The proposal starts on clone 1; the approver signs there and syncs.
    let id = high_risk_proposal(&one);
    as_person(&one, ana, &["--json", "approve", &id, "--person", ana]);
    let pushed = as_person(&one, ana, &["--json", "sync"]);
    assert!(pushed["pushed"].as_u64().unwrap_or(0) > 0, "{pushed:#}");
    assert_eq!(pushed["refused"], json!([]), "{pushed:#}");

    // The lead's app on clone 2: Sync in the header brings the proposal and ana's approval.
    let app = Launch::new("desktop-promote")
        .workspace(&two)
        .env("OXIDE_ACTOR", "desk")
        .start();
    app.wait_text("workspace-name", |t| !t.is_empty());
    whoami(&app, lee);
    app.wait_text("sync-last", |t| t == "never synced");
    app.click("sync-run");
    app.wait_text("sync-last", |t| t.starts_with("synced "));
    let arrived = app.wait_texts("sync-arrived");
    for kind in ["proposal", "validation", "approval"] {
        assert!(
            arrived
                .iter()
                .any(|a| a.starts_with(kind) && a.contains(&id)),
            "the {kind} of {id} arrived: {arrived:?}"
        );
    }
    app.screenshot("docs-sync-arrived");
    // Closes the details again (they sit over the view).
    app.click("sync-status");
    app.wait_for("the sync details to close", Duration::from_secs(5), || {
        app.try_find("sync-details").is_none().then_some(())
    });

    // The Inbox: the proposal needs a lead; ana's approval is listed as valid.
    app.chord(&[keys::ALT], "1");
    app.wait_text("view-title", |t| t == "Inbox");
    app.wait_for("lee's inbox item", Duration::from_secs(30), || {
        (app.attr("inbox-item", "data-id").as_deref() == Some(id.as_str())).then_some(())
    });
    assert_eq!(app.text("inbox-label"), "needs a lead");
    assert!(app.text("inbox-given").contains(ana));
    app.click("inbox-item");
    app.wait_text("signing-person", |t| t == lee);
    app.click("approve-open");
    app.click("approve-confirm");
    app.wait_text("approver-state", |t| t == "approved");

    // Promote: every gate green, p opens the confirmation, the canary runs and passes.
    promote_from_inbox(&app, &id);
    app.wait_for("the canary to pass", Duration::from_secs(90), || {
        (app.try_find("promotion-commit").is_some()
            && app.attr("canary", "data-status").as_deref() == Some("passed"))
        .then_some(())
    });
    let log = app.texts("canary-log-line");
    assert!(
        log.iter().any(|l| l.contains("canary-passed-marker")),
        "the canary's log is shown: {log:?}"
    );
    app.wait_text("approver-state", |t| t == "promoted");
    assert!(
        app.try_find("promote-gate").is_none(),
        "no gate list once promoted"
    );
    let commit = app.text("promotion-commit");
    // main moved here and not yet on the remote: the sync bar says so.
    app.wait_text("sync-ahead-behind", |t| t == "1 ahead");
    app.screenshot("docs-promoted-canary");

    // The app's word is git's and the database's: main is the signed promotion commit.
    assert_eq!(state_of(&two, &id), "promoted");
    assert_eq!(head(two.path(), "refs/heads/main"), commit);
    let message = git(two.path(), &["show", "-s", "--format=%B", &commit]);
    assert!(
        message.contains(&format!("Oxide-Proposal: {id}")),
        "{message}"
    );
    assert!(
        message.contains(&format!("Oxide-Promoted-By: {lee}")),
        "{message}"
    );
    let raw = git(two.path(), &["cat-file", "commit", &commit]);
    assert!(raw.contains("-----BEGIN SSH SIGNATURE-----"), "{raw}");
    let signers = two.data.path().join("allowed_signers");
    let exported = two.oxide(&["keys", "export-allowed-signers"]).expect(0);
    std::fs::write(&signers, &exported.stdout).unwrap();
    let verify = std::process::Command::new("git")
        .current_dir(two.path())
        .args([
            "-c",
            &format!("gpg.ssh.allowedSignersFile={}", signers.display()),
            "verify-commit",
            &commit,
        ])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "git verify-commit: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(String::from_utf8_lossy(&verify.stderr).contains("Good \"git\" signature"));

    // Later the lead rolls it back by hand: Roll back needs a reason, which is recorded.
    app.click("rollback-open");
    app.find("rollback-step");
    assert_eq!(
        app.attr("rollback-confirm", "disabled").as_deref(),
        Some("true"),
        "no reason, no rollback"
    );
    app.type_into("rollback-reason", "sessions drop on the mobile client");
    app.click("rollback-confirm");
    app.wait_text("approver-state", |t| t == "rolled_back");
    assert_eq!(app.text("rollback-trigger"), "manual");
    assert_eq!(app.text("rollback-code"), "MANUAL_ROLLBACK");
    assert_eq!(
        app.text("rollback-reason-text"),
        "sessions drop on the mobile client"
    );
    let revert = app.text("rollback-commit");
    assert_eq!(state_of(&two, &id), "rolled_back");
    assert_eq!(head(two.path(), "refs/heads/main"), revert);
    assert_eq!(head(two.path(), &format!("{revert}^")), commit);
    let message = git(two.path(), &["show", "-s", "--format=%B", &revert]);
    assert!(
        message.contains(&format!("Oxide-Rollback-Of: {commit}")),
        "{message}"
    );
    app.screenshot("docs-manual-rollback");
}

#[test]
fn desktop_shows_the_automatic_rollback_when_the_canary_fails() {
    let (ana, lee) = (unique_person("ana-canf"), unique_person("lee-canf"));
    let author = unique_person("author-canf");
    let _forget = Forget(vec![ana.clone(), lee.clone(), author.clone()]);
    let (ana, lee) = (ana.as_str(), lee.as_str());
    let repo = governed_repo("echo smoke broke >&2; exit 1", &author, ana, lee);
    let before = head(repo.path(), "refs/heads/main");
    let id = high_risk_proposal(&repo);
    as_person(&repo, ana, &["--json", "approve", &id, "--person", ana]);
    as_person(&repo, lee, &["--json", "approve", &id, "--person", lee]);
    assert_eq!(state_of(&repo, &id), "approved");

    let app = Launch::new("desktop-canary-fails")
        .workspace(&repo)
        .env("OXIDE_ACTOR", "desk")
        .start();
    app.wait_text("workspace-name", |t| !t.is_empty());
    whoami(&app, lee);
    promote_from_inbox(&app, &id);

    app.wait_for("the automatic rollback", Duration::from_secs(90), || {
        app.try_find("rollback-commit").map(|_| ())
    });
    assert_eq!(app.attr("canary", "data-status").as_deref(), Some("failed"));
    assert_eq!(app.text("rollback-trigger"), "automatic");
    assert_eq!(app.text("rollback-code"), "CANARY_FAILED");
    let log = app.texts("canary-log-line");
    assert!(
        log.iter().any(|l| l.contains("smoke broke")),
        "the failing canary's output is shown: {log:?}"
    );
    app.wait_text("approver-state", |t| t == "rolled_back");
    let promotion = app.text("promotion-commit");
    let revert = app.text("rollback-commit");
    app.screenshot("docs-canary-rollback");
    // Proposals view: the state is rolled_back.
    app.chord(&[keys::ALT], "2");
    app.wait_text("view-title", |t| t == "Proposals");
    app.wait_for("the proposal's row", Duration::from_secs(20), || {
        let clicked = app.execute(
            "const r = document.querySelector(`[data-testid=\"proposal-row\"][data-id=\"${arguments[0]}\"]`); if (r) r.click(); return !!r;",
            &[json!(id)],
        );
        (clicked == json!(true)).then_some(())
    });
    app.wait_text("proposal-page-state", |t| t == "rolled_back");
    assert_eq!(app.text("rollback-commit"), revert);

    // git and the database agree: main = revert of the promotion, whose parent was main.
    assert_eq!(state_of(&repo, &id), "rolled_back");
    assert_eq!(head(repo.path(), "refs/heads/main"), revert);
    assert_eq!(head(repo.path(), &format!("{revert}^")), promotion);
    assert_eq!(head(repo.path(), &format!("{promotion}^")), before);
    let message = git(repo.path(), &["show", "-s", "--format=%B", &revert]);
    assert!(
        message.contains(&format!("Oxide-Rollback-Of: {promotion}")),
        "{message}"
    );
    assert!(
        message.contains("Oxide-Reason-Code: CANARY_FAILED"),
        "{message}"
    );
    let tree_now = head(repo.path(), "refs/heads/main^{tree}");
    let tree_before = head(repo.path(), &format!("{before}^{{tree}}"));
    assert_eq!(tree_now, tree_before, "the revert restores the tree");
}
