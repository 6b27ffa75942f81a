-- When an email's sends first failed with a reply that may pass on a retry (a full mailbox,
-- greylisting, an outage). An email still failing EMAIL_MAX_RETRY_HOURS after that is given up
-- (`undeliverable`), as an MTA bounces a message past its queue lifetime; a resend clears it.
-- Rows pending at this migration start counting at their next failure.
ALTER TABLE email_deliveries ADD COLUMN IF NOT EXISTS first_failed_at timestamptz;
