//! Loading ELKASSA listing pages: one transaction per batch of pages holding
//! the raw bodies, the merged business rows and the checkpoint together.
//!
//! Rows go to per-connection temp tables first, then set-based statements
//! merge them, so a batch costs a handful of round trips however many users
//! it holds. Contract history is written only where a value changed, which
//! keeps a rerun over unchanged data free of new history rows. A first load
//! into Postgres copies its new accounts' rows straight into the tables
//! instead (module `first_load`).

#[macro_use]
mod macros;
mod batch;
mod bulk;
mod digest;
mod first_load;
mod known;
mod raw_pages;
mod rows;
mod seen;
mod sql;
mod stage;
mod sweep;

pub use rows::{
    AccountRow, BatchStats, BranchRow, Census, LandedPage, PacketRow, PhaseTimes, RecordIssue,
    SweepStats,
};
pub use seen::Refreshed;

use super::{dual, op, Warehouse, WarehouseError};
use batch::{batch_stats, branches_of, latest_per_account, seen_rows, split_unchanged, Split};
use chrono::{DateTime, Utc};
use first_load::FirstLoad;
use known::KnownDigests;
use raw_pages::RawPages;
use seen::SeenAccounts;
use sqlx::pool::PoolConnection;
use sqlx::{Postgres, QueryBuilder, Sqlite};
use stage::{StagedBranches, Staging};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

enum Conn {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

/// Writes ELKASSA batches over one dedicated connection (temp tables are per connection).
pub struct ElkassaLoader {
    conn: Conn,
    run_id: i64,
    /// Accounts merged by every loader of the run, and the count at the last ANALYZE.
    progress: Arc<LoadProgress>,
    /// Digests of the accounts active at the start of the run (none on a first load).
    known: Arc<KnownDigests>,
    /// Set when the run started on a Postgres warehouse without ELKASSA rows.
    first_load: Option<Arc<FirstLoad>>,
    /// Whether the staging tables may hold an earlier batch's rows (or,
    /// on a pooled connection, an earlier run's): truncated before staging.
    staging_used: bool,
}

/// Shared by the loaders of one run, so statistics are refreshed once per doubling.
#[derive(Debug, Default)]
struct LoadProgress {
    merged: AtomicU64,
    analyzed_at: AtomicU64,
}

/// Tables the merges join against, whose statistics must keep up with a
/// bulk load (upserts probe their unique index whatever the statistics say).
const JOINED_TABLES: &str = "customers, contracts, contract_history";

/// Rows per multi-row INSERT: stays under SQLite's 32,766 bound parameters.
pub(super) const ROWS_PER_STATEMENT: usize = 1_000;

impl Warehouse {
    /// Loaders for one run, each holding its own connection: `writers` on
    /// Postgres (parallel transactions use a second core), one on SQLite
    /// (a single writer at a time).
    pub async fn elkassa_loaders(
        &self,
        run_id: i64,
        writers: usize,
    ) -> Result<Vec<ElkassaLoader>, WarehouseError> {
        let count = match self {
            Warehouse::Sqlite(_) => 1,
            Warehouse::Postgres(_) => writers.max(1),
        };
        let progress = Arc::new(LoadProgress::default());
        let known = Arc::new(self.known_elkassa_digests().await?);
        tracing::debug!(
            accounts = known.len(),
            "stored digests to compare the listing with"
        );
        let mut loaders = Vec::with_capacity(count);
        for _ in 0..count {
            let conn = match self {
                Warehouse::Sqlite(pool) => {
                    Conn::Sqlite(pool.acquire().await.map_err(op("acquire connection"))?)
                }
                Warehouse::Postgres(pool) => {
                    Conn::Postgres(pool.acquire().await.map_err(op("acquire connection"))?)
                }
            };
            let mut loader = ElkassaLoader {
                conn,
                run_id,
                progress: Arc::clone(&progress),
                known: Arc::clone(&known),
                first_load: None,
                staging_used: true,
            };
            loader.create_staging().await?;
            loaders.push(loader);
        }
        if known.is_empty() {
            if let Some(first_load) = loaders[0].start_first_load().await? {
                let first_load = Arc::new(first_load);
                for loader in &mut loaders {
                    loader.first_load = Some(Arc::clone(&first_load));
                }
            }
        }
        let analyzed = loaders[0].rows_at_last_analyze().await?;
        progress.analyzed_at.store(analyzed, Ordering::Relaxed);
        Ok(loaders)
    }
}

impl ElkassaLoader {
    async fn create_staging(&mut self) -> Result<(), WarehouseError> {
        if let Conn::Postgres(conn) = &mut self.conn {
            // Losing the last commits in a server crash loses their checkpoint
            // with them (same transaction), so commits need not wait for the disk.
            sqlx::query("SET synchronous_commit = off")
                .execute(&mut **conn)
                .await
                .map_err(op("configure writer session"))?;
        }
        let tables: &[&str] = match self.conn {
            Conn::Sqlite(_) => &[
                sql::STAGE_ACCOUNTS_SQLITE,
                sql::STAGE_BRANCHES_SQLITE,
                seen::CREATE_SEEN_SQLITE,
                seen::INDEX_SEEN_SQLITE,
            ],
            Conn::Postgres(_) => &[
                sql::STAGE_ACCOUNTS_POSTGRES,
                sql::STAGE_BRANCHES_POSTGRES,
                seen::CREATE_SEEN_POSTGRES,
            ],
        };
        dual!(&mut self.conn, Conn, conn => {
            for table in tables {
                sqlx::query(table).execute(&mut **conn).await.map_err(op("create staging"))?;
            }
        });
        Ok(())
    }

