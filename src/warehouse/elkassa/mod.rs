//! Loading ELKASSA listing pages: one transaction per batch of pages holding
//! the raw bodies, the merged business rows and the checkpoint together.
//!
//! Rows go to per-connection temp tables first, then set-based statements
//! merge them, so a batch costs a handful of round trips however many users
//! it holds. Contract history is written only where a value changed, which
//! keeps a rerun over unchanged data free of new history rows.

mod batch;
mod digest;
mod known;
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
use known::KnownDigests;
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
                staging_used: true,
            };
            loader.create_staging().await?;
            loaders.push(loader);
        }
        let analyzed = loaders[0].rows_at_last_analyze().await?;
        progress.analyzed_at.store(analyzed, Ordering::Relaxed);
        Ok(loaders)
    }
}

/// Inserts the batch's raw bodies; evaluates to request key → raw id.
macro_rules! insert_raw {
    ($tx:ident, $run_id:expr, $pages:expr) => {{
        let mut raw_ids: HashMap<String, i64> = HashMap::with_capacity($pages.len());
        for chunk in $pages.chunks(ROWS_PER_STATEMENT / 10) {
            let mut insert = QueryBuilder::new(sql::INSERT_RAW);
            insert.push_values(chunk, |mut row, page| {
                row.push_bind($run_id)
                    .push_bind("elkassa")
                    .push_bind(crate::providers::elkassa::USERS_ENDPOINT)
                    .push_bind(page.request_key())
                    .push_bind(page.raw.fetched_at)
                    .push_bind(i32::from(page.raw.http_status))
                    .push_bind(page.raw.attempts as i32)
                    .push_bind(page.raw.sha256.as_str())
                    .push_bind(page.raw.size as i32)
                    .push_bind(page.raw.encoding)
                    .push_bind(page.raw.stored.as_slice());
            });
            insert.push(" RETURNING raw_id, request_key");
            let ids: Vec<(i64, String)> = insert
                .build_query_as()
                .fetch_all(&mut *$tx)
                .await
                .map_err(op("store raw bodies"))?;
            raw_ids.extend(ids.into_iter().map(|(id, key)| (key, id)));
        }
        raw_ids
    }};
}

/// Merges the staged rows into the warehouse; evaluates to history rows added.
macro_rules! merge_staged {
    ($tx:ident, $at:expr, $run_id:expr, $postgres:expr, $freeze:expr) => {{
        let run = |statement: &'static str| sqlx::query(statement).bind($at).bind($run_id);
        sqlx::query(sql::MERGE_CUSTOMERS)
            .bind($at)
            .execute(&mut *$tx)
            .await
            .map_err(op("merge customers"))?;
        if $freeze {
            sqlx::query(sql::FREEZE_BRANCHES)
                .execute(&mut *$tx)
                .await
                .map_err(op("freeze dropped branches"))?;
        }
        run(sql::MERGE_ACCOUNTS)
            .execute(&mut *$tx)
            .await
            .map_err(op("merge accounts"))?;
        let opened = if $postgres {
            run(sql::MERGE_CONTRACTS_WITH_HISTORY_POSTGRES)
                .execute(&mut *$tx)
                .await
                .map_err(op("merge contracts"))?
        } else {
            sqlx::query(sql::CLOSE_HISTORY)
                .bind($at)
                .execute(&mut *$tx)
                .await
                .map_err(op("close contract history"))?;
            let opened = run(sql::OPEN_HISTORY)
                .execute(&mut *$tx)
                .await
                .map_err(op("add contract history"))?;
            run(sql::MERGE_CONTRACTS)
                .execute(&mut *$tx)
                .await
                .map_err(op("merge contracts"))?;
            opened
        };
        run(sql::MERGE_BRANCHES)
            .execute(&mut *$tx)
            .await
            .map_err(op("merge branches"))?;
        opened.rows_affected()
    }};
}

/// Records the batch's pages (and their rejected entries) as committed.
macro_rules! write_checkpoints {
    ($tx:ident, $run_id:expr, $pages:expr, $raw_ids:expr, $at:expr) => {
        // A verification re-read can land a page twice in one batch: keep the last.
        let mut latest: HashMap<(u32, u32), &LandedPage> = HashMap::with_capacity($pages.len());
        for page in $pages {
            latest.insert((page.pass, page.page), page);
        }
        let checkpoints: Vec<&LandedPage> = latest.into_values().collect();
        for chunk in checkpoints.chunks(ROWS_PER_STATEMENT / 10) {
            let mut insert = QueryBuilder::new(sql::INSERT_CHECKPOINT);
            insert.push_values(chunk, |mut row, page| {
                row.push_bind($run_id)
                    .push_bind("elkassa")
                    .push_bind(page.pass as i32)
                    .push_bind(page.page as i32)
                    .push_bind(page.entries as i32)
                    .push_bind(
                        $raw_ids
                            .get(&page.request_key())
                            .copied()
                            .unwrap_or_default(),
                    )
                    .push_bind($at);
            });
            insert.push(sql::CHECKPOINT_CONFLICT);
            insert
                .build()
                .execute(&mut *$tx)
                .await
                .map_err(op("write checkpoint"))?;
        }
        for page in checkpoints.iter().filter(|page| page.pass == 0) {
            for issue in &page.issues {
                sqlx::query(sql::INSERT_ISSUE)
                    .bind($run_id)
                    .bind(page.request_key())
                    .bind(issue.position as i32)
                    .bind(issue.external_id.as_deref())
                    .bind(issue.severity)
                    .bind(issue.field)
                    .bind(&issue.message)
                    .execute(&mut *$tx)
                    .await
                    .map_err(op("record issue"))?;
            }
        }
    };
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
        let accounts = latest_per_account(pages);
        let listed = accounts.len() as u64;
        let split = split_unchanged(accounts, &self.known);
        let branches = branches_of(&split.changed);
        let mut stats = batch_stats(pages, listed, &split, &branches);
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
            let raw_ids = insert_raw!(tx, run_id, pages);
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
        let run_id = self.run_id;
        dual!(&mut self.conn, Conn, conn => SeenAccounts::refresh_seen(&mut **conn, run_id).await)
    }

    /// Postgres plans each merge from table statistics; during a first load
    /// they describe a nearly empty table and the planner scans whole tables
    /// per staged row. Re-analysing whenever the load has doubled keeps plans
    /// on the indexes at a logarithmic number of ANALYZEs per run.
    async fn refresh_statistics(&mut self) -> Result<(), WarehouseError> {
        const FIRST_AT: u64 = 5_000;
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
