//! `rekon reconcile` and `rekon report`.

use super::open_warehouse;
use crate::config::Config;
use crate::outcome::RunStatus;
use crate::reconcile::{run_job, ReconcileReport};
use crate::report::export::{export, Format};
use crate::report::{html, ReportData};
use crate::warehouse::Warehouse;
use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;
use std::path::PathBuf;

/// Options of `rekon reconcile`.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// Reconcile as of this instant (RFC 3339) instead of now, e.g. to replay a morning.
    #[arg(long)]
    pub now: Option<DateTime<Utc>>,
}

/// Options of `rekon report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// html: one self-contained page; csv, parquet, json: findings.<ext> and expiring_trials.<ext>.
    #[arg(long, value_enum, default_value = "html")]
    pub format: Format,
    /// The HTML file, or the folder for data files.
    #[arg(long, short, default_value = "report")]
    pub out: PathBuf,
    /// Newest open findings listed in the HTML page.
    #[arg(long, default_value_t = 50)]
    pub newest: usize,
}

/// Runs `rekon reconcile`: one reconcile run, counts printed.
pub async fn reconcile(
    args: ReconcileArgs,
    config: &Config,
    database_url: Option<&str>,
) -> anyhow::Result<RunStatus> {
    let warehouse = open_warehouse(config, database_url).await?;
    let now = args.now.unwrap_or_else(Utc::now);
    let report = run_job(&warehouse, &config.reconcile, now)
        .await
        .context("reconcile")?;
    print_reconcile(&report);
    warehouse.close().await;
    Ok(RunStatus::Succeeded)
}

/// The last step of `rekon sync`: reconcile unless `reconcile.after_sync` is
/// off or the sync failed (its data is no newer than the last reconcile's).
pub async fn after_sync(
    warehouse: &Warehouse,
    config: &Config,
    synced: RunStatus,
) -> anyhow::Result<RunStatus> {
    if !config.reconcile.after_sync {
        return Ok(RunStatus::Succeeded);
    }
    if synced == RunStatus::Failed {
        tracing::warn!("sync failed: reconcile skipped until a sync succeeds");
        return Ok(RunStatus::Succeeded);
    }
    let report = run_job(warehouse, &config.reconcile, Utc::now())
        .await
        .context("reconcile after sync")?;
    print_reconcile(&report);
    Ok(RunStatus::Succeeded)
}

/// One line per kind, then what changed.
pub fn print_reconcile(report: &ReconcileReport) {
    println!("reconcile: run {}", report.run_id);
    for (kind, count) in &report.counts {
        println!("  {kind:<20} {count:>8}");
    }
    let stored = &report.stored;
    println!(
        "  raised {}, resolved {}, seen again {}, match rules changed {} ({} rows read in {:.2} s, computed in {:.2} s, written in {:.2} s)",
        stored.inserted,
        stored.resolved,
        stored.refreshed,
        stored.match_rules,
        report.rows_read,
        report.read_time.as_secs_f64(),
        report.compute_time.as_secs_f64(),
        report.write_time.as_secs_f64()
    );
}

/// Runs `rekon report`.
pub async fn report(
    args: ReportArgs,
    config: &Config,
    database_url: Option<&str>,
) -> anyhow::Result<RunStatus> {
    let warehouse = open_warehouse(config, database_url).await?;
    if args.format == Format::Html {
        let data = ReportData::gather(&warehouse, Utc::now(), args.newest).await?;
        let path = if args.out.extension().is_some() {
            args.out.clone()
        } else {
            args.out.with_extension("html")
        };
        std::fs::write(&path, html::render(&data))
            .with_context(|| format!("writing {}", path.display()))?;
        println!("report written to {}", path.display());
    } else {
        for path in export(&warehouse, args.format, &args.out).await? {
            println!("wrote {}", path.display());
        }
    }
    warehouse.close().await;
    Ok(RunStatus::Succeeded)
}
