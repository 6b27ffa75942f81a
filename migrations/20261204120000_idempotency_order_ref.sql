-- An Idempotency-Key now refers to the order its request placed instead of holding a copy of
-- the response: a replay reads the order and answers it as it was placed (pending, its first
-- history entry), so the placement statement no longer builds the order's JSON in SQL a second
-- time, and a key takes ~310 bytes with its indexes instead of ~1 KB. No foreign key: the key and
-- its order are written by one statement, and orders are never deleted (a user who has orders
-- cannot be), so the check would only cost the insert a lookup.
-- `response_body` stays for rows written before this change; they age out within 48 h.
ALTER TABLE idempotency_keys ADD COLUMN order_id uuid;
