//! `rekon onboard`: CSV drops, from named files or the drop folder.

use super::open_warehouse;
use crate::config::Config;
use crate::onboard::check::{check_drops, CheckOptions};
use crate::onboard::inbox::{ready_drops, run_inbox};
use crate::onboard::register::{onboard_file, FileOutcome, OnboardOptions, Registrars};
use crate::onboard::report::print_tally;
use crate::onboard::Partner;
use crate::outcome::RunStatus;
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Options of `rekon onboard`.
#[derive(Debug, Args)]
pub struct OnboardArgs {
    /// CSV files to onboard (UTF-8 or Windows-1252, `,` or `;`).
    #[arg(required_unless_present = "inbox", conflicts_with = "inbox")]
    pub files: Vec<PathBuf>,
    /// Take every complete drop in this folder (unchanged for onboard.settle_secs)
    /// and move each to the archive afterwards.
    #[arg(long, value_name = "DIR")]
    pub inbox: Option<PathBuf>,
    /// Validate every row against every target partner and write the
    /// reports, calling no partner and writing nothing to the warehouse.
    #[arg(long)]
    pub dry_run: bool,
    /// Folder for `<name>.results.csv` and `<name>.rejects.csv` (default: beside the file, or its archived copy).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Move handled files here, passwords blanked and national IDs masked
    /// (default with --inbox: onboard.archive_dir, else `archive` beside the inbox;
    /// without --inbox files stay where they are unless this is given).
    #[arg(long, value_name = "DIR")]
    pub archive: Option<PathBuf>,
    /// Partners of rows without a `providers` cell, comma-separated (default: onboard.partners).
    #[arg(long, value_delimiter = ',')]
    pub partners: Vec<String>,
    /// Job name recorded in sync_runs.job.
    #[arg(long, default_value = "onboard")]
    pub job: String,
    /// Never draw a progress bar (log lines only).
    #[arg(long)]
    pub no_progress: bool,
}

/// Runs `rekon onboard`.
pub async fn onboard(
    args: OnboardArgs,
    config: &Config,
    database_url: Option<&str>,
) -> anyhow::Result<RunStatus> {
    let default_partners = partners(&args, config)?;
    if args.dry_run {
        let files = match &args.inbox {
            Some(inbox) => {
                ready_drops(inbox, config.onboard.settle(), SystemTime::now())
                    .with_context(|| format!("cannot list the inbox {}", inbox.display()))?
                    .0
            }
            None => args.files.clone(),
        };
        let options = CheckOptions {
            out_dir: args.out,
            default_partners,
        };
        return check_drops(&files, &options);
    }
    let warehouse = open_warehouse(config, database_url).await?;
    let registrars = Registrars::new(config)?;
    let options = OnboardOptions {
        out_dir: args.out.clone(),
        archive_dir: args.archive.clone(),
        default_partners,
        show_progress: !args.no_progress,
        job: args.job.clone(),
        shutdown: crate::shutdown::on_signals(),
    };
    let status = match &args.inbox {
        Some(inbox) => {
            let archive = args
                .archive
                .clone()
                .unwrap_or_else(|| config.onboard.archive_for(inbox));
            let report =
                run_inbox(&warehouse, config, &registrars, inbox, &archive, &options).await?;
            for (path, outcome) in &report.handled {
                print_file(path, outcome);
            }
            for (path, reason) in &report.unreadable {
                println!("{}: unreadable, moved aside: {reason}", path.display());
            }
            for (path, reason) in &report.left {
                println!(
                    "{}: left in the inbox for the next run: {reason}",
                    path.display()
                );
            }
            println!(
                "inbox {}: {} handled, {} unreadable, {} left, {} still being written",
                inbox.display(),
                report.handled.len(),
                report.unreadable.len(),
                report.left.len(),
                report.settling
            );
            report.status()
        }
        None => onboard_files(&warehouse, config, &registrars, &args.files, &options).await,
    };
    warehouse.close().await;
    Ok(status)
}

async fn onboard_files(
    warehouse: &crate::warehouse::Warehouse,
    config: &Config,
    registrars: &Registrars,
    files: &[PathBuf],
    options: &OnboardOptions,
) -> RunStatus {
    let mut status = RunStatus::Succeeded;
    for file in files {
        match onboard_file(warehouse, config, registrars, file, options).await {
            Ok(outcome) => {
                print_file(file, &outcome);
                status = status.worst(outcome.status);
            }
            Err(err) => {
                tracing::error!("{err:#}");
                eprintln!("error: {err:#}");
                status = status.worst(RunStatus::Failed);
            }
        }
    }
    status
}

fn print_file(path: &Path, outcome: &FileOutcome) {
    let name = path.display().to_string();
    println!(
        "{name}: run {} {}: {} rows",
        outcome.run_id,
        outcome.status.as_str(),
        outcome.rows
    );
    print_tally(&name, &outcome.reports.tally);
    println!(
        "{name}: results in {}, rejects in {}",
        outcome.reports.results.display(),
        outcome.reports.rejects.display()
    );
    if let Some(archived) = &outcome.archived {
        println!("{name}: archived as {}", archived.display());
    }
}

fn partners(args: &OnboardArgs, config: &Config) -> anyhow::Result<Vec<Partner>> {
    let names = if args.partners.is_empty() {
        &config.onboard.partners
    } else {
        &args.partners
    };
    names
        .iter()
        .map(|name| name.parse::<Partner>())
        .collect::<Result<Vec<_>, _>>()
        .context("--partners / onboard.partners")
}
