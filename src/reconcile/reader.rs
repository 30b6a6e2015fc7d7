//! Streaming a query's rows into a polars frame, by the fastest path each
//! backend offers: SQLite through its C API on a blocking thread (no
//! per-row hop to an async worker), Postgres as `COPY ... TO STDOUT`
//! (one stream of text lines, no per-row protocol message).
//!
//! Either way the rows go straight into column builders, so memory holds
//! the finished columns and never a copy of the rows.

use super::{canonical_json, ReconcileError};
use crate::warehouse::Warehouse;
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
    /// An instant, selected as `{ms}column{/ms}`: epoch milliseconds.
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
    let query = warehouse.with_epoch_ms(sql);
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
        for index in 0..columns.builders.len() {
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

/// Streams the query as `COPY` text into the builders.
async fn read_postgres(
    pool: &sqlx::PgPool,
    query: &str,
    columns: &mut Columns,
) -> Result<(), ReadFailure> {
    let mut stream = pool
        .copy_out_raw(&format!("COPY ({query}) TO STDOUT"))
        .await?;
    let mut lines = CopyLines::default();
    while let Some(chunk) = stream.try_next().await? {
        lines.push(&chunk, columns)?;
    }
    lines.finish(columns)
}

/// One builder per selected column.
enum Builder {
    Text(StringChunkedBuilder),
    Int(PrimitiveChunkedBuilder<Int64Type>),
}

/// The frame being built, with the row count for error messages.
struct Columns {
    fields: &'static [(&'static str, Field)],
    builders: Vec<Builder>,
    rows: usize,
}

impl Columns {
    fn new(fields: &'static [(&'static str, Field)]) -> Self {
        let builders = fields
            .iter()
            .map(|(name, field)| match field {
                Field::Text => Builder::Text(StringChunkedBuilder::new((*name).into(), 1024)),
                _ => Builder::Int(PrimitiveChunkedBuilder::new((*name).into(), 1024)),
            })
            .collect();
        Columns {
            fields,
            builders,
            rows: 0,
        }
    }

    fn bad(&self, index: usize, message: &str) -> ReadFailure {
        ReadFailure::Value {
            row: self.rows,
            column: self.fields[index].0,
            message: message.to_owned(),
        }
    }

    fn push_null(&mut self, index: usize) {
        match &mut self.builders[index] {
            Builder::Text(b) => b.append_null(),
            Builder::Int(b) => b.append_null(),
        }
    }

    fn push_int(&mut self, index: usize, value: i64) {
        match &mut self.builders[index] {
            Builder::Int(b)
                if matches!(self.fields[index].1, Field::Digest | Field::JsonDigest) =>
            {
                b.append_value(digest(&value.to_string()))
            }
            Builder::Int(b) => b.append_value(value),
            // SQLite keeps what it is given: a number in a text column reads as text.
            Builder::Text(b) => b.append_value(value.to_string()),
        }
    }

    /// A float where a whole number belongs (SQLite's `julianday` arithmetic) is rounded.
    fn push_real(&mut self, index: usize, value: f64) {
        match &mut self.builders[index] {
            Builder::Int(b)
                if matches!(self.fields[index].1, Field::Digest | Field::JsonDigest) =>
            {
                b.append_value(digest(&value.to_string()))
            }
            Builder::Int(b) => b.append_value(value.round() as i64),
            Builder::Text(b) => b.append_value(value.to_string()),
        }
    }

    /// A value as the database spelled it: text as is, numbers and flags parsed.
    fn push_text(&mut self, index: usize, bytes: &[u8]) -> Result<(), ReadFailure> {
        let text =
            std::str::from_utf8(bytes).map_err(|_| self.bad(index, "text that is not UTF-8"))?;
        let parsed = match (self.fields[index].1, &mut self.builders[index]) {
            (Field::Text, Builder::Text(b)) => {
                b.append_value(text);
                return Ok(());
            }
            (Field::Digest, Builder::Int(b)) => {
                b.append_value(digest(text));
                return Ok(());
            }
            (Field::JsonDigest, Builder::Int(b)) => {
                b.append_value(digest(&canonical_json(text)));
                return Ok(());
            }
            (Field::Flag, _) => match text {
                "t" | "true" | "1" => Some(1),
                "f" | "false" | "0" => Some(0),
                _ => None,
            },
            _ => text.parse::<i64>().ok(),
        };
        let value = parsed.ok_or_else(|| self.bad(index, &format!("{text:?} is not a number")))?;
        self.push_int(index, value);
        Ok(())
    }

    fn finish(self) -> Result<DataFrame, ReconcileError> {
        let columns = self
            .builders
            .into_iter()
            .map(|builder| match builder {
                Builder::Text(b) => b.finish().into_series().into_column(),
                Builder::Int(b) => b.finish().into_series().into_column(),
            })
            .collect();
        DataFrame::new_infer_height(columns).map_err(ReconcileError::frame)
    }
}

/// Postgres `COPY` text format, fed in arbitrary chunks: one row per line,
/// tab between columns, `\N` for NULL, backslash escapes inside values.
#[derive(Default)]
struct CopyLines {
    /// The start of a line whose end is in a later chunk.
    partial: Vec<u8>,
    /// Scratch for unescaping.
    value: Vec<u8>,
}

