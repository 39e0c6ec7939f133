//! `ssh://` remotes for sync: who we are to the server (credentials) and who the server is
//! to us (its host key, checked against `known_hosts` — never accepted unseen).
//!
//! - Credentials: the user's `ssh-agent` (`SSH_AUTH_SOCK`) first, then `~/.ssh/id_ed25519`,
//!   `id_ecdsa`, `id_rsa` (without passphrase), each tried once; the user name is the URL's,
//!   else the login name (`USER`, `LOGNAME`).
//! - Host key: the key the server presents must be listed for that host (`host` on port 22,
//!   `[host]:port` otherwise; plain, wildcard, negated and hashed `|1|` entries) in
//!   `~/.ssh/known_hosts` or `/etc/ssh/ssh_known_hosts`. Unknown or different → refused
//!   ([`GitopsError::HostKeyUnverified`]) before any object is fetched or pushed. A key
//!   marked `@revoked` is refused even when also listed. `@cert-authority` entries are not
//!   used (host certificates are not checked here), so a host known only through one is
//!   unknown.
//!
//! Parsing of the host field (patterns, hashed names) and markers is `ssh-key`'s
//! `known_hosts` module; the key itself is compared as its SSH wire blob by SHA-256, the same
//! digest libssh2 reports for the presented key (`SHA256:` fingerprints as `ssh-keygen -l`).

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use ssh_key::known_hosts::{HostPatterns, Marker};

use super::GitopsError;

/// Where an `ssh://` (or scp-style) remote points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: u16,
}

/// Parses `ssh://[user@]host[:port]/path` (also `git+ssh://`, `ssh+git://`) and scp-style
/// `[user@]host:path`; `None` when `url` is not an ssh remote.
pub fn parse_ssh_url(url: &str) -> Option<SshTarget> {
    let lower = url.to_ascii_lowercase();
    let rest = ["ssh://", "git+ssh://", "ssh+git://"]
        .iter()
        .find(|p| lower.starts_with(**p))
        .map(|p| &url[p.len()..]);
    if let Some(rest) = rest {
        let authority = rest.split('/').next().unwrap_or_default();
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_string()), h),
            None => (None, authority),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']')?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().ok()?,
                None => 22,
            };
            (h.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) if !p.is_empty() => (h.to_string(), p.parse().ok()?),
                Some((h, _)) => (h.to_string(), 22),
                None => (hostport.to_string(), 22),
            }
        };
        if host.is_empty() {
            return None;
        }
        return Some(SshTarget { user, host, port });
    }
    // scp-like `[user@]host:path`: a colon before any slash, not a URL scheme or a path.
    if lower.contains("://") || url.starts_with('/') || url.starts_with('.') {
        return None;
    }
    let (before, _) = url.split_once(':')?;
    if before.contains('/') || before.is_empty() {
        return None;
    }
    let (user, host) = match before.rsplit_once('@') {
        Some((u, h)) => (Some(u.to_string()), h.to_string()),
        None => (None, before.to_string()),
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .map(str::to_string)
        .unwrap_or(host);
    (!host.is_empty()).then_some(SshTarget {
        user,
        host,
        port: 22,
    })
}

/// `SHA256:<base64, no padding>` as `ssh-keygen -l` prints it.
pub fn fingerprint(sha256: &[u8]) -> String {
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(sha256)
    )
}

/// What `known_hosts` says about a presented host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyVerdict {
    /// Listed for this host (file and line).
    Known { file: PathBuf, line: usize },
    /// No entry names this host.
    Unknown,
    /// Entries name this host, with other keys (their fingerprints, file:line).
    Mismatch { listed: Vec<String> },
    /// This key is marked `@revoked`.
    Revoked { file: PathBuf, line: usize },
}

/// The known_hosts files consulted, in order: the user's, then the system's.
pub fn known_hosts_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        out.push(Path::new(&home).join(".ssh/known_hosts"));
    }
    out.push(PathBuf::from("/etc/ssh/ssh_known_hosts"));
    out
}

