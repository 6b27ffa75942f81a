-- Endpoints disabled before disabling ended their deliveries (updateWebhook now marks what an
-- endpoint is still owed `failed` at the moment it is disabled) still hold `pending` deliveries,
-- which would all go out, stale, when the endpoint is enabled again. They end here as if the
-- endpoint had been disabled now, with the same error; each can be redelivered by hand. A
-- delivery leased to a live sender is left to its attempt, which is not retried while the
-- endpoint is disabled (recordAttempt), as when an endpoint is disabled through the API.
UPDATE webhook_deliveries d SET status = 'failed', last_error = 'the endpoint was disabled', updated_at = now()
FROM webhooks w
WHERE w.id = d.webhook_id AND NOT w.enabled
  AND d.status = 'pending' AND (d.leased_until IS NULL OR d.leased_until < now());
