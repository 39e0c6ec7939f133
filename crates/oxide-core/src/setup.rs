//! `oxide init` and the desktop's demo workspace: an orchestrator above the rooms. The
//! foundation (`workspace`) writes whatever files it is given; this module gathers every
//! room's defaults (the foundation's settings and contracts, the policy room's Rego, the
//! signing room's empty trust registry) so that
//! no lower layer has to know the rooms above it.

use std::path::Path;

use crate::clock::Clock;
use crate::workspace::{self, defaults, InitReport};
use crate::Error;

/// `(path relative to the repository root, contents)` of every default governance file.
pub fn default_files() -> Vec<(&'static str, &'static str)> {
    let mut files = defaults::FILES.to_vec();
    files.extend_from_slice(crate::policy::DEFAULT_FILES);
    files.extend_from_slice(crate::signing::DEFAULT_FILES);
    files
}

/// `oxide init`: writes the default governance files that are absent, opens (creating) the
/// database and records the workspace. Idempotent: a second run writes nothing.
pub fn init(dir: &Path, db: Option<&Path>, actor: &str, clock: Clock) -> Result<InitReport, Error> {
    workspace::init_with(dir, db, actor, clock, &default_files())
}

/// A small committed demo repository at `dir`, initialised (see `workspace::create_demo_with`).
pub fn create_demo(dir: &Path, db: Option<&Path>, clock: Clock) -> Result<InitReport, Error> {
    workspace::create_demo_with(dir, db, clock, &default_files())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::State;
    use crate::workspace::{Settings, Workspace};

    #[test]
    fn init_writes_defaults_once_and_records_it() {
        let r = tempfile::tempdir().unwrap();
        git2::Repository::init(r.path()).unwrap();
        let data = tempfile::tempdir().unwrap();
        let db = data.path().join("s.sqlite3");
        let rep = init(r.path(), Some(&db), "tester", Clock::system()).unwrap();
        assert_eq!(rep.created.len(), default_files().len());
        assert!(rep.created.iter().any(|f| f == ".oxide/policy/oxide.rego"));
        let again = init(r.path(), Some(&db), "tester", Clock::system()).unwrap();
        assert!(again.created.is_empty());
        let ws = Workspace::open(r.path(), Some(&db)).unwrap();
        let st = crate::views::status(&ws).unwrap();
        assert_eq!(st.audit_events, 1, "idempotent init records nothing new");
        assert_eq!(st.proposals.len(), State::ALL.len());
        assert!(st.initialized);
        assert_eq!(ws.settings().unwrap(), Settings::default());
        assert!(ws.audit_verify().unwrap().ok);
    }
}
