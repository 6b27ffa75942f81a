-- A refresh checks that no token of its family is revoked (see claimRefreshToken): a probe of
-- this small index, however many rotations the family has had.
CREATE INDEX refresh_tokens_revoked_family_idx ON refresh_tokens (family_id) WHERE revoked_at IS NOT NULL;
