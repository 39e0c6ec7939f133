-- workflow room: who could have created a proposal when this device could not tell which
-- person did (docs/roles.md, "Who initiated a proposal"). `initiator` is the person resolved
-- on the proposing device (who-I-am, else the only person whose key its keyring holds) or,
-- for a proposal received through sync, the publishing device's endorsed person. When no
-- single person resolves (no key here, or several persons' keys and no who-I-am),
-- `initiator` is NULL and this column holds the JSON array of the persons whose keys this
-- device held then; the tally excludes them and every person with a key made in this
-- database. NULL for a resolved initiator and for rows from before (whose `initiator` is
-- the audit actor they were admitted under).
ALTER TABLE proposals ADD COLUMN initiator_candidates TEXT;
