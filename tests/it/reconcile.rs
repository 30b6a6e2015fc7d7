//! Reconcile over a crafted world: exactly the findings it was built to
//! provoke, idempotent reruns, resolution without deletion, the same answer
//! on both backends, the analyst role, and the morning report in a browser.

use crate::crafted::{self, email_of, World, EXPECTED, PLAN};
use crate::harness::*;
use crate::on_both_backends;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use rekon::config::ReconcileConfig;
use rekon::reconcile::{run_job, ReconcileReport};
use rekon::sim::Role;
use rekon::warehouse::Warehouse;
use std::collections::BTreeMap;

/// The simulated present, to the second (both backends then store equal instants).
fn present() -> DateTime<Utc> {
    Utc::now().duration_trunc(TimeDelta::seconds(1)).unwrap()
}

async fn reconcile(warehouse: &Warehouse) -> ReconcileReport {
    run_job(warehouse, &ReconcileConfig::default(), Utc::now())
        .await
        .expect("reconcile")
}

/// Every finding row as text columns, ordered by id (timestamps as stored).
async fn rows(warehouse: &Warehouse, with_last_seen: bool) -> Vec<Vec<Option<String>>> {
    let last_seen = if with_last_seen {
        ", CAST(last_seen_at AS TEXT)"
    } else {
        ""
    };
    let sql = format!(
        "SELECT CAST(finding_id AS TEXT), finding_key, kind, severity, provider, external_id, \
         CAST(customer_id AS TEXT), CAST(detail AS TEXT), CAST(first_seen_at AS TEXT), \
         CAST(resolved_at AS TEXT){last_seen} FROM findings ORDER BY finding_id"
    );
    macro_rules! fetch {
        ($pool:expr) => {{
            use sqlx::Row;
            let found = sqlx::query(&sql)
                .fetch_all($pool)
                .await
                .expect("read findings");
            found
                .iter()
                .map(|row| {
                    (0..row.len())
                        .map(|i| row.get::<Option<String>, _>(i))
                        .collect()
                })
                .collect()
        }};
    }
    match warehouse {
        Warehouse::Sqlite(pool) => fetch!(pool),
        Warehouse::Postgres(pool) => fetch!(pool),
    }
}

async fn open_counts(warehouse: &Warehouse) -> BTreeMap<String, i64> {
    query_pairs(
        warehouse,
        "SELECT kind, COUNT(*) FROM findings WHERE resolved_at IS NULL GROUP BY kind",
    )
    .await
    .into_iter()
    .collect()
}

fn expected() -> BTreeMap<String, i64> {
    EXPECTED
        .iter()
        .map(|(kind, n)| (kind.to_string(), *n as i64))
        .collect()
}

async fn crafted_world(db: &TestWarehouse) -> World {
    let world = crafted::start(present()).await;
    crafted::build(&db.warehouse, &world).await;
    world
}

on_both_backends!(reconcile_finds_exactly_the_crafted_findings_and_nothing_else => finds_exactly);

async fn finds_exactly(db: &TestWarehouse) {
    let world = crafted_world(db).await;
    let report = reconcile(&db.warehouse).await;
    let reported: BTreeMap<String, i64> = report
        .counts
        .iter()
        .map(|(k, n)| (k.to_string(), *n as i64))
        .collect();
    assert_eq!(reported, expected(), "counts reported by the run");
    assert_eq!(
        open_counts(&db.warehouse).await,
        expected(),
        "rows in the warehouse"
    );
    let keys: Vec<(String, i64)> = query_pairs(
        &db.warehouse,
        "SELECT finding_key, COUNT(*) FROM findings GROUP BY finding_key",
    )
    .await;
    for key in [
        format!("field_mismatch:elkassa:{}:email", crafted::plain(1)),
        "field_mismatch:mcp:MCP-2:phone".to_owned(),
        "field_mismatch:middleware:MW-3:name".to_owned(),
        "field_mismatch:middleware:MW-3:national_id".to_owned(),
        format!("packet_mismatch:elkassa:{}:activation", crafted::plain(1)),
        "missing_at_partner:mcp:MCP-GHOST".to_owned(),
        "unknown_to_ledger:qm:QM-4".to_owned(),
        "otp_session_expired:qm:S-0".to_owned(),
        "enrollment_stuck:middleware:T-stuck".to_owned(),
    ] {
        assert!(
            keys.iter().any(|(k, _)| *k == key),
            "{key} missing from {keys:?}"
        );
    }
    // National IDs never reach a finding: only the last four digits do.
    let details = text(
        &db.warehouse,
        "SELECT CAST(detail AS TEXT) FROM findings WHERE finding_key LIKE '%national_id'",
    )
    .await
    .unwrap();
    assert!(
        details.contains("9999") && !details.contains("3174015501999999"),
        "{details}"
    );
    // The rule that matched each partner account is recorded.
    let rules = query_pairs(&db.warehouse, "SELECT external_id || ':' || match_rule, CAST(1 AS BIGINT) FROM provider_accounts WHERE provider <> 'elkassa' ORDER BY 1").await;
    let rules: Vec<String> = rules.into_iter().map(|(rule, _)| rule).collect();
    assert!(
        rules.contains(&"MCP-1:identity".to_owned()) && rules.contains(&"MW-3:email".to_owned()),
        "{rules:?}"
    );
    // The views answer the morning questions.
    assert_eq!(
        scalar(&db.warehouse, "SELECT COUNT(*) FROM v_expiring_trials").await,
        4
    );
    assert_eq!(
        scalar(&db.warehouse, "SELECT COUNT(*) FROM v_open_findings").await,
        expected().values().sum::<i64>()
    );
    let customers = scalar(&db.warehouse, "SELECT COUNT(*) FROM customers").await;
    assert_eq!(
        scalar(&db.warehouse, "SELECT COUNT(*) FROM v_customer_360").await,
        customers
    );
    assert_eq!(
        text(
            &db.warehouse,
            &format!(
                "SELECT qm_account FROM v_customer_360 WHERE email = '{}'",
                email_of(&crafted::plain(3))
            )
        )
        .await
        .as_deref(),
        Some("QM-3")
    );
    world.server.stop().await;
}

