//! Issue 12 items 1 and 3: signing keys in the real OS keyring (Secret Service: gnome-keyring
//! in the `dbus-run-session` that `scripts/test` starts) and the trust registry
//! `.oxide/approvers.toml`, through the real `oxide` binary, git and ssh-keygen.
//!
//! Person ids are unique per test: the keyring is shared by the whole test run. Each test
//! removes the entries it made.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use oxide_journeys::signing::Forget;
use oxide_journeys::{git, Run, TestRepo};
use sha2::{Digest, Sha256};

const SERVICE: &str = "dev.oxide.review";

fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{tag}-{}-{:x}", std::process::id(), nanos)
}

/// `secret-tool lookup service dev.oxide.review username ENTRY` (`None`: no such item).
fn keyring_lookup(entry: &str) -> Option<String> {
    let o = Command::new("secret-tool")
        .args(["lookup", "service", SERVICE, "username", entry])
        .output()
        .expect("secret-tool (libsecret-tools) is installed");
    let s = String::from_utf8_lossy(&o.stdout).trim().to_string();
    (o.status.success() && !s.is_empty()).then_some(s)
}

/// A repository initialised by `oxide init`, with the defaults committed on main.
fn governed_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.init();
    commit_all(&repo, "oxide defaults");
    repo
}

fn commit_all(repo: &TestRepo, msg: &str) {
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", msg]);
}

fn registry_text(repo: &TestRepo) -> String {
    std::fs::read_to_string(repo.path().join(".oxide/approvers.toml")).unwrap()
}

/// The keyid the contract defines: hex sha256 of the 32 raw key bytes of an OpenSSH line.
fn keyid_of(openssh: &str) -> String {
    let b64 = openssh.split_whitespace().nth(1).expect("key field");
    let blob = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64 key");
    assert_eq!(blob.len(), 51, "ssh-ed25519 wire encoding");
    assert_eq!(&blob[4..15], b"ssh-ed25519");
    hex::encode(Sha256::digest(&blob[19..]))
}

mod hex {
    pub fn encode(bytes: impl AsRef<[u8]>) -> String {
        bytes.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }
    pub fn decode(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}

/// Panics when `hay` holds the seed `seed_hex` raw, in hex or in base64.
fn assert_no_seed(what: &str, hay: &[u8], seed_hex: &str) {
    let raw = hex::decode(seed_hex);
    assert_eq!(
        raw.len(),
        32,
        "the keyring item holds a 32-byte seed as hex"
    );
    let text = String::from_utf8_lossy(hay);
    assert!(
        !text.to_lowercase().contains(seed_hex),
        "{what}: hex seed found"
    );
    for enc in [
        base64::engine::general_purpose::STANDARD.encode(&raw),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(&raw),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw),
    ] {
        assert!(!text.contains(&enc[..40]), "{what}: base64 seed found");
    }
    assert!(
        !hay.windows(32).any(|w| w == raw.as_slice()),
        "{what}: raw seed found"
    );
}

/// The OpenSSH line of RFC 8032's test-1 public key (a valid ed25519 point nobody here holds
/// in a keyring).
fn rfc8032_openssh(comment: &str) -> String {
    let key = hex::decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    let mut blob = Vec::new();
    blob.extend(11u32.to_be_bytes());
    blob.extend(b"ssh-ed25519");
    blob.extend(32u32.to_be_bytes());
    blob.extend(key);
    let line = format!(
        "ssh-ed25519 {}",
        base64::engine::general_purpose::STANDARD.encode(blob)
    );
    if comment.is_empty() {
        line
    } else {
        format!("{line} {comment}")
    }
}

fn ssh_keygen(args: &[&str], dir: &Path) -> (bool, String) {
    let o = Command::new("ssh-keygen")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("ssh-keygen (openssh-client) is installed");
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

fn allowed_signer_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect()
}

