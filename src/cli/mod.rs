//! Command-line interface: parses arguments, runs the command, maps the
//! outcome to an exit code (0 success, 1 completed with problems, 2 failure).

mod onboard;

use crate::config::Config;
use crate::outcome::RunStatus;
use crate::sim::{Faults, SimConfig, Simulator};
use crate::sync::{sync_all, SyncOptions, SyncReport};
use crate::telemetry::{self, LogFormat};
use crate::warehouse::{redact_url, Warehouse};
use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

mod schedule;
pub use schedule::{JobsArgs, JobsCommand, RunArgs, ScheduleArgs};
mod reconcile;
pub use reconcile::print_reconcile;

/// rekon: sync partner APIs into a warehouse that analysts query (Postgres, or an embedded SQLite file).
///
/// Exit codes: 0 success, 1 completed with problems an operator must see
/// (rejected records, drift that could not be repaired, a listing missing too
/// many accounts to sweep), 2 failure.
#[derive(Debug, Parser)]
#[command(name = "rekon", version, about, long_about)]
pub struct Cli {
    /// Configuration file (TOML). Default: ./rekon.toml when present.
    #[arg(long, global = true, env = "REKON_CONFIG")]
    pub config: Option<PathBuf>,
    /// Warehouse: sqlite://PATH or postgres://USER@HOST/DB. Default: sqlite://data/warehouse.sqlite.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Log line format.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "REKON_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
    /// More log detail (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sync every configured partner into the warehouse (one run row each), then reconcile.
    Sync(SyncArgs),
    /// Apply pending warehouse migrations (sync and demo do this too).
    Migrate,
    /// Serve the simulated partner API until Ctrl-C.
    Sim(SimArgs),
    /// Start the simulated partners, onboard a sample drop, sync, reconcile and report into an SQLite file.
    Demo(DemoArgs),
    /// Register the rows of CSV drops with every partner they target (never twice), write results and rejects.
    Onboard(onboard::OnboardArgs),
    /// Compute findings across partners and store what changed (also the last step of sync).
    Reconcile(reconcile::ReconcileArgs),
    /// Write the morning report (HTML), or export findings and expiring trials (CSV, Parquet, JSON).
    Report(reconcile::ReportArgs),
    /// Measure throughput and peak memory.
    #[command(subcommand)]
    Bench(crate::bench::BenchCommand),
    /// Job files: check them and show when each runs next.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Run one job now (for crontab, systemd timers, Kubernetes CronJobs).
    #[command(long_about = schedule::RUN_ABOUT)]
    Run(RunArgs),
    /// Run jobs at their cron times until SIGTERM or Ctrl-C.
    #[command(long_about = schedule::SCHEDULE_ABOUT)]
    Schedule(ScheduleArgs),
    /// Show the latest runs.
    Runs {
        /// How many runs.
        #[arg(long, default_value_t = 10)]
        limit: i64,
    },
}

/// Options of `rekon sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Job name recorded in sync_runs.job.
    #[arg(long, default_value = "sync")]
    pub job: String,
    /// Never draw a progress bar (log lines only).
    #[arg(long)]
    pub no_progress: bool,
}

/// Options of `rekon sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Users in the generated population.
    #[arg(long, default_value_t = 1000)]
    pub users: u32,
    /// Seed of the population and of fault decisions.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The ELKASSA key clients must send.
    #[arg(long, default_value = "sim-key")]
    pub key: String,
    /// The ELKASSA token clients must send.
    #[arg(long, default_value = "sim-token")]
    pub token: String,
    /// Share (0..1) of users the listing shows twice in a row.
    #[arg(long, default_value_t = 0.005)]
    pub duplicate_rate: f64,
    /// Fault switches.
    #[command(flatten)]
    pub faults: FaultArgs,
}

/// Fault switches of the simulator.
#[derive(Debug, Args, Default, Clone)]
pub struct FaultArgs {
    /// Milliseconds added to every answer.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share (0..1) of requests answered 503.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Share (0..1) of requests answered 429 with Retry-After.
    #[arg(long, default_value_t = 0.0)]
    pub rate_limit_rate: f64,
    /// Retry-After of injected 429s, in seconds.
    #[arg(long, default_value_t = 1)]
    pub retry_after_secs: u64,
    /// Share (0..1) of answers whose connection drops halfway through the body.
    #[arg(long, default_value_t = 0.0)]
    pub drop_rate: f64,
    /// The first N listing requests answer 503.
    #[arg(long, default_value_t = 0)]
    pub error_burst: u32,
    /// Every N-th listing request, a new shop registers at the head first (shifting later records); 0 = off.
    #[arg(long, default_value_t = 0)]
    pub drift_every: u32,
    /// Stop drifting after this many new shops; 0 = unlimited.
    #[arg(long, default_value_t = 0)]
    pub drift_max: u32,
    /// Drift appends new shops at the tail (a listing ordered oldest first) instead of the head.
    #[arg(long)]
    pub drift_at_tail: bool,
    /// Answer every request with 503 (a partner that is down).
    #[arg(long)]
    pub down: bool,
    /// Go down for good after this many listing requests; 0 = never.
    #[arg(long, default_value_t = 0)]
    pub down_after_pages: u32,
}

