-- migrate:no-transaction (built without blocking writes to a table that may be large by now)
-- Orders by the moment they finished (a terminal order's `updated_at`): the pipeline snapshot
-- (every 5 s per open console page) counts and times the orders finished in its window through
-- it instead of reading the whole table. Each completion adds one entry (status changes are
-- never HOT updates anyway: `status` is indexed).
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_finished_idx ON orders (updated_at) WHERE status IN ('completed', 'failed');