#[test]
fn generate_register_commit_export_rotate_revoke() {
    let repo = governed_repo();
    let p = unique("alice");
    let _forget = Forget(vec![p.clone()]);
    let mut outputs: Vec<Run> = Vec::new();
    let mut run = |args: &[&str], code: i32| -> Run {
        let r = repo.oxide(args).expect(code);
        outputs.push(Run {
            code: r.code,
            stdout: r.stdout.clone(),
            stderr: r.stderr.clone(),
        });
        r
    };

    // generate: keyid + OpenSSH public; the seed is in the keyring item person:<id>.
    let g = run(&["--json", "keys", "generate", "--person", &p], 0).json();
    let keyid1 = g["keyid"].as_str().unwrap().to_string();
    let public1 = g["public"].as_str().unwrap().to_string();
    assert!(
        public1.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"),
        "{g}"
    );
    assert_eq!(keyid_of(&public1), keyid1, "keyid = sha256 of the raw key");
    assert_eq!(g["keyring_entry"], format!("person:{p}"));
    let seed1 = keyring_lookup(&format!("person:{p}")).expect("a keyring item");
    assert_eq!(seed1.len(), 64);

    // Twice: refused, nothing changed.
    let again = run(&["--json", "keys", "generate", "--person", &p], 2);
    assert_eq!(again.error_code(), "SIGNING_KEY_EXISTS");
    assert!(again.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("keys rotate"));
    assert_eq!(keyring_lookup(&format!("person:{p}")).unwrap(), seed1);

    // list and export-public.
    let l = run(&["--json", "keys", "list"], 0).json();
    let keys = l["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["keyid"], keyid1.as_str());
    assert_eq!(keys[0]["person"], p.as_str());
    assert_eq!(keys[0]["public"], public1.as_str());
    let pub_text = run(&["keys", "export-public", "--person", &p], 0).stdout;
    assert_eq!(pub_text.trim(), public1);
    // ssh-keygen reads it as an ED25519 public key.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key.pub"), &pub_text).unwrap();
    let (ok, fp) = ssh_keygen(&["-l", "-f", "key.pub"], dir.path());
    assert!(ok && fp.contains("(ED25519)"), "{fp}");

    // approvers add: a draft in the working tree, not in force until committed.
    let before = registry_text(&repo);
    let a = run(
        &[
            "--json",
            "approvers",
            "add",
            "--person",
            &p,
            "--name",
            "Alice Example",
            "--role",
            "approver",
            "--role",
            "lead",
        ],
        0,
    )
    .json();
    assert_eq!(a["keyid"], keyid1.as_str());
    assert_eq!(a["in_force"], false);
    assert!(
        a["note"].as_str().unwrap().contains("once committed"),
        "{a}"
    );
    let draft = registry_text(&repo);
    assert!(
        draft.starts_with(before.lines().next().unwrap()),
        "comments kept"
    );
    assert!(draft.contains(&format!("id = \"{p}\"")) && draft.contains("[[person.keys]]"));
    let listed = run(&["--json", "approvers", "list"], 0).json();
    assert_eq!(
        listed["persons"].as_array().unwrap().len(),
        0,
        "not committed yet"
    );
    assert_eq!(listed["draft_pending"], true);
    let allowed = run(&["keys", "export-allowed-signers"], 0).stdout;
    assert!(allowed_signer_lines(&allowed).is_empty(), "{allowed}");

    commit_all(&repo, "register alice");
    let listed = run(&["--json", "approvers", "list"], 0).json();
    assert_eq!(listed["draft_pending"], false);
    let person = &listed["persons"][0];
    assert_eq!(person["id"], p.as_str());
    assert_eq!(person["roles"], serde_json::json!(["approver", "lead"]));
    assert_eq!(person["keys"][0]["keyid"], keyid1.as_str());

    // allowed_signers in git's format; ssh-keygen parses it and finds the principal.
    let allowed = run(&["keys", "export-allowed-signers"], 0).stdout;
    let lines = allowed_signer_lines(&allowed);
    assert_eq!(lines.len(), 1, "{allowed}");
    let key_field = public1
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        lines[0].starts_with(&format!("{p} namespaces=\"git\",valid-after=\""))
            && lines[0].ends_with(&format!("Z\" {key_field}")),
        "{}",
        lines[0]
    );
    std::fs::write(dir.path().join("allowed_signers"), &allowed).unwrap();
    let (ok, found) = ssh_keygen(
        &["-Y", "match-principals", "-I", &p, "-f", "allowed_signers"],
        dir.path(),
    );
    assert!(ok && found.lines().any(|l| l == p), "{found}");
    let (ok, found) = ssh_keygen(
        &[
            "-Y",
            "match-principals",
            "-I",
            "mallory",
            "-f",
            "allowed_signers",
        ],
        dir.path(),
    );
    assert!(!ok, "an unregistered principal is not found: {found}");
    let j = run(&["--json", "keys", "export-allowed-signers"], 0).json();
    assert_eq!(
        j["allowed_signers"].as_str().unwrap().trim_end(),
        allowed.trim_end()
    );

    // rotate: a new key in the keyring; the draft ends the old key and adds the new one.
    let r = run(&["--json", "keys", "rotate", "--person", &p], 0).json();
    let keyid2 = r["keyid"].as_str().unwrap().to_string();
    assert_ne!(keyid2, keyid1);
    assert_eq!(r["old_keyid"], keyid1.as_str());
    assert_eq!(keyid_of(r["public"].as_str().unwrap()), keyid2);
    assert_eq!(r["in_force"], false);
    assert!(r["note"].as_str().unwrap().contains("once committed"));
    let seed2 = keyring_lookup(&format!("person:{p}")).unwrap();
    assert_ne!(seed2, seed1, "the keyring holds the new key");
    let draft = registry_text(&repo);
    assert!(draft.contains("valid_until"), "{draft}");
    // Still the committed registry until the commit.
    let allowed = run(&["keys", "export-allowed-signers"], 0).stdout;
    assert_eq!(allowed_signer_lines(&allowed).len(), 1);
    commit_all(&repo, "rotate alice");
    let allowed = run(&["keys", "export-allowed-signers"], 0).stdout;
    let lines = allowed_signer_lines(&allowed);
    assert_eq!(lines.len(), 2, "{allowed}");
    assert!(
        lines[0].contains(",valid-before=\""),
        "old key ends: {}",
        lines[0]
    );
    assert!(!lines[1].contains("valid-before"), "{}", lines[1]);
    let l = run(&["--json", "keys", "list"], 0).json();
    let keys = l["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys
        .iter()
        .any(|k| k["keyid"] == keyid1.as_str() && !k["rotated_at"].is_null()));

    // revoke the old key: database + draft; in force once committed.
    let v = run(
        &[
            "--json",
            "keys",
            "revoke",
            &keyid1,
            "--reason",
            "laptop lost",
        ],
        0,
    )
    .json();
    assert_eq!(v["keyid"], keyid1.as_str());
    assert!(v["revoked_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["local"], true);
    assert_eq!(v["registry"]["changed"], true);
    assert!(v["note"].as_str().unwrap().contains("once committed"));
    assert!(registry_text(&repo).contains("revoke_reason = \"laptop lost\""));
    let twice = run(
        &["--json", "keys", "revoke", &keyid1, "--reason", "again"],
        2,
    );
    assert_eq!(twice.error_code(), "SIGNING_ALREADY_REVOKED");
    commit_all(&repo, "revoke alice's old key");
    let allowed = run(&["keys", "export-allowed-signers"], 0).stdout;
    assert_eq!(allowed_signer_lines(&allowed).len(), 1, "{allowed}");
    assert!(allowed.contains("# revoked at") && allowed.contains(&keyid1));
    let listed = run(&["--json", "approvers", "list"], 0).json();
    assert!(!listed["persons"][0]["keys"][0]["revoked_at"].is_null());

    // The audit chain holds every key change and verifies.
    let events = run(&["--json", "audit", "list"], 0).json();
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in [
        "signing.key_generated",
        "signing.key_rotated",
        "signing.key_revoked",
    ] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }
    assert_eq!(run(&["--json", "audit", "verify"], 0).json()["ok"], true);

    // No private key anywhere: database files, registry, every output of this journey.
    let mut hay = Vec::new();
    for e in std::fs::read_dir(repo.data.path()).unwrap() {
        let path = e.unwrap().path();
        if path.is_file() {
            hay.extend(std::fs::read(&path).unwrap());
        }
    }
    hay.extend(registry_text(&repo).into_bytes());
    for o in &outputs {
        hay.extend(o.stdout.as_bytes());
        hay.extend(o.stderr.as_bytes());
    }
    assert!(hay.len() > 10_000, "the database was read");
    for seed in [&seed1, &seed2] {
        assert_no_seed("database, registry and outputs", &hay, seed);
    }
}

#[test]
fn refusals_say_what_is_wrong_and_write_nothing() {
    let repo = governed_repo();
    let ghost = unique("ghost");
    let p = unique("bob");
    let _forget = Forget(vec![ghost.clone(), p.clone()]);
    let registry = registry_text(&repo);
    let good_key = &rfc8032_openssh("bob@laptop");

    // An unknown person has no key.
    for args in [
        vec!["--json", "keys", "export-public", "--person", &ghost],
        vec!["--json", "keys", "rotate", "--person", &ghost],
        vec![
            "--json",
            "approvers",
            "add",
            "--person",
            &ghost,
            "--name",
            "G",
            "--role",
            "approver",
        ],
    ] {
        let r = repo.oxide(&args).expect(2);
        assert_eq!(r.error_code(), "SIGNING_NO_KEY", "{args:?}");
        assert!(r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("oxide keys generate --person {ghost}")));
    }
    assert!(keyring_lookup(&format!("person:{ghost}")).is_none());

    // Bad person id, bad role, bad public key.
    let r = repo
        .oxide(&["--json", "keys", "generate", "--person", "not an id"])
        .expect(2);
    assert_eq!(r.error_code(), "SIGNING_BAD_PERSON");
    let r = repo
        .oxide(&[
            "--json",
            "approvers",
            "add",
            "--person",
            &p,
            "--name",
            "Bob",
            "--role",
            "boss",
            "--public-key",
            good_key,
        ])
        .expect(2);
    assert_eq!(r.error_code(), "SIGNING_BAD_ROLE");
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("approver, lead and maintainer"));
    for bad in [
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 x",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb0 x",
        "not a key",
    ] {
        let r = repo
            .oxide(&[
                "--json",
                "approvers",
                "add",
                "--person",
                &p,
                "--name",
                "Bob",
                "--role",
                "approver",
                "--public-key",
                bad,
            ])
            .expect(2);
        assert_eq!(r.error_code(), "SIGNING_BAD_PUBLIC_KEY", "{bad}");
    }
    // Revoke: unknown keyid, missing reason.
    let r = repo
        .oxide(&[
            "--json",
            "keys",
            "revoke",
            &"ab".repeat(32),
            "--reason",
            "x",
        ])
        .expect(2);
    assert_eq!(r.error_code(), "SIGNING_UNKNOWN_KEY");
    let r = repo
        .oxide(&[
            "--json",
            "keys",
            "revoke",
            &"ab".repeat(32),
            "--reason",
            " ",
        ])
        .expect(2);
    assert_eq!(r.error_code(), "SIGNING_REASON_REQUIRED");
    assert_eq!(
        registry_text(&repo),
        registry,
        "the registry draft is untouched"
    );
    assert_eq!(
        repo.oxide(&["--json", "keys", "list"]).expect(0).json()["keys"],
        serde_json::json!([])
    );
    assert_eq!(
        repo.oxide(&["--json", "audit", "verify"]).expect(0).json()["events"],
        1
    );

    // A valid key given explicitly works without a keyring key.
    let ok = repo
        .oxide(&[
            "--json",
            "approvers",
            "add",
            "--person",
            &p,
            "--name",
            "Bob",
            "--role",
            "maintainer",
            "--public-key",
            good_key,
        ])
        .expect(0)
        .json();
    assert_eq!(ok["keyid"], keyid_of(good_key).as_str());
}

