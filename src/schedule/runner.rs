//! One run of a job: take its lock, close runs a dead holder left open,
//! run the steps in order, and record it all in one `sync_runs` row.

use super::job::Job;
use super::lock::{try_lock, LockError};
use super::steps::{run_step, StepContext, StepOutcome, StepTotals};
use crate::config::Config;
use crate::outcome::RunStatus;
use crate::shutdown::Shutdown;
use crate::warehouse::{RunSummary, Warehouse, WarehouseError};
use chrono::{DateTime, SecondsFormat, Utc};
use std::time::Instant;
use tracing::Instrument;

/// Why a job run could not be started or recorded.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The job lock could not be tried.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The run row could not be written.
    #[error("job {job}")]
    Warehouse {
        /// Job name.
        job: String,
        /// What failed.
        source: WarehouseError,
    },
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// `rekon run JOB`: runs whatever ran before.
    Manual,
    /// The scheduler, for the tick at this instant.
    Scheduled(DateTime<Utc>),
    /// The scheduler at start-up, for a tick missed while it was down.
    CatchUp(DateTime<Utc>),
}

impl Trigger {
    fn tick(self) -> Option<DateTime<Utc>> {
        match self {
            Trigger::Manual => None,
            Trigger::Scheduled(at) | Trigger::CatchUp(at) => Some(at),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Scheduled(_) => "schedule",
            Trigger::CatchUp(_) => "catch_up",
        }
    }
}

/// How a request to run a job ended.
#[derive(Debug, Clone)]
pub enum JobRun {
    /// It ran; here is what it recorded.
    Ran(JobReport),
    /// Another run of the job holds the lock: nothing was done.
    Busy,
    /// A run started at or after this tick already exists: nothing was done.
    AlreadyServed(DateTime<Utc>),
}

impl JobRun {
    /// Status for the exit code: a skipped run is no failure.
    pub fn status(&self) -> RunStatus {
        match self {
            JobRun::Ran(report) => report.status,
            JobRun::Busy | JobRun::AlreadyServed(_) => RunStatus::Succeeded,
        }
    }
}

/// A finished job run.
#[derive(Debug, Clone)]
pub struct JobReport {
    /// The job's own `sync_runs` row.
    pub run_id: i64,
    /// How it ended.
    pub status: RunStatus,
    /// Seconds it took.
    pub seconds: f64,
    /// Each step, in order, with what became of it.
    pub steps: Vec<(&'static str, StepOutcome)>,
    /// Abandoned runs of this job found and marked `interrupted`.
    pub interrupted_before: Vec<i64>,
}

/// Everything a job run needs besides the job.
#[derive(Debug, Clone, Copy)]
pub struct RunContext<'a> {
    /// The open warehouse.
    pub warehouse: &'a Warehouse,
    /// Settings.
    pub config: &'a Config,
    /// Stop request.
    pub shutdown: &'a Shutdown,
    /// Draw progress bars.
    pub show_progress: bool,
}

/// Runs `job` unless another run holds its lock (or, for a tick, already served it).
pub async fn run_job(
    job: &Job,
    trigger: Trigger,
    context: RunContext<'_>,
) -> Result<JobRun, RunError> {
    let Some(lock) = try_lock(context.warehouse, &job.name).await? else {
        tracing::warn!(job = %job.name, "skipped: another run of this job holds its lock");
        return Ok(JobRun::Busy);
    };
    let result = run_locked(job, trigger, context).await;
    lock.release().await;
    result.map_err(|source| RunError::Warehouse {
        job: job.name.clone(),
        source,
    })
}

