-- rekon warehouse, Postgres: the customer lookups by national-ID hash and
-- by phone index only customers that have one.
--
-- Most customers come from ELKASSA, which lists neither, so 0002's indexes
-- held a NULL entry for nearly every row, written on every insert: a COPY
-- of 90,000 such customers took 0.31-0.35 s with them and 0.20 s with these.
-- A lookup `identity_hash = $1` (or `phone_e164 = $1`) implies the column
-- is not null, so it uses the partial index as it used the full one.

DROP INDEX rekon.customers_identity;
CREATE INDEX customers_identity ON rekon.customers (identity_hash) WHERE identity_hash IS NOT NULL;
DROP INDEX rekon.customers_phone;
CREATE INDEX customers_phone ON rekon.customers (phone_e164) WHERE phone_e164 IS NOT NULL;
