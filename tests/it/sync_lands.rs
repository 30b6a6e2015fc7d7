//! A sync lands the whole listing, exactly once, and history only on change.

use crate::harness::*;
use crate::on_both_backends;
use rekon::outcome::RunStatus;
use rekon::sim::Faults;

on_both_backends!(a_sync_lands_every_user_contract_and_branch_keeping_both_duplicate_key_values => lands_everything);

async fn lands_everything(db: &TestWarehouse) {
    let server = partner(350, Faults::default()).await;
    let report = sync(&db.warehouse, &config_for(&server)).await;
    assert_eq!(report.status(), RunStatus::Succeeded, "{report:?}");

    let expected = sim_ids(&server);
    let landed = account_ids(&db.warehouse).await;
    assert_eq!(
        landed.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        expected
    );
    assert!(landed.iter().all(|(_, copies)| *copies == 1));
    assert!(
        server.sim().listing_len() > expected.len(),
        "the simulated listing should repeat some users"
    );

    let contracts = scalar(
        &db.warehouse,
        "SELECT COUNT(*) FROM contracts WHERE provider = 'elkassa'",
    )
    .await;
    assert_eq!(contracts as usize, expected.len());
    let history = scalar(&db.warehouse, "SELECT COUNT(*) FROM contract_history").await;
    assert_eq!(
        history as usize,
        expected.len(),
        "one version per contract after the first sync"
    );

    let served_branches: usize = expected
        .iter()
        .map(|id| {
            let user: serde_json::Value =
                serde_json::from_str(&server.sim().user_json(id).unwrap()).unwrap();
            user["cabangs"].as_array().map_or(0, Vec::len)
        })
        .sum();
    assert_eq!(
        scalar(&db.warehouse, "SELECT COUNT(*) FROM branches").await as usize,
        served_branches
    );

    // The document's trap: user_type_desc appears twice; both values survive.
    let kept = scalar(
        &db.warehouse,
        "SELECT COUNT(*) FROM provider_accounts WHERE user_type_desc IN ('Retail', 'Grosir') AND status IN ('ACTIVE', 'INACTIVE')",
    )
    .await;
    assert_eq!(kept as usize, expected.len());

    // Land before parse: a stored page replays into the same users.
    let raw_id = scalar(
        &db.warehouse,
        "SELECT MIN(raw_id) FROM sync_pages WHERE page = 1",
    )
    .await;
    let body = db
        .warehouse
        .raw_body(raw_id)
        .await
        .unwrap()
        .expect("page 1 is stored");
    let replayed = rekon::providers::elkassa::parse_listing(200, &body).unwrap();
    assert!(!replayed.is_empty());
    for slot in &replayed {
        let id = &slot.0.as_ref().unwrap().registration_id;
        assert!(
            expected.contains(id),
            "{id} replayed from raw but not in the listing"
        );
    }
    let raw_pages = scalar(&db.warehouse, "SELECT COUNT(*) FROM raw_responses").await;
    let checkpoints = scalar(&db.warehouse, "SELECT COUNT(DISTINCT page) FROM sync_pages").await;
    assert!(raw_pages >= checkpoints && checkpoints as usize >= expected.len() / 10);
    server.stop().await;
}

on_both_backends!(a_second_sync_without_change_adds_no_history_and_a_changed_expiry_adds_one => history_on_change_only);

async fn history_on_change_only(db: &TestWarehouse) {
    let server = partner(120, Faults::default()).await;
    let config = config_for(&server);
    sync(&db.warehouse, &config).await;
    let history = || scalar(&db.warehouse, "SELECT COUNT(*) FROM contract_history");
    let first = history().await;

    let report = sync(&db.warehouse, &config).await;
    assert_eq!(report.status(), RunStatus::Succeeded);
    assert_eq!(
        history().await,
        first,
        "an unchanged listing adds no history"
    );

    let changed = sim_ids(&server)[3].clone();
    let new_expiry = chrono::NaiveDate::from_ymd_opt(2031, 1, 2)
        .unwrap()
        .and_hms_opt(23, 0, 1)
        .unwrap();
    assert!(server.sim().set_expiry(&changed, new_expiry));
    sync(&db.warehouse, &config).await;
    assert_eq!(
        history().await,
        first + 1,
        "exactly one new version for one changed expiry"
    );

    let open_versions = scalar(
        &db.warehouse,
        &format!("SELECT COUNT(*) FROM contract_history WHERE external_id = '{changed}' AND valid_to IS NULL"),
    )
    .await;
    assert_eq!(open_versions, 1, "the old version is closed");
    // 23:00:01 in Jakarta is 16:00:01 UTC: naive partner times are read as WIB.
    let stored = text(
        &db.warehouse,
        &format!("SELECT CAST(expires_at AS TEXT) FROM contracts WHERE external_id = '{changed}'"),
    )
    .await
    .unwrap();
    assert!(
        stored.contains("2031-01-02") && stored.contains("16:00:01"),
        "{stored}"
    );
    server.stop().await;
}

