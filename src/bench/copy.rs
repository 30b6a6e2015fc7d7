//! Baselines for `bench sync`: the client alone, and the database alone.

use super::{print_rates, RunStatus};
use crate::config::Config;
use crate::sync::read_listing_once;
use crate::warehouse::{LandedPage, Warehouse};
use anyhow::Context;
use std::time::Instant;
use tokio::sync::mpsc;

/// Fetch and parse the whole listing, discarding the rows.
pub async fn fetch_only(config: &Config) -> anyhow::Result<RunStatus> {
    let elkassa = config
        .elkassa
        .as_ref()
        .context("the bench configures ELKASSA")?;
    let (sink, mut pages) = mpsc::channel::<LandedPage>(256);
    let drain = tokio::spawn(async move {
        let mut accounts = 0u64;
        while let Some(page) = pages.recv().await {
            accounts += page.accounts.len() as u64;
        }
        accounts
    });
    let started = Instant::now();
    let (pages, _entries) = read_listing_once(elkassa, &config.sync, sink).await?;
    let accounts = drain.await?;
    println!("fetch only:");
    print_rates(started.elapsed(), accounts, pages, 0, "");
    Ok(RunStatus::Succeeded)
}

/// Fetch the listing into memory (not timed), then time a Postgres `COPY` of
/// the same account, contract and branch rows into bare copies of the tables.
pub async fn copy_only(warehouse: &Warehouse, config: &Config) -> anyhow::Result<RunStatus> {
    let Warehouse::Postgres(pool) = warehouse else {
        anyhow::bail!("--mode copy-only needs a postgres:// --database-url");
    };
    let elkassa = config
        .elkassa
        .as_ref()
        .context("the bench configures ELKASSA")?;
    let (sink, mut pages) = mpsc::channel::<LandedPage>(256);
    let collect = tokio::spawn(async move {
        let mut tables = CopyTables::default();
        while let Some(page) = pages.recv().await {
            tables.add(&page);
        }
        tables
    });
    read_listing_once(elkassa, &config.sync, sink).await?;
    let tables = collect.await?;
    let mut conn = pool.acquire().await?;
    for ddl in [
        "CREATE TEMP TABLE copy_accounts (LIKE rekon.provider_accounts INCLUDING ALL)",
        "CREATE TEMP TABLE copy_contracts (LIKE rekon.contracts INCLUDING ALL)",
        "CREATE TEMP TABLE copy_branches (LIKE rekon.branch_records INCLUDING ALL)",
    ] {
        sqlx::query(ddl).execute(&mut *conn).await?;
    }
    let started = Instant::now();
    let mut rows = 0u64;
    for (table, columns, csv) in tables.statements() {
        let mut copy = conn
            .copy_in_raw(&format!(
                "COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)"
            ))
            .await?;
        copy.send(csv.as_bytes()).await?;
        rows += copy.finish().await?;
    }
    println!("COPY only (accounts, contracts, branches):");
    print_rates(
        started.elapsed(),
        tables.accounts,
        0,
        rows,
        "accounts, contracts, branches",
    );
    Ok(RunStatus::Succeeded)
}

/// CSV text of the rows a sync writes, built in memory.
#[derive(Default)]
struct CopyTables {
    accounts: u64,
    account_csv: String,
    contract_csv: String,
    branch_csv: String,
    seen: std::collections::HashSet<String>,
}

impl CopyTables {
    fn add(&mut self, page: &LandedPage) {
        let now = page.raw.fetched_at.to_rfc3339();
        for account in &page.accounts {
            if !self.seen.insert(account.external_id.clone()) {
                continue;
            }
            self.accounts += 1;
            let id = csv_field(Some(&account.external_id));
            let registered = account.registered_at.map(|at| at.to_rfc3339());
            let expires = account.expires_at.map(|at| at.to_rfc3339());
            self.account_csv += &format!(
                "elkassa,{id},{},{},{},{},{},{},{now},{now},0\n",
                csv_field(account.status.as_deref()),
                csv_field(account.email.as_deref()),
                csv_field(account.shop_name.as_deref()),
                csv_field(account.address.as_deref()),
                csv_field(account.user_type.as_deref()),
                csv_field(registered.as_deref()),
            );
            self.contract_csv += &format!(
                "elkassa,{id},{},{},{},{},{},{},{now},0\n",
                csv_field(account.contract_id.as_deref()),
                csv_field(account.packet_id.as_deref()),
                csv_field(account.contract_notes.as_deref()),
                account.is_trial,
                csv_field(expires.as_deref()),
                csv_field(account.status.as_deref()),
            );
            for branch in &account.branches {
                self.branch_csv += &format!(
                    "{id},{},{},{},{now},{now},0\n",
                    csv_field(Some(&branch.cabang_id)),
                    csv_field(branch.name.as_deref()),
                    csv_field(branch.address.as_deref()),
                );
            }
        }
    }

    fn statements(&self) -> [(&'static str, &'static str, &str); 3] {
        [
            (
                "copy_accounts",
                "provider, external_id, status, email, shop_name, address, user_type, registered_at, first_seen_at, last_seen_at, last_seen_run",
                &self.account_csv,
            ),
            (
                "copy_contracts",
                "provider, external_id, contract_id, packet_id, contract_notes, is_trial, expires_at, status, updated_at, updated_run",
                &self.contract_csv,
            ),
            (
                "copy_branches",
                "registration_id, cabang_id, name, address, first_seen_at, last_seen_at, last_seen_run",
                &self.branch_csv,
            ),
        ]
    }
}

fn csv_field(value: Option<&str>) -> String {
    match value {
        None => String::new(),
        Some(text) => format!("\"{}\"", text.replace('"', "\"\"")),
    }
}
