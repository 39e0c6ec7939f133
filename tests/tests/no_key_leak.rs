//! Issue 12 "Done when": after a full approve run no private-key bytes are anywhere but the
//! OS keyring.
//!
//! A run through the real `oxide` binary with `OXIDE_LOG=trace` (keys generate, approvers
//! add + commit, proposal import, validate, a high-risk proposal approved by an approver and
//! a lead, approvals --export, audit export, audit checkpoint/verify, verify, keys list and
//! exports), then a grep for every OXIDE seed in the keyring — read back with `secret-tool`,
//! not with OXIDE — in raw, hex and base64 (standard and url-safe, at every alignment, so a
//! seed inside an encoded key blob is found too) across: the database file and its -wal/-shm,
//! every file of the data directory (exports, bundles, XDG folders), the checkout and its
//! `.git` (every object decompressed), and every run's stdout and stderr (the logs).
//! `a_planted_seed_is_found` shows the same scan fails when a seed is there.

use std::path::{Path, PathBuf};

use oxide_journeys::git;
use oxide_journeys::signing::{find_leaks, keyring_entries, keyring_seed, leak_forms, SignedRepo};

/// Every regular file under `dir` (symlinks not followed).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if m.is_dir() {
                stack.push(p);
            } else if m.is_file() {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// (where, bytes) of everything the scan reads for one repository.
fn sources(s: &SignedRepo) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![("stdout+stderr of every run".to_string(), s.transcript())];
    for root in [s.repo.data.path(), s.repo.path()] {
        for f in files_under(root) {
            if let Ok(b) = std::fs::read(&f) {
                out.push((f.display().to_string(), b));
            }
        }
    }
    // git stores objects compressed: read each one as git gives it back.
    let objects = std::process::Command::new("git")
        .current_dir(s.repo.path())
        .args(["cat-file", "--batch-all-objects", "--batch"])
        .output()
        .expect("git cat-file");
    assert!(objects.status.success());
    out.push(("every git object".to_string(), objects.stdout));
    out
}

/// "<where>: <form> of <entry>" for every seed form found in any source.
fn scan(sources: &[(String, Vec<u8>)], seeds: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut hits = Vec::new();
    for (entry, seed) in seeds {
        let forms = leak_forms(seed);
        for (place, bytes) in sources {
            for form in find_leaks(bytes, &forms) {
                hits.push(format!("{place}: {form} of the seed of {entry}"));
            }
        }
    }
    hits
}

