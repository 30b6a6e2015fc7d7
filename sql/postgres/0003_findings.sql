-- rekon warehouse, Postgres: reconciliation findings, the analysts' morning
-- views, and the read-only analyst role.

CREATE TABLE rekon.findings (
    finding_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    finding_key    text        NOT NULL,
    kind           text        NOT NULL CHECK (kind IN ('trial_expiring', 'trial_expired', 'expired_but_active',
                       'packet_mismatch', 'duplicate_account', 'missing_at_partner', 'unknown_to_ledger',
                       'field_mismatch', 'otp_session_expired', 'enrollment_stuck', 'account_removed')),
    severity       text        NOT NULL CHECK (severity IN ('info', 'warning', 'error')),
    provider       text,
    external_id    text,
    customer_id    bigint,
    detail         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    first_seen_at  timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    resolved_at    timestamptz,
    run_id         bigint REFERENCES rekon.sync_runs (run_id)
);
-- One open finding per cause; a resolved one may be followed by a new open one.
CREATE UNIQUE INDEX findings_open_key ON rekon.findings (finding_key) WHERE resolved_at IS NULL;
CREATE INDEX findings_customer ON rekon.findings (customer_id);
CREATE INDEX findings_kind_open ON rekon.findings (kind) WHERE resolved_at IS NULL;
COMMENT ON TABLE rekon.findings IS 'Things a person should look at, raised by rekon reconcile. Raised once, refreshed on later runs, resolved (never deleted) when the cause is gone; a cause that comes back opens a new row.';
COMMENT ON COLUMN rekon.findings.finding_id IS 'Finding identifier.';
COMMENT ON COLUMN rekon.findings.finding_key IS 'Stable identity of the cause: kind, subject and aspect, e.g. packet_mismatch:elkassa:ELK100042:notes. At most one open finding per key.';
COMMENT ON COLUMN rekon.findings.kind IS 'Finding kind (see docs/reconcile.md): trial_expiring, trial_expired, expired_but_active, packet_mismatch, duplicate_account, missing_at_partner, unknown_to_ledger, field_mismatch, otp_session_expired, enrollment_stuck, account_removed.';
COMMENT ON COLUMN rekon.findings.severity IS 'info, warning or error.';
COMMENT ON COLUMN rekon.findings.provider IS 'Partner the finding is about, when it is about one.';
COMMENT ON COLUMN rekon.findings.external_id IS 'Account, ticket or session id at the partner, when there is one.';
COMMENT ON COLUMN rekon.findings.customer_id IS 'The customer concerned, when known.';
COMMENT ON COLUMN rekon.findings.detail IS 'Why, as JSON: the values that disagree, dates, counts. Never a national ID (only its last four digits), never a secret.';
COMMENT ON COLUMN rekon.findings.first_seen_at IS 'When the finding was raised.';
COMMENT ON COLUMN rekon.findings.last_seen_at IS 'The latest reconcile that still saw the cause.';
COMMENT ON COLUMN rekon.findings.resolved_at IS 'When a reconcile no longer saw the cause; NULL while open.';
COMMENT ON COLUMN rekon.findings.run_id IS 'The reconcile run (sync_runs.run_id) that raised the finding.';

CREATE VIEW rekon.v_expiring_trials AS
SELECT a.provider, c.external_id, a.customer_id, a.shop_name, a.email, c.packet_id,
       COALESCE(p.packet_desc, c.contract_notes) AS packet, c.expires_at,
       CAST(floor(EXTRACT(EPOCH FROM (c.expires_at - now())) / 86400) AS integer) AS days_left
FROM rekon.findings f
JOIN rekon.contracts c ON c.provider = f.provider AND c.external_id = f.external_id
JOIN rekon.provider_accounts a ON a.provider = c.provider AND a.external_id = c.external_id
LEFT JOIN rekon.packets p ON p.packet_id = c.packet_id
WHERE f.kind = 'trial_expiring' AND f.resolved_at IS NULL AND c.is_trial AND c.expires_at > now()
ORDER BY c.expires_at, c.external_id;
COMMENT ON VIEW rekon.v_expiring_trials IS 'Trials that end within reconcile.trial_window_days (as of the latest reconcile) and have not ended yet, soonest first.';

CREATE VIEW rekon.v_open_findings AS
SELECT f.finding_id, f.kind, f.severity, f.provider, f.external_id, f.customer_id,
       COALESCE(cu.legal_name, cu.shop_name) AS customer_name, f.detail, f.first_seen_at, f.last_seen_at
FROM rekon.findings f
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
       (SELECT COUNT(*) FROM rekon.findings f WHERE f.customer_id = cu.customer_id AND f.resolved_at IS NULL) AS open_findings
FROM rekon.customers cu
LEFT JOIN rekon.provider_accounts a ON a.customer_id = cu.customer_id AND a.removed_at IS NULL
GROUP BY cu.customer_id, cu.legal_name, cu.shop_name, cu.email, cu.phone_e164, cu.identity_last4;
COMMENT ON VIEW rekon.v_customer_360 IS 'One row per customer: an account column per partner (the lowest id when a partner has several: see duplicate_account findings) and the count of open findings.';

-- Roles are cluster-wide and several databases may migrate at once: tolerate
-- a role made concurrently, and a migrating user that may not create roles
-- (then an administrator creates it and reruns the grants: see docs/reconcile.md).
DO $$
BEGIN
    CREATE ROLE rekon_analyst NOLOGIN;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
    WHEN insufficient_privilege THEN RAISE NOTICE 'rekon_analyst not created: the migrating user may not create roles';
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rekon_analyst') THEN
        GRANT USAGE ON SCHEMA rekon TO rekon_analyst;
        GRANT SELECT ON ALL TABLES IN SCHEMA rekon TO rekon_analyst;
        REVOKE ALL ON rekon.raw_responses FROM rekon_analyst;
        ALTER DEFAULT PRIVILEGES IN SCHEMA rekon GRANT SELECT ON TABLES TO rekon_analyst;
    END IF;
END
$$;
