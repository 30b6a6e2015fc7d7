//! Writing a first-load batch: its new accounts' rows go straight into the
//! target tables with binary `COPY` (no staging, no upsert, no join, and no
//! text for the server to parse), with the values the merge writes for an
//! account it has never seen; the batch's other accounts are merged.

use super::batch::{batch_stats, branches_of, latest_per_account};
use super::first_load::{CustomerRef, FirstLoad, Plan};
use super::raw_pages::RawPages;
use super::stage::{StagedBranches, Staging};
use super::{sql, BatchStats, Conn, ElkassaLoader, LandedPage, JOINED_TABLES, ROWS_PER_STATEMENT};
use crate::warehouse::copy::{copy_binary, reserve_ids, BinaryRows};
use crate::warehouse::{op, WarehouseError};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, QueryBuilder};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

const COPY_CUSTOMERS: &str =
    "COPY customers (customer_id, email, shop_name, created_at, updated_at) \
    FROM STDIN WITH (FORMAT binary)";

const COPY_ACCOUNTS: &str = "COPY provider_accounts (provider, external_id, customer_id, match_rule, \
    status, email, shop_name, address, user_type, user_type_desc, registered_at, first_seen_at, last_seen_at, \
    last_seen_run, merged_run, source_raw_id, source_digest) FROM STDIN WITH (FORMAT binary)";

const COPY_CONTRACTS: &str =
    "COPY contracts (provider, external_id, contract_id, packet_id, contract_notes, \
    is_trial, expires_at, status, updated_at, updated_run) FROM STDIN WITH (FORMAT binary)";

const COPY_HISTORY: &str = "COPY contract_history (provider, external_id, contract_id, packet_id, \
    contract_notes, is_trial, expires_at, status, valid_from, run_id) FROM STDIN WITH (FORMAT binary)";

const COPY_BRANCHES: &str = "COPY branch_records (registration_id, cabang_id, name, address, \
    first_seen_at, last_seen_at, last_seen_run) FROM STDIN WITH (FORMAT binary)";

/// The batch's new rows, their instants and run.
pub(super) struct NewRows<'p, 'a> {
    /// The batch's plan (its copied accounts and new customers).
    pub plan: &'p Plan<'a>,
    /// Ids of the plan's new customers, in order.
    pub customer_ids: &'p [i64],
    /// Branches of the copied accounts, each once.
    pub branches: &'p StagedBranches<'a>,
    /// Raw body id by request key.
    pub raw_ids: &'p HashMap<String, i64>,
    /// The batch instant.
    pub at: DateTime<Utc>,
    /// The run.
    pub run_id: i64,
}

impl NewRows<'_, '_> {
    /// Copies customers, accounts, contracts, their first history version
    /// and branches, in that order (accounts name their customer).
    pub async fn copy(&self, conn: &mut PgConnection) -> Result<(), WarehouseError> {
        if !self.plan.customers.is_empty() {
            copy_binary(conn, COPY_CUSTOMERS, self.customers(), "copy customers").await?;
        }
        if self.plan.copied.is_empty() {
            return Ok(());
        }
        copy_binary(conn, COPY_ACCOUNTS, self.accounts(), "copy accounts").await?;
        let contracts = self.contracts();
        copy_binary(conn, COPY_CONTRACTS, contracts.clone(), "copy contracts").await?;
        copy_binary(conn, COPY_HISTORY, contracts, "copy contract history").await?;
        if !self.branches.is_empty() {
            copy_binary(conn, COPY_BRANCHES, self.branch_rows(), "copy branches").await?;
        }
        Ok(())
    }

    fn customers(&self) -> BinaryRows {
        let customers = &self.plan.customers;
        let mut rows = BinaryRows::with_capacity(customers.len() * 96);
        for (customer, id) in customers.iter().zip(self.customer_ids) {
            rows.row(5);
            rows.int8(Some(*id));
            rows.text(Some(customer.email));
            rows.text(customer.shop_name);
            rows.instant(Some(self.at));
            rows.instant(Some(self.at));
        }
        rows
    }

