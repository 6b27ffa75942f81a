-- An Idempotency-Key now refers to the order its request placed instead of holding a copy of
-- the response: a replay reads the order and answers it as it was placed (pending, its first
-- history entry), so the placement statement no longer builds the order's JSON in SQL a second
-- time and each key row is ~40 bytes instead of ~0.5–1 KB. No foreign key: the key and its order
-- are written by one statement, and both go only with their user (ON DELETE CASCADE).
-- `response_body` stays for rows written before this change; they age out within 48 h.
ALTER TABLE idempotency_keys ADD COLUMN order_id uuid;
