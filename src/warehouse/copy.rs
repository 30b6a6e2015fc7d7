//! Postgres `COPY ... FROM STDIN` in CSV: one round trip per batch and no
//! bind parameters to parse, the fastest way rows get into Postgres.
//! In CSV an unquoted empty field is NULL, so every text is quoted.
//! [`BinaryRows`] writes the binary format instead, for rows that are
//! mostly numbers and instants: the server then parses no text for them.

use super::{op, WarehouseError};
use chrono::{DateTime, Datelike, Timelike, Utc};
use sqlx::PgConnection;
use std::fmt::Write;

/// Sends `csv` (whole lines) through `statement`, a `COPY ... FROM STDIN (FORMAT csv)`.
pub(crate) async fn copy_csv(
    conn: &mut PgConnection,
    statement: &str,
    csv: &str,
    operation: &'static str,
) -> Result<(), WarehouseError> {
    if csv.is_empty() {
        return Ok(());
    }
    let mut copy = conn.copy_in_raw(statement).await.map_err(op(operation))?;
    copy.send(csv.as_bytes()).await.map_err(op(operation))?;
    copy.finish().await.map_err(op(operation))?;
    Ok(())
}

/// Streams `rows` lines, each written by `line(out, index)` (without its
/// newline), through `statement` in slices of about a megabyte, so a large
/// write never sits in memory whole.
pub(crate) async fn copy_lines(
    conn: &mut PgConnection,
    statement: &str,
    rows: usize,
    mut line: impl FnMut(&mut String, usize),
    operation: &'static str,
) -> Result<(), WarehouseError> {
    const SLICE: usize = 1 << 20;
    if rows == 0 {
        return Ok(());
    }
    let mut copy = conn.copy_in_raw(statement).await.map_err(op(operation))?;
    let mut buffer = String::with_capacity(SLICE + 4096);
    for index in 0..rows {
        line(&mut buffer, index);
        buffer.push('\n');
        if buffer.len() >= SLICE {
            copy.send(buffer.as_bytes()).await.map_err(op(operation))?;
            buffer.clear();
        }
    }
    copy.send(buffer.as_bytes()).await.map_err(op(operation))?;
    copy.finish().await.map_err(op(operation))?;
    Ok(())
}

/// `count` ids from the identity sequence of `table.column`, for rows a
/// `COPY` is about to write (it takes explicit values for an identity column
/// and returns none). Ids of a rolled-back batch are skipped, as any identity
/// skips them. The sequence is looked up once, not per id: by name on every
/// row it cost ten times the `nextval`.
pub(crate) async fn reserve_ids(
    conn: &mut PgConnection,
    table: &str,
    column: &str,
    count: usize,
    operation: &'static str,
) -> Result<Vec<i64>, WarehouseError> {
    if count == 0 {
        return Ok(Vec::new());
    }
    sqlx::query_scalar(
        "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence($1, $2)::regclass AS seq) \
         SELECT nextval(s.seq) FROM s, generate_series(1, $3)",
    )
    .bind(table)
    .bind(column)
    .bind(count as i64)
    .fetch_all(conn)
    .await
    .map_err(op(operation))
}

/// A text field: quoted with inner quotes doubled; nothing for NULL.
pub(crate) fn csv_text(out: &mut String, value: Option<&str>) {
    if let Some(value) = value {
        out.push('"');
        for ch in value.chars() {
            if ch == '"' {
                out.push('"');
            }
            out.push(ch);
        }
        out.push('"');
    }
}

/// An instant in UTC; nothing for NULL.
pub(crate) fn csv_instant(out: &mut String, value: Option<DateTime<Utc>>) {
    // Written field by field: a strftime pattern is re-read for every value,
    // and a load writes millions of them.
    if let Some(at) = value {
        let _ = write!(
            out,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}+00",
            at.year(),
            at.month(),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            at.nanosecond() % 1_000_000_000 / 1_000
        );
    }
}

/// A whole number; nothing for NULL.
pub(crate) fn csv_int(out: &mut String, value: Option<i64>) {
    if let Some(value) = value {
        let _ = write!(out, "{value}");
    }
}

/// Microseconds between the Unix epoch and Postgres' (2000-01-01 UTC).
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// Rows in Postgres' binary `COPY` format, for [`copy_binary`]: a header,
/// then per row a field count and each field as length and bytes (-1: NULL).
#[derive(Clone)]
pub(crate) struct BinaryRows {
    bytes: Vec<u8>,
}

