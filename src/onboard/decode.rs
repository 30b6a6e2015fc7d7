//! Bytes of a drop file to rows of cells: encoding, delimiter and header.
//!
//! Drops come out of Excel and Google Sheets in whatever form the sender's
//! machine produced, so this layer guesses only where the bytes leave no
//! other choice, and says what it guessed in the file's warnings.

use super::columns::{Column, COLUMN_COUNT};
pub use super::text::TextEncoding;
use super::text::{sniff_delimiter, strip_sep_hint, to_text, Lines};
use std::fmt;
use thiserror::Error;

/// A problem that makes the whole file unreadable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Nothing but blank lines.
    #[error("the file is empty: it has no header row")]
    Empty,
    /// A workbook or other binary file dropped where a CSV was expected.
    #[error("this is {0}, not a CSV file; save it as CSV UTF-8")]
    NotCsv(&'static str),
    /// A column the format cannot do without.
    #[error("no `{column}` column (found: {found})")]
    MissingColumn {
        /// The canonical name of the missing column.
        column: &'static str,
        /// The header cells that were there, comma separated.
        found: String,
    },
    /// Two header cells that mean the same column.
    #[error("columns {first} and {second} both mean `{column}`")]
    DuplicateColumn {
        /// The canonical name both cells resolve to.
        column: &'static str,
        /// The first cell, as `3 (nama)`.
        first: String,
        /// The second cell, as `5 (name)`.
        second: String,
    },
    /// The CSV reader gave up, which well-formed text should never make it do.
    #[error("line {line}: {message}")]
    Malformed {
        /// The line the reader stopped at.
        line: u64,
        /// What the reader said.
        message: String,
    },
}

/// One data record: its physical line and its cells, by column.
#[derive(Clone)]
pub struct RawRow {
    /// The 1-based line where the record starts.
    pub line: u64,
    cells: [Option<String>; COLUMN_COUNT],
}

impl RawRow {
    /// A row with no cells, starting on `line`.
    pub fn new(line: u64) -> Self {
        RawRow {
            line,
            cells: Default::default(),
        }
    }

    /// The trimmed, non-empty cell of a column (a password is left untrimmed).
    pub fn get(&self, column: Column) -> Option<&str> {
        self.cells[column as usize].as_deref()
    }

    /// Sets a cell; used by the reader and by tests that build rows directly.
    pub fn set(&mut self, column: Column, value: impl Into<String>) {
        self.cells[column as usize] = Some(value.into());
    }

    /// Moves a cell out of the row.
    pub fn take(&mut self, column: Column) -> Option<String> {
        self.cells[column as usize].take()
    }
}

// Cells may hold a password or a national ID: show which are filled, never
// what they hold.
impl fmt::Debug for RawRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let filled: Vec<&str> = Column::ALL
            .iter()
            .filter(|column| self.get(**column).is_some())
            .map(|column| column.as_str())
            .collect();
        f.debug_struct("RawRow")
            .field("line", &self.line)
            .field("filled", &filled)
            .finish()
    }
}

/// A record with values beyond the header's last column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RaggedRow {
    /// The 1-based line where the record starts.
    pub line: u64,
    /// Cells up to the last non-empty one.
    pub cells: usize,
    /// Columns in the header.
    pub columns: usize,
}

/// A drop file read into records, with what had to be guessed on the way.
#[derive(Debug)]
pub struct Decoded {
    /// How the bytes were read.
    pub encoding: TextEncoding,
    /// The field delimiter: `,`, `;` or tab.
    pub delimiter: u8,
    /// Data records in file order; blank lines are left out.
    pub records: Vec<Result<RawRow, RaggedRow>>,
    /// File-level notes: unknown columns, the encoding fallback.
    pub warnings: Vec<String>,
}

/// Reads a drop file: encoding, an optional `sep=` line, header, records.
pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let mut warnings = Vec::new();
    let (text, encoding) = to_text(bytes, &mut warnings)?;
    let (body, skipped, hinted) = strip_sep_hint(&text);
    let delimiter = hinted.unwrap_or_else(|| sniff_delimiter(body));
    let mut records = Records {
        reader: csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(body.as_bytes()),
        lines: Lines::new(body.as_bytes(), 1 + skipped),
    };
    let mut record = csv::StringRecord::new();
    records.next(&mut record)?.ok_or(DecodeError::Empty)?;
    let columns = read_header(&record, &mut warnings)?;
    let mut rows = Vec::new();
    let mut last_line = 0;
    while let Some(line) = records.next(&mut record)? {
        rows.push(to_row(&record, line, &columns));
        last_line = line;
    }
    // Quotes come in pairs; an odd count means a value was never closed, and
    // the reader has folded every line after it into that one value.
    if body.bytes().filter(|byte| *byte == b'"').count() % 2 == 1 {
        warnings.push(format!(
            "the file has an unpaired double quote, probably in the row on line {last_line}: \
             the lines after it were read as part of one value"
        ));
    }
    Ok(Decoded {
        encoding,
        delimiter,
        records: rows,
        warnings,
    })
}

