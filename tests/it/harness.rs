//! Test helpers: warehouses on both backends, a simulated partner, sync runs.

use rekon::config::{Config, ElkassaConfig, SyncConfig};
use rekon::sim::{Faults, SimConfig, SimServer, Simulator};
use rekon::sync::{sync_all, SyncOptions, SyncReport};
use rekon::warehouse::{admin_connection, with_database, Warehouse};
use std::sync::atomic::{AtomicU32, Ordering};

/// Where the Postgres tests find a server: `REKON_TEST_DATABASE_URL`, else
/// `DATABASE_URL`, else the local server. Tests fail (never skip) without one.
pub fn postgres_server_url() -> String {
    std::env::var("REKON_TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .ok()
        .filter(|url| url.starts_with("postgres"))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A migrated warehouse that is removed when the test ends well.
pub struct TestWarehouse {
    /// The open warehouse.
    pub warehouse: Warehouse,
    /// Its URL, for spawned processes.
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Database { server: String, name: String },
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl TestWarehouse {
    /// A fresh SQLite file in a temporary folder.
    pub async fn sqlite() -> Self {
        let db = Self::sqlite_unmigrated().await;
        db.warehouse.migrate().await.expect("migrate sqlite");
        db
    }

    /// [`Self::sqlite`] before any migration.
    pub async fn sqlite_unmigrated() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("warehouse.sqlite").display());
        let warehouse = Warehouse::connect(&url, 4)
            .await
            .expect("open sqlite warehouse");
        Self {
            warehouse,
            url,
            cleanup: Cleanup::Dir(dir),
        }
    }

    /// A fresh database on the Postgres server; panics loudly when there is none.
    pub async fn postgres() -> Self {
        let db = Self::postgres_unmigrated().await;
        db.warehouse.migrate().await.expect("migrate postgres");
        db
    }

    /// [`Self::postgres`] before any migration.
    pub async fn postgres_unmigrated() -> Self {
        let server = postgres_server_url();
        let name = format!(
            "rekon_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            rand_suffix()
        );
        let mut admin = admin_connection(&server).await.unwrap_or_else(|err| {
            panic!("Postgres tests need a server (set REKON_TEST_DATABASE_URL or run scripts/test): {err}")
        });
        admin
            .execute_raw(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        let url = with_database(&server, &name);
        let warehouse = Warehouse::connect(&url, 4)
            .await
            .expect("open postgres warehouse");
        Self {
            warehouse,
            url,
            cleanup: Cleanup::Database { server, name },
        }
    }

    /// Closes the pool and drops the database (SQLite files go with the temp dir).
    pub async fn cleanup(self) {
        self.warehouse.close().await;
        if let Cleanup::Database { server, name } = &self.cleanup {
            let mut admin = admin_connection(server).await.expect("admin connection");
            admin
                .execute_raw(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
                .expect("drop test database");
        }
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
}

/// Starts a simulated ELKASSA on port 0.
pub async fn partner(users: u32, faults: Faults) -> SimServer {
    let sim = Simulator::new(SimConfig {
        faults,
        ..SimConfig::new(users, 11)
    });
    SimServer::start(sim).await.expect("start simulator")
}

/// A configuration pointing at `server`, with fast retries for tests.
pub fn config_for(server: &SimServer) -> Config {
    let elkassa = ElkassaConfig {
        retry_base_ms: 5,
        max_retries: 8,
        timeout_secs: 5,
        ..ElkassaConfig::new(server.base_url(), server.sim().key(), server.sim().token())
    };
    Config {
        elkassa: Some(elkassa),
        sync: SyncConfig {
            batch_pages: 7,
            concurrency: 4,
            ..SyncConfig::default()
        },
        ..Config::default()
    }
}

/// Runs one sync without a progress bar.
pub async fn sync(warehouse: &Warehouse, config: &Config) -> SyncReport {
    let options = SyncOptions {
        job: "test".to_owned(),
        show_progress: false,
        ..SyncOptions::default()
    };
    sync_all(warehouse, config, &options)
        .await
        .expect("sync writes its run row")
}

/// Distinct ELKASSA ids in the warehouse with how often each appears.
pub async fn account_ids(warehouse: &Warehouse) -> Vec<(String, i64)> {
    query_pairs(warehouse, "SELECT external_id, COUNT(*) FROM provider_accounts WHERE provider = 'elkassa' GROUP BY external_id ORDER BY external_id").await
}

/// Runs a two-column (text, bigint) query on either backend.
pub async fn query_pairs(warehouse: &Warehouse, sql: &str) -> Vec<(String, i64)> {
    match warehouse {
        Warehouse::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await.expect(sql),
        Warehouse::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await.expect(sql),
    }
}

/// Runs one statement on either backend.
pub async fn execute(warehouse: &Warehouse, sql: &str) {
    match warehouse {
        Warehouse::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(drop),
        Warehouse::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(drop),
    }
    .expect(sql)
}

/// Runs a single-number query on either backend.
pub async fn scalar(warehouse: &Warehouse, sql: &str) -> i64 {
    match warehouse {
        Warehouse::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql),
        Warehouse::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql),
    }
}

/// Runs a single-text query on either backend.
pub async fn text(warehouse: &Warehouse, sql: &str) -> Option<String> {
    match warehouse {
        Warehouse::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql),
        Warehouse::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql),
    }
}

/// Sorted distinct ids the simulator lists now.
pub fn sim_ids(server: &SimServer) -> Vec<String> {
    let mut ids = server.sim().listed_ids();
    ids.sort();
    ids.dedup();
    ids
}

/// Evaluates `$body` with `$pool` bound to the warehouse's pool, whichever
/// backend it is (the body is compiled once per backend).
#[macro_export]
macro_rules! with_pool {
    ($warehouse:expr, $pool:ident => $body:expr) => {
        match $warehouse {
            rekon::warehouse::Warehouse::Sqlite($pool) => $body,
            rekon::warehouse::Warehouse::Postgres($pool) => $body,
        }
    };
}

/// Declares `mod $name { on_sqlite, on_postgres }` running the async fn
/// `$check(&TestWarehouse)` against a fresh warehouse of each backend,
/// migrated, or as the two named constructors make it (e.g.
/// `sqlite_unmigrated, postgres_unmigrated` for a check that migrates).
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident => $check:ident) => {
        $crate::on_both_backends!($name => $check, sqlite, postgres);
    };
    ($name:ident => $check:ident, $sqlite:ident, $postgres:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                let db = $crate::harness::TestWarehouse::$sqlite().await;
                super::$check(&db).await;
                db.cleanup().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                let db = $crate::harness::TestWarehouse::$postgres().await;
                super::$check(&db).await;
                db.cleanup().await;
            }
        }
    };
}
