//! Loading ELKASSA listing pages: one transaction per batch of pages holding
//! the raw bodies, the merged business rows and the checkpoint together.
//!
//! Rows go to per-connection temp tables first, then set-based statements
//! merge them, so a batch costs a handful of round trips however many users
//! it holds. Contract history is written only where a value changed, which
//! keeps a rerun over unchanged data free of new history rows.

mod sql;

use super::{dual, op, raw::compress_body, Backend, Warehouse, WarehouseError};
use crate::providers::http::Fetched;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::pool::PoolConnection;
use sqlx::{Postgres, QueryBuilder, Sqlite};
use std::collections::HashMap;

/// One ELKASSA account with its current contract, ready to merge.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountRow {
    /// `registration_id`.
    pub external_id: String,
    /// Email as listed.
    pub email: Option<String>,
    /// Email trimmed and lower-cased: the customer match key.
    pub email_norm: Option<String>,
    /// Shop name.
    pub shop_name: Option<String>,
    /// Shop address.
    pub address: Option<String>,
    /// User type code.
    pub user_type: Option<String>,
    /// User type description (first `user_type_desc`).
    pub user_type_desc: Option<String>,
    /// Account status (last `user_type_desc`).
    pub status: Option<String>,
    /// Registration instant.
    pub registered_at: Option<DateTime<Utc>>,
    /// Contract id.
    pub contract_id: Option<String>,
    /// Packet id, when listed.
    pub packet_id: Option<String>,
    /// Packet name as the partner writes it.
    pub contract_notes: Option<String>,
    /// Whether the contract is a trial.
    pub is_trial: bool,
    /// Contract end.
    pub expires_at: Option<DateTime<Utc>>,
    /// The shop's branches.
    pub branches: Vec<BranchRow>,
}

/// One ELKASSA branch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BranchRow {
    /// Branch id.
    pub cabang_id: String,
    /// Branch name.
    pub name: Option<String>,
    /// Branch address.
    pub address: Option<String>,
}

/// A listing entry that was rejected, or loaded with a field left empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordIssue {
    /// Position in the page, from 0.
    pub position: u32,
    /// Partner id, when the entry had one.
    pub external_id: Option<String>,
    /// `rejected` or `warning`.
    pub severity: &'static str,
    /// Field at fault.
    pub field: Option<&'static str>,
    /// What was wrong.
    pub message: String,
}

/// A fetched listing page with its normalized rows.
#[derive(Debug, Clone)]
pub struct LandedPage {
    /// 0 for the first read, 1.. for drift-repair re-reads.
    pub pass: u32,
    /// Page number.
    pub page: u32,
    /// The body as received.
    pub fetched: Fetched,
    /// Entries the page held, duplicates and rejects included.
    pub entries: u32,
    /// Usable accounts.
    pub accounts: Vec<AccountRow>,
    /// Entries with problems.
    pub issues: Vec<RecordIssue>,
}

impl LandedPage {
    /// `raw_responses.request_key` of this page.
    pub fn request_key(&self) -> String {
        format!("p{}:{}", self.pass, self.page)
    }
}

/// What one batch wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Distinct accounts merged.
    pub accounts: u64,
    /// Distinct branches merged.
    pub branches: u64,
    /// Contract versions added.
    pub history_rows: u64,
    /// Bytes of raw bodies as received.
    pub raw_bytes: u64,
    /// Bytes of raw bodies as stored.
    pub stored_bytes: u64,
}

/// What the removal sweep marked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepStats {
    /// Accounts newly marked removed.
    pub accounts_removed: u64,
    /// Branches newly marked removed.
    pub branches_removed: u64,
}

enum Conn {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

/// Writes ELKASSA batches over one dedicated connection (temp tables are per connection).
pub struct ElkassaLoader {
    conn: Conn,
    run_id: i64,
}

/// Rows per multi-row INSERT: stays under SQLite's 32,766 bound parameters.
const ROWS_PER_STATEMENT: usize = 1_000;

impl Warehouse {
    /// A loader for one run, holding its own connection.
    pub async fn elkassa_loader(&self, run_id: i64) -> Result<ElkassaLoader, WarehouseError> {
        let conn = match self {
            Warehouse::Sqlite(pool) => {
                Conn::Sqlite(pool.acquire().await.map_err(op("acquire connection"))?)
            }
            Warehouse::Postgres(pool) => {
                Conn::Postgres(pool.acquire().await.map_err(op("acquire connection"))?)
            }
        };
        let mut loader = ElkassaLoader { conn, run_id };
        loader.create_staging().await?;
        Ok(loader)
    }

    /// Upserts the packet catalogue (reference data).
    pub async fn upsert_packets(
        &self,
        packets: &[PacketRow],
        at: DateTime<Utc>,
    ) -> Result<(), WarehouseError> {
        dual!(self, Warehouse, pool => {
            let mut tx = pool.begin().await.map_err(op("begin"))?;
            for packet in packets {
                sqlx::query(sql::UPSERT_PACKET)
                    .bind(&packet.packet_id)
                    .bind(packet.packet_code.as_deref())
                    .bind(packet.packet_desc.as_deref())
                    .bind(packet.duration_days)
                    .bind(packet.is_trial)
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err(op("upsert packet"))?;
            }
            tx.commit().await.map_err(op("commit packets"))
        })
    }

