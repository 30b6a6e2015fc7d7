//! A nightly listing that repeats stored accounts only refreshes them; any
//! listed change, or a stored row that no longer matches, merges in full.

use crate::harness::*;
use crate::on_both_backends;
use rekon::outcome::RunStatus;
use rekon::sim::Faults;
use rekon::sync::SyncReport;

fn unchanged(report: &SyncReport) -> u64 {
    report.partners[0].summary.counts["elkassa"]["accounts_unchanged"]
        .as_u64()
        .expect("the run counts unchanged accounts")
}

async fn latest_run(db: &TestWarehouse) -> i64 {
    scalar(&db.warehouse, "SELECT MAX(run_id) FROM sync_runs").await
}

on_both_backends!(an_unchanged_listing_refreshes_last_seen_of_every_account_and_branch_without_merging => unchanged_listing_is_refreshed);

async fn unchanged_listing_is_refreshed(db: &TestWarehouse) {
    let server = partner(200, Faults::default()).await;
    let config = config_for(&server);
    let first = sync(&db.warehouse, &config).await;
    assert_eq!(unchanged(&first), 0, "a first load has nothing to compare");
    let first_run = latest_run(db).await;

    let second = sync(&db.warehouse, &config).await;
    assert_eq!(second.status(), RunStatus::Succeeded);
    let users = sim_ids(&server).len() as u64;
    assert_eq!(unchanged(&second), users);
    let run = latest_run(db).await;
    let stale = |table: &str| format!("SELECT COUNT(*) FROM {table} WHERE last_seen_run <> {run}");
    assert_eq!(scalar(&db.warehouse, &stale("provider_accounts")).await, 0);
    assert_eq!(scalar(&db.warehouse, &stale("branches")).await, 0);
    let rewritten = format!("SELECT COUNT(*) FROM contracts WHERE updated_run <> {first_run}");
    assert_eq!(
        scalar(&db.warehouse, &rewritten).await,
        0,
        "contracts untouched"
    );
    let dangling = "SELECT COUNT(*) FROM provider_accounts a LEFT JOIN raw_responses r \
        ON r.raw_id = a.source_raw_id WHERE r.run_id IS DISTINCT FROM a.last_seen_run";
    assert_eq!(
        scalar(&db.warehouse, dangling).await,
        0,
        "each account points at the body this run stored"
    );
    server.stop().await;
}

on_both_backends!(a_dropped_cabang_or_a_stored_row_that_no_longer_matches_takes_the_full_merge => changes_merge_in_full);

async fn changes_merge_in_full(db: &TestWarehouse) {
    let server = partner(200, Faults::default()).await;
    let config = config_for(&server);
    sync(&db.warehouse, &config).await;
    let users = sim_ids(&server).len() as u64;
    let shop = sim_ids(&server)
        .into_iter()
        .find(|id| server.sim().remove_cabang(id, &format!("{id}-1")))
        .expect("some shop has a cabang");

    let report = sync(&db.warehouse, &config).await;
    assert_eq!(report.status(), RunStatus::Succeeded);
    assert_eq!(
        unchanged(&report),
        users - 1,
        "only the shop that lost a cabang merges"
    );
    let removed = |cabang: String| {
        let warehouse = &db.warehouse;
        async move {
            let sql = format!("SELECT COUNT(*) FROM branches WHERE cabang_id = '{cabang}' AND removed_at IS NOT NULL");
            scalar(warehouse, &sql).await
        }
    };
    assert_eq!(
        removed(format!("{shop}-1")).await,
        1,
        "the dropped cabang is swept"
    );
    assert_eq!(
        scalar(
            &db.warehouse,
            "SELECT COUNT(*) FROM branches WHERE removed_at IS NOT NULL"
        )
        .await,
        1
    );

    // A row rewritten behind rekon's back (or by a build that stored no
    // digest) fails the comparison and is merged from the listing again.
    let other = sim_ids(&server)[5].clone();
    let sql = format!(
        "UPDATE provider_accounts SET source_digest = NULL, shop_name = 'edited' WHERE external_id = '{other}'"
    );
    execute(&db.warehouse, &sql).await;
    let report = sync(&db.warehouse, &config).await;
    assert_eq!(unchanged(&report), users - 1);
    let restored = format!(
        "SELECT COUNT(*) FROM provider_accounts WHERE external_id = '{other}' \
         AND source_digest IS NOT NULL AND shop_name <> 'edited'"
    );
    assert_eq!(scalar(&db.warehouse, &restored).await, 1);
    server.stop().await;
}