on_both_backends!(a_user_removed_at_the_partner_is_marked_removed_only_after_a_complete_listing => removal_needs_complete_listing);

async fn removal_needs_complete_listing(db: &TestWarehouse) {
    let server = partner(150, Faults::default()).await;
    let config = config_for(&server);
    sync(&db.warehouse, &config).await;
    let gone = sim_ids(&server)[10].clone();
    assert!(server.sim().remove_user(&gone));
    let removed_at = |id: String| {
        let warehouse = &db.warehouse;
        async move {
            scalar(warehouse, &format!("SELECT COUNT(*) FROM provider_accounts WHERE external_id = '{id}' AND removed_at IS NOT NULL")).await
        }
    };

    // An incomplete listing: the partner goes down after a few pages.
    server.sim().set_faults(Faults {
        down_after_pages: 5,
        ..Faults::default()
    });
    let mut failing = config.clone();
    failing.elkassa.as_mut().unwrap().max_retries = 1;
    let report = sync(&db.warehouse, &failing).await;
    assert_eq!(report.status(), RunStatus::Failed);
    assert_eq!(
        removed_at(gone.clone()).await,
        0,
        "an incomplete listing must not sweep"
    );

    server.sim().set_faults(Faults::default());
    let report = sync(&db.warehouse, &config).await;
    assert_eq!(report.status(), RunStatus::Succeeded);
    assert_eq!(
        removed_at(gone.clone()).await,
        1,
        "a complete listing sweeps the missing user"
    );
    let others_removed = scalar(
        &db.warehouse,
        "SELECT COUNT(*) FROM provider_accounts WHERE removed_at IS NOT NULL",
    )
    .await;
    assert_eq!(others_removed, 1);
    let counts = &report.partners[0].summary.counts["elkassa"];
    assert_eq!(counts["accounts"], 149, "accounts the run saw");
    assert_eq!(counts["accounts_removed"], 1);
    let gone_branches = scalar(
        &db.warehouse,
        &format!("SELECT COUNT(*) FROM branches WHERE registration_id = '{gone}' AND removed_at IS NOT NULL"),
    )
    .await;
    assert_eq!(counts["branches_removed"], gone_branches);
    server.stop().await;
}

on_both_backends!(records_the_partner_lists_twice_across_page_boundaries_are_not_mistaken_for_drift => legit_repeats_verify);

async fn legit_repeats_verify(db: &TestWarehouse) {
    // Enough repeated records that many straddle a page boundary (a partner
    // with a million users has hundreds of these every night).
    let sim = rekon::sim::Simulator::new(rekon::sim::SimConfig {
        duplicate_rate: 0.05,
        ..rekon::sim::SimConfig::new(12_000, 5)
    });
    let server = rekon::sim::SimServer::start(sim).await.unwrap();
    let repeated = server.sim().listing_len() - sim_ids(&server).len();
    assert!(
        repeated > 450,
        "the listing should repeat many records, got {repeated}"
    );
    let report = sync(&db.warehouse, &config_for(&server)).await;
    let summary = &report.partners[0].summary;
    assert_eq!(report.status(), RunStatus::Succeeded, "{summary:?}");
    assert_eq!(
        summary.drift_rounds, 0,
        "stable repeats need no re-read: {:?}",
        summary.drift_note
    );
    assert_eq!(
        account_ids(&db.warehouse).await.len(),
        sim_ids(&server).len()
    );
    server.stop().await;
}

on_both_backends!(a_listing_that_lost_a_large_share_of_accounts_withholds_the_sweep => mass_removal_is_guarded);

async fn mass_removal_is_guarded(db: &TestWarehouse) {
    let server = partner(200, Faults::default()).await;
    let mut config = config_for(&server);
    sync(&db.warehouse, &config).await;
    for id in sim_ids(&server).iter().take(60) {
        assert!(server.sim().remove_user(id));
    }
    let removed = || {
        scalar(
            &db.warehouse,
            "SELECT COUNT(*) FROM provider_accounts WHERE removed_at IS NOT NULL",
        )
    };

    let report = sync(&db.warehouse, &config).await;
    assert_eq!(
        report.status(),
        RunStatus::Partial,
        "30% gone at once needs an operator"
    );
    assert!(report.partners[0]
        .summary
        .error
        .as_deref()
        .is_some_and(|e| e.contains("max_removal_share")));
    assert_eq!(removed().await, 0);

    config.sync.max_removal_share = 0.5;
    let report = sync(&db.warehouse, &config).await;
    assert_eq!(report.status(), RunStatus::Succeeded);
    assert_eq!(removed().await, 60);
}
