-- rekon warehouse, SQLite: a digest of what ELKASSA last listed per account,
-- so a nightly sync writes only the accounts that changed (see the Postgres
-- migration for the column comment).

ALTER TABLE provider_accounts ADD COLUMN source_digest INTEGER;
