//! `rekon schedule`: runs each job at its due ticks until told to stop.
//!
//! Policies (also in `rekon schedule --help` and docs/operations.md):
//! - a job never runs twice at once: in this process a tick that finds the
//!   previous run still going is skipped; across processes the job lock and
//!   the "already served" check make each tick run exactly once;
//! - a process that wakes late serves the latest due tick once, never a
//!   backlog of ticks;
//! - at start-up, with `misfire = "coalesce"`, a job whose latest tick has no
//!   run since (and that has run before) runs once at once;
//! - SIGTERM/Ctrl-C: no new run starts, runs in hand stop fetching, commit
//!   what they hold and end `interrupted`, within `stop_grace_secs`.

use super::job::Job;
use super::metrics::write_metrics;
use super::runner::{run_job, JobRun, RunContext, Trigger};
use crate::config::{Config, Misfire};
use crate::outcome::RunStatus;
use crate::shutdown::Shutdown;
use crate::warehouse::{Warehouse, WarehouseError};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::Duration;
use tokio::task::JoinSet;

/// Longest single sleep, so a wall-clock jump is noticed within a minute.
const MAX_NAP: Duration = Duration::from_secs(60);

/// The scheduler's state: which tick each job waits for, which jobs are running.
struct Plan {
    jobs: Vec<(Job, Option<DateTime<Utc>>)>,
    running: HashMap<tokio::task::Id, String>,
    tasks: JoinSet<RunStatus>,
    worst: RunStatus,
}

/// Runs due jobs until `shutdown` fires; the worst status of the runs a
/// stop cut short (succeeded when the stop found nothing running).
pub async fn run_scheduler(
    warehouse: &Warehouse,
    config: &Config,
    jobs: Vec<Job>,
    shutdown: &Shutdown,
) -> Result<RunStatus, WarehouseError> {
    let now = Utc::now();
    let mut plan = Plan {
        jobs: jobs
            .iter()
            .map(|job| (job.clone(), job.next_after(now)))
            .collect(),
        running: HashMap::new(),
        tasks: JoinSet::new(),
        worst: RunStatus::Succeeded,
    };
    for job in &jobs {
        let next = job.next_after(now).map(|at| at.to_rfc3339());
        tracing::info!(job = %job.name, cron = %job.cron, timezone = %job.timezone, next, "scheduled");
        if config.schedule.misfire == Misfire::Coalesce {
            if let Some(missed) = missed_tick(warehouse, job, now).await? {
                tracing::info!(job = %job.name, %missed, "tick missed while down: running it once now");
                plan.launch(job, Trigger::CatchUp(missed), warehouse, config, shutdown);
            }
        }
    }
    loop {
        let due = plan.jobs.iter().filter_map(|(_, next)| *next).min();
        let nap = due.map_or(MAX_NAP, |due| {
            (due - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(MAX_NAP)
        });
        tokio::select! {
            // A stop wins over a tick that falls due at the same moment.
            biased;
            () = shutdown.requested() => break,
            Some(joined) = plan.tasks.join_next_with_id() => plan.finished(joined, warehouse, config, &jobs).await,
            () = tokio::time::sleep(nap) => plan.launch_due(warehouse, config, shutdown),
        }
    }
    plan.drain(warehouse, config, &jobs, shutdown).await;
    Ok(plan.worst)
}

/// The latest tick before `now` when no run of `job` started since it;
/// a job that never ran has missed nothing.
async fn missed_tick(
    warehouse: &Warehouse,
    job: &Job,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, WarehouseError> {
    let Some(previous) = job.previous_before(now) else {
        return Ok(None);
    };
    let last = warehouse.latest_start(&job.name).await?;
    Ok(last.filter(|last| *last < previous).map(|_| previous))
}

impl Plan {
    /// Launches every job whose tick has come; a late wake-up serves only
    /// the latest due tick.
    fn launch_due(&mut self, warehouse: &Warehouse, config: &Config, shutdown: &Shutdown) {
        let now = Utc::now();
        let mut due = Vec::new();
        for (job, next) in &mut self.jobs {
            let Some(mut tick) = next.filter(|at| *at <= now) else {
                continue;
            };
            while let Some(later) = job.next_after(tick).filter(|at| *at <= now) {
                tick = later;
            }
            *next = job.next_after(tick);
            due.push((job.clone(), tick));
        }
        for (job, tick) in due {
            if self.running.values().any(|name| *name == job.name) {
                tracing::warn!(job = %job.name, %tick, "tick skipped: the previous run is still going");
                continue;
            }
            self.launch(&job, Trigger::Scheduled(tick), warehouse, config, shutdown);
        }
    }

    fn launch(
        &mut self,
        job: &Job,
        trigger: Trigger,
        warehouse: &Warehouse,
        config: &Config,
        shutdown: &Shutdown,
    ) {
        let (job, warehouse, config, shutdown) = (
            job.clone(),
            warehouse.clone(),
            config.clone(),
            shutdown.clone(),
        );
        let name = job.name.clone();
        let task = self.tasks.spawn(async move {
            let context = RunContext {
                warehouse: &warehouse,
                config: &config,
                shutdown: &shutdown,
                show_progress: false,
            };
            match run_job(&job, trigger, context).await {
                Ok(JobRun::Ran(report)) => report.status,
                Ok(JobRun::Busy | JobRun::AlreadyServed(_)) => RunStatus::Succeeded,
                Err(err) => {
                    tracing::error!(job = %job.name, "{err:#}");
                    RunStatus::Failed
                }
            }
        });
        self.running.insert(task.id(), name);
    }

    async fn finished(
        &mut self,
        joined: Result<(tokio::task::Id, RunStatus), tokio::task::JoinError>,
        warehouse: &Warehouse,
        config: &Config,
        jobs: &[Job],
    ) {
        match joined {
            Ok((id, status)) => {
                self.running.remove(&id);
                if status == RunStatus::Interrupted {
                    self.worst = self.worst.worst(status);
                }
            }
            Err(err) => {
                let job = self.running.remove(&err.id()).unwrap_or_default();
                tracing::error!(%job, %err, "a job run task panicked; its run row is closed by the next run");
            }
        }
        refresh_metrics(warehouse, config, jobs).await;
    }

    /// After a stop: lets runs in hand end within the grace, then returns.
    async fn drain(
        &mut self,
        warehouse: &Warehouse,
        config: &Config,
        jobs: &[Job],
        shutdown: &Shutdown,
    ) {
        if self.tasks.is_empty() {
            tracing::info!("stopped; no run was in progress");
            return;
        }
        tracing::info!(
            runs = self.tasks.len(),
            "stopping: waiting for the runs in progress"
        );
        let grace = Duration::from_secs(config.schedule.stop_grace_secs);
        let drained = shutdown
            .within_grace(grace, async {
                while let Some(joined) = self.tasks.join_next_with_id().await {
                    self.finished(joined, warehouse, config, jobs).await;
                }
            })
            .await;
        if drained.is_none() {
            tracing::error!(grace_secs = grace.as_secs(), "runs did not stop within the grace; abandoning them (the next run marks them interrupted)");
            self.worst = RunStatus::Interrupted;
        }
    }
}

/// Rewrites the metrics file, if one is configured; a failure is logged, not fatal.
pub async fn refresh_metrics(warehouse: &Warehouse, config: &Config, jobs: &[Job]) {
    let Some(path) = &config.schedule.metrics_file else {
        return;
    };
    let names: Vec<String> = jobs.iter().map(|job| job.name.clone()).collect();
    if let Err(err) = write_metrics(warehouse, &names, path).await {
        tracing::warn!("{err:#}");
    }
}