    /// Marks accounts and branches a complete listing of `run_id` did not contain.
    pub async fn sweep_elkassa(
        &self,
        run_id: i64,
        at: DateTime<Utc>,
    ) -> Result<SweepStats, WarehouseError> {
        dual!(self, Warehouse, pool => {
            let mut tx = pool.begin().await.map_err(op("begin sweep"))?;
            let accounts = sqlx::query(sql::SWEEP_ACCOUNTS).bind(at).bind(run_id).execute(&mut *tx).await.map_err(op("sweep accounts"))?;
            let branches = sqlx::query(sql::SWEEP_BRANCHES).bind(at).bind(run_id).execute(&mut *tx).await.map_err(op("sweep branches"))?;
            tx.commit().await.map_err(op("commit sweep"))?;
            Ok(SweepStats { accounts_removed: accounts.rows_affected(), branches_removed: branches.rows_affected() })
        })
    }

    /// Distinct ELKASSA accounts and branches a run saw.
    pub async fn elkassa_seen_by(&self, run_id: i64) -> Result<(i64, i64), WarehouseError> {
        dual!(self, Warehouse, pool => {
            let accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM provider_accounts WHERE provider = 'elkassa' AND last_seen_run = $1")
                .bind(run_id).fetch_one(pool).await.map_err(op("count accounts"))?;
            let branches: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM branches WHERE last_seen_run = $1")
                .bind(run_id).fetch_one(pool).await.map_err(op("count branches"))?;
            Ok((accounts, branches))
        })
    }
}

/// A packet of the reference data, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketRow {
    /// Packet id.
    pub packet_id: String,
    /// Packet code.
    pub packet_code: Option<String>,
    /// Packet name.
    pub packet_desc: Option<String>,
    /// Derived length in days.
    pub duration_days: Option<i32>,
    /// Whether it is a trial packet.
    pub is_trial: bool,
}

impl ElkassaLoader {
    async fn create_staging(&mut self) -> Result<(), WarehouseError> {
        let (accounts, branches) = match self.conn {
            Conn::Sqlite(_) => (sql::STAGE_ACCOUNTS_SQLITE, sql::STAGE_BRANCHES_SQLITE),
            Conn::Postgres(_) => (sql::STAGE_ACCOUNTS_POSTGRES, sql::STAGE_BRANCHES_POSTGRES),
        };
        dual!(&mut self.conn, Conn, conn => {
            sqlx::query(accounts).execute(&mut **conn).await.map_err(op("create staging"))?;
            sqlx::query(branches).execute(&mut **conn).await.map_err(op("create staging"))?;
        });
        Ok(())
    }