/// The name known_hosts files use for `host` on `port`.
fn lookup_name(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// OpenSSH's `match_pattern`: `*` any run, `?` one character (ASCII case-insensitive).
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], name) || (!name.is_empty() && glob(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p.eq_ignore_ascii_case(n) => glob(&pattern[1..], &name[1..]),
        _ => false,
    }
}

/// Whether an entry's host field names `name` (`host` or `[host]:port`).
fn patterns_match(patterns: &HostPatterns, name: &str) -> bool {
    match patterns {
        HostPatterns::HashedName { salt, hash } => {
            let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(salt) else {
                return false;
            };
            mac.update(name.as_bytes());
            mac.verify_slice(hash).is_ok()
        }
        HostPatterns::Patterns(list) => {
            let mut positive = false;
            for p in list {
                if let Some(neg) = p.strip_prefix('!') {
                    if glob(neg.as_bytes(), name.as_bytes()) {
                        return false;
                    }
                } else if glob(p.as_bytes(), name.as_bytes()) {
                    positive = true;
                }
            }
            positive
        }
    }
}

/// Checks the host key whose SSH wire blob hashes to `presented_sha256` against the
/// `known_hosts` text of each `(file, text)`. Lines that do not parse are skipped (as
/// OpenSSH does).
pub fn check_known_hosts(
    files: &[(PathBuf, String)],
    host: &str,
    port: u16,
    presented_sha256: &[u8; 32],
) -> HostKeyVerdict {
    let name = lookup_name(host, port);
    let mut known: Option<(PathBuf, usize)> = None;
    let mut listed = Vec::new();
    for (file, text) in files {
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_whitespace();
            let mut first = fields.next().unwrap_or_default();
            let marker = if first.starts_with('@') {
                let Ok(m) = Marker::from_str(first) else {
                    continue;
                };
                first = fields.next().unwrap_or_default();
                Some(m)
            } else {
                None
            };
            let Ok(patterns) = HostPatterns::from_str(first) else {
                continue;
            };
            let (Some(_keytype), Some(b64)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Ok(blob) = base64::engine::general_purpose::STANDARD.decode(b64) else {
                continue;
            };
            if !patterns_match(&patterns, &name) {
                continue;
            }
            let digest: [u8; 32] = Sha256::digest(&blob).into();
            match marker {
                Some(Marker::Revoked) if &digest == presented_sha256 => {
                    return HostKeyVerdict::Revoked {
                        file: file.clone(),
                        line: i + 1,
                    };
                }
                Some(_) => {}
                None if &digest == presented_sha256 => {
                    known.get_or_insert((file.clone(), i + 1));
                }
                None => listed.push(format!(
                    "{} ({}:{})",
                    fingerprint(&digest),
                    file.display(),
                    i + 1
                )),
            }
        }
    }
    match known {
        Some((file, line)) => HostKeyVerdict::Known { file, line },
        None if listed.is_empty() => HostKeyVerdict::Unknown,
        None => HostKeyVerdict::Mismatch { listed },
    }
}

/// Reads the known_hosts files that exist.
fn read_known_hosts() -> Vec<(PathBuf, String)> {
    known_hosts_files()
        .into_iter()
        .filter_map(|p| std::fs::read_to_string(&p).ok().map(|t| (p, t)))
        .collect()
}

/// The login name: `USER`, else `LOGNAME`.
fn login_name() -> Option<String> {
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.is_empty())
}

/// Whether the private key file at `path` is protected by a passphrase (then it is left to
/// the agent: libssh2 would stop at it instead of trying the next key). Only the header is
/// judged; the key is never decrypted, and the parsed copy is zeroized on drop.
fn has_passphrase(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return true;
    }
    ssh_key::PrivateKey::from_openssh(text.as_bytes()).is_ok_and(|k| k.is_encrypted())
}

