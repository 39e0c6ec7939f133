-- rollout room (issue 13): canary runs after a promotion (REC-005) and rollbacks (REC-006),
-- with the rollback intent journal for crash safety.

-- One run of the committed contract's [[canary]] checks on a promotion commit. Claimed
-- ('running', with its owner like validation_runs) before any canary starts, so a run whose
-- process died is found and marked 'abandoned' by the next start. `results` holds the canary
-- results (canonical JSON array) once the run is over.
CREATE TABLE canary_runs (
    id                   TEXT PRIMARY KEY,
    proposal_id          TEXT NOT NULL REFERENCES proposals(id),
    promotion_commit     TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('running', 'passed', 'failed', 'abandoned')),
    pid                  INTEGER NOT NULL,
    owner_start          INTEGER,
    owner_token          TEXT,
    worktree_name        TEXT NOT NULL,
    worktree_path        TEXT NOT NULL,
    contract_at          TEXT NOT NULL,       -- the target commit the contract was read from
    started_at           TEXT NOT NULL,
    finished_at          TEXT,
    failure_reason_code  TEXT,
    results              TEXT                 -- canonical JSON array of check results
) STRICT;
CREATE INDEX canary_runs_by_proposal ON canary_runs(proposal_id, started_at);

-- The live log of a canary run: every progress event in order (check started, each output
-- line, check finished), so any process (the desktop too) can follow a run as it goes.
CREATE TABLE canary_events (
    run_id  TEXT NOT NULL REFERENCES canary_runs(id),
    seq     INTEGER NOT NULL,
    event   TEXT NOT NULL,                    -- JSON of checks::ValidationProgress
    PRIMARY KEY (run_id, seq)
) STRICT;

-- One rollback per proposal (the primary key: never rolled back twice). Written in the same
-- transaction as the RollBack transition, its audit event and the binder envelope; the
-- envelope is handed to the binder right after (`ingested` turns 1, idempotent on restart).
CREATE TABLE rollbacks (
    proposal_id          TEXT PRIMARY KEY REFERENCES proposals(id),
    target_ref           TEXT NOT NULL,
    promotion_commit     TEXT NOT NULL,
    old_head             TEXT NOT NULL,       -- the target head the revert was made on
    revert_commit        TEXT NOT NULL,
    person               TEXT NOT NULL,       -- who signed the revert commit
    keyid                TEXT NOT NULL,
    trigger              TEXT NOT NULL CHECK (trigger IN ('canary', 'manual')),
    failure_reason_code  TEXT NOT NULL,
    reason               TEXT NOT NULL,
    canary_run           TEXT REFERENCES canary_runs(id),
    memory_restored      TEXT NOT NULL,       -- canonical JSON array of memory entries restored
    envelope             TEXT NOT NULL,       -- the wrapper envelope for the binder (canonical JSON)
    ingested             INTEGER NOT NULL DEFAULT 0 CHECK (ingested IN (0, 1)),
    at                   TEXT NOT NULL,
    audit_seq            INTEGER NOT NULL REFERENCES audit_events(seq)
) STRICT;

-- The journal written BEFORE the target ref moves: committed, then the ref CAS, then one
-- transaction (rollbacks row + transition + audit + intent 'done'). A start that finds a
-- 'pending' intent looks at the ref: it holds the revert commit (or has moved past it) →
-- finished from the journal; otherwise → 'abandoned'.
CREATE TABLE rollback_intents (
    id                   INTEGER PRIMARY KEY,
    proposal_id          TEXT NOT NULL REFERENCES proposals(id),
    target_ref           TEXT NOT NULL,
    old_head             TEXT NOT NULL,
    new_head             TEXT NOT NULL,       -- the signed revert commit
    promotion_commit     TEXT NOT NULL,
    person               TEXT NOT NULL,
    keyid                TEXT NOT NULL,
    trigger              TEXT NOT NULL CHECK (trigger IN ('canary', 'manual')),
    failure_reason_code  TEXT NOT NULL,
    reason               TEXT NOT NULL,
    canary_run           TEXT REFERENCES canary_runs(id),
    pid                  INTEGER NOT NULL,    -- the owner (like validation_runs): a live
    owner_start          INTEGER NOT NULL,    -- owner's intent is never finished or abandoned
    owner_token          TEXT NOT NULL,       -- by another process
    at                   TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('pending', 'done', 'abandoned'))
) STRICT;
CREATE UNIQUE INDEX rollback_intents_one_pending ON rollback_intents(proposal_id)
    WHERE status = 'pending';
