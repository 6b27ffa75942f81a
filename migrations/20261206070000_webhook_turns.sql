-- When a sender last claimed a delivery of the endpoint: claims serve the endpoints least
-- recently served first, so endpoints whose backlogs stay due (failing or slow ones) take turns
-- with the others instead of being served first for having the lower ids.
ALTER TABLE webhooks ADD COLUMN last_claimed_at timestamptz;
