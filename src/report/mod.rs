//! `rekon report`: the morning report of the latest reconcile, as one
//! self-contained HTML file ([`html`]) or as data files ([`export`]).

pub mod export;
pub mod html;

use crate::reconcile::frames::{read_frame, Field};
use crate::reconcile::{Kind, ReconcileError};
use crate::warehouse::Warehouse;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use polars::prelude::*;
use std::collections::BTreeMap;

/// Days the expiring-trials chart looks ahead.
pub const CHART_DAYS: i64 = 30;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Reading the warehouse failed.
    #[error(transparent)]
    Read(#[from] ReconcileError),
    /// A frame operation failed.
    #[error("report: frame operation: {0}")]
    Frame(#[from] PolarsError),
    /// Writing an output file failed.
    #[error("report: cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// One run as the report shows it.
#[derive(Debug, Clone, Default)]
pub struct RunLine {
    /// Run id.
    pub run_id: i64,
    /// Job name.
    pub job: String,
    /// Final status.
    pub status: String,
    /// Listing pages fetched.
    pub pages: i64,
    /// HTTP retries.
    pub retries: i64,
    /// Drift re-read rounds.
    pub drift_rounds: i64,
    /// Accounts (sync) or findings raised (reconcile).
    pub loaded: i64,
    /// Wall-clock duration in seconds, when finished.
    pub seconds: Option<f64>,
    /// Findings per kind (reconcile runs).
    pub findings: BTreeMap<String, i64>,
    /// Error text of a failed or partial run.
    pub error: Option<String>,
}

/// One open finding as listed in the report.
#[derive(Debug, Clone)]
pub struct FindingLine {
    /// Kind.
    pub kind: String,
    /// Severity.
    pub severity: String,
    /// Partner.
    pub provider: String,
    /// Account, ticket or session id.
    pub external_id: String,
    /// Customer name, when known.
    pub customer: String,
    /// Detail JSON.
    pub detail: String,
    /// When raised (RFC 3339).
    pub first_seen_at: String,
}

/// Everything the report shows.
#[derive(Debug, Clone)]
pub struct ReportData {
    /// When the report was made.
    pub generated_at: DateTime<Utc>,
    /// The latest reconcile run, and the one before it.
    pub reconciles: Vec<RunLine>,
    /// The latest sync run (any job other than reconcile).
    pub sync: Option<RunLine>,
    /// Trials ending per day (UTC) from today to [`CHART_DAYS`] days ahead, every day listed.
    pub expiring_per_day: Vec<(NaiveDate, u64)>,
    /// The newest open findings.
    pub newest: Vec<FindingLine>,
}

const RUNS: &str = "SELECT CAST(run_id AS BIGINT), job, status, CAST(counts AS TEXT), error, pages_fetched, retries, \
    CAST(drift_rounds AS BIGINT), records_loaded, {ms}started_at{/ms}, {ms}finished_at{/ms} FROM sync_runs";
const RUN_FIELDS: &[(&str, Field)] = &[
    ("run_id", Field::Int),
    ("job", Field::Text),
    ("status", Field::Text),
    ("counts", Field::Text),
    ("error", Field::Text),
    ("pages", Field::Int),
    ("retries", Field::Int),
    ("drift_rounds", Field::Int),
    ("loaded", Field::Int),
    ("started_ms", Field::Time),
    ("finished_ms", Field::Time),
];

const TRIAL_EXPIRIES: &str =
    "SELECT {ms}c.expires_at{/ms} FROM contracts c JOIN provider_accounts a \
    ON a.provider = c.provider AND a.external_id = c.external_id \
    WHERE c.is_trial = true AND a.removed_at IS NULL AND c.expires_at IS NOT NULL";

const NEWEST: &str =
    "SELECT kind, severity, provider, external_id, customer_name, CAST(detail AS TEXT), \
    {ms}first_seen_at{/ms} FROM v_open_findings";
const NEWEST_FIELDS: &[(&str, Field)] = &[
    ("kind", Field::Text),
    ("severity", Field::Text),
    ("provider", Field::Text),
    ("external_id", Field::Text),
    ("customer", Field::Text),
    ("detail", Field::Text),
    ("first_seen_ms", Field::Time),
];

impl ReportData {
    /// Gathers the report as of `now`, listing up to `newest` open findings.
    pub async fn gather(
        warehouse: &Warehouse,
        now: DateTime<Utc>,
        newest: usize,
    ) -> Result<Self, ReportError> {
        let reconciles = read_runs(
            warehouse,
            "WHERE job = 'reconcile' OR job LIKE '%.reconcile' ORDER BY run_id DESC LIMIT 2",
        )
        .await?;
        let sync = read_runs(
            warehouse,
            // The latest run that read a listing: its health is what the report shows.
            "WHERE job <> 'reconcile' AND job NOT LIKE '%.reconcile' AND pages_fetched > 0 \
             ORDER BY run_id DESC LIMIT 1",
        )
        .await?
        .into_iter()
        .next();
        let newest_sql = format!("{NEWEST} LIMIT {newest}");
        let frame = read_frame(warehouse, &newest_sql, NEWEST_FIELDS).await?;
        Ok(ReportData {
            generated_at: now,
            reconciles,
            sync,
            expiring_per_day: expiring_per_day(warehouse, now).await?,
            newest: finding_lines(&frame)?,
        })
    }

    /// Open findings per kind in the latest and the previous reconcile (0 when absent).
    pub fn counts(&self) -> Vec<(Kind, i64, Option<i64>)> {
        let of = |run: Option<&RunLine>, kind: Kind| {
            run.map(|run| run.findings.get(kind.as_str()).copied().unwrap_or_default())
        };
        Kind::ALL
            .iter()
            .map(|kind| {
                (
                    *kind,
                    of(self.reconciles.first(), *kind).unwrap_or_default(),
                    of(self.reconciles.get(1), *kind),
                )
            })
            .collect()
    }
}

async fn read_runs(warehouse: &Warehouse, tail: &str) -> Result<Vec<RunLine>, ReportError> {
    let frame = read_frame(warehouse, &format!("{RUNS} {tail}"), RUN_FIELDS).await?;
    let text = |name: &str| frame.column(name).and_then(|c| c.str().cloned());
    let int = |name: &str| frame.column(name).and_then(|c| c.i64().cloned());
    let (job, status, counts, error) = (
        text("job")?,
        text("status")?,
        text("counts")?,
        text("error")?,
    );
    let (id, pages, retries, drift, loaded) = (
        int("run_id")?,
        int("pages")?,
        int("retries")?,
        int("drift_rounds")?,
        int("loaded")?,
    );
    let (started, finished) = (int("started_ms")?, int("finished_ms")?);
    Ok((0..frame.height())
        .map(|i| RunLine {
            run_id: id.get(i).unwrap_or_default(),
            job: job.get(i).unwrap_or_default().to_owned(),
            status: status.get(i).unwrap_or_default().to_owned(),
            pages: pages.get(i).unwrap_or_default(),
            retries: retries.get(i).unwrap_or_default(),
            drift_rounds: drift.get(i).unwrap_or_default(),
            loaded: loaded.get(i).unwrap_or_default(),
            seconds: started
                .get(i)
                .zip(finished.get(i))
                .map(|(s, f)| (f - s) as f64 / 1000.0),
            findings: findings_of(counts.get(i).unwrap_or("{}")),
            error: error.get(i).map(str::to_owned),
        })
        .collect())
}

/// The per-kind counts a reconcile run recorded in `sync_runs.counts`.
fn findings_of(counts: &str) -> BTreeMap<String, i64> {
    serde_json::from_str::<serde_json::Value>(counts)
        .ok()
        .and_then(|value| value.get("findings").cloned())
        .and_then(|findings| serde_json::from_value(findings).ok())
        .unwrap_or_default()
}

async fn expiring_per_day(
    warehouse: &Warehouse,
    now: DateTime<Utc>,
) -> Result<Vec<(NaiveDate, u64)>, ReportError> {
    let end = now + TimeDelta::days(CHART_DAYS);
    let mut per_day: BTreeMap<NaiveDate, u64> = (0..=CHART_DAYS)
        .map(|k| ((now + TimeDelta::days(k)).date_naive(), 0))
        .collect();
    let frame = read_frame(warehouse, TRIAL_EXPIRIES, &[("expires_ms", Field::Time)]).await?;
    let expiries = frame.column("expires_ms").and_then(|c| c.i64().cloned())?;
    for millis in expiries.iter().flatten() {
        let Some(at) = DateTime::<Utc>::from_timestamp_millis(millis) else {
            continue;
        };
        if at > now && at <= end {
            *per_day.entry(at.date_naive()).or_default() += 1;
        }
    }
    Ok(per_day.into_iter().collect())
}

fn finding_lines(frame: &DataFrame) -> Result<Vec<FindingLine>, ReportError> {
    let text = |name: &str| frame.column(name).and_then(|c| c.str().cloned());
    let (kind, severity, provider, external_id, customer, detail) = (
        text("kind")?,
        text("severity")?,
        text("provider")?,
        text("external_id")?,
        text("customer")?,
        text("detail")?,
    );
    let seen = frame
        .column("first_seen_ms")
        .and_then(|c| c.i64().cloned())?;
    let owned = |value: Option<&str>| value.unwrap_or_default().to_owned();
    Ok((0..frame.height())
        .map(|i| FindingLine {
            kind: owned(kind.get(i)),
            severity: owned(severity.get(i)),
            provider: owned(provider.get(i)),
            external_id: owned(external_id.get(i)),
            customer: owned(customer.get(i)),
            detail: crate::reconcile::canonical_json(detail.get(i).unwrap_or("{}")),
            first_seen_at: seen
                .get(i)
                .map(crate::reconcile::instant)
                .unwrap_or_default(),
        })
        .collect())
}
