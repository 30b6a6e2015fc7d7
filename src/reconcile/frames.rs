//! Warehouse tables as polars frames, read the same way from either backend:
//! timestamps become epoch milliseconds (`*_ms`), flags 0/1, so every rule
//! downstream is plain integer and string work.

pub(crate) use super::reader::{digest, read_frame, Field};
use super::ReconcileError;
use crate::warehouse::Warehouse;
use futures::{StreamExt, TryStreamExt};
use polars::prelude::*;

/// Accounts at every partner, with the identity fields each partner holds.
const ACCOUNTS: &str = "SELECT provider, external_id, status, email, legal_name, phone_e164, identity_hash, \
    identity_last4, shop_name, match_rule, customer_id, {ms}registered_at{/ms}, {ms}first_seen_at{/ms}, {ms}last_seen_at{/ms}, \
    {ms}removed_at{/ms} FROM provider_accounts";
const ACCOUNT_FIELDS: &[(&str, Field)] = &[
    ("provider", Field::Text),
    ("external_id", Field::Text),
    ("status", Field::Text),
    ("email", Field::Text),
    ("legal_name", Field::Text),
    ("phone_e164", Field::Text),
    ("identity_hash", Field::Digest),
    ("identity_last4", Field::Text),
    ("shop_name", Field::Text),
    ("match_rule", Field::Text),
    ("customer_id", Field::Int),
    ("registered_ms", Field::Time),
    ("first_seen_ms", Field::Time),
    ("last_seen_ms", Field::Time),
    ("removed_ms", Field::Time),
];

const CONTRACTS: &str =
    "SELECT provider, external_id, packet_id, contract_notes, status, is_trial, {ms}expires_at{/ms} FROM contracts";
const CONTRACT_FIELDS: &[(&str, Field)] = &[
    ("provider", Field::Text),
    ("external_id", Field::Text),
    ("packet_id", Field::Text),
    ("contract_notes", Field::Text),
    ("contract_status", Field::Text),
    ("is_trial", Field::Flag),
    ("expires_ms", Field::Time),
];

const PACKETS: &str =
    "SELECT packet_id, packet_desc, CAST(duration_days AS BIGINT), is_trial FROM packets";
const PACKET_FIELDS: &[(&str, Field)] = &[
    ("packet_id", Field::Text),
    ("packet_desc", Field::Text),
    ("duration_days", Field::Int),
    ("packet_is_trial", Field::Flag),
];

const CUSTOMERS: &str = "SELECT email, phone_e164, identity_hash, customer_id FROM customers";
const CUSTOMER_FIELDS: &[(&str, Field)] = &[
    ("email", Field::Text),
    ("phone_e164", Field::Text),
    ("identity_hash", Field::Digest),
    ("customer_id", Field::Int),
];

const LEDGER: &str =
    "SELECT provider, external_id, state, row_key, customer_id, {ms}created_at{/ms}, {ms}updated_at{/ms} \
    FROM registrations";
const LEDGER_FIELDS: &[(&str, Field)] = &[
    ("provider", Field::Text),
    ("external_id", Field::Text),
    ("state", Field::Text),
    ("row_key", Field::Text),
    ("customer_id", Field::Int),
    ("created_ms", Field::Time),
    ("updated_ms", Field::Time),
];

const SESSIONS: &str =
    "SELECT session_id, customer_id, {ms}expires_at{/ms}, {ms}verified_at{/ms}, {ms}created_at{/ms} FROM otp_sessions";
const SESSION_FIELDS: &[(&str, Field)] = &[
    ("session_id", Field::Text),
    ("customer_id", Field::Int),
    ("expires_ms", Field::Time),
    ("verified_ms", Field::Time),
    ("created_ms", Field::Time),
];

const TICKETS: &str =
    "SELECT ticket_id, state, customer_id, {ms}created_at{/ms}, {ms}last_polled_at{/ms}, \
    CAST(polls AS BIGINT) FROM enrollment_tickets";
const TICKET_FIELDS: &[(&str, Field)] = &[
    ("ticket_id", Field::Text),
    ("state", Field::Text),
    ("customer_id", Field::Int),
    ("created_ms", Field::Time),
    ("last_polled_ms", Field::Time),
    ("polls", Field::Int),
];

/// Every table reconcile looks at.
#[derive(Debug, Clone)]
pub struct Frames {
    /// `provider_accounts` with `email` replaced by `email_norm`, plus
    /// `name_key`; `identity_hash` is held as its digest.
    pub accounts: DataFrame,
    /// `contracts`, plus `notes_key`.
    pub contracts: DataFrame,
    /// `packets`, plus `desc_key`.
    pub packets: DataFrame,
    /// `customers`, `identity_hash` held as its digest.
    pub customers: DataFrame,
    /// `registrations` (the onboarding ledger).
    pub ledger: DataFrame,
    /// `otp_sessions`.
    pub sessions: DataFrame,
    /// `enrollment_tickets`.
    pub tickets: DataFrame,
}

