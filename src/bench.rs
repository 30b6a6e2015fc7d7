//! `rekon bench`: throughput and peak memory, printed as figures.
//!
//! The simulator runs on its own thread and runtime, as a separate partner
//! process would, so the figures measure rekon's client and warehouse work.

mod copy;
mod onboard;
mod reconcile;

use crate::config::{Config, ElkassaConfig, SyncConfig};
use crate::outcome::RunStatus;
use crate::sim::{SimConfig, Simulator};
use crate::sync::{sync_all, SyncOptions};
use crate::telemetry::peak_memory;
use crate::warehouse::{redact_url, Warehouse};
use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use std::time::{Duration, Instant};

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Simulator + sync into a fresh database: users/s, pages/s, rows/s, peak memory.
    Sync(BenchSyncArgs),
    /// Validation throughput of a generated drop, and registration throughput at a rate limit.
    Onboard(onboard::BenchOnboardArgs),
    /// A synthetic warehouse of N customers over four partners, then reconcile: time per phase, peak memory.
    Reconcile(reconcile::BenchReconcileArgs),
}

/// What `bench sync` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchMode {
    /// The real sync: fetch, parse, land raw, merge, verify, sweep (then, after an untimed VACUUM ANALYZE, a second over the unchanged listing).
    Full,
    /// Fetch and parse every page, write nothing (the client's ceiling).
    FetchOnly,
    /// Postgres COPY of the same rows into bare copies of the tables (the database's floor).
    CopyOnly,
}

/// Options of `bench sync`.
#[derive(Debug, Args)]
pub struct BenchSyncArgs {
    /// Users in the simulated population.
    #[arg(long, default_value_t = 100_000)]
    pub users: u32,
    /// Seed of the population.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Listing pages in flight.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Pages per warehouse transaction.
    #[arg(long, default_value_t = 500)]
    pub batch_pages: usize,
    /// Parallel writer connections (Postgres).
    #[arg(long, default_value_t = 2)]
    pub writers: usize,
    /// What to measure.
    #[arg(long, value_enum, default_value = "full")]
    pub mode: BenchMode,
    /// Keep the benchmark database instead of dropping it.
    #[arg(long)]
    pub keep: bool,
}

/// Runs a benchmark against `database_url` (a server URL for Postgres: a
/// fresh database is created on it; SQLite or none: a temporary file).
pub async fn run_bench(
    command: BenchCommand,
    database_url: Option<&str>,
) -> anyhow::Result<RunStatus> {
    let args = match command {
        BenchCommand::Sync(args) => args,
        BenchCommand::Onboard(args) => return onboard::bench_onboard(args).await,
        BenchCommand::Reconcile(args) => return reconcile::run(args, database_url).await,
    };
    let partner = SimThread::start(args.users, args.seed)?;
    let elkassa = ElkassaConfig::new(partner.base_url.clone(), "sim-key", "sim-token");
    let sync = SyncConfig {
        concurrency: args.concurrency,
        batch_pages: args.batch_pages,
        writers: args.writers,
        ..SyncConfig::default()
    };
    let config = Config {
        elkassa: Some(elkassa),
        sync,
        ..Config::default()
    };
    println!(
        "bench sync: {} users, mode {:?}, concurrency {}, batch {} pages, {} writer(s)",
        args.users, args.mode, args.concurrency, args.batch_pages, args.writers
    );
    let status = match args.mode {
        BenchMode::FetchOnly => copy::fetch_only(&config).await?,
        BenchMode::Full | BenchMode::CopyOnly => {
            let target = BenchDatabase::create(database_url).await?;
            println!("database: {}", redact_url(&target.url));
            let warehouse =
                Warehouse::connect(&target.url, (args.writers as u32 + 2).max(4)).await?;
            warehouse.migrate().await?;
            let status = if args.mode == BenchMode::Full {
                full(&warehouse, &config).await?
            } else {
                copy::copy_only(&warehouse, &config).await?
            };
            warehouse.close().await;
            target.finish(args.keep).await?;
            status
        }
    };
    println!(
        "peak memory (VmHWM, whole process incl. simulator): {}",
        peak_memory()
    );
    partner.stop();
    Ok(status)
}

