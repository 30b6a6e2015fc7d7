//! `[schedule]`: where job files live, where the metrics file goes, and what
//! the scheduler does about runs it missed while it was down.

use serde::Deserialize;
use std::path::PathBuf;

/// Scheduler settings (`[schedule]`, or `REKON_SCHEDULE_*`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Folder of job files (`<job>.toml`).
    pub jobs_dir: PathBuf,
    /// Prometheus text file rewritten after every job run; none when unset.
    pub metrics_file: Option<PathBuf>,
    /// What `rekon schedule` does at start-up about ticks it missed.
    pub misfire: Misfire,
    /// Seconds a stop request waits for the steps in hand before quitting anyway.
    pub stop_grace_secs: u64,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            jobs_dir: PathBuf::from("jobs"),
            metrics_file: None,
            misfire: Misfire::Coalesce,
            // Under Kubernetes' default 30 s termination grace, so the run row
            // is closed before SIGKILL arrives.
            stop_grace_secs: 25,
        }
    }
}

/// Missed-run policy of the scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Misfire {
    /// One catch-up run at start-up when the latest due tick has no run, however many were missed.
    Coalesce,
    /// Missed ticks are dropped; the next run is the next tick.
    Skip,
}
