-- binder room: bindings clustered by their idempotency key. The table was a rowid table
-- plus a UNIQUE index on (run_id, task_id, group_id, binder_version): two b-trees written per
-- stored envelope. As a WITHOUT ROWID table keyed by the idempotency key it is one b-tree,
-- and the duplicate check of an ingest is the primary-key lookup itself. Nothing refers to
-- a binding's rowid. The views over the table are dropped and created again unchanged.

DROP VIEW mv_recent_failures_by_taskspec;
DROP VIEW mv_gate_rollup_by_failure_reason_code;
DROP VIEW mv_guard_denials_by_policy_reason_code;

CREATE TABLE binder_bindings_clustered (
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
    PRIMARY KEY (run_id, task_id, group_id, binder_version)
) STRICT, WITHOUT ROWID;

INSERT INTO binder_bindings_clustered
SELECT run_id, task_id, group_id, binder_version, event_id, sequence, signal, wrapper_policy,
       effective_mode, scope, target_kind, target_id, action_kind, failure_reason_code,
       policy_reason_code, fingerprint_hash, gates, env, evidence_refs, observed_at, anomalies,
       derivation
FROM binder_bindings;

DROP TABLE binder_bindings;
ALTER TABLE binder_bindings_clustered RENAME TO binder_bindings;

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
