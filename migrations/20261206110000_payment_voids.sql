-- A charge that must be voided (refunded): written in the statement that gives an order up, or
-- when a charge was approved for an order that can no longer complete. Pending until the
-- provider confirms the void; `requests` counts the requests, so a void that ran before a
-- newer request (a charge approved after it) does not mark the newer one done.
CREATE TABLE payment_voids (
  order_id     uuid PRIMARY KEY REFERENCES orders (id),
  requests     integer NOT NULL DEFAULT 1,
  requested_at timestamptz NOT NULL DEFAULT now(),
  voided_at    timestamptz,
  last_error   text
);
CREATE INDEX payment_voids_pending_idx ON payment_voids (requested_at) WHERE voided_at IS NULL;
