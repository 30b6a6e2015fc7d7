//! Sync: read every configured partner into the warehouse, one run row each.

mod elkassa;
pub mod normalize;
mod pager;
mod progress;
mod tickets;
mod writer;

pub use elkassa::read_listing_once;

use crate::config::Config;
use crate::outcome::RunStatus;
use crate::providers::elkassa::EnvelopeError;
use crate::providers::http::FetchError;
use crate::shutdown::Shutdown;
use crate::warehouse::{RunSummary, Warehouse, WarehouseError};
use chrono::Utc;
use tracing::Instrument;

/// Why a sync could not finish.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// A request failed for good.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The partner answered with an error.
    #[error("elkassa {endpoint} {request}: {source}{hint}")]
    Partner {
        /// Endpoint template.
        endpoint: &'static str,
        /// Which request.
        request: String,
        /// The partner's answer.
        source: EnvelopeError,
        /// What to check, for credential errors.
        hint: &'static str,
    },
    /// The warehouse failed.
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    /// The writer task ended before the pages did.
    #[error("the warehouse writer stopped before the listing was read")]
    WriterStopped,
    /// A task panicked or was cancelled.
    #[error("internal task failure: {0}")]
    Task(String),
    /// A stop was requested (SIGTERM, Ctrl-C) before the listing was read.
    #[error("stopped on request before the listing was read; pages committed so far are kept, removals were not swept")]
    Interrupted,
}

impl SyncError {
    /// A partner refusal, with a hint when it is about credentials.
    pub fn partner(endpoint: &'static str, request: String, source: EnvelopeError) -> Self {
        let hint = if source.is_auth() {
            " (check the ELKASSA key and token: elkassa.key/elkassa.token or REKON_ELKASSA_KEY/REKON_ELKASSA_TOKEN)"
        } else {
            ""
        };
        SyncError::Partner {
            endpoint,
            request,
            source,
            hint,
        }
    }
}

/// Switches for one sync invocation.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Job name recorded in `sync_runs.job`.
    pub job: String,
    /// Draw a progress bar when stderr is a terminal.
    pub show_progress: bool,
    /// When fired, no new page is fetched; pages in hand are committed and
    /// the run ends `interrupted`.
    pub shutdown: Shutdown,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            job: "sync".to_owned(),
            show_progress: true,
            shutdown: Shutdown::never(),
        }
    }
}

/// The result of one partner's sync.
#[derive(Debug, Clone)]
pub struct PartnerSync {
    /// Partner name.
    pub provider: &'static str,
    /// Run row id.
    pub run_id: i64,
    /// What the run recorded.
    pub summary: RunSummary,
}

/// The result of `rekon sync`.
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    /// One entry per partner synced.
    pub partners: Vec<PartnerSync>,
    /// Partners skipped for lack of configuration.
    pub skipped: Vec<&'static str>,
}

impl SyncReport {
    /// The worst status over every partner (succeeded when nothing ran).
    pub fn status(&self) -> RunStatus {
        self.partners
            .iter()
            .fold(RunStatus::Succeeded, |worst, partner| {
                worst.worst(partner.summary.status)
            })
    }
}

/// Syncs every configured partner; a partner without configuration is skipped.
pub async fn sync_all(
    warehouse: &Warehouse,
    config: &Config,
    options: &SyncOptions,
) -> Result<SyncReport, WarehouseError> {
    let mut report = SyncReport::default();
    match &config.elkassa {
        Some(elkassa) => {
            let run_id = warehouse.start_run(&options.job, Utc::now()).await?;
            // Every log line of the run carries its run id.
            let span = tracing::info_span!("sync", run_id, provider = "elkassa");
            let summary = async {
                tracing::info!(base_url = %crate::warehouse::redact_url(&elkassa.base_url), "syncing elkassa");
                elkassa::sync_elkassa(warehouse, run_id, elkassa, &config.sync, options).await
            }
            .instrument(span)
            .await;
            warehouse.finish_run(run_id, Utc::now(), &summary).await?;
            // Pruning can wait for the next run when a stop is pending.
            let stopping = options.shutdown.is_requested();
            if let Some(cutoff) =
                retention_cutoff(config.warehouse.raw_retention_days).filter(|_| !stopping)
            {
                let pruned = warehouse.prune_raw(cutoff).await?;
                tracing::debug!(pruned, "pruned raw responses past retention");
            }
            report.partners.push(PartnerSync {
                provider: "elkassa",
                run_id,
                summary,
            });
        }
        None => {
            tracing::info!(
                provider = "elkassa",
                "not configured (no [elkassa] section or REKON_ELKASSA_* variables): skipped"
            );
            report.skipped.push("elkassa");
        }
    }
    match &config.middleware {
        Some(middleware) => report
            .partners
            .push(sync_tickets(warehouse, middleware, options).await?),
        None => report.skipped.push("middleware"),
    }
    for partner in ["mcp", "qm"] {
        tracing::debug!(
            provider = partner,
            "publishes no listing: its accounts are the registrations onboarding made"
        );
    }
    Ok(report)
}

/// Re-polls the middleware's pending enrollment tickets in a run of their own.
async fn sync_tickets(
    warehouse: &Warehouse,
    middleware: &crate::providers::middleware::MiddlewareConfig,
    options: &SyncOptions,
) -> Result<PartnerSync, WarehouseError> {
    let run_id = warehouse.start_run(&options.job, Utc::now()).await?;
    let span = tracing::info_span!("sync", run_id, provider = "middleware");
    let client = crate::providers::middleware::MiddlewareClient::new(middleware.clone());
    let summary = tickets::poll_tickets(warehouse, run_id, &client)
        .instrument(span)
        .await;
    let summary = match summary {
        Ok(summary) => summary,
        Err(err) => RunSummary {
            status: RunStatus::Failed,
            error: Some(err.to_string()),
            ..RunSummary::default()
        },
    };
    warehouse.finish_run(run_id, Utc::now(), &summary).await?;
    Ok(PartnerSync {
        provider: "middleware",
        run_id,
        summary,
    })
}

fn retention_cutoff(days: u32) -> Option<chrono::DateTime<Utc>> {
    (days > 0).then(|| Utc::now() - chrono::Duration::days(i64::from(days)))
}
