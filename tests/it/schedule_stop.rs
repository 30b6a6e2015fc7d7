//! Stopping: a scheduler killed mid-run leaves no lock behind and its run is
//! closed as interrupted by the next; SIGTERM during a sync ends it promptly
//! with whole pages only.

use crate::harness::*;
use crate::schedule_cli::{
    committed_pages, exit_within, finish, jobs_dir, plain_partner, printed, rekon, runs, terminate,
    wait_until,
};
use rekon::sim::Faults;
use rekon::warehouse::Warehouse;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

crate::on_both_backends!(a_scheduler_killed_mid_run_frees_the_lock_and_the_next_run_marks_its_run_interrupted => killed_scheduler);

async fn killed_scheduler(db: &TestWarehouse) {
    let dir = tempfile::tempdir().unwrap();
    let jobs = jobs_dir(dir.path(), "often", "*/2 * * * * *");
    let server = plain_partner(2000, 150).await;
    let log = dir.path().join("schedule.log");
    let args = ["schedule", "--jobs-dir", jobs.to_str().unwrap()];
    let mut scheduler = rekon(&db.url, &server, &args, &log).spawn().unwrap();
    wait_until(
        Duration::from_secs(60),
        "pages committed by the scheduled run",
        || async { committed_pages(&db.warehouse, "often.sync").await >= 2 },
    )
    .await;
    scheduler.kill().unwrap(); // SIGKILL: no chance to clean up
    scheduler.wait().unwrap();
    let before = runs(&db.warehouse).await;
    assert!(
        before.iter().all(|(_, _, status, _)| status == "running"),
        "the killed run was left open: {before:?}"
    );

    server.sim().set_faults(Faults::default());
    let log = dir.path().join("run.log");
    let args = [
        "run",
        "often",
        "--no-progress",
        "--jobs-dir",
        jobs.to_str().unwrap(),
    ];
    let status = finish(rekon(&db.url, &server, &args, &log)).await;
    let shown = printed(&log);
    assert_eq!(status.code(), Some(0), "the lock was free: {shown}");
    assert!(shown.contains("marked abandoned run(s)"), "{shown}");

    let after = runs(&db.warehouse).await;
    for (run_id, job, status, _) in &after {
        let old = before.iter().any(|(id, ..)| id == run_id);
        let expected = if old { "interrupted" } else { "succeeded" };
        assert_eq!(status, expected, "run {run_id} ({job}): {after:?}");
    }
    assert_eq!(
        after.len(),
        before.len() + 2,
        "one job row and one sync row: {after:?}"
    );
    let error = text(
        &db.warehouse,
        &format!("SELECT error FROM sync_runs WHERE run_id = {}", before[0].0),
    )
    .await
    .unwrap_or_default();
    assert!(error.contains("abandoned"), "{error}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_rekon_sync_ends_it_promptly_as_interrupted_with_whole_pages_only() {
    let db = TestWarehouse::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let server = plain_partner(3000, 150).await;
    let log = dir.path().join("sync.log");
    let mut sync = rekon(
        &db.url,
        &server,
        &["sync", "--no-progress", "--job", "nightly"],
        &log,
    )
    .spawn()
    .unwrap();
    wait_until(Duration::from_secs(60), "pages committed", || async {
        committed_pages(&db.warehouse, "nightly").await >= 4
    })
    .await;
    let asked = Instant::now();
    terminate(&sync);
    let status = exit_within(&mut sync, Duration::from_secs(30)).await;
    let status = status.unwrap_or_else(|| panic!("did not stop within 30 s: {}", printed(&log)));
    let shown = printed(&log);
    assert_eq!(status.code(), Some(2), "{shown}");
    assert!(asked.elapsed() < Duration::from_secs(30));
    assert!(shown.contains("run 1 interrupted"), "{shown}");
    assert_stopped_cleanly(&db.warehouse, &server, 1).await;
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_job_run_on_postgres_interrupts_the_step_and_the_job() {
    let db = TestWarehouse::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let jobs = jobs_dir(dir.path(), "nightly", "0 0 2 * * *");
    // A second step that must not start once the stop came.
    let file = jobs.join("nightly.toml");
    let text = std::fs::read_to_string(&file).unwrap()
        + "\n[[steps]]\nstep = \"sync\"\njob = \"nightly.again\"\n";
    std::fs::write(&file, text).unwrap();
    let server = plain_partner(3000, 150).await;
    let log = dir.path().join("run.log");
    let args = [
        "run",
        "nightly",
        "--no-progress",
        "--jobs-dir",
        jobs.to_str().unwrap(),
    ];
    let mut run = rekon(&db.url, &server, &args, &log).spawn().unwrap();
    wait_until(Duration::from_secs(60), "pages committed", || async {
        committed_pages(&db.warehouse, "nightly.sync").await >= 4
    })
    .await;
    terminate(&run);
    let status = exit_within(&mut run, Duration::from_secs(30)).await;
    let status = status.unwrap_or_else(|| panic!("did not stop within 30 s: {}", printed(&log)));
    assert_eq!(status.code(), Some(2), "{}", printed(&log));

    let rows = runs(&db.warehouse).await;
    let statuses: Vec<(&str, &str)> = rows
        .iter()
        .map(|(_, j, s, _)| (j.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        statuses,
        [("nightly", "interrupted"), ("nightly.sync", "interrupted")]
    );
    let counts: serde_json::Value = serde_json::from_str(&rows[0].3).unwrap();
    assert_eq!(
        counts["job"]["steps"][1]["status"], "interrupted",
        "{counts}"
    );
    assert!(counts["job"]["steps"][1]["run_ids"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_stopped_cleanly(&db.warehouse, &server, rows[1].0).await;
    server.stop().await;
    db.cleanup().await;
}

/// The stopped sync committed whole pages only: the accounts in the
/// warehouse are exactly those on the checkpointed pages, nothing was
/// swept, and the run says why it stopped.
async fn assert_stopped_cleanly(
    warehouse: &Warehouse,
    server: &rekon::sim::SimServer,
    run_id: i64,
) {
    let stored = warehouse.run(run_id).await.unwrap().unwrap();
    assert_eq!(stored.status, "interrupted");
    assert!(!stored.listing_complete);
    assert!(
        stored
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("stopped on request"),
        "{stored:?}"
    );
    let pages = query_pairs(
        warehouse,
        &format!("SELECT CAST(page AS TEXT), CAST(entries AS BIGINT) FROM sync_pages WHERE run_id = {run_id} AND pass = 0"),
    )
    .await;
    let listed = server.sim().listed_ids();
    let mut expected = BTreeSet::new();
    for (page, entries) in &pages {
        let page: usize = page.parse().unwrap();
        assert_eq!(*entries, 10, "page {page} is a full page");
        expected.extend(listed[(page - 1) * 10..page * 10].iter().cloned());
    }
    let landed: BTreeSet<String> = account_ids(warehouse)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert!(!landed.is_empty());
    assert!(landed.len() < listed.len(), "the run was stopped early");
    assert_eq!(
        landed, expected,
        "accounts landed are exactly those of the checkpointed pages"
    );
    let removed = scalar(
        warehouse,
        "SELECT COUNT(*) FROM provider_accounts WHERE removed_at IS NOT NULL",
    )
    .await;
    assert_eq!(removed, 0, "an interrupted run sweeps nothing");
}
