use super::*;
use crate::signing::SecretKey;
use time::macros::datetime;

fn reg(text: &str) -> Registry {
    Registry::parse("test.toml", text).unwrap()
}

fn err(text: &str) -> String {
    let e = Registry::parse("test.toml", text).unwrap_err();
    assert_eq!(e.code(), "SIGNING_REGISTRY_INVALID", "{e}");
    assert_eq!(e.kind(), crate::ErrorKind::Invalid);
    e.to_string()
}

fn two_people(a: &SecretKey, a2: &SecretKey, b: &SecretKey) -> String {
    format!(
        r#"# comment kept
[[person]]
id = "alice"
name = "Alice Example"
roles = ["approver", "lead"]

[[person.keys]]
public = "{}"
valid_from = "2026-01-01T00:00:00Z"
valid_until = "2026-06-01T00:00:00Z"

[[person.keys]]
public = "{}"
valid_from = "2026-06-01T00:00:00Z"

[[person]]
id = "bob"
name = "Bob"
roles = ["maintainer"]
keys = [{{ public = "{}", valid_from = "2026-01-01T00:00:00Z", revoked_at = "2026-03-01T00:00:00Z", revoke_reason = "lost" }}]
"#,
        a.openssh_public("alice"),
        a2.openssh_public("alice-new"),
        b.openssh_public(""),
    )
}

#[test]
fn empty_and_default_texts_are_empty_registries() {
    assert!(reg("").persons.is_empty());
    assert!(reg(DEFAULT_REGISTRY).persons.is_empty());
    assert!(reg("person = []\n").persons.is_empty());
    assert_eq!(Registry::empty().allowed_signers().lines().count(), 1);
}

#[test]
fn lookup_gives_person_roles_and_standing_at_a_time() {
    let (a, a2, b) = (
        SecretKey::generate(),
        SecretKey::generate(),
        SecretKey::generate(),
    );
    let r = reg(&two_people(&a, &a2, &b));
    assert_eq!(r.persons.len(), 2);
    assert_eq!(r.roles_of("alice"), &[Role::Approver, Role::Lead]);
    assert_eq!(r.roles_of("bob"), &[Role::Maintainer]);
    assert!(r.roles_of("carol").is_empty());

    let s = r
        .lookup(a.keyid(), datetime!(2026-03-01 00:00 UTC))
        .unwrap();
    assert_eq!(s.person, "alice");
    assert_eq!(s.name, "Alice Example");
    assert_eq!(s.keyid, a.keyid());
    assert_eq!(s.verifying_key, a.verifying_key());
    assert_eq!(s.standing, Standing::Valid);
    // Boundaries: valid_from inclusive, valid_until exclusive.
    let at = |t| r.lookup(a.keyid(), t).unwrap().standing;
    assert_eq!(
        at(datetime!(2025-12-31 23:59:59 UTC)),
        Standing::NotYetValid
    );
    assert_eq!(at(datetime!(2026-01-01 00:00 UTC)), Standing::Valid);
    assert_eq!(at(datetime!(2026-06-01 00:00 UTC)), Standing::Expired);
    let at2 = |t| r.lookup(a2.keyid(), t).unwrap().standing;
    assert_eq!(at2(datetime!(2026-05-31 00:00 UTC)), Standing::NotYetValid);
    assert_eq!(at2(datetime!(2030-01-01 00:00 UTC)), Standing::Valid);
    // Revoked whatever the time, even before the revocation (issue times are claims).
    for t in [
        datetime!(2026-02-01 00:00 UTC),
        datetime!(2027-01-01 00:00 UTC),
    ] {
        assert_eq!(
            r.lookup(b.keyid(), t).unwrap().standing,
            Standing::Revoked {
                at: "2026-03-01T00:00:00Z".into()
            }
        );
    }
    assert!(r
        .lookup(
            SecretKey::generate().keyid(),
            datetime!(2026-03-01 00:00 UTC)
        )
        .is_none());
    // The keyid is the only lookup key: a public key's text is not.
    assert!(r
        .lookup(&a.openssh_public("alice"), datetime!(2026-03-01 00:00 UTC))
        .is_none());
    let bob = &r.person("bob").unwrap().keys[0];
    assert_eq!(bob.revoke_reason.as_deref(), Some("lost"));
    assert_eq!(bob.keyid, b.keyid());
}

