//! One ELKASSA sync: reference data, the listing (verified, repaired when it
//! moved), the removal sweep, and the run record.

use super::normalize::PacketCatalog;
use super::pager::{PageFetcher, Pager, PassRead};
use super::progress::Progress;
use super::writer::{spawn_writer, WriterTotals};
use super::{SyncError, SyncOptions};
use crate::config::{ElkassaConfig, SyncConfig};
use crate::outcome::RunStatus;
use crate::providers::elkassa::{
    parse_registration_data, ElkassaClient, PROVIDER, REGISTRATION_ENDPOINT,
};
use crate::shutdown::Shutdown;
use crate::warehouse::{Census, RunSummary, SweepStats, Warehouse, WarehouseError};
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;

/// How the listing reads went.
#[derive(Debug, Default)]
struct ListingOutcome {
    first_pass: PassRead,
    rounds: u32,
    stable: bool,
    notes: Vec<String>,
}

/// Runs an ELKASSA sync inside an open run; returns its summary (never an
/// `Err`: failures are part of the summary so the run row can say them).
pub async fn sync_elkassa(
    warehouse: &Warehouse,
    run_id: i64,
    config: &ElkassaConfig,
    sync: &SyncConfig,
    options: &SyncOptions,
) -> RunSummary {
    let client = ElkassaClient::new(config.clone(), sync.concurrency);
    let http_stats = client.http().stats();
    let mut summary = match run_listing(warehouse, run_id, client, config, sync, options).await {
        Ok(summary) => summary,
        Err((err, partial)) => RunSummary {
            status: if matches!(err, SyncError::Interrupted) {
                RunStatus::Interrupted
            } else {
                RunStatus::Failed
            },
            error: Some(err.to_string()),
            ..partial
        },
    };
    summary.retries = http_stats.retries();
    summary
}

type Failure = (SyncError, RunSummary);

async fn run_listing(
    warehouse: &Warehouse,
    run_id: i64,
    client: ElkassaClient,
    config: &ElkassaConfig,
    sync: &SyncConfig,
    options: &SyncOptions,
) -> Result<RunSummary, Failure> {
    let no_counts = |err: SyncError| (err, RunSummary::default());
    let stop = &options.shutdown;
    let catalog = until_stopped(stop, load_packets(warehouse, &client))
        .await
        .map_err(no_counts)?;
    let progress = progress_for(warehouse, sync, options).await;
    let loaders = warehouse
        .elkassa_loaders(run_id, sync.writers)
        .await
        .map_err(|err| no_counts(err.into()))?;
    let (to_writer, writer) = spawn_writer(loaders, sync.batch_pages, Arc::clone(&progress));
    let fetcher = Arc::new(PageFetcher {
        client,
        catalog,
        zone: config.timezone,
    });
    let mut pager = Pager::new(fetcher, sync.concurrency, to_writer, Arc::clone(&progress));
    // Stopping drops the read: in-flight page requests are cancelled, and
    // the pages already handed to the writer are still committed below.
    let listing = until_stopped(stop, read_listing(&mut pager, sync.max_drift_rounds)).await;
    let pages_fetched = pager.pages_fetched;
    tracing::debug!(pages_fetched, "listing read");
    drop(pager); // closes the writer's channel so it flushes and ends
    let written = match writer.await {
        Ok(Ok(totals)) => Ok(totals),
        Ok(Err(err)) => Err(err.into()),
        Err(err) => Err(SyncError::Task(err.to_string())),
    };
    progress.finish();
    let partial = || RunSummary {
        pages_fetched,
        ..RunSummary::default()
    };
    // A writer failure explains a listing failure (the pager saw the channel close), so it wins.
    let written = written.map_err(|err| (err, partial()))?;
    let listing = listing.map_err(|err| (err, partial()))?;
    finish_listing(
        warehouse,
        run_id,
        listing,
        written,
        pages_fetched,
        sync.max_removal_share,
    )
    .await
}

/// Runs `work` unless a stop is requested first; then `work` is dropped.
async fn until_stopped<T>(
    stop: &Shutdown,
    work: impl std::future::Future<Output = Result<T, SyncError>>,
) -> Result<T, SyncError> {
    tokio::select! {
        done = work => done,
        () = stop.requested() => {
            tracing::warn!(provider = PROVIDER, "stop requested: no further pages are fetched");
            Err(SyncError::Interrupted)
        }
    }
}

