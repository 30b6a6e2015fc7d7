-- rekon warehouse, SQLite: as the Postgres migration of the same number, the
-- customer lookups by national-ID hash and by phone index only customers
-- that have one (most ELKASSA customers have neither). A lookup
-- `identity_hash = ?` implies the column is not null, so SQLite uses the
-- partial index for it.

DROP INDEX customers_identity;
CREATE INDEX customers_identity ON customers (identity_hash) WHERE identity_hash IS NOT NULL;
DROP INDEX customers_phone;
CREATE INDEX customers_phone ON customers (phone_e164) WHERE phone_e164 IS NOT NULL;
