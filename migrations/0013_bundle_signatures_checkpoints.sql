-- signing room: the instance key's signature over each admitted proposal bundle, and signed
-- checkpoints of the audit chain. Both hold public data only (signatures, key ids, notes);
-- the private keys stay in the OS keyring.

-- One signature per proposal, written in the admission transaction. `signature` is the
-- base64 ed25519 signature (by the workspace's instance key `keyid`) over the RFC 8785 bytes
-- of {"type": "https://oxide-review.dev/bundle-signature/v1", "proposal", "digest"}.
CREATE TABLE bundle_signatures (
    proposal_id  TEXT PRIMARY KEY REFERENCES proposals(id),
    digest       TEXT NOT NULL,           -- sha256:<hex> of the canonical bundle
    keyid        TEXT NOT NULL,           -- hex sha256 of the instance public key
    signature    TEXT NOT NULL,           -- base64, 64 bytes
    signed_at    TEXT NOT NULL
) STRICT;

-- A C2SP tlog-checkpoint signed note over the audit head: `note` is the whole note (origin,
-- size = seq, base64 root = the hash of event `seq`, blank line, signature lines); `seq`,
-- `hash` and `keyid` repeat what the note says, for lookups. The newest note is also kept in
-- the OS keyring (`witness:<device keyid>`), so deleted rows show.
CREATE TABLE audit_checkpoints (
    id          INTEGER PRIMARY KEY,
    seq         INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    keyid       TEXT NOT NULL,
    note        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (seq, keyid)
) STRICT;

-- Append-only (stops mistakes; verification is what catches someone holding the file).
CREATE TRIGGER bundle_signatures_no_update BEFORE UPDATE ON bundle_signatures
BEGIN SELECT RAISE(ABORT, 'bundle signatures are append-only'); END;
CREATE TRIGGER bundle_signatures_no_delete BEFORE DELETE ON bundle_signatures
BEGIN SELECT RAISE(ABORT, 'bundle signatures are append-only'); END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
