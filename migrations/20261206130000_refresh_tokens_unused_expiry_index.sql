-- migrate:no-transaction (built without blocking refreshes of a table that may be large by now)
-- Each login's newest refresh token (its only unused one) by when it expires: once it has expired,
-- the login can refresh no more and the reconciler deletes all its tokens, a batch at a time;
-- until now every refresh token was kept for ever.
CREATE INDEX CONCURRENTLY IF NOT EXISTS refresh_tokens_unused_expiry_idx ON refresh_tokens (expires_at) WHERE used_at IS NULL;
