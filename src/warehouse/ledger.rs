//! `registrations`: the onboarding ledger. An entry is written before its
//! registration call (`sent`) and completed after it, so a crash in between
//! leaves a visible `sent` entry that the next run resolves.

use super::{dual, op, Warehouse, WarehouseError};
use chrono::Utc;

/// Ledger states a later run must not send again.
pub const FINAL_STATES: [&str; 2] = ["registered", "already_registered"];

/// A ledger entry as read back.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LedgerEntry {
    /// Entry id.
    pub ledger_id: i64,
    /// The row's idempotency key.
    pub row_key: String,
    /// Partner name.
    pub provider: String,
    /// Ledger state.
    pub state: String,
    /// The partner's id for the account, when known (the middleware ticket before the call).
    pub external_id: Option<String>,
    /// Calls sent so far.
    pub attempts: i32,
    /// Activation state, for ELKASSA rows that carry one.
    pub activation_state: Option<String>,
}

impl LedgerEntry {
    /// Registered (or found registered) on an earlier call: never sent again.
    pub fn is_final(&self) -> bool {
        FINAL_STATES.contains(&self.state.as_str())
    }

    /// A call went out and its answer was never recorded.
    pub fn is_ambiguous(&self) -> bool {
        matches!(self.state.as_str(), "sent" | "unknown")
    }
}

/// A row bound for one partner, as the ledger first records it.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    /// Drop file name.
    pub source_file: &'a str,
    /// Line the row starts on.
    pub source_row: u64,
    /// Idempotency key.
    pub row_key: &'a str,
    /// Partner name.
    pub provider: &'a str,
    /// Initial state: `pending`, or `rejected` for a row that failed validation.
    pub state: &'a str,
    /// The customer, once matched.
    pub customer_id: Option<i64>,
    /// Email sent, for look-ups.
    pub email: Option<&'a str>,
    /// Phone sent.
    pub phone_e164: Option<&'a str>,
    /// Why the row was rejected, for `rejected` entries.
    pub last_error: Option<&'a str>,
    /// The onboarding run.
    pub run_id: i64,
}

/// How a call ended, to complete its entry.
#[derive(Debug, Clone)]
pub struct Completion<'a> {
    /// Final or retryable state.
    pub state: &'a str,
    /// The partner's id, when the answer gave one.
    pub external_id: Option<&'a str>,
    /// How the outcome was established (`answer`, `lookup`, `duplicate_answer`).
    pub resolution: Option<&'a str>,
    /// The partner's message or the failure.
    pub last_error: Option<&'a str>,
}

const ENTRY_COLUMNS: &str =
    "ledger_id, row_key, provider, state, external_id, attempts, activation_state";

impl Warehouse {
    /// Every ledger entry recorded for rows of `source_file`.
    pub async fn ledger_for_file(
        &self,
        source_file: &str,
    ) -> Result<Vec<LedgerEntry>, WarehouseError> {
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM registrations WHERE source_file = $1");
        dual!(self, Warehouse, pool => {
            sqlx::query_as::<_, LedgerEntry>(&sql)
                .bind(source_file)
                .fetch_all(pool)
                .await
                .map_err(op("read ledger"))
        })
    }

    /// Records a row for a partner, or refreshes an entry that is not final
    /// (its line, run and, for a rejected row, the new reasons). Final entries
    /// are left untouched, so a rerun over the same file changes nothing.
    pub async fn open_entry(&self, entry: &NewEntry<'_>) -> Result<LedgerEntry, WarehouseError> {
        let sql = format!(
            "INSERT INTO registrations (source_file, source_row, row_key, provider, state, customer_id, \
                 email, phone_e164, last_error, resolution, run_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $5 = 'rejected' THEN 'validation' END, $10, $11, $11) \
             ON CONFLICT (row_key, provider) DO UPDATE SET \
                 source_row = excluded.source_row, run_id = excluded.run_id, updated_at = excluded.updated_at, \
                 customer_id = COALESCE(excluded.customer_id, registrations.customer_id), \
                 email = excluded.email, phone_e164 = excluded.phone_e164, \
                 state = CASE WHEN excluded.state = 'rejected' OR registrations.state = 'rejected' \
                              THEN excluded.state ELSE registrations.state END, \
                 resolution = CASE WHEN excluded.state = 'rejected' THEN 'validation' ELSE registrations.resolution END, \
                 last_error = CASE WHEN excluded.state = 'rejected' THEN excluded.last_error ELSE registrations.last_error END \
             WHERE registrations.state NOT IN ('registered', 'already_registered') \
               AND NOT (registrations.state = 'rejected' AND excluded.state = 'rejected' \
                        AND registrations.last_error IS NOT DISTINCT FROM excluded.last_error) \
             RETURNING {ENTRY_COLUMNS}"
        );
        let now = Utc::now();
        let written = dual!(self, Warehouse, pool => {
            sqlx::query_as::<_, LedgerEntry>(&sql)
                .bind(entry.source_file)
                .bind(entry.source_row as i64)
                .bind(entry.row_key)
                .bind(entry.provider)
                .bind(entry.state)
                .bind(entry.customer_id)
                .bind(entry.email)
                .bind(entry.phone_e164)
                .bind(entry.last_error)
                .bind(entry.run_id)
                .bind(now)
                .fetch_optional(pool)
                .await
                .map_err(op("open ledger entry"))
        })?;
        match written {
            Some(entry) => Ok(entry),
            None => self.ledger_entry(entry.row_key, entry.provider).await,
        }
    }

