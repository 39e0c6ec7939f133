-- Foundation: the workspace this database belongs to and the append-only audit chain.

CREATE TABLE workspaces (
    id          INTEGER PRIMARY KEY,
    path        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
) STRICT;

-- audit: one row per event; hash = sha256(RFC 8785 of {seq, ts, actor, kind, subject, payload, prev}).
CREATE TABLE audit_events (
    seq      INTEGER PRIMARY KEY,
    ts       TEXT NOT NULL,
    actor    TEXT NOT NULL,
    kind     TEXT NOT NULL,
    subject  TEXT NOT NULL,
    payload  TEXT NOT NULL,           -- canonical JSON
    prev     TEXT,                    -- hash of seq-1, NULL for the first event
    hash     TEXT NOT NULL UNIQUE
) STRICT;

-- The last appended event, kept in the same transaction: truncation of the tail shows.
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
) STRICT;

-- Append-only: the application never updates or deletes events. (Anyone holding the file
-- can drop these triggers; `audit verify` is what detects that kind of tampering.)
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
