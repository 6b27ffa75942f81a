-- migrate:no-transaction (built without blocking writes to a table that may be large by now)
-- The few deliveries leased to a sender (in flight, or left by a sender that died), by endpoint,
-- whatever their status (disabling an endpoint ends a delivery in flight, its lease kept):
-- a claim skips an endpoint with one in flight, which it read through every pending delivery of
-- the endpoint (a dead endpoint's whole backlog) before.
CREATE INDEX CONCURRENTLY IF NOT EXISTS webhook_deliveries_leased_idx ON webhook_deliveries (webhook_id, leased_until) WHERE leased_until IS NOT NULL;
