-- rekon warehouse, Postgres: the ELKASSA sync slice.
-- Every object lives in the schema rekon; every table and column has a COMMENT
-- because analysts discover the warehouse from psql and BI tools.

CREATE SCHEMA IF NOT EXISTS rekon;

CREATE TABLE rekon.sync_runs (
    run_id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job               text        NOT NULL,
    started_at        timestamptz NOT NULL,
    finished_at       timestamptz,
    status            text        NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'partial', 'interrupted')),
    listing_complete  boolean     NOT NULL DEFAULT false,
    pages_fetched     bigint      NOT NULL DEFAULT 0,
    records_seen      bigint      NOT NULL DEFAULT 0,
    records_loaded    bigint      NOT NULL DEFAULT 0,
    records_rejected  bigint      NOT NULL DEFAULT 0,
    retries           bigint      NOT NULL DEFAULT 0,
    drift_rounds      integer     NOT NULL DEFAULT 0,
    drift_note        text,
    counts            jsonb       NOT NULL DEFAULT '{}'::jsonb,
    error             text
);
COMMENT ON TABLE rekon.sync_runs IS 'One row per run of any job (sync, onboarding, reconcile): when, how it ended, what it counted.';
COMMENT ON COLUMN rekon.sync_runs.run_id IS 'Run identifier; raw responses, checkpoints and history rows point here.';
COMMENT ON COLUMN rekon.sync_runs.job IS 'Job name, e.g. sync or nightly.';
COMMENT ON COLUMN rekon.sync_runs.started_at IS 'When the run started.';
COMMENT ON COLUMN rekon.sync_runs.finished_at IS 'When the run ended; NULL while running or if the process died.';
COMMENT ON COLUMN rekon.sync_runs.status IS 'running, succeeded, failed, partial (completed with problems an operator must see) or interrupted.';
COMMENT ON COLUMN rekon.sync_runs.listing_complete IS 'True when the partner listing was read to its end, passed the completeness check and removals were swept.';
COMMENT ON COLUMN rekon.sync_runs.pages_fetched IS 'Listing pages fetched, re-reads included.';
COMMENT ON COLUMN rekon.sync_runs.records_seen IS 'Listing entries read in the first pass, duplicates included.';
COMMENT ON COLUMN rekon.sync_runs.records_loaded IS 'Distinct accounts written to the warehouse.';
COMMENT ON COLUMN rekon.sync_runs.records_rejected IS 'Listing entries that could not be used (see sync_record_issues).';
COMMENT ON COLUMN rekon.sync_runs.retries IS 'HTTP attempts repeated after 429, 5xx or transport errors.';
COMMENT ON COLUMN rekon.sync_runs.drift_rounds IS 'Re-read rounds needed because the listing moved while it was paged.';
COMMENT ON COLUMN rekon.sync_runs.drift_note IS 'What drift was seen and whether it was repaired.';
COMMENT ON COLUMN rekon.sync_runs.counts IS 'Per-provider counts as JSON, e.g. {"elkassa": {"accounts": 10, "branches": 12}}.';
COMMENT ON COLUMN rekon.sync_runs.error IS 'Why the run failed or is partial: partner, endpoint, page and cause. Never contains credentials.';

CREATE TABLE rekon.raw_responses (
    raw_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id         bigint      NOT NULL REFERENCES rekon.sync_runs (run_id),
    provider       text        NOT NULL,
    endpoint       text        NOT NULL,
    request_key    text        NOT NULL,
    fetched_at     timestamptz NOT NULL,
    http_status    integer     NOT NULL,
    attempts       integer     NOT NULL DEFAULT 1,
    body_sha256    text        NOT NULL,
    body_size      integer     NOT NULL,
    body_encoding  text        NOT NULL,
    body           bytea       NOT NULL
);
CREATE INDEX raw_responses_run ON rekon.raw_responses (run_id);
CREATE INDEX raw_responses_fetched ON rekon.raw_responses (fetched_at);
COMMENT ON TABLE rekon.raw_responses IS 'Partner response bodies exactly as received (the landing zone), kept before parsing so a parser fix can be replayed. Pruned after warehouse.raw_retention_days.';
COMMENT ON COLUMN rekon.raw_responses.raw_id IS 'Raw body identifier.';
COMMENT ON COLUMN rekon.raw_responses.run_id IS 'Run that fetched the body.';
COMMENT ON COLUMN rekon.raw_responses.provider IS 'Partner: elkassa, mcp, middleware or qm.';
COMMENT ON COLUMN rekon.raw_responses.endpoint IS 'Endpoint template, e.g. GET /integration/users/{page}.';
COMMENT ON COLUMN rekon.raw_responses.request_key IS 'Which request: the page (with the read pass, e.g. p0:42), ticket or email lookup.';
COMMENT ON COLUMN rekon.raw_responses.fetched_at IS 'When the body arrived.';
COMMENT ON COLUMN rekon.raw_responses.http_status IS 'HTTP status of the answer.';
COMMENT ON COLUMN rekon.raw_responses.attempts IS 'Attempts it took to get this answer.';
COMMENT ON COLUMN rekon.raw_responses.body_sha256 IS 'SHA-256 of the uncompressed body, hex.';
COMMENT ON COLUMN rekon.raw_responses.body_size IS 'Uncompressed body size in bytes.';
COMMENT ON COLUMN rekon.raw_responses.body_encoding IS 'How body is stored: zstd (decompress with rekon raw or any zstd tool) or identity.';
COMMENT ON COLUMN rekon.raw_responses.body IS 'The body bytes, compressed as body_encoding says.';

