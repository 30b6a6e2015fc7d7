//! `rekon onboard --dry-run`: read and validate drops against every target
//! partner and write the results and rejects files, calling no partner.

use super::report::{print_tally, write_reports, ReportCell};
use super::{read_drop, Partner};
use crate::outcome::RunStatus;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// What a dry run is asked to do.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Folder for the results and rejects files; default: beside each drop.
    pub out_dir: Option<PathBuf>,
    /// Partners of a row without a `providers` cell.
    pub default_partners: Vec<Partner>,
}

/// Validates each file; Partial (exit 1) when any row is rejected, Failed
/// (exit 2) when a file cannot be read at all.
pub fn check_drops(files: &[PathBuf], options: &CheckOptions) -> anyhow::Result<RunStatus> {
    let mut status = RunStatus::Succeeded;
    for file in files {
        let file_status = match check_drop(file, options) {
            Ok(file_status) => file_status,
            Err(err) => {
                eprintln!("error: {err:#}");
                RunStatus::Failed
            }
        };
        status = status.worst(file_status);
    }
    Ok(status)
}

fn check_drop(file: &Path, options: &CheckOptions) -> anyhow::Result<RunStatus> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("drop.csv");
    let drop = read_drop(name, &bytes, &options.default_partners)?;
    for warning in &drop.warnings {
        println!("{name}: warning: {warning}");
    }
    let rows = drop.into_valid();
    let out_dir = options
        .out_dir
        .clone()
        .unwrap_or_else(|| file.parent().unwrap_or(Path::new(".")).to_path_buf());
    let reports = write_reports(&out_dir, name, &rows, &|_, _| ReportCell {
        outcome: "valid (dry run)".to_owned(),
        ..ReportCell::default()
    })?;
    let rejected = rows.iter().filter(|row| row.is_err()).count();
    println!(
        "{name}: {} rows, {} valid, {rejected} rejected (dry run: no partner called)",
        rows.len(),
        rows.len() - rejected
    );
    print_tally(name, &reports.tally);
    println!(
        "{name}: results in {}, rejects in {}",
        reports.results.display(),
        reports.rejects.display()
    );
    Ok(if rejected > 0 {
        RunStatus::Partial
    } else {
        RunStatus::Succeeded
    })
}
