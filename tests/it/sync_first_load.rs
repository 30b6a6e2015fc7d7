//! A first load into Postgres copies new accounts straight into the tables:
//! it must leave exactly what the merge leaves, and fall back to the merge
//! when something else wrote the same keys meanwhile.

use crate::harness::*;
use chrono::Utc;
use rekon::outcome::RunStatus;
use rekon::sim::Faults;
use rekon::warehouse::{AccountRow, LandedPage, RawBody, Warehouse};

/// Each row of `sql` (one text column), in order.
async fn lines(warehouse: &Warehouse, sql: &str) -> Vec<String> {
    let Warehouse::Postgres(pool) = warehouse else {
        panic!("a Postgres check");
    };
    sqlx::query_scalar(sql).fetch_all(pool).await.expect(sql)
}

/// `accounts_copied` of the warehouse's latest run.
async fn copied_in_last_run(warehouse: &Warehouse) -> i64 {
    scalar(
        warehouse,
        "SELECT COALESCE((counts->'elkassa'->>'accounts_copied')::bigint, -1) \
         FROM sync_runs ORDER BY run_id DESC LIMIT 1",
    )
    .await
}

/// What a first load leaves, without ids, instants or raw ids (which differ
/// between two warehouses); run ids are compared with the run's own.
const CONTENTS: [&str; 5] = [
    "SELECT concat_ws('|', email, shop_name) FROM customers ORDER BY 1",
    "SELECT concat_ws('|', a.external_id, c.email, a.match_rule, a.status, a.email, a.shop_name, \
     a.address, a.user_type, a.user_type_desc, a.registered_at, a.source_digest, \
     a.removed_at IS NULL, a.last_seen_run = 1, a.merged_run = 1, a.first_seen_at = a.last_seen_at) \
     FROM provider_accounts a LEFT JOIN customers c USING (customer_id) \
     WHERE a.external_id <> 'ELK-GONE' ORDER BY 1",
    "SELECT concat_ws('|', external_id, contract_id, packet_id, contract_notes, is_trial, \
     expires_at, status, updated_run = 1) FROM contracts ORDER BY 1",
    "SELECT concat_ws('|', external_id, contract_id, packet_id, contract_notes, is_trial, \
     expires_at, status, valid_to IS NULL, run_id = 1) FROM contract_history ORDER BY 1",
    "SELECT concat_ws('|', registration_id, cabang_id, name, address, removed_at IS NULL, \
     last_seen_run = 1, first_seen_at = last_seen_at) FROM branches ORDER BY 1",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_load_copied_into_postgres_holds_exactly_the_rows_the_merge_writes() {
    let server = partner(400, Faults::default()).await;
    let mut config = config_for(&server);
    // One writer: with two, which of two batches listing a shared email
    // commits first (and so names the customer's shop) is a race.
    config.sync.writers = 1;
    let copied = TestWarehouse::postgres().await;
    let merged = TestWarehouse::postgres().await;
    // An ELKASSA row the listing does not hold makes the second load merge.
    execute(
        &merged.warehouse,
        "INSERT INTO provider_accounts (provider, external_id, first_seen_at, last_seen_at, \
         last_seen_run, source_digest) VALUES ('elkassa', 'ELK-GONE', now(), now(), 0, 0)",
    )
    .await;
    for db in [&copied, &merged] {
        let report = sync(&db.warehouse, &config).await;
        assert_eq!(report.status(), RunStatus::Succeeded, "{report:?}");
    }

    let distinct = sim_ids(&server).len() as i64;
    let by_copy = copied_in_last_run(&copied.warehouse).await;
    assert_eq!(by_copy, distinct, "each account's first listing is copied");
    assert_eq!(copied_in_last_run(&merged.warehouse).await, 0);
    assert!(
        server.sim().listing_len() as i64 > distinct,
        "the listing repeats some accounts, which the first load merges"
    );
    for sql in CONTENTS {
        let (left, right) = (
            lines(&copied.warehouse, sql).await,
            lines(&merged.warehouse, sql).await,
        );
        assert!(!left.is_empty(), "{sql}");
        assert_eq!(left, right, "{sql}");
    }
    copied.cleanup().await;
    merged.cleanup().await;
}

fn listed(id: &str, email: &str) -> AccountRow {
    AccountRow {
        external_id: id.into(),
        email: Some(email.to_uppercase()),
        email_norm: Some(email.into()),
        shop_name: Some(format!("Toko {id}")),
        contract_id: Some(format!("C-{id}")),
        ..AccountRow::default()
    }
}

fn page(number: u32, accounts: Vec<AccountRow>) -> LandedPage {
    LandedPage {
        pass: 0,
        page: number,
        raw: RawBody {
            http_status: 200,
            fetched_at: Utc::now(),
            attempts: 1,
            sha256: "0".repeat(64),
            size: 2,
            encoding: "identity",
            stored: b"[]".to_vec(),
        },
        entries: accounts.len() as u32,
        accounts,
        issues: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_load_batch_meeting_keys_written_since_the_run_started_is_merged_instead() {
    let db = TestWarehouse::postgres().await;
    let warehouse = &db.warehouse;
    // A customer onboarding created before the run: read at its start.
    execute(
        warehouse,
        "INSERT INTO customers (email, shop_name, created_at, updated_at) \
         VALUES ('c@toko.id', 'Onboarded', now(), now())",
    )
    .await;
    let run_id = warehouse.start_run("test", Utc::now()).await.unwrap();
    let mut loaders = warehouse.elkassa_loaders(run_id, 1).await.unwrap();
    // Written by someone else after the run chose to copy: a customer a
    // listed email names, and an account the batch lists.
    execute(
        warehouse,
        "INSERT INTO customers (email, shop_name, created_at, updated_at) \
         VALUES ('b@toko.id', 'Elsewhere', now(), now())",
    )
    .await;
    execute(
        warehouse,
        "INSERT INTO provider_accounts (provider, external_id, first_seen_at, last_seen_at, \
         last_seen_run) VALUES ('elkassa', 'ELK2', now(), now(), 0)",
    )
    .await;
    let first = page(
        1,
        vec![
            listed("ELK1", "a@toko.id"),
            listed("ELK2", "b@toko.id"),
            listed("ELK3", "b@toko.id"),
        ],
    );
    let stats = loaders[0].write_batch(&[first], Utc::now()).await.unwrap();
    assert_eq!((stats.accounts, stats.copied_accounts), (3, 0));

    // The customer the merge created, and the one there before the run,
    // are named directly by later copies.
    let second = page(
        2,
        vec![listed("ELK4", "a@toko.id"), listed("ELK5", "c@toko.id")],
    );
    let stats = loaders[0].write_batch(&[second], Utc::now()).await.unwrap();
    assert_eq!((stats.accounts, stats.copied_accounts), (2, 2));
    drop(loaders);

    let owners = lines(
        warehouse,
        "SELECT concat_ws('|', a.external_id, c.email, c.shop_name, a.match_rule, a.email, \
         a.last_seen_run = a.merged_run) FROM provider_accounts a JOIN customers c USING (customer_id) \
         ORDER BY 1",
    )
    .await;
    assert_eq!(
        owners,
        [
            "ELK1|a@toko.id|Toko ELK1|email|A@TOKO.ID|t",
            "ELK2|b@toko.id|Elsewhere|email|B@TOKO.ID|t",
            "ELK3|b@toko.id|Elsewhere|email|B@TOKO.ID|t",
            "ELK4|a@toko.id|Toko ELK1|email|A@TOKO.ID|t",
            "ELK5|c@toko.id|Onboarded|email|C@TOKO.ID|t",
        ]
    );
    let versions = scalar(
        warehouse,
        "SELECT COUNT(*) FROM contract_history WHERE valid_to IS NULL",
    )
    .await;
    assert_eq!(versions, 5, "one open contract version per account");
    assert_eq!(
        scalar(warehouse, "SELECT COUNT(*) FROM customers").await,
        3,
        "no customer created twice"
    );
    db.cleanup().await;
}
