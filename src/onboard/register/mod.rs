//! `rekon onboard`: registers the rows of a drop with every partner they
//! target, never twice.
//!
//! Per file: read and validate every row for every partner before any call;
//! match each valid row to a customer and open its ledger entries; then call
//! the partners with bounded concurrency and each partner's rate limit,
//! marking an entry `sent` before its call and completing it after. An entry
//! left `sent` or `unknown` by a crash or an ambiguous answer is resolved
//! first on the next run: by look-up (ELKASSA), by the partner's "already
//! registered" (MCP, QM) or by posting the same ticket again (middleware).

mod calls;
mod elkassa;
mod prepare;
mod registrars;

pub use registrars::{Registrars, RegistrarsError};

use super::report::{write_reports, ReportCell, Reports};
use super::{read_drop, Partner, ValidRow};
use crate::config::Config;
use crate::outcome::RunStatus;
use crate::shutdown::Shutdown;
use crate::warehouse::{RunSummary, Warehouse};
use anyhow::Context;
use chrono::Utc;
use futures::stream::{FuturesUnordered, StreamExt};
use prepare::{prepare, Task};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tracing::Instrument;

/// How a file is onboarded.
#[derive(Debug, Clone)]
pub struct OnboardOptions {
    /// Folder for the results and rejects files; default: beside the file (or its archived copy).
    pub out_dir: Option<PathBuf>,
    /// Move the file here afterwards, passwords blanked and national IDs masked.
    pub archive_dir: Option<PathBuf>,
    /// Partners of a row without a `providers` cell.
    pub default_partners: Vec<Partner>,
    /// Draw a progress bar when stderr is a terminal.
    pub show_progress: bool,
    /// Job name recorded in `sync_runs.job`.
    pub job: String,
    /// Fired on SIGTERM/Ctrl-C: no new call starts; the file stays in the inbox.
    pub shutdown: Shutdown,
}

/// Where one partner call (or its resolution) left a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerOutcome {
    /// Ledger state: registered, already_registered, rejected, failed or unknown.
    pub state: String,
    /// The partner's id, when known.
    pub external_id: Option<String>,
    /// The partner's message, or what happened.
    pub message: String,
    /// ELKASSA activation state, when the row asked for one.
    pub activation: Option<String>,
}

impl PartnerOutcome {
    /// An outcome with a state and a message.
    pub fn new(state: &str, external_id: Option<String>, message: impl Into<String>) -> Self {
        Self {
            state: state.to_owned(),
            external_id,
            message: message.into(),
            activation: None,
        }
    }

    /// The row was not sent because rekon was stopping.
    pub fn stopped() -> Self {
        Self::new(
            "failed",
            None,
            "not sent: rekon was stopping; the next run sends it",
        )
    }

    /// The row was claimed by another onboarding run at the same moment.
    pub fn busy() -> Self {
        Self::new(
            "unknown",
            None,
            "another onboarding run is sending this row right now; its outcome is in the ledger",
        )
    }

    /// Whether the row needs an operator's (or the next run's) attention.
    pub fn is_problem(&self) -> bool {
        let problem = |state: &str| matches!(state, "rejected" | "failed" | "unknown");
        problem(&self.state) || self.activation.as_deref().is_some_and(problem)
    }
}

/// What onboarding one file produced.
#[derive(Debug)]
pub struct FileOutcome {
    /// The run that handled it.
    pub run_id: i64,
    /// How it ended: partial when any row was rejected, failed or left unknown.
    pub status: RunStatus,
    /// Rows read.
    pub rows: usize,
    /// Where the reports went and what they counted.
    pub reports: Reports,
    /// The archived copy, when the file was archived.
    pub archived: Option<PathBuf>,
    /// Time spent matching customers and opening ledger entries.
    pub prepare_elapsed: Duration,
    /// Time spent calling the partners.
    pub calls_elapsed: Duration,
}

/// Onboards one drop file in one run.
pub async fn onboard_file(
    warehouse: &Warehouse,
    config: &Config,
    registrars: &Registrars,
    path: &Path,
    options: &OnboardOptions,
) -> anyhow::Result<FileOutcome> {
    let name = file_name(path);
    let run_id = warehouse.start_run(&options.job, Utc::now()).await?;
    let span = tracing::info_span!("onboard", run_id, file = %name);
    let result = onboard_in_run(warehouse, config, registrars, path, options, run_id)
        .instrument(span)
        .await;
    let summary = match &result {
        Ok(outcome) => RunSummary {
            status: outcome.status,
            records_seen: outcome.rows as u64,
            records_loaded: count_state(&outcome.reports, &["registered", "already registered"]),
            records_rejected: count_state(&outcome.reports, &["rejected"]),
            counts: serde_json::json!({ "file": name, "outcomes": outcome.reports.tally }),
            ..RunSummary::default()
        },
        Err(err) => RunSummary {
            status: RunStatus::Failed,
            counts: serde_json::json!({ "file": name }),
            error: Some(format!("{err:#}")),
            ..RunSummary::default()
        },
    };
    warehouse.finish_run(run_id, Utc::now(), &summary).await?;
    result
}

