//! `<name>.results.csv` and `<name>.rejects.csv` for a drop: one outcome per
//! row and partner, every cell safe to open in a spreadsheet, no password
//! or national ID anywhere (rows only ever carry them as secrets).

use super::{spreadsheet_safe, RowError, ValidRow};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct ReportError {
    /// The file being written.
    pub path: String,
    /// What failed.
    pub source: csv::Error,
}

/// Accepted and rejected rows per partner.
pub type Tally = BTreeMap<String, (u64, u64)>;

/// Where the reports went, and what they counted.
#[derive(Debug)]
pub struct Reports {
    /// The results file.
    pub results: PathBuf,
    /// The rejects file.
    pub rejects: PathBuf,
    /// Per partner: (accepted, rejected); rows whose partners could not be read count under `row`.
    pub tally: Tally,
}

/// Writes both files for `file_name` into `out_dir`; `accepted` is the
/// outcome text of a valid row (e.g. `valid (dry run)`).
pub fn write_reports(
    out_dir: &Path,
    file_name: &str,
    rows: &[Result<ValidRow, RowError>],
    accepted: &str,
) -> Result<Reports, ReportError> {
    let stem = Path::new(file_name)
        .file_stem()
        .and_then(|stem| stem.to_str())
        .unwrap_or(file_name);
    let results = out_dir.join(format!("{stem}.results.csv"));
    let rejects = out_dir.join(format!("{stem}.rejects.csv"));
    let mut tally = Tally::new();
    let mut results_csv = writer(
        &results,
        &[
            "source_file",
            "line",
            "ref",
            "partner",
            "outcome",
            "partner_id",
            "message",
        ],
    )?;
    let mut rejects_csv = writer(&rejects, &["source_file", "line", "ref", "reasons"])?;
    for row in rows {
        match row {
            Ok(valid) => {
                for partner in &valid.providers {
                    tally.entry(partner.as_str().to_owned()).or_default().0 += 1;
                    let line = valid.line.to_string();
                    write(
                        &mut results_csv,
                        &results,
                        &[
                            file_name,
                            &line,
                            &valid.reference,
                            partner.as_str(),
                            accepted,
                            "",
                            "",
                        ],
                    )?;
                }
            }
            Err(rejected) => write_rejected(
                &mut results_csv,
                &results,
                &mut rejects_csv,
                &rejects,
                file_name,
                rejected,
                &mut tally,
            )?,
        }
    }
    flush(results_csv, &results)?;
    flush(rejects_csv, &rejects)?;
    Ok(Reports {
        results,
        rejects,
        tally,
    })
}

fn write_rejected(
    results_csv: &mut csv::Writer<std::fs::File>,
    results: &Path,
    rejects_csv: &mut csv::Writer<std::fs::File>,
    rejects: &Path,
    file_name: &str,
    rejected: &RowError,
    tally: &mut Tally,
) -> Result<(), ReportError> {
    let line = rejected.line.to_string();
    let reference = rejected.reference.as_deref().unwrap_or("");
    let all = join(rejected.reasons.iter());
    write(rejects_csv, rejects, &[file_name, &line, reference, &all])?;
    if rejected.providers.is_empty() {
        tally.entry("row".to_owned()).or_default().1 += 1;
        return write(
            results_csv,
            results,
            &[file_name, &line, reference, "", "rejected", "", &all],
        );
    }
    for partner in &rejected.providers {
        tally.entry(partner.as_str().to_owned()).or_default().1 += 1;
        // All or nothing: the row goes to no partner, each line says why
        // for its partner first, then what is wrong with the row as a whole.
        let mine = rejected
            .reasons
            .iter()
            .filter(|reason| reason.partner == Some(*partner));
        let others = rejected
            .reasons
            .iter()
            .filter(|reason| reason.partner != Some(*partner));
        let message = join(mine.chain(others));
        write(
            results_csv,
            results,
            &[
                file_name,
                &line,
                reference,
                partner.as_str(),
                "rejected",
                "",
                &message,
            ],
        )?;
    }
    Ok(())
}

fn join<'a>(reasons: impl Iterator<Item = &'a super::Reason>) -> String {
    reasons
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn writer(path: &Path, header: &[&str]) -> Result<csv::Writer<std::fs::File>, ReportError> {
    let mut writer = csv::Writer::from_path(path).map_err(|source| report_error(path, source))?;
    writer
        .write_record(header)
        .map_err(|source| report_error(path, source))?;
    Ok(writer)
}

fn write(
    writer: &mut csv::Writer<std::fs::File>,
    path: &Path,
    cells: &[&str],
) -> Result<(), ReportError> {
    writer
        .write_record(cells.iter().map(|cell| spreadsheet_safe(cell).into_owned()))
        .map_err(|source| report_error(path, source))
}

fn flush(mut writer: csv::Writer<std::fs::File>, path: &Path) -> Result<(), ReportError> {
    writer.flush().map_err(|err| report_error(path, err.into()))
}

fn report_error(path: &Path, source: csv::Error) -> ReportError {
    ReportError {
        path: path.display().to_string(),
        source,
    }
}
