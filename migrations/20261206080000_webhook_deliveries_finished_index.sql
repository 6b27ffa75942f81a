-- migrate:no-transaction (built without blocking writes to a table that may be large by now)
-- Finished webhook deliveries by when they finished: the reconciler deletes those past their
-- retention (30 days) through it, a batch at a time; until now every delivery was kept for ever.
CREATE INDEX CONCURRENTLY IF NOT EXISTS webhook_deliveries_finished_idx ON webhook_deliveries (updated_at) WHERE status <> 'pending';