    fn accounts(&self) -> BinaryRows {
        let mut rows = BinaryRows::with_capacity(self.plan.copied.len() * 320);
        for (staged, customer) in &self.plan.copied {
            let account = staged.row;
            let customer_id = match *customer {
                CustomerRef::None => None,
                CustomerRef::Known(id) => Some(id),
                CustomerRef::New(at) => Some(self.customer_ids[at]),
            };
            rows.row(17);
            rows.text(Some("elkassa"));
            rows.text(Some(&account.external_id));
            rows.int8(customer_id);
            rows.text(Some(if customer_id.is_some() {
                "email"
            } else {
                "new"
            }));
            for text in [
                &account.status,
                &account.email,
                &account.shop_name,
                &account.address,
                &account.user_type,
                &account.user_type_desc,
            ] {
                rows.text(text.as_deref());
            }
            rows.instant(account.registered_at);
            rows.instant(Some(self.at));
            rows.instant(Some(self.at));
            rows.int8(Some(self.run_id));
            rows.int8(Some(self.run_id));
            rows.int8(self.raw_ids.get(&staged.request_key).copied());
            rows.int8(Some(staged.digest));
        }
        rows
    }

    /// `contracts` and `contract_history` rows have the same shape here.
    fn contracts(&self) -> BinaryRows {
        let mut rows = BinaryRows::with_capacity(self.plan.copied.len() * 160);
        for (staged, _) in &self.plan.copied {
            let account = staged.row;
            rows.row(10);
            rows.text(Some("elkassa"));
            rows.text(Some(&account.external_id));
            rows.text(account.contract_id.as_deref());
            rows.text(account.packet_id.as_deref());
            rows.text(account.contract_notes.as_deref());
            rows.boolean(account.is_trial);
            rows.instant(account.expires_at);
            rows.text(account.status.as_deref());
            rows.instant(Some(self.at));
            rows.int8(Some(self.run_id));
        }
        rows
    }

    fn branch_rows(&self) -> BinaryRows {
        let mut rows = BinaryRows::with_capacity(self.branches.len() * 128);
        for (registration_id, branch) in self.branches {
            rows.row(7);
            rows.text(Some(registration_id));
            rows.text(Some(&branch.cabang_id));
            rows.text(branch.name.as_deref());
            rows.text(branch.address.as_deref());
            rows.instant(Some(self.at));
            rows.instant(Some(self.at));
            rows.int8(Some(self.run_id));
        }
        rows
    }
}

/// Whether the warehouse already holds ELKASSA rows (then a run merges).
const HOLDS_ELKASSA_ROWS: &str = "SELECT \
    EXISTS (SELECT 1 FROM provider_accounts WHERE provider = 'elkassa') \
    OR EXISTS (SELECT 1 FROM contracts WHERE provider = 'elkassa') \
    OR EXISTS (SELECT 1 FROM contract_history WHERE provider = 'elkassa') \
    OR EXISTS (SELECT 1 FROM branch_records)";

/// Customer ids a batch reserved and customers its merge created.
type Settled = (Vec<i64>, Vec<(i64, String)>);

impl ElkassaLoader {
    /// The run's first-load state, when the warehouse is Postgres and holds
    /// no ELKASSA row at all.
    pub(super) async fn start_first_load(&mut self) -> Result<Option<FirstLoad>, WarehouseError> {
        let Conn::Postgres(conn) = &mut self.conn else {
            return Ok(None);
        };
        let held: bool = sqlx::query_scalar(HOLDS_ELKASSA_ROWS)
            .fetch_one(&mut **conn)
            .await
            .map_err(op("look for ELKASSA rows"))?;
        if held {
            return Ok(None);
        }
        tracing::info!(
            provider = "elkassa",
            "first load: new accounts are copied straight into the warehouse"
        );
        FirstLoad::start(conn).await.map(Some)
    }

    /// A first-load batch: its new accounts copied, the others merged, in
    /// one transaction with its raw bodies and checkpoints. A batch whose
    /// copy meets a key written outside the run's plan is written again, all
    /// merged (its accounts are claimed by then).
    pub(super) async fn write_first_load_batch(
        &mut self,
        first_load: &FirstLoad,
        pages: &[LandedPage],
        at: DateTime<Utc>,
    ) -> Result<BatchStats, WarehouseError> {
        let stats = match self.first_load_attempt(first_load, pages, at).await {
            Err(err) if err.is_key_conflict() => {
                tracing::debug!(%err, "first-load copy met an existing key; merging the batch");
                self.first_load_attempt(first_load, pages, at).await?
            }
            other => other?,
        };
        self.progress
            .merged
            .fetch_add(stats.accounts, Ordering::Relaxed);
        Ok(stats)
    }

