//! `rekon bench onboard`: validation throughput over generated rows, and
//! registration throughput against the simulator at a given rate limit.

use crate::onboard::register::{onboard_file, OnboardOptions, Registrars};
use crate::onboard::{read_drop, Partner};
use crate::outcome::RunStatus;
use crate::sim::{SimConfig, SimServer, Simulator};
use crate::warehouse::Warehouse;
use clap::Args;
use secrecy::SecretString;
use std::time::Instant;

/// Options of `bench onboard`.
#[derive(Debug, Args)]
pub struct BenchOnboardArgs {
    /// Rows to generate and validate (every row targets all four partners).
    #[arg(long, default_value_t = 100_000)]
    pub rows: u32,
    /// Rows to register with the simulated partners (0 skips that part).
    #[arg(long, default_value_t = 300)]
    pub register_rows: u32,
    /// Allowed calls per second at each partner.
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// Registration calls in flight.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
}

/// Runs both measurements and prints their figures.
pub async fn bench_onboard(args: BenchOnboardArgs) -> anyhow::Result<RunStatus> {
    bench_validation(args.rows)?;
    if args.register_rows > 0 {
        bench_registration(&args).await?;
    }
    println!("peak memory {}", crate::telemetry::peak_memory());
    Ok(RunStatus::Succeeded)
}

fn bench_validation(rows: u32) -> anyhow::Result<()> {
    let bytes = generated_drop(rows, "v");
    let cpu = cpu_seconds();
    let started = Instant::now();
    let drop = read_drop("bench.csv", &bytes, &Partner::ALL)?;
    let checked = drop.into_valid();
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    let rejected = checked.iter().filter(|row| row.is_err()).count();
    println!(
        "validate: {rows} rows ({:.1} MiB) in {wall:.3} s wall, {cpu:.2} s CPU: {:.0} rows/s, \
         {:.3} s CPU per 100k rows, {rejected} rejected",
        bytes.len() as f64 / (1024.0 * 1024.0),
        f64::from(rows) / wall.max(1e-9),
        cpu * 100_000.0 / f64::from(rows.max(1)),
    );
    Ok(())
}

async fn bench_registration(args: &BenchOnboardArgs) -> anyhow::Result<()> {
    let server = SimServer::start(Simulator::new(SimConfig::new(10, 1))).await?;
    let dir = tempfile_dir()?;
    let mut config = server.client_config();
    config.onboard.identity_hash_key = Some(SecretString::from("bench-identity-key"));
    config.onboard.concurrency = args.concurrency;
    config.onboard.elkassa_per_sec = args.rate;
    config.onboard.mcp_per_sec = args.rate;
    config.onboard.middleware_per_sec = args.rate;
    config.onboard.qm_per_sec = args.rate;
    let file = dir.join("bench-register.csv");
    std::fs::write(&file, generated_drop(args.register_rows, "r"))?;
    let url = format!("sqlite://{}", dir.join("bench.sqlite").display());
    let warehouse = Warehouse::connect(&url, 4).await?;
    warehouse.migrate().await?;
    let registrars = Registrars::new(&config)?;
    let options = OnboardOptions {
        out_dir: Some(dir.clone()),
        archive_dir: None,
        default_partners: Partner::ALL.to_vec(),
        show_progress: false,
        job: "bench-onboard".to_owned(),
        shutdown: crate::shutdown::Shutdown::never(),
    };
    let outcome = onboard_file(&warehouse, &config, &registrars, &file, &options).await?;
    let calls_secs = outcome.calls_elapsed.as_secs_f64().max(1e-9);
    println!(
        "register: {} rows x 4 partners at {} calls/s each, {} in flight: prepare {:.2} s, calls {calls_secs:.2} s",
        args.register_rows,
        args.rate,
        args.concurrency,
        outcome.prepare_elapsed.as_secs_f64()
    );
    for partner in Partner::ALL {
        let calls = server.sim().registration_attempts(partner.as_str());
        let achieved = calls as f64 / calls_secs;
        println!(
            "  {:<10} {calls} calls, {achieved:.1} calls/s = {:.1}% of the allowed rate",
            partner.as_str(),
            100.0 * achieved / args.rate
        );
    }
    warehouse.close().await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// `rows` valid rows for every partner, as an operator's export would hold them.
fn generated_drop(rows: u32, tag: &str) -> Vec<u8> {
    let mut text = String::from(
        "ref,name,company,email,phone,address,identity_number,user_type,password,logo,login_method\n",
    );
    for n in 0..rows {
        let day = 1 + n % 28;
        text.push_str(&format!(
            "{tag}{n},Pelanggan {n},Toko {n},{tag}{n}@bench.example,0812{:08},\"Jl. Bench {n}, Jakarta\",\
             317401{day:02}0190{:04},retail,rahasia-{n},logo{n}.png,email\n",
            n % 100_000_000,
            // A NIK's sequence number starts at 0001.
            n % 9_999 + 1
        ));
    }
    text.into_bytes()
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("rekon-bench-onboard-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// CPU seconds this process has used (user + system), from /proc (Linux).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name and state.
    (ticks(11) + ticks(12)) / 100.0
}
