//! A sync survives a misbehaving partner, or fails cleanly.

use crate::harness::*;
use crate::on_both_backends;
use rekon::outcome::RunStatus;
use rekon::sim::Faults;

on_both_backends!(drift_while_paging_still_leaves_every_user_exactly_once => drift_is_repaired);

async fn drift_is_repaired(db: &TestWarehouse) {
    let faults = Faults {
        drift_every: 4,
        drift_max: 6,
        ..Faults::default()
    };
    let server = partner(400, faults).await;
    let before = sim_ids(&server);
    let report = sync(&db.warehouse, &config_for(&server)).await;
    let summary = &report.partners[0].summary;
    assert_eq!(report.status(), RunStatus::Succeeded, "{summary:?}");
    assert_eq!(
        server.sim().stats().drift_inserts,
        6,
        "the simulator really drifted"
    );
    assert!(
        summary.drift_rounds >= 1,
        "drift must be noticed: {summary:?}"
    );
    assert!(
        summary
            .drift_note
            .as_deref()
            .is_some_and(|note| note.contains("repaired")),
        "{summary:?}"
    );

    let after = sim_ids(&server);
    assert!(before.iter().all(|id| after.contains(id)));
    let landed = account_ids(&db.warehouse).await;
    assert_eq!(
        landed.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        after,
        "every user, old and new"
    );
    assert!(
        landed.iter().all(|(_, copies)| *copies == 1),
        "exactly once"
    );
    let note = text(
        &db.warehouse,
        &format!(
            "SELECT drift_note FROM sync_runs WHERE run_id = {}",
            report.partners[0].run_id
        ),
    )
    .await;
    assert!(note.is_some_and(|note| note.contains("moved") || note.contains("changed")));
    server.stop().await;
}

on_both_backends!(a_listing_that_only_grows_at_its_end_while_paged_is_read_on_without_a_re_read => growth_is_read_on);

async fn growth_is_read_on(db: &TestWarehouse) {
    let server = partner(300, Faults::default()).await;
    // One page in flight, so the order of requests is fixed: the first pass
    // sends one request per page and the empty page after them; the append
    // lands on the next request, after the tail was first read and before
    // verification ends.
    let pages = server.sim().listing_len().div_ceil(10) as u32;
    let faults = Faults {
        drift_every: pages + 2,
        drift_max: 1,
        drift_at_tail: true,
        ..Faults::default()
    };
    server.sim().set_faults(faults);
    let mut config = config_for(&server);
    config.sync.concurrency = 1;
    let report = sync(&db.warehouse, &config).await;
    let summary = &report.partners[0].summary;
    assert_eq!(report.status(), RunStatus::Succeeded, "{summary:?}");
    assert_eq!(
        server.sim().stats().drift_inserts,
        1,
        "the simulator really appended"
    );
    assert_eq!(
        summary.drift_rounds, 0,
        "appending shifts nothing: no re-read needed"
    );
    assert!(
        summary
            .drift_note
            .as_deref()
            .is_some_and(|note| note.contains("grew by 1 record")),
        "{summary:?}"
    );
    let landed = account_ids(&db.warehouse).await;
    assert_eq!(
        landed.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        sim_ids(&server)
    );
    assert!(landed.iter().all(|(_, copies)| *copies == 1));
    server.stop().await;
}

on_both_backends!(throttling_server_errors_and_dropped_connections_lose_nothing => transient_faults_are_retried);

async fn transient_faults_are_retried(db: &TestWarehouse) {
    let faults = Faults {
        rate_limit_rate: 0.15,
        retry_after_secs: 1,
        error_rate: 0.1,
        error_burst: 3,
        drop_rate: 0.1,
        ..Faults::default()
    };
    let server = partner(300, faults).await;
    let started = std::time::Instant::now();
    let report = sync(&db.warehouse, &config_for(&server)).await;
    let stats = server.sim().stats();
    // Our own backoff for 5xx is milliseconds here; only honouring the
    // partner's Retry-After (1 s) can make the run last a second.
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    assert!(
        stats.injected_429 > 0 && stats.injected_5xx > 3 && stats.injected_drops > 0,
        "{stats:?}"
    );
    assert_eq!(report.status(), RunStatus::Succeeded, "{report:?}");
    assert!(report.partners[0].summary.retries >= stats.injected_429 + stats.injected_5xx);
    let landed = account_ids(&db.warehouse).await;
    assert_eq!(
        landed.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        sim_ids(&server)
    );
    server.stop().await;
}

on_both_backends!(a_partner_that_stays_down_fails_the_run_keeping_checkpoints_and_whole_rows => outage_fails_cleanly);

async fn outage_fails_cleanly(db: &TestWarehouse) {
    let server = partner(300, Faults::default()).await;
    let mut config = config_for(&server);
    config.elkassa.as_mut().unwrap().max_retries = 2;
    server.sim().set_faults(Faults {
        down_after_pages: 12,
        ..Faults::default()
    });
    let report = sync(&db.warehouse, &config).await;
    let run = &report.partners[0];
    assert_eq!(run.summary.status, RunStatus::Failed);
    assert_eq!(run.summary.status.exit_code(), 2);
    let error = run.summary.error.clone().unwrap();
    assert!(
        error.contains("elkassa") && error.contains("page") && error.contains("503"),
        "{error}"
    );

    let stored = db.warehouse.run(run.run_id).await.unwrap().unwrap();
    assert_eq!(stored.status, "failed");
    assert!(!stored.listing_complete);
    let checkpoints = scalar(
        &db.warehouse,
        &format!(
            "SELECT COUNT(*) FROM sync_pages WHERE run_id = {}",
            run.run_id
        ),
    )
    .await;
    let raw = scalar(
        &db.warehouse,
        &format!(
            "SELECT COUNT(*) FROM raw_responses WHERE run_id = {}",
            run.run_id
        ),
    )
    .await;
    assert!(
        checkpoints > 0 && raw >= checkpoints,
        "checkpoints {checkpoints}, raw {raw}"
    );
    // Whole rows only: every account landed has its contract, nothing was swept.
    let orphans = scalar(
        &db.warehouse,
        "SELECT COUNT(*) FROM provider_accounts a LEFT JOIN contracts c USING (provider, external_id) WHERE c.external_id IS NULL",
    )
    .await;
    assert_eq!(orphans, 0);
    assert_eq!(
        scalar(
            &db.warehouse,
            "SELECT COUNT(*) FROM provider_accounts WHERE removed_at IS NOT NULL"
        )
        .await,
        0
    );
    let landed = scalar(&db.warehouse, "SELECT COUNT(*) FROM provider_accounts").await;
    let pages_in_checkpoint = scalar(
        &db.warehouse,
        "SELECT COALESCE(SUM(entries), 0) FROM sync_pages",
    )
    .await;
    assert!(
        landed > 0 && landed <= pages_in_checkpoint,
        "landed {landed}, checkpointed entries {pages_in_checkpoint}"
    );
    server.stop().await;
}
