//! Migrations over warehouses that already hold data: what analysts read
//! before a migration reads the same after it.

use crate::harness::*;
use crate::{on_both_backends, with_pool};
use chrono::{DateTime, TimeZone, Utc};
use rekon::warehouse::Warehouse;
use sqlx::migrate::Migrator;
use std::path::Path;

/// Applies the backend's migrations numbered below `before` from a copy of
/// them, recorded as `rekon migrate` records them, so it picks up from there.
async fn migrate_up_to(warehouse: &Warehouse, before: &str) {
    let backend = match warehouse {
        Warehouse::Sqlite(_) => "sqlite",
        Warehouse::Postgres(_) => "postgres",
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sql")
        .join(backend);
    for entry in std::fs::read_dir(&source).expect("sql folder") {
        let path = entry.expect("migration").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.as_str() < before {
            std::fs::copy(&path, dir.path().join(&name)).expect("copy migration");
        }
    }
    let older = Migrator::new(dir.path()).await.expect("older migrations");
    match warehouse {
        Warehouse::Sqlite(pool) => older.run(pool).await,
        Warehouse::Postgres(pool) => {
            execute(warehouse, "CREATE SCHEMA IF NOT EXISTS rekon").await;
            older.run(pool).await
        }
    }
    .expect("apply older migrations");
}

fn day(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, 2, 0, 0).unwrap()
}

/// One open finding last seen by the latest reconcile (day 20) and one
/// resolved on day 20 after being last seen on day 19.
async fn insert_findings(warehouse: &Warehouse) {
    let sql = "INSERT INTO findings (finding_key, kind, severity, provider, external_id, \
               first_seen_at, last_seen_at, resolved_at) \
               VALUES ($1, 'trial_expired', 'warning', 'elkassa', $2, $3, $4, $5)";
    let rows = [
        ("trial_expired:elkassa:E1", "E1", day(1), day(20), None),
        (
            "trial_expired:elkassa:E2",
            "E2",
            day(2),
            day(19),
            Some(day(20)),
        ),
    ];
    for (key, id, first, last, resolved) in rows {
        with_pool!(warehouse, pool => {
            let query = sqlx::query(sql).bind(key).bind(id).bind(first).bind(last).bind(resolved);
            query.execute(pool).await.map(drop)
        })
        .expect("insert finding");
    }
}

/// (key, first seen, last seen, resolved) of every finding, instants as Unix seconds.
async fn findings(warehouse: &Warehouse) -> Vec<(String, i64, i64, Option<i64>)> {
    let sql = "SELECT finding_key, first_seen_at, last_seen_at, resolved_at FROM findings ORDER BY finding_key";
    type Row = (String, DateTime<Utc>, DateTime<Utc>, Option<DateTime<Utc>>);
    let rows: Vec<Row> =
        with_pool!(warehouse, pool => sqlx::query_as(sql).fetch_all(pool).await).expect(sql);
    rows.into_iter()
        .map(|(key, first, last, resolved)| {
            let resolved = resolved.map(|at| at.timestamp());
            (key, first.timestamp(), last.timestamp(), resolved)
        })
        .collect()
}

async fn findings_keep_their_dates_across_0005(db: &TestWarehouse) {
    migrate_up_to(&db.warehouse, "0005").await;
    insert_findings(&db.warehouse).await;
    let before = findings(&db.warehouse).await;
    db.warehouse.migrate().await.expect("migrate to the latest");
    assert_eq!(findings(&db.warehouse).await, before);
    let open_seen = text(
        &db.warehouse,
        "SELECT CAST(COUNT(*) AS TEXT) FROM v_open_findings WHERE last_seen_at IS NOT NULL",
    )
    .await;
    assert_eq!(open_seen.as_deref(), Some("1"));
}

on_both_backends!(findings_keep_their_first_last_and_resolved_dates_across_migration_0005 => findings_keep_their_dates_across_0005, sqlite_unmigrated, postgres_unmigrated);

on_both_backends!(a_finding_must_name_an_existing_run_and_that_run_stays => finding_runs_are_enforced);

/// Postgres checks `finding_records.run_id` per statement (0006), SQLite
/// by its foreign key: either way a finding naming no run is refused, a run
/// findings name cannot be deleted, and a run no finding names can.
async fn finding_runs_are_enforced(db: &TestWarehouse) {
    let warehouse = &db.warehouse;
    let named = warehouse.start_run("reconcile", day(20)).await.unwrap();
    let unnamed = warehouse.start_run("reconcile", day(21)).await.unwrap();
    let insert = |run: i64| {
        format!(
            "INSERT INTO finding_records (finding_key, kind, severity, first_seen_at, run_id) \
             VALUES ('trial_expired:elkassa:E{run}', 'trial_expired', 'warning', CURRENT_TIMESTAMP, {run})"
        )
    };
    let run = |sql: String| async move {
        with_pool!(warehouse, pool => sqlx::query(&sql).execute(pool).await.map(drop))
    };
    run(insert(named))
        .await
        .expect("a finding of an existing run");
    let refused = run(insert(unnamed + 1000))
        .await
        .expect_err("a finding of no run");
    assert!(
        refused.to_string().to_lowercase().contains("foreign key")
            || refused.to_string().contains("sync_runs"),
        "{refused}"
    );
    run(format!("DELETE FROM sync_runs WHERE run_id = {named}"))
        .await
        .expect_err("a run that a finding names stays");
    run(format!("DELETE FROM sync_runs WHERE run_id = {unnamed}"))
        .await
        .expect("a run no finding names can go");
    assert_eq!(
        scalar(warehouse, "SELECT COUNT(*) FROM finding_records").await,
        1
    );
}

