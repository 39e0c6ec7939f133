//! Helpers for the signing journeys (issue 12): persons with real keyring keys, a committed
//! trust registry, a validated proposal, the keyring's seeds (read back with `secret-tool`,
//! outside OXIDE) and the private-key grep.
//!
//! Every journey runs inside the test command's D-Bus session with an unlocked
//! gnome-keyring (scripts/test). The keyring is shared by every test of the run, so person
//! ids are unique per test ([`unique_person`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use serde_json::{json, Value};

use crate::{git, manual_bundle, TestRepo};

/// The keyring service OXIDE stores keys under (docs/approvals.md).
pub const KEYRING_SERVICE: &str = "dev.oxide.review";

/// Removes these persons' keyring items when the test ends, passed or failed (the keyring is
/// shared by every test of the run).
pub struct Forget(pub Vec<String>);

impl Drop for Forget {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = Command::new("secret-tool")
                .args([
                    "clear",
                    "service",
                    KEYRING_SERVICE,
                    "username",
                    &format!("person:{p}"),
                ])
                .status();
        }
    }
}

/// Chooses `person` as who signs on this device (`None`: forgets it), as the desktop's
/// Settings do: the who-I-am file in the XDG config folder every `repo.oxide(...)` run uses.
/// A proposal's initiator is the person chosen here when their key is in the keyring, else
/// the only person whose key is (docs/roles.md): never `OXIDE_ACTOR`.
pub fn who_i_am(repo: &TestRepo, person: Option<&str>) {
    let dir = repo.data.path().join("xdg-config").join("dev.oxide.review");
    let file = dir.join("who-i-am.json");
    match person {
        Some(p) => {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&file, json!({ "person": p }).to_string()).unwrap();
        }
        None => {
            let _ = std::fs::remove_file(&file);
        }
    }
}

