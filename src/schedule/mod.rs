//! Scheduled operation: job files, one-off job runs, the long-running
//! scheduler, per-job locks and the metrics file.
//!
//! See docs/operations.md for the policies (locks, missed runs, stopping).

pub mod daemon;
pub mod job;
pub mod lock;
pub mod metrics;
pub mod runner;
pub mod steps;

pub use daemon::{refresh_metrics, run_scheduler};
pub use job::{load_job, load_jobs, Job, JobError};
pub use runner::{run_job, JobReport, JobRun, RunContext, RunError, Trigger};
pub use steps::{Step, StepOutcome};

#[cfg(test)]
mod tests;
