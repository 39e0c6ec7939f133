-- workflow room: a proposal's initiator (and, unresolved, who could have initiated it) is
-- fixed when it is admitted (docs/roles.md, "Who initiated a proposal"); nothing updates
-- these columns afterwards. A local user with the database file can still drop this
-- trigger: the two-person rule then compares the row with the admission's audit event.
CREATE TRIGGER proposals_initiator_fixed BEFORE UPDATE OF initiator, initiator_candidates ON proposals
BEGIN SELECT RAISE(ABORT, 'a proposal''s initiator is fixed at admission'); END;