#[test]
fn strict_parse_names_the_line_and_field() {
    let k = SecretKey::generate();
    let key = k.openssh_public("x");
    let person = |extra: &str, keyline: &str| {
        format!("[[person]]\nid = \"alice\"\nname = \"A\"\nroles = [\"approver\"]\n{extra}\n[[person.keys]]\n{keyline}\n")
    };
    let good_key = format!("public = \"{key}\"\nvalid_from = \"2026-01-01T00:00:00Z\"");
    reg(&person("", &good_key));

    let e = err(&person("email = \"a@x\"", &good_key));
    assert!(e.contains("line 5") && e.contains("email"), "{e}");
    let e = err(&format!("{}\nextra = 1\n", person("", &good_key)));
    assert!(e.contains("extra"), "{e}");
    let e = err(&person("", &format!("{good_key}\nsigner = true")));
    assert!(e.contains("signer") && e.contains("line 9"), "{e}");
    let e = err("[[person]]\nid = \"alice\"\nname = \"A\"\nroles = [\"approver\", \"boss\"]\n");
    assert!(
        e.contains("line 4") && e.contains("roles") && e.contains("boss"),
        "{e}"
    );
    let e = err("[[person]]\nid = \"alice\"\nname = \"A\"\nroles = [\"lead\", \"lead\"]\n");
    assert!(e.contains("twice"), "{e}");
    let e = err("[[person]]\nid = \"al ice\"\nname = \"A\"\nroles = []\n");
    assert!(e.contains("line 2") && e.contains("id"), "{e}");
    let e = err("[[person]]\nid = \"alice\"\nname = \"  \"\nroles = []\n");
    assert!(e.contains("line 3") && e.contains("name"), "{e}");
    let e = err("[[person]]\nid = \"alice\"\nname = \"A\"\n");
    assert!(e.contains("roles"), "missing roles: {e}");
    let e = err(&format!(
        "{}[[person]]\nid = \"alice\"\nname = \"B\"\nroles = []\n",
        person("", &good_key)
    ));
    assert!(e.contains("line 10") && e.contains("twice"), "{e}");
    let e = err(&person(
        "",
        "public = \"ssh-ed25519 AAAAnotakey\"\nvalid_from = \"2026-01-01T00:00:00Z\"",
    ));
    assert!(e.contains("line 7") && e.contains("keys.public"), "{e}");
    let e = err(&person(
        "",
        &format!("public = \"{key}\"\nvalid_from = \"yesterday\""),
    ));
    assert!(
        e.contains("line 8") && e.contains("valid_from") && e.contains("RFC 3339"),
        "{e}"
    );
    let e = err(&person(
        "",
        &format!("public = \"{key}\"\nvalid_from = 2026-01-01T00:00:00Z"),
    ));
    assert!(e.contains("line 8"), "a TOML datetime is not a string: {e}");
    let e = err(&person(
        "",
        &format!("{good_key}\nvalid_until = \"2025-01-01T00:00:00Z\""),
    ));
    assert!(e.contains("valid_until") && e.contains("later"), "{e}");
    let e = err(&person("", &format!("{good_key}\nrevoke_reason = \"x\"")));
    assert!(e.contains("revoked_at"), "{e}");
    let e = err(&person("", &format!("public = \"{key}\"")));
    assert!(e.contains("valid_from"), "{e}");
    // The same key twice, for another person.
    let e = err(&format!(
        "{}[[person]]\nid = \"bob\"\nname = \"B\"\nroles = []\n[[person.keys]]\n{good_key}\n",
        person("", &good_key)
    ));
    assert!(
        e.contains("line 14") && e.contains("already registered") && e.contains("alice"),
        "{e}"
    );
    let e = err("[[person]\n");
    assert!(e.contains("line 1"), "{e}");
}

