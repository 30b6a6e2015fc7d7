-- rekon warehouse, Postgres: the onboarding ledger and what registrations
-- leave behind (enrollment tickets, one-time-code sessions).

ALTER TABLE rekon.provider_accounts
    ADD COLUMN legal_name text,
    ADD COLUMN phone_e164 text,
    ADD COLUMN identity_hash text,
    ADD COLUMN identity_last4 text,
    ADD COLUMN match_rule text;
COMMENT ON COLUMN rekon.provider_accounts.legal_name IS 'Legal full name this partner holds for the account, where known.';
COMMENT ON COLUMN rekon.provider_accounts.phone_e164 IS 'Phone this partner holds, in E.164 form, where known.';
COMMENT ON COLUMN rekon.provider_accounts.identity_hash IS 'Keyed hash of the national ID this partner holds; the ID itself is never stored.';
COMMENT ON COLUMN rekon.provider_accounts.identity_last4 IS 'Last four digits of the national ID this partner holds.';
COMMENT ON COLUMN rekon.provider_accounts.match_rule IS 'How the account was matched to its customer: identity (national-ID hash), email, phone, or new.';
CREATE INDEX customers_identity ON rekon.customers (identity_hash);
CREATE INDEX customers_phone ON rekon.customers (phone_e164);

CREATE TABLE rekon.registrations (
    ledger_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_file   text        NOT NULL,
    source_row    bigint      NOT NULL,
    row_key       text        NOT NULL,
    provider      text        NOT NULL CHECK (provider IN ('elkassa', 'mcp', 'middleware', 'qm')),
    state         text        NOT NULL CHECK (state IN ('pending', 'sent', 'registered', 'already_registered', 'rejected', 'failed', 'unknown')),
    customer_id   bigint REFERENCES rekon.customers (customer_id),
    email         text,
    phone_e164    text,
    external_id   text,
    resolution    text,
    attempts      integer     NOT NULL DEFAULT 0,
    last_error    text,
    activation_packet_id  text,
    activation_state      text CHECK (activation_state IN ('sent', 'activated', 'rejected', 'failed', 'unknown')),
    activation_error      text,
    run_id        bigint REFERENCES rekon.sync_runs (run_id),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    UNIQUE (row_key, provider)
);
CREATE INDEX registrations_state ON rekon.registrations (state);
CREATE INDEX registrations_external ON rekon.registrations (provider, external_id);
CREATE INDEX registrations_customer ON rekon.registrations (customer_id);
COMMENT ON TABLE rekon.registrations IS 'Onboarding ledger: one CSV row sent to one partner. Written before the registration call and completed after it, so a crash in between is visible and resolved on the next run.';
COMMENT ON COLUMN rekon.registrations.ledger_id IS 'Ledger entry identifier.';
COMMENT ON COLUMN rekon.registrations.source_file IS 'Name of the drop file the row came from.';
COMMENT ON COLUMN rekon.registrations.source_row IS 'Line of the drop file where the row starts (the latest drop that carried it).';
COMMENT ON COLUMN rekon.registrations.row_key IS 'Idempotency key of the row: the file name and the sender''s ref.';
COMMENT ON COLUMN rekon.registrations.provider IS 'Partner: elkassa, mcp, middleware or qm.';
COMMENT ON COLUMN rekon.registrations.state IS 'pending (not sent), sent (call in flight), registered, already_registered, rejected (by validation or the partner), failed (retried next run) or unknown (ambiguous outcome, resolved next run).';
COMMENT ON COLUMN rekon.registrations.customer_id IS 'The customer the row registers.';
COMMENT ON COLUMN rekon.registrations.email IS 'Email sent, trimmed and lower-cased; the lookup key for resolving an ambiguous outcome.';
COMMENT ON COLUMN rekon.registrations.phone_e164 IS 'Phone sent, in E.164 form.';
COMMENT ON COLUMN rekon.registrations.external_id IS 'The partner''s id for the account (ELKASSA registration_id, MCP client_id, middleware ticket, QM login).';
COMMENT ON COLUMN rekon.registrations.resolution IS 'How the outcome was established: answer, lookup (found by a partner look-up), duplicate_answer (the partner said already registered), or validation.';
COMMENT ON COLUMN rekon.registrations.attempts IS 'Registration calls sent for this row so far.';
COMMENT ON COLUMN rekon.registrations.last_error IS 'The partner''s last message or the failure, never a password or national ID.';
COMMENT ON COLUMN rekon.registrations.activation_packet_id IS 'ELKASSA packet_id the row paid for (from its packet_code), when the row carries an activation.';
COMMENT ON COLUMN rekon.registrations.activation_state IS 'ELKASSA activation after registration: sent, activated, rejected, failed or unknown; NULL when the row asks for none.';
COMMENT ON COLUMN rekon.registrations.activation_error IS 'The partner''s last message about the activation.';
COMMENT ON COLUMN rekon.registrations.run_id IS 'The onboarding run that last touched the entry.';
COMMENT ON COLUMN rekon.registrations.created_at IS 'When the row was first recorded.';
COMMENT ON COLUMN rekon.registrations.updated_at IS 'When the entry last changed.';