#[test]
fn a_malformed_committed_registry_is_refused_with_its_line() {
    let repo = governed_repo();
    std::fs::write(
        repo.path().join(".oxide/approvers.toml"),
        "[[person]]\nid = \"carol\"\nname = \"Carol\"\nroles = [\"approver\"]\nsuperuser = true\n",
    )
    .unwrap();
    // As a draft only, the committed (empty) registry is in force...
    let l = repo
        .oxide(&["--json", "approvers", "list"])
        .expect(0)
        .json();
    assert_eq!(l["draft_pending"], true);
    // ...and editing the malformed draft is refused before anything changes.
    let r = repo
        .oxide(&[
            "--json",
            "approvers",
            "add",
            "--person",
            "dan",
            "--name",
            "Dan",
            "--role",
            "approver",
            "--public-key",
            &rfc8032_openssh(""),
        ])
        .expect(2);
    assert_eq!(r.error_code(), "SIGNING_REGISTRY_INVALID");
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("working tree"));

    commit_all(&repo, "a bad registry");
    for args in [
        vec!["--json", "approvers", "list"],
        vec!["--json", "keys", "export-allowed-signers"],
    ] {
        let r = repo.oxide(&args).expect(2);
        assert_eq!(r.error_code(), "SIGNING_REGISTRY_INVALID", "{args:?}");
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(
            msg.contains("committed on main")
                && msg.contains("line 5")
                && msg.contains("superuser"),
            "{msg}"
        );
    }
    // Without --json: the same, on stderr, exit 2, nothing on stdout.
    let r = repo.oxide(&["keys", "export-allowed-signers"]).expect(2);
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("SIGNING_REGISTRY_INVALID"));
}

