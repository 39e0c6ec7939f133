//! Opening the SQLite state database: refusal of foreign or too-new files, connection
//! settings (WAL, foreign keys, busy timeout), embedded migrations and transactions.
//!
//! The store owns no domain tables; each room owns its own and reaches the database only
//! through a `&rusqlite::Connection` (or a transaction, which derefs to one) handed to it.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use include_dir::{include_dir, Dir};
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use rusqlite_migration::{Migrations, M};

/// `PRAGMA application_id` of every OXIDE database ("OXID").
pub const APPLICATION_ID: i32 = 0x4F58_4944;
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

static MIGRATION_DIR: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../migrations");

/// Errors of the `store` room.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path} is not an OXIDE database ({why}); it was left untouched. Point --db at an OXIDE database or at a path that does not exist yet")]
    NotOxideDb { path: String, why: String },
    #[error("{path} has schema version {found}, newer than this build knows ({known}); it was left untouched. Upgrade oxide to open it")]
    SchemaTooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("cannot use {path} as the database: {why}")]
    BadPath { path: String, why: String },
    #[error("applying migrations to {path} failed: {why}")]
    Migration { path: String, why: String },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotOxideDb { .. } => "STORE_NOT_OXIDE_DB",
            StoreError::SchemaTooNew { .. } => "STORE_SCHEMA_TOO_NEW",
            StoreError::BadPath { .. } => "STORE_BAD_PATH",
            StoreError::Migration { .. } => "STORE_MIGRATION",
            StoreError::Sqlite(_) => "STORE_SQLITE",
        }
    }

    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            StoreError::NotOxideDb { .. }
            | StoreError::SchemaTooNew { .. }
            | StoreError::BadPath { .. } => crate::ErrorKind::Invalid,
            StoreError::Migration { .. } | StoreError::Sqlite(_) => crate::ErrorKind::Internal,
        }
    }
}

/// The embedded migrations, `migrations/NNNN_name.sql`, in file-name order.
pub fn migrations() -> &'static Migrations<'static> {
    static MIGRATIONS: OnceLock<Migrations<'static>> = OnceLock::new();
    MIGRATIONS.get_or_init(|| {
        let mut files: Vec<_> = MIGRATION_DIR
            .files()
            .filter(|f| f.path().extension().is_some_and(|e| e == "sql"))
            .collect();
        files.sort_by(|a, b| a.path().cmp(b.path()));
        Migrations::new(
            files
                .into_iter()
                .map(|f| M::up(f.contents_utf8().expect("migrations are UTF-8")))
                .collect(),
        )
    })
}

/// The schema version this build brings (number of embedded migrations).
pub fn known_schema_version() -> i64 {
    MIGRATION_DIR
        .files()
        .filter(|f| f.path().extension().is_some_and(|e| e == "sql"))
        .count() as i64
}

/// An open, migrated OXIDE database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// Reads what SQLite's 100-byte header says about a file, without opening it through SQLite.
/// `Ok(None)`: the file is absent or empty (a new database may be made there).
fn probe_header(path: &Path) -> Result<Option<i32>, StoreError> {
    let bad = |why: String| StoreError::BadPath {
        path: path.display().to_string(),
        why,
    };
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad(e.to_string())),
    };
    if meta.is_dir() {
        return Err(bad("it is a directory; give a file path".into()));
    }
    if meta.len() == 0 {
        return Ok(None);
    }
    let mut header = [0u8; 100];
    let mut f = fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let n = f.read(&mut header).map_err(|e| bad(e.to_string()))?;
    let not_oxide = |why: &str| StoreError::NotOxideDb {
        path: path.display().to_string(),
        why: why.to_string(),
    };
    if n < 100 || &header[..16] != SQLITE_MAGIC {
        return Err(not_oxide("it is not an SQLite file"));
    }
    let app_id = i32::from_be_bytes([header[68], header[69], header[70], header[71]]);
    if app_id != APPLICATION_ID {
        return Err(not_oxide(
            "it is an SQLite file made by another application",
        ));
    }
    Ok(Some(app_id))
}

/// A second connection to a store's database that copies committed WAL frames into the
/// database file (a passive checkpoint: it never waits for, or blocks, the writer).
pub struct Checkpointer {
    conn: Connection,
}

impl Checkpointer {
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }
}

