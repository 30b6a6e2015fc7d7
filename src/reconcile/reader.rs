//! Streaming a query's rows into a polars frame, by the fastest path each
//! backend offers: SQLite through its C API on a blocking thread (no
//! per-row hop to an async worker), Postgres as binary `COPY ... TO STDOUT`
//! ([`copy_binary`](super::copy_binary)).
//!
//! Either way the rows go straight into column builders, so memory holds
//! the finished columns and never a copy of the rows.

use super::columns::Columns;
use super::copy_binary::{BinaryRows, Wire};
use super::ReconcileError;
use crate::warehouse::{Backend, Warehouse};
use futures::TryStreamExt;
use polars::prelude::*;
use sqlx::postgres::PgPoolCopyExt;
use std::path::Path;

/// How a selected column is decoded.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Field {
    /// Text, kept as is.
    Text,
    /// A whole number.
    Int,
    /// An instant, selected as `{ms}column{/ms}`: epoch milliseconds
    /// (see [`expand_instants`]).
    Time,
    /// A boolean, as 0/1.
    Flag,
    /// Text only ever compared for equality (a keyed hash): kept as its
    /// 64-bit [`digest`], an eighth of the memory of a 64-character hash.
    Digest,
    /// JSON only ever compared for equality: the [`digest`] of its
    /// canonical form (Postgres `jsonb` spells it with other spacing and key order).
    JsonDigest,
}

impl Field {
    /// What the field holds, for errors.
    pub(crate) fn wanted(self) -> &'static str {
        match self {
            Field::Text => "text",
            Field::Int => "a whole number",
            Field::Time => "an instant",
            Field::Flag => "a flag",
            Field::Digest => "text to digest",
            Field::JsonDigest => "JSON to digest",
        }
    }
}

/// A 64-bit digest of a text for equality tests inside one process: SipHash
/// with fixed keys, so the same text digests the same in every frame. Two of
/// a million distinct texts collide with odds of about 1 in 37 million.
pub(crate) fn digest(text: &str) -> i64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(text) as i64
}

/// Streams `sql` into a frame whose columns `fields` names and types, in select order.
pub(crate) async fn read_frame(
    warehouse: &Warehouse,
    sql: &str,
    fields: &'static [(&'static str, Field)],
) -> Result<DataFrame, ReconcileError> {
    let query = expand_instants(warehouse.backend(), sql);
    let mut columns = Columns::new(fields);
    let read = match warehouse {
        Warehouse::Sqlite(pool) => {
            let path = pool.connect_options().get_filename().to_owned();
            let (read, filled) = tokio::task::spawn_blocking(move || {
                let read = read_sqlite(&path, &query, &mut columns);
                (read, columns)
            })
            .await
            .map_err(|e| ReconcileError::Task(e.to_string()))?;
            columns = filled;
            read
        }
        Warehouse::Postgres(pool) => read_postgres(pool, &query, &mut columns).await,
    };
    read.map_err(|source| read_error(sql, source))?;
    columns.finish()
}

/// Why rows could not be read (wrapped with the query by [`read_error`]).
#[derive(Debug, thiserror::Error)]
pub enum ReadFailure {
    /// SQLite refused the file or the query.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Postgres refused the query or the stream broke.
    #[error("postgres: {0}")]
    Postgres(#[from] sqlx::Error),
    /// A selected column's database type cannot fill its frame column.
    #[error("column {column}: a {type_name} cannot be read as {wanted}; cast it in the query")]
    Type {
        /// Column name.
        column: &'static str,
        /// The type the database described.
        type_name: String,
        /// What the frame wanted.
        wanted: &'static str,
    },
    /// The query selects another number of columns than the frame has.
    #[error("the query selects {selected} columns where the frame has {expected}")]
    Width {
        /// Columns the database described.
        selected: usize,
        /// Columns of the frame.
        expected: usize,
    },
    /// The stream of rows broke off or did not follow its format.
    #[error("row {row}: {message}")]
    Stream {
        /// Row number, from 1.
        row: usize,
        /// What was wrong.
        message: String,
    },
    /// A value did not decode as its column's type.
    #[error("row {row}, column {column}: {message}")]
    Value {
        /// Row number, from 1.
        row: usize,
        /// Column name.
        column: &'static str,
        /// What was wrong.
        message: String,
    },
}

/// `sql` with every `{ms}expr{/ms}` made that instant as epoch milliseconds.
/// SQLite computes them (`julianday`), so frames read plain integers instead
/// of parsing a timestamp per value; Postgres sends instants as binary
/// microseconds, converted as they are decoded, so the markers just go.
fn expand_instants(backend: Backend, sql: &str) -> String {
    let (open, close) = match backend {
        Backend::Sqlite => (
            "CAST(ROUND((julianday(",
            ") - 2440587.5) * 86400000.0) AS INTEGER)",
        ),
        Backend::Postgres => ("", ""),
    };
    sql.replace("{ms}", open).replace("{/ms}", close)
}

fn read_error(sql: &str, source: ReadFailure) -> ReconcileError {
    ReconcileError::Read {
        query: sql
            .split_whitespace()
            .take(12)
            .collect::<Vec<_>>()
            .join(" "),
        source,
    }
}

/// Reads on a connection of its own, read-only: WAL lets it run beside writers.
fn read_sqlite(path: &Path, sql: &str, columns: &mut Columns) -> Result<(), ReadFailure> {
    use rusqlite::types::ValueRef;
    use rusqlite::OpenFlags;
    let connection = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mut statement = connection.prepare(sql)?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        columns.rows += 1;
        for index in 0..columns.fields.len() {
            match row.get_ref(index)? {
                ValueRef::Null => columns.push_null(index),
                ValueRef::Integer(value) => columns.push_int(index, value),
                ValueRef::Text(bytes) => columns.push_text(index, bytes)?,
                ValueRef::Real(value) => columns.push_real(index, value),
                ValueRef::Blob(_) => return Err(columns.bad(index, "a blob where a value belongs")),
            }
        }
    }
    Ok(())
}

