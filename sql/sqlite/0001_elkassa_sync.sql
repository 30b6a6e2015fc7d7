-- rekon warehouse, SQLite (the embedded default): the ELKASSA sync slice.
-- The same tables and columns as sql/postgres/0001_elkassa_sync.sql, whose
-- COMMENTs document them. Timestamps are RFC 3339 text in UTC, booleans 0/1.
CREATE TABLE sync_runs (
    run_id            INTEGER PRIMARY KEY AUTOINCREMENT,
    job               TEXT        NOT NULL,
    started_at        TEXT NOT NULL,
    finished_at       TEXT,
    status            TEXT        NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'partial', 'interrupted')),
    listing_complete  INTEGER     NOT NULL DEFAULT 0,
    pages_fetched     INTEGER      NOT NULL DEFAULT 0,
    records_seen      INTEGER      NOT NULL DEFAULT 0,
    records_loaded    INTEGER      NOT NULL DEFAULT 0,
    records_rejected  INTEGER      NOT NULL DEFAULT 0,
    retries           INTEGER      NOT NULL DEFAULT 0,
    drift_rounds      INTEGER     NOT NULL DEFAULT 0,
    drift_note        TEXT,
    counts            TEXT       NOT NULL DEFAULT '{}',
    error             TEXT
);

CREATE TABLE raw_responses (
    raw_id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id         INTEGER      NOT NULL REFERENCES sync_runs (run_id),
    provider       TEXT        NOT NULL,
    endpoint       TEXT        NOT NULL,
    request_key    TEXT        NOT NULL,
    fetched_at     TEXT NOT NULL,
    http_status    INTEGER     NOT NULL,
    attempts       INTEGER     NOT NULL DEFAULT 1,
    body_sha256    TEXT        NOT NULL,
    body_size      INTEGER     NOT NULL,
    body_encoding  TEXT        NOT NULL,
    body           BLOB       NOT NULL
);
CREATE INDEX raw_responses_run ON raw_responses (run_id);
CREATE INDEX raw_responses_fetched ON raw_responses (fetched_at);

CREATE TABLE sync_pages (
    run_id        INTEGER      NOT NULL REFERENCES sync_runs (run_id),
    provider      TEXT        NOT NULL,
    pass          INTEGER     NOT NULL,
    page          INTEGER     NOT NULL,
    entries       INTEGER     NOT NULL,
    raw_id        INTEGER      NOT NULL,
    committed_at  TEXT NOT NULL,
    PRIMARY KEY (run_id, provider, pass, page)
);

CREATE TABLE sync_record_issues (
    issue_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id       INTEGER NOT NULL REFERENCES sync_runs (run_id),
    provider     TEXT   NOT NULL,
    request_key  TEXT   NOT NULL,
    position     INTEGER NOT NULL,
    external_id  TEXT,
    severity     TEXT   NOT NULL CHECK (severity IN ('rejected', 'warning')),
    field        TEXT,
    message      TEXT   NOT NULL
);
CREATE INDEX sync_record_issues_run ON sync_record_issues (run_id);

CREATE TABLE packets (
    packet_id      TEXT PRIMARY KEY,
    packet_code    TEXT,
    packet_desc    TEXT,
    duration_days  INTEGER,
    is_trial       INTEGER     NOT NULL DEFAULT 0,
    first_seen_at  TEXT NOT NULL,
    last_seen_at   TEXT NOT NULL
);

CREATE TABLE customers (
    customer_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    legal_name      TEXT,
    shop_name       TEXT,
    email           TEXT UNIQUE,
    phone_e164      TEXT,
    identity_hash   TEXT,
    identity_last4  TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE TABLE provider_accounts (
    provider        TEXT        NOT NULL,
    external_id     TEXT        NOT NULL,
    customer_id     INTEGER REFERENCES customers (customer_id),
    status          TEXT,
    email           TEXT,
    shop_name       TEXT,
    address         TEXT,
    user_type       TEXT,
    user_type_desc  TEXT,
    registered_at   TEXT,
    first_seen_at   TEXT NOT NULL,
    last_seen_at    TEXT NOT NULL,
    last_seen_run   INTEGER      NOT NULL,
    removed_at      TEXT,
    source_raw_id   INTEGER,
    PRIMARY KEY (provider, external_id)
);
CREATE INDEX provider_accounts_customer ON provider_accounts (customer_id);

CREATE TABLE contracts (
    provider        TEXT        NOT NULL,
    external_id     TEXT        NOT NULL,
    contract_id     TEXT,
    packet_id       TEXT,
    contract_notes  TEXT,
    is_trial        INTEGER     NOT NULL DEFAULT 0,
    expires_at      TEXT,
    status          TEXT,
    updated_at      TEXT NOT NULL,
    updated_run     INTEGER      NOT NULL,
    PRIMARY KEY (provider, external_id)
);
CREATE INDEX contracts_expiry ON contracts (expires_at) WHERE is_trial = 1;

CREATE TABLE contract_history (
    history_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    provider        TEXT        NOT NULL,
    external_id     TEXT        NOT NULL,
    contract_id     TEXT,
    packet_id       TEXT,
    contract_notes  TEXT,
    is_trial        INTEGER     NOT NULL DEFAULT 0,
    expires_at      TEXT,
    status          TEXT,
    valid_from      TEXT NOT NULL,
    valid_to        TEXT,
    run_id          INTEGER      NOT NULL
);
CREATE INDEX contract_history_account ON contract_history (provider, external_id, valid_to);

CREATE TABLE branches (
    registration_id  TEXT        NOT NULL,
    cabang_id        TEXT        NOT NULL,
    name             TEXT,
    address          TEXT,
    first_seen_at    TEXT NOT NULL,
    last_seen_at     TEXT NOT NULL,
    last_seen_run    INTEGER      NOT NULL,
    removed_at       TEXT,
    PRIMARY KEY (registration_id, cabang_id)
);