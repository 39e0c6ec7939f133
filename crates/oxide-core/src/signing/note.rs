//! C2SP signed notes carrying tlog checkpoints (c2sp.org/signed-note, c2sp.org/tlog-checkpoint),
//! pure: building the note text, signature lines, parsing and verifying against keys the caller
//! trusts. No database, no keyring.
//!
//! ```text
//! oxide-review/<keyid>          origin (the signing key's name)
//! 42                            tree size = the audit event seq signed
//! 3q2+7w==...                   root hash = base64 of the 32 bytes of event 42's hash
//!
//! — oxide-review/<keyid> base64(4-byte key hash || 64-byte ed25519 signature)
//! ```
//!
//! Key hash (signed-note, ed25519): `SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]`.
//! Unlike a Merkle-tree log, the root "hash" here is the hash-chain head: event `seq`'s `hash`
//! commits to every earlier event through its `prev` links (see docs/audit.md).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest as _, Sha256};

/// The prefix of every OXIDE checkpoint origin and key name.
pub const NAME_PREFIX: &str = "oxide-review/";
/// signed-note signature type byte for ed25519.
const SIG_TYPE_ED25519: u8 = 0x01;
/// The most signature lines a note may carry (the spec asks verifiers to accept at least 16).
const MAX_SIGNATURES: usize = 16;
/// The largest note accepted, in bytes.
const MAX_NOTE_BYTES: usize = 16 * 1024;

/// The key name (and checkpoint origin) for a key: `oxide-review/<keyid>`.
pub fn key_name(keyid: &str) -> String {
    format!("{NAME_PREFIX}{keyid}")
}

/// The keyid a key name claims (`oxide-review/<64 hex>`), if it has that form. A claim only:
/// the caller looks the key up and verifies.
pub fn keyid_of_name(name: &str) -> Option<&str> {
    let id = name.strip_prefix(NAME_PREFIX)?;
    (id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some(id)
}

/// The signed-note key hash of an ed25519 key under `name`.
pub fn key_hash(name: &str, vk: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', SIG_TYPE_ED25519]);
    h.update(vk.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// The checkpoint body: origin, size, base64 root hash, each ending in a newline.
/// `root_hash` is an audit hash, `sha256:<64 hex>`.
pub fn checkpoint_text(origin: &str, size: i64, root_hash: &str) -> Result<String, String> {
    if origin.is_empty() || origin.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(format!("origin '{origin}' is empty or has spaces or '+'"));
    }
    if size < 0 {
        return Err(format!("tree size {size} is negative"));
    }
    let raw = root_bytes(root_hash)?;
    Ok(format!("{origin}\n{size}\n{}\n", B64.encode(raw)))
}

fn root_bytes(root_hash: &str) -> Result<[u8; 32], String> {
    let hex_part = root_hash
        .strip_prefix("sha256:")
        .ok_or_else(|| format!("root hash '{root_hash}' is not sha256:<hex>"))?;
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut out)
        .map_err(|_| format!("root hash '{root_hash}' is not sha256:<64 hex>"))?;
    Ok(out)
}

/// One signature line: `— <name> base64(key hash || signature)\n`.
pub fn signature_line(name: &str, vk: &VerifyingKey, sig: &Signature) -> String {
    let mut bytes = Vec::with_capacity(68);
    bytes.extend_from_slice(&key_hash(name, vk));
    bytes.extend_from_slice(&sig.to_bytes());
    format!("\u{2014} {name} {}\n", B64.encode(bytes))
}

/// The whole note: text, blank line, signature lines.
pub fn assemble(text: &str, lines: &[String]) -> String {
    let mut s =
        String::with_capacity(text.len() + 1 + lines.iter().map(String::len).sum::<usize>());
    s.push_str(text);
    s.push('\n');
    for l in lines {
        s.push_str(l);
    }
    s
}

/// One parsed signature line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_hash: [u8; 4],
    pub sig: Vec<u8>,
}

/// A parsed checkpoint note (not yet verified: its text MUST be ignored until it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, with its final newline.
    pub text: String,
    pub origin: String,
    pub size: i64,
    /// The root as an audit hash, `sha256:<hex>`.
    pub root_hash: String,
    pub signatures: Vec<NoteSignature>,
}

