-- Binder v1 (seed 001, K1-K3): wrapper envelopes -> bindings -> capsules.
-- CHECKs spell enumerations with OR: an IN list costs an ephemeral b-tree per inserted row.
-- binder room. The derived tables (bindings, capsules, conditions) hold only values that
-- follow from the envelopes themselves, so any permutation or duplication of a snapshot
-- gives byte-identical rows: counts are sums, first/last timestamps are min/max.

-- One accepted envelope (a "binding"). Idempotency key (run_id, task_id, group_id,
-- binder_version); lineage (event_id, sequence, run_id) is kept as received.
CREATE TABLE binder_bindings (
    run_id              TEXT NOT NULL,
    task_id             TEXT NOT NULL,
    group_id            TEXT NOT NULL,
    binder_version      INTEGER NOT NULL,
    event_id            TEXT NOT NULL,
    sequence            INTEGER NOT NULL CHECK (sequence >= 0),
    signal              TEXT NOT NULL CHECK (signal = 'pass' OR signal = 'fail' OR signal = 'deny' OR signal = 'error'),
    wrapper_policy      TEXT NOT NULL CHECK (wrapper_policy = 'strict' OR wrapper_policy = 'hybrid' OR wrapper_policy = 'lenient'),
    effective_mode      TEXT NOT NULL CHECK (effective_mode = 'strict' OR effective_mode = 'hybrid' OR effective_mode = 'lenient'),
    scope               TEXT NOT NULL,
    target_kind         TEXT NOT NULL,
    target_id           TEXT NOT NULL,
    action_kind         TEXT NOT NULL,
    failure_reason_code TEXT,
    policy_reason_code  TEXT,
    fingerprint_hash    TEXT NOT NULL,
    gates               TEXT NOT NULL,     -- JSON array, sorted by name: [{name, version, status}]
    env                 TEXT NOT NULL,     -- JSON object, normalized (see docs/binder.md)
    evidence_refs       TEXT NOT NULL,     -- JSON array as received
    observed_at         TEXT NOT NULL,     -- RFC 3339 UTC, millisecond precision
    anomalies           TEXT NOT NULL,     -- JSON array of anomaly trigger codes
    derivation          TEXT NOT NULL CHECK (derivation = 'support' OR derivation = 'contradiction' OR derivation = 'none'),
    UNIQUE (run_id, task_id, group_id, binder_version)
) STRICT;

-- A learned failure/denial pattern. upsert_key = sha256 of the canonical JSON of
-- [scope, target_kind, target_id, action_kind, failure_reason_code, fingerprint_hash,
--  binder_version, policy_reason_code].
CREATE TABLE binder_capsules (
    id                  INTEGER PRIMARY KEY,   -- internal; never shown, never compared
    upsert_key          TEXT NOT NULL UNIQUE,
    condition_key       TEXT NOT NULL,
    kind                TEXT NOT NULL CHECK (kind = 'failure' OR kind = 'denial'),
    scope               TEXT NOT NULL,
    target_kind         TEXT NOT NULL,
    target_id           TEXT NOT NULL,
    action_kind         TEXT NOT NULL,
    failure_reason_code TEXT NOT NULL,     -- '' when a denial carried none
    policy_reason_code  TEXT NOT NULL,     -- '' for failure capsules
    fingerprint_hash    TEXT NOT NULL,
    binder_version      INTEGER NOT NULL
) STRICT;
-- The counters of a capsule, in a narrow row: every batch updates many capsules, and
-- narrow rows keep the pages (and WAL) it rewrites few.
CREATE TABLE binder_capsule_stats (
    capsule_id          INTEGER PRIMARY KEY REFERENCES binder_capsules(id),
    support_count       INTEGER NOT NULL CHECK (support_count >= 0),
    inferred_count      INTEGER NOT NULL CHECK (inferred_count >= 0),
    first_seen_ts       TEXT NOT NULL,
    last_seen_ts        TEXT NOT NULL
) STRICT;
CREATE INDEX binder_capsules_condition ON binder_capsules (condition_key);
CREATE INDEX binder_capsules_target ON binder_capsules (scope, target_kind, target_id, action_kind);

