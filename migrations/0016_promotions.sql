-- rollout (orchestrator): promotions and their intent journal (docs/promotion.md).
-- Crash safety: an intent row is committed BEFORE the target ref moves (compare-and-swap);
-- then ONE transaction writes the promotion row, the workflow `promote` transition, the audit
-- event and marks the intent done. A process killed in between leaves a `pending` intent that
-- `rollout::reconcile` finishes (the ref holds the commit, whose trailers name the proposal)
-- or abandons (the ref did not move). The owner columns let a live promotion's intent alone.
CREATE TABLE promotion_intents (
    id           INTEGER PRIMARY KEY,
    proposal_id  TEXT NOT NULL REFERENCES proposals(id),
    target_ref   TEXT NOT NULL,
    old_head     TEXT NOT NULL,
    new_commit   TEXT NOT NULL,
    person       TEXT NOT NULL,
    keyid        TEXT NOT NULL,
    approval_keyids TEXT NOT NULL,
    carried_over INTEGER NOT NULL CHECK (carried_over IN (0, 1)),
    gates        TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'done', 'abandoned')),
    owner_pid    INTEGER NOT NULL,
    owner_start  INTEGER NOT NULL,
    owner_token  TEXT NOT NULL,
    at           TEXT NOT NULL,
    finished_at  TEXT,
    checkout     TEXT NOT NULL CHECK (checkout IN ('none', 'pending', 'done'))
) STRICT;
-- At most one promotion of a proposal in flight.
CREATE UNIQUE INDEX promotion_intents_one_pending ON promotion_intents(proposal_id)
    WHERE status = 'pending';
CREATE INDEX promotion_intents_by_status ON promotion_intents(status, id);

-- One row per promoted proposal: never promoted twice.
CREATE TABLE promotions (
    proposal_id  TEXT PRIMARY KEY REFERENCES proposals(id),
    target_ref   TEXT NOT NULL,
    old_head     TEXT NOT NULL,
    commit_id    TEXT NOT NULL UNIQUE,
    person       TEXT NOT NULL,
    keyid        TEXT NOT NULL,
    approval_keyids TEXT NOT NULL,
    carried_over INTEGER NOT NULL CHECK (carried_over IN (0, 1)),
    intent_id    INTEGER NOT NULL REFERENCES promotion_intents(id),
    at           TEXT NOT NULL,
    audit_seq    INTEGER NOT NULL REFERENCES audit_events(seq)
) STRICT;
