-- rekon warehouse, SQLite: a branch still listed with its shop was last
-- seen when its shop was; branches becomes a view over branch_records that
-- reads that instant from the account. Same tables, columns and view as
-- sql/postgres/0007_branches_seen_with_account.sql, which says why.

ALTER TABLE provider_accounts ADD COLUMN merged_run INTEGER;
UPDATE provider_accounts SET merged_run = last_seen_run WHERE provider = 'elkassa';

ALTER TABLE branches RENAME TO branch_records;

CREATE VIEW branches AS
SELECT b.registration_id, b.cabang_id, b.name, b.address, b.first_seen_at,
       CASE WHEN b.removed_at IS NULL AND b.last_seen_run = a.merged_run THEN a.last_seen_at ELSE b.last_seen_at END AS last_seen_at,
       CASE WHEN b.removed_at IS NULL AND b.last_seen_run = a.merged_run THEN a.last_seen_run ELSE b.last_seen_run END AS last_seen_run,
       b.removed_at
FROM branch_records b
LEFT JOIN provider_accounts a ON a.provider = 'elkassa' AND a.external_id = b.registration_id;
