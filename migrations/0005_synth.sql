-- synth room (issue 4): the replay store (REC-003) and every synthesis attempt, including
-- the no-op fallbacks (R-006), which leave no proposal row behind.

-- One stored answer per synthesis request. The key is sha256 of the RFC 8785 form of
-- {"model_digest", "request"} where request is the exact /api/chat body.
CREATE TABLE synth_replay (
    request_sha256   TEXT PRIMARY KEY,
    model            TEXT NOT NULL,
    model_digest     TEXT NOT NULL,
    request          TEXT NOT NULL,           -- canonical JSON of the /api/chat body
    content          TEXT NOT NULL,           -- message.content as returned (untrusted)
    done_reason      TEXT,
    response_sha256  TEXT NOT NULL,           -- sha256 of content's UTF-8 bytes
    created_at       TEXT NOT NULL,           -- first stored; becomes the bundle's created_at
    last_used_at     TEXT NOT NULL
) STRICT;

-- One row per `propose`: what was asked, what came of it.
CREATE TABLE synth_attempts (
    id                   INTEGER PRIMARY KEY,
    skill_id             TEXT NOT NULL REFERENCES skills(id),
    outcome              TEXT NOT NULL CHECK (outcome IN ('proposed', 'existing', 'no_op')),
    proposal_id          TEXT REFERENCES proposals(id),
    failure_reason_code  TEXT,
    message              TEXT NOT NULL,
    source               TEXT NOT NULL CHECK (source IN ('ollama', 'replay')),
    model                TEXT NOT NULL,
    model_digest         TEXT NOT NULL,
    request_sha256       TEXT,
    base_commit          TEXT,
    duration_ms          INTEGER NOT NULL,
    at                   TEXT NOT NULL,
    audit_seq            INTEGER NOT NULL REFERENCES audit_events(seq),
    CHECK ((outcome = 'no_op') = (failure_reason_code IS NOT NULL)),
    CHECK ((outcome = 'no_op') = (proposal_id IS NULL))
) STRICT;
CREATE INDEX synth_attempts_by_skill ON synth_attempts(skill_id, id);
