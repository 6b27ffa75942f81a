CREATE TABLE webhooks (
  id                          uuid PRIMARY KEY,
  url                         text NOT NULL,
  events                      text[] NOT NULL,
  description                 text NOT NULL DEFAULT '',
  enabled                     boolean NOT NULL DEFAULT true,
  -- `whsec_<base64>`; kept readable because every delivery is signed with it.
  secret                      text NOT NULL,
  -- After a rotation the old secret also signs, until it expires.
  previous_secret             text,
  previous_secret_expires_at  timestamptz,
  created_at                  timestamptz NOT NULL DEFAULT now(),
  updated_at                  timestamptz NOT NULL DEFAULT now()
);

-- One row per (event, endpoint), written by the events relay in the transaction that gives the
-- event its stream position, so an event is never lost between the outbox and a delivery.
CREATE TABLE webhook_deliveries (
  id               uuid PRIMARY KEY,
  webhook_id       uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  event_seq        bigint NOT NULL,
  type             text NOT NULL,
  -- The body sent on every attempt: {id, type, createdAt, data: {order}}.
  payload          jsonb NOT NULL,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  last_status_code integer,
  last_error       text,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  -- Set while a process is sending it; a crashed sender's lease runs out and another retries.
  leased_until     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (webhook_id, event_seq)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_list_idx ON webhook_deliveries (webhook_id, created_at DESC, id DESC);