impl CopyLines {
    fn push(&mut self, chunk: &[u8], columns: &mut Columns) -> Result<(), ReadFailure> {
        let Some(last) = chunk.iter().rposition(|&b| b == b'\n') else {
            self.partial.extend_from_slice(chunk);
            return Ok(());
        };
        let (whole, rest) = chunk.split_at(last + 1);
        let mut lines = whole[..whole.len() - 1].split(|&b| b == b'\n');
        if !self.partial.is_empty() {
            let mut first = std::mem::take(&mut self.partial);
            first.extend_from_slice(lines.next().unwrap_or_default());
            self.line(&first, columns)?;
            first.clear();
            self.partial = first;
        }
        for line in lines {
            self.line(line, columns)?;
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    fn finish(&mut self, columns: &mut Columns) -> Result<(), ReadFailure> {
        if self.partial.is_empty() {
            return Ok(());
        }
        let last = std::mem::take(&mut self.partial);
        self.line(&last, columns)
    }

    fn line(&mut self, line: &[u8], columns: &mut Columns) -> Result<(), ReadFailure> {
        columns.rows += 1;
        let mut values = line.split(|&b| b == b'\t');
        for index in 0..columns.builders.len() {
            let raw = values
                .next()
                .ok_or_else(|| columns.bad(index, "missing in the COPY line"))?;
            if raw == b"\\N" {
                columns.push_null(index);
            } else if raw.contains(&b'\\') {
                unescape(raw, &mut self.value);
                columns.push_text(index, &self.value)?;
            } else {
                columns.push_text(index, raw)?;
            }
        }
        Ok(())
    }
}

/// Undoes the `COPY` text escapes (`\t`, `\n`, `\\`, ...) into `out`.
fn unescape(raw: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut bytes = raw.iter().copied();
    while let Some(byte) = bytes.next() {
        if byte != b'\\' {
            out.push(byte);
            continue;
        }
        match bytes.next() {
            Some(b'b') => out.push(0x08),
            Some(b'f') => out.push(0x0c),
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b't') => out.push(b'\t'),
            Some(b'v') => out.push(0x0b),
            Some(other) => out.push(other),
            None => out.push(b'\\'),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[(&str, Field)] = &[
        ("name", Field::Text),
        ("n", Field::Int),
        ("flag", Field::Flag),
    ];

    fn parse(chunks: &[&[u8]]) -> Result<DataFrame, ReadFailure> {
        let mut columns = Columns::new(FIELDS);
        let mut lines = CopyLines::default();
        for chunk in chunks {
            lines.push(chunk, &mut columns)?;
        }
        lines.finish(&mut columns)?;
        Ok(columns.finish().expect("columns of one length"))
    }

    fn texts(frame: &DataFrame, name: &str) -> Vec<Option<String>> {
        let column = frame.column(name).unwrap().str().unwrap();
        column.iter().map(|v| v.map(str::to_owned)).collect()
    }

    fn ints(frame: &DataFrame, name: &str) -> Vec<Option<i64>> {
        frame.column(name).unwrap().i64().unwrap().iter().collect()
    }

    #[test]
    fn copy_lines_split_anywhere_give_the_same_rows() {
        let text: &[u8] = b"Toko\\tA\\\\B\t7\tt\n\\N\t\\N\tf\nC\\nD\t-3\t\\N\n";
        let whole = parse(&[text]).unwrap();
        for cut in 0..text.len() {
            let (a, b) = text.split_at(cut);
            assert!(
                parse(&[a, b]).unwrap().equals_missing(&whole),
                "cut at {cut}"
            );
        }
        let names = texts(&whole, "name");
        assert_eq!(
            names,
            [Some("Toko\tA\\B".into()), None, Some("C\nD".into())]
        );
        let flags = ints(&whole, "flag");
        assert_eq!(flags, [Some(1), Some(0), None]);
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

    /// The numbers of a one-column `COPY` body read as `field`.
    fn one_column(field: &'static [(&'static str, Field)], body: &[u8]) -> Vec<Option<i64>> {
        let mut columns = Columns::new(field);
        let mut lines = CopyLines::default();
        lines.push(body, &mut columns).unwrap();
        lines.finish(&mut columns).unwrap();
        ints(&columns.finish().unwrap(), field[0].0)
    }

    #[test]
    fn a_digest_column_holds_equal_texts_as_equal_numbers_and_null_as_null() {
        const DIGESTS: &[(&str, Field)] = &[("hash", Field::Digest)];
        let hashes = one_column(DIGESTS, b"ab12\ncd34\n\\N\nab12\n");
        assert_eq!(hashes[0], Some(digest("ab12")));
        assert_eq!(hashes[0], hashes[3]);
        assert_ne!(hashes[0], hashes[1]);
        assert_eq!(hashes[2], None);
    }

    #[test]
    fn a_json_digest_column_holds_jsonb_spelling_and_compact_form_as_equal_numbers() {
        const DETAILS: &[(&str, Field)] = &[("detail", Field::JsonDigest)];
        let details = one_column(
            DETAILS,
            b"{\"b\": 1, \"a\": \"x\"}\n{\"a\":\"x\",\"b\":1}\n{\"a\":\"y\",\"b\":1}\n",
        );
        assert_eq!(details[0], Some(digest(r#"{"a":"x","b":1}"#)));
        assert_eq!(details[0], details[1]);
        assert_ne!(details[1], details[2]);
    }

    #[test]
    fn an_unreadable_number_names_its_row_and_column() {
        let error = parse(&[b"a\t1\tt\nb\tx\tf\n"]).unwrap_err().to_string();
        assert_eq!(error, "row 2, column n: \"x\" is not a number");
    }

    #[test]
    fn a_short_line_is_an_error_not_a_shifted_row() {
        let error = parse(&[b"a\t1\n"]).unwrap_err().to_string();
        assert!(error.contains("column flag"), "{error}");
    }
}
