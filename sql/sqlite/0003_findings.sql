-- rekon warehouse, SQLite: reconciliation findings and the analysts' views.
-- Same tables, columns and views as sql/postgres/0003_findings.sql, whose
-- COMMENTs document them (an embedded file has no roles: see docs/reconcile.md).

CREATE TABLE findings (
    finding_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    finding_key    TEXT    NOT NULL,
    kind           TEXT    NOT NULL CHECK (kind IN ('trial_expiring', 'trial_expired', 'expired_but_active',
                       'packet_mismatch', 'duplicate_account', 'missing_at_partner', 'unknown_to_ledger',
                       'field_mismatch', 'otp_session_expired', 'enrollment_stuck', 'account_removed')),
    severity       TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'error')),
    provider       TEXT,
    external_id    TEXT,
    customer_id    INTEGER,
    detail         TEXT    NOT NULL DEFAULT '{}',
    first_seen_at  TEXT    NOT NULL,
    last_seen_at   TEXT    NOT NULL,
    resolved_at    TEXT,
    run_id         INTEGER REFERENCES sync_runs (run_id)
);
CREATE UNIQUE INDEX findings_open_key ON findings (finding_key) WHERE resolved_at IS NULL;
CREATE INDEX findings_customer ON findings (customer_id);
CREATE INDEX findings_kind_open ON findings (kind) WHERE resolved_at IS NULL;

CREATE VIEW v_expiring_trials AS
SELECT a.provider, c.external_id, a.customer_id, a.shop_name, a.email, c.packet_id,
       COALESCE(p.packet_desc, c.contract_notes) AS packet, c.expires_at,
       CAST(julianday(c.expires_at) - julianday('now') AS INTEGER) AS days_left
FROM findings f
JOIN contracts c ON c.provider = f.provider AND c.external_id = f.external_id
JOIN provider_accounts a ON a.provider = c.provider AND a.external_id = c.external_id
LEFT JOIN packets p ON p.packet_id = c.packet_id
WHERE f.kind = 'trial_expiring' AND f.resolved_at IS NULL AND c.is_trial = 1
  AND julianday(c.expires_at) > julianday('now')
ORDER BY c.expires_at, c.external_id;

CREATE VIEW v_open_findings AS
SELECT f.finding_id, f.kind, f.severity, f.provider, f.external_id, f.customer_id,
       COALESCE(cu.legal_name, cu.shop_name) AS customer_name, f.detail, f.first_seen_at, f.last_seen_at
FROM findings f
LEFT JOIN customers cu ON cu.customer_id = f.customer_id
WHERE f.resolved_at IS NULL
ORDER BY f.first_seen_at DESC, f.finding_id DESC;

CREATE VIEW v_customer_360 AS
SELECT cu.customer_id, cu.legal_name, cu.shop_name, cu.email, cu.phone_e164, cu.identity_last4,
       MAX(CASE WHEN a.provider = 'elkassa' THEN a.external_id END) AS elkassa_account,
       MAX(CASE WHEN a.provider = 'mcp' THEN a.external_id END) AS mcp_account,
       MAX(CASE WHEN a.provider = 'middleware' THEN a.external_id END) AS middleware_account,
       MAX(CASE WHEN a.provider = 'qm' THEN a.external_id END) AS qm_account,
       (SELECT COUNT(*) FROM findings f WHERE f.customer_id = cu.customer_id AND f.resolved_at IS NULL) AS open_findings
FROM customers cu
LEFT JOIN provider_accounts a ON a.customer_id = cu.customer_id AND a.removed_at IS NULL
GROUP BY cu.customer_id, cu.legal_name, cu.shop_name, cu.email, cu.phone_e164, cu.identity_last4;
