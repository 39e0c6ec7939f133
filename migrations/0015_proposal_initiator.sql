-- workflow room: who created a proposal (the actor of `admit`), so that the two-person rule
-- can keep the initiator from approving their own proposal. Rows from before take the actor
-- of their recorded `workflow.admit` audit event.
ALTER TABLE proposals ADD COLUMN initiator TEXT;
UPDATE proposals SET initiator = (
    SELECT actor FROM audit_events
    WHERE subject = proposals.id AND kind = 'workflow.admit'
    ORDER BY seq LIMIT 1
);