/// Progress display sized by the last complete listing.
async fn progress_for(
    warehouse: &Warehouse,
    sync: &SyncConfig,
    options: &SyncOptions,
) -> Arc<Progress> {
    let estimated = warehouse
        .last_listing_size()
        .await
        .ok()
        .flatten()
        .map(|n| n as u64);
    let interval = Duration::from_secs(sync.progress_interval_secs);
    Arc::new(Progress::new(
        PROVIDER,
        estimated,
        interval,
        options.show_progress,
    ))
}

/// Packets from the reference data. Credentials refused here fail the run
/// (the listing would refuse them too); any other refusal only costs the
/// packet catalogue, so trials are then told from the contract notes.
async fn load_packets(
    warehouse: &Warehouse,
    client: &ElkassaClient,
) -> Result<PacketCatalog, SyncError> {
    let fetched = client.fetch_registration_data().await?;
    let data = match parse_registration_data(fetched.http_status, &fetched.body) {
        Ok(data) => data,
        Err(source) if !source.is_auth() => {
            tracing::warn!(provider = PROVIDER, %source, "reference data unreadable; trials are told from contract notes");
            return Ok(PacketCatalog::default());
        }
        Err(source) => {
            return Err(SyncError::partner(
                REGISTRATION_ENDPOINT,
                "reference data".into(),
                source,
            ))
        }
    };
    let catalog = PacketCatalog::new(&data.registration_packets);
    warehouse
        .upsert_packets(&catalog.rows(), fetched.fetched_at)
        .await?;
    Ok(catalog)
}

/// First pass, then re-reads until a pass verifies as a consistent snapshot
/// or the round budget is spent.
async fn read_listing(pager: &mut Pager, max_rounds: u32) -> Result<ListingOutcome, SyncError> {
    let mut outcome = ListingOutcome {
        first_pass: pager.read_pass(0).await?,
        ..ListingOutcome::default()
    };
    let mut moved = pager.verify(0, &mut outcome.first_pass).await?;
    note_growth(&mut outcome.notes, 0, outcome.first_pass.grown_entries);
    while let Some(reason) = moved {
        tracing::warn!(provider = PROVIDER, round = outcome.rounds, %reason, "listing moved while paging");
        outcome
            .notes
            .push(format!("pass {}: {reason}", outcome.rounds));
        if outcome.rounds >= max_rounds {
            return Ok(outcome);
        }
        outcome.rounds += 1;
        let mut read = pager.read_pass(outcome.rounds).await?;
        moved = pager.verify(outcome.rounds, &mut read).await?;
        note_growth(&mut outcome.notes, outcome.rounds, read.grown_entries);
    }
    outcome.stable = true;
    Ok(outcome)
}

/// Growth at the end is no drift, but the run record says it happened.
fn note_growth(notes: &mut Vec<String>, pass: u32, grown_entries: u64) {
    if grown_entries > 0 {
        notes.push(format!("pass {pass}: the listing grew by {grown_entries} record(s) at its end while read; read on"));
    }
}

async fn finish_listing(
    warehouse: &Warehouse,
    run_id: i64,
    listing: ListingOutcome,
    written: WriterTotals,
    pages_fetched: u64,
    max_removal_share: f64,
) -> Result<RunSummary, Failure> {
    let fail = |err: WarehouseError| {
        (
            err.into(),
            RunSummary {
                pages_fetched,
                ..RunSummary::default()
            },
        )
    };
    let census = warehouse.elkassa_census(run_id).await.map_err(fail)?;
    let (sweep, withheld) = if listing.stable {
        sweep_guarded(warehouse, run_id, &census, max_removal_share)
            .await
            .map_err(fail)?
    } else {
        (SweepStats::default(), None)
    };
    let (accounts, branches) = (census.accounts_seen, census.branches_seen);
    let rejected = listing.first_pass.rejected;
    let problem = problem_of(&listing, withheld, rejected, run_id);
    let drift_note = (!listing.notes.is_empty()).then(|| {
        let verdict = match (listing.stable, listing.rounds) {
            (true, 0) => String::new(),
            (true, rounds) => format!("; repaired by re-reading in {rounds} round(s)"),
            (false, rounds) => format!("; NOT repaired in {rounds} round(s)"),
        };
        format!("{}{verdict}", listing.notes.join("; "))
    });
    let counts = run_counts(accounts, branches, pages_fetched, &written, sweep);
    Ok(RunSummary {
        status: if problem.is_some() {
            RunStatus::Partial
        } else {
            RunStatus::Succeeded
        },
        listing_complete: listing.stable,
        pages_fetched,
        records_seen: listing.first_pass.entries,
        records_loaded: accounts as u64,
        records_rejected: rejected,
        retries: 0,
        drift_rounds: listing.rounds,
        drift_note,
        counts,
        error: problem,
    })
}