CREATE TABLE rekon.sync_pages (
    run_id        bigint      NOT NULL REFERENCES rekon.sync_runs (run_id),
    provider      text        NOT NULL,
    pass          integer     NOT NULL,
    page          integer     NOT NULL,
    entries       integer     NOT NULL,
    raw_id        bigint      NOT NULL,
    committed_at  timestamptz NOT NULL,
    PRIMARY KEY (run_id, provider, pass, page)
);
COMMENT ON TABLE rekon.sync_pages IS 'Checkpoint: listing pages whose rows are committed, written in the same transaction as those rows.';
COMMENT ON COLUMN rekon.sync_pages.run_id IS 'Run that read the page.';
COMMENT ON COLUMN rekon.sync_pages.provider IS 'Partner whose listing it is.';
COMMENT ON COLUMN rekon.sync_pages.pass IS '0 for the first read of the listing, 1.. for drift-repair re-reads.';
COMMENT ON COLUMN rekon.sync_pages.page IS 'Page number as sent to the partner (from 1).';
COMMENT ON COLUMN rekon.sync_pages.entries IS 'Entries the page held.';
COMMENT ON COLUMN rekon.sync_pages.raw_id IS 'The raw body of the page.';
COMMENT ON COLUMN rekon.sync_pages.committed_at IS 'When the page''s rows were committed.';

CREATE TABLE rekon.sync_record_issues (
    issue_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id       bigint NOT NULL REFERENCES rekon.sync_runs (run_id),
    provider     text   NOT NULL,
    request_key  text   NOT NULL,
    position     integer NOT NULL,
    external_id  text,
    severity     text   NOT NULL CHECK (severity IN ('rejected', 'warning')),
    field        text,
    message      text   NOT NULL
);
CREATE INDEX sync_record_issues_run ON rekon.sync_record_issues (run_id);
COMMENT ON TABLE rekon.sync_record_issues IS 'Listing entries that were rejected, or loaded with a field left empty, and why.';
COMMENT ON COLUMN rekon.sync_record_issues.issue_id IS 'Issue identifier.';
COMMENT ON COLUMN rekon.sync_record_issues.run_id IS 'Run that met the entry.';
COMMENT ON COLUMN rekon.sync_record_issues.provider IS 'Partner.';
COMMENT ON COLUMN rekon.sync_record_issues.request_key IS 'Page (or request) the entry came from, as in raw_responses.request_key.';
COMMENT ON COLUMN rekon.sync_record_issues.position IS 'Position of the entry in the page, from 0.';
COMMENT ON COLUMN rekon.sync_record_issues.external_id IS 'Partner id of the entry when it had one.';
COMMENT ON COLUMN rekon.sync_record_issues.severity IS 'rejected (entry not loaded) or warning (loaded, field left empty).';
COMMENT ON COLUMN rekon.sync_record_issues.field IS 'Field at fault, when one is.';
COMMENT ON COLUMN rekon.sync_record_issues.message IS 'What was wrong.';

CREATE TABLE rekon.packets (
    packet_id      text PRIMARY KEY,
    packet_code    text,
    packet_desc    text,
    duration_days  integer,
    is_trial       boolean     NOT NULL DEFAULT false,
    first_seen_at  timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL
);
COMMENT ON TABLE rekon.packets IS 'ELKASSA packets (reference data from GET /integration/registration).';
COMMENT ON COLUMN rekon.packets.packet_id IS 'Partner packet id, kept as text.';
COMMENT ON COLUMN rekon.packets.packet_code IS 'Packet code, e.g. TRIAL-30HARI.';
COMMENT ON COLUMN rekon.packets.packet_desc IS 'Human packet name, e.g. 6 Bulan.';
COMMENT ON COLUMN rekon.packets.duration_days IS 'Length derived from the code or name (Hari = days, Bulan = months, Tahun = years); NULL when it cannot be derived.';
COMMENT ON COLUMN rekon.packets.is_trial IS 'True for trial packets.';
COMMENT ON COLUMN rekon.packets.first_seen_at IS 'First sync that saw the packet.';
COMMENT ON COLUMN rekon.packets.last_seen_at IS 'Latest sync that saw the packet.';