-- Outcomes per condition (taskspec without reason + fingerprint): passes contradict the
-- capsules of the condition, guard denials make its failure capsules policy-incompatible.
-- condition_key = sha256 of the canonical JSON of
-- [scope, target_kind, target_id, action_kind, fingerprint_hash, binder_version].
CREATE TABLE binder_conditions (
    condition_key       TEXT PRIMARY KEY,
    pass_count          INTEGER NOT NULL CHECK (pass_count >= 0),
    deny_count          INTEGER NOT NULL CHECK (deny_count >= 0),
    first_pass_ts       TEXT,
    last_pass_ts        TEXT
) STRICT;

-- Lines that were not accepted, never dropped silently. Keyed by the sha256 of the raw
-- line bytes, so re-ingesting the same file does not quarantine the same line twice.
CREATE TABLE binder_quarantine (
    line_digest         TEXT PRIMARY KEY,
    source              TEXT NOT NULL,
    line                INTEGER NOT NULL CHECK (line >= 1),
    code                TEXT NOT NULL,
    message             TEXT NOT NULL,
    excerpt             TEXT NOT NULL,     -- the first 200 characters, lossy UTF-8
    byte_len            INTEGER NOT NULL,
    quarantined_at      TEXT NOT NULL
) STRICT;

-- One row per `binder ingest`; status 'running' until its last batch committed.
CREATE TABLE binder_ingest_runs (
    id                  INTEGER PRIMARY KEY,
    source              TEXT NOT NULL,
    source_digest       TEXT,
    fallback_mode       TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status = 'running' OR status = 'complete'),
    lines               INTEGER NOT NULL DEFAULT 0,
    accepted            INTEGER NOT NULL DEFAULT 0,
    duplicates          INTEGER NOT NULL DEFAULT 0,
    quarantined         INTEGER NOT NULL DEFAULT 0,
    started_at          TEXT NOT NULL,
    finished_at         TEXT
) STRICT;

-- Query primitives (seed 001, K2). Each has a total order; binder::query repeats it.
CREATE VIEW mv_recent_failures_by_taskspec AS
SELECT scope, target_kind, target_id, action_kind, failure_reason_code,
       count(*) AS failures, min(observed_at) AS first_failure_ts,
       max(observed_at) AS last_failure_ts
FROM binder_bindings
WHERE signal = 'fail' AND failure_reason_code IS NOT NULL
GROUP BY scope, target_kind, target_id, action_kind, failure_reason_code
ORDER BY last_failure_ts DESC, scope, target_kind, target_id, action_kind, failure_reason_code;

CREATE VIEW mv_gate_rollup_by_failure_reason_code AS
SELECT b.failure_reason_code AS failure_reason_code,
       json_extract(g.value, '$.name') AS gate,
       count(*) AS envelopes,
       sum(json_extract(g.value, '$.status') = 'fail') AS gate_failures,
       sum(json_extract(g.value, '$.status') = 'pass') AS gate_passes
FROM binder_bindings b, json_each(b.gates) g
WHERE b.signal = 'fail' AND b.failure_reason_code IS NOT NULL
GROUP BY b.failure_reason_code, json_extract(g.value, '$.name')
ORDER BY failure_reason_code, gate;

CREATE VIEW mv_guard_denials_by_policy_reason_code AS
SELECT policy_reason_code, scope, target_kind, target_id, action_kind,
       count(*) AS denials, max(observed_at) AS last_denied_ts
FROM binder_bindings
WHERE signal = 'deny' AND policy_reason_code IS NOT NULL
GROUP BY policy_reason_code, scope, target_kind, target_id, action_kind
ORDER BY policy_reason_code, denials DESC, scope, target_kind, target_id, action_kind;
