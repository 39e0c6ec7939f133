//! Snapshots: every recorded decision's input and output as JSON Lines (`policy snapshot
//! export`), and reading one back for `policy sim`.

use std::fs;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Decision, PolicyError, SNAPSHOT_VERSION};
use crate::canon;

/// One line of a snapshot: a recorded decision's input and output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotEntry {
    pub version: String,
    pub decision_id: i64,
    pub subject: String,
    pub input: Value,
    pub recorded: Decision,
}

/// Writes every recorded decision (oldest first) as JSON Lines to `path`, through a temporary
/// file and a rename: a failed export leaves nothing behind. Returns the number of lines.
#[tracing::instrument(name = "policy.snapshot_export", skip_all)]
pub fn export_snapshot(conn: &Connection, path: &Path) -> Result<u64, PolicyError> {
    let werr = |e: std::io::Error| PolicyError::Write {
        path: path.display().to_string(),
        why: e.to_string(),
    };
    let tmp = tmp_path(path);
    let result = (|| -> Result<u64, PolicyError> {
        let file = fs::File::create(&tmp).map_err(werr)?;
        let mut w = std::io::BufWriter::new(file);
        let mut stmt =
            conn.prepare("SELECT id, subject, input, output FROM policy_decisions ORDER BY id")?;
        let mut rows = stmt.query([])?;
        let mut n = 0u64;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let corrupt = |e: serde_json::Error| PolicyError::Corrupt {
                id,
                why: e.to_string(),
            };
            let entry = SnapshotEntry {
                version: SNAPSHOT_VERSION.to_string(),
                decision_id: id,
                subject: r.get(1)?,
                input: serde_json::from_str(&r.get::<_, String>(2)?).map_err(corrupt)?,
                recorded: serde_json::from_str(&r.get::<_, String>(3)?).map_err(corrupt)?,
            };
            w.write_all(canon::canonical_string(&entry)?.as_bytes())
                .map_err(werr)?;
            w.write_all(b"\n").map_err(werr)?;
            n += 1;
        }
        w.flush().map_err(werr)?;
        w.into_inner()
            .map_err(|e| werr(e.into_error()))?
            .sync_all()
            .map_err(werr)?;
        Ok(n)
    })();
    match result {
        Ok(n) => {
            fs::rename(&tmp, path).map_err(|e| {
                let _ = fs::remove_file(&tmp);
                werr(e)
            })?;
            Ok(n)
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".oxide-tmp");
    path.with_file_name(name)
}

/// Reads a snapshot; any bad line refuses the whole file (with its line number).
pub fn read_snapshot(path: &Path) -> Result<Vec<SnapshotEntry>, PolicyError> {
    let file = fs::File::open(path).map_err(|e| PolicyError::Read {
        path: path.display().to_string(),
        why: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let bad = |why: String| PolicyError::BadSnapshot {
            path: path.display().to_string(),
            line: i + 1,
            why,
        };
        let line = line.map_err(|e| bad(e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let entry: SnapshotEntry = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        if entry.version != SNAPSHOT_VERSION {
            return Err(bad(format!(
                "version '{}', expected '{SNAPSHOT_VERSION}'",
                entry.version
            )));
        }
        out.push(entry);
    }
    Ok(out)
}

/// Every recorded decision as snapshot entries, oldest first (what `export_snapshot` writes).
pub fn recorded_entries(conn: &Connection) -> Result<Vec<SnapshotEntry>, PolicyError> {
    let mut stmt =
        conn.prepare("SELECT id, subject, input, output FROM policy_decisions ORDER BY id")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let id: i64 = r.get(0)?;
        let corrupt = |e: serde_json::Error| PolicyError::Corrupt {
            id,
            why: e.to_string(),
        };
        out.push(SnapshotEntry {
            version: SNAPSHOT_VERSION.to_string(),
            decision_id: id,
            subject: r.get(1)?,
            input: serde_json::from_str(&r.get::<_, String>(2)?).map_err(corrupt)?,
            recorded: serde_json::from_str(&r.get::<_, String>(3)?).map_err(corrupt)?,
        });
    }
    Ok(out)
}
