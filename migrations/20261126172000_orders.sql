CREATE TABLE orders (
  id             uuid PRIMARY KEY,
  user_id        uuid NOT NULL REFERENCES users (id),
  status         text NOT NULL CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled')),
  total_cents    bigint NOT NULL CHECK (total_cents >= 0),
  currency       char(3) NOT NULL,
  failure_reason text,
  -- [{status, at}] in order; appended by the same UPDATE that changes status.
  history        jsonb NOT NULL,
  -- Bumped by every transition; cached copies carry it so an older copy never replaces a newer one.
  version        integer NOT NULL DEFAULT 1,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
-- Keyset pagination, newest first, per user and overall.
CREATE INDEX orders_user_created_idx ON orders (user_id, created_at DESC, id DESC);
CREATE INDEX orders_created_idx ON orders (created_at DESC, id DESC);
CREATE INDEX orders_status_idx ON orders (status) WHERE status IN ('pending', 'processing');

CREATE TABLE order_items (
  order_id         uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  line_no          smallint NOT NULL,
  product_id       uuid NOT NULL REFERENCES products (id),
  sku              text NOT NULL,
  name             text NOT NULL,
  quantity         integer NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
  unit_price_cents bigint NOT NULL CHECK (unit_price_cents >= 0),
  line_total_cents bigint NOT NULL CHECK (line_total_cents = unit_price_cents * quantity),
  PRIMARY KEY (order_id, line_no),
  UNIQUE (order_id, product_id)
);

-- Idempotency-Key per user. The row is written in the same transaction as the order it
-- created, so a key exists exactly when its order does; a concurrent duplicate waits on the
-- unique index and then sees the stored response.
CREATE TABLE idempotency_keys (
  user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  key             text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
  request_hash    text NOT NULL,
  -- Filled in by the statement that inserts the order, in the same transaction.
  response_status smallint,
  response_body   jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Transactional outbox: written in the transaction that changes an order, published later.
CREATE TABLE outbox_events (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  topic        text NOT NULL,
  aggregate_id uuid NOT NULL,
  payload      jsonb NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz
);
CREATE INDEX outbox_events_unpublished_idx ON outbox_events (id) WHERE published_at IS NULL;
