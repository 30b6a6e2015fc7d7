//! The steps a job can run, their options, and the one place that runs them.
//!
//! Each step's engine is called from [`run_step`], the one dispatch point.

use crate::config::Config;
use crate::onboard::inbox::run_inbox;
use crate::onboard::register::{OnboardOptions, Registrars};
use crate::onboard::Partner;
use crate::outcome::RunStatus;
use crate::shutdown::Shutdown;
use crate::sync::{sync_all, SyncOptions, SyncReport};
use crate::warehouse::Warehouse;
use serde::Deserialize;
use std::path::PathBuf;

/// Step names a job file may use, in the order `--help` lists them.
pub const STEP_NAMES: [&str; 3] = ["sync", "reconcile", "onboard_inbox"];

/// One step of a job.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Read partner listings into the warehouse (one `sync_runs` row per partner).
    Sync(SyncStep),
    /// Compare the warehouse across partners and raise or resolve findings.
    Reconcile(ReconcileStep),
    /// Register the CSV drops waiting in an inbox folder.
    OnboardInbox(InboxStep),
}

/// Options of a `sync` step.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncStep {
    /// Partners to read; only those with a listing sync (ELKASSA today) do anything.
    pub partners: Vec<Partner>,
    /// `sync_runs.job` of the per-partner rows: `<job>.` and a suffix (default `<job>.sync`).
    pub job: String,
    /// Overrides `sync.max_drift_rounds` for this step.
    pub max_drift_rounds: Option<u32>,
    /// Overrides `sync.concurrency` for this step.
    pub concurrency: Option<usize>,
}

/// Options of a `reconcile` step (none yet; unknown keys are refused).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileStep {
    /// `sync_runs.job` of its row: `<job>.reconcile`.
    #[serde(skip)]
    pub job: String,
}

/// Options of an `onboard_inbox` step.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxStep {
    /// Folder where CSV drops arrive.
    pub inbox: PathBuf,
    /// `sync_runs.job` of the per-file rows: `<job>.onboard`.
    pub job: String,
    /// Partners of rows without a `providers` cell.
    pub partners: Vec<Partner>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSync {
    partners: Option<Vec<String>>,
    job: Option<String>,
    max_drift_rounds: Option<u32>,
    concurrency: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInbox {
    inbox: PathBuf,
    partners: Option<Vec<String>>,
}

/// A step option that cannot work: which key (relative to the step) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadOption {
    /// Key inside the step, e.g. `partners`; empty for the step as a whole.
    pub key: String,
    /// What is wrong.
    pub reason: String,
}

impl Step {
    /// Reads a step named `kind` from its options table; `job` names the defaults.
    pub fn parse(
        kind: &str,
        options: &figment::value::Value,
        job: &str,
    ) -> Result<Self, BadOption> {
        let whole = |err: figment::Error| BadOption {
            key: String::new(),
            reason: err.kind.to_string(),
        };
        match kind {
            "sync" => parse_sync(options.deserialize().map_err(whole)?, job),
            "reconcile" => {
                // No options yet: reading them only refuses unknown keys.
                options.deserialize::<ReconcileStep>().map_err(whole)?;
                Ok(Step::Reconcile(ReconcileStep {
                    job: format!("{job}.reconcile"),
                }))
            }
            "onboard_inbox" => parse_inbox(options.deserialize().map_err(whole)?, job),
            other => Err(BadOption {
                key: "step".into(),
                reason: format!("unknown step {other:?} (known: {})", STEP_NAMES.join(", ")),
            }),
        }
    }

    /// The step's name as written in job files.
    pub fn name(&self) -> &'static str {
        match self {
            Step::Sync(_) => "sync",
            Step::Reconcile(_) => "reconcile",
            Step::OnboardInbox(_) => "onboard_inbox",
        }
    }

    /// `sync_runs.job` names of rows this step opens besides the job's own.
    pub fn run_jobs(&self) -> Vec<String> {
        match self {
            Step::Sync(sync) => vec![sync.job.clone()],
            Step::OnboardInbox(inbox) => vec![inbox.job.clone()],
            Step::Reconcile(reconcile) => vec![reconcile.job.clone()],
        }
    }
}

