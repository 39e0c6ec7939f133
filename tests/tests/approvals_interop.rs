//! Issue 12 "Done when": approvals interoperate with an independent DSSE implementation.
//!
//! 1. An approval signed by `oxide approve` and exported by `oxide approvals ID --export DIR`
//!    is verified by securesystemslib (`securesystemslib.dsse.Envelope.verify` with ed25519
//!    `SSlibKey`s built from the committed `.oxide/approvers.toml`, keyid recomputed in
//!    Python): no OXIDE code takes part. A byte flipped in its payload or signature is
//!    refused by the same verifier, so it is not vacuous.
//! 2. An envelope signed by securesystemslib (`CryptoSigner`) with a key whose public part is
//!    registered in the committed registry is accepted: `oxide verify ID` says ok, it counts
//!    in `oxide approvals ID`, and with it a high-risk proposal reaches `approved`.
//!
//! The Python side is tests/interop/dsse_interop.py, run with the venv scripts/setup.sh
//! installs (tests/interop/requirements.txt). Without that venv these tests FAIL.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use oxide_journeys::signing::{
    interop, interop_python, interop_python_in, random_hex32, SignedRepo,
};
use oxide_journeys::{git, TestRepo};
use serde_json::{json, Value};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn py(mode: &str, args: &[&Path], stdin: Option<&Value>) -> (i32, Vec<Value>, String) {
    interop(mode, args, stdin)
}

/// The registry as committed on `main` (what governs), written to a file for Python.
fn committed_registry(repo: &TestRepo) -> PathBuf {
    let text = git(repo.path(), &["show", "main:.oxide/approvers.toml"]);
    let f = repo.data.path().join("approvers.committed.toml");
    std::fs::write(&f, text).unwrap();
    f
}

