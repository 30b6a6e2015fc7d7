-- rekon warehouse, Postgres: a branch still listed with its shop was last
-- seen when its shop was, so that instant is read from the account instead
-- of being written on every branch every night.
--
-- A nightly sync refreshed last_seen_at and last_seen_run of every listed
-- cabang whose shop it found unchanged: 1.25 million row updates a night at
-- a million shops, about half of the writer time after the listing. The
-- rows now live in branch_records, whose last_seen columns hold the values
-- of the shop's latest full write that listed the branch;
-- provider_accounts.merged_run names the run of that write. A branch that
-- write listed and not removed since is current, and the view branches, with
-- the same columns as the table it replaces, shows its shop's last_seen_at
-- and last_seen_run for it. A sync that drops a branch (or its shop) first
-- freezes the shop's values onto the branch, so a removed branch keeps the
-- last instant it was seen.

ALTER TABLE rekon.provider_accounts ADD COLUMN merged_run bigint;
COMMENT ON COLUMN rekon.provider_accounts.merged_run IS 'ELKASSA: run of the latest full write of the account (new or changed listing); its branches that write listed are current. Unchanged listings only move last_seen_run.';
-- Until now every current branch carried its shop's last_seen_run.
UPDATE rekon.provider_accounts SET merged_run = last_seen_run WHERE provider = 'elkassa';

ALTER TABLE rekon.branches RENAME TO branch_records;
-- 0004 left half of each page free for the nightly rewrite that no longer
-- happens: pages written from now on are filled.
ALTER TABLE rekon.branch_records RESET (fillfactor);
COMMENT ON TABLE rekon.branch_records IS 'The rows behind the view branches: ELKASSA cabangs as the shop''s latest full listing of them left them. Read branches, which fills in last_seen_* of current ones from their shop.';
COMMENT ON COLUMN rekon.branch_records.last_seen_at IS 'When the shop''s listing that wrote the branch was read; frozen to the shop''s last_seen_at once the branch is dropped or removed. Read branches for the current value.';
COMMENT ON COLUMN rekon.branch_records.last_seen_run IS 'The run of that write: equal to provider_accounts.merged_run while the branch is current.';

CREATE VIEW rekon.branches AS
SELECT b.registration_id, b.cabang_id, b.name, b.address, b.first_seen_at,
       CASE WHEN b.removed_at IS NULL AND b.last_seen_run = a.merged_run THEN a.last_seen_at ELSE b.last_seen_at END AS last_seen_at,
       CASE WHEN b.removed_at IS NULL AND b.last_seen_run = a.merged_run THEN a.last_seen_run ELSE b.last_seen_run END AS last_seen_run,
       b.removed_at
FROM rekon.branch_records b
LEFT JOIN rekon.provider_accounts a ON a.provider = 'elkassa' AND a.external_id = b.registration_id;
COMMENT ON VIEW rekon.branches IS 'ELKASSA branches (cabangs) of a shop.';
COMMENT ON COLUMN rekon.branches.registration_id IS 'The shop''s ELKASSA registration_id.';
COMMENT ON COLUMN rekon.branches.cabang_id IS 'Branch id, e.g. ELK44552-1.';
COMMENT ON COLUMN rekon.branches.name IS 'Branch name.';
COMMENT ON COLUMN rekon.branches.address IS 'Branch address.';
COMMENT ON COLUMN rekon.branches.first_seen_at IS 'First sync that saw the branch.';
COMMENT ON COLUMN rekon.branches.last_seen_at IS 'Latest sync that saw the branch (for a current branch, the latest that saw its shop).';
COMMENT ON COLUMN rekon.branches.last_seen_run IS 'Run that last saw the branch.';
COMMENT ON COLUMN rekon.branches.removed_at IS 'Set when a complete listing no longer had the branch; cleared if it comes back.';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rekon_analyst') THEN
        GRANT SELECT ON rekon.branches TO rekon_analyst;
    END IF;
END
$$;