fn parse_sync(raw: RawSync, job: &str) -> Result<Step, BadOption> {
    let name = raw.job.unwrap_or_else(|| format!("{job}.sync"));
    // The prefix ties the rows to this job's lock, so only this job's next
    // run may close them as abandoned; another job's live run is never touched.
    let prefix = format!("{job}.");
    super::job::check_name(&name)
        .and_then(
            |()| match name.starts_with(&prefix) && name.len() > prefix.len() {
                true => Ok(()),
                false => Err(format!(
                    "{name:?} must start with {prefix:?}, so its rows belong to this job"
                )),
            },
        )
        .map_err(|reason| BadOption {
            key: "job".into(),
            reason,
        })?;
    if raw.concurrency == Some(0) {
        return Err(BadOption {
            key: "concurrency".into(),
            reason: "must be at least 1".into(),
        });
    }
    Ok(Step::Sync(SyncStep {
        partners: parse_partners(raw.partners)?,
        job: name,
        max_drift_rounds: raw.max_drift_rounds,
        concurrency: raw.concurrency,
    }))
}

fn parse_inbox(raw: RawInbox, job: &str) -> Result<Step, BadOption> {
    if raw.inbox.as_os_str().is_empty() {
        return Err(BadOption {
            key: "inbox".into(),
            reason: "must name a folder".into(),
        });
    }
    Ok(Step::OnboardInbox(InboxStep {
        inbox: raw.inbox,
        job: format!("{job}.onboard"),
        partners: parse_partners(raw.partners)?,
    }))
}

/// Every partner when the list is absent; an unknown name is an error.
fn parse_partners(names: Option<Vec<String>>) -> Result<Vec<Partner>, BadOption> {
    let Some(names) = names else {
        return Ok(Partner::ALL.to_vec());
    };
    if names.is_empty() {
        return Err(BadOption {
            key: "partners".into(),
            reason: "must name at least one partner (leave it out for all)".into(),
        });
    }
    names
        .iter()
        .map(|name| name.parse::<Partner>())
        .collect::<Result<_, _>>()
        .map_err(|err| BadOption {
            key: "partners".into(),
            reason: err.to_string(),
        })
}

/// What every step may use.
#[derive(Debug, Clone, Copy)]
pub struct StepContext<'a> {
    /// The open warehouse.
    pub warehouse: &'a Warehouse,
    /// Settings of the whole process.
    pub config: &'a Config,
    /// Fired on SIGTERM/Ctrl-C: finish or checkpoint, then end `interrupted`.
    pub shutdown: &'a Shutdown,
    /// Draw progress bars on a terminal.
    pub show_progress: bool,
}

/// How a step ended.
#[derive(Debug, Clone, Default)]
pub struct StepOutcome {
    /// Status of the step.
    pub status: RunStatus,
    /// `sync_runs` rows the step opened.
    pub run_ids: Vec<i64>,
    /// Pages fetched, accounts loaded, rejects and retries, for the job's totals.
    pub totals: StepTotals,
    /// Step-specific counts (JSON object).
    pub counts: serde_json::Value,
    /// Why the step failed or is partial.
    pub error: Option<String>,
}

/// Numbers a job row sums over its steps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepTotals {
    /// Pages fetched.
    pub pages: u64,
    /// Listing entries read.
    pub seen: u64,
    /// Records loaded.
    pub loaded: u64,
    /// Records rejected.
    pub rejected: u64,
    /// HTTP retries.
    pub retries: u64,
}

impl StepOutcome {
    /// A step that could not run at all.
    pub fn failed(error: String) -> Self {
        StepOutcome {
            status: RunStatus::Failed,
            error: Some(error),
            counts: serde_json::json!({}),
            ..StepOutcome::default()
        }
    }
}

/// Runs one step. The single dispatch point: wire new engines in here.
pub async fn run_step(step: &Step, context: StepContext<'_>) -> StepOutcome {
    match step {
        Step::Sync(sync) => run_sync(sync, context).await,
        Step::Reconcile(reconcile) => run_reconcile_step(reconcile, context).await,
        Step::OnboardInbox(inbox) => run_inbox_step(inbox, context).await,
    }
}

