//! SSH signatures (OpenSSH's SSHSIG format, `PROTOCOL.sshsig`) as git makes and checks them
//! for signed commits: namespace `git`, hash `sha512`, armored as
//! `-----BEGIN SSH SIGNATURE-----`. Made with the `ssh-key` crate from a person's keyring key
//! ([`SecretKey::to_ssh_private`]); `git verify-commit` and `ssh-keygen -Y verify` accept them
//! with the `allowed_signers` of `oxide keys export-allowed-signers`.
//!
//! [`verify`] checks the signature cryptographically and returns the signer's keyid; who that
//! is (and whether the key is valid) is the registry's word, never the signature's.

use ed25519_dalek::VerifyingKey;
use ssh_key::{HashAlg, LineEnding, SshSig};

use super::keys::{keyid, SecretKey};
use super::SigningError;

/// The namespace git signs commits and tags in.
pub const GIT_NAMESPACE: &str = "git";

/// The armor's first line.
pub const ARMOR_BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";

fn bad(why: impl Into<String>) -> SigningError {
    SigningError::SshSig { why: why.into() }
}

/// An armored SSHSIG signature (sha512) of `msg` in `namespace` by `key`, with LF line ends
/// and a final newline (what git writes into a commit's `gpgsig` header).
pub fn sign(key: &SecretKey, namespace: &str, msg: &[u8]) -> Result<String, SigningError> {
    let private = key.to_ssh_private();
    let sig = private
        .sign(namespace, HashAlg::Sha512, msg)
        .map_err(|e| bad(format!("signing failed: {e}")))?;
    let mut pem = sig
        .to_pem(LineEnding::LF)
        .map_err(|e| bad(format!("cannot armor the signature: {e}")))?;
    if !pem.ends_with('\n') {
        pem.push('\n');
    }
    Ok(pem)
}

/// Who made a signature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub keyid: String,
    pub verifying_key: VerifyingKey,
}

