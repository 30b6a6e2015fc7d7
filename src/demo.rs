//! `rekon demo`: the whole job on the embedded default, no server needed.

use crate::cli::{open_warehouse, print_sync_report};
use crate::config::Config;
use crate::onboard::inbox::run_inbox;
use crate::onboard::register::{OnboardOptions, Registrars};
use crate::onboard::report::print_tally;
use crate::onboard::Partner;
use crate::outcome::RunStatus;
use crate::report::ReportData;
use crate::sim::{Faults, SimConfig, SimServer, Simulator};
use crate::sync::{sync_all, SyncOptions};
use crate::warehouse::Warehouse;
use chrono::Utc;
use secrecy::SecretString;
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
        "simulated partners (ELKASSA with {users} users, MCP, middleware, QM) at {}",
        server.base_url()
    );
    let mut config = server.client_config();
    // The demo's own key: real deployments set onboard.identity_hash_key.
    config.onboard.identity_hash_key = Some(SecretString::from("rekon-demo-identity-key"));
    config.onboard.settle_secs = 0;
    let url = format!("sqlite://{}", database.display());
    let warehouse = open_warehouse(&config, Some(&url)).await?;
    let onboarded = onboard_sample(&warehouse, &config, database).await?;
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
    let reconciled = crate::reconcile::run_job(&warehouse, &config.reconcile, Utc::now()).await?;
    crate::cli::print_reconcile(&reconciled);
    let report_file = database.with_file_name("report.html");
    let data = ReportData::gather(&warehouse, Utc::now(), 50).await?;
    std::fs::write(&report_file, crate::report::html::render(&data))?;
    print_summary(&warehouse, database).await?;
    println!(
        "  morning report: open {} in a browser",
        report_file.display()
    );
    warehouse.close().await;
    server.stop().await;
    // The sample holds rejected rows on purpose; the demo's exit code is the
    // sync's, and the onboarding outcome is printed instead.
    println!(
        "sample drop: {} (its rejected rows are rejected on purpose)",
        onboarded.as_str()
    );
    Ok(report.status())
}

/// The sample drop shipped with rekon, built in so the demo runs from any folder.
const SAMPLE_DROP: &[u8] = include_bytes!("../data/samples/shops-sample.csv");

/// Drops the sample into an inbox beside the database and onboards it.
async fn onboard_sample(
    warehouse: &Warehouse,
    config: &Config,
    database: &Path,
) -> anyhow::Result<RunStatus> {
    let home = database.parent().unwrap_or(Path::new("."));
    let inbox = home.join("inbox");
    let archive = home.join("archive");
    std::fs::create_dir_all(&inbox)?;
    let drop = inbox.join("shops-sample.csv");
    std::fs::write(&drop, SAMPLE_DROP)?;
    println!("onboarding the sample drop {}", drop.display());
    let registrars = Registrars::new(config)?;
    let options = OnboardOptions {
        out_dir: None,
        archive_dir: None,
        default_partners: Partner::ALL.to_vec(),
        show_progress: true,
        job: "demo-onboard".to_owned(),
        shutdown: crate::shutdown::Shutdown::never(),
    };
    let report = run_inbox(warehouse, config, &registrars, &inbox, &archive, &options).await?;
    for (_, outcome) in &report.handled {
        print_tally("  shops-sample.csv", &outcome.reports.tally);
        println!(
            "  results in {}, rejects in {}",
            outcome.reports.results.display(),
            outcome.reports.rejects.display()
        );
    }
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
    let ledger = warehouse.ledger_states().await?;
    let runs = warehouse.count("sync_runs", "").await?;
    println!();
    println!("warehouse {}:", database.display());
    println!("  users     {users}");
    println!("  branches  {branches}");
    println!("  trials    {trials}");
    println!("  contract versions {history}");
    println!("  runs      {runs}");
    println!("  onboarding ledger:");
    for (provider, state, rows) in ledger {
        println!("    {provider:<10} {state:<18} {rows}");
    }
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
