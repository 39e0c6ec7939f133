-- Runtime memory shared by the host brain and O.X.I.D.E (seed 000, R-009):
-- behavior and personality state as versioned entries with full history.
-- memory room.

CREATE TABLE memory_entries (
    namespace       TEXT NOT NULL CHECK (namespace IN ('behavior', 'personality')),
    key             TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    version         INTEGER NOT NULL CHECK (version >= 1),
    value           TEXT,                     -- canonical JSON; NULL = the key was cleared
    previous_value  TEXT,                     -- value of version-1 (NULL for version 1)
    changed_by      TEXT NOT NULL,            -- the person or agent that made the change
    proposal_id     TEXT REFERENCES proposals(id),  -- the proposal that changed it, if any
    reason          TEXT NOT NULL,
    changed_at      TEXT NOT NULL,
    audit_seq       INTEGER NOT NULL REFERENCES audit_events(seq),
    PRIMARY KEY (namespace, key, version)
) STRICT, WITHOUT ROWID;

-- The current value of every key: its highest version.
CREATE VIEW memory_current AS
SELECT e.namespace, e.key, e.version, e.value, e.changed_by, e.proposal_id, e.changed_at
FROM memory_entries e
WHERE e.version = (SELECT max(version) FROM memory_entries m
                   WHERE m.namespace = e.namespace AND m.key = e.key);

CREATE TRIGGER memory_entries_no_update BEFORE UPDATE ON memory_entries
BEGIN SELECT RAISE(ABORT, 'memory history is append-only'); END;
CREATE TRIGGER memory_entries_no_delete BEFORE DELETE ON memory_entries
BEGIN SELECT RAISE(ABORT, 'memory history is append-only'); END;
