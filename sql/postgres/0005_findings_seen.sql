-- rekon warehouse, Postgres: an open finding's last_seen_at is the instant
-- of the latest reconcile, held once instead of on every open row.
--
-- A reconcile that still sees a finding moved its last_seen_at to the run's
-- instant, and one that no longer sees it resolves it: so every open finding
-- was last seen by the latest reconcile. Writing that on each open row was an
-- UPDATE of half a million rows every night at a million customers (the
-- largest write of a nightly reconcile, and most of its WAL). The rows now
-- live in finding_records, where last_seen_at is NULL while a finding is open
-- and set when it is resolved; findings_seen holds the latest reconcile's
-- instant, written in the same transaction as the findings; and findings is
-- a view with the same columns as the table it replaces.

DROP VIEW rekon.v_expiring_trials;
DROP VIEW rekon.v_open_findings;
DROP VIEW rekon.v_customer_360;

ALTER TABLE rekon.findings RENAME TO finding_records;

CREATE TABLE rekon.findings_seen (
    id            smallint    PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    last_seen_at  timestamptz NOT NULL
);
COMMENT ON TABLE rekon.findings_seen IS 'One row: the instant of the latest reconcile, which is when every open finding was last seen (see the view findings).';
COMMENT ON COLUMN rekon.findings_seen.id IS 'Always 1: the table holds one row.';
COMMENT ON COLUMN rekon.findings_seen.last_seen_at IS 'The instant (--now) of the latest reconcile that wrote findings.';

-- Every open finding was refreshed by the latest reconcile: its instant is theirs.
INSERT INTO rekon.findings_seen (id, last_seen_at)
SELECT 1, seen FROM (SELECT max(last_seen_at) AS seen FROM rekon.finding_records WHERE resolved_at IS NULL) latest
WHERE seen IS NOT NULL;

ALTER TABLE rekon.finding_records ALTER COLUMN last_seen_at DROP NOT NULL;
UPDATE rekon.finding_records SET last_seen_at = NULL WHERE resolved_at IS NULL;
ALTER TABLE rekon.finding_records
    ADD CONSTRAINT finding_records_last_seen_when_resolved CHECK ((resolved_at IS NULL) = (last_seen_at IS NULL));
COMMENT ON TABLE rekon.finding_records IS 'The rows behind the view findings: raised by rekon reconcile, resolved (never deleted) when the cause is gone; a cause that comes back opens a new row. Read findings, which fills in last_seen_at of open ones.';
COMMENT ON COLUMN rekon.finding_records.last_seen_at IS 'NULL while open (the view findings shows findings_seen.last_seen_at); once resolved, the latest reconcile that still saw the cause.';

CREATE VIEW rekon.findings AS
SELECT f.finding_id, f.finding_key, f.kind, f.severity, f.provider, f.external_id, f.customer_id,
       f.detail, f.first_seen_at, COALESCE(f.last_seen_at, (SELECT s.last_seen_at FROM rekon.findings_seen s)) AS last_seen_at,
       f.resolved_at, f.run_id
FROM rekon.finding_records f;
COMMENT ON VIEW rekon.findings IS 'Things a person should look at, raised by rekon reconcile. Raised once, refreshed on later runs, resolved (never deleted) when the cause is gone; a cause that comes back opens a new row.';
COMMENT ON COLUMN rekon.findings.finding_id IS 'Finding identifier.';
COMMENT ON COLUMN rekon.findings.finding_key IS 'Stable identity of the cause: kind, subject and aspect, e.g. packet_mismatch:elkassa:ELK100042:notes. At most one open finding per key.';
COMMENT ON COLUMN rekon.findings.kind IS 'Finding kind (see docs/reconcile.md): trial_expiring, trial_expired, expired_but_active, packet_mismatch, duplicate_account, missing_at_partner, unknown_to_ledger, field_mismatch, otp_session_expired, enrollment_stuck, account_removed.';
COMMENT ON COLUMN rekon.findings.severity IS 'info, warning or error.';
COMMENT ON COLUMN rekon.findings.provider IS 'Partner the finding is about, when it is about one.';
COMMENT ON COLUMN rekon.findings.external_id IS 'Account, ticket or session id at the partner, when there is one.';
COMMENT ON COLUMN rekon.findings.customer_id IS 'The customer concerned, when known.';
COMMENT ON COLUMN rekon.findings.detail IS 'Why, as JSON: the values that disagree, dates, counts. Never a national ID (only its last four digits), never a secret.';
COMMENT ON COLUMN rekon.findings.first_seen_at IS 'When the finding was raised.';
COMMENT ON COLUMN rekon.findings.last_seen_at IS 'The latest reconcile that still saw the cause (for an open finding, the latest reconcile).';
COMMENT ON COLUMN rekon.findings.resolved_at IS 'When a reconcile no longer saw the cause; NULL while open.';
COMMENT ON COLUMN rekon.findings.run_id IS 'The reconcile run (sync_runs.run_id) that raised the finding.';