impl Store {
    /// Opens (or creates) the database at `path`, refusing foreign or too-new files untouched,
    /// then applies pending migrations.
    #[tracing::instrument(name = "store.open", skip_all, fields(path = %path.display()))]
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let existing = probe_header(path)?.is_some();
        if !existing {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent).map_err(|e| StoreError::BadPath {
                    path: path.display().to_string(),
                    why: format!("cannot create {}: {e}", parent.display()),
                })?;
            }
        }
        let flags = if existing {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let mut conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        // Plans never depend on bound values (SQLite's query planner stability guarantee).
        // Without it SQLite looks at the value bound to `LIMIT ?` when it plans, marks the
        // statement to be planned again whenever that parameter is bound, and so re-parses
        // every cached statement with a `LIMIT ?` (every timeline page) on every run: a
        // fifth of a 50-event page's time. Our statements name their indexes where it
        // matters, so nothing is lost.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        let known = known_schema_version();
        if existing {
            let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if found > known {
                return Err(StoreError::SchemaTooNew {
                    path: path.display().to_string(),
                    found,
                    known,
                });
            }
        } else {
            // Written in rollback-journal mode so the id lands in the main file's header at once.
            conn.pragma_update(None, "application_id", APPLICATION_ID)?;
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        migrations()
            .to_latest(&mut conn)
            .map_err(|e| StoreError::Migration {
                path: path.display().to_string(),
                why: e.to_string(),
            })?;
        tracing::debug!(schema = known, "store ready");
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Read access for queries.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Hands WAL checkpointing of this store to a [`Checkpointer`] on a second connection,
    /// so a long run of large transactions (a binder ingest) does not copy the WAL into the
    /// database inside its own commits. Automatic checkpoints on this connection stay off
    /// until [`Store::resume_auto_checkpoint`].
    pub fn checkpointer(&self) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(10))?;
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(Checkpointer { conn })
    }

    /// Turns SQLite's automatic checkpoints (every 1,000 WAL pages, the default) back on.
    pub fn resume_auto_checkpoint(&self) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "wal_autocheckpoint", 1000)?;
        Ok(())
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction: all of it commits or none of it does.
    pub fn write<T, E>(&mut self, f: impl FnOnce(&Transaction<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| E::from(StoreError::from(e)))?;
        let out = f(&tx)?;
        tx.commit().map_err(|e| E::from(StoreError::from(e)))?;
        Ok(out)
    }

    /// The schema version recorded in the database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cached statement with `LIMIT ?` runs again without being parsed and planned again
    /// when its parameters are bound anew (the timeline asks every page this way).
    #[test]
    fn a_cached_limit_statement_is_not_prepared_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.sqlite3")).unwrap();
        let c = store.conn();
        c.execute_batch(
            "CREATE TABLE t (x INTEGER PRIMARY KEY); INSERT INTO t VALUES (1), (2), (3);",
        )
        .unwrap();
        for limit in [1i64, 2, 3, 2] {
            let mut st = c
                .prepare_cached("SELECT x FROM t WHERE x > ?1 ORDER BY x DESC LIMIT ?2")
                .unwrap();
            let n = st
                .query_map([0, limit], |r| r.get::<_, i64>(0))
                .unwrap()
                .count();
            assert_eq!(n as i64, limit);
            assert_eq!(
                st.get_status(rusqlite::StatementStatus::RePrepare),
                0,
                "the statement was prepared again for LIMIT {limit}"
            );
        }
    }

    #[test]
    fn migrations_are_valid_and_numbered() {
        migrations().validate().unwrap();
        let mut names: Vec<_> = MIGRATION_DIR
            .files()
            .map(|f| f.path().display().to_string())
            .collect();
        names.sort();
        for (i, n) in names.iter().enumerate() {
            assert!(
                n.starts_with(&format!("{:04}_", i + 1)),
                "migration {n} is out of sequence"
            );
        }
    }

    #[test]
    fn new_database_gets_settings_and_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/state.sqlite3");
        let store = Store::open(&path).unwrap();
        let c = store.conn();
        let mode: String = c
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = c
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        assert_eq!(store.schema_version().unwrap(), known_schema_version());
        drop(store);
        // Reopening is fine and the header carries our application id.
        assert_eq!(probe_header(&path).unwrap(), Some(APPLICATION_ID));
        Store::open(&path).unwrap();
    }

    #[test]
    fn text_file_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        fs::write(&path, "just some notes\n").unwrap();
        let err = Store::open(&path).unwrap_err();
        assert_eq!(err.code(), "STORE_NOT_OXIDE_DB");
        assert_eq!(fs::read(&path).unwrap(), b"just some notes\n");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no side files"
        );
    }

    #[test]
    fn foreign_sqlite_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
                .unwrap();
        }
        let before = fs::read(&path).unwrap();
        let err = Store::open(&path).unwrap_err();
        assert_eq!(err.code(), "STORE_NOT_OXIDE_DB");
        assert_eq!(fs::read(&path).unwrap(), before);
    }

    #[test]
    fn newer_schema_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite3");
        drop(Store::open(&path).unwrap());
        {
            let c = Connection::open(&path).unwrap();
            c.pragma_update(None, "user_version", known_schema_version() + 5)
                .unwrap();
            c.pragma_update(None, "journal_mode", "DELETE").unwrap();
        }
        let before = fs::read(&path).unwrap();
        let err = Store::open(&path).unwrap_err();
        assert_eq!(err.code(), "STORE_SCHEMA_TOO_NEW");
        assert!(err.to_string().contains("Upgrade oxide"));
        assert_eq!(fs::read(&path).unwrap(), before);
    }

    #[test]
    fn directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Store::open(dir.path()).unwrap_err().code(),
            "STORE_BAD_PATH"
        );
    }
}
