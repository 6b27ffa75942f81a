-- Which claim holds an email: a sender whose lease ran out (its renewals failed) and was claimed
-- anew must not extend, release or end the new holder's claim. Each claim statement writes its
-- own token; renewals, releases and refusals act only on rows still bearing it.
ALTER TABLE email_deliveries ADD COLUMN claim_token uuid;