async fn full(warehouse: &Warehouse, config: &Config) -> anyhow::Result<RunStatus> {
    let options = SyncOptions {
        job: "bench".to_owned(),
        show_progress: false,
        ..SyncOptions::default()
    };
    let mut status = RunStatus::Succeeded;
    for (run, label) in [
        "first sync (empty warehouse)",
        "second sync (nothing changed)",
    ]
    .into_iter()
    .enumerate()
    {
        if run > 0 {
            settle(warehouse, "maintenance between nightly runs").await?;
        }
        let started = Instant::now();
        let report = sync_all(warehouse, config, &options).await?;
        let elapsed = started.elapsed();
        let partner = report
            .partners
            .first()
            .context("the bench configures ELKASSA")?;
        let counts = &partner.summary.counts["elkassa"];
        let number = |key: &str| counts[key].as_u64().unwrap_or_default();
        let accounts = partner.summary.records_loaded;
        let rows = accounts * 3 + number("history_rows") + number("branches") + number("pages") * 2;
        println!("{label}: {}", partner.summary.status.as_str());
        print_rates(
            elapsed,
            accounts,
            number("pages"),
            rows,
            "accounts, customers, contracts, history, branches, raw, checkpoints",
        );
        println!(
            "  raw bodies: {} received, {} stored ({:.1}x)",
            mib(number("raw_bytes")),
            mib(number("stored_bytes")),
            number("raw_bytes") as f64 / number("stored_bytes").max(1) as f64
        );
        println!(
            "  listed as stored: {} accounts (last_seen refreshed), {} branches (not written)",
            number("accounts_unchanged"),
            number("branches_unchanged")
        );
        if number("accounts_copied") > 0 {
            println!(
                "  first load: {} new accounts copied straight into the tables",
                number("accounts_copied")
            );
        }
        let phases = &counts["writer_seconds"];
        println!(
            "  writer time: raw {:.2} s, refresh unchanged {:.2} s, stage {:.2} s, merge {:.2} s, checkpoint+commit {:.2} s, analyze {:.2} s",
            phases["raw"].as_f64().unwrap_or_default(),
            phases["refresh"].as_f64().unwrap_or_default(),
            phases["stage"].as_f64().unwrap_or_default(),
            phases["merge"].as_f64().unwrap_or_default(),
            phases["commit"].as_f64().unwrap_or_default(),
            phases["analyze"].as_f64().unwrap_or_default()
        );
        status = status.worst(report.status());
    }
    Ok(status)
}

/// Between two nightly runs autovacuum (or a maintenance job) has a day to
/// vacuum and analyse after the first; the next run should start from that
/// state, not from a bulk load's leftovers (unset hint bits, no statistics,
/// autovacuum waking up mid-measurement). Done now, untimed; `why` says
/// which wait it stands for.
async fn settle(warehouse: &Warehouse, why: &str) -> anyhow::Result<()> {
    let Warehouse::Postgres(pool) = warehouse else {
        return Ok(());
    };
    let started = Instant::now();
    sqlx::query("VACUUM (ANALYZE)").execute(pool).await?;
    println!(
        "settled: VACUUM (ANALYZE) in {:.2} s, untimed ({why})",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Prints the standard rate lines.
fn print_rates(elapsed: Duration, users: u64, pages: u64, rows: u64, what: &str) {
    let secs = elapsed.as_secs_f64().max(1e-9);
    println!("  elapsed      {:>10.2} s", secs);
    println!(
        "  users/s      {:>10.0}  ({users} users)",
        users as f64 / secs
    );
    println!(
        "  pages/s      {:>10.0}  ({pages} pages)",
        pages as f64 / secs
    );
    if rows > 0 {
        println!(
            "  rows/s       {:>10.0}  ({rows} rows: {what})",
            rows as f64 / secs
        );
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The simulator on its own OS thread and single-worker runtime.
struct SimThread {
    base_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl SimThread {
    fn start(users: u32, seed: u64) -> anyhow::Result<Self> {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("partner-sim".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build();
                let Ok(runtime) = runtime else { return };
                runtime.block_on(async move {
                    let sim = Simulator::new(SimConfig::new(users, seed));
                    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                        Ok(listener) => listener,
                        Err(_) => return,
                    };
                    let _ =
                        addr_tx.send(listener.local_addr().map(|addr| format!("http://{addr}")));
                    let _ = crate::sim::serve(listener, sim, async move {
                        let _ = stop_rx.await;
                    })
                    .await;
                });
            })?;
        let base_url = addr_rx.recv().context("simulator thread did not start")??;
        Ok(Self {
            base_url,
            stop: Some(stop_tx),
        })
    }

    fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A throwaway database for one benchmark.
struct BenchDatabase {
    url: String,
    admin_url: Option<String>,
    name: Option<String>,
    file: Option<std::path::PathBuf>,
}

impl BenchDatabase {
    async fn create(server_url: Option<&str>) -> anyhow::Result<Self> {
        match server_url {
            Some(url) if url.starts_with("postgres") => {
                let name = format!("rekon_bench_{}", std::process::id());
                let mut admin = crate::warehouse::admin_connection(url).await?;
                admin
                    .execute_raw(&format!("CREATE DATABASE {name}"))
                    .await?;
                let db_url = crate::warehouse::with_database(url, &name);
                Ok(Self {
                    url: db_url,
                    admin_url: Some(url.to_owned()),
                    name: Some(name),
                    file: None,
                })
            }
            _ => {
                let file =
                    std::env::temp_dir().join(format!("rekon-bench-{}.sqlite", std::process::id()));
                Ok(Self {
                    url: format!("sqlite://{}", file.display()),
                    admin_url: None,
                    name: None,
                    file: Some(file),
                })
            }
        }
    }

    async fn finish(self, keep: bool) -> anyhow::Result<()> {
        if keep {
            println!("kept benchmark database {}", redact_url(&self.url));
            return Ok(());
        }
        if let (Some(admin_url), Some(name)) = (&self.admin_url, &self.name) {
            let mut admin = crate::warehouse::admin_connection(admin_url).await?;
            admin
                .execute_raw(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await?;
        }
        if let Some(file) = &self.file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
        }
        Ok(())
    }
}
