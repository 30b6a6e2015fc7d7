//! The warehouse side of a sync: batches landed pages into transactions,
//! overlapping database work with fetching.

use super::progress::Progress;
use crate::warehouse::{
    BatchStats, ElkassaLoader, LandedPage, PhaseTimes, Refreshed, WarehouseError,
};
use chrono::Utc;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;
use tracing::Instrument;

/// What the writer wrote over a whole run.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriterTotals {
    /// Transactions committed.
    pub batches: u64,
    /// Pages landed.
    pub pages: u64,
    /// Contract versions added.
    pub history_rows: u64,
    /// Account rows merged (an account seen twice counts twice).
    pub account_rows: u64,
    /// New accounts a first load copied straight into the tables.
    pub copied_accounts: u64,
    /// Accounts listed as stored, refreshed after the last batch.
    pub refreshed: Refreshed,
    /// Branches listed with those accounts (left as stored).
    pub unchanged_branches: u64,
    /// Branch rows merged.
    pub branch_rows: u64,
    /// Raw bytes received.
    pub raw_bytes: u64,
    /// Raw bytes stored after compression.
    pub stored_bytes: u64,
    /// Where the writer's time went.
    pub phases: PhaseTimes,
}

impl WriterTotals {
    fn merge(&mut self, other: WriterTotals) {
        self.batches += other.batches;
        self.pages += other.pages;
        self.history_rows += other.history_rows;
        self.account_rows += other.account_rows;
        self.copied_accounts += other.copied_accounts;
        self.refreshed.accounts += other.refreshed.accounts;
        self.refreshed.analyze += other.refreshed.analyze;
        self.unchanged_branches += other.unchanged_branches;
        self.branch_rows += other.branch_rows;
        self.raw_bytes += other.raw_bytes;
        self.stored_bytes += other.stored_bytes;
        self.phases += other.phases;
    }

    fn add(&mut self, pages: usize, stats: BatchStats) {
        self.batches += 1;
        self.pages += pages as u64;
        self.history_rows += stats.history_rows;
        self.account_rows += stats.accounts;
        self.copied_accounts += stats.copied_accounts;
        self.branch_rows += stats.branches;
        self.unchanged_branches += stats.unchanged_branches;
        self.raw_bytes += stats.raw_bytes;
        self.stored_bytes += stats.stored_bytes;
        self.phases += stats.phases;
    }
}

/// Attempts at a batch that lost a deadlock to a parallel writer.
const CONFLICT_ATTEMPTS: u32 = 3;

/// Starts the writers; pages sent to the returned channel are grouped into
/// batches of `batch_pages`, each committed by whichever loader is free. The
/// channels are bounded so a slow database slows fetching instead of filling
/// memory.
pub fn spawn_writer(
    loaders: Vec<ElkassaLoader>,
    batch_pages: usize,
    progress: Arc<Progress>,
) -> (
    mpsc::Sender<LandedPage>,
    JoinHandle<Result<WriterTotals, WarehouseError>>,
) {
    let batch_pages = batch_pages.max(1);
    // Half a batch of look-ahead: with a full batch queued per loader the
    // pager is rarely blocked, and each page held costs memory (at 500-page
    // batches twice a batch of look-ahead peaked 15 MiB higher, no faster).
    let (to_writer, mut pages) = mpsc::channel::<LandedPage>(batch_pages.div_ceil(2));
    let (to_loaders, batches) = mpsc::channel::<Vec<LandedPage>>(loaders.len());
    let batches = Arc::new(Mutex::new(batches));
    let workers: Vec<_> = loaders
        .into_iter()
        .map(|loader| {
            let work = run_loader(loader, Arc::clone(&batches), Arc::clone(&progress));
            tokio::spawn(work.in_current_span())
        })
        .collect();
    let task = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(batch_pages);
        loop {
            let room = batch_pages - batch.len();
            let closed = pages.recv_many(&mut batch, room).await == 0;
            if batch.len() >= batch_pages || (closed && !batch.is_empty()) {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_pages));
                if to_loaders.send(full).await.is_err() {
                    break; // every loader failed; their errors are collected below
                }
            }
            if closed {
                break;
            }
        }
        drop(to_loaders);
        let mut totals = WriterTotals::default();
        for worker in workers {
            let loader_totals = worker.await.map_err(|err| WarehouseError::Query {
                operation: "writer task",
                source: sqlx::Error::Protocol(err.to_string()),
            })??;
            totals.merge(loader_totals);
        }
        Ok(totals)
    });
    (to_writer, task)
}

async fn run_loader(
    mut loader: ElkassaLoader,
    batches: Arc<Mutex<mpsc::Receiver<Vec<LandedPage>>>>,
    progress: Arc<Progress>,
) -> Result<WriterTotals, WarehouseError> {
    let mut totals = WriterTotals::default();
    loop {
        let Some(batch) = batches.lock().await.recv().await else {
            let started = Instant::now();
            totals.refreshed = refresh_unchanged(&mut loader).await?;
            totals.phases.refresh += started.elapsed().saturating_sub(totals.refreshed.analyze);
            totals.phases.analyze += totals.refreshed.analyze;
            tracing::debug!(
                accounts = totals.refreshed.accounts,
                seconds = started.elapsed().as_secs_f64(),
                "refreshed the accounts listed as stored"
            );
            return Ok(totals);
        };
        let mut attempt = 1;
        let stats = loop {
            match loader.write_batch(&batch, Utc::now()).await {
                Err(err) if err.is_transient_conflict() && attempt < CONFLICT_ATTEMPTS => {
                    tracing::debug!(
                        attempt,
                        "batch lost a deadlock to a parallel writer; writing it again"
                    );
                    attempt += 1;
                }
                other => break other?,
            }
        };
        totals.add(batch.len(), stats);
        progress.add_written(stats.accounts);
    }
}

/// The end-of-run refresh, retried like a batch when it loses a deadlock
/// to the other writer's refresh (an account listed in both writers' batches).
async fn refresh_unchanged(loader: &mut ElkassaLoader) -> Result<Refreshed, WarehouseError> {
    let mut attempt = 1;
    loop {
        match loader.refresh_unchanged().await {
            Err(err) if err.is_transient_conflict() && attempt < CONFLICT_ATTEMPTS => {
                tracing::debug!(
                    attempt,
                    "refresh lost a deadlock to a parallel writer; again"
                );
                attempt += 1;
            }
            other => return other,
        }
    }
}
