-- The statement that finishes an order (completed or failed) now writes its email's row, as
-- `pending` with no Message-ID yet: an email owed is on record from the moment it is owed, so
-- the reconciler finds unsent emails through the small index of pending rows instead of
-- scanning every finished order. The first claim sets the Message-ID.
ALTER TABLE email_deliveries ALTER COLUMN message_id DROP NOT NULL;

DROP INDEX IF EXISTS email_deliveries_unsent_idx;
CREATE INDEX IF NOT EXISTS email_deliveries_pending_idx ON email_deliveries (created_at) WHERE status = 'pending';
-- Refused emails are rare; operators count them (GET /api/admin/pipeline) without a table scan.
CREATE INDEX IF NOT EXISTS email_deliveries_undeliverable_idx ON email_deliveries (created_at) WHERE status = 'undeliverable';

-- Orders finished before this migration whose email has no row yet (in flight, or lost).
INSERT INTO email_deliveries (order_id, kind, created_at)
SELECT id, CASE status WHEN 'completed' THEN 'order_confirmation' ELSE 'order_failure' END, updated_at
FROM orders WHERE status IN ('completed', 'failed')
ON CONFLICT (order_id, kind) DO NOTHING;