/// A person id no other test of this run uses: `<prefix>-<time><pid><counter>`.
pub fn unique_person(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!(
        "{prefix}-{:x}{:x}{}",
        t.as_micros() % 0xffff_ffff,
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// 32 random bytes as lowercase hex (a nonce, or a throw-away test seed).
pub fn random_hex32() -> String {
    let mut b = [0u8; 32];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").expect("/dev/urandom"),
        &mut b,
    )
    .expect("32 random bytes");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A repository with a required check, persons with keyring keys registered under the given
/// roles in the committed `.oxide/approvers.toml`, and files to change. Every `oxide` run
/// made through it gets [`SignedRepo::env`] and is appended to its transcript.
pub struct SignedRepo {
    pub repo: TestRepo,
    /// (person id, role, keyid, OpenSSH public key) in the order given (keyid empty for
    /// persons whose key is held elsewhere).
    pub persons: Vec<(String, String, String, String)>,
    /// Environment for every run (e.g. `OXIDE_LOG=trace`).
    pub env: Vec<(String, String)>,
    /// Who signs on this device (its who-I-am), so the person who proposes unless
    /// [`Self::import_change`] names one of `persons`: a key in this keyring, registered as an
    /// approver (not in `persons`), so the approvers the policy asks for are never the
    /// initiator.
    pub author: String,
    transcript: std::sync::Mutex<Vec<u8>>,
    _forget_author: Forget,
}

impl SignedRepo {
    /// `persons`: (id prefix, role); each gets a fresh key (`keys generate`) and a registry
    /// entry (`approvers add`), committed together with the check contract.
    pub fn new(persons: &[(&str, &str)]) -> SignedRepo {
        Self::build(persons, &[], &[])
    }

    /// [`Self::new`], plus persons whose key is held elsewhere: (id prefix, role, OpenSSH
    /// public key), registered with `approvers add --public-key` (listed after `persons`).
    pub fn with_external(persons: &[(&str, &str)], external: &[(&str, &str, &str)]) -> SignedRepo {
        Self::build(persons, external, &[])
    }

    /// The general form: `env` is added to every `oxide` run, the set-up's included.
    pub fn build(
        persons: &[(&str, &str)],
        external: &[(&str, &str, &str)],
        env: &[(&str, &str)],
    ) -> SignedRepo {
        let repo = TestRepo::with_files(&[
            ("README.md", "# signed repo\n"),
            ("src/config.txt", "retries = 3\n"),
            ("src/auth/session.txt", "ttl = 60\n"),
        ]);
        let author = unique_person("author");
        let mut s = SignedRepo {
            repo,
            persons: Vec::new(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            author: author.clone(),
            transcript: std::sync::Mutex::new(Vec::new()),
            _forget_author: Forget(vec![author.clone()]),
        };
        s.run(&["--json", "init"], &[]).expect(0);
        std::fs::write(
            s.repo.path().join(".oxide/checks.toml"),
            "[[check]]\nname = \"unit\"\nrun = [\"true\"]\nenv = [\"PATH\"]\ntimeout_s = 30\nrequired = true\n",
        )
        .unwrap();
        // The fake model pinned, so `propose` (O.X.I.D.E) can run against a loopback server.
        std::fs::write(
            s.repo.path().join(".oxide/oxide.toml"),
            format!(
                "[workflow]\ntarget_branch = \"main\"\n\n[synth]\nmodel = \"{}\"\nmodel_digest = \"{}\"\nseed = 42\nnum_ctx = 8192\ntimeout_s = 5\n",
                crate::fake_ollama::MODEL,
                crate::fake_ollama::DIGEST
            ),
        )
        .unwrap();
        s.run(&["--json", "keys", "generate", "--person", &author], &[])
            .expect(0);
        // Registered (as an approver: the registry wants a role), since only a key the
        // committed registry registers to its holder names the initiator (docs/roles.md).
        s.run(
            &[
                "--json",
                "approvers",
                "add",
                "--person",
                &author,
                "--name",
                "author",
                "--role",
                "approver",
            ],
            &[],
        )
        .expect(0);
        // The author is who signs on this device: every proposal made here is theirs.
        who_i_am(&s.repo, Some(&author));
        for (prefix, role) in persons {
            let id = unique_person(prefix);
            let k = s
                .run(&["--json", "keys", "generate", "--person", &id], &[])
                .expect(0)
                .json();
            let keyid = k["keyid"].as_str().expect("keyid").to_string();
            let public = k["public"].as_str().expect("public").trim().to_string();
            s.run(
                &[
                    "--json",
                    "approvers",
                    "add",
                    "--person",
                    &id,
                    "--name",
                    prefix,
                    "--role",
                    role,
                ],
                &[],
            )
            .expect(0);
            s.persons.push((id, role.to_string(), keyid, public));
        }
        for (prefix, role, public) in external {
            let id = unique_person(prefix);
            s.run(
                &[
                    "--json",
                    "approvers",
                    "add",
                    "--person",
                    &id,
                    "--name",
                    prefix,
                    "--role",
                    role,
                    "--public-key",
                    public,
                ],
                &[],
            )
            .expect(0);
            s.persons
                .push((id, role.to_string(), String::new(), public.to_string()));
        }
        commit_all(&s.repo, "governance: checks and the trust registry");
        s
    }

    /// `oxide ARGS` with [`Self::env`] and `extra`; stdout and stderr go to the transcript.
    pub fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> crate::Run {
        let mut env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        env.extend_from_slice(extra);
        let r = self.repo.oxide_env(args, &env);
        let mut t = self.transcript.lock().unwrap();
        t.extend_from_slice(format!("$ oxide {args:?}\n").as_bytes());
        t.extend_from_slice(r.stdout.as_bytes());
        t.extend_from_slice(r.stderr.as_bytes());
        r
    }

    /// Everything every run printed (stdout and stderr, logs included).
    pub fn transcript(&self) -> Vec<u8> {
        self.transcript.lock().unwrap().clone()
    }

    /// The id of the `i`-th person.
    pub fn person(&self, i: usize) -> &str {
        &self.persons[i].0
    }

    /// A manual proposal on the current `main` changing `path` (`find` → `replace`), imported
    /// with `initiator` as the audit actor (`OXIDE_ACTOR`); returns its id. The person who
    /// proposes is `initiator` when it is one of the persons (chosen as who-I-am for the
    /// import), else [`Self::author`].
    pub fn import_change(&self, path: &str, find: &str, replace: &str, initiator: &str) -> String {
        let head = git(self.repo.path(), &["rev-parse", "main"])
            .trim()
            .to_string();
        // A skill digest of its own: proposals of one skill supersede each other.
        let skill_hex = format!(
            "{:0>64}",
            unique_person("s")
                .bytes()
                .map(|b| format!("{:x}", b % 16))
                .collect::<String>()
        );
        let skill_hex = &skill_hex[skill_hex.len() - 64..];
        let bundle = manual_bundle(
            &head,
            skill_hex,
            "change a setting",
            json!([{"op": "text_edit", "path": path, "find": find, "replace": replace}]),
            "2026-01-01T00:00:00Z",
        );
        let file = self
            .repo
            .data
            .path()
            .join(format!("bundle-{}.json", unique_person("b")));
        std::fs::write(&file, bundle.to_string()).unwrap();
        let proposer = if self.persons.iter().any(|p| p.0 == initiator) {
            initiator
        } else {
            self.author.as_str()
        };
        who_i_am(&self.repo, Some(proposer));
        let imported = self.run(
            &["--json", "proposal", "import", file.to_str().unwrap()],
            &[("OXIDE_ACTOR", initiator)],
        );
        who_i_am(&self.repo, Some(&self.author));
        let imported = imported.expect(0).json();
        assert_eq!(imported["state"], "proposed", "{imported:#}");
        imported["id"].as_str().expect("an id").to_string()
    }

    /// [`Self::import_change`] then `validate` (asserting `validated`).
    pub fn validated_change(
        &self,
        path: &str,
        find: &str,
        replace: &str,
        initiator: &str,
    ) -> String {
        let id = self.import_change(path, find, replace, initiator);
        let v = self.run(&["--json", "validate", &id], &[]).expect(0).json();
        assert_eq!(v["state"], "validated", "{v:#}");
        id
    }

    /// `skill add` of a host skill submitted by `submitted_by` targeting `src/*`; its id.
    pub fn add_skill(&self, submitted_by: &str) -> String {
        let f = self
            .repo
            .data
            .path()
            .join(format!("skill-{}.json", unique_person("s")));
        std::fs::write(
            &f,
            json!({
                "title": format!("Tune settings ({submitted_by})"),
                "description": "Retries are too low.",
                "source": "host",
                "submitted_by": submitted_by,
                "evidence_refs": [],
                "targets": ["src/*", "src/auth/*"]
            })
            .to_string(),
        )
        .unwrap();
        let added = self
            .run(&["--json", "skill", "add", f.to_str().unwrap()], &[])
            .expect(0)
            .json();
        added["id"].as_str().expect("skill id").to_string()
    }

    /// `propose --skill ID` (O.X.I.D.E) against a loopback model answering `intent`, proposed
    /// by [`Self::author`].
    pub fn propose(&self, skill: &str, intent: &Value) -> crate::Run {
        let server =
            crate::fake_ollama::FakeOllama::start(crate::fake_ollama::Behavior::answering(intent));
        self.run(
            &["--json", "propose", "--skill", skill],
            &[("OLLAMA_HOST", &server.host())],
        )
    }

    /// `approve ID --person P` as that person (`OXIDE_ACTOR` = the person id).
    pub fn approve(&self, id: &str, person: &str) -> crate::Run {
        self.run(
            &["--json", "approve", id, "--person", person],
            &[("OXIDE_ACTOR", person)],
        )
    }

    /// `approvals ID` (exit 0 asserted).
    pub fn approvals(&self, id: &str) -> Value {
        self.run(&["--json", "approvals", id], &[]).expect(0).json()
    }

    /// The proposal's state.
    pub fn state(&self, id: &str) -> String {
        let show = self
            .run(&["--json", "proposal", "show", id], &[])
            .expect(0)
            .json();
        show["state"].as_str().unwrap_or_default().to_string()
    }
}

/// `git add -A && git commit` on the repository's current branch.
pub fn commit_all(repo: &TestRepo, msg: &str) -> String {
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", msg]);
    git(repo.path(), &["rev-parse", "HEAD"]).trim().to_string()
}

/// The venv scripts/setup.sh makes for the independent DSSE implementation:
/// `OXIDE_INTEROP_VENV`, default `target/interop-venv` at the workspace root.
pub fn interop_venv() -> PathBuf {
    std::env::var_os("OXIDE_INTEROP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
                .join("interop-venv")
        })
}

/// The Python of [`interop_venv`]. Panics — the journey FAILS, it is never skipped — when
/// the venv or securesystemslib is missing.
pub fn interop_python() -> PathBuf {
    interop_python_in(&interop_venv()).unwrap_or_else(|e| panic!("{e}"))
}

/// The Python of `venv` if it imports securesystemslib's DSSE and signer modules.
pub fn interop_python_in(venv: &Path) -> Result<PathBuf, String> {
    let py = venv.join("bin").join("python");
    let probe = Command::new(&py)
        .args([
            "-c",
            "import securesystemslib.dsse, securesystemslib.signer, cryptography",
        ])
        .output();
    match probe {
        Ok(o) if o.status.success() => Ok(py),
        Ok(o) => Err(format!(
            "{} cannot import securesystemslib: {}\nrun `bash scripts/setup.sh` (it installs \
             tests/interop/requirements.txt into that venv)",
            py.display(),
            String::from_utf8_lossy(&o.stderr)
        )),
        Err(e) => Err(format!(
            "no interop venv at {} ({e}): run `bash scripts/setup.sh`, which creates it with \
             securesystemslib (tests/interop/requirements.txt)",
            venv.display()
        )),
    }
}

/// `tests/interop/dsse_interop.py`.
pub fn interop_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("interop")
        .join("dsse_interop.py")
}

/// The secret OXIDE keeps in the keyring for `username` (e.g. `person:ana-1`), read with
/// `secret-tool` (libsecret), not with OXIDE: the 32-byte seed, decoded from the hex or
/// base64 text stored there.
pub fn keyring_seed(username: &str) -> Vec<u8> {
    let o = Command::new("secret-tool")
        .args(["lookup", "service", KEYRING_SERVICE, "username", username])
        .output()
        .expect("run secret-tool (apt package libsecret-tools)");
    assert!(
        o.status.success() && !o.stdout.is_empty(),
        "secret-tool found no keyring entry {KEYRING_SERVICE}/{username}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    decode_seed(&o.stdout).unwrap_or_else(|| {
        panic!("keyring entry {username} is not a 32-byte seed in hex or base64")
    })
}