/// Checks an armored SSHSIG signature over `msg`: well formed, namespace `namespace`, hash
/// sha512, an ed25519 key, and the signature valid for that key. Returns the key (look it up
/// in the registry before trusting who it is).
pub fn verify(armored: &str, namespace: &str, msg: &[u8]) -> Result<Verified, SigningError> {
    let sig = SshSig::from_pem(armored.trim().as_bytes())
        .map_err(|e| bad(format!("not an armored SSH signature: {e}")))?;
    if sig.namespace() != namespace {
        return Err(bad(format!(
            "the signature is for namespace '{}', not '{namespace}'",
            sig.namespace()
        )));
    }
    if sig.hash_alg() != HashAlg::Sha512 {
        return Err(bad(format!(
            "the signature hashes with {}, not sha512",
            sig.hash_alg()
        )));
    }
    let Some(ed) = sig.public_key().ed25519() else {
        return Err(bad(format!(
            "the signing key is {}, not ed25519",
            sig.public_key().algorithm()
        )));
    };
    let vk = VerifyingKey::from_bytes(&ed.0)
        .map_err(|_| bad("the signing key is not a valid ed25519 point"))?;
    let public = ssh_key::PublicKey::from(sig.public_key().clone());
    public
        .verify(namespace, msg, &sig)
        .map_err(|e| bad(format!("the signature does not verify: {e}")))?;
    Ok(Verified {
        keyid: keyid(&vk),
        verifying_key: vk,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn key() -> SecretKey {
        SecretKey::from_seed(&[7u8; 32])
    }

    #[test]
    fn a_signature_verifies_and_names_its_key() {
        let k = key();
        let s = sign(&k, GIT_NAMESPACE, b"tree abc\n").unwrap();
        assert!(s.starts_with(ARMOR_BEGIN), "{s}");
        assert!(s.ends_with("-----END SSH SIGNATURE-----\n"), "{s}");
        let v = verify(&s, GIT_NAMESPACE, b"tree abc\n").unwrap();
        assert_eq!(v.keyid, k.keyid());
    }

    #[test]
    fn another_message_namespace_or_a_flipped_byte_is_refused() {
        let k = key();
        let s = sign(&k, GIT_NAMESPACE, b"msg").unwrap();
        assert!(verify(&s, GIT_NAMESPACE, b"msg2").is_err());
        assert!(verify(&s, "file", b"msg").is_err());
        let s2 = sign(&k, "file", b"msg").unwrap();
        let e = verify(&s2, GIT_NAMESPACE, b"msg").unwrap_err();
        assert_eq!(e.code(), "SIGNING_SSHSIG");
        // A character of the base64 body changed.
        let lines: Vec<&str> = s.lines().collect();
        let mid = lines[2];
        let swapped: String = mid
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i == 5 {
                    if c == 'A' {
                        'B'
                    } else {
                        'A'
                    }
                } else {
                    c
                }
            })
            .collect();
        let forged = s.replacen(mid, &swapped, 1);
        assert!(verify(&forged, GIT_NAMESPACE, b"msg").is_err());
        assert!(verify("not a signature", GIT_NAMESPACE, b"msg").is_err());
    }

    /// The real OpenSSH tool accepts the signature with an allowed_signers line for the key.
    #[test]
    fn ssh_keygen_verifies_it() {
        let Ok(o) = Command::new("ssh-keygen").arg("-?").output() else {
            panic!("ssh-keygen is not installed (apt package openssh-client); this test needs it");
        };
        drop(o);
        let k = key();
        let msg = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nhello\n";
        let s = sign(&k, GIT_NAMESPACE, msg).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let signers = dir.path().join("allowed_signers");
        std::fs::write(
            &signers,
            format!("ana namespaces=\"git\" {}\n", k.openssh_public("ana")),
        )
        .unwrap();
        let sigf = dir.path().join("msg.sig");
        std::fs::write(&sigf, &s).unwrap();
        let run = |m: &[u8]| {
            use std::io::Write;
            let mut child = Command::new("ssh-keygen")
                .args(["-Y", "verify", "-n", "git", "-I", "ana", "-f"])
                .arg(&signers)
                .arg("-s")
                .arg(&sigf)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(m).unwrap();
            child.wait_with_output().unwrap()
        };
        let ok = run(msg);
        assert!(
            ok.status.success(),
            "ssh-keygen refused: {}{}",
            String::from_utf8_lossy(&ok.stdout),
            String::from_utf8_lossy(&ok.stderr)
        );
        assert!(String::from_utf8_lossy(&ok.stdout).contains("Good \"git\" signature for ana"));
        assert!(!run(b"another message").status.success());
    }

    /// git itself accepts a commit whose `gpgsig` header holds our signature of its content.
    #[test]
    fn git_verify_commit_accepts_a_commit_signed_with_it() {
        let d = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(d.path()).unwrap();
        let tree = repo.treebuilder(None).unwrap().write().unwrap();
        let tree = repo.find_tree(tree).unwrap();
        let who = git2::Signature::new(
            "Ana",
            "ana@oxide.invalid",
            &git2::Time::new(1_700_000_000, 0),
        )
        .unwrap();
        let content = repo
            .commit_create_buffer(&who, &who, "signed\n", &tree, &[])
            .unwrap();
        let content = content.as_str().unwrap().to_string();
        let k = key();
        let sig = sign(&k, GIT_NAMESPACE, content.as_bytes()).unwrap();
        let oid = repo
            .commit_signed(&content, sig.trim_end_matches('\n'), None)
            .unwrap();
        let signers = d.path().join("allowed_signers");
        std::fs::write(
            &signers,
            format!("ana namespaces=\"git\" {}\n", k.openssh_public("ana")),
        )
        .unwrap();
        let verify = |signers: &std::path::Path| {
            Command::new("git")
                .current_dir(d.path())
                .arg("-c")
                .arg(format!("gpg.ssh.allowedSignersFile={}", signers.display()))
                .args(["verify-commit", &oid.to_string()])
                .output()
                .expect("git is installed")
        };
        let o = verify(&signers);
        let text = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "git verify-commit refused: {text}");
        assert!(text.contains("Good \"git\" signature for ana"), "{text}");
        // Another key in allowed_signers: refused.
        let other = SecretKey::from_seed(&[9u8; 32]);
        std::fs::write(
            &signers,
            format!("ana namespaces=\"git\" {}\n", other.openssh_public("ana")),
        )
        .unwrap();
        assert!(!verify(&signers).status.success());
    }
}