/// One way to authenticate, tried once.
#[derive(Debug, Clone)]
enum Attempt {
    Agent,
    KeyFile(PathBuf),
}

impl Attempt {
    fn describe(&self) -> String {
        match self {
            Attempt::Agent => "ssh-agent (SSH_AUTH_SOCK)".into(),
            Attempt::KeyFile(p) => p.display().to_string(),
        }
    }
}

/// The state of one connection's ssh callbacks: what was refused, what was tried.
#[derive(Debug, Default)]
pub struct SshSession {
    target: Option<SshTarget>,
    refusal: RefCell<Option<GitopsError>>,
    tried: RefCell<Vec<String>>,
    exhausted: RefCell<bool>,
}

impl SshSession {
    /// For the remote at `url` (`target` is `None` for local/file:// remotes, whose
    /// callbacks are then never called).
    pub fn new(url: &str) -> Self {
        SshSession {
            target: parse_ssh_url(url),
            ..Default::default()
        }
    }

    /// Credentials and host-key callbacks for `git2`.
    pub fn callbacks(&self) -> git2::RemoteCallbacks<'_> {
        let mut cb = git2::RemoteCallbacks::new();
        let mut attempts: Option<std::vec::IntoIter<Attempt>> = None;
        cb.credentials(move |_url, url_user, allowed| {
            let user = url_user
                .map(str::to_string)
                .or_else(|| self.target.as_ref().and_then(|t| t.user.clone()))
                .or_else(login_name)
                .ok_or_else(|| {
                    git2::Error::from_str(
                        "no ssh user name: put it in the remote URL (ssh://USER@host/...) or set USER",
                    )
                })?;
            if allowed.contains(git2::CredentialType::USERNAME) {
                return git2::Cred::username(&user);
            }
            if !allowed.contains(git2::CredentialType::SSH_KEY) {
                *self.exhausted.borrow_mut() = true;
                return Err(git2::Error::from_str(
                    "the ssh server offers no public-key authentication",
                ));
            }
            let queue = attempts.get_or_insert_with(|| {
                let mut v = Vec::new();
                if std::env::var_os("SSH_AUTH_SOCK").is_some_and(|s| !s.is_empty()) {
                    v.push(Attempt::Agent);
                }
                if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
                    for f in ["id_ed25519", "id_ecdsa", "id_rsa"] {
                        let p = Path::new(&home).join(".ssh").join(f);
                        if p.is_file() && !has_passphrase(&p) {
                            v.push(Attempt::KeyFile(p));
                        }
                    }
                }
                v.into_iter()
            });
            let Some(next) = queue.next() else {
                *self.exhausted.borrow_mut() = true;
                return Err(git2::Error::from_str("no more ssh credentials to try"));
            };
            self.tried.borrow_mut().push(next.describe());
            match next {
                Attempt::Agent => git2::Cred::ssh_key_from_agent(&user),
                Attempt::KeyFile(p) => {
                    let public = p.with_extension("pub");
                    let public = public.is_file().then_some(public);
                    git2::Cred::ssh_key(&user, public.as_deref(), &p, None)
                }
            }
        });
        cb.certificate_check(move |cert, host| {
            let Some(hk) = cert.as_hostkey() else {
                // Not an ssh connection (this build carries no TLS transport).
                return Err(git2::Error::from_str("unexpected certificate kind"));
            };
            let port = self.target.as_ref().map(|t| t.port).unwrap_or(22);
            let digest: [u8; 32] = match (hk.hostkey(), hk.hash_sha256()) {
                (Some(raw), _) => Sha256::digest(raw).into(),
                (None, Some(h)) => *h,
                (None, None) => {
                    let e = GitopsError::HostKeyUnverified {
                        host: host.to_string(),
                        port,
                        fingerprint: "(none)".into(),
                        why: "the connection reported neither the raw host key nor its SHA-256 digest, so it cannot be checked; nothing was fetched or pushed".into(),
                    };
                    let msg = e.to_string();
                    *self.refusal.borrow_mut() = Some(e);
                    return Err(git2::Error::from_str(&msg));
                }
            };
            let fp = fingerprint(&digest);
            let files = read_known_hosts();
            let verdict = check_known_hosts(&files, host, port, &digest);
            let name = lookup_name(host, port);
            let why = match verdict {
                HostKeyVerdict::Known { file, line } => {
                    tracing::debug!(host, port, %fp, file = %file.display(), line, "ssh host key known");
                    return Ok(git2::CertificateCheckStatus::CertificateOk);
                }
                HostKeyVerdict::Unknown => format!(
                    "no entry for {name} in {} names it, so the server cannot be told from an impostor; nothing was fetched or pushed. Check {fp} with the server's administrator (on the server: `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`), then add it: `ssh-keyscan -p {port} {host} >> ~/.ssh/known_hosts` and compare `ssh-keygen -lf ~/.ssh/known_hosts` with it",
                    files_list()
                ),
                HostKeyVerdict::Mismatch { listed } => format!(
                    "known_hosts lists a DIFFERENT key for {name}: {}; someone may be intercepting the connection, or the server's key was replaced. Nothing was fetched or pushed. If the change is legitimate, confirm the new fingerprint with the server's administrator, remove the old entry (`ssh-keygen -R '{name}'`) and add the new one (`ssh-keyscan -p {port} {host} >> ~/.ssh/known_hosts`)",
                    listed.join(", ")
                ),
                HostKeyVerdict::Revoked { file, line } => format!(
                    "this key is marked @revoked in {}:{line}; nothing was fetched or pushed. Ask the server's administrator for its new host key",
                    file.display()
                ),
            };
            let e = GitopsError::HostKeyUnverified {
                host: host.to_string(),
                port,
                fingerprint: fp,
                why,
            };
            let msg = e.to_string();
            tracing::warn!(host, port, code = e.code(), "ssh host key refused");
            *self.refusal.borrow_mut() = Some(e);
            Err(git2::Error::from_str(&msg))
        });
        cb
    }

    /// The typed error for a failed fetch/push: a refused host key, exhausted credentials,
    /// or git's own message.
    pub fn error(&self, remote: &str, op: &str, e: git2::Error) -> GitopsError {
        if let Some(r) = self.refusal.borrow_mut().take() {
            return r;
        }
        if let Some(t) = &self.target {
            let tried = self.tried.borrow();
            if *self.exhausted.borrow() || e.class() == git2::ErrorClass::Ssh && !tried.is_empty() {
                return GitopsError::SshAuth {
                    remote: remote.to_string(),
                    host: format!("{}:{}", t.host, t.port),
                    tried: if tried.is_empty() {
                        "nothing (no SSH_AUTH_SOCK, no ~/.ssh/id_ed25519, id_ecdsa or id_rsa)"
                            .into()
                    } else {
                        tried.join(", ")
                    },
                    detail: e.message().to_string(),
                };
            }
        }
        GitopsError::Git(format!("{op} {remote}: {}", e.message()))
    }
}

