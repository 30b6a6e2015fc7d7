//! Server-level Postgres work: creating and dropping whole databases, for
//! the benchmark and the test harness.

use super::{op, WarehouseError};
use sqlx::{Connection, Executor, PgConnection};

/// A single connection for statements that cannot run in a transaction.
pub struct AdminConnection(PgConnection);

/// Connects to the database named in `url` (usually `postgres`).
pub async fn admin_connection(url: &str) -> Result<AdminConnection, WarehouseError> {
    PgConnection::connect(url)
        .await
        .map(AdminConnection)
        .map_err(|source| WarehouseError::Connect {
            url: super::redact_url(url),
            source,
        })
}

impl AdminConnection {
    /// Runs one statement as given (names cannot be bound as parameters).
    pub async fn execute_raw(&mut self, sql: &str) -> Result<(), WarehouseError> {
        self.0
            .execute(sql)
            .await
            .map(|_| ())
            .map_err(op("administer database"))
    }
}

/// `url` with its database name replaced by `database`, keeping the query string.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let host_start = base.find("://").map(|at| at + 3).unwrap_or(0);
    let server = match base[host_start..].find('/') {
        Some(slash) => &base[..host_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_swapped_and_the_rest_kept() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