/// Streams the query as binary `COPY` into the builders, once Postgres has
/// described its columns' types.
async fn read_postgres(
    pool: &sqlx::PgPool,
    query: &str,
    columns: &mut Columns,
) -> Result<(), ReadFailure> {
    use sqlx::{Column, Executor, Statement, TypeInfo};
    let statement = pool.prepare(query).await?;
    let described = statement.columns();
    if described.len() != columns.fields.len() {
        return Err(ReadFailure::Width {
            selected: described.len(),
            expected: columns.fields.len(),
        });
    }
    let wires = described
        .iter()
        .zip(columns.fields)
        .map(|(column, (name, field))| Wire::for_column(name, column.type_info().name(), *field))
        .collect::<Result<Vec<_>, _>>()?;
    let mut stream = pool
        .copy_out_raw(&format!("COPY ({query}) TO STDOUT (FORMAT binary)"))
        .await?;
    let mut rows = BinaryRows::new(wires);
    while let Some(chunk) = stream.try_next().await? {
        rows.push(&chunk, columns)?;
    }
    rows.finish(columns)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    const FIELDS: &[(&str, Field)] = &[
        ("name", Field::Text),
        ("n", Field::Int),
        ("flag", Field::Flag),
    ];

    fn texts(frame: &DataFrame, name: &str) -> Vec<Option<String>> {
        let column = frame.column(name).unwrap().str().unwrap();
        column.iter().map(|v| v.map(str::to_owned)).collect()
    }

    /// The values of an integer column, for assertions (shared with the
    /// binary `COPY` tests).
    pub(in crate::reconcile) fn ints(frame: &DataFrame, name: &str) -> Vec<Option<i64>> {
        frame.column(name).unwrap().i64().unwrap().iter().collect()
    }

    #[test]
    fn sqlite_values_stored_as_another_type_read_as_their_column_type() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("typed.sqlite");
        let connection = rusqlite::Connection::open(&path).unwrap();
        // Columns without a declared type keep every value as it was given.
        connection
            .execute_batch(
                "CREATE TABLE t (name, n, flag);
                 INSERT INTO t VALUES (42, '7', 1), (NULL, 2.6, 'f'), (2.5, NULL, NULL);",
            )
            .unwrap();
        let mut columns = Columns::new(FIELDS);
        read_sqlite(
            &path,
            "SELECT name, n, flag FROM t ORDER BY rowid",
            &mut columns,
        )
        .unwrap();
        let frame = columns.finish().unwrap();
        let names = texts(&frame, "name");
        assert_eq!(names, [Some("42".into()), None, Some("2.5".into())]);
        let numbers = ints(&frame, "n");
        assert_eq!(numbers, [Some(7), Some(3), None]);
        let flags = ints(&frame, "flag");
        assert_eq!(flags, [Some(1), Some(0), None]);
    }

    #[test]
    fn instants_become_milliseconds_in_each_dialect() {
        let sql = "SELECT {ms}expires_at{/ms} FROM contracts";
        let sqlite = expand_instants(Backend::Sqlite, sql);
        assert!(
            sqlite.starts_with("SELECT CAST(ROUND((julianday(expires_at)"),
            "{sqlite}"
        );
        let postgres = expand_instants(Backend::Postgres, sql);
        assert_eq!(postgres, "SELECT expires_at FROM contracts");
    }
}