async fn run_sync(step: &SyncStep, context: StepContext<'_>) -> StepOutcome {
    let mut config = context.config.clone();
    let wants_elkassa = step.partners.contains(&Partner::Elkassa);
    if !wants_elkassa {
        config.elkassa = None;
    }
    if !step.partners.contains(&Partner::Middleware) {
        config.middleware = None;
    }
    if let Some(rounds) = step.max_drift_rounds {
        config.sync.max_drift_rounds = rounds;
    }
    if let Some(concurrency) = step.concurrency {
        config.sync.concurrency = concurrency;
    }
    let options = SyncOptions {
        job: step.job.clone(),
        show_progress: context.show_progress,
        shutdown: context.shutdown.clone(),
    };
    match sync_all(context.warehouse, &config, &options).await {
        Ok(report) => sync_outcome(&report, wants_elkassa),
        Err(err) => StepOutcome::failed(format!("{err:#}")),
    }
}

/// Computes findings and stores what changed, in a run row of its own.
async fn run_reconcile_step(step: &ReconcileStep, context: StepContext<'_>) -> StepOutcome {
    let now = chrono::Utc::now();
    match crate::reconcile::run_named(context.warehouse, &context.config.reconcile, now, &step.job)
        .await
    {
        Ok(report) => StepOutcome {
            status: RunStatus::Succeeded,
            run_ids: vec![report.run_id],
            totals: StepTotals {
                seen: report.rows_read as u64,
                loaded: report.stored.inserted,
                ..StepTotals::default()
            },
            counts: serde_json::json!({ "findings": report.counts }),
            error: None,
        },
        Err(err) => StepOutcome::failed(format!("{err:#}")),
    }
}

/// Registers every complete drop in the step's inbox, one run row per file.
async fn run_inbox_step(step: &InboxStep, context: StepContext<'_>) -> StepOutcome {
    let config = context.config;
    let registrars = match Registrars::new(config) {
        Ok(registrars) => registrars,
        Err(err) => return StepOutcome::failed(format!("{err:#}")),
    };
    let options = OnboardOptions {
        out_dir: None,
        archive_dir: None,
        default_partners: step.partners.clone(),
        show_progress: context.show_progress,
        job: step.job.clone(),
        shutdown: context.shutdown.clone(),
    };
    let archive = config.onboard.archive_for(&step.inbox);
    let report = match run_inbox(
        context.warehouse,
        config,
        &registrars,
        &step.inbox,
        &archive,
        &options,
    )
    .await
    {
        Ok(report) => report,
        Err(err) => return StepOutcome::failed(format!("{err:#}")),
    };
    let mut outcome = StepOutcome {
        status: report.status(),
        counts: serde_json::json!({
            "files": report.handled.len(),
            "unreadable": report.unreadable.len(),
            "left": report.left.len(),
            "settling": report.settling,
        }),
        ..StepOutcome::default()
    };
    for (_, file) in &report.handled {
        outcome.run_ids.push(file.run_id);
        outcome.totals.seen += file.rows as u64;
    }
    outcome.error = report
        .unreadable
        .iter()
        .chain(&report.left)
        .map(|(path, reason)| format!("{}: {reason}", path.display()))
        .next();
    outcome
}

/// A step asked to read ELKASSA that found it unconfigured did nothing an
/// operator expects, so it ends partial instead of quietly succeeding.
fn sync_outcome(report: &SyncReport, wants_elkassa: bool) -> StepOutcome {
    let mut outcome = StepOutcome {
        status: report.status(),
        counts: serde_json::json!({ "skipped": report.skipped }),
        ..StepOutcome::default()
    };
    for partner in &report.partners {
        let summary = &partner.summary;
        outcome.run_ids.push(partner.run_id);
        let totals = &mut outcome.totals;
        totals.pages += summary.pages_fetched;
        totals.seen += summary.records_seen;
        totals.loaded += summary.records_loaded;
        totals.rejected += summary.records_rejected;
        totals.retries += summary.retries;
        outcome.counts[partner.provider] = serde_json::json!({
            "run_id": partner.run_id,
            "status": summary.status.as_str(),
            "counts": summary.counts.get(partner.provider).cloned().unwrap_or_default(),
        });
        if outcome.error.is_none() {
            outcome.error = summary.error.clone();
        }
    }
    if wants_elkassa && report.skipped.contains(&"elkassa") {
        outcome.status = outcome.status.worst(RunStatus::Partial);
        outcome.error.get_or_insert_with(|| {
            "elkassa is not configured ([elkassa] or REKON_ELKASSA_*): nothing was synced".into()
        });
    }
    outcome
}