#[test]
fn allowed_signers_lines_are_in_gits_format() {
    let (a, a2, b) = (
        SecretKey::generate(),
        SecretKey::generate(),
        SecretKey::generate(),
    );
    let r = reg(&two_people(&a, &a2, &b));
    let text = r.allowed_signers();
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        lines,
        vec![
            format!(
                "alice namespaces=\"git\",valid-after=\"20260101000000Z\",valid-before=\"20260601000000Z\" {}",
                openssh_public(&a.verifying_key(), "")
            ),
            format!(
                "alice namespaces=\"git\",valid-after=\"20260601000000Z\" {}",
                openssh_public(&a2.verifying_key(), "")
            ),
        ]
    );
    assert!(text.contains(&format!(
        "# revoked at 2026-03-01T00:00:00Z: bob {}",
        b.keyid()
    )));
    assert!(!text.contains(&openssh_public(&b.verifying_key(), "")[12..]));
}

/// Runs `ssh-keygen -Y verify` on an SSHSIG of `msg` by `key` against `allowed`.
fn ssh_keygen_verify(
    dir: &Path,
    allowed: &str,
    principal: &str,
    key: &SecretKey,
    msg: &[u8],
    time: Option<&str>,
) -> bool {
    let sig = key
        .to_ssh_private()
        .sign("git", ssh_key::HashAlg::Sha512, msg)
        .unwrap()
        .to_pem(ssh_key::LineEnding::LF)
        .unwrap();
    fs::write(dir.join("allowed"), allowed).unwrap();
    fs::write(dir.join("msg.sig"), sig).unwrap();
    let mut cmd = std::process::Command::new("ssh-keygen");
    cmd.args(["-Y", "verify", "-n", "git", "-I", principal, "-f"])
        .arg(dir.join("allowed"))
        .arg("-s")
        .arg(dir.join("msg.sig"));
    if let Some(t) = time {
        cmd.arg("-O").arg(format!("verify-time={t}"));
    }
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ssh-keygen (openssh-client) is installed");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(msg).unwrap();
    child.wait_with_output().unwrap().status.success()
}

#[test]
fn ssh_keygen_accepts_the_allowed_signers_with_their_validity() {
    let dir = tempfile::tempdir().unwrap();
    let (a, a2, b) = (
        SecretKey::generate(),
        SecretKey::generate(),
        SecretKey::generate(),
    );
    let allowed = reg(&two_people(&a, &a2, &b)).allowed_signers();
    let msg = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n";
    // The current key now; the old key inside its window; not outside it.
    assert!(ssh_keygen_verify(
        dir.path(),
        &allowed,
        "alice",
        &a2,
        msg,
        None
    ));
    assert!(ssh_keygen_verify(
        dir.path(),
        &allowed,
        "alice",
        &a,
        msg,
        Some("20260301000000Z")
    ));
    assert!(!ssh_keygen_verify(
        dir.path(),
        &allowed,
        "alice",
        &a,
        msg,
        None
    ));
    assert!(!ssh_keygen_verify(
        dir.path(),
        &allowed,
        "alice",
        &a2,
        msg,
        Some("20260301000000Z")
    ));
    // Another principal, a revoked key, an unregistered key: refused.
    assert!(!ssh_keygen_verify(
        dir.path(),
        &allowed,
        "bob",
        &a2,
        msg,
        None
    ));
    assert!(!ssh_keygen_verify(
        dir.path(),
        &allowed,
        "bob",
        &b,
        msg,
        Some("20260201000000Z")
    ));
    assert!(!ssh_keygen_verify(
        dir.path(),
        &allowed,
        "alice",
        &SecretKey::generate(),
        msg,
        None
    ));
}

fn repo_with(text: Option<&str>) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    if let Some(t) = text {
        fs::create_dir_all(d.path().join(".oxide")).unwrap();
        fs::write(d.path().join(REGISTRY_PATH), t).unwrap();
    }
    d
}