on_both_backends!(a_cabang_dropped_during_an_incomplete_listing_is_swept_by_the_next_complete_one_though_its_shop_is_then_unchanged => dropped_cabang_survives_no_refresh);

async fn dropped_cabang_survives_no_refresh(db: &TestWarehouse) {
    let server = partner(200, Faults::default()).await;
    let config = config_for(&server);
    sync(&db.warehouse, &config).await;
    // A shop on the first page, so the failing run below still reads it.
    let shop = server
        .sim()
        .listed_ids()
        .into_iter()
        .take(5)
        .find(|id| server.sim().remove_cabang(id, &format!("{id}-1")))
        .expect("a shop on the first page has a cabang");
    let cabang_removed = format!(
        "SELECT COUNT(*) FROM branches WHERE cabang_id = '{shop}-1' AND removed_at IS NOT NULL"
    );

    server.sim().set_faults(Faults {
        down_after_pages: 3,
        ..Faults::default()
    });
    let mut failing = config.clone();
    failing.elkassa.as_mut().unwrap().max_retries = 1;
    // One page at a time, so the pages read before the outage are the first ones.
    failing.sync.concurrency = 1;
    assert_eq!(
        sync(&db.warehouse, &failing).await.status(),
        RunStatus::Failed
    );
    assert_eq!(
        scalar(&db.warehouse, &cabang_removed).await,
        0,
        "no sweep yet"
    );

    server.sim().set_faults(Faults::default());
    let report = sync(&db.warehouse, &config).await;
    assert_eq!(report.status(), RunStatus::Succeeded);
    assert_eq!(
        unchanged(&report),
        sim_ids(&server).len() as u64,
        "the shop's new listing was stored by the failed run"
    );
    assert_eq!(
        scalar(&db.warehouse, &cabang_removed).await,
        1,
        "refreshing the unchanged shop must not refresh the cabang it no longer lists"
    );
    server.stop().await;
}

on_both_backends!(a_current_branch_shows_its_shops_last_sighting_and_a_dropped_one_keeps_the_last_night_it_was_listed => branches_follow_their_shop);

async fn branches_follow_their_shop(db: &TestWarehouse) {
    let server = partner(120, Faults::default()).await;
    let config = config_for(&server);
    sync(&db.warehouse, &config).await;
    let first_run = latest_run(db).await;
    sync(&db.warehouse, &config).await;
    let second_run = latest_run(db).await;
    let shop = sim_ids(&server)
        .into_iter()
        .find(|id| server.sim().remove_cabang(id, &format!("{id}-1")))
        .expect("some shop has a cabang");
    let shop_seen = format!(
        "SELECT CAST(last_seen_at AS TEXT) FROM provider_accounts WHERE external_id = '{shop}'"
    );
    let branch = |table: &str, column: &str| {
        format!("SELECT CAST({column} AS TEXT) FROM {table} WHERE cabang_id = '{shop}-1'")
    };
    let seen_second = text(&db.warehouse, &shop_seen).await;
    assert_eq!(
        text(&db.warehouse, &branch("branches", "last_seen_at")).await,
        seen_second,
        "a current branch was last seen when its shop was"
    );
    assert_eq!(
        text(&db.warehouse, &branch("branch_records", "last_seen_run")).await,
        Some(first_run.to_string()),
        "the unchanged night wrote no branch row"
    );

    sync(&db.warehouse, &config).await;
    assert_ne!(text(&db.warehouse, &shop_seen).await, seen_second);
    assert_eq!(
        text(&db.warehouse, &branch("branches", "last_seen_at")).await,
        seen_second,
        "the dropped branch keeps the last night it was listed"
    );
    assert_eq!(
        text(&db.warehouse, &branch("branches", "last_seen_run")).await,
        Some(second_run.to_string())
    );
    assert!(text(&db.warehouse, &branch("branches", "removed_at"))
        .await
        .is_some());
    server.stop().await;
}
