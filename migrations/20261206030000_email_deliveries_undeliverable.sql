-- A message the mail server refused for good (a 5xx reply to its recipient or content) is
-- `undeliverable`: no job and no reconciler round sends it again, and `last_error` keeps the
-- server's reply for operators.
ALTER TABLE email_deliveries DROP CONSTRAINT email_deliveries_status_check;
ALTER TABLE email_deliveries ADD CONSTRAINT email_deliveries_status_check CHECK (status IN ('pending', 'sent', 'undeliverable'));