#[test]
fn draft_add_keeps_comments_merges_and_round_trips() {
    let d = repo_with(Some(DEFAULT_REGISTRY));
    let now = datetime!(2026-11-30 16:00 UTC);
    let a = SecretKey::generate();
    let mut draft = Draft::open(d.path()).unwrap();
    let ch = draft
        .add(
            "alice",
            "Alice Example",
            &[Role::Approver],
            &a.openssh_public("laptop"),
            now,
        )
        .unwrap();
    assert!(ch.changed);
    assert_eq!(ch.person.as_deref(), Some("alice"));
    draft.save().unwrap();
    let text = fs::read_to_string(d.path().join(REGISTRY_PATH)).unwrap();
    assert!(
        text.starts_with("# The trust registry"),
        "comments kept:\n{text}"
    );
    assert!(
        text.contains("[[person]]") && text.contains("[[person.keys]]"),
        "{text}"
    );
    let r = reg(&text);
    let p = r.person("alice").unwrap();
    assert_eq!(p.roles, vec![Role::Approver]);
    assert_eq!(p.keys[0].keyid, a.keyid());
    assert_eq!(p.keys[0].valid_from, "2026-11-30T16:00:00Z");
    assert_eq!(
        p.keys[0].public,
        a.openssh_public("alice"),
        "normalised, comment = id"
    );

    // Again with a new role: merged; the same again: unchanged.
    let mut draft = Draft::open(d.path()).unwrap();
    let ch = draft
        .add(
            "alice",
            "Alice Example",
            &[Role::Lead],
            &a.openssh_public(""),
            now,
        )
        .unwrap();
    assert!(
        ch.changed && ch.notes.iter().any(|n| n.contains("role lead")),
        "{ch:?}"
    );
    draft.save().unwrap();
    let mut draft = Draft::open(d.path()).unwrap();
    let ch = draft
        .add(
            "alice",
            "Alice Example",
            &[Role::Lead],
            &a.openssh_public(""),
            now,
        )
        .unwrap();
    assert!(!ch.changed, "{ch:?}");
    assert_eq!(
        reg(&fs::read_to_string(d.path().join(REGISTRY_PATH)).unwrap()).roles_of("alice"),
        &[Role::Approver, Role::Lead]
    );

    // Alice's key for bob: refused, nothing changed.
    let before = fs::read_to_string(d.path().join(REGISTRY_PATH)).unwrap();
    let mut draft = Draft::open(d.path()).unwrap();
    let e = draft
        .add("bob", "Bob", &[Role::Approver], &a.openssh_public(""), now)
        .unwrap_err();
    assert_eq!(e.code(), "SIGNING_REGISTRY_EDIT");
    assert!(e.to_string().contains("alice"));
    let e = draft
        .add("bob", "Bob", &[Role::Approver], "ssh-rsa AAAA", now)
        .unwrap_err();
    assert_eq!(e.code(), "SIGNING_BAD_PUBLIC_KEY");
    let e = draft
        .add(
            "bob",
            "Bob",
            &[],
            &SecretKey::generate().openssh_public(""),
            now,
        )
        .unwrap_err();
    assert_eq!(e.code(), "SIGNING_REGISTRY_EDIT");
    assert_eq!(
        fs::read_to_string(d.path().join(REGISTRY_PATH)).unwrap(),
        before
    );
}

#[test]
fn draft_of_an_absent_file_starts_from_the_default_text() {
    let d = repo_with(None);
    let mut draft = Draft::open(d.path()).unwrap();
    assert!(draft.registry().unwrap().persons.is_empty());
    let k = SecretKey::generate();
    draft
        .add(
            "carol",
            "Carol",
            &[Role::Maintainer],
            &k.openssh_public(""),
            datetime!(2026-11-30 16:00 UTC),
        )
        .unwrap();
    draft.save().unwrap();
    let r = reg(&fs::read_to_string(d.path().join(REGISTRY_PATH)).unwrap());
    assert_eq!(r.roles_of("carol"), &[Role::Maintainer]);
}