on_both_backends!(a_rerun_with_no_change_changes_nothing_but_last_seen_at => rerun_is_idempotent);

async fn rerun_is_idempotent(db: &TestWarehouse) {
    let world = crafted_world(db).await;
    reconcile(&db.warehouse).await;
    let before = rows(&db.warehouse, true).await;
    let report = reconcile(&db.warehouse).await;
    let after = rows(&db.warehouse, true).await;
    assert_eq!(report.stored.inserted, 0);
    assert_eq!(report.stored.resolved, 0);
    assert_eq!(report.stored.detail_updated, 0);
    assert_eq!(report.stored.match_rules, 0, "match rules are written once");
    assert_eq!(report.stored.refreshed as usize, before.len());
    assert_eq!(before.len(), after.len(), "no finding rows added");
    let without_last_seen = |rows: &[Vec<Option<String>>]| -> Vec<Vec<Option<String>>> {
        rows.iter()
            .map(|row| row[..row.len() - 1].to_vec())
            .collect()
    };
    assert_eq!(without_last_seen(&before), without_last_seen(&after));
    assert!(
        before.iter().zip(&after).all(|(b, a)| b.last() != a.last()),
        "last_seen_at moved on every open finding"
    );
    world.server.stop().await;
}

on_both_backends!(a_fixed_cause_resolves_the_finding_without_deleting_it => fixed_cause_resolves);

async fn fixed_cause_resolves(db: &TestWarehouse) {
    let world = crafted_world(db).await;
    reconcile(&db.warehouse).await;
    let total = rows(&db.warehouse, false).await.len();
    // Expiry extended at the partner; email corrected at MCP.
    let lapsed = PLAN.ids(Role::ExpiredButActive)[0].clone();
    let extended = (world.now + TimeDelta::days(60) + TimeDelta::hours(7)).naive_utc();
    assert!(world.server.sim().set_expiry(&lapsed, extended));
    sync(&db.warehouse, &world.config).await;
    let corrected = email_of(&crafted::plain(1));
    let fix =
        format!("UPDATE provider_accounts SET email = '{corrected}' WHERE external_id = 'MCP-1'");
    match &db.warehouse {
        Warehouse::Sqlite(pool) => sqlx::query(&fix).execute(pool).await.map(|_| ()),
        Warehouse::Postgres(pool) => sqlx::query(&fix).execute(pool).await.map(|_| ()),
    }
    .unwrap();
    let before = rows(&db.warehouse, true).await;
    let report = reconcile(&db.warehouse).await;
    assert_eq!(report.stored.resolved, 2, "{report:?}");
    assert_eq!(report.stored.inserted, 0, "{report:?}");
    assert_eq!(report.stored.refreshed as usize, total - 2, "{report:?}");
    let after = rows(&db.warehouse, true).await;
    assert_eq!(after.len(), total, "resolved, not deleted");
    let last_seen = |rows: &[Vec<Option<String>>], key: &str| {
        let row = rows.iter().find(|row| row[1].as_deref() == Some(key));
        row.and_then(|row| row.last().cloned()).flatten()
    };
    for key in [
        format!("expired_but_active:elkassa:{lapsed}"),
        format!("field_mismatch:elkassa:{}:email", crafted::plain(1)),
    ] {
        let resolved = scalar(&db.warehouse, &format!("SELECT COUNT(*) FROM findings WHERE finding_key = '{key}' AND resolved_at IS NOT NULL")).await;
        assert_eq!(resolved, 1, "{key}");
        assert!(last_seen(&before, &key).is_some(), "{key}");
        assert_eq!(
            last_seen(&before, &key),
            last_seen(&after, &key),
            "a resolved finding keeps when it was last seen: {key}"
        );
    }
    let mut still = expected();
    *still.get_mut("expired_but_active").unwrap() -= 1;
    *still.get_mut("field_mismatch").unwrap() -= 1;
    assert_eq!(open_counts(&db.warehouse).await, still);
    world.server.stop().await;
}

