-- The relay claims a batch of events with a short lease (one statement, no transaction held
-- open) and publishes outside any lock: a process that cannot reach the queue never blocks
-- events that healthy processes can publish. A lease that runs out (the claimer crashed) is
-- claimed anew.
ALTER TABLE outbox_events ADD COLUMN claimed_until timestamptz;

-- Every committed event wakes the relays (LISTEN outbox_events) instead of a fixed poll.
-- NOTIFY is delivered at commit, and identical notifications of one transaction are folded
-- into one, so a busy transaction costs one wake-up.
CREATE FUNCTION notify_outbox_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outbox_events', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER outbox_events_notify AFTER INSERT ON outbox_events
  FOR EACH ROW EXECUTE FUNCTION notify_outbox_event();
