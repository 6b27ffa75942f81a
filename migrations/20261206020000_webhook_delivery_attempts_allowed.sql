-- How many attempts a delivery may make; NULL: WEBHOOK_MAX_ATTEMPTS. A redelivery allows one
-- more than it has made, so `attempts` keeps counting every attempt (it was lowered instead).
ALTER TABLE webhook_deliveries ADD COLUMN attempts_allowed integer;
