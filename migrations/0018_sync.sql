-- Team sync through git (issue 13 item 6; docs/sync.md). What other devices published under
-- `refs/oxide/devices/<device keyid>/*` and this database accepted AFTER it verified.

-- sync orchestrator: the devices this database knows, each with the endorsement that makes
-- its keys trusted: a DSSE envelope (in-toto Statement, predicate
-- https://oxide-review.dev/device-endorsement/v1) signed by a person key of the committed
-- trust registry over the device's checkpoint key and its workspace instance key. Kept
-- verbatim; re-verified against the registry committed NOW every time it is used.
-- `local` = 1 for this database's own device (its endorsement, made by `oxide sync`).
CREATE TABLE sync_devices (
    device_keyid    TEXT PRIMARY KEY,
    instance_keyid  TEXT NOT NULL,
    device_public   TEXT NOT NULL,      -- OpenSSH
    instance_public TEXT NOT NULL,      -- OpenSSH
    person          TEXT NOT NULL,      -- the endorsing person (from the registry, not the claim)
    endorsement     TEXT NOT NULL,      -- the DSSE envelope, verbatim
    local           INTEGER NOT NULL CHECK (local IN (0, 1)),
    first_seen      TEXT NOT NULL,
    last_seen       TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX sync_devices_one_local ON sync_devices(local) WHERE local = 1;

-- sync orchestrator: the newest signed checkpoint (C2SP signed note by the device key) of
-- each remote device's audit segment that verified; its size is how far that device's
-- imported chain is covered.
CREATE TABLE sync_checkpoints (
    device_keyid  TEXT NOT NULL REFERENCES sync_devices(device_keyid),
    seq           INTEGER NOT NULL,
    hash          TEXT NOT NULL,
    note          TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    PRIMARY KEY (device_keyid, seq)
) STRICT;

-- sync orchestrator: what arrived from another device and was applied here, so this device
-- does not publish it again as its own (validation runs keep their origin device's
-- signature, which is published with them).
CREATE TABLE sync_imports (
    kind          TEXT NOT NULL CHECK (kind IN ('proposal', 'validation', 'approval', 'refusal')),
    item          TEXT NOT NULL,        -- proposal id, run id, approval nonce, refusal digest
    device_keyid  TEXT NOT NULL,
    detail        TEXT NOT NULL,        -- JSON: the signed summary / publication as received
    imported_at   TEXT NOT NULL,
    PRIMARY KEY (kind, item)
) STRICT;

-- sync orchestrator: one row per `oxide sync` (what moved, what was refused), newest last.
CREATE TABLE sync_runs (
    id           INTEGER PRIMARY KEY,
    remote       TEXT NOT NULL,
    at           TEXT NOT NULL,
    pushed       INTEGER NOT NULL,
    fetched      INTEGER NOT NULL,
    report       TEXT NOT NULL          -- the sync report, canonical JSON
) STRICT;

-- audit (foundation): other devices' audit events, exactly as their chains hold them, in
-- their own seq order per device. Only appended after the segment verified (chain + a
-- checkpoint signed by the endorsed device key); never part of this database's own chain.
CREATE TABLE audit_device_events (
    device   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    ts       TEXT NOT NULL,
    actor    TEXT NOT NULL,
    kind     TEXT NOT NULL,
    subject  TEXT NOT NULL,
    payload  TEXT NOT NULL,
    prev     TEXT,
    hash     TEXT NOT NULL,
    PRIMARY KEY (device, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX audit_device_events_by_ts ON audit_device_events(ts, device, seq);
CREATE TRIGGER audit_device_events_no_update BEFORE UPDATE ON audit_device_events
BEGIN SELECT RAISE(ABORT, 'imported audit events are append-only'); END;
CREATE TRIGGER audit_device_events_no_delete BEFORE DELETE ON audit_device_events
BEGIN SELECT RAISE(ABORT, 'imported audit events are append-only'); END;