CREATE TABLE rekon.enrollment_tickets (
    ticket_id        text        PRIMARY KEY,
    customer_id      bigint REFERENCES rekon.customers (customer_id),
    ledger_id        bigint REFERENCES rekon.registrations (ledger_id),
    state            text        NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    nik_status       text,
    resource_id      text,
    polls            integer     NOT NULL DEFAULT 0,
    last_message     text,
    created_at       timestamptz NOT NULL,
    first_polled_at  timestamptz,
    last_polled_at   timestamptz,
    done_at          timestamptz
);
CREATE INDEX enrollment_tickets_state ON rekon.enrollment_tickets (state);
COMMENT ON TABLE rekon.enrollment_tickets IS 'Middleware e-KTP enrollment tickets and their polling state.';
COMMENT ON COLUMN rekon.enrollment_tickets.ticket_id IS 'TicketId the project made and posts again to poll.';
COMMENT ON COLUMN rekon.enrollment_tickets.customer_id IS 'The customer being enrolled.';
COMMENT ON COLUMN rekon.enrollment_tickets.ledger_id IS 'The onboarding ledger entry that opened the ticket.';
COMMENT ON COLUMN rekon.enrollment_tickets.state IS 'pending (request on process), done or failed.';
COMMENT ON COLUMN rekon.enrollment_tickets.nik_status IS 'Data.Status the middleware gave for the national ID, once done.';
COMMENT ON COLUMN rekon.enrollment_tickets.resource_id IS 'ResourceId of the finished enrollment.';
COMMENT ON COLUMN rekon.enrollment_tickets.polls IS 'How many times the ticket was posted.';
COMMENT ON COLUMN rekon.enrollment_tickets.last_message IS 'The middleware''s last message.';
COMMENT ON COLUMN rekon.enrollment_tickets.created_at IS 'When the ticket was made.';
COMMENT ON COLUMN rekon.enrollment_tickets.first_polled_at IS 'First post of the ticket.';
COMMENT ON COLUMN rekon.enrollment_tickets.last_polled_at IS 'Latest post of the ticket.';
COMMENT ON COLUMN rekon.enrollment_tickets.done_at IS 'When the ticket was seen done or failed.';

CREATE TABLE rekon.otp_sessions (
    session_id   text        PRIMARY KEY,
    customer_id  bigint REFERENCES rekon.customers (customer_id),
    ledger_id    bigint REFERENCES rekon.registrations (ledger_id),
    login        text        NOT NULL,
    expires_at   timestamptz NOT NULL,
    verified_at  timestamptz,
    created_at   timestamptz NOT NULL
);
CREATE INDEX otp_sessions_customer ON rekon.otp_sessions (customer_id);
COMMENT ON TABLE rekon.otp_sessions IS 'QM one-time-code sessions opened by registrations.';
COMMENT ON COLUMN rekon.otp_sessions.session_id IS 'QM sessionId.';
COMMENT ON COLUMN rekon.otp_sessions.customer_id IS 'The customer registered.';
COMMENT ON COLUMN rekon.otp_sessions.ledger_id IS 'The onboarding ledger entry that opened the session.';
COMMENT ON COLUMN rekon.otp_sessions.login IS 'Where the code went: the email or E.164 phone named by primaryLoginMethod.';
COMMENT ON COLUMN rekon.otp_sessions.expires_at IS 'QM expiredOn: when the one-time code lapses.';
COMMENT ON COLUMN rekon.otp_sessions.verified_at IS 'When the customer was seen verified; NULL while unverified.';
COMMENT ON COLUMN rekon.otp_sessions.created_at IS 'When the session was recorded.';