    /// Writes a batch of pages atomically: raw bodies, merged rows, checkpoint.
    /// Accounts listed exactly as stored are only noted for [`Self::refresh_unchanged`].
    pub async fn write_batch(
        &mut self,
        pages: &[LandedPage],
        at: DateTime<Utc>,
    ) -> Result<BatchStats, WarehouseError> {
        if let Some(first_load) = self.first_load.clone() {
            return self.write_first_load_batch(&first_load, pages, at).await;
        }
        let accounts = latest_per_account(pages);
        let listed = accounts.len() as u64;
        let split = split_unchanged(accounts, &self.known);
        let branches = branches_of(&split.changed);
        let mut stats = batch_stats(pages, listed, &split.unchanged, branches.len());
        if let Err(err) = self
            .write_transaction(pages, &split, &branches, at, &mut stats)
            .await
        {
            // The batch will be written again and must note them again.
            for account in &split.unchanged {
                self.known.unnote(&account.row.external_id);
            }
            return Err(err);
        }
        self.progress
            .merged
            .fetch_add(stats.accounts, Ordering::Relaxed);
        let lap = Instant::now();
        self.refresh_statistics().await?;
        stats.phases.analyze = lap.elapsed();
        Ok(stats)
    }

    /// The batch's one transaction: raw bodies, noted and merged accounts, checkpoints.
    async fn write_transaction(
        &mut self,
        pages: &[LandedPage],
        split: &Split<'_>,
        branches: &StagedBranches<'_>,
        at: DateTime<Utc>,
        stats: &mut BatchStats,
    ) -> Result<(), WarehouseError> {
        let run_id = self.run_id;
        let postgres = matches!(self.conn, Conn::Postgres(_));
        // Only a warehouse that held accounts when the run started can have
        // a stored branch a merge drops (a first load skips the freeze).
        let freeze = !self.known.is_empty();
        let stages = !split.changed.is_empty();
        let clear: &[&str] = match (stages && self.staging_used, postgres) {
            (false, _) => &[],
            (true, true) => &["TRUNCATE stage_accounts, stage_branches"],
            (true, false) => &["DELETE FROM stage_accounts", "DELETE FROM stage_branches"],
        };
        dual!(&mut self.conn, Conn, conn => {
            let mut tx = sqlx::Connection::begin(&mut **conn).await.map_err(op("begin batch"))?;
            for statement in clear {
                sqlx::query(statement).execute(&mut *tx).await.map_err(op("clear staging"))?;
            }
            let mut lap = Instant::now();
            let raw_ids = RawPages::store_raw(&mut *tx, run_id, pages).await?;
            stats.phases.raw = lap.elapsed();
            if !split.unchanged.is_empty() {
                lap = Instant::now();
                SeenAccounts::note_seen(&mut *tx, at, &seen_rows(&split.unchanged, &raw_ids)).await?;
                stats.phases.refresh = lap.elapsed();
            }
            if stages {
                lap = Instant::now();
                Staging::stage(&mut *tx, &split.changed, branches, &raw_ids).await?;
                stats.phases.stage = lap.elapsed();
                lap = Instant::now();
                stats.history_rows = merge_staged!(tx, at, run_id, postgres, freeze);
                stats.phases.merge = lap.elapsed();
            }
            lap = Instant::now();
            write_checkpoints!(tx, run_id, pages, raw_ids, at);
            tx.commit().await.map_err(op("commit batch"))?;
            stats.phases.commit = lap.elapsed();
        });
        self.staging_used |= stages;
        Ok(())
    }

