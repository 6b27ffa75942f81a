-- One row per (order, kind) email: the unique key is what makes "exactly one email" hold
-- across retries, crashes and racing workers. A sender claims the row with a lease before
-- talking to SMTP and marks it sent afterwards.
CREATE TABLE email_deliveries (
  order_id      uuid NOT NULL REFERENCES orders (id),
  kind          text NOT NULL CHECK (kind IN ('order_confirmation', 'order_failure')),
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent')),
  message_id    text NOT NULL,
  attempts      integer NOT NULL DEFAULT 0,
  claimed_until timestamptz,
  last_error    text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  sent_at       timestamptz,
  PRIMARY KEY (order_id, kind)
);
CREATE INDEX email_deliveries_unsent_idx ON email_deliveries (created_at) WHERE status <> 'sent';