/// Every exported DSSE envelope under `dir` (files whose JSON has `payloadType`).
fn exported_envelopes(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(v) =
                serde_json::from_slice::<Value>(&std::fs::read(&p).unwrap_or_default())
            {
                if v.get("payloadType").is_some() {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    out
}

fn proposal_digest_hex(repo: &TestRepo, id: &str) -> String {
    let show = repo
        .oxide(&["--json", "proposal", "show", id])
        .expect(0)
        .json();
    let d = show["digest"]
        .as_str()
        .or_else(|| show["bundle"]["digest"].as_str())
        .unwrap_or_else(|| panic!("no digest in proposal show\n{show:#}"));
    d.trim_start_matches("sha256:").to_string()
}

#[test]
fn an_oxide_approval_is_verified_by_securesystemslib() {
    let s = SignedRepo::new(&[("ana", "approver")]);
    let (ana, _, ana_keyid, _) = s.persons[0].clone();
    let id = s.validated_change("src/config.txt", "retries = 3", "retries = 5", "tester");
    let signed = s.approve(&id, &ana).expect(0).json();
    assert_eq!(signed["keyid"], ana_keyid.as_str(), "{signed:#}");

    let out = s.repo.data.path().join("export");
    s.repo
        .oxide(&[
            "--json",
            "approvals",
            &id,
            "--export",
            out.to_str().unwrap(),
        ])
        .expect(0);
    let files = exported_envelopes(&out);
    assert_eq!(files.len(), 1, "one approval exported: {files:?}");

    // securesystemslib verifies it against the committed registry's keys.
    let registry = committed_registry(&s.repo);
    let (code, lines, err) = py("verify", &[&registry, &files[0]], None);
    assert_eq!(
        code, 0,
        "securesystemslib refused the approval: {lines:?}\n{err}"
    );
    let v = &lines[0];
    assert_eq!(v["verified"], true, "{v:#}");
    assert_eq!(
        v["keyid"],
        ana_keyid.as_str(),
        "keyid = sha256 of the raw public key"
    );
    assert_eq!(v["person"], ana.as_str());
    let st = &v["statement"];
    assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(st["predicateType"], "https://oxide-review.dev/approval/v1");
    assert_eq!(st["subject"][0]["name"], format!("oxide-proposal:{id}"));
    assert_eq!(
        st["subject"][0]["digest"]["sha256"],
        proposal_digest_hex(&s.repo, &id),
        "the subject is the bundle that was reviewed"
    );
    assert_eq!(st["predicate"]["decision"], "approve");
    assert_eq!(st["predicate"]["person"], ana.as_str());

    // The envelope `approve` printed is the one exported.
    let exported: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    let printed: Value = match &signed["envelope"] {
        Value::String(s) => serde_json::from_str(s).unwrap(),
        v => v.clone(),
    };
    assert_eq!(exported["signatures"], printed["signatures"]);

    // The same verifier refuses a flipped payload byte and a flipped signature byte.
    let mut payload = B64.decode(exported["payload"].as_str().unwrap()).unwrap();
    let mid = payload.len() / 2;
    payload[mid] ^= 1;
    let mut bad = exported.clone();
    bad["payload"] = json!(B64.encode(&payload));
    let f = s.repo.data.path().join("tampered-payload.json");
    std::fs::write(&f, bad.to_string()).unwrap();
    let (code, lines, _) = py("verify", &[&registry, &f], None);
    assert_eq!(code, 1, "a tampered payload verified: {lines:?}");
    let mut sig = B64
        .decode(exported["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    sig[3] ^= 0x80;
    let mut bad = exported.clone();
    bad["signatures"][0]["sig"] = json!(B64.encode(&sig));
    let f = s.repo.data.path().join("tampered-sig.json");
    std::fs::write(&f, bad.to_string()).unwrap();
    let (code, lines, _) = py("verify", &[&registry, &f], None);
    assert_eq!(code, 1, "a tampered signature verified: {lines:?}");
}

#[test]
fn an_envelope_signed_by_securesystemslib_is_accepted_and_counts() {
    // Bob's key lives only in Python (its seed travels on stdin, never to a file).
    let seed = random_hex32();
    let (code, lines, err) = py("public", &[], Some(&json!({"seed": seed})));
    assert_eq!(code, 0, "{err}");
    let bob_public = lines[0]["public"].as_str().unwrap().to_string();
    let bob_keyid = lines[0]["keyid"].as_str().unwrap().to_string();

    let s = SignedRepo::with_external(&[("ana", "approver")], &[("bob", "lead", &bob_public)]);
    let ana = s.person(0).to_string();
    let bob = s.person(1).to_string();
    // src/auth/ is a protected folder: high risk, a lead and an approver required.
    let id = s.validated_change("src/auth/session.txt", "ttl = 60", "ttl = 30", "tester");
    let d = s.repo.oxide(&["--json", "policy", "eval", &id]).json();
    assert_eq!(d["risk"], "high", "{d:#}");

    s.approve(&id, &ana).expect(0);
    assert_eq!(
        s.state(&id),
        "validated",
        "one approver is not enough for high risk"
    );

    // Bob's statement: the facts Ana's approval binds (so it is current), his own person,
    // role claim, nonce and times; signed by securesystemslib.
    let out = s.repo.data.path().join("export-ana");
    s.repo
        .oxide(&[
            "--json",
            "approvals",
            &id,
            "--export",
            out.to_str().unwrap(),
        ])
        .expect(0);
    let files = exported_envelopes(&out);
    assert_eq!(files.len(), 1, "{files:?}");
    let ana_env: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    let mut statement: Value =
        serde_json::from_slice(&B64.decode(ana_env["payload"].as_str().unwrap()).unwrap()).unwrap();
    let p = &mut statement["predicate"];
    p["person"] = json!(bob);
    p["role"] = json!("lead");
    p["reason"] = json!("reviewed with an independent DSSE signer");
    p["nonce"] = json!(random_hex32());
    let (code, lines, err) = py(
        "sign",
        &[],
        Some(&json!({"seed": seed, "statement": statement})),
    );
    assert_eq!(code, 0, "securesystemslib could not sign: {err}");
    let envelope = &lines[0];
    assert_eq!(envelope["signatures"][0]["keyid"], bob_keyid.as_str());
    let f = s.repo.data.path().join("bob.dsse.json");
    std::fs::write(&f, envelope.to_string()).unwrap();

    // Recorded by oxide (an approval signed elsewhere), then verified and counted.
    let rec = s
        .repo
        .oxide_env(
            &["--json", "approve", &id, "--envelope", f.to_str().unwrap()],
            &[("OXIDE_ACTOR", &bob)],
        )
        .expect(0)
        .json();
    assert_eq!(rec["keyid"], bob_keyid.as_str(), "{rec:#}");
    let v = s.repo.oxide(&["--json", "verify", &id]).expect(0).json();
    assert_eq!(v["ok"], true, "{v:#}");
    let a = s.approvals(&id);
    let list = a["approvals"].as_array().unwrap();
    let bob_row = list
        .iter()
        .find(|r| r["person"] == bob.as_str())
        .unwrap_or_else(|| panic!("bob's approval is not listed\n{a:#}"));
    assert_eq!(bob_row["status"], "valid", "{a:#}");
    assert_eq!(bob_row["role"], "lead");
    assert_eq!(bob_row["keyid"], bob_keyid.as_str());
    assert_eq!(bob_row["decision"], "approve");
    assert_eq!(
        s.state(&id),
        "approved",
        "the lead's securesystemslib signature was the second approval\n{a:#}"
    );

    // The registry is what makes it count: the same envelope bytes with one payload byte
    // changed are `invalid` and change nothing.
    let mut payload = B64.decode(envelope["payload"].as_str().unwrap()).unwrap();
    let at = payload.len() - 3;
    payload[at] ^= 1;
    let mut bad = envelope.clone();
    bad["payload"] = json!(B64.encode(&payload));
    let f = s.repo.data.path().join("bob-tampered.dsse.json");
    std::fs::write(&f, bad.to_string()).unwrap();
    let r = s.repo.oxide_env(
        &["--json", "approve", &id, "--envelope", f.to_str().unwrap()],
        &[("OXIDE_ACTOR", &bob)],
    );
    assert_ne!(r.code, 0, "a tampered envelope was recorded: {}", r.stdout);
    assert_eq!(s.approvals(&id)["approvals"], a["approvals"]);
}

#[test]
fn the_interop_venv_is_required_not_optional() {
    // A missing venv, or one without securesystemslib, is an error (the journeys above then
    // panic, i.e. FAIL), never a skip.
    let empty = tempfile::tempdir().unwrap();
    let e = interop_python_in(empty.path()).unwrap_err();
    assert!(e.contains("scripts/setup.sh"), "{e}");
    // And the real one is there with the pinned securesystemslib (tests/interop/requirements.txt).
    let out = Command::new(interop_python())
        .args([
            "-c",
            "import securesystemslib; print(securesystemslib.__version__)",
        ])
        .output()
        .unwrap();
    let pinned = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/requirements.txt"),
    )
    .unwrap();
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        pinned.contains(&format!("securesystemslib[crypto]=={version}")),
        "the venv has securesystemslib {version}, not the pinned one: re-run scripts/setup.sh"
    );
}