    /// Writes a batch of pages atomically: raw bodies, merged rows, checkpoint.
    pub async fn write_batch(
        &mut self,
        pages: &[LandedPage],
        at: DateTime<Utc>,
    ) -> Result<BatchStats, WarehouseError> {
        let accounts = latest_per_account(pages);
        let branches = branches_of(&accounts);
        let run_id = self.run_id;
        let mut stats = BatchStats {
            accounts: accounts.len() as u64,
            branches: branches.len() as u64,
            ..BatchStats::default()
        };
        let stored: Vec<StoredBody> = pages.iter().map(StoredBody::of).collect();
        stats.raw_bytes = stored.iter().map(|body| body.size as u64).sum();
        stats.stored_bytes = stored.iter().map(|body| body.compressed.len() as u64).sum();
        dual!(&mut self.conn, Conn, conn => {
            let mut tx = sqlx::Connection::begin(&mut **conn).await.map_err(op("begin batch"))?;
            sqlx::query("DELETE FROM stage_accounts").execute(&mut *tx).await.map_err(op("clear staging"))?;
            sqlx::query("DELETE FROM stage_branches").execute(&mut *tx).await.map_err(op("clear staging"))?;
            let mut raw_ids = HashMap::with_capacity(pages.len());
            for (page, body) in pages.iter().zip(&stored) {
                let raw_id: i64 = sqlx::query_scalar(sql::INSERT_RAW)
                    .bind(run_id)
                    .bind(crate::providers::elkassa::USERS_ENDPOINT)
                    .bind(page.request_key())
                    .bind(page.fetched.fetched_at)
                    .bind(i32::from(page.fetched.http_status))
                    .bind(page.fetched.attempts as i32)
                    .bind(&body.sha256)
                    .bind(body.size as i32)
                    .bind(&body.compressed)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(op("store raw body"))?;
                raw_ids.insert((page.pass, page.page), raw_id);
            }
            for chunk in accounts.chunks(ROWS_PER_STATEMENT) {
                let mut insert = QueryBuilder::new(sql::STAGE_ACCOUNTS_INSERT);
                insert.push_values(chunk, |mut row, (key, account)| {
                    row.push_bind(account.external_id.as_str())
                        .push_bind(account.email.as_deref())
                        .push_bind(account.email_norm.as_deref())
                        .push_bind(account.shop_name.as_deref())
                        .push_bind(account.address.as_deref())
                        .push_bind(account.user_type.as_deref())
                        .push_bind(account.user_type_desc.as_deref())
                        .push_bind(account.status.as_deref())
                        .push_bind(account.registered_at)
                        .push_bind(account.contract_id.as_deref())
                        .push_bind(account.packet_id.as_deref())
                        .push_bind(account.contract_notes.as_deref())
                        .push_bind(account.is_trial)
                        .push_bind(account.expires_at)
                        .push_bind(raw_ids.get(key).copied());
                });
                insert.build().execute(&mut *tx).await.map_err(op("stage accounts"))?;
            }
            for chunk in branches.chunks(ROWS_PER_STATEMENT) {
                let mut insert = QueryBuilder::new(sql::STAGE_BRANCHES_INSERT);
                insert.push_values(chunk, |mut row, (registration_id, branch)| {
                    row.push_bind(*registration_id)
                        .push_bind(branch.cabang_id.as_str())
                        .push_bind(branch.name.as_deref())
                        .push_bind(branch.address.as_deref());
                });
                insert.build().execute(&mut *tx).await.map_err(op("stage branches"))?;
            }
            sqlx::query(sql::MERGE_CUSTOMERS).bind(at).execute(&mut *tx).await.map_err(op("merge customers"))?;
            sqlx::query(sql::MERGE_ACCOUNTS).bind(at).bind(run_id).execute(&mut *tx).await.map_err(op("merge accounts"))?;
            sqlx::query(sql::CLOSE_HISTORY).bind(at).execute(&mut *tx).await.map_err(op("close contract history"))?;
            stats.history_rows = sqlx::query(sql::OPEN_HISTORY).bind(at).bind(run_id).execute(&mut *tx).await.map_err(op("add contract history"))?.rows_affected();
            sqlx::query(sql::MERGE_CONTRACTS).bind(at).bind(run_id).execute(&mut *tx).await.map_err(op("merge contracts"))?;
            sqlx::query(sql::MERGE_BRANCHES).bind(at).bind(run_id).execute(&mut *tx).await.map_err(op("merge branches"))?;
            for page in pages {
                let raw_id = raw_ids[&(page.pass, page.page)];
                sqlx::query(sql::INSERT_CHECKPOINT)
                    .bind(run_id)
                    .bind(page.pass as i32)
                    .bind(page.page as i32)
                    .bind(page.entries as i32)
                    .bind(raw_id)
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err(op("write checkpoint"))?;
                for issue in &page.issues {
                    sqlx::query(sql::INSERT_ISSUE)
                        .bind(run_id)
                        .bind(page.request_key())
                        .bind(issue.position as i32)
                        .bind(issue.external_id.as_deref())
                        .bind(issue.severity)
                        .bind(issue.field)
                        .bind(&issue.message)
                        .execute(&mut *tx)
                        .await
                        .map_err(op("record issue"))?;
                }
            }
            tx.commit().await.map_err(op("commit batch"))?;
        });
        Ok(stats)
    }

    /// Which backend this loader writes to.
    pub fn backend(&self) -> Backend {
        match self.conn {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }
}

/// A body as it is stored.
struct StoredBody {
    sha256: String,
    size: usize,
    compressed: Vec<u8>,
}

impl StoredBody {
    fn of(page: &LandedPage) -> Self {
        let body = &page.fetched.body;
        let sha256 = Sha256::digest(body)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Self {
            sha256,
            size: body.len(),
            compressed: compress_body(body),
        }
    }
}

/// Each account once per batch (the listing repeats some), the latest page winning.
fn latest_per_account(pages: &[LandedPage]) -> Vec<((u32, u32), &AccountRow)> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut out: Vec<((u32, u32), &AccountRow)> = Vec::new();
    for page in pages {
        for account in &page.accounts {
            let entry = ((page.pass, page.page), account);
            match index.get(account.external_id.as_str()) {
                Some(&at) => out[at] = entry,
                None => {
                    index.insert(&account.external_id, out.len());
                    out.push(entry);
                }
            }
        }
    }
    out
}

/// Each branch once per batch.
fn branches_of<'a>(accounts: &[((u32, u32), &'a AccountRow)]) -> Vec<(&'a str, &'a BranchRow)> {
    let mut seen = std::collections::HashSet::new();
    accounts
        .iter()
        .flat_map(|(_, account)| {
            account
                .branches
                .iter()
                .map(move |branch| (account.external_id.as_str(), branch))
        })
        .filter(|(registration_id, branch)| {
            seen.insert((*registration_id, branch.cabang_id.as_str()))
        })
        .collect()
}