    async fn first_load_attempt(
        &mut self,
        first_load: &FirstLoad,
        pages: &[LandedPage],
        at: DateTime<Utc>,
    ) -> Result<BatchStats, WarehouseError> {
        let accounts = latest_per_account(pages);
        let listed = accounts.len() as u64;
        let plan = first_load.plan(accounts);
        let copied = branches_of(plan.copied.iter().map(|(account, _)| account));
        let merged = branches_of(&plan.merged);
        let mut stats = batch_stats(pages, listed, &[], copied.len() + merged.len());
        let branches = [copied.as_slice(), merged.as_slice()];
        match self
            .first_load_transaction(&plan, branches, pages, at, &mut stats)
            .await
        {
            Ok((ids, learned)) => {
                first_load.settle(&plan, Some(&ids), &learned);
                Ok(stats)
            }
            Err(err) => {
                first_load.settle(&plan, None, &[]);
                Err(err)
            }
        }
    }

    /// `branches`: those of the copied accounts, then of the merged ones.
    async fn first_load_transaction(
        &mut self,
        plan: &Plan<'_>,
        branches: [&StagedBranches<'_>; 2],
        pages: &[LandedPage],
        at: DateTime<Utc>,
        stats: &mut BatchStats,
    ) -> Result<Settled, WarehouseError> {
        let run_id = self.run_id;
        let merges = !plan.merged.is_empty();
        let clear = merges && self.staging_used;
        let Conn::Postgres(conn) = &mut self.conn else {
            unreachable!("a first load is started on Postgres only");
        };
        let mut tx = sqlx::Connection::begin(&mut **conn)
            .await
            .map_err(op("begin batch"))?;
        if clear {
            sqlx::query("TRUNCATE stage_accounts, stage_branches")
                .execute(&mut *tx)
                .await
                .map_err(op("clear staging"))?;
        }
        let mut lap = Instant::now();
        let raw_ids = RawPages::store_raw(&mut *tx, run_id, pages).await?;
        stats.phases.raw = lap.elapsed();
        lap = Instant::now();
        let count = plan.customers.len();
        let ids = reserve_ids(
            &mut tx,
            "customers",
            "customer_id",
            count,
            "reserve customer ids",
        )
        .await?;
        let rows = NewRows {
            plan,
            customer_ids: &ids,
            branches: branches[0],
            raw_ids: &raw_ids,
            at,
            run_id,
        };
        rows.copy(&mut tx).await?;
        stats.history_rows = plan.copied.len() as u64;
        stats.copied_accounts = plan.copied.len() as u64;
        let mut learned = Vec::new();
        if merges {
            Staging::stage(&mut *tx, &plan.merged, branches[1], &raw_ids).await?;
            learned = sqlx::query_as(sql::MERGE_CUSTOMERS_RETURNING)
                .bind(at)
                .fetch_all(&mut *tx)
                .await
                .map_err(op("merge customers"))?;
            stats.history_rows += merge_staged_accounts!(tx, at, run_id, true, false);
        }
        stats.phases.merge = lap.elapsed();
        lap = Instant::now();
        write_checkpoints!(tx, run_id, pages, raw_ids, at);
        tx.commit().await.map_err(op("commit batch"))?;
        stats.phases.commit = lap.elapsed();
        self.staging_used |= merges;
        Ok((ids, learned))
    }

    /// Once per first load (by whichever loader ends first): statistics of
    /// the tables the next night's merges join against (the others they
    /// only probe by key): 0.3 s at 100,000 accounts, where all five
    /// tables took 0.5 s.
    pub(super) async fn analyze_first_load(
        &mut self,
        first_load: &FirstLoad,
    ) -> Result<(), WarehouseError> {
        if first_load.analyzed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        if let Conn::Postgres(conn) = &mut self.conn {
            sqlx::query(&format!("ANALYZE {JOINED_TABLES}"))
                .execute(&mut **conn)
                .await
                .map_err(op("analyze loaded tables"))?;
        }
        Ok(())
    }
}