-- As in 0003, over finding_records: v_expiring_trials and v_customer_360 need
-- no last_seen_at, and v_open_findings (open rows only) takes it from findings_seen.
CREATE VIEW rekon.v_expiring_trials AS
SELECT a.provider, c.external_id, a.customer_id, a.shop_name, a.email, c.packet_id,
       COALESCE(p.packet_desc, c.contract_notes) AS packet, c.expires_at,
       CAST(floor(EXTRACT(EPOCH FROM (c.expires_at - now())) / 86400) AS integer) AS days_left
FROM rekon.finding_records f
JOIN rekon.contracts c ON c.provider = f.provider AND c.external_id = f.external_id
JOIN rekon.provider_accounts a ON a.provider = c.provider AND a.external_id = c.external_id
LEFT JOIN rekon.packets p ON p.packet_id = c.packet_id
WHERE f.kind = 'trial_expiring' AND f.resolved_at IS NULL AND c.is_trial AND c.expires_at > now()
ORDER BY c.expires_at, c.external_id;
COMMENT ON VIEW rekon.v_expiring_trials IS 'Trials that end within reconcile.trial_window_days (as of the latest reconcile) and have not ended yet, soonest first.';

CREATE VIEW rekon.v_open_findings AS
SELECT f.finding_id, f.kind, f.severity, f.provider, f.external_id, f.customer_id,
       COALESCE(cu.legal_name, cu.shop_name) AS customer_name, f.detail, f.first_seen_at,
       (SELECT s.last_seen_at FROM rekon.findings_seen s) AS last_seen_at
FROM rekon.finding_records f
LEFT JOIN rekon.customers cu ON cu.customer_id = f.customer_id
WHERE f.resolved_at IS NULL
ORDER BY f.first_seen_at DESC, f.finding_id DESC;
COMMENT ON VIEW rekon.v_open_findings IS 'Unresolved findings, newest first, with the customer''s name.';

CREATE VIEW rekon.v_customer_360 AS
SELECT cu.customer_id, cu.legal_name, cu.shop_name, cu.email, cu.phone_e164, cu.identity_last4,
       MAX(CASE WHEN a.provider = 'elkassa' THEN a.external_id END) AS elkassa_account,
       MAX(CASE WHEN a.provider = 'mcp' THEN a.external_id END) AS mcp_account,
       MAX(CASE WHEN a.provider = 'middleware' THEN a.external_id END) AS middleware_account,
       MAX(CASE WHEN a.provider = 'qm' THEN a.external_id END) AS qm_account,
       (SELECT COUNT(*) FROM rekon.finding_records f WHERE f.customer_id = cu.customer_id AND f.resolved_at IS NULL) AS open_findings
FROM rekon.customers cu
LEFT JOIN rekon.provider_accounts a ON a.customer_id = cu.customer_id AND a.removed_at IS NULL
GROUP BY cu.customer_id, cu.legal_name, cu.shop_name, cu.email, cu.phone_e164, cu.identity_last4;
COMMENT ON VIEW rekon.v_customer_360 IS 'One row per customer: an account column per partner (the lowest id when a partner has several: see duplicate_account findings) and the count of open findings.';

-- The new relations, for analysts (default privileges cover them only when
-- the role that set them up is the one migrating now).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rekon_analyst') THEN
        GRANT SELECT ON rekon.findings, rekon.findings_seen, rekon.v_expiring_trials,
            rekon.v_open_findings, rekon.v_customer_360 TO rekon_analyst;
    END IF;
END
$$;