on_both_backends!(a_finding_whose_values_changed_keeps_its_row_and_gets_the_new_detail => changed_values_update_detail);

async fn changed_values_update_detail(db: &TestWarehouse) {
    let world = crafted_world(db).await;
    reconcile(&db.warehouse).await;
    let key = format!("field_mismatch:elkassa:{}:email", crafted::plain(1));
    let detail_sql = format!(
        "SELECT CAST(detail AS TEXT) FROM findings WHERE finding_key = '{key}' AND resolved_at IS NULL"
    );
    let before = text(&db.warehouse, &detail_sql)
        .await
        .expect("an open mismatch");
    // Still wrong at MCP, but wrong in another way: same cause, new values.
    execute(
        &db.warehouse,
        "UPDATE provider_accounts SET email = 'another.mistake@example.test' WHERE external_id = 'MCP-1'",
    )
    .await;
    let report = reconcile(&db.warehouse).await;
    assert_eq!(report.stored.detail_updated, 1, "{report:?}");
    assert_eq!(report.stored.inserted, 0, "{report:?}");
    assert_eq!(report.stored.resolved, 0, "{report:?}");
    let after = text(&db.warehouse, &detail_sql).await.expect("still open");
    assert_ne!(before, after);
    assert!(after.contains("another.mistake@example.test"), "{after}");
    world.server.stop().await;
}

/// Findings as comparable across backends: ids and run-time stamps left out.
async fn portable(warehouse: &Warehouse) -> Vec<(String, String, String, String, String)> {
    rows(warehouse, false)
        .await
        .into_iter()
        .map(|row| {
            let mut detail: BTreeMap<String, serde_json::Value> =
                serde_json::from_str(row[7].as_deref().unwrap()).unwrap();
            // When the sweep ran is wall-clock time of that sync, not data.
            detail.remove("removed_at");
            detail.remove("last_seen_at");
            let get = |i: usize| row[i].clone().unwrap_or_default();
            (
                get(1),
                get(3),
                get(4),
                get(5),
                serde_json::to_string(&detail).unwrap(),
            )
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_population_in_sqlite_and_postgres_yields_identical_findings() {
    let now = present();
    let mut found = Vec::new();
    for db in [
        TestWarehouse::sqlite().await,
        TestWarehouse::postgres().await,
    ] {
        let world = crafted::start(now).await;
        crafted::build(&db.warehouse, &world).await;
        reconcile(&db.warehouse).await;
        found.push(portable(&db.warehouse).await);
        world.server.stop().await;
        db.cleanup().await;
    }
    assert_eq!(
        found[0].len() as u64,
        EXPECTED.iter().map(|(_, n)| n).sum::<u64>()
    );
    assert_eq!(found[0], found[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_analyst_role_is_denied_raw_responses_and_can_read_the_views() {
    let db = TestWarehouse::postgres().await;
    let world = crafted_world(&db).await;
    reconcile(&db.warehouse).await;
    let Warehouse::Postgres(pool) = &db.warehouse else {
        unreachable!()
    };
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("SET ROLE rekon_analyst")
        .execute(&mut *conn)
        .await
        .unwrap();
    let denied = sqlx::query("SELECT COUNT(*) FROM raw_responses")
        .execute(&mut *conn)
        .await
        .unwrap_err();
    let code = denied
        .as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.to_string());
    assert_eq!(code.as_deref(), Some("42501"), "{denied}");
    for relation in [
        "v_expiring_trials",
        "v_open_findings",
        "v_customer_360",
        "findings",
        "customers",
        "provider_accounts",
        "sync_runs",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {relation}"))
            .fetch_one(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("analyst reads {relation}: {e}"));
        assert!(n > 0, "{relation} is empty");
    }
    sqlx::query("RESET ROLE").execute(&mut *conn).await.unwrap();
    drop(conn);
    world.server.stop().await;
    db.cleanup().await;
}

on_both_backends!(a_first_reconcile_after_a_sync_rewrites_no_elkassa_match_rule => sync_records_match_rules);

/// Sync records the rule reconcile would match an ELKASSA account by, so
/// the first reconcile of a synced warehouse has no account to rewrite.
async fn sync_records_match_rules(db: &TestWarehouse) {
    let server = partner(300, rekon::sim::Faults::default()).await;
    sync(&db.warehouse, &config_for(&server)).await;
    let rules = query_pairs(
        &db.warehouse,
        "SELECT COALESCE(match_rule, 'unset') || CASE WHEN customer_id IS NULL THEN ':none' ELSE ':customer' END, \
         COUNT(*) FROM provider_accounts GROUP BY 1 ORDER BY 1",
    )
    .await;
    assert!(
        rules
            .iter()
            .all(|(rule, _)| rule == "email:customer" || rule == "new:none"),
        "{rules:?}"
    );
    assert!(rules
        .iter()
        .any(|(rule, n)| rule == "email:customer" && *n > 0));
    let report = reconcile(&db.warehouse).await;
    assert_eq!(report.stored.match_rules, 0, "{rules:?}");
    server.stop().await;
}
