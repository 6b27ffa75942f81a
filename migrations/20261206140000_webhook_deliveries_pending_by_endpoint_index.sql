-- migrate:no-transaction (built without blocking writes to a table that may be large by now)
-- An endpoint's pending deliveries in the order claims take them: a claim looks up each
-- endpoint's first due delivery through it. Through the due index (every endpoint's pending
-- deliveries by time) each claim read every due delivery of every endpoint, for each endpoint:
-- a dead endpoint's backlog (thousands of deliveries due, one attempt at a time) was read again
-- on every event signal, poll and finished attempt.
CREATE INDEX CONCURRENTLY IF NOT EXISTS webhook_deliveries_pending_by_webhook_idx ON webhook_deliveries (webhook_id, next_attempt_at, event_seq) WHERE status = 'pending';
