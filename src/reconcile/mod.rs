//! Reconciliation: findings across partners, computed with polars over frames
//! read from the warehouse, so the same rules serve SQLite and Postgres.
//!
//! `reconcile` reads every table once ([`frames`]), matches accounts to
//! customers ([`matching`]), runs each rule to a findings frame, and
//! [`store`] writes only the difference from the open findings: new ones
//! inserted, still-present ones refreshed, vanished ones resolved.

mod accounts;
mod columns;
mod contracts;
mod copy_binary;
mod detail;
pub mod frames;
mod identity;
pub mod match_writes;
pub mod matching;
mod onboarding;
mod reader;
mod rules;
pub mod store;

pub use detail::{canonical_json, finding_key, instant, FINDING_COLUMNS};
pub use frames::Frames;
use rules::Lap;
pub use rules::{compute, count_kinds};
pub use store::StoreStats;

use crate::config::ReconcileConfig;
use crate::outcome::RunStatus;
use crate::warehouse::{Backend, RunSummary, Warehouse, WarehouseError};
use chrono::{DateTime, Utc};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Why a reconcile could not finish.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// Reading a table into a frame failed.
    #[error("reconcile: reading the warehouse ({query}): {source}")]
    Read {
        /// The start of the query.
        query: String,
        /// What failed: the driver, or a value of the wrong type.
        source: reader::ReadFailure,
    },
    /// A frame operation failed (a bug, or a column of an unexpected type).
    #[error("reconcile: frame operation: {0}")]
    Frame(#[from] PolarsError),
    /// Writing findings or the run row failed.
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    /// A reading task panicked or was cancelled.
    #[error("reconcile: reading task failed: {0}")]
    Task(String),
}

impl ReconcileError {
    /// Wraps a polars error (for `map_err`).
    pub(crate) fn frame(error: PolarsError) -> Self {
        ReconcileError::Frame(error)
    }
}

/// The finding kinds of `warehouse.md`, stable identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A trial ends within the window.
    TrialExpiring,
    /// A trial has ended and no paid contract followed.
    TrialExpired,
    /// Expired, but the partner still says ACTIVE.
    ExpiredButActive,
    /// Notes, packet, length or activation disagree.
    PacketMismatch,
    /// One customer, two accounts at one partner.
    DuplicateAccount,
    /// The ledger says registered; the partner does not list it.
    MissingAtPartner,
    /// The partner lists an account the ledger never made.
    UnknownToLedger,
    /// One customer's email, phone, name or national ID differs between partners.
    FieldMismatch,
    /// A QM code session expired while the customer is unverified.
    OtpSessionExpired,
    /// A middleware ticket is pending past the configured age.
    EnrollmentStuck,
    /// An account seen before is gone from the partner's listing.
    AccountRemoved,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 11] = [
        Kind::TrialExpiring,
        Kind::TrialExpired,
        Kind::ExpiredButActive,
        Kind::PacketMismatch,
        Kind::DuplicateAccount,
        Kind::MissingAtPartner,
        Kind::UnknownToLedger,
        Kind::FieldMismatch,
        Kind::OtpSessionExpired,
        Kind::EnrollmentStuck,
        Kind::AccountRemoved,
    ];

    /// The stored identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::TrialExpiring => "trial_expiring",
            Kind::TrialExpired => "trial_expired",
            Kind::ExpiredButActive => "expired_but_active",
            Kind::PacketMismatch => "packet_mismatch",
            Kind::DuplicateAccount => "duplicate_account",
            Kind::MissingAtPartner => "missing_at_partner",
            Kind::UnknownToLedger => "unknown_to_ledger",
            Kind::FieldMismatch => "field_mismatch",
            Kind::OtpSessionExpired => "otp_session_expired",
            Kind::EnrollmentStuck => "enrollment_stuck",
            Kind::AccountRemoved => "account_removed",
        }
    }

    /// How urgent: `error` loses money or customers, `warning` needs a look, `info` is a heads-up.
    pub fn severity(self) -> &'static str {
        match self {
            Kind::ExpiredButActive | Kind::MissingAtPartner => "error",
            Kind::TrialExpiring | Kind::OtpSessionExpired => "info",
            _ => "warning",
        }
    }
}

/// What one reconcile found and wrote.
#[derive(Debug, Clone, Default)]
pub struct ReconcileReport {
    /// The `sync_runs` row of this reconcile (0 when run without one).
    pub run_id: i64,
    /// Findings seen now, per kind (open after this run).
    pub counts: BTreeMap<&'static str, u64>,
    /// What the write changed.
    pub stored: StoreStats,
    /// Rows read over every table.
    pub rows_read: usize,
    /// Reading the tables into frames.
    pub read_time: Duration,
    /// Matching and rules.
    pub compute_time: Duration,
    /// Writing findings and match rules.
    pub write_time: Duration,
}