#[test]
fn no_private_key_bytes_after_a_full_approve_run() {
    let s = SignedRepo::build(
        &[("ana", "approver"), ("lee", "lead")],
        &[],
        &[("OXIDE_LOG", "trace")],
    );
    let ana = s.person(0).to_string();
    let lee = s.person(1).to_string();
    let id = s.validated_change("src/auth/session.txt", "ttl = 60", "ttl = 30", "tester");
    s.approve(&id, &ana).expect(0);
    s.approve(&id, &lee).expect(0);
    assert_eq!(s.state(&id), "approved");

    let export = s.repo.data.path().join("approvals-export");
    s.run(
        &[
            "--json",
            "approvals",
            &id,
            "--export",
            export.to_str().unwrap(),
        ],
        &[],
    )
    .expect(0);
    assert!(
        files_under(&export).len() >= 2,
        "both approvals exported: {:?}",
        files_under(&export)
    );
    let audit = s.repo.data.path().join("audit-export.jsonl");
    s.run(&["--json", "audit", "export", audit.to_str().unwrap()], &[])
        .expect(0);
    for args in [
        vec!["--json", "audit", "checkpoint"],
        vec!["--json", "audit", "verify"],
        vec!["--json", "verify", &id],
        vec!["--json", "approvals", &id],
        vec!["--json", "keys", "list"],
        vec!["keys", "export-public", "--person", &ana],
        vec!["keys", "export-allowed-signers"],
        vec!["--json", "approvers", "list"],
        vec!["--json", "proposal", "show", &id],
        vec!["--json", "proposal", "history", &id],
        vec!["--json", "audit", "list"],
    ] {
        s.run(&args, &[]).expect(0);
    }
    let transcript = s.transcript();
    assert!(
        String::from_utf8_lossy(&transcript).contains("TRACE")
            || String::from_utf8_lossy(&transcript).contains("DEBUG"),
        "OXIDE_LOG=trace produced no logs to scan"
    );

    // The seeds, straight from the Secret Service.
    let mut seeds = vec![
        (
            format!("person:{ana}"),
            keyring_seed(&format!("person:{ana}")),
        ),
        (
            format!("person:{lee}"),
            keyring_seed(&format!("person:{lee}")),
        ),
    ];
    let others = keyring_entries();
    assert!(
        others.iter().any(|(u, _)| u.starts_with("instance:")),
        "no O.X.I.D.E instance key in the keyring (it signs every bundle): {:?}",
        others.iter().map(|(u, _)| u).collect::<Vec<_>>()
    );
    assert!(
        others.iter().any(|(u, _)| u.starts_with("device:")),
        "no device key in the keyring (it signs every audit checkpoint): {:?}",
        others.iter().map(|(u, _)| u).collect::<Vec<_>>()
    );
    seeds.extend(others);

    let sources = sources(&s);
    let db = s.repo.db();
    assert!(
        sources
            .iter()
            .any(|(p, b)| *p == db.display().to_string() && b.starts_with(b"SQLite format 3\0")),
        "the database was scanned"
    );
    let hits = scan(&sources, &seeds);
    assert!(
        hits.is_empty(),
        "private key material outside the keyring:\n{}",
        hits.join("\n")
    );
    println!(
        "scanned {} sources ({} bytes) for {} seeds × {} forms: clean",
        sources.len(),
        sources.iter().map(|(_, b)| b.len()).sum::<usize>(),
        seeds.len(),
        leak_forms(&seeds[0].1).len()
    );
}

#[test]
fn a_planted_seed_is_found() {
    // The scan above, over a repository and data directory where a seed was planted in the
    // ways a leak would look: a base64 OpenSSH-style blob in a log line, hex in a JSON export,
    // raw bytes in a binary file, url-safe base64 in a committed file.
    let s = SignedRepo::new(&[]);
    let seed: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(97) ^ 0x3c).collect();
    let seeds = vec![("person:planted".to_string(), seed.clone())];
    assert!(
        scan(&sources(&s), &seeds).is_empty(),
        "clean before planting"
    );

    use base64::Engine;
    let mut blob = b"openssh-key-v1\0\0\0\0\x04none".to_vec();
    blob.extend_from_slice(&seed);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&blob);
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    let plants: Vec<(PathBuf, Vec<u8>)> = vec![
        (
            s.repo.data.path().join("oxide.log"),
            format!("TRACE key loaded: {b64}\n").into_bytes(),
        ),
        (
            s.repo.data.path().join("export/approval.json"),
            format!("{{\"seed\": \"{hex}\"}}").into_bytes(),
        ),
        (s.repo.data.path().join("blob.bin"), seed.clone()),
        (
            s.repo.path().join("notes.txt"),
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(&seed)
                .into_bytes(),
        ),
    ];
    for (path, bytes) in &plants {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
        let hits = scan(&sources(&s), &seeds);
        assert!(
            hits.iter()
                .any(|h| h.starts_with(&path.display().to_string())),
            "the seed planted in {} was not found: {hits:?}",
            path.display()
        );
        std::fs::remove_file(path).unwrap();
    }
    // Committed, then removed from the checkout: still found in git's objects.
    std::fs::write(s.repo.path().join("leak.txt"), &hex).unwrap();
    git(s.repo.path(), &["add", "leak.txt"]);
    git(s.repo.path(), &["commit", "-q", "-m", "leak"]);
    git(s.repo.path(), &["rm", "-q", "leak.txt"]);
    git(s.repo.path(), &["commit", "-q", "-m", "unleak"]);
    let hits = scan(&sources(&s), &seeds);
    assert!(
        hits.iter().any(|h| h.starts_with("every git object")),
        "{hits:?}"
    );
}
