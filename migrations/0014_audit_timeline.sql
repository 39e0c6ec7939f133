-- audit: the maintainer's timeline over a long chain (issue 14). Every page is a keyset walk
-- in seq order, so each filter needs an index whose entries are already in seq order for one
-- value: a one-column index on X is ordered by (X, rowid) and rowid is seq. Filters on two
-- columns use the composite index; a subject is selective enough to drive alone. See
-- crates/oxide-core/src/audit/timeline.rs for which index serves which filter.
CREATE INDEX audit_events_by_kind ON audit_events(kind);
CREATE INDEX audit_events_by_actor ON audit_events(actor);
CREATE INDEX audit_events_by_actor_kind ON audit_events(actor, kind);
CREATE INDEX audit_events_by_subject ON audit_events(subject);

-- The text search over kind, actor and subject: token-prefix search (FTS5, unicode61 tokens;
-- `valid` finds `workflow.validate`). External content: the words point at audit_events rows
-- by seq and store no copy of the text. Filled by `audit::append` in the event's transaction.
-- Derived data: it is not part of the hashed chain, `audit verify` does not read it, and
-- `INSERT INTO audit_fts(audit_fts) VALUES ('rebuild')` recomputes it from the events.
CREATE VIRTUAL TABLE audit_fts USING fts5(
    kind, actor, subject,
    content = 'audit_events', content_rowid = 'seq', columnsize = 0
);
INSERT INTO audit_fts(audit_fts) VALUES ('rebuild');