impl FaultArgs {
    /// The simulator's fault settings.
    pub fn to_faults(&self) -> Faults {
        Faults {
            latency_ms: self.latency_ms,
            error_rate: self.error_rate,
            rate_limit_rate: self.rate_limit_rate,
            retry_after_secs: self.retry_after_secs,
            drop_rate: self.drop_rate,
            error_burst: self.error_burst,
            drift_every: self.drift_every,
            drift_max: self.drift_max,
            drift_at_tail: self.drift_at_tail,
            down: self.down,
            down_after_pages: self.down_after_pages,
            ..Faults::default()
        }
    }
}

/// Options of `rekon demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// SQLite file to sync into.
    #[arg(long, default_value = "data/warehouse.sqlite")]
    pub database: PathBuf,
    /// Users in the simulated population.
    #[arg(long, default_value_t = 2000)]
    pub users: u32,
    /// Seed of the population.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// Parses the process arguments, runs, and returns the exit code.
pub fn main() -> u8 {
    let cli = Cli::parse();
    telemetry::init(cli.log_format, cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return 2;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(status) => status.exit_code(),
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("error: {err:#}");
            2
        }
    }
}

/// Runs one parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<RunStatus> {
    let load_config = || Config::load(cli.config.as_deref());
    match cli.command {
        Command::Sync(args) => {
            let config = load_config()?;
            let warehouse = open_warehouse(&config, cli.database_url.as_deref()).await?;
            let options = SyncOptions {
                job: args.job,
                show_progress: !args.no_progress,
                shutdown: crate::shutdown::on_signals(),
            };
            let report = sync_all(&warehouse, &config, &options).await?;
            print_sync_report(&report);
            let reconciled = reconcile::after_sync(&warehouse, &config, report.status()).await?;
            warehouse.close().await;
            Ok(report.status().worst(reconciled))
        }
        Command::Migrate => {
            let config = load_config()?;
            open_warehouse(&config, cli.database_url.as_deref())
                .await?
                .close()
                .await;
            println!(
                "warehouse migrated ({})",
                redact_url(&config.database_url(cli.database_url.as_deref()))
            );
            Ok(RunStatus::Succeeded)
        }
        Command::Sim(args) => serve_sim(args).await,
        Command::Demo(args) => crate::demo::run_demo(&args.database, args.users, args.seed).await,
        Command::Onboard(args) => {
            let config = load_config()?;
            onboard::onboard(args, &config, cli.database_url.as_deref()).await
        }
        Command::Reconcile(args) => {
            reconcile::reconcile(args, &load_config()?, cli.database_url.as_deref()).await
        }
        Command::Report(args) => {
            reconcile::report(args, &load_config()?, cli.database_url.as_deref()).await
        }
        Command::Bench(command) => {
            crate::bench::run_bench(command, cli.database_url.as_deref()).await
        }
        Command::Jobs(command) => schedule::list_jobs(command, &load_config()?),
        Command::Run(args) => {
            schedule::run_now(args, load_config()?, cli.database_url.as_deref()).await
        }
        Command::Schedule(args) => {
            schedule::schedule(args, load_config()?, cli.database_url.as_deref()).await
        }
        Command::Runs { limit } => {
            let config = load_config()?;
            let warehouse = open_warehouse(&config, cli.database_url.as_deref()).await?;
            for run in warehouse.recent_runs(limit).await? {
                println!(
                    "run {:>5}  {:<10} {:<11} pages {:>7}  accounts {:>8}  rejected {:>4}  retries {:>4}  drift rounds {}{}",
                    run.run_id, run.job, run.status, run.pages_fetched, run.records_loaded, run.records_rejected,
                    run.retries, run.drift_rounds,
                    run.error.map(|e| format!("\n           error: {e}")).unwrap_or_default()
                );
            }
            Ok(RunStatus::Succeeded)
        }
    }
}

/// Connects to the configured warehouse and applies migrations.
pub async fn open_warehouse(
    config: &Config,
    explicit_url: Option<&str>,
) -> anyhow::Result<Warehouse> {
    let url = config.database_url(explicit_url);
    let warehouse = Warehouse::connect(&url, config.warehouse.max_connections).await?;
    warehouse
        .migrate()
        .await
        .with_context(|| format!("migrating {}", redact_url(&url)))?;
    Ok(warehouse)
}

/// Prints one line per partner: what ran, how it ended.
pub fn print_sync_report(report: &SyncReport) {
    for partner in &report.partners {
        let summary = &partner.summary;
        println!(
            "{}: run {} {} — {} accounts, {} pages, {} rejected, {} retries, drift rounds {}",
            partner.provider,
            partner.run_id,
            summary.status.as_str(),
            summary.records_loaded,
            summary.pages_fetched,
            summary.records_rejected,
            summary.retries,
            summary.drift_rounds
        );
        if let Some(note) = &summary.drift_note {
            println!("  drift: {note}");
        }
        if let Some(error) = &summary.error {
            println!("  error: {error}");
        }
    }
    for skipped in &report.skipped {
        println!("{skipped}: not configured, skipped");
    }
}

async fn serve_sim(args: SimArgs) -> anyhow::Result<RunStatus> {
    let config = SimConfig {
        key: args.key,
        token: args.token,
        faults: args.faults.to_faults(),
        duplicate_rate: args.duplicate_rate,
        ..SimConfig::new(args.users, args.seed)
    };
    let sim = Simulator::new(config);
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let addr = listener.local_addr()?;
    println!(
        "ELKASSA simulator on http://{addr}/integration ({} users); Ctrl-C stops it",
        args.users
    );
    crate::sim::serve(listener, sim, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(RunStatus::Succeeded)
}
