//! Accounts a run lists exactly as stored. During paging they are only
//! noted in a per-connection temp table (`seen_accounts`, one cheap insert
//! per account in the batch's transaction); when the writer has committed
//! its last batch, one set-based statement refreshes their `last_seen_*`.
//! Their branches are not written: the view `branches` shows a current
//! branch its shop's `last_seen_*` (migration 0007).
//!
//! Refreshed by key, batch by batch, a million unchanged accounts and their
//! branches took 46 s of writer time (an index probe and mostly non-HOT
//! update per row); noted and then refreshed by one hash join per table
//! they took about 16 s, 13 of them after the listing, on both writers at
//! once; without the branches, 11 s of writer time became 7 s. The stored
//! digest is checked again in SQL, so a row rewritten since the run
//! started is left alone.

use super::ROWS_PER_STATEMENT;
use crate::warehouse::copy::{copy_binary, BinaryRows};
use crate::warehouse::{op, WarehouseError};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, QueryBuilder, SqliteConnection};

/// A listed account found unchanged.
#[derive(Debug, Clone, Copy)]
pub struct SeenAccount<'a> {
    /// `registration_id`.
    pub external_id: &'a str,
    /// Digest of the listed values, equal to the stored one at the start of the run.
    pub digest: i64,
    /// Raw body it was listed in.
    pub raw_id: Option<i64>,
}

/// Kept across the run's transactions (rows of a rolled-back batch go with it).
pub const CREATE_SEEN_POSTGRES: &str = "CREATE TEMP TABLE IF NOT EXISTS seen_accounts (
    external_id text NOT NULL, digest bigint NOT NULL, raw_id bigint, seen_at timestamptz NOT NULL)";

pub const CREATE_SEEN_SQLITE: &str = "CREATE TEMP TABLE IF NOT EXISTS seen_accounts (
    external_id TEXT NOT NULL, digest INTEGER NOT NULL, raw_id INTEGER, seen_at TEXT NOT NULL)";

pub const INDEX_SEEN_SQLITE: &str =
    "CREATE INDEX IF NOT EXISTS temp.seen_accounts_id ON seen_accounts (external_id)";

const COPY_SEEN: &str =
    "COPY seen_accounts (external_id, digest, raw_id, seen_at) FROM STDIN WITH (FORMAT binary)";

const REFRESH_ACCOUNTS: &str =
    "UPDATE provider_accounts SET last_seen_at = s.seen_at, last_seen_run = $1, \
    source_raw_id = s.raw_id FROM seen_accounts s \
    WHERE provider_accounts.provider = 'elkassa' AND provider_accounts.external_id = s.external_id \
    AND provider_accounts.source_digest = s.digest AND provider_accounts.last_seen_run <> $1";

/// What the refresh wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refreshed {
    /// Accounts refreshed.
    pub accounts: u64,
    /// Time spent instead analysing the tables after a first load.
    pub analyze: std::time::Duration,
}

/// The refresh statement inside `$tx`; evaluates to [`Refreshed`].
macro_rules! refresh {
    ($tx:ident, $run_id:expr) => {{
        let accounts = sqlx::query(REFRESH_ACCOUNTS)
            .bind($run_id)
            .execute(&mut *$tx)
            .await
            .map_err(op("refresh unchanged accounts"))?;
        Refreshed {
            accounts: accounts.rows_affected(),
            ..Refreshed::default()
        }
    }};
}

/// A connection that notes unchanged accounts and refreshes them at the end.
pub trait SeenAccounts {
    /// Notes `accounts` as listed unchanged at `at` (inside the batch's transaction).
    async fn note_seen(
        &mut self,
        at: DateTime<Utc>,
        accounts: &[SeenAccount<'_>],
    ) -> Result<(), WarehouseError>;

    /// Refreshes every noted account for `run_id`, then forgets them.
    async fn refresh_seen(&mut self, run_id: i64) -> Result<Refreshed, WarehouseError>;
}

impl SeenAccounts for PgConnection {
    async fn note_seen(
        &mut self,
        at: DateTime<Utc>,
        accounts: &[SeenAccount<'_>],
    ) -> Result<(), WarehouseError> {
        if accounts.is_empty() {
            return Ok(());
        }
        // Binary: three of the four fields are numbers and an instant, which
        // as CSV the server would parse from text a million times a night.
        let mut rows = BinaryRows::with_capacity(accounts.len() * 64);
        for account in accounts {
            rows.row(4);
            rows.text(Some(account.external_id));
            rows.int8(Some(account.digest));
            rows.int8(account.raw_id);
            rows.instant(Some(at));
        }
        copy_binary(self, COPY_SEEN, rows, "note unchanged accounts").await
    }

    async fn refresh_seen(&mut self, run_id: i64) -> Result<Refreshed, WarehouseError> {
        let mut tx = sqlx::Connection::begin(&mut *self)
            .await
            .map_err(op("begin refresh"))?;
        // Temp tables are never auto-analysed; the planner needs the row
        // count to choose one hash join over a million index probes.
        sqlx::query("ANALYZE seen_accounts")
            .execute(&mut *tx)
            .await
            .map_err(op("analyze unchanged accounts"))?;
        // A million noted accounts hash to about 80 MB; at the default 4 MB
        // the join spills to disk in many batches. Scoped to this transaction.
        sqlx::query("SET LOCAL work_mem = '128MB'")
            .execute(&mut *tx)
            .await
            .map_err(op("size the refresh's hash join"))?;
        let refreshed = refresh!(tx, run_id);
        sqlx::query("TRUNCATE seen_accounts")
            .execute(&mut *tx)
            .await
            .map_err(op("clear unchanged accounts"))?;
        tx.commit().await.map_err(op("commit refresh"))?;
        Ok(refreshed)
    }
}

impl SeenAccounts for SqliteConnection {
    async fn note_seen(
        &mut self,
        at: DateTime<Utc>,
        accounts: &[SeenAccount<'_>],
    ) -> Result<(), WarehouseError> {
        for chunk in accounts.chunks(ROWS_PER_STATEMENT) {
            let mut insert = QueryBuilder::new(
                "INSERT INTO seen_accounts (external_id, digest, raw_id, seen_at) ",
            );
            insert.push_values(chunk, |mut row, account| {
                row.push_bind(account.external_id)
                    .push_bind(account.digest)
                    .push_bind(account.raw_id)
                    .push_bind(at);
            });
            insert
                .build()
                .execute(&mut *self)
                .await
                .map_err(op("note unchanged accounts"))?;
        }
        Ok(())
    }

    async fn refresh_seen(&mut self, run_id: i64) -> Result<Refreshed, WarehouseError> {
        let mut tx = sqlx::Connection::begin(&mut *self)
            .await
            .map_err(op("begin refresh"))?;
        let refreshed = refresh!(tx, run_id);
        sqlx::query("DELETE FROM seen_accounts")
            .execute(&mut *tx)
            .await
            .map_err(op("clear unchanged accounts"))?;
        tx.commit().await.map_err(op("commit refresh"))?;
        Ok(refreshed)
    }
}
