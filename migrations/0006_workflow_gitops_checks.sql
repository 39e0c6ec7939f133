-- Issue 5: proposal branches (gitops room) and validation runs with their check results
-- (checks room). Guard evaluation records live in `transitions` (0002, workflow room).

-- gitops room: the branch `oxide/proposals/<short-id>` made for a proposal.
CREATE TABLE proposal_branches (
    proposal_id  TEXT PRIMARY KEY REFERENCES proposals(id),
    branch       TEXT NOT NULL UNIQUE,
    base_commit  TEXT NOT NULL,
    head_commit  TEXT NOT NULL,
    created_at   TEXT NOT NULL
) STRICT;

-- checks room: one row per `oxide validate` run. A run is claimed (status 'running', with the
-- claiming process id and its worktree) before any check starts, so a run whose process died
-- is found and cleaned on the next start.
CREATE TABLE validation_runs (
    id             TEXT PRIMARY KEY,
    proposal_id    TEXT NOT NULL REFERENCES proposals(id),
    status         TEXT NOT NULL CHECK (status IN ('running', 'finished', 'abandoned')),
    pid            INTEGER NOT NULL,
    worktree_name  TEXT NOT NULL,
    worktree_path  TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    finished_at    TEXT
) STRICT;
CREATE INDEX validation_runs_by_proposal ON validation_runs(proposal_id, started_at);

-- checks room: one row per check of a finished run, with its wrapper envelope. `ingested`
-- turns 1 once the binder took it; a run killed before that is re-ingested on the next start
-- (binder ingestion is idempotent).
CREATE TABLE check_results (
    run_id               TEXT NOT NULL REFERENCES validation_runs(id),
    seq                  INTEGER NOT NULL,
    name                 TEXT NOT NULL,
    required             INTEGER NOT NULL CHECK (required IN (0, 1)),
    status               TEXT NOT NULL CHECK (status IN ('passed', 'failed', 'timed_out', 'error')),
    exit_code            INTEGER,
    duration_ms          INTEGER NOT NULL,
    failure_reason_code  TEXT,
    output               TEXT NOT NULL,           -- captured stdout+stderr, capped
    output_truncated     INTEGER NOT NULL CHECK (output_truncated IN (0, 1)),
    envelope             TEXT NOT NULL,           -- the wrapper envelope (canonical JSON)
    ingested             INTEGER NOT NULL DEFAULT 0 CHECK (ingested IN (0, 1)),
    PRIMARY KEY (run_id, seq)
) STRICT;
