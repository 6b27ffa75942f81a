-- The relay claims a batch of events with a short lease (one statement, no transaction held
-- open) and publishes outside any lock: a process that cannot reach the queue never blocks
-- events that healthy processes can publish. A lease that runs out (the claimer crashed) is
-- claimed anew.
ALTER TABLE outbox_events ADD COLUMN claimed_until timestamptz;
