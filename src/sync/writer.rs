//! The warehouse side of a sync: batches landed pages into transactions,
//! overlapping database work with fetching.

use super::progress::Progress;
use crate::warehouse::{BatchStats, ElkassaLoader, LandedPage, WarehouseError};
use chrono::Utc;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

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
    /// Branch rows merged.
    pub branch_rows: u64,
    /// Raw bytes received.
    pub raw_bytes: u64,
    /// Raw bytes stored after compression.
    pub stored_bytes: u64,
}

impl WriterTotals {
    fn add(&mut self, pages: usize, stats: BatchStats) {
        self.batches += 1;
        self.pages += pages as u64;
        self.history_rows += stats.history_rows;
        self.account_rows += stats.accounts;
        self.branch_rows += stats.branches;
        self.raw_bytes += stats.raw_bytes;
        self.stored_bytes += stats.stored_bytes;
    }
}

/// Starts the writer; pages sent to the returned channel are committed in
/// batches of `batch_pages`. The channel is bounded so a slow database slows
/// fetching instead of filling memory.
pub fn spawn_writer(
    mut loader: ElkassaLoader,
    batch_pages: usize,
    progress: Arc<Progress>,
) -> (
    mpsc::Sender<LandedPage>,
    JoinHandle<Result<WriterTotals, WarehouseError>>,
) {
    let batch_pages = batch_pages.max(1);
    let (to_writer, mut pages) = mpsc::channel::<LandedPage>(batch_pages * 2);
    let task = tokio::spawn(async move {
        let mut totals = WriterTotals::default();
        let mut batch = Vec::with_capacity(batch_pages);
        loop {
            let room = batch_pages - batch.len();
            let received = pages.recv_many(&mut batch, room).await;
            let closed = received == 0;
            if batch.len() >= batch_pages || (closed && !batch.is_empty()) {
                let stats = loader.write_batch(&batch, Utc::now()).await?;
                totals.add(batch.len(), stats);
                progress.add_written(stats.accounts);
                batch.clear();
            }
            if closed {
                return Ok(totals);
            }
        }
    });
    (to_writer, task)
}
