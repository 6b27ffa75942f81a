-- Order events with a stream position (SSE ids and webhook ids), assigned by the events relay
-- when it copies committed outbox rows, under one lock. Outbox ids are taken at insert and can
-- commit out of order; positions are taken in commit order, so "seq > last seen" never skips.
ALTER TABLE outbox_events ADD COLUMN sequenced boolean NOT NULL DEFAULT true;
-- Rows written before this migration stay out of the stream; new rows wait for the relay.
ALTER TABLE outbox_events ALTER COLUMN sequenced SET DEFAULT false;
CREATE INDEX outbox_events_unsequenced_idx ON outbox_events (id) WHERE NOT sequenced;

CREATE TABLE order_events (
  seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- No foreign key: outbox rows are pruned after a week, events after their retention.
  outbox_id  bigint NOT NULL UNIQUE,
  order_id   uuid NOT NULL,
  user_id    uuid NOT NULL,
  type       text NOT NULL,
  -- The order as it was right after this change (contract shape).
  "order"    jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_events_order_idx ON order_events (order_id, seq);
CREATE INDEX order_events_user_idx ON order_events (user_id, seq);
CREATE INDEX order_events_created_idx ON order_events (created_at);