#[test]
fn draft_rotate_and_revoke_edit_tables_and_inline_keys() {
    let (a, a2, b) = (
        SecretKey::generate(),
        SecretKey::generate(),
        SecretKey::generate(),
    );
    // Bob's key (inline array) not revoked yet.
    let text = two_people(&a, &a2, &b).replace(
        ", revoked_at = \"2026-03-01T00:00:00Z\", revoke_reason = \"lost\"",
        "",
    );
    let d = repo_with(Some(&text));
    let now = datetime!(2026-11-30 16:00 UTC);
    let a3 = SecretKey::generate();
    let mut draft = Draft::open(d.path()).unwrap();
    let ch = draft
        .rotate("alice", a2.keyid(), &a3.openssh_public(""), now)
        .unwrap();
    assert!(ch.changed, "{ch:?}");
    let ch = draft.revoke(b.keyid(), "laptop stolen", now).unwrap();
    assert_eq!(ch.person.as_deref(), Some("bob"));
    let e = draft.revoke(b.keyid(), "again", now).unwrap_err();
    assert_eq!(e.code(), "SIGNING_ALREADY_REVOKED");
    let ch = draft
        .revoke(SecretKey::generate().keyid(), "who?", now)
        .unwrap();
    assert!(!ch.changed);
    assert_eq!(
        draft.revoke(b.keyid(), "  ", now).unwrap_err().code(),
        "SIGNING_REASON_REQUIRED"
    );
    draft.save().unwrap();

    let saved = fs::read_to_string(d.path().join(REGISTRY_PATH)).unwrap();
    assert!(saved.starts_with("# comment kept"));
    let r = reg(&saved);
    let alice = r.person("alice").unwrap();
    assert_eq!(alice.keys.len(), 3);
    assert_eq!(
        alice.keys[1].valid_until.as_deref(),
        Some("2026-11-30T16:00:00Z")
    );
    assert_eq!(alice.keys[2].keyid, a3.keyid());
    assert_eq!(
        r.lookup(a2.keyid(), now).unwrap().standing,
        Standing::Expired
    );
    assert_eq!(r.lookup(a3.keyid(), now).unwrap().standing, Standing::Valid);
    assert_eq!(
        r.lookup(b.keyid(), now).unwrap().standing,
        Standing::Revoked {
            at: "2026-11-30T16:00:00Z".into()
        }
    );
    assert_eq!(
        r.person("bob").unwrap().keys[0].revoke_reason.as_deref(),
        Some("laptop stolen")
    );

    // Rotating someone not in the draft changes nothing.
    let mut draft = Draft::open(d.path()).unwrap();
    let ch = draft
        .rotate(
            "zed",
            a3.keyid(),
            &SecretKey::generate().openssh_public(""),
            now,
        )
        .unwrap();
    assert!(!ch.changed);
    assert_eq!(draft.text(), saved);
}

#[test]
fn a_malformed_draft_is_refused_before_any_edit() {
    let d = repo_with(Some(
        "[[person]]\nid = \"x\"\nname = \"X\"\nroles = [\"king\"]\n",
    ));
    let e = Draft::open(d.path()).unwrap_err();
    assert_eq!(e.code(), "SIGNING_REGISTRY_INVALID");
    assert!(e.to_string().contains("working tree") && e.to_string().contains("king"));
    assert_eq!(
        fs::read_to_string(d.path().join(REGISTRY_PATH)).unwrap(),
        "[[person]]\nid = \"x\"\nname = \"X\"\nroles = [\"king\"]\n"
    );
}

#[test]
fn roles_parse_and_print() {
    for r in Role::ALL {
        assert_eq!(Role::parse(r.as_str()).unwrap(), r);
        assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
    }
    assert_eq!(Role::parse("Lead").unwrap_err().code(), "SIGNING_BAD_ROLE");
}
