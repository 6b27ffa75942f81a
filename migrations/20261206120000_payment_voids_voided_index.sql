-- Voids done, by when they were done: the reconciler deletes those past their retention (30 days)
-- through it, a batch at a time. The table is new and small (only give-ups owe a void), so the
-- index is built in the migration's transaction.
CREATE INDEX payment_voids_voided_idx ON payment_voids (voided_at) WHERE voided_at IS NOT NULL;
