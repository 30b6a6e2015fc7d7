//! The archived copy of a handled drop: every cell as sent, except that
//! passwords are blanked and national IDs masked to their last four digits,
//! so the archive holds no secret.

use super::columns::Column;
use super::text::{sniff_delimiter, strip_sep_hint, to_text};
use super::DecodeError;
use std::path::{Path, PathBuf};

/// Why a drop could not be archived.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The file could not be read as a drop.
    #[error("cannot archive {file}: {source}")]
    Decode {
        /// The drop.
        file: String,
        /// What is wrong with it.
        source: DecodeError,
    },
    /// Writing the copy or removing the original failed.
    #[error("cannot archive {file}: {source}")]
    Io {
        /// The file being written or removed.
        file: String,
        /// What failed.
        source: std::io::Error,
    },
}

/// Writes the redacted copy into `archive_dir` (a new name if one is taken)
/// and removes the original; returns the copy's path.
pub fn archive_drop(
    path: &Path,
    bytes: &[u8],
    archive_dir: &Path,
) -> Result<PathBuf, ArchiveError> {
    let io = |file: &Path| {
        let file = file.display().to_string();
        move |source| ArchiveError::Io { file, source }
    };
    let copy = redacted_copy(bytes).map_err(|source| ArchiveError::Decode {
        file: path.display().to_string(),
        source,
    })?;
    std::fs::create_dir_all(archive_dir).map_err(io(archive_dir))?;
    let target = free_name(archive_dir, path);
    // Written under a temporary name first, so a reader never sees half a copy.
    let partial = target.with_extension("csv.partial");
    std::fs::write(&partial, copy).map_err(io(&partial))?;
    std::fs::rename(&partial, &target).map_err(io(&target))?;
    std::fs::remove_file(path).map_err(io(path))?;
    Ok(target)
}

/// `name.csv`, or `name.<UTC time>.csv` when a drop of that name was archived before.
fn free_name(dir: &Path, path: &Path) -> PathBuf {
    let name = path.file_name().map_or_else(
        || "drop.csv".into(),
        |name| name.to_string_lossy().into_owned(),
    );
    let plain = dir.join(&name);
    if !plain.exists() {
        return plain;
    }
    let stem = Path::new(&name)
        .file_stem()
        .map_or_else(|| name.clone(), |stem| stem.to_string_lossy().into_owned());
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    dir.join(format!("{stem}.{stamp}.csv"))
}

/// The drop as UTF-8 with the same delimiter, passwords blank and national IDs masked.
pub fn redacted_copy(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut warnings = Vec::new();
    let (text, _) = to_text(bytes, &mut warnings)?;
    let (body, _, hinted) = strip_sep_hint(&text);
    let delimiter = hinted.unwrap_or_else(|| sniff_delimiter(body));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(body.as_bytes());
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .delimiter(delimiter)
        .from_writer(Vec::new());
    let mut secret_columns: Vec<(usize, Column)> = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut first = true;
    while reader
        .read_record(&mut record)
        .map_err(|err| malformed(&err))?
    {
        let cells: Vec<String> = if first {
            secret_columns = record
                .iter()
                .enumerate()
                .filter_map(|(index, cell)| {
                    Column::from_header(cell.trim()).map(|column| (index, column))
                })
                .filter(|(_, column)| matches!(column, Column::Password | Column::IdentityNumber))
                .collect();
            record.iter().map(str::to_owned).collect()
        } else {
            redact_cells(&record, &secret_columns)
        };
        first = false;
        writer.write_record(&cells).map_err(|err| malformed(&err))?;
    }
    writer.into_inner().map_err(|err| DecodeError::Malformed {
        line: 0,
        message: err.to_string(),
    })
}

fn redact_cells(record: &csv::StringRecord, secret_columns: &[(usize, Column)]) -> Vec<String> {
    let mut cells: Vec<String> = record.iter().map(str::to_owned).collect();
    for (index, column) in secret_columns {
        let Some(cell) = cells.get_mut(*index) else {
            continue;
        };
        *cell = match column {
            Column::IdentityNumber if !cell.trim().is_empty() => {
                let digits: String = cell.chars().filter(char::is_ascii_digit).collect();
                let last4 = super::identity_last4(&digits);
                format!("************{last4}")
            }
            _ => String::new(),
        };
    }
    cells
}

fn malformed(err: &csv::Error) -> DecodeError {
    DecodeError::Malformed {
        line: err.position().map_or(0, |pos| pos.line()),
        message: err.to_string(),
    }
}
