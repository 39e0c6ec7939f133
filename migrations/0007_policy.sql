-- policy room: every policy decision with its full input and output and the digest of the
-- policy that made it. `oxide policy snapshot export` writes these rows; `oxide policy sim`
-- replays their inputs through another policy.

CREATE TABLE policy_decisions (
    id                  INTEGER PRIMARY KEY,
    proposal_id         TEXT,                 -- NULL for a bare input document (`--input`)
    subject             TEXT NOT NULL,        -- proposal id, or `input:<short digest>`
    input               TEXT NOT NULL,        -- canonical JSON of the input document
    input_digest        TEXT NOT NULL,
    output              TEXT NOT NULL,        -- canonical JSON of the decision
    policy_digest       TEXT NOT NULL,
    outcome             TEXT NOT NULL CHECK (outcome IN ('allowed', 'denied')),
    risk                TEXT NOT NULL CHECK (risk IN ('low', 'medium', 'high', 'critical')),
    policy_reason_code  TEXT,                 -- set iff denied
    decided_at          TEXT NOT NULL,
    actor               TEXT NOT NULL,
    audit_seq           INTEGER NOT NULL REFERENCES audit_events(seq),
    CHECK ((outcome = 'denied') = (policy_reason_code IS NOT NULL))
) STRICT;
CREATE INDEX policy_decisions_by_proposal ON policy_decisions(proposal_id, id);

CREATE TRIGGER policy_decisions_no_update BEFORE UPDATE ON policy_decisions
BEGIN SELECT RAISE(ABORT, 'policy decisions are append-only'); END;
CREATE TRIGGER policy_decisions_no_delete BEFORE DELETE ON policy_decisions
BEGIN SELECT RAISE(ABORT, 'policy decisions are append-only'); END;