async fn onboard_in_run(
    warehouse: &Warehouse,
    config: &Config,
    registrars: &Registrars,
    path: &Path,
    options: &OnboardOptions,
    run_id: i64,
) -> anyhow::Result<FileOutcome> {
    let name = file_name(path);
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let drop = read_drop(&name, &bytes, &options.default_partners)?;
    for warning in &drop.warnings {
        tracing::warn!("{name}: {warning}");
    }
    let rows = drop.into_valid();
    let key = config.onboard.identity_hash_key.as_ref();
    let started = Instant::now();
    let plan = prepare(warehouse, &name, &rows, run_id, key).await?;
    let prepare_elapsed = started.elapsed();
    let started = Instant::now();
    let outcomes = execute(registrars, warehouse, plan.tasks, run_id, options).await?;
    let calls_elapsed = started.elapsed();
    let stopped = options.shutdown.is_requested();
    // A file whose rows were not all tried stays where it is for the next run.
    let archived = match &options.archive_dir {
        Some(dir) if !stopped => Some(super::archive::archive_drop(path, &bytes, dir)?),
        _ => None,
    };
    let out_dir = options.out_dir.clone().unwrap_or_else(|| {
        archived
            .as_deref()
            .unwrap_or(path)
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf()
    });
    let report_name = archived.as_deref().map_or(name.clone(), file_name);
    let reports = write_reports(&out_dir, &report_name, &rows, &|row, partner| {
        cell(&outcomes, row, partner)
    })?;
    let problems =
        outcomes.values().any(PartnerOutcome::is_problem) || rows.iter().any(Result::is_err);
    Ok(FileOutcome {
        run_id,
        status: if stopped {
            RunStatus::Interrupted
        } else if problems {
            RunStatus::Partial
        } else {
            RunStatus::Succeeded
        },
        rows: rows.len(),
        reports,
        archived,
        prepare_elapsed,
        calls_elapsed,
    })
}

/// Runs every task with bounded concurrency; each waits for its partner's rate limit.
async fn execute(
    registrars: &Registrars,
    warehouse: &Warehouse,
    tasks: Vec<Task<'_>>,
    run_id: i64,
    options: &OnboardOptions,
) -> anyhow::Result<HashMap<(u64, Partner), PartnerOutcome>> {
    let progress = super::progress::OnboardProgress::new(tasks.len() as u64, options.show_progress);
    let call = Call {
        registrars,
        warehouse,
        run_id,
        options,
        progress: &progress,
    };
    // A plain loop over named futures, not stream combinators: closures that
    // borrow would make the future not provably Send for the scheduler.
    let mut waiting = tasks.into_iter();
    let mut running = FuturesUnordered::new();
    for task in waiting.by_ref().take(registrars.concurrency()) {
        running.push(run_task(call, task));
    }
    let mut outcomes = HashMap::new();
    while let Some(result) = running.next().await {
        let (key, outcome) = result?;
        outcomes.insert(key, outcome);
        if let Some(task) = waiting.next() {
            running.push(run_task(call, task));
        }
    }
    progress.finish();
    Ok(outcomes)
}

/// What every call of one file shares.
#[derive(Clone, Copy)]
struct Call<'a> {
    registrars: &'a Registrars,
    warehouse: &'a Warehouse,
    run_id: i64,
    options: &'a OnboardOptions,
    progress: &'a super::progress::OnboardProgress,
}

async fn run_task(
    call: Call<'_>,
    task: Task<'_>,
) -> Result<((u64, Partner), PartnerOutcome), crate::warehouse::WarehouseError> {
    let key = (task.row.line, task.partner);
    if call.options.shutdown.is_requested() {
        // Not sent: the entry keeps its state for the next run.
        return Ok((key, PartnerOutcome::stopped()));
    }
    let outcome = call
        .registrars
        .run(call.warehouse, &task, call.run_id)
        .await;
    call.progress.add(task.partner, outcome.as_ref().ok());
    outcome.map(|outcome| (key, outcome))
}

fn cell(
    outcomes: &HashMap<(u64, Partner), PartnerOutcome>,
    row: &ValidRow,
    partner: Partner,
) -> ReportCell {
    match outcomes.get(&(row.line, partner)) {
        Some(outcome) => ReportCell {
            outcome: outcome.state.replace('_', " "),
            partner_id: outcome.external_id.clone().unwrap_or_default(),
            message: outcome.message.clone(),
        },
        None => ReportCell {
            outcome: "failed".to_owned(),
            partner_id: String::new(),
            message: "not attempted".to_owned(),
        },
    }
}

fn count_state(reports: &Reports, states: &[&str]) -> u64 {
    reports
        .tally
        .values()
        .flat_map(|counts| counts.iter())
        .filter(|(state, _)| states.contains(&state.as_str()))
        .map(|(_, count)| *count)
        .sum()
}

/// The file's name, for keys and reports.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("drop.csv")
        .to_owned()
}
