//! Postgres `COPY ... FROM STDIN` in CSV: one round trip per batch and no
//! bind parameters to parse, the fastest way rows get into Postgres.
//! In CSV an unquoted empty field is NULL, so every text is quoted.

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
}
