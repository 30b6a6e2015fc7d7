//! The metrics file: Prometheus text format, rebuilt from `sync_runs` after
//! every job run, so it is right whichever process or machine ran the job.
//! Written to a temporary file and renamed, so a collector never reads half.

use crate::warehouse::{JobStats, Warehouse, WarehouseError};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Why the metrics file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Reading the figures failed.
    #[error("metrics: reading the figures")]
    Warehouse(#[from] WarehouseError),
    /// Writing the file failed.
    #[error("metrics file {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
}

const STATUSES: [&str; 5] = ["running", "succeeded", "partial", "failed", "interrupted"];

/// Reads the figures of `jobs` and rewrites `path` with them.
pub async fn write_metrics(
    warehouse: &Warehouse,
    jobs: &[String],
    path: &Path,
) -> Result<(), MetricsError> {
    let mut stats = Vec::with_capacity(jobs.len());
    for job in jobs {
        stats.push((job.clone(), warehouse.job_stats(job).await?));
    }
    let findings = warehouse.open_findings_by_kind().await?;
    let text = render(&stats, Some(&findings));
    write_atomically(path, &text).map_err(|source| MetricsError::Write {
        path: path.to_owned(),
        source,
    })
}

/// The metrics text for these jobs and open findings.
pub fn render(jobs: &[(String, JobStats)], findings: Option<&[(String, i64)]>) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "rekon_runs_total",
        "counter",
        "Job runs recorded in sync_runs, by status.",
    );
    for (job, stats) in jobs {
        for status in STATUSES {
            let count = stats
                .runs_by_status
                .iter()
                .find(|(s, _)| s == status)
                .map_or(0, |(_, n)| *n);
            let labels = [("job", job.as_str()), ("status", status)];
            sample(&mut out, "rekon_runs_total", &labels, count as f64);
        }
    }
    let per_job = [
        (
            "rekon_run_duration_seconds",
            "gauge",
            "Seconds the latest finished run of the job took.",
        ),
        (
            "rekon_records_total",
            "counter",
            "Records loaded by finished runs of the job.",
        ),
        (
            "rekon_retries_total",
            "counter",
            "HTTP retries made by finished runs of the job.",
        ),
        (
            "rekon_last_success_timestamp_seconds",
            "gauge",
            "Unix time the latest succeeded run of the job finished.",
        ),
    ];
    for (name, kind, help) in per_job {
        family(&mut out, name, kind, help);
        for (job, stats) in jobs {
            let value = match name {
                "rekon_run_duration_seconds" => stats.last_duration_secs,
                "rekon_records_total" => Some(stats.records as f64),
                "rekon_retries_total" => Some(stats.retries as f64),
                _ => stats
                    .last_success
                    .map(|at| at.timestamp_millis() as f64 / 1000.0),
            };
            if let Some(value) = value {
                sample(&mut out, name, &[("job", job.as_str())], value);
            }
        }
    }
    if let Some(findings) = findings {
        family(
            &mut out,
            "rekon_findings",
            "gauge",
            "Open (unresolved) findings, by kind.",
        );
        for (kind, count) in findings {
            sample(
                &mut out,
                "rekon_findings",
                &[("kind", kind.as_str())],
                *count as f64,
            );
        }
    }
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    let labels: Vec<String> = labels
        .iter()
        .map(|(key, value)| format!("{key}=\"{}\"", escape(value)))
        .collect();
    let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
}

/// Label values escape backslash, quote and newline (the text format's rule).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    // Same folder, so the rename is atomic; the pid keeps two writers apart.
    let temporary = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn metrics_name_every_status_and_the_last_success_per_job() {
        let stats = JobStats {
            runs_by_status: vec![("succeeded".into(), 3), ("interrupted".into(), 1)],
            records: 1200,
            retries: 7,
            last_duration_secs: Some(12.5),
            last_success: Some(chrono::Utc.with_ymd_and_hms(2026, 1, 2, 19, 0, 5).unwrap()),
        };
        let findings = vec![("trial_expiring".to_owned(), 4)];
        let text = render(&[("nightly".into(), stats)], Some(&findings));
        for line in [
            "rekon_runs_total{job=\"nightly\",status=\"succeeded\"} 3",
            "rekon_runs_total{job=\"nightly\",status=\"failed\"} 0",
            "rekon_runs_total{job=\"nightly\",status=\"interrupted\"} 1",
            "rekon_run_duration_seconds{job=\"nightly\"} 12.5",
            "rekon_records_total{job=\"nightly\"} 1200",
            "rekon_retries_total{job=\"nightly\"} 7",
            "rekon_last_success_timestamp_seconds{job=\"nightly\"} 1767380405",
            "rekon_findings{kind=\"trial_expiring\"} 4",
            "# TYPE rekon_runs_total counter",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn without_a_findings_table_there_is_no_findings_family() {
        let text = render(&[("inbox".into(), JobStats::default())], None);
        assert!(!text.contains("rekon_findings"), "{text}");
        assert!(
            !text.contains("rekon_last_success_timestamp_seconds{"),
            "never succeeded: {text}"
        );
    }

    #[test]
    fn the_file_is_replaced_whole_and_no_temporary_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("textfile").join("rekon.prom");
        write_atomically(&path, "a 1\n").unwrap();
        write_atomically(&path, "a 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a 2\n");
        let entries = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(entries, 1);
    }
}
