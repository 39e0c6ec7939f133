-- signing room: the PUBLIC side of every signing key this database knows. The private key
-- (its 32-byte ed25519 seed) lives only in the OS keyring (service "dev.oxide.review"); a
-- row holds the key's id, what it is for, whose it is, its OpenSSH public form, the keyring
-- entry it points at and its life (created, replaced by a rotation, revoked and why).
-- Never a private key, in any encoding.
--
-- keyid = lowercase hex sha256 of the 32 raw public-key bytes (docs/approvals.md).
-- purpose: 'person' (a person's signing key; entry `person:<id>`, shared by every workspace
-- on the machine), 'instance' (this workspace's O.X.I.D.E key; entry `instance:<keyid>`),
-- 'device' (this device's audit-checkpoint key; entry `device:<keyid>`).

CREATE TABLE signing_keys (
    keyid          TEXT PRIMARY KEY CHECK (length(keyid) = 64 AND keyid NOT GLOB '*[^0-9a-f]*'),
    purpose        TEXT NOT NULL CHECK (purpose IN ('person', 'instance', 'device')),
    person         TEXT,                 -- set iff purpose = 'person'
    public         TEXT NOT NULL,        -- OpenSSH: `ssh-ed25519 AAAA... comment`
    keyring_entry  TEXT NOT NULL,        -- the keyring user name holding the seed
    created_at     TEXT NOT NULL,
    rotated_at     TEXT,                 -- a newer key replaced it (person keys)
    revoked_at     TEXT,
    revoke_reason  TEXT,
    CHECK ((purpose = 'person') = (person IS NOT NULL)),
    CHECK ((revoked_at IS NULL) = (revoke_reason IS NULL))
) STRICT;
-- One instance key and one device key per database; one current key per person.
CREATE UNIQUE INDEX signing_keys_one_per_database ON signing_keys(purpose)
    WHERE purpose IN ('instance', 'device');
CREATE UNIQUE INDEX signing_keys_current_person ON signing_keys(person)
    WHERE purpose = 'person' AND rotated_at IS NULL;

-- What a key is never changes, and a revocation or rotation is never undone.
CREATE TRIGGER signing_keys_identity_fixed BEFORE UPDATE OF keyid, purpose, person, public, keyring_entry, created_at ON signing_keys
BEGIN SELECT RAISE(ABORT, 'a signing key''s identity never changes'); END;
CREATE TRIGGER signing_keys_no_unrevoke BEFORE UPDATE OF revoked_at, revoke_reason ON signing_keys
    WHEN OLD.revoked_at IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'a revocation is never undone'); END;
CREATE TRIGGER signing_keys_no_unrotate BEFORE UPDATE OF rotated_at ON signing_keys
    WHEN OLD.rotated_at IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'a rotation is never undone'); END;
CREATE TRIGGER signing_keys_no_delete BEFORE DELETE ON signing_keys
BEGIN SELECT RAISE(ABORT, 'signing keys are never deleted; revoke them'); END;
