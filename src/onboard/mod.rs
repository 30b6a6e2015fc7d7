//! Bulk onboarding drops: reading and validating the CSV files operations
//! teams export from Excel or Google Sheets (`shared/spec/onboarding-csv.md`).
//!
//! Registering rows with the partners is [`register`] (ledger first, then
//! each call), over files or the drop folder ([`inbox`]).
//!
//! Reading and validating is pure code, no network and no database:
//! - [`decode`]: bytes to records (encoding, delimiter, header aliases, lines);
//! - [`row`]: records to typed [`DropRow`]s, passwords and IDs kept secret;
//! - [`validate()`]: every targeted partner's rules, every reason at once;
//! - [`phone`]: phones to E.164, Indonesia by default;
//! - [`dedupe`]: the row's idempotency key and duplicates within a file;
//! - [`sanitize`]: spreadsheet-safe output cells and national-ID redaction.
//!
//! [`read_drop`] reads a file and rejects rows that are unusable or repeat an
//! earlier row; the caller then validates each row, or calls
//! [`Drop::into_valid`] to do both.

pub mod archive;
pub mod check;
pub mod checks;
pub mod columns;
pub mod decode;
pub mod dedupe;
pub mod inbox;
pub mod phone;
pub mod progress;
pub mod register;
pub mod report;
pub mod row;
pub mod sanitize;
pub mod text;
pub mod valid;
pub mod validate;

#[cfg(test)]
mod tests;

pub use columns::Column;
pub use decode::{DecodeError, TextEncoding};
pub use dedupe::{row_key, FileDuplicates};
pub use phone::{normalize_phone, PhoneError};
pub use row::{parse_partners, Activation, DropRow, Partner, UnknownPartner};
pub use sanitize::{identity_hash, identity_last4, spreadsheet_safe};
pub use validate::{validate, LoginMethod, Reason, ValidActivation, ValidRow};

use decode::{RaggedRow, RawRow};
use thiserror::Error;

/// A drop file read into rows, in file order.
#[derive(Debug)]
pub struct Drop {
    /// The file's name, as given to [`read_drop`]; part of every row key.
    pub file_name: String,
    /// How the bytes were read.
    pub encoding: TextEncoding,
    /// The field delimiter found: `,`, `;` or tab.
    pub delimiter: char,
    /// Every data row: typed, or rejected with its reasons.
    pub rows: Vec<Result<DropRow, RowError>>,
    /// File-level notes: unknown columns, an encoding fallback.
    pub warnings: Vec<String>,
}

impl Drop {
    /// Validates every row still standing, keeping file order.
    pub fn into_valid(self) -> Vec<Result<ValidRow, RowError>> {
        self.rows
            .into_iter()
            .map(|row| {
                let row = row?;
                validate(&row).map_err(|reasons| RowError {
                    line: row.line,
                    reference: Some(row.reference.clone()),
                    providers: row.providers.clone(),
                    reasons,
                })
            })
            .collect()
    }
}

/// A row that cannot be sent to any partner, with every reason.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: {}", join_reasons(.reasons))]
pub struct RowError {
    /// The 1-based line where the row starts.
    pub line: u64,
    /// The row's `ref`, when it could be read.
    pub reference: Option<String>,
    /// Partners the row was meant for, when they could be read.
    pub providers: Vec<Partner>,
    /// Every reason, each naming its partner (if any) and field.
    pub reasons: Vec<Reason>,
}

fn join_reasons(reasons: &[Reason]) -> String {
    let texts: Vec<String> = reasons.iter().map(ToString::to_string).collect();
    texts.join("; ")
}

/// A drop file that cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file}: {problem}")]
pub struct DropError {
    /// The file's name.
    pub file: String,
    /// What is wrong with it.
    pub problem: DecodeError,
}

/// Reads a drop: decodes the bytes, types each row (an empty `providers`
/// cell means `default_partners`) and rejects rows that are ragged, name an
/// unknown partner or repeat an earlier row. A rejected row carries its
/// validation reasons too, so the sender sees everything at once.
pub fn read_drop(
    file_name: &str,
    bytes: &[u8],
    default_partners: &[Partner],
) -> Result<Drop, DropError> {
    let decoded = decode::decode(bytes).map_err(|problem| DropError {
        file: file_name.to_owned(),
        problem,
    })?;
    let mut duplicates = FileDuplicates::new();
    let rows = decoded
        .records
        .into_iter()
        .map(|record| type_row(record, default_partners, &mut duplicates))
        .collect();
    Ok(Drop {
        file_name: file_name.to_owned(),
        encoding: decoded.encoding,
        delimiter: char::from(decoded.delimiter),
        rows,
        warnings: decoded.warnings,
    })
}

fn type_row(
    record: Result<RawRow, RaggedRow>,
    default_partners: &[Partner],
    duplicates: &mut FileDuplicates,
) -> Result<DropRow, RowError> {
    let raw = record.map_err(|ragged| RowError {
        line: ragged.line,
        reference: None,
        providers: Vec::new(),
        reasons: vec![Reason::row(
            "row",
            format!(
                "{} cells but the header has {} columns; a value holding the delimiter \
                 must be in double quotes",
                ragged.cells, ragged.columns
            ),
        )],
    })?;
    let (row, mut reasons) = DropRow::from_raw(raw, default_partners);
    reasons.extend(duplicates.check(&row));
    if reasons.is_empty() {
        return Ok(row);
    }
    if let Err(more) = validate(&row) {
        reasons.extend(more);
    }
    Err(RowError {
        line: row.line,
        reference: Some(row.reference.clone()),
        providers: row.providers.clone(),
        reasons,
    })
}