/// The csv reader, skipping records with nothing but whitespace, and giving
/// each record the physical line it starts on.
struct Records<'a> {
    reader: csv::Reader<&'a [u8]>,
    lines: Lines<'a>,
}

impl Records<'_> {
    fn next(&mut self, record: &mut csv::StringRecord) -> Result<Option<u64>, DecodeError> {
        loop {
            let read = self.reader.read_record(record);
            let byte = match &read {
                Ok(_) => record.position().map_or(0, |pos| pos.byte()),
                Err(err) => err.position().map_or(0, |pos| pos.byte()),
            };
            let line = self.lines.at(usize::try_from(byte).unwrap_or(usize::MAX));
            let more = read.map_err(|err| DecodeError::Malformed {
                line,
                message: err.to_string(),
            })?;
            if !more {
                return Ok(None);
            }
            if record.iter().any(|cell| !cell.trim().is_empty()) {
                return Ok(Some(line));
            }
        }
    }
}

fn read_header(
    record: &csv::StringRecord,
    warnings: &mut Vec<String>,
) -> Result<Vec<Option<Column>>, DecodeError> {
    let last_named = last_filled(record);
    let mut seen: [Option<usize>; COLUMN_COUNT] = [None; COLUMN_COUNT];
    let mut columns = Vec::with_capacity(record.len());
    for (index, cell) in record.iter().enumerate() {
        let text = cell.trim();
        let column = if text.is_empty() {
            // Trailing empty header cells are Excel's doing and mean nothing.
            if last_named.is_some_and(|last| index < last) {
                warnings.push(format!(
                    "column {} has no header name; its values are ignored",
                    index + 1
                ));
            }
            None
        } else if let Some(column) = Column::from_header(text) {
            if let Some(first) = seen[column as usize] {
                return Err(DecodeError::DuplicateColumn {
                    column: column.as_str(),
                    first: format!("{} ({})", first + 1, record[first].trim()),
                    second: format!("{} ({text})", index + 1),
                });
            }
            seen[column as usize] = Some(index);
            Some(column)
        } else {
            warnings.push(format!(
                "unknown column `{text}` (column {}) is ignored",
                index + 1
            ));
            None
        };
        columns.push(column);
    }
    require(record, &columns, Column::Ref)?;
    require(record, &columns, Column::Name)?;
    Ok(columns)
}

/// A missing required column names what the header did hold, which usually
/// shows the mistake (a title row above the header, a different template).
fn require(
    record: &csv::StringRecord,
    columns: &[Option<Column>],
    required: Column,
) -> Result<(), DecodeError> {
    if columns.contains(&Some(required)) {
        return Ok(());
    }
    let found: Vec<&str> = record
        .iter()
        .map(str::trim)
        .filter(|cell| !cell.is_empty())
        .collect();
    Err(DecodeError::MissingColumn {
        column: required.as_str(),
        found: found.join(", "),
    })
}

/// The index of the last cell holding more than whitespace.
fn last_filled(record: &csv::StringRecord) -> Option<usize> {
    (0..record.len())
        .rev()
        .find(|index| !record[*index].trim().is_empty())
}

fn to_row(
    record: &csv::StringRecord,
    line: u64,
    columns: &[Option<Column>],
) -> Result<RawRow, RaggedRow> {
    let last_filled = last_filled(record);
    if let Some(last) = last_filled.filter(|last| *last >= columns.len()) {
        return Err(RaggedRow {
            line,
            cells: last + 1,
            columns: columns.len(),
        });
    }
    let mut row = RawRow::new(line);
    for (cell, column) in record.iter().zip(columns) {
        let Some(column) = *column else { continue };
        if cell.trim().is_empty() {
            continue;
        }
        // A password is taken exactly as typed; validation flags stray spaces.
        let value = if column == Column::Password {
            cell
        } else {
            cell.trim()
        };
        row.set(column, value);
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excel_sep_line_names_the_delimiter_and_is_skipped() {
        let decoded = decode(b"sep=;\nref;name\nA1;Budi\n").unwrap();
        assert_eq!(decoded.delimiter, b';');
        let row = decoded.records[0].as_ref().unwrap();
        assert_eq!(row.line, 3);
        assert_eq!(row.get(Column::Name), Some("Budi"));
    }

    #[test]
    fn utf16_from_excel_unicode_text_is_read() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "ref\tname\r\nA1\tZoë\r\n".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded.encoding, TextEncoding::Utf16);
        let row = decoded.records[0].as_ref().unwrap();
        assert_eq!(row.get(Column::Name), Some("Zoë"));
    }

    #[test]
    fn an_unclosed_quote_is_reported_with_the_row_it_swallows() {
        let decoded = decode(b"ref,name\nA1,Budi\nA2,\"Sari\nA3,Eko\n").unwrap();
        assert_eq!(decoded.records.len(), 2);
        assert!(
            decoded.warnings[0].contains("line 3"),
            "{:?}",
            decoded.warnings
        );
    }

    #[test]
    fn debug_of_a_raw_row_names_columns_but_not_values() {
        let mut row = RawRow::new(4);
        row.set(Column::Password, "hunter22");
        let shown = format!("{row:?}");
        assert!(shown.contains("password"));
        assert!(!shown.contains("hunter22"));
    }
}