/// Parses a signed note whose text is a tlog checkpoint. Errors say what is malformed.
pub fn parse(note: &str) -> Result<Note, String> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(format!(
            "the note is {} bytes, more than {MAX_NOTE_BYTES}",
            note.len()
        ));
    }
    if note.chars().any(|c| c.is_control() && c != '\n') {
        return Err("the note contains control characters".into());
    }
    if !note.ends_with('\n') {
        return Err("the note does not end with a newline".into());
    }
    // The text is separated from the signatures by the LAST blank line.
    let split = note
        .rfind("\n\n")
        .ok_or("the note has no blank line before its signatures")?;
    let text = &note[..split + 1];
    let sigs = &note[split + 2..];
    let mut signatures = Vec::new();
    for line in sigs.lines() {
        let rest = line.strip_prefix("\u{2014} ").ok_or_else(|| {
            format!("signature line '{line}' does not start with an em dash and a space")
        })?;
        let (name, b64) = rest.split_once(' ').ok_or_else(|| {
            format!("signature line '{line}' has no signature after the key name")
        })?;
        if name.is_empty() || name.contains('+') {
            return Err(format!("signature line '{line}' has a bad key name"));
        }
        let raw = B64
            .decode(b64)
            .map_err(|_| format!("signature of '{name}' is not base64"))?;
        if raw.len() < 5 {
            return Err(format!("signature of '{name}' is too short"));
        }
        signatures.push(NoteSignature {
            name: name.to_string(),
            key_hash: [raw[0], raw[1], raw[2], raw[3]],
            sig: raw[4..].to_vec(),
        });
        if signatures.len() > MAX_SIGNATURES {
            return Err(format!(
                "the note has more than {MAX_SIGNATURES} signatures"
            ));
        }
    }
    if signatures.is_empty() {
        return Err("the note has no signature lines".into());
    }
    let mut lines = text.strip_suffix('\n').unwrap_or(text).split('\n');
    let origin = lines.next().unwrap_or_default();
    let size = lines.next().ok_or("the checkpoint has no size line")?;
    let root = lines.next().ok_or("the checkpoint has no root hash line")?;
    if origin.is_empty() {
        return Err("the checkpoint's origin is empty".into());
    }
    if lines.any(str::is_empty) {
        return Err("the checkpoint has an empty extension line".into());
    }
    let size_ok = !size.is_empty()
        && size.bytes().all(|b| b.is_ascii_digit())
        && (size == "0" || !size.starts_with('0'));
    let size: i64 = size
        .parse()
        .ok()
        .filter(|_| size_ok)
        .ok_or_else(|| format!("the checkpoint's size '{size}' is not a decimal number"))?;
    let root_raw = B64
        .decode(root)
        .ok()
        .filter(|r| r.len() == 32)
        .ok_or_else(|| format!("the checkpoint's root hash '{root}' is not base64 of 32 bytes"))?;
    Ok(Note {
        text: text.to_string(),
        origin: origin.to_string(),
        size,
        root_hash: format!("sha256:{}", hex::encode(root_raw)),
        signatures,
    })
}

