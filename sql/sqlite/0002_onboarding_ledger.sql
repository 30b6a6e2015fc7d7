-- rekon warehouse, SQLite: the onboarding ledger and what registrations leave
-- behind (enrollment tickets, one-time-code sessions). Same tables and columns
-- as sql/postgres/0002_onboarding_ledger.sql, whose COMMENTs document them.

ALTER TABLE provider_accounts ADD COLUMN legal_name TEXT;
ALTER TABLE provider_accounts ADD COLUMN phone_e164 TEXT;
ALTER TABLE provider_accounts ADD COLUMN identity_hash TEXT;
ALTER TABLE provider_accounts ADD COLUMN identity_last4 TEXT;
ALTER TABLE provider_accounts ADD COLUMN match_rule TEXT;
CREATE INDEX customers_identity ON customers (identity_hash);
CREATE INDEX customers_phone ON customers (phone_e164);

CREATE TABLE registrations (
    ledger_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    source_file   TEXT    NOT NULL,
    source_row    INTEGER NOT NULL,
    row_key       TEXT    NOT NULL,
    provider      TEXT    NOT NULL CHECK (provider IN ('elkassa', 'mcp', 'middleware', 'qm')),
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'sent', 'registered', 'already_registered', 'rejected', 'failed', 'unknown')),
    customer_id   INTEGER REFERENCES customers (customer_id),
    email         TEXT,
    phone_e164    TEXT,
    external_id   TEXT,
    resolution    TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    activation_packet_id  TEXT,
    activation_state      TEXT CHECK (activation_state IN ('sent', 'activated', 'rejected', 'failed', 'unknown')),
    activation_error      TEXT,
    run_id        INTEGER REFERENCES sync_runs (run_id),
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL,
    UNIQUE (row_key, provider)
);
CREATE INDEX registrations_state ON registrations (state);
CREATE INDEX registrations_external ON registrations (provider, external_id);
CREATE INDEX registrations_customer ON registrations (customer_id);

CREATE TABLE enrollment_tickets (
    ticket_id        TEXT    PRIMARY KEY,
    customer_id      INTEGER REFERENCES customers (customer_id),
    ledger_id        INTEGER REFERENCES registrations (ledger_id),
    state            TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    nik_status       TEXT,
    resource_id      TEXT,
    polls            INTEGER NOT NULL DEFAULT 0,
    last_message     TEXT,
    created_at       TEXT    NOT NULL,
    first_polled_at  TEXT,
    last_polled_at   TEXT,
    done_at          TEXT
);
CREATE INDEX enrollment_tickets_state ON enrollment_tickets (state);

CREATE TABLE otp_sessions (
    session_id   TEXT    PRIMARY KEY,
    customer_id  INTEGER REFERENCES customers (customer_id),
    ledger_id    INTEGER REFERENCES registrations (ledger_id),
    login        TEXT    NOT NULL,
    expires_at   TEXT    NOT NULL,
    verified_at  TEXT,
    created_at   TEXT    NOT NULL
);
CREATE INDEX otp_sessions_customer ON otp_sessions (customer_id);