/// Every file under `dir` (relative path, content), skipping SQLite's transient WAL files.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, at: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(at).unwrap() {
            let path = e.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            if path.is_dir() {
                if rel != ".git" {
                    walk(root, &path, out);
                }
            } else {
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn without_a_keyring_nothing_is_written_and_the_error_says_how_to_start_one() {
    let repo = governed_repo();
    let p = unique("nokeyring");
    let _forget = Forget(vec![p.clone()]);
    let dbus_nowhere = format!(
        "unix:path={}",
        repo.data.path().join("no-such-bus").display()
    );
    let before_repo = snapshot(repo.path());
    let before_data: Vec<String> = snapshot(repo.data.path())
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let events_before =
        repo.oxide(&["--json", "audit", "verify"]).expect(0).json()["events"].clone();

    for args in [
        vec!["--json", "keys", "generate", "--person", &p],
        vec!["--json", "keys", "export-public", "--person", &p],
        vec![
            "--json",
            "approvers",
            "add",
            "--person",
            &p,
            "--name",
            "N",
            "--role",
            "approver",
        ],
    ] {
        let r = repo.oxide_env(&args, &[("DBUS_SESSION_BUS_ADDRESS", &dbus_nowhere)]);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert_eq!(r.error_code(), "SIGNING_NO_KEYRING", "{args:?}");
        let msg = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(
            msg.contains("dbus-run-session")
                && msg.contains("gnome-keyring-daemon")
                && msg.contains("never in a file"),
            "{msg}"
        );
    }
    assert_eq!(
        snapshot(repo.path()),
        before_repo,
        "the working tree is untouched"
    );
    let after_data: Vec<String> = snapshot(repo.data.path())
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        after_data, before_data,
        "no file appeared next to the database"
    );
    assert_eq!(
        repo.oxide(&["--json", "audit", "verify"]).expect(0).json()["events"],
        events_before
    );
    assert_eq!(
        repo.oxide(&["--json", "keys", "list"]).expect(0).json()["keys"],
        serde_json::json!([])
    );
    assert!(keyring_lookup(&format!("person:{p}")).is_none());
}