    /// One entry by its key and partner.
    pub async fn ledger_entry(
        &self,
        row_key: &str,
        provider: &str,
    ) -> Result<LedgerEntry, WarehouseError> {
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM registrations WHERE row_key = $1 AND provider = $2"
        );
        dual!(self, Warehouse, pool => {
            sqlx::query_as::<_, LedgerEntry>(&sql)
                .bind(row_key)
                .bind(provider)
                .fetch_one(pool)
                .await
                .map_err(op("read ledger entry"))
        })
    }

    /// Marks an entry `sent` just before its call, if it is still in the
    /// state this run read (so two runs never both send one row); the
    /// middleware's ticket id is recorded here, so a crash after the post
    /// polls the same ticket. False when another run got there first.
    pub async fn mark_sent(
        &self,
        entry: &LedgerEntry,
        external_id: Option<&str>,
    ) -> Result<bool, WarehouseError> {
        let sql = "UPDATE registrations SET state = 'sent', attempts = attempts + 1, \
                   external_id = COALESCE($2, external_id), updated_at = $3 \
                   WHERE ledger_id = $1 AND state = $4 AND attempts = $5";
        dual!(self, Warehouse, pool => {
            sqlx::query(sql)
                .bind(entry.ledger_id)
                .bind(external_id)
                .bind(Utc::now())
                .bind(&entry.state)
                .bind(entry.attempts)
                .execute(pool)
                .await
                .map(|done| done.rows_affected() == 1)
                .map_err(op("mark entry sent"))
        })
    }

    /// Completes an entry after its call (or its resolution).
    pub async fn complete_entry(
        &self,
        ledger_id: i64,
        done: &Completion<'_>,
    ) -> Result<(), WarehouseError> {
        let sql = "UPDATE registrations SET state = $2, external_id = COALESCE($3, external_id), \
                   resolution = COALESCE($4, resolution), last_error = $5, updated_at = $6 \
                   WHERE ledger_id = $1";
        dual!(self, Warehouse, pool => {
            sqlx::query(sql)
                .bind(ledger_id)
                .bind(done.state)
                .bind(done.external_id)
                .bind(done.resolution)
                .bind(done.last_error)
                .bind(Utc::now())
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(op("complete ledger entry"))
        })
    }

    /// Records the activation step of an ELKASSA entry: its packet and state.
    pub async fn record_activation(
        &self,
        ledger_id: i64,
        packet_id: Option<&str>,
        state: &str,
        error: Option<&str>,
    ) -> Result<(), WarehouseError> {
        let sql = "UPDATE registrations SET activation_packet_id = COALESCE($2, activation_packet_id), \
                   activation_state = $3, activation_error = $4, updated_at = $5 WHERE ledger_id = $1";
        dual!(self, Warehouse, pool => {
            sqlx::query(sql)
                .bind(ledger_id)
                .bind(packet_id)
                .bind(state)
                .bind(error)
                .bind(Utc::now())
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(op("record activation"))
        })
    }

    /// Ledger entries per state, for summaries and tests.
    pub async fn ledger_states(&self) -> Result<Vec<(String, String, i64)>, WarehouseError> {
        dual!(self, Warehouse, pool => {
            sqlx::query_as::<_, (String, String, i64)>(
                "SELECT provider, state, COUNT(*) FROM registrations GROUP BY provider, state ORDER BY provider, state",
            )
            .fetch_all(pool)
            .await
            .map_err(op("count ledger states"))
        })
    }
}
