//! Desktop journey (issue 12, item 9): an approver and a lead — two persons with their own
//! keys in the real OS keyring (gnome-keyring in the test's D-Bus session), registered in a
//! committed trust registry — sign a high-risk proposal from their Inbox in the real app.
//! After the approver's signature the proposal is still `validated` and the Inbox says it
//! needs a lead; only the lead's signature moves it to `approved`. The IPC traffic of the
//! whole journey is recorded in the page and holds no byte of either private key.

use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use oxide_journeys::desktop::{keys, DesktopApp, Launch};
use oxide_journeys::{git, manual_bundle, TestRepo};
use serde_json::{json, Value};

/// Records every IPC request and response of the page from now on: Tauri's webview sends
/// each command over `fetch` to its `ipc:` protocol, so wrapping `fetch` sees the bytes that
/// cross, both ways.
const RECORD_IPC: &str = r#"
if (!window.__oxideIpcLog) {
  window.__oxideIpcLog = [];
  const original = window.fetch.bind(window);
  const text = (body) => {
    if (body === undefined || body === null) return '';
    if (typeof body === 'string') return body;
    if (body instanceof ArrayBuffer) return new TextDecoder().decode(new Uint8Array(body));
    if (ArrayBuffer.isView(body)) return new TextDecoder().decode(body);
    return String(body);
  };
  window.fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : String(input.url ?? input);
    if (!url.startsWith('ipc:') && !url.includes('ipc.localhost')) return original(input, init);
    const entry = { url, request: text(init && init.body), response: null, ok: null };
    window.__oxideIpcLog.push(entry);
    const response = await original(input, init);
    entry.ok = response.headers.get('Tauri-Response');
    entry.response = await response.clone().text();
    return response;
  };
}
return true;
"#;

fn ipc_log(app: &DesktopApp) -> Vec<Value> {
    app.execute("return window.__oxideIpcLog || [];", &[])
        .as_array()
        .expect("the IPC log is an array")
        .clone()
}

/// The seed `secret-tool` reads for `person` from the Secret Service (hex or base64 text).
fn seed_of(person: &str) -> Vec<u8> {
    let out = Command::new("secret-tool")
        .args([
            "lookup",
            "service",
            "dev.oxide.review",
            "username",
            &format!("person:{person}"),
        ])
        .output()
        .expect("run secret-tool (Debian package libsecret-tools)");
    assert!(
        out.status.success(),
        "secret-tool lookup for person:{person} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let text = text.trim();
    let seed = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap_or_else(|e| {
                panic!("the keyring entry of {person} is neither hex nor base64: {e}")
            })
    };
    assert_eq!(seed.len(), 32, "an ed25519 seed is 32 bytes");
    seed
}

/// Every way the seed could be written down: raw, hex (both cases), base64 (standard and
/// URL-safe, padded or not), and serde's array of numbers.
fn spellings(seed: &[u8]) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    let array = seed
        .iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(",");
    vec![
        hex.clone(),
        hex.to_uppercase(),
        STANDARD.encode(seed),
        STANDARD_NO_PAD.encode(seed),
        URL_SAFE.encode(seed),
        URL_SAFE_NO_PAD.encode(seed),
        array,
    ]
}

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

