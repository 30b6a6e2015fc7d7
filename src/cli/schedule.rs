//! `rekon jobs list`, `rekon run JOB` and `rekon schedule`.

use super::open_warehouse;
use crate::config::Config;
use crate::outcome::RunStatus;
use crate::schedule::{
    load_job, load_jobs, refresh_metrics, run_job, run_scheduler, Job, JobRun, RunContext, Trigger,
};
use anyhow::Context;
use chrono::Utc;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// `rekon jobs ...`.
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Check every job file and show each job's next three run times (exit 2 on any invalid file).
    List(JobsArgs),
}

/// Where the job files are.
#[derive(Debug, Args)]
pub struct JobsArgs {
    /// Folder of job files (default: schedule.jobs_dir, else ./jobs).
    #[arg(long)]
    pub jobs_dir: Option<PathBuf>,
}

/// Options of `rekon run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Job to run: the name of a file in the jobs folder, without `.toml`.
    pub job: String,
    /// Job files.
    #[command(flatten)]
    pub jobs: JobsArgs,
    /// Metrics file to rewrite after the run (default: schedule.metrics_file).
    #[arg(long)]
    pub metrics_file: Option<PathBuf>,
    /// Never draw a progress bar (log lines only).
    #[arg(long)]
    pub no_progress: bool,
}

/// Options of `rekon schedule`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// Job files.
    #[command(flatten)]
    pub jobs: JobsArgs,
    /// Metrics file to rewrite after every run (default: schedule.metrics_file).
    #[arg(long)]
    pub metrics_file: Option<PathBuf>,
}

/// Long help of `rekon run`.
pub const RUN_ABOUT: &str = "Run one job now, for an outside scheduler (crontab, systemd timer, \
Kubernetes CronJob). If another run of the job holds its lock, nothing is done and the exit code is 0. \
SIGTERM or Ctrl-C stops the step in hand after committing what it holds; the run ends interrupted (exit 2).";

/// Long help of `rekon schedule`.
pub const SCHEDULE_ABOUT: &str = "Run every job in the jobs folder at its cron times until SIGTERM or Ctrl-C.\n\n\
Each due tick runs once across every scheduler sharing the warehouse (a per-job lock, and a tick a run \
already served is skipped); a tick that finds the job's previous run still going is skipped. Missed runs \
(schedule.misfire): \"coalesce\" (default) runs a job once at start-up when its latest tick has no run \
since and the job ran before; \"skip\" waits for the next tick. Missed ticks are never replayed one by one. \
On SIGTERM/Ctrl-C no new run starts; runs in hand commit what they hold, end interrupted, and the \
process exits within schedule.stop_grace_secs.";

/// `rekon jobs list`.
pub fn list_jobs(command: JobsCommand, config: &Config) -> anyhow::Result<RunStatus> {
    let JobsCommand::List(args) = command;
    let dir = jobs_dir(&args, config);
    let jobs = load_jobs(&dir)?;
    if jobs.is_empty() {
        println!("no job files in {}", dir.display());
    }
    let now = Utc::now();
    for job in &jobs {
        let steps: Vec<&str> = job.steps.iter().map(|step| step.name()).collect();
        println!(
            "{}  cron \"{}\" {}  steps: {}",
            job.name,
            job.cron,
            job.timezone,
            steps.join(", ")
        );
        if let Some(description) = &job.description {
            println!("  {description}");
        }
        for at in job.next_runs(now, 3) {
            println!(
                "  next: {}  ({} UTC)",
                at.format("%a %Y-%m-%d %H:%M:%S %Z"),
                at.with_timezone(&Utc).format("%Y-%m-%d %H:%M:%S")
            );
        }
    }
    Ok(RunStatus::Succeeded)
}

/// `rekon run JOB`.
pub async fn run_now(
    args: RunArgs,
    mut config: Config,
    database_url: Option<&str>,
) -> anyhow::Result<RunStatus> {
    let dir = jobs_dir(&args.jobs, &config);
    let job = load_job(&dir, &args.job)?;
    if args.metrics_file.is_some() {
        config.schedule.metrics_file = args.metrics_file;
    }
    let shutdown = crate::shutdown::on_signals();
    let warehouse = open_warehouse(&config, database_url).await?;
    let context = RunContext {
        warehouse: &warehouse,
        config: &config,
        shutdown: &shutdown,
        show_progress: !args.no_progress,
    };
    let grace = Duration::from_secs(config.schedule.stop_grace_secs);
    let Some(outcome) = shutdown
        .within_grace(grace, run_job(&job, Trigger::Manual, context))
        .await
    else {
        // The lock dies with this process; the next run closes the row.
        anyhow::bail!(
            "job {}: did not stop within {} s of the stop request; abandoned",
            job.name,
            grace.as_secs()
        );
    };
    let outcome = outcome?;
    print_job_run(&job, &outcome);
    refresh_metrics(&warehouse, &config, &metric_jobs(&dir, job)).await;
    warehouse.close().await;
    Ok(outcome.status())
}

/// `rekon schedule`.
pub async fn schedule(
    args: ScheduleArgs,
    mut config: Config,
    database_url: Option<&str>,
) -> anyhow::Result<RunStatus> {
    let dir = jobs_dir(&args.jobs, &config);
    let jobs = load_jobs(&dir)?;
    anyhow::ensure!(
        !jobs.is_empty(),
        "no job files in {}: nothing to schedule",
        dir.display()
    );
    if args.metrics_file.is_some() {
        config.schedule.metrics_file = args.metrics_file;
    }
    let shutdown = crate::shutdown::on_signals();
    let warehouse = open_warehouse(&config, database_url).await?;
    refresh_metrics(&warehouse, &config, &jobs).await;
    let status = run_scheduler(&warehouse, &config, jobs, &shutdown)
        .await
        .context("scheduler")?;
    warehouse.close().await;
    Ok(status)
}

fn jobs_dir(args: &JobsArgs, config: &Config) -> PathBuf {
    args.jobs_dir
        .clone()
        .unwrap_or_else(|| config.schedule.jobs_dir.clone())
}

/// Every valid job of the folder, so one run's metrics file still covers the others.
fn metric_jobs(dir: &std::path::Path, ran: Job) -> Vec<Job> {
    match load_jobs(dir) {
        Ok(jobs) => jobs,
        Err(err) => {
            tracing::warn!("metrics cover only job {}: {err:#}", ran.name);
            vec![ran]
        }
    }
}

fn print_job_run(job: &Job, outcome: &JobRun) {
    let report = match outcome {
        JobRun::Busy => {
            println!(
                "job {}: skipped, another run of it holds its lock",
                job.name
            );
            return;
        }
        JobRun::AlreadyServed(tick) => {
            println!(
                "job {}: skipped, the tick at {tick} was already served",
                job.name
            );
            return;
        }
        JobRun::Ran(report) => report,
    };
    if !report.interrupted_before.is_empty() {
        println!(
            "job {}: marked abandoned run(s) {:?} interrupted",
            job.name, report.interrupted_before
        );
    }
    println!(
        "job {}: run {} {} in {:.1} s",
        job.name,
        report.run_id,
        report.status.as_str(),
        report.seconds
    );
    for (name, step) in &report.steps {
        let runs = step
            .run_ids
            .iter()
            .map(|id| format!(" run {id}"))
            .collect::<String>();
        println!("  {name}:{runs} {}", step.status.as_str());
        if let Some(error) = &step.error {
            println!("    {error}");
        }
    }
}
