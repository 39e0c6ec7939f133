-- The pipeline's first tables: skills, proposals and their guarded transitions.
-- Later migrations extend these; each table is owned by one room of oxide-core.

-- skill room
CREATE TABLE skills (
    id            TEXT PRIMARY KEY,          -- short id of the digest
    digest        TEXT NOT NULL UNIQUE,      -- sha256 of the canonical descriptor
    title         TEXT NOT NULL,
    source        TEXT NOT NULL CHECK (source IN ('host', 'capsule', 'manual')),
    submitted_by  TEXT NOT NULL,
    descriptor    TEXT NOT NULL,             -- canonical JSON, untrusted text
    created_at    TEXT NOT NULL
) STRICT;

-- proposal room
CREATE TABLE proposals (
    id                   TEXT PRIMARY KEY,    -- short id of the bundle digest
    digest               TEXT NOT NULL UNIQUE,
    skill_id             TEXT REFERENCES skills(id),
    state                TEXT NOT NULL CHECK (state IN (
                           'discovered', 'proposed', 'validated', 'approved', 'promoted',
                           'no_op', 'quarantined', 'failed_validation', 'denied', 'rejected',
                           'superseded', 'rolled_back')),
    bundle               TEXT NOT NULL,       -- canonical JSON of the immutable bundle
    failure_reason_code  TEXT,
    policy_reason_code   TEXT,
    superseded_by        TEXT REFERENCES proposals(id),
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
) STRICT;
CREATE INDEX proposals_by_state ON proposals(state);

-- workflow room: guard evaluation records, passed or denied.
CREATE TABLE transitions (
    id                   INTEGER PRIMARY KEY,
    proposal_id          TEXT NOT NULL REFERENCES proposals(id),
    from_state           TEXT NOT NULL,
    to_state             TEXT NOT NULL,
    guard                TEXT NOT NULL,
    outcome              TEXT NOT NULL CHECK (outcome IN ('passed', 'denied')),
    failure_reason_code  TEXT,
    policy_reason_code   TEXT,
    inputs_digest        TEXT NOT NULL,
    at                   TEXT NOT NULL,
    audit_seq            INTEGER NOT NULL REFERENCES audit_events(seq)
) STRICT;
CREATE INDEX transitions_by_proposal ON transitions(proposal_id, id);