#[test]
fn desktop_approver_and_lead_sign_a_high_risk_proposal_from_their_inbox() {
    let repo = TestRepo::with_files(&[
        ("README.md", "# demo\n"),
        ("src/auth/session.rs", "pub const MAX_AGE_S: u32 = 86400;\n"),
    ]);
    repo.init();
    std::fs::write(
        repo.path().join(".oxide/checks.toml"),
        "[[check]]\nname = \"unit\"\nrun = [\"true\"]\nenv = [\"PATH\"]\n",
    )
    .unwrap();
    git(repo.path(), &["add", ".oxide"]);
    git(repo.path(), &["commit", "-q", "-m", "governance"]);

    // Person ids of this run: keyring entries are per machine, shared by every test.
    let tag = std::process::id();
    let (ana, lee) = (format!("ana-desk-{tag}"), format!("lee-desk-{tag}"));
    let (ana, lee) = (ana.as_str(), lee.as_str());

    // The approver's key from the CLI; the lead's from the app (below).
    let generated = repo
        .oxide(&["--json", "keys", "generate", "--person", ana])
        .expect(0)
        .json();
    assert!(generated["public"]
        .as_str()
        .unwrap()
        .starts_with("ssh-ed25519 "));

    let app = Launch::new("desktop-approvals")
        .workspace(&repo)
        .env("OXIDE_ACTOR", "desk")
        .start();
    app.wait_text("workspace-name", |t| !t.is_empty());
    assert_eq!(app.execute(RECORD_IPC, &[]), json!(true));

    // Settings: the lead says who they are and generates their key in the keyring.
    whoami(&app, lee);
    app.wait_text("keys-none", |t| t.contains("SIGNING_NO_KEY"));
    app.click("keys-generate");
    let lee_public = app.wait_text("keys-public", |t| t.starts_with("ssh-ed25519 "));
    let line = app.text("keys-allowed-line");
    assert!(
        line.starts_with(&format!("{lee} namespaces=\"git\" ssh-ed25519 ")),
        "{line}"
    );

    // The registry, committed: ana approves, lee leads. Until then nobody may approve.
    repo.oxide(&[
        "--json",
        "approvers",
        "add",
        "--person",
        ana,
        "--name",
        "Ana",
        "--role",
        "approver",
    ])
    .expect(0);
    repo.oxide(&[
        "--json",
        "approvers",
        "add",
        "--person",
        lee,
        "--name",
        "Lee",
        "--role",
        "lead",
    ])
    .expect(0);
    git(repo.path(), &["add", ".oxide/approvers.toml"]);
    git(repo.path(), &["commit", "-q", "-m", "approvers"]);
    let listed = repo
        .oxide(&["--json", "approvers", "list"])
        .expect(0)
        .json();
    assert_eq!(listed["persons"].as_array().unwrap().len(), 2, "{listed:#}");

    // A change to authentication code: the policy makes it high (a lead and an approver).
    // An author proposes it (a key here, registered as an approver — only a registered key
    // names the initiator — and chosen as who signs on this device for the import): the
    // approver and the lead who sign it are never its initiator.
    let author = format!("author-desk-{tag}");
    repo.oxide(&["--json", "keys", "generate", "--person", &author])
        .expect(0);
    repo.oxide(&[
        "--json",
        "approvers",
        "add",
        "--person",
        &author,
        "--name",
        "Author",
        "--role",
        "approver",
    ])
    .expect(0);
    git(repo.path(), &["add", ".oxide/approvers.toml"]);
    git(
        repo.path(),
        &["commit", "-q", "-m", "approvers: the author"],
    );
    oxide_journeys::signing::who_i_am(&repo, Some(&author));
    let head = git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string();
    let id = repo.import_bundle(
        "auth",
        &manual_bundle(
            &head,
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

    // The registry as committed shows in Settings (ana, lee and the author).
    app.click("registry-reload");
    app.wait_for("the committed registry", Duration::from_secs(20), || {
        (app.find_all("registry-person").len() == 3).then_some(())
    });

    // The approver: her Inbox lists the proposal; her page shows what she signs.
    whoami(&app, ana);
    app.chord(&[keys::ALT], "1");
    app.wait_text("view-title", |t| t == "Inbox");
    app.wait_for("ana's inbox item", Duration::from_secs(20), || {
        (app.attr("inbox-item", "data-id").as_deref() == Some(id.as_str())).then_some(())
    });
    // j opens the first (newest) proposal.
    app.chord(&[], "j");
    app.wait_text("signing-person", |t| t == ana);
    assert_eq!(app.text("binds-risk"), "high");
    assert_eq!(app.text("approver-state"), "validated");
    assert_eq!(app.text("approver-risk-risk"), "Risk high");
    assert!(app
        .texts("gate-reason")
        .iter()
        .any(|r| r.contains("src/auth/session.rs")));
    let words = app.texts("diff-word");
    assert!(words.iter().any(|w| w.contains("3600")), "{words:?}");
    app.screenshot("docs-approver-page");
    // a opens the signing step; she signs.
    app.chord(&[], "a");
    app.click("approve-confirm");
    app.wait_for("ana's approval", Duration::from_secs(30), || {
        (app.try_find("approval").is_some()
            && app.attr("approval", "data-person").as_deref() == Some(ana))
        .then_some(())
    });
    assert_eq!(
        app.attr("approval", "data-status").as_deref(),
        Some("valid")
    );
    assert_eq!(app.text("approvals-needs"), "needs a lead");
    assert_eq!(app.text("approver-state"), "validated");
    assert_eq!(
        state_of(&repo, &id),
        "validated",
        "one approval is not enough"
    );

    // The lead: his Inbox says the proposal needs a lead.
    whoami(&app, lee);
    app.chord(&[keys::ALT], "1");
    app.wait_text("view-title", |t| t == "Inbox");
    app.wait_for("lee's inbox item", Duration::from_secs(20), || {
        (app.attr("inbox-item", "data-id").as_deref() == Some(id.as_str())).then_some(())
    });
    assert_eq!(app.text("inbox-label"), "needs a lead");
    assert!(
        app.text("inbox-given").contains(ana),
        "the approval already given is listed"
    );
    app.screenshot("docs-lead-inbox");
    app.click("inbox-item");
    app.wait_text("signing-person", |t| t == lee);
    assert_eq!(app.text("signing-role"), "lead");
    app.click("approve-open");
    app.click("approve-confirm");
    app.wait_text("approver-state", |t| t == "approved");
    assert_eq!(state_of(&repo, &id), "approved");

    let approvals = repo.oxide(&["--json", "approvals", &id]).expect(0).json();
    let mut people: Vec<(String, String)> = approvals["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["person"].as_str().unwrap().to_string(),
                a["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    people.sort();
    assert_eq!(
        people,
        [
            (ana.to_string(), "valid".to_string()),
            (lee.to_string(), "valid".to_string())
        ]
    );

    // The IPC traffic: the journey's key generation and both signatures went through it...
    let log = ipc_log(&app);
    let urls: Vec<&str> = log.iter().filter_map(|e| e["url"].as_str()).collect();
    assert_eq!(
        urls.iter()
            .filter(|u| u.ends_with("/approval_sign"))
            .count(),
        2,
        "{urls:?}"
    );
    assert!(
        urls.iter().any(|u| u.ends_with("/keys_generate")),
        "{urls:?}"
    );
    let traffic = serde_json::to_string(&log).unwrap();
    assert!(
        traffic.contains(&lee_public["ssh-ed25519 ".len()..]),
        "the recorder saw the public key go by"
    );
    // ... and not one private-key byte, in any spelling, of either person.
    for person in [ana, lee] {
        let seed = seed_of(person);
        for s in spellings(&seed) {
            assert!(
                !traffic.contains(&s),
                "the IPC traffic holds {person}'s private key ({s})"
            );
        }
        assert!(
            !traffic
                .as_bytes()
                .windows(seed.len())
                .any(|w| w == seed.as_slice()),
            "the IPC traffic holds {person}'s raw private key"
        );
    }
    std::fs::write(
        oxide_journeys::desktop::artifacts_dir().join("desktop-approvals-ipc.json"),
        serde_json::to_vec_pretty(&log).unwrap(),
    )
    .unwrap();
}