impl BinaryRows {
    /// An empty body with room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let mut bytes = Vec::with_capacity(capacity + 21);
        bytes.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        bytes.extend_from_slice(&0i32.to_be_bytes()); // flags: no OIDs
        bytes.extend_from_slice(&0i32.to_be_bytes()); // no header extension
        Self { bytes }
    }

    /// Starts a row of `fields` fields.
    pub(crate) fn row(&mut self, fields: i16) {
        self.bytes.extend_from_slice(&fields.to_be_bytes());
    }

    /// A `text` field (in the client encoding, UTF-8).
    pub(crate) fn text(&mut self, value: Option<&str>) {
        self.field(value.map(str::as_bytes));
    }

    /// A `bigint` field.
    pub(crate) fn int8(&mut self, value: Option<i64>) {
        self.field(value.map(i64::to_be_bytes).as_ref().map(|b| b.as_slice()));
    }

    /// An `integer` field.
    pub(crate) fn int4(&mut self, value: i32) {
        self.field(Some(&value.to_be_bytes()));
    }

    /// A `bytea` field.
    pub(crate) fn bytes(&mut self, value: &[u8]) {
        self.field(Some(value));
    }

    /// A `boolean` field.
    pub(crate) fn boolean(&mut self, value: bool) {
        self.field(Some(&[u8::from(value)]));
    }

    /// A `timestamptz` field: microseconds since 2000-01-01 UTC.
    pub(crate) fn instant(&mut self, value: Option<DateTime<Utc>>) {
        self.int8(value.map(|at| at.timestamp_micros() - POSTGRES_EPOCH_MICROS));
    }

    fn field(&mut self, value: Option<&[u8]>) {
        match value {
            Some(bytes) => {
                self.bytes
                    .extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                self.bytes.extend_from_slice(bytes);
            }
            None => self.bytes.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }

    /// The whole body, trailer included.
    fn finish(mut self) -> Vec<u8> {
        self.bytes.extend_from_slice(&(-1i16).to_be_bytes());
        self.bytes
    }
}

/// Sends `rows` through `statement`, a `COPY ... FROM STDIN (FORMAT binary)`.
pub(crate) async fn copy_binary(
    conn: &mut PgConnection,
    statement: &str,
    rows: BinaryRows,
    operation: &'static str,
) -> Result<(), WarehouseError> {
    let mut copy = conn.copy_in_raw(statement).await.map_err(op(operation))?;
    copy.send(rows.finish()).await.map_err(op(operation))?;
    copy.finish().await.map_err(op(operation))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_text_quotes_doubles_inner_quotes_and_writes_nothing_for_null() {
        let mut out = String::new();
        csv_text(&mut out, Some("Toko \"Murah\", Jaya"));
        out.push(',');
        csv_text(&mut out, None);
        out.push(',');
        csv_text(&mut out, Some(""));
        assert_eq!(out, "\"Toko \"\"Murah\"\", Jaya\",,\"\"");
    }

    #[test]
    fn csv_instant_writes_utc_with_microseconds_as_the_strftime_pattern_did() {
        for at in [
            DateTime::from_timestamp(1_458_313_682, 123_456_789).unwrap(),
            DateTime::from_timestamp(-62_135_596_800, 0).unwrap(),
            DateTime::from_timestamp(4_102_444_799, 999_999_000).unwrap(),
        ] {
            let mut out = String::new();
            csv_instant(&mut out, Some(at));
            assert_eq!(out, at.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string());
        }
        let mut out = String::new();
        csv_instant(&mut out, None);
        assert_eq!(out, "");
    }

    #[test]
    fn binary_rows_carry_the_header_lengths_nulls_numbers_bytes_and_postgres_epoch_instants() {
        let mut rows = BinaryRows::with_capacity(64);
        rows.row(6);
        rows.text(Some("é"));
        rows.int8(None);
        rows.instant(DateTime::from_timestamp(946_684_801, 0));
        rows.boolean(true);
        rows.int4(-2);
        rows.bytes(&[0, 255]);
        let bytes = rows.finish();
        let mut expected = b"PGCOPY\n\xff\r\n\0".to_vec();
        expected.extend_from_slice(&[0; 8]);
        expected.extend_from_slice(&6i16.to_be_bytes());
        expected.extend_from_slice(&2i32.to_be_bytes());
        expected.extend_from_slice("é".as_bytes());
        expected.extend_from_slice(&(-1i32).to_be_bytes());
        expected.extend_from_slice(&8i32.to_be_bytes());
        expected.extend_from_slice(&1_000_000i64.to_be_bytes());
        expected.extend_from_slice(&1i32.to_be_bytes());
        expected.push(1);
        expected.extend_from_slice(&4i32.to_be_bytes());
        expected.extend_from_slice(&(-2i32).to_be_bytes());
        expected.extend_from_slice(&2i32.to_be_bytes());
        expected.extend_from_slice(&[0, 255]);
        expected.extend_from_slice(&(-1i16).to_be_bytes());
        assert_eq!(bytes, expected);
    }
}