CREATE TABLE rekon.customers (
    customer_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    legal_name      text,
    shop_name       text,
    email           text UNIQUE,
    phone_e164      text,
    identity_hash   text,
    identity_last4  text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
COMMENT ON TABLE rekon.customers IS 'A person or shop, matched across partners (by email for ELKASSA accounts).';
COMMENT ON COLUMN rekon.customers.customer_id IS 'Customer identifier.';
COMMENT ON COLUMN rekon.customers.legal_name IS 'Legal full name, where a partner or the onboarding drop gives one.';
COMMENT ON COLUMN rekon.customers.shop_name IS 'Shop name (ELKASSA toko_name).';
COMMENT ON COLUMN rekon.customers.email IS 'Email, trimmed and lower-cased; the match key across partners.';
COMMENT ON COLUMN rekon.customers.phone_e164 IS 'Phone in E.164 form.';
COMMENT ON COLUMN rekon.customers.identity_hash IS 'Keyed hash of the national ID; the ID itself is never stored.';
COMMENT ON COLUMN rekon.customers.identity_last4 IS 'Last four digits of the national ID.';
COMMENT ON COLUMN rekon.customers.created_at IS 'When the customer was first recorded.';
COMMENT ON COLUMN rekon.customers.updated_at IS 'When a customer field last changed.';

CREATE TABLE rekon.provider_accounts (
    provider        text        NOT NULL,
    external_id     text        NOT NULL,
    customer_id     bigint REFERENCES rekon.customers (customer_id),
    status          text,
    email           text,
    shop_name       text,
    address         text,
    user_type       text,
    user_type_desc  text,
    registered_at   timestamptz,
    first_seen_at   timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    last_seen_run   bigint      NOT NULL,
    removed_at      timestamptz,
    source_raw_id   bigint,
    PRIMARY KEY (provider, external_id)
) WITH (fillfactor = 80);  -- room for the nightly last_seen update to stay on the page (HOT)
CREATE INDEX provider_accounts_customer ON rekon.provider_accounts (customer_id);
COMMENT ON TABLE rekon.provider_accounts IS 'An account of a customer at one partner, as the partner last listed it.';
COMMENT ON COLUMN rekon.provider_accounts.provider IS 'Partner: elkassa, mcp, middleware or qm.';
COMMENT ON COLUMN rekon.provider_accounts.external_id IS 'The partner''s id (ELKASSA registration_id).';
COMMENT ON COLUMN rekon.provider_accounts.customer_id IS 'The customer holding the account.';
COMMENT ON COLUMN rekon.provider_accounts.status IS 'Account status as the partner states it (ELKASSA: the second user_type_desc, e.g. ACTIVE).';
COMMENT ON COLUMN rekon.provider_accounts.email IS 'Email as the partner lists it.';
COMMENT ON COLUMN rekon.provider_accounts.shop_name IS 'Shop name as the partner lists it.';
COMMENT ON COLUMN rekon.provider_accounts.address IS 'Shop address as the partner lists it.';
COMMENT ON COLUMN rekon.provider_accounts.user_type IS 'ELKASSA user type code: 0 retail, 1 grosir.';
COMMENT ON COLUMN rekon.provider_accounts.user_type_desc IS 'ELKASSA user type description (the first user_type_desc, e.g. Retail).';
COMMENT ON COLUMN rekon.provider_accounts.registered_at IS 'Registration instant (partner wall-clock time read in the partner zone).';
COMMENT ON COLUMN rekon.provider_accounts.first_seen_at IS 'First sync that saw the account.';
COMMENT ON COLUMN rekon.provider_accounts.last_seen_at IS 'Latest sync that saw the account.';
COMMENT ON COLUMN rekon.provider_accounts.last_seen_run IS 'Run that last saw the account.';
COMMENT ON COLUMN rekon.provider_accounts.removed_at IS 'Set when a complete listing no longer had the account; cleared if it comes back.';
COMMENT ON COLUMN rekon.provider_accounts.source_raw_id IS 'Raw body (raw_responses.raw_id) the current values came from.';

CREATE TABLE rekon.contracts (
    provider        text        NOT NULL,
    external_id     text        NOT NULL,
    contract_id     text,
    packet_id       text,
    contract_notes  text,
    is_trial        boolean     NOT NULL DEFAULT false,
    expires_at      timestamptz,
    status          text,
    updated_at      timestamptz NOT NULL,
    updated_run     bigint      NOT NULL,
    PRIMARY KEY (provider, external_id)
);
CREATE INDEX contracts_expiry ON rekon.contracts (expires_at) WHERE is_trial;
COMMENT ON TABLE rekon.contracts IS 'Current contract of an account (ELKASSA contract, MCP activation).';
COMMENT ON COLUMN rekon.contracts.provider IS 'Partner.';
COMMENT ON COLUMN rekon.contracts.external_id IS 'Account id at the partner (provider_accounts.external_id).';
COMMENT ON COLUMN rekon.contracts.contract_id IS 'Partner contract id, kept as text.';
COMMENT ON COLUMN rekon.contracts.packet_id IS 'Packet the partner says the contract is on, when it says so.';
COMMENT ON COLUMN rekon.contracts.contract_notes IS 'Human packet name as the partner writes it (may disagree with packet_id).';
COMMENT ON COLUMN rekon.contracts.is_trial IS 'True for a trial: from the packet when known, else from contract_notes.';
COMMENT ON COLUMN rekon.contracts.expires_at IS 'When the contract ends (partner wall-clock time read in the partner zone).';
COMMENT ON COLUMN rekon.contracts.status IS 'Account status the partner reports with the contract (e.g. ACTIVE).';
COMMENT ON COLUMN rekon.contracts.updated_at IS 'When a contract value last changed.';
COMMENT ON COLUMN rekon.contracts.updated_run IS 'Run that last changed a contract value.';

CREATE TABLE rekon.contract_history (
    history_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider        text        NOT NULL,
    external_id     text        NOT NULL,
    contract_id     text,
    packet_id       text,
    contract_notes  text,
    is_trial        boolean     NOT NULL DEFAULT false,
    expires_at      timestamptz,
    status          text,
    valid_from      timestamptz NOT NULL,
    valid_to        timestamptz,
    run_id          bigint      NOT NULL
);
CREATE INDEX contract_history_account ON rekon.contract_history (provider, external_id, valid_to);
COMMENT ON TABLE rekon.contract_history IS 'Every version of a contract (type 2 history): a new row only when a value changed.';
COMMENT ON COLUMN rekon.contract_history.history_id IS 'Version identifier.';
COMMENT ON COLUMN rekon.contract_history.provider IS 'Partner.';
COMMENT ON COLUMN rekon.contract_history.external_id IS 'Account id at the partner.';
COMMENT ON COLUMN rekon.contract_history.contract_id IS 'Contract id in this version.';
COMMENT ON COLUMN rekon.contract_history.packet_id IS 'Packet in this version.';
COMMENT ON COLUMN rekon.contract_history.contract_notes IS 'Packet name in this version.';
COMMENT ON COLUMN rekon.contract_history.is_trial IS 'Trial flag in this version.';
COMMENT ON COLUMN rekon.contract_history.expires_at IS 'Expiry in this version.';
COMMENT ON COLUMN rekon.contract_history.status IS 'Account status in this version.';
COMMENT ON COLUMN rekon.contract_history.valid_from IS 'When this version was first seen.';
COMMENT ON COLUMN rekon.contract_history.valid_to IS 'When a later version replaced it; NULL for the current version.';
COMMENT ON COLUMN rekon.contract_history.run_id IS 'Run that recorded this version.';

CREATE TABLE rekon.branches (
    registration_id  text        NOT NULL,
    cabang_id        text        NOT NULL,
    name             text,
    address          text,
    first_seen_at    timestamptz NOT NULL,
    last_seen_at     timestamptz NOT NULL,
    last_seen_run    bigint      NOT NULL,
    removed_at       timestamptz,
    PRIMARY KEY (registration_id, cabang_id)
) WITH (fillfactor = 80);  -- as provider_accounts: seen again every night
COMMENT ON TABLE rekon.branches IS 'ELKASSA branches (cabangs) of a shop.';
COMMENT ON COLUMN rekon.branches.registration_id IS 'The shop''s ELKASSA registration_id.';
COMMENT ON COLUMN rekon.branches.cabang_id IS 'Branch id, e.g. ELK44552-1.';
COMMENT ON COLUMN rekon.branches.name IS 'Branch name.';
COMMENT ON COLUMN rekon.branches.address IS 'Branch address.';
COMMENT ON COLUMN rekon.branches.first_seen_at IS 'First sync that saw the branch.';
COMMENT ON COLUMN rekon.branches.last_seen_at IS 'Latest sync that saw the branch.';
COMMENT ON COLUMN rekon.branches.last_seen_run IS 'Run that last saw the branch.';
COMMENT ON COLUMN rekon.branches.removed_at IS 'Set when a complete listing no longer had the branch; cleared if it comes back.';