/// What an operator must look at, if anything: worst first.
fn problem_of(
    listing: &ListingOutcome,
    withheld: Option<String>,
    rejected: u64,
    run_id: i64,
) -> Option<String> {
    if !listing.stable {
        return Some(format!(
            "elkassa listing kept moving after {} re-read round(s); removals were not swept",
            listing.rounds
        ));
    }
    withheld.or_else(|| {
        (rejected > 0).then(|| {
            format!("{rejected} listing entries rejected (see sync_record_issues for run {run_id})")
        })
    })
}

/// `sync_runs.counts` for ELKASSA.
fn run_counts(
    accounts: i64,
    branches: i64,
    pages: u64,
    written: &WriterTotals,
    sweep: SweepStats,
) -> serde_json::Value {
    let phases = &written.phases;
    serde_json::json!({ PROVIDER: {
        "accounts": accounts, "branches": branches, "pages": pages,
        "history_rows": written.history_rows, "accounts_removed": sweep.accounts_removed,
        "branches_removed": sweep.branches_removed, "raw_bytes": written.raw_bytes,
        "stored_bytes": written.stored_bytes, "accounts_unchanged": written.refreshed.accounts,
        "branches_unchanged": written.unchanged_branches,
        "accounts_copied": written.copied_accounts,
        "writer_seconds": {
            "raw": phases.raw.as_secs_f64(), "refresh": phases.refresh.as_secs_f64(),
            "stage": phases.stage.as_secs_f64(),
            "merge": phases.merge.as_secs_f64(), "commit": phases.commit.as_secs_f64(),
            "analyze": phases.analyze.as_secs_f64(),
        },
    }})
}

/// Sweeps removals after a verified listing, unless it would remove more
/// than `max_share` of the active accounts: a partner answering a truncated
/// listing must not empty the warehouse overnight. Returns why it held back.
async fn sweep_guarded(
    warehouse: &Warehouse,
    run_id: i64,
    census: &Census,
    max_share: f64,
) -> Result<(SweepStats, Option<String>), WarehouseError> {
    const GUARD_FROM_ACCOUNTS: i64 = 50;
    let (unseen, active) = (census.accounts_unseen, census.accounts_active);
    if active >= GUARD_FROM_ACCOUNTS && unseen as f64 > max_share * active as f64 {
        let reason = format!(
            "elkassa listing lacks {unseen} of {active} active accounts (more than sync.max_removal_share = {max_share}); \
             removals were not swept: check the partner, or raise the share for one run if they really left"
        );
        tracing::warn!(provider = PROVIDER, unseen, active, "{reason}");
        return Ok((SweepStats::default(), Some(reason)));
    }
    Ok((
        warehouse.sweep_elkassa(run_id, Utc::now(), census).await?,
        None,
    ))
}

/// Reads the listing once, without verification or warehouse, handing every
/// page to `sink`; returns (pages, entries). The benchmark's baseline.
pub async fn read_listing_once(
    config: &ElkassaConfig,
    sync: &SyncConfig,
    sink: tokio::sync::mpsc::Sender<crate::warehouse::LandedPage>,
) -> Result<(u64, u64), SyncError> {
    let client = ElkassaClient::new(config.clone(), sync.concurrency);
    let fetched = client.fetch_registration_data().await?;
    let data = parse_registration_data(fetched.http_status, &fetched.body).map_err(|source| {
        SyncError::partner(REGISTRATION_ENDPOINT, "reference data".into(), source)
    })?;
    let catalog = PacketCatalog::new(&data.registration_packets);
    let progress = Arc::new(Progress::new(
        PROVIDER,
        None,
        Duration::from_secs(sync.progress_interval_secs),
        false,
    ));
    let fetcher = Arc::new(PageFetcher {
        client,
        catalog,
        zone: config.timezone,
    });
    let mut pager = Pager::new(fetcher, sync.concurrency, sink, progress);
    let read = pager.read_pass(0).await?;
    Ok((pager.pages_fetched, read.entries))
}
