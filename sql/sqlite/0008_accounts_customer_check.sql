-- rekon warehouse, SQLite: nothing to change. The Postgres migration of the
-- same number replaces the per-row foreign key of provider_accounts.customer_id
-- by a per-statement check on insert, because Postgres row-locks the customer
-- of every inserted account; SQLite's per-row check is an in-process index
-- probe and stays. Kept so both backends number their migrations alike.
SELECT 1;
