//! `rekon demo`: the whole job on the embedded default, no server needed.

use crate::cli::{open_warehouse, print_sync_report};
use crate::config::{Config, ElkassaConfig};
use crate::outcome::RunStatus;
use crate::sim::{Faults, SimConfig, SimServer, Simulator};
use crate::sync::{sync_all, SyncOptions};
use crate::warehouse::Warehouse;
use std::path::Path;

/// Starts a simulator on a free port (with a few injected faults, so retries
/// show), syncs it into the SQLite file at `database`, and prints a summary.
pub async fn run_demo(database: &Path, users: u32, seed: u64) -> anyhow::Result<RunStatus> {
    let faults = Faults {
        error_rate: 0.01,
        drop_rate: 0.005,
        ..Faults::default()
    };
    let sim = Simulator::new(SimConfig {
        faults,
        ..SimConfig::new(users, seed)
    });
    let server = SimServer::start(sim).await?;
    println!(
        "simulated ELKASSA with {users} users at {}",
        server.base_url()
    );
    let elkassa = ElkassaConfig {
        retry_base_ms: 20,
        ..ElkassaConfig::new(server.base_url(), server.sim().key(), server.sim().token())
    };
    let config = Config {
        elkassa: Some(elkassa),
        ..Config::default()
    };
    let url = format!("sqlite://{}", database.display());
    let warehouse = open_warehouse(&config, Some(&url)).await?;
    let report = sync_all(
        &warehouse,
        &config,
        &SyncOptions {
            job: "demo".to_owned(),
            show_progress: true,
            ..SyncOptions::default()
        },
    )
    .await?;
    print_sync_report(&report);
    print_summary(&warehouse, database).await?;
    warehouse.close().await;
    server.stop().await;
    Ok(report.status())
}

async fn print_summary(warehouse: &Warehouse, database: &Path) -> anyhow::Result<()> {
    let users = warehouse
        .count(
            "provider_accounts",
            "WHERE provider = 'elkassa' AND removed_at IS NULL",
        )
        .await?;
    let branches = warehouse
        .count("branches", "WHERE removed_at IS NULL")
        .await?;
    let trials = warehouse
        .count(
            "contracts",
            "WHERE provider = 'elkassa' AND is_trial = true",
        )
        .await?;
    let history = warehouse.count("contract_history", "").await?;
    let runs = warehouse.count("sync_runs", "").await?;
    println!();
    println!("warehouse {}:", database.display());
    println!("  users     {users}");
    println!("  branches  {branches}");
    println!("  trials    {trials}");
    println!("  contract versions {history}");
    println!("  runs      {runs}");
    println!();
    println!("look further with:");
    println!(
        "  sqlite3 {} \"SELECT a.shop_name, a.email, c.expires_at FROM contracts c",
        database.display()
    );
    println!("     JOIN provider_accounts a USING (provider, external_id)");
    println!("     WHERE c.is_trial AND c.expires_at > strftime('%Y-%m-%dT%H:%M:%S','now') ORDER BY c.expires_at LIMIT 10\"");
    println!(
        "  cargo run -- runs --database-url sqlite://{}",
        database.display()
    );
    Ok(())
}