/// Verifies a parsed note per signed-note: a signature line is from a known key when
/// `trusted(name)` gives a key whose key hash matches the line's; every known key's signature
/// must verify (`verify_strict`), and at least one must. Unknown lines are ignored. Returns the
/// names of the keys whose signatures verified.
pub fn verify(
    note: &Note,
    trusted: impl Fn(&str) -> Option<VerifyingKey>,
) -> Result<Vec<String>, String> {
    let mut good = Vec::new();
    for s in &note.signatures {
        let Some(vk) = trusted(&s.name) else {
            continue;
        };
        if key_hash(&s.name, &vk) != s.key_hash {
            continue;
        }
        let sig = Signature::from_slice(&s.sig)
            .map_err(|_| format!("the signature of {} is not 64 bytes", s.name))?;
        vk.verify_strict(note.text.as_bytes(), &sig)
            .map_err(|_| format!("the signature of {} does not verify", s.name))?;
        good.push(s.name.clone());
    }
    if good.is_empty() {
        let names: Vec<_> = note.signatures.iter().map(|s| s.name.as_str()).collect();
        return Err(format!(
            "no signature from a trusted key (signed by: {})",
            names.join(", ")
        ));
    }
    Ok(good)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn keyid(vk: &VerifyingKey) -> String {
        hex::encode(Sha256::digest(vk.as_bytes()))
    }

    const ROOT: &str = "sha256:0a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223242526272829";

    fn signed(sk: &SigningKey, size: i64, root: &str) -> (String, String) {
        let name = key_name(&keyid(&sk.verifying_key()));
        let text = checkpoint_text(&name, size, root).unwrap();
        let sig = sk.sign(text.as_bytes());
        let note = assemble(&text, &[signature_line(&name, &sk.verifying_key(), &sig)]);
        (name, note)
    }

    #[test]
    fn key_hash_follows_the_signed_note_recipe() {
        // sha256("a\n" || 0x01 || 32 zero... ) computed independently of key_hash's code path.
        let vk = key(7).verifying_key();
        let mut buf = b"example.com/k".to_vec();
        buf.push(0x0a);
        buf.push(0x01);
        buf.extend_from_slice(vk.as_bytes());
        let d = Sha256::digest(&buf);
        assert_eq!(key_hash("example.com/k", &vk), [d[0], d[1], d[2], d[3]]);
    }

    #[test]
    fn golang_note_vector_is_reproduced_and_verifies() {
        // The example of golang.org/x/mod/sumdb/note (a C2SP signed-note implementation):
        // signer PRIVATE+KEY+PeterNeumann+c74f20a3+AYEK..., verifier PeterNeumann+c74f20a3+ARpc...
        // Ed25519 is deterministic, so our signature line must equal the published one.
        let seed = B64
            .decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")
            .unwrap();
        let vk_raw = B64
            .decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
            .unwrap();
        assert_eq!((seed[0], vk_raw[0]), (0x01, 0x01));
        let sk = SigningKey::from_bytes(seed[1..].try_into().unwrap());
        let vk = VerifyingKey::from_bytes(vk_raw[1..].try_into().unwrap()).unwrap();
        assert_eq!(sk.verifying_key(), vk);
        assert_eq!(key_hash("PeterNeumann", &vk), [0xc7, 0x4f, 0x20, 0xa3]);
        let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
        let want = format!("{text}\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n");
        let line = signature_line("PeterNeumann", &vk, &sk.sign(text.as_bytes()));
        assert_eq!(assemble(text, &[line]), want);
        // Not a checkpoint (no size/root), so check the signature with the generic pieces.
        let sigs = want.rsplit_once("\n\n").unwrap().1;
        let raw = B64
            .decode(sigs.trim_end().rsplit_once(' ').unwrap().1)
            .unwrap();
        let sig = Signature::from_slice(&raw[4..]).unwrap();
        vk.verify_strict(text.as_bytes(), &sig).unwrap();
    }

    #[test]
    fn round_trip_and_verify() {
        let sk = key(1);
        let (name, note) = signed(&sk, 42, ROOT);
        let n = parse(&note).unwrap();
        assert_eq!(n.origin, name);
        assert_eq!(n.size, 42);
        assert_eq!(n.root_hash, ROOT);
        assert_eq!(n.text.lines().count(), 3);
        let vk = sk.verifying_key();
        let ok = verify(&n, |nm| (nm == name).then_some(vk)).unwrap();
        assert_eq!(ok, vec![name.clone()]);
        assert_eq!(keyid_of_name(&name), Some(keyid(&vk).as_str()));
    }

    #[test]
    fn another_key_is_refused() {
        let (name, note) = signed(&key(2), 5, ROOT);
        let n = parse(&note).unwrap();
        // Trusted key under the same name, but a different key: hash differs -> unknown -> none.
        let other = key(3).verifying_key();
        let err = verify(&n, |nm| (nm == name).then_some(other)).unwrap_err();
        assert!(err.contains("no signature from a trusted key"), "{err}");
        let err = verify(&n, |_| None).unwrap_err();
        assert!(err.contains("no signature from a trusted key"), "{err}");
    }

    #[test]
    fn an_edited_text_fails_verification() {
        let sk = key(4);
        let (name, note) = signed(&sk, 9, ROOT);
        let vk = sk.verifying_key();
        for (from, to) in [("\n9\n", "\n8\n"), ("CgsM", "CgsN")] {
            let bad = note.replacen(from, to, 1);
            assert_ne!(bad, note);
            let n = parse(&bad).unwrap();
            let err = verify(&n, |nm| (nm == name).then_some(vk)).unwrap_err();
            assert!(err.contains("does not verify"), "{err}");
        }
        // A flipped signature byte.
        let n = parse(&note).unwrap();
        let mut n2 = n.clone();
        n2.signatures[0].sig[10] ^= 1;
        assert!(verify(&n2, |nm| (nm == name).then_some(vk)).is_err());
    }

    #[test]
    fn malformed_notes_are_named() {
        let (_, note) = signed(&key(5), 1, ROOT);
        let cases = [
            (note.replace("\n\n", "\n"), "blank line"),
            (note.trim_end().to_string(), "newline"),
            (note.replacen("\u{2014}", "-", 1), "em dash"),
            (note.replacen("\n1\n", "\n01\n", 1), "size"),
            (note.replacen("\n1\n", "\n-1\n", 1), "size"),
            (
                format!("{}\n", &note[..note.find("\n\n").unwrap()]),
                "blank line",
            ),
            (note.replacen("\n1\n", "\n1\x07\n", 1), "control"),
        ];
        for (bad, want) in cases {
            let err = parse(&bad).unwrap_err();
            assert!(err.contains(want), "{want}: {err}");
        }
        assert!(checkpoint_text("a b", 1, ROOT).is_err());
        assert!(checkpoint_text("x", 1, "sha256:zz").is_err());
        assert_eq!(keyid_of_name("oxide-review/ABC"), None);
    }
}