/// Runs `dsse_interop.py MODE ARGS` (securesystemslib) with `stdin` as JSON; returns (exit
/// code, stdout lines parsed as JSON, stderr).
pub fn interop(mode: &str, args: &[&Path], stdin: Option<&Value>) -> (i32, Vec<Value>, String) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(interop_python())
        .arg(interop_script())
        .arg(mode)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dsse_interop.py");
    {
        let mut sin = child.stdin.take().unwrap();
        if let Some(v) = stdin {
            sin.write_all(v.to_string().as_bytes()).unwrap();
        }
    }
    let o = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let lines = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (
        o.status.code().unwrap_or(-1),
        lines,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// `statement` signed by securesystemslib with the ed25519 key whose seed is `seed`: a DSSE
/// envelope as OXIDE would store it (for attacks by someone holding a key).
pub fn sign_with_seed(seed: &[u8], statement: &Value) -> Value {
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    let (code, lines, err) = interop(
        "sign",
        &[],
        Some(&json!({"seed": hex, "statement": statement})),
    );
    assert_eq!(code, 0, "securesystemslib could not sign: {err}");
    lines.into_iter().next().expect("an envelope")
}

/// The in-toto statement inside an envelope's payload.
pub fn statement_of(envelope: &Value) -> Value {
    let env = match envelope {
        Value::String(s) => serde_json::from_str(s).expect("envelope JSON"),
        v => v.clone(),
    };
    let payload = base64::engine::general_purpose::STANDARD
        .decode(env["payload"].as_str().expect("payload"))
        .expect("base64 payload");
    serde_json::from_slice(&payload).expect("statement JSON")
}

/// Every OXIDE entry in the keyring (`secret-tool search --all service dev.oxide.review`):
/// (user name, 32-byte seed), e.g. `person:<id>`, `instance:<keyid>`, `device:<keyid>`.
/// Entries that are not a seed (the checkpoint witness note) are left out.
pub fn keyring_entries() -> Vec<(String, Vec<u8>)> {
    let o = Command::new("secret-tool")
        .args(["search", "--all", "--unlock", "service", KEYRING_SERVICE])
        .output()
        .expect("run secret-tool (apt package libsecret-tools)");
    // secret-tool prints the attributes on stderr, the secrets on stdout.
    let text =
        String::from_utf8_lossy(&o.stderr).into_owned() + &String::from_utf8_lossy(&o.stdout);
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("attribute.username = "))
        .map(|u| u.trim().to_string())
        .collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|u| {
            let o = Command::new("secret-tool")
                .args(["lookup", "service", KEYRING_SERVICE, "username", &u])
                .output()
                .ok()?;
            decode_seed(&o.stdout).map(|s| (u, s))
        })
        .collect()
}