on_both_backends!(an_account_must_name_an_existing_customer_and_that_customer_stays => account_customers_are_enforced);

/// Postgres checks `provider_accounts.customer_id` per insert statement and
/// per changing update (0008), SQLite by its foreign key: either way an
/// account naming no customer is refused, and a customer an account names
/// cannot be deleted.
async fn account_customers_are_enforced(db: &TestWarehouse) {
    let warehouse = &db.warehouse;
    let run = |sql: &'static str| async move {
        with_pool!(warehouse, pool => sqlx::query(sql).execute(pool).await.map(drop))
    };
    run("INSERT INTO customers (email, created_at, updated_at) VALUES \
         ('a@toko.id', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP), ('b@toko.id', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
        .await
        .unwrap();
    let account = |id: &str, customer: &str| {
        format!(
            "INSERT INTO provider_accounts (provider, external_id, customer_id, first_seen_at, last_seen_at, \
             last_seen_run) SELECT 'elkassa', '{id}', {customer}, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0"
        )
    };
    let owned = |sql: String| async move {
        with_pool!(warehouse, pool => sqlx::query(&sql).execute(pool).await.map(drop))
    };
    owned(account(
        "E1",
        "(SELECT customer_id FROM customers WHERE email = 'a@toko.id')",
    ))
    .await
    .expect("an account of an existing customer");
    owned(account("E2", "NULL"))
        .await
        .expect("an account of no customer");
    let refused = owned(account(
        "E3",
        "(SELECT MAX(customer_id) + 1000 FROM customers)",
    ))
    .await
    .expect_err("an account of a customer that does not exist");
    assert!(
        refused.to_string().to_lowercase().contains("foreign key")
            || refused.to_string().contains("customers"),
        "{refused}"
    );
    run("UPDATE provider_accounts SET customer_id = customer_id + 1000 WHERE external_id = 'E1'")
        .await
        .expect_err("an update to a customer that does not exist");
    run("UPDATE provider_accounts SET customer_id = \
         (SELECT customer_id FROM customers WHERE email = 'b@toko.id') WHERE external_id = 'E1'")
    .await
    .expect("an update to another customer");
    run("DELETE FROM customers WHERE email = 'b@toko.id'")
        .await
        .expect_err("a customer an account names stays");
    run("DELETE FROM customers WHERE email = 'a@toko.id'")
        .await
        .expect("a customer no account names can go");
    let named = text(
        warehouse,
        "SELECT c.email FROM provider_accounts a JOIN customers c ON c.customer_id = a.customer_id \
         WHERE a.external_id = 'E1'",
    )
    .await;
    assert_eq!(named.as_deref(), Some("b@toko.id"));
    assert_eq!(
        scalar(warehouse, "SELECT COUNT(*) FROM provider_accounts").await,
        2
    );
}

/// (cabang, last seen, last run, removed) of every branch, instants as Unix seconds.
async fn branches(warehouse: &Warehouse) -> Vec<(String, i64, i64, Option<i64>)> {
    let sql = "SELECT cabang_id, last_seen_at, last_seen_run, removed_at FROM branches ORDER BY cabang_id";
    type Row = (String, DateTime<Utc>, i64, Option<DateTime<Utc>>);
    let rows: Vec<Row> =
        with_pool!(warehouse, pool => sqlx::query_as(sql).fetch_all(pool).await).expect(sql);
    rows.into_iter()
        .map(|(id, last, run, removed)| {
            (id, last.timestamp(), run, removed.map(|at| at.timestamp()))
        })
        .collect()
}

/// A shop last seen by run 7 on day 20, with a branch listed then, one an
/// incomplete listing of run 5 dropped (not yet swept) and one removed.
async fn insert_shop_with_branches(warehouse: &Warehouse) {
    let statements = [
        "INSERT INTO provider_accounts (provider, external_id, first_seen_at, last_seen_at, last_seen_run) \
         VALUES ('elkassa', 'ELK1', $1, $3, 7)",
        "INSERT INTO branches (registration_id, cabang_id, first_seen_at, last_seen_at, last_seen_run, removed_at) \
         VALUES ('ELK1', 'ELK1-1', $1, $3, 7, NULL), ('ELK1', 'ELK1-2', $1, $2, 5, NULL), \
         ('ELK1', 'ELK1-3', $1, $2, 5, $3)",
    ];
    for sql in statements {
        with_pool!(warehouse, pool => {
            let query = sqlx::query(sql).bind(day(1)).bind(day(10)).bind(day(20));
            query.execute(pool).await.map(drop)
        })
        .expect(sql);
    }
}

async fn branches_read_the_same_across_0007(db: &TestWarehouse) {
    migrate_up_to(&db.warehouse, "0007").await;
    insert_shop_with_branches(&db.warehouse).await;
    let before = branches(&db.warehouse).await;
    db.warehouse.migrate().await.expect("migrate to the latest");
    assert_eq!(branches(&db.warehouse).await, before);
    // The dropped branch is not current: it keeps its own run for the sweep.
    assert_eq!(before[1].2, 5);
}

on_both_backends!(branches_read_the_same_across_migration_0007 => branches_read_the_same_across_0007, sqlite_unmigrated, postgres_unmigrated);