impl Frames {
    /// Reads every table reconcile needs.
    pub async fn read(warehouse: &Warehouse) -> Result<Self, ReconcileError> {
        // Each table on its own connection and task: the database steps
        // through one while the rows of another are decoded. No more at once
        // than the pool holds, so no reader waits out the acquire timeout.
        let tables: [Table; 7] = [
            (ACCOUNTS, ACCOUNT_FIELDS, prepare_accounts),
            (CONTRACTS, CONTRACT_FIELDS, prepare_contracts),
            (PACKETS, PACKET_FIELDS, prepare_packets),
            (CUSTOMERS, CUSTOMER_FIELDS, as_read),
            (LEDGER, LEDGER_FIELDS, as_read),
            (SESSIONS, SESSION_FIELDS, as_read),
            (TICKETS, TICKET_FIELDS, as_read),
        ];
        let reads = tables.map(|(sql, fields, prepare)| {
            let warehouse = warehouse.clone();
            async move {
                tokio::spawn(async move {
                    let mut frame = read_frame(&warehouse, sql, fields).await?;
                    // Normalising is CPU work: off the async workers, and
                    // beside the reads of the tables still streaming in.
                    tokio::task::spawn_blocking(move || prepare(&mut frame).map(|()| frame))
                        .await
                        .map_err(|e| ReconcileError::Task(e.to_string()))?
                })
                .await
                .map_err(|e| ReconcileError::Task(e.to_string()))?
            }
        });
        let frames: Vec<DataFrame> = futures::stream::iter(reads)
            .buffered(warehouse.pool_size() as usize)
            .try_collect()
            .await?;
        let [accounts, contracts, packets, customers, ledger, sessions, tickets] =
            <[DataFrame; 7]>::try_from(frames).expect("seven tables were read");
        Ok(Frames {
            accounts,
            contracts,
            packets,
            customers,
            ledger,
            sessions,
            tickets,
        })
    }

    /// Rows over every frame, for the benchmark's figures.
    pub fn rows(&self) -> usize {
        [
            &self.accounts,
            &self.contracts,
            &self.packets,
            &self.customers,
            &self.ledger,
            &self.sessions,
            &self.tickets,
        ]
        .iter()
        .map(|frame| frame.height())
        .sum()
    }
}

/// What a table needs once read, before any rule sees it.
type Prepare = fn(&mut DataFrame) -> Result<(), ReconcileError>;

/// A table to read: its query, its columns, and its preparation.
type Table = (&'static str, &'static [(&'static str, Field)], Prepare);

fn as_read(_: &mut DataFrame) -> Result<(), ReconcileError> {
    Ok(())
}

fn prepare_accounts(accounts: &mut DataFrame) -> Result<(), ReconcileError> {
    let email = normalised_column(accounts, "email", "email_norm", normalise_email)?;
    accounts.with_column(email).map_err(ReconcileError::frame)?;
    // Rules compare and show the normalised email only; the listed one
    // would be the widest column of the largest frame.
    let _ = accounts
        .drop_in_place("email")
        .map_err(ReconcileError::frame)?;
    // Names and notes are compared, never shown, once normalised: a
    // digest is 8 bytes where the text would be 16 plus its length.
    digest_into(accounts, "legal_name", "name_key", normalise_name)
}

fn prepare_contracts(contracts: &mut DataFrame) -> Result<(), ReconcileError> {
    digest_into(contracts, "contract_notes", "notes_key", normalise_name)
}

fn prepare_packets(packets: &mut DataFrame) -> Result<(), ReconcileError> {
    digest_into(packets, "packet_desc", "desc_key", normalise_name)
}

/// Adds `to`: the [`digest`] of `from` normalised by `normalise` (null when empty).
fn digest_into(
    frame: &mut DataFrame,
    from: &str,
    to: &str,
    normalise: fn(&str) -> String,
) -> Result<(), ReconcileError> {
    let source = frame
        .column(from)
        .and_then(|column| column.str().cloned())
        .map_err(ReconcileError::frame)?;
    let values: Int64Chunked = source
        .iter()
        .map(|value| {
            let normal = normalise(value?);
            (!normal.is_empty()).then(|| digest(&normal))
        })
        .collect();
    let column = values.with_name(to.into()).into_series().into_column();
    frame.with_column(column).map_err(ReconcileError::frame)?;
    Ok(())
}

/// A new text column computed from another by a Rust function (Unicode work polars lacks here).
fn normalised_column(
    frame: &DataFrame,
    from: &str,
    to: &str,
    normalise: fn(&str) -> String,
) -> Result<Column, ReconcileError> {
    let source = frame
        .column(from)
        .and_then(|column| column.str().cloned())
        .map_err(ReconcileError::frame)?;
    let values: StringChunked = source
        .iter()
        .map(|value| value.map(normalise).filter(|v| !v.is_empty()))
        .collect();
    Ok(values.with_name(to.into()).into_series().into_column())
}

/// Emails compare trimmed and lower-cased.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Names compare without case, extra spacing or diacritics (`Sití  NURHALIZA` = `siti nurhaliza`).
pub fn normalise_name(name: &str) -> String {
    use unicode_normalization::char::is_combining_mark;
    use unicode_normalization::UnicodeNormalization;
    let bare: String = name.nfkd().filter(|c| !is_combining_mark(*c)).collect();
    bare.to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_across_case_spacing_and_diacritics() {
        assert_eq!(normalise_name("  Sití   NURHALIZA "), "siti nurhaliza");
        assert_eq!(normalise_name("Café Ösmanthus"), "cafe osmanthus");
        assert_ne!(
            normalise_name("Budi Santoso"),
            normalise_name("Budi Santosa")
        );
    }

    #[test]
    fn emails_match_trimmed_and_lower_cased() {
        assert_eq!(
            normalise_email(" Shop1@Example.TEST "),
            "shop1@example.test"
        );
    }
}