/// A 32-byte seed from the keyring secret's text: hex, or standard/url-safe base64.
pub fn decode_seed(secret: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(secret).map(str::trim).unwrap_or("");
    let b64 = base64::engine::general_purpose::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let b64url = base64::engine::general_purpose::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let raw = secret.strip_suffix(b"\n").unwrap_or(secret);
    let candidates = [
        hex_decode(text),
        b64.decode(text).ok(),
        b64url.decode(text).ok(),
        Some(raw.to_vec()),
    ];
    candidates.into_iter().flatten().find(|b| b.len() == 32)
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// Every form in which a private seed could leak into text or bytes: raw, hex (lower and
/// upper), and base64 (standard and url-safe) at each of the three alignments it can have
/// inside a longer encoded blob (so a seed inside an encoded OpenSSH or PKCS#8 key is found
/// too). Each form is (label, bytes).
pub fn leak_forms(seed: &[u8]) -> Vec<(String, Vec<u8>)> {
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    let mut forms = vec![
        ("raw".to_string(), seed.to_vec()),
        ("hex".to_string(), hex.clone().into_bytes()),
        ("HEX".to_string(), hex.to_uppercase().into_bytes()),
    ];
    let engines = [
        ("base64", base64::engine::general_purpose::STANDARD),
        ("base64url", base64::engine::general_purpose::URL_SAFE),
    ];
    for (name, engine) in engines {
        // Alone (with and without padding): the whole encoding.
        let whole = engine.encode(seed);
        forms.push((name.to_string(), whole.clone().into_bytes()));
        forms.push((
            format!("{name} unpadded"),
            whole.trim_end_matches('=').as_bytes().to_vec(),
        ));
        // Inside a longer blob: the characters that depend only on the seed's bytes, for
        // each offset of the seed modulo 3.
        for pad in 0..3usize {
            let mut blob = vec![0u8; pad];
            blob.extend_from_slice(seed);
            let enc = engine.encode(&blob);
            let skip = (pad * 8).div_ceil(6); // characters touched by the padding bytes
            let full = (blob.len() / 3) * 4; // characters of complete groups
            let core = &enc[skip..full];
            forms.push((format!("{name} at offset {pad}"), core.as_bytes().to_vec()));
        }
    }
    forms
}

/// The labels of `forms` found in `hay`.
pub fn find_leaks(hay: &[u8], forms: &[(String, Vec<u8>)]) -> Vec<String> {
    forms
        .iter()
        .filter(|(_, f)| !f.is_empty() && hay.windows(f.len()).any(|w| w == f.as_slice()))
        .map(|(l, _)| l.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> Vec<u8> {
        (0u8..32)
            .map(|i| i.wrapping_mul(37).wrapping_add(11))
            .collect()
    }

    #[test]
    fn the_grep_finds_a_seed_in_every_form_and_inside_longer_blobs() {
        let s = seed();
        let forms = leak_forms(&s);
        let b64 = base64::engine::general_purpose::STANDARD;
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let hex: String = s.iter().map(|b| format!("{b:02x}")).collect();
        for prefix in 0..6usize {
            let mut blob = b"openssh-key-v1\0".to_vec();
            blob.extend(std::iter::repeat_n(7u8, prefix));
            blob.extend_from_slice(&s);
            blob.extend_from_slice(b"tail bytes");
            for (label, hay) in [
                ("raw blob", blob.clone()),
                ("base64 blob", b64.encode(&blob).into_bytes()),
                ("url-safe blob", url.encode(&blob).into_bytes()),
                ("hex", format!("log: seed={hex} end").into_bytes()),
                ("HEX", hex.to_uppercase().into_bytes()),
            ] {
                assert!(
                    !find_leaks(&hay, &forms).is_empty(),
                    "{label} with the seed at offset {prefix} was not found"
                );
            }
        }
        // And nothing is found where the seed is not.
        let other: Vec<u8> = s.iter().map(|b| b ^ 0x5a).collect();
        let hay = [other.clone(), b64.encode(&other).into_bytes()].concat();
        assert!(find_leaks(&hay, &forms).is_empty());
    }

    #[test]
    fn seeds_decode_from_hex_and_base64() {
        let s = seed();
        let hex: String = s.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(decode_seed(hex.as_bytes()), Some(s.clone()));
        assert_eq!(
            decode_seed(
                base64::engine::general_purpose::STANDARD
                    .encode(&s)
                    .as_bytes()
            ),
            Some(s.clone())
        );
        assert_eq!(
            decode_seed(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(&s)
                    .as_bytes()
            ),
            Some(s)
        );
        assert_eq!(decode_seed(b"short"), None);
    }
}
