-- audit: two read paths of the maintainer's timeline at a million events (issue 14).
--
-- The events-per-day chart counts events by UTC day and kind. An index on (day, kind) holds
-- every (day, kind) pair already grouped, so the chart is one walk over a range of this index
-- (a window of days) that never sorts and reads the day and kind from the index entries. The
-- day is the first ten characters of the stored RFC 3339 time, as the chart shows it. See
-- audit::events_per_day.
CREATE INDEX audit_events_by_day_kind ON audit_events(substr(ts, 1, 10), kind);

-- The words of the timeline's search (the tokens of kind, actor and subject, as audit_fts
-- holds them): a search word is a prefix, and FTS5 answers a prefix query by merging the
-- whole list of every matching event before it can return the newest fifty (8 ms for
-- `promote` at a million events). audit::query first looks the word up here (a b-tree range)
-- and asks FTS5 for those whole words instead, which it walks lazily in seq order. Derived
-- data like audit_fts: filled by audit::append in the event's transaction. A token that is
-- not plain ASCII is recorded as the row '-non-ascii' (FTS5 folds diacritics, this table
-- does not), after which searches fall back to FTS5's own prefix query.
CREATE TABLE audit_terms (term TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE VIRTUAL TABLE audit_terms_backfill USING fts5vocab('audit_fts', 'row');
INSERT INTO audit_terms (term) SELECT term FROM audit_terms_backfill;
DROP TABLE audit_terms_backfill;
INSERT OR IGNORE INTO audit_terms (term)
    SELECT '-non-ascii' WHERE EXISTS (
        SELECT 1 FROM audit_terms WHERE term GLOB '*[^0-9a-z]*' AND term <> '-non-ascii');