async fn run_locked(
    job: &Job,
    trigger: Trigger,
    context: RunContext<'_>,
) -> Result<JobRun, WarehouseError> {
    let warehouse = context.warehouse;
    let started = Utc::now();
    // Holding the lock, no live process can own a `running` row of this job.
    let note = "abandoned: the process running it stopped without closing it (found by the next run of the job)";
    let interrupted_before = warehouse
        .interrupt_abandoned_runs(&job.run_jobs(), started, note)
        .await?;
    if !interrupted_before.is_empty() {
        tracing::warn!(job = %job.name, runs = ?interrupted_before, "marked abandoned runs interrupted");
    }
    if let Some(tick) = trigger.tick() {
        if warehouse
            .latest_start(&job.name)
            .await?
            .is_some_and(|last| last >= tick)
        {
            tracing::info!(job = %job.name, %tick, "skipped: a run since this tick already served it");
            return Ok(JobRun::AlreadyServed(tick));
        }
    }
    let run_id = warehouse.start_run(&job.name, started).await?;
    let span = tracing::info_span!("job", run_id, job = %job.name);
    let clock = Instant::now();
    let steps = run_steps(job, context).instrument(span.clone()).await;
    let seconds = clock.elapsed().as_secs_f64();
    let summary = job_summary(&steps, trigger, seconds);
    warehouse.finish_run(run_id, Utc::now(), &summary).await?;
    span.in_scope(|| {
        tracing::info!(
            status = summary.status.as_str(),
            seconds,
            "job run finished"
        )
    });
    Ok(JobRun::Ran(JobReport {
        run_id,
        status: summary.status,
        seconds,
        steps: steps
            .into_iter()
            .map(|(name, outcome, _)| (name, outcome))
            .collect(),
        interrupted_before,
    }))
}

/// Steps in order. After a failed or interrupted step, or once a stop is
/// requested, the remaining steps do not start: reconciling a half-read
/// listing would raise findings that are not true.
async fn run_steps(job: &Job, context: RunContext<'_>) -> Vec<(&'static str, StepOutcome, f64)> {
    let step_context = StepContext {
        warehouse: context.warehouse,
        config: context.config,
        shutdown: context.shutdown,
        show_progress: context.show_progress,
    };
    let mut done = Vec::with_capacity(job.steps.len());
    let mut stopped: Option<&str> = None;
    for step in &job.steps {
        if stopped.is_none() && context.shutdown.is_requested() {
            stopped = Some("not started: stop requested");
        }
        if let Some(reason) = stopped {
            let status = if context.shutdown.is_requested() {
                RunStatus::Interrupted
            } else {
                RunStatus::Failed
            };
            let skipped = StepOutcome {
                status,
                error: Some(reason.to_owned()),
                ..StepOutcome::default()
            };
            done.push((step.name(), skipped, 0.0));
            continue;
        }
        tracing::info!(step = step.name(), "step started");
        let clock = Instant::now();
        let outcome = run_step(step, step_context).await;
        let seconds = clock.elapsed().as_secs_f64();
        tracing::info!(
            step = step.name(),
            status = outcome.status.as_str(),
            seconds,
            "step finished"
        );
        if matches!(outcome.status, RunStatus::Failed | RunStatus::Interrupted) {
            stopped = Some("not started: an earlier step did not finish");
        }
        done.push((step.name(), outcome, seconds));
    }
    done
}

/// The job row: the worst step status, the steps' totals, and per step its
/// name, run ids, status, seconds and counts in `counts.job.steps`.
fn job_summary(
    steps: &[(&'static str, StepOutcome, f64)],
    trigger: Trigger,
    seconds: f64,
) -> RunSummary {
    let mut status = RunStatus::Succeeded;
    let mut totals = StepTotals::default();
    let mut error = None;
    let mut described = Vec::with_capacity(steps.len());
    for (name, outcome, step_seconds) in steps {
        status = status.worst(outcome.status);
        totals.pages += outcome.totals.pages;
        totals.seen += outcome.totals.seen;
        totals.loaded += outcome.totals.loaded;
        totals.rejected += outcome.totals.rejected;
        totals.retries += outcome.totals.retries;
        if error.is_none() {
            error = outcome.error.as_ref().map(|e| format!("step {name}: {e}"));
        }
        described.push(serde_json::json!({
            "step": name, "status": outcome.status.as_str(), "seconds": step_seconds,
            "run_ids": outcome.run_ids, "counts": outcome.counts, "error": outcome.error,
        }));
    }
    let scheduled_for = trigger
        .tick()
        .map(|at| at.to_rfc3339_opts(SecondsFormat::Secs, true));
    RunSummary {
        status,
        pages_fetched: totals.pages,
        records_seen: totals.seen,
        records_loaded: totals.loaded,
        records_rejected: totals.rejected,
        retries: totals.retries,
        counts: serde_json::json!({ "job": {
            "trigger": trigger.as_str(), "scheduled_for": scheduled_for,
            "seconds": seconds, "steps": described,
        }}),
        error,
        ..RunSummary::default()
    }
}
