-- rekon warehouse, Postgres: a digest of what ELKASSA last listed per
-- account, so a nightly sync writes only the accounts that changed, and
-- room on the pages of the rows every nightly run rewrites.

ALTER TABLE rekon.provider_accounts ADD COLUMN source_digest bigint;
COMMENT ON COLUMN rekon.provider_accounts.source_digest IS 'ELKASSA: 64-bit digest (XXH3) of the account, contract and branches as last listed. A sync that lists the same values again only refreshes last_seen_at; NULL makes the next sync write the account in full.';

-- Every nightly sync rewrites each listed account's and branch's last_seen
-- columns. Half-empty pages keep the new row version on the old one's page
-- (a HOT update: no index entry is written, and the old version is pruned
-- in place); at 80 % most versions moved page and rewrote every index.
-- Tables created by 0001 take this for pages written from now on.
ALTER TABLE rekon.provider_accounts SET (fillfactor = 50);
ALTER TABLE rekon.branches SET (fillfactor = 50);

-- Every reconcile moves last_seen_at of every open finding (half a million
-- at a million customers); the same room makes that a HOT update too.
ALTER TABLE rekon.findings SET (fillfactor = 50);
