-- rekon warehouse, SQLite: nothing to change. The Postgres migration of the
-- same number replaces the per-row foreign key of finding_records.run_id by
-- a per-statement check, because Postgres locks the referenced row for every
-- inserted finding; SQLite's per-row check is an in-process index probe
-- and stays. Kept so both backends number their migrations alike.
SELECT 1;