    /// After the run's last batch: refreshes `last_seen_*` of every account
    /// this loader found unchanged, in one transaction (their branches read
    /// theirs from the account).
    pub async fn refresh_unchanged(&mut self) -> Result<Refreshed, WarehouseError> {
        if let Some(first_load) = self.first_load.clone() {
            // Nothing was listed as stored; the tables need statistics.
            let started = Instant::now();
            self.analyze_first_load(&first_load).await?;
            return Ok(Refreshed {
                analyze: started.elapsed(),
                ..Refreshed::default()
            });
        }
        let run_id = self.run_id;
        dual!(&mut self.conn, Conn, conn => SeenAccounts::refresh_seen(&mut **conn, run_id).await)
    }

    /// Postgres plans each merge from table statistics; during a first load
    /// they describe a nearly empty table and the planner scans whole tables
    /// per staged row. Re-analysing whenever the load has doubled keeps plans
    /// on the indexes at a logarithmic number of ANALYZEs per run.
    async fn refresh_statistics(&mut self) -> Result<(), WarehouseError> {
        const FIRST_AT: u64 = 5_000;
        if self.first_load.is_some() {
            return Ok(()); // analysed once at the end (its merges are few)
        }
        let merged = self.progress.merged.load(Ordering::Relaxed);
        let last = self.progress.analyzed_at.load(Ordering::Relaxed);
        let due = merged >= FIRST_AT.max(last * 2);
        // Only the loader that wins the swap analyses; the others carry on.
        let mine = due
            && self
                .progress
                .analyzed_at
                .compare_exchange(last, merged, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok();
        if let (true, Conn::Postgres(conn)) = (mine, &mut self.conn) {
            sqlx::query(&format!("ANALYZE {JOINED_TABLES}"))
                .execute(&mut **conn)
                .await
                .map_err(op("analyze merge targets"))?;
        }
        Ok(())
    }

    /// Rows Postgres believed `contracts` had at its last ANALYZE: a nightly
    /// run over a full warehouse then never re-analyses.
    async fn rows_at_last_analyze(&mut self) -> Result<u64, WarehouseError> {
        let Conn::Postgres(conn) = &mut self.conn else {
            return Ok(0);
        };
        let tuples: f32 = sqlx::query_scalar(
            "SELECT reltuples FROM pg_class WHERE oid = 'rekon.contracts'::regclass",
        )
        .fetch_one(&mut **conn)
        .await
        .map_err(op("read table statistics"))?;
        Ok(tuples.max(0.0) as u64)
    }
}
