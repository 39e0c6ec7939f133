-- signing room: approvals. Each row keeps the DSSE envelope exactly as it was signed
-- (`envelope`, verbatim JSON); the other columns are indexes copied from it for lookups and
-- are never trusted: every status is computed from the envelope against the committed trust
-- registry, and a row whose columns disagree with its envelope is reported as tampered.
-- One approval, one nonce: a second row with the same nonce is refused.
CREATE TABLE approvals (
    id             INTEGER PRIMARY KEY,
    proposal_id    TEXT NOT NULL REFERENCES proposals(id),
    envelope       TEXT NOT NULL,
    keyid          TEXT NOT NULL,
    person         TEXT NOT NULL,
    decision       TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
    nonce          TEXT NOT NULL UNIQUE,
    bundle_digest  TEXT NOT NULL,
    issued_at      TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    stored_at      TEXT NOT NULL,
    audit_seq      INTEGER NOT NULL REFERENCES audit_events(seq)
) STRICT;
CREATE INDEX approvals_by_proposal ON approvals(proposal_id, id);
CREATE INDEX approvals_by_person ON approvals(person, id);
