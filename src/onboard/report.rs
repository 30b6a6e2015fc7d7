//! `<name>.results.csv` and `<name>.rejects.csv` for a drop: one outcome per
//! row and partner, every cell safe to open in a spreadsheet, no password
//! or national ID anywhere (rows only ever carry them as secrets).

use super::{spreadsheet_safe, Partner, RowError, ValidRow};
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

/// Rows per partner and outcome (`registered`, `rejected`, ...).
pub type Tally = BTreeMap<String, BTreeMap<String, u64>>;

/// What the results file says about one row at one partner.
#[derive(Debug, Clone, Default)]
pub struct ReportCell {
    /// Outcome in words: `registered`, `already registered`, `failed`, ...
    pub outcome: String,
    /// The partner's id for the account, when known.
    pub partner_id: String,
    /// The partner's message, or what happened.
    pub message: String,
}

/// Counts one outcome for a partner.
fn count(tally: &mut Tally, partner: &str, outcome: &str) {
    *tally
        .entry(partner.to_owned())
        .or_default()
        .entry(outcome.to_owned())
        .or_default() += 1;
}

/// Where the reports went, and what they counted.
#[derive(Debug)]
pub struct Reports {
    /// The results file.
    pub results: PathBuf,
    /// The rejects file.
    pub rejects: PathBuf,
    /// Per partner and outcome; rows whose partners could not be read count under `row`.
    pub tally: Tally,
}

/// Writes both files for `file_name` into `out_dir`; `accepted` says what
/// became of a valid row at a partner (e.g. `valid (dry run)`, or the
/// registration's outcome).
pub fn write_reports(
    out_dir: &Path,
    file_name: &str,
    rows: &[Result<ValidRow, RowError>],
    accepted: &dyn Fn(&ValidRow, Partner) -> ReportCell,
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
                    let cell = accepted(valid, *partner);
                    count(&mut tally, partner.as_str(), &cell.outcome);
                    let line = valid.line.to_string();
                    write(
                        &mut results_csv,
                        &results,
                        &[
                            file_name,
                            &line,
                            &valid.reference,
                            partner.as_str(),
                            &cell.outcome,
                            &cell.partner_id,
                            &cell.message,
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

/// Prints one line per partner: how many rows ended in each outcome.
pub fn print_tally(name: &str, tally: &Tally) {
    for (partner, outcomes) in tally {
        let counts = outcomes
            .iter()
            .map(|(outcome, rows)| format!("{rows} {outcome}"))
            .collect::<Vec<_>>()
            .join(", ");
        println!("{name}: {partner:<10} {counts}");
    }
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
        count(tally, "row", "rejected");
        return write(
            results_csv,
            results,
            &[file_name, &line, reference, "", "rejected", "", &all],
        );
    }
    for partner in &rejected.providers {
        count(tally, partner.as_str(), "rejected");
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
