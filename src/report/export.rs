//! `rekon report --format csv|parquet|json`: the open findings and the
//! expiring trials as data files, written by polars.

use super::ReportError;
use crate::reconcile::frames::{read_frame, Field};
use crate::warehouse::Warehouse;
use clap::ValueEnum;
use polars::prelude::*;
use std::path::{Path, PathBuf};

/// Output format of `rekon report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One self-contained HTML page.
    Html,
    /// Comma-separated values with a header row.
    Csv,
    /// Apache Parquet (timestamps typed, UTC).
    Parquet,
    /// A JSON array of objects.
    Json,
}

impl Format {
    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::Json => "json",
        }
    }
}

const FINDINGS: &str = "SELECT CAST(finding_id AS BIGINT), kind, severity, provider, external_id, \
    CAST(customer_id AS BIGINT), customer_name, CAST(detail AS TEXT), {ms}first_seen_at{/ms}, {ms}last_seen_at{/ms} FROM v_open_findings";
const FINDING_FIELDS: &[(&str, Field)] = &[
    ("finding_id", Field::Int),
    ("kind", Field::Text),
    ("severity", Field::Text),
    ("provider", Field::Text),
    ("external_id", Field::Text),
    ("customer_id", Field::Int),
    ("customer_name", Field::Text),
    ("detail", Field::Text),
    ("first_seen_at", Field::Time),
    ("last_seen_at", Field::Time),
];

const TRIALS: &str =
    "SELECT provider, external_id, CAST(customer_id AS BIGINT), shop_name, email, packet_id, \
    packet, {ms}expires_at{/ms}, CAST(days_left AS BIGINT) FROM v_expiring_trials";
const TRIAL_FIELDS: &[(&str, Field)] = &[
    ("provider", Field::Text),
    ("external_id", Field::Text),
    ("customer_id", Field::Int),
    ("shop_name", Field::Text),
    ("email", Field::Text),
    ("packet_id", Field::Text),
    ("packet", Field::Text),
    ("expires_at", Field::Time),
    ("days_left", Field::Int),
];

/// Writes `findings.<ext>` and `expiring_trials.<ext>` into `dir`; returns the paths.
pub async fn export(
    warehouse: &Warehouse,
    format: Format,
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let mut written = Vec::new();
    for (name, sql, fields, times) in [
        (
            "findings",
            FINDINGS,
            FINDING_FIELDS,
            &["first_seen_at", "last_seen_at"][..],
        ),
        ("expiring_trials", TRIALS, TRIAL_FIELDS, &["expires_at"][..]),
    ] {
        let mut frame = read_frame(warehouse, sql, fields).await?;
        for column in times {
            let typed = frame
                .column(column)?
                .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))?;
            frame.with_column(typed)?;
        }
        let path = dir.join(format!("{name}.{}", format.extension()));
        write_frame(&mut frame, format, &path)?;
        written.push(path);
    }
    Ok(written)
}

fn write_frame(frame: &mut DataFrame, format: Format, path: &Path) -> Result<(), ReportError> {
    let file = std::fs::File::create(path).map_err(|source| ReportError::Write {
        path: path.display().to_string(),
        source,
    })?;
    match format {
        Format::Csv => CsvWriter::new(file).include_header(true).finish(frame)?,
        Format::Parquet => {
            ParquetWriter::new(file).finish(frame)?;
        }
        Format::Json => JsonWriter::new(file)
            .with_json_format(JsonFormat::Json)
            .finish(frame)?,
        Format::Html => unreachable!("HTML is rendered by report::html"),
    }
    Ok(())
}
