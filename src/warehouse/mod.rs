//! The warehouse: an embedded SQLite file by default, Postgres for production.
//!
//! Both backends hold the same tables (see `sql/`). Most SQL is shared: sqlx
//! binds `$N` placeholders on SQLite too, and SQLite understands
//! `IS DISTINCT FROM` and upserts. The [`dual!`] macro runs one body against
//! whichever pool is configured, so an operation is written once.

mod admin;
pub(crate) mod copy;
mod elkassa;
mod jobs;
mod ledger;
mod partner_records;
mod raw;
mod runs;
mod tickets;

pub use admin::{admin_connection, with_database, AdminConnection};
pub use elkassa::{
    AccountRow, BatchStats, BranchRow, Census, ElkassaLoader, LandedPage, PacketRow, PhaseTimes,
    RecordIssue, Refreshed, SweepStats,
};
pub use jobs::JobStats;
pub use ledger::{Completion, LedgerEntry, NewEntry, FINAL_STATES};
pub use partner_records::{AccountFacts, CustomerFacts, MatchRule};
pub use raw::{compress_body, decompress_body, RawBody};
pub use runs::{RunRecord, RunSummary};
pub use tickets::{PendingTicket, TicketPoll};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// Why a warehouse operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    /// The URL names no backend we support.
    #[error("unsupported database URL {0:?}: expected sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    /// Could not open or reach the database.
    #[error("cannot open warehouse {url}: {source}")]
    Connect {
        /// The URL with any password hidden.
        url: String,
        /// Driver error.
        source: sqlx::Error,
    },
    /// Migrations failed.
    #[error("cannot migrate warehouse: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A statement failed.
    #[error("warehouse {operation}: {source}")]
    Query {
        /// What we were doing.
        operation: &'static str,
        /// Driver error.
        source: sqlx::Error,
    },
}

impl WarehouseError {
    /// A deadlock or serialization failure: the transaction was rolled back
    /// and can simply be run again.
    pub fn is_transient_conflict(&self) -> bool {
        self.has_code(&["40P01", "40001"])
    }

    /// A unique or foreign key violation: the rows met keys written by
    /// someone else (the transaction was rolled back).
    pub fn is_key_conflict(&self) -> bool {
        self.has_code(&["23505", "23503"])
    }

    fn has_code(&self, codes: &[&str]) -> bool {
        match self {
            WarehouseError::Query {
                source: sqlx::Error::Database(db),
                ..
            } => db.code().is_some_and(|code| codes.contains(&code.as_ref())),
            _ => false,
        }
    }
}

/// Attaches the operation name to a driver error.
pub(crate) fn op(operation: &'static str) -> impl FnOnce(sqlx::Error) -> WarehouseError {
    move |source| WarehouseError::Query { operation, source }
}

/// Which database engine holds the warehouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded file.
    Sqlite,
    /// Server, schema `rekon`.
    Postgres,
}

/// A connection pool to the warehouse.
#[derive(Debug, Clone)]
pub enum Warehouse {
    /// Embedded SQLite file.
    Sqlite(SqlitePool),
    /// Postgres server.
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool or connection of
/// either backend; the body is compiled once per backend.
macro_rules! dual {
    ($target:expr, $kind:ident, $pool:ident => $body:expr) => {
        match $target {
            $kind::Sqlite($pool) => $body,
            $kind::Postgres($pool) => $body,
        }
    };
}
pub(crate) use dual;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("sql/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("sql/postgres");

impl Warehouse {
    /// Opens the warehouse at `url`, creating an SQLite file (and its folder) if needed.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, WarehouseError> {
        let shown = redact_url(url);
        let connect_error = |source| WarehouseError::Connect {
            url: shown.clone(),
            source,
        };
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(connect_error)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true);
            if let Some(parent) = options
                .get_filename()
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
            {
                let _ = std::fs::create_dir_all(parent);
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections.max(2))
                .connect_with(options)
                .await
                .map_err(connect_error)?;
            Ok(Warehouse::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)
                .map_err(connect_error)?
                .application_name("rekon")
                .options([("search_path", "rekon,public")]);
            let pool = PgPoolOptions::new()
                .max_connections(max_connections.max(2))
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await
                .map_err(connect_error)?;
            Ok(Warehouse::Postgres(pool))
        } else {
            Err(WarehouseError::UnsupportedUrl(shown))
        }
    }

    /// Applies every pending migration from `sql/<backend>/`.
    pub async fn migrate(&self) -> Result<(), WarehouseError> {
        match self {
            Warehouse::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Warehouse::Postgres(pool) => {
                // The migrator's bookkeeping table goes to the first schema on
                // the search path, so the schema must exist before it runs.
                sqlx::query("CREATE SCHEMA IF NOT EXISTS rekon")
                    .execute(pool)
                    .await
                    .map_err(op("create schema"))?;
                POSTGRES_MIGRATIONS.run(pool).await?
            }
        }
        Ok(())
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        match self {
            Warehouse::Sqlite(_) => Backend::Sqlite,
            Warehouse::Postgres(_) => Backend::Postgres,
        }
    }

    /// Closes every connection.
    pub async fn close(&self) {
        dual!(self, Warehouse, pool => pool.close().await)
    }

    /// Connections the pool may hold open at once.
    pub fn pool_size(&self) -> u32 {
        match self {
            Warehouse::Sqlite(pool) => pool.options().get_max_connections(),
            Warehouse::Postgres(pool) => pool.options().get_max_connections(),
        }
    }

    /// Counts rows of a table (analyst-facing names only).
    pub async fn count(&self, table: &str, filter: &str) -> Result<i64, WarehouseError> {
        let sql = format!("SELECT COUNT(*) FROM {table} {filter}");
        dual!(self, Warehouse, pool => {
            sqlx::query_scalar::<_, i64>(&sql).fetch_one(pool).await.map_err(op("count rows"))
        })
    }
}

/// Hides the password of a database URL so it can be logged.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            if credentials.contains(':') {
                format!("{scheme}://{user}:***@{host}")
            } else {
                format!("{scheme}://{user}@{host}")
            }
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_password_never_appears_in_the_shown_url() {
        assert_eq!(
            redact_url("postgres://rekon:hunter2@db:5432/w"),
            "postgres://rekon:***@db:5432/w"
        );
        assert_eq!(redact_url("postgres://rekon@db/w"), "postgres://rekon@db/w");
        assert_eq!(
            redact_url("sqlite://data/w.sqlite"),
            "sqlite://data/w.sqlite"
        );
    }
}