fn files_list() -> String {
    known_hosts_files()
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" or ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = |u: &str| parse_ssh_url(u);
        assert_eq!(
            t("ssh://root@127.0.0.1:2222/srv/x.git"),
            Some(SshTarget {
                user: Some("root".into()),
                host: "127.0.0.1".into(),
                port: 2222
            })
        );
        assert_eq!(t("ssh://h/x").unwrap().port, 22);
        assert_eq!(t("ssh://[::1]:30/x").unwrap().host, "::1");
        assert_eq!(t("git@github.com:o/r.git").unwrap().host, "github.com");
        assert_eq!(t("/srv/x.git"), None);
        assert_eq!(t("file:///srv/x.git"), None);
        assert_eq!(t("./x:y"), None);
    }

    #[test]
    fn keys_with_a_passphrase_are_left_to_the_agent() {
        let dir = tempfile::tempdir().unwrap();
        for (name, pass) in [("plain", ""), ("locked", "secret passphrase")] {
            let st = std::process::Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", pass, "-f"])
                .arg(dir.path().join(name))
                .status()
                .expect("ssh-keygen (openssh-client; run scripts/setup.sh)");
            assert!(st.success());
        }
        assert!(!has_passphrase(&dir.path().join("plain")));
        assert!(has_passphrase(&dir.path().join("locked")));
    }

    fn blob_line(host: &str, blob: &[u8]) -> String {
        format!(
            "{host} ssh-ed25519 {}",
            base64::engine::general_purpose::STANDARD.encode(blob)
        )
    }

    #[test]
    fn known_unknown_mismatch_hashed_revoked() {
        let good = b"good host key blob".to_vec();
        let bad = b"another key".to_vec();
        let d: [u8; 32] = Sha256::digest(&good).into();
        let f = |t: String| vec![(PathBuf::from("kh"), t)];
        // plain [host]:port
        let v = check_known_hosts(
            &f(blob_line("[127.0.0.1]:2222", &good)),
            "127.0.0.1",
            2222,
            &d,
        );
        assert!(matches!(v, HostKeyVerdict::Known { line: 1, .. }));
        // port matters: a port-22 entry does not name port 2222
        let v = check_known_hosts(&f(blob_line("127.0.0.1", &good)), "127.0.0.1", 2222, &d);
        assert_eq!(v, HostKeyVerdict::Unknown);
        // a different key for the same host is a mismatch, not unknown
        let v = check_known_hosts(
            &f(blob_line("[127.0.0.1]:2222", &bad)),
            "127.0.0.1",
            2222,
            &d,
        );
        assert!(matches!(v, HostKeyVerdict::Mismatch { .. }), "{v:?}");
        // wildcards and negation
        let v = check_known_hosts(
            &f(blob_line("*.example.org,!evil.example.org", &good)),
            "git.example.org",
            22,
            &d,
        );
        assert!(matches!(v, HostKeyVerdict::Known { .. }));
        let v = check_known_hosts(
            &f(blob_line("*.example.org,!evil.example.org", &good)),
            "evil.example.org",
            22,
            &d,
        );
        assert_eq!(v, HostKeyVerdict::Unknown);
        // hashed: HMAC-SHA1(salt, "[host]:port")
        let salt = b"0123456789abcdefghij".to_vec();
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&salt).unwrap();
        mac.update(b"[127.0.0.1]:2222");
        let h = mac.finalize().into_bytes();
        let e = base64::engine::general_purpose::STANDARD;
        let hashed = format!("|1|{}|{}", e.encode(&salt), e.encode(h));
        let v = check_known_hosts(&f(blob_line(&hashed, &good)), "127.0.0.1", 2222, &d);
        assert!(matches!(v, HostKeyVerdict::Known { .. }), "{v:?}");
        let v = check_known_hosts(&f(blob_line(&hashed, &good)), "127.0.0.2", 2222, &d);
        assert_eq!(v, HostKeyVerdict::Unknown);
        // @revoked wins over a plain entry; garbage lines are skipped
        let text = format!(
            "garbage\n{}\n@revoked {}\n",
            blob_line("[127.0.0.1]:2222", &good),
            blob_line("*", &good)
        );
        let v = check_known_hosts(&f(text), "127.0.0.1", 2222, &d);
        assert!(
            matches!(v, HostKeyVerdict::Revoked { line: 3, .. }),
            "{v:?}"
        );
        // @cert-authority entries never make a key known
        let v = check_known_hosts(
            &f(format!("@cert-authority {}", blob_line("*", &good))),
            "127.0.0.1",
            2222,
            &d,
        );
        assert_eq!(v, HostKeyVerdict::Unknown);
    }
}
