-- User and product names are one line of printable text (src/shared/text.ts). Names stored
-- before that rule may hold line breaks or other control characters, which would reach the
-- shop's emails and logs: each run of them becomes one space; a name left empty falls back to
-- the email's local part (users) or the SKU (products).
UPDATE users
SET name = left(coalesce(nullif(btrim(regexp_replace(name, '[\x01-\x1F\x7F-\x9F\u2028\u2029]+', ' ', 'g')), ''), split_part(email, '@', 1)), 100)
WHERE name ~ '[\x01-\x1F\x7F-\x9F\u2028\u2029]';

UPDATE products
SET name = coalesce(nullif(btrim(regexp_replace(name, '[\x01-\x1F\x7F-\x9F\u2028\u2029]+', ' ', 'g')), ''), sku)
WHERE name ~ '[\x01-\x1F\x7F-\x9F\u2028\u2029]';