/// Computes every finding as of `now` and stores the difference from the
/// open findings; `run_id` is recorded on new findings.
pub async fn reconcile(
    warehouse: &Warehouse,
    config: &ReconcileConfig,
    now: DateTime<Utc>,
    run_id: Option<i64>,
) -> Result<ReconcileReport, ReconcileError> {
    let started = Instant::now();
    let frames = Frames::read(warehouse).await?;
    let mut rows_read = frames.rows();
    let mut read_time = started.elapsed();

    // The open findings stream in beside the rules (they are held as
    // digests, so overlapping costs little memory).
    let open = {
        let warehouse = warehouse.clone();
        tokio::spawn(async move { store::read_open(&warehouse).await })
    };
    let lap = Instant::now();
    let mut step = Lap::start();
    let matched = matching::match_accounts(&frames)?;
    step.mark("matching");
    let rule_changes = match_writes::changes(&matched)?;
    step.mark("match rule changes");
    let current = compute(frames, matched, config, now)?;
    let counts = count_kinds(&current)?;
    let mut compute_time = lap.elapsed();

    // What is left of reading the open findings after the rules ran.
    let lap = Instant::now();
    let open = open
        .await
        .map_err(|e| ReconcileError::Task(e.to_string()))??;
    rows_read += open.height();
    read_time += lap.elapsed();
    let lap = Instant::now();
    let diff = store::diff(&current, &open)?;
    drop((current, open));
    compute_time += lap.elapsed();

    let lap = Instant::now();
    let stored = write(warehouse, &diff, &rule_changes, now, run_id).await?;
    Ok(ReconcileReport {
        run_id: run_id.unwrap_or_default(),
        counts,
        stored,
        rows_read,
        read_time,
        compute_time,
        write_time: lap.elapsed(),
    })
}

/// Writes the findings and the match rules, each in its own transaction.
async fn write(
    warehouse: &Warehouse,
    diff: &store::FindingsDiff,
    rule_changes: &DataFrame,
    now: DateTime<Utc>,
    run_id: Option<i64>,
) -> Result<StoreStats, ReconcileError> {
    let findings = store::write(warehouse, diff, now, run_id);
    let rules = match_writes::record(warehouse, rule_changes);
    // Two tables, two connections: the server writes both at once, and a
    // first reconcile spends most of its time in these two statements.
    // SQLite has one writer, and a one-connection pool one connection: side
    // by side they would only wait on each other.
    let (mut stored, match_rules) =
        if warehouse.backend() == Backend::Postgres && warehouse.pool_size() >= 2 {
            tokio::try_join!(findings, rules)?
        } else {
            (findings.await?, rules.await?)
        };
    stored.match_rules = match_rules;
    Ok(stored)
}

/// Reconcile as a job step: opens a `sync_runs` row (job `reconcile`), runs,
/// and closes it with the counts per kind, so reports can compare runs.
pub async fn run_job(
    warehouse: &Warehouse,
    config: &ReconcileConfig,
    now: DateTime<Utc>,
) -> Result<ReconcileReport, ReconcileError> {
    run_named(warehouse, config, now, "reconcile").await
}

/// [`run_job`] with the run row's `job` name chosen by the caller (a job step: `<job>.reconcile`).
pub async fn run_named(
    warehouse: &Warehouse,
    config: &ReconcileConfig,
    now: DateTime<Utc>,
    job: &str,
) -> Result<ReconcileReport, ReconcileError> {
    let run_id = warehouse.start_run(job, Utc::now()).await?;
    let span = tracing::info_span!("reconcile", run_id);
    let outcome = reconcile(warehouse, config, now, Some(run_id))
        .instrument(span)
        .await;
    let summary = match &outcome {
        Ok(report) => RunSummary {
            status: RunStatus::Succeeded,
            records_seen: report.rows_read as u64,
            records_loaded: report.stored.inserted,
            counts: run_counts(report),
            ..RunSummary::default()
        },
        Err(error) => RunSummary {
            status: RunStatus::Failed,
            error: Some(error.to_string()),
            ..RunSummary::default()
        },
    };
    warehouse.finish_run(run_id, Utc::now(), &summary).await?;
    let mut report = outcome?;
    report.run_id = run_id;
    tracing::info!(
        open = report.counts.values().sum::<u64>(),
        new = report.stored.inserted,
        resolved = report.stored.resolved,
        "reconciled"
    );
    Ok(report)
}

/// The `sync_runs.counts` of a reconcile: findings per kind and what changed.
fn run_counts(report: &ReconcileReport) -> serde_json::Value {
    serde_json::json!({
        "findings": report.counts,
        "inserted": report.stored.inserted,
        "resolved": report.stored.resolved,
        "refreshed": report.stored.refreshed,
        "seconds": {
            "read": report.read_time.as_secs_f64(),
            "compute": report.compute_time.as_secs_f64(),
        },
    })
}
