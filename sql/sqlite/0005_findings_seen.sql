-- rekon warehouse, SQLite: an open finding's last_seen_at is the instant of
-- the latest reconcile, held once in findings_seen instead of on every open
-- row; findings becomes a view over finding_records with the same columns.
-- Same tables, columns and views as sql/postgres/0005_findings_seen.sql,
-- which says why. SQLite cannot drop a NOT NULL: the table is rebuilt.

DROP VIEW v_expiring_trials;
DROP VIEW v_open_findings;
DROP VIEW v_customer_360;

CREATE TABLE finding_records (
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
    last_seen_at   TEXT,
    resolved_at    TEXT,
    run_id         INTEGER REFERENCES sync_runs (run_id),
    CONSTRAINT finding_records_last_seen_when_resolved CHECK ((resolved_at IS NULL) = (last_seen_at IS NULL))
);

CREATE TABLE findings_seen (
    id            INTEGER PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    last_seen_at  TEXT    NOT NULL
);

INSERT INTO findings_seen (id, last_seen_at)
SELECT 1, seen FROM (SELECT max(last_seen_at) AS seen FROM findings WHERE resolved_at IS NULL)
WHERE seen IS NOT NULL;

INSERT INTO finding_records (finding_id, finding_key, kind, severity, provider, external_id, customer_id,
                             detail, first_seen_at, last_seen_at, resolved_at, run_id)
SELECT finding_id, finding_key, kind, severity, provider, external_id, customer_id, detail, first_seen_at,
       CASE WHEN resolved_at IS NULL THEN NULL ELSE last_seen_at END, resolved_at, run_id
FROM findings;

DROP TABLE findings;
CREATE UNIQUE INDEX findings_open_key ON finding_records (finding_key) WHERE resolved_at IS NULL;
CREATE INDEX findings_customer ON finding_records (customer_id);
CREATE INDEX findings_kind_open ON finding_records (kind) WHERE resolved_at IS NULL;

CREATE VIEW findings AS
SELECT f.finding_id, f.finding_key, f.kind, f.severity, f.provider, f.external_id, f.customer_id,
       f.detail, f.first_seen_at, COALESCE(f.last_seen_at, (SELECT s.last_seen_at FROM findings_seen s)) AS last_seen_at,
       f.resolved_at, f.run_id
FROM finding_records f;

CREATE VIEW v_expiring_trials AS
SELECT a.provider, c.external_id, a.customer_id, a.shop_name, a.email, c.packet_id,
       COALESCE(p.packet_desc, c.contract_notes) AS packet, c.expires_at,
       CAST(julianday(c.expires_at) - julianday('now') AS INTEGER) AS days_left
FROM finding_records f
JOIN contracts c ON c.provider = f.provider AND c.external_id = f.external_id
JOIN provider_accounts a ON a.provider = c.provider AND a.external_id = c.external_id
LEFT JOIN packets p ON p.packet_id = c.packet_id
WHERE f.kind = 'trial_expiring' AND f.resolved_at IS NULL AND c.is_trial = 1
  AND julianday(c.expires_at) > julianday('now')
ORDER BY c.expires_at, c.external_id;

CREATE VIEW v_open_findings AS
SELECT f.finding_id, f.kind, f.severity, f.provider, f.external_id, f.customer_id,
       COALESCE(cu.legal_name, cu.shop_name) AS customer_name, f.detail, f.first_seen_at,
       (SELECT s.last_seen_at FROM findings_seen s) AS last_seen_at
FROM finding_records f
LEFT JOIN customers cu ON cu.customer_id = f.customer_id
WHERE f.resolved_at IS NULL
ORDER BY f.first_seen_at DESC, f.finding_id DESC;

CREATE VIEW v_customer_360 AS
SELECT cu.customer_id, cu.legal_name, cu.shop_name, cu.email, cu.phone_e164, cu.identity_last4,
       MAX(CASE WHEN a.provider = 'elkassa' THEN a.external_id END) AS elkassa_account,
       MAX(CASE WHEN a.provider = 'mcp' THEN a.external_id END) AS mcp_account,
       MAX(CASE WHEN a.provider = 'middleware' THEN a.external_id END) AS middleware_account,
       MAX(CASE WHEN a.provider = 'qm' THEN a.external_id END) AS qm_account,
       (SELECT COUNT(*) FROM finding_records f WHERE f.customer_id = cu.customer_id AND f.resolved_at IS NULL) AS open_findings
FROM customers cu
LEFT JOIN provider_accounts a ON a.customer_id = cu.customer_id AND a.removed_at IS NULL
GROUP BY cu.customer_id, cu.legal_name, cu.shop_name, cu.email, cu.phone_e164, cu.identity_last4;
