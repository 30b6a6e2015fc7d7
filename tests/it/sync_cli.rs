//! The `rekon` binary: exit codes, and secrets kept out of every output.

use crate::harness::*;
use rekon::sim::Faults;
use std::process::Command;

const WRONG_KEY: &str = "wrong-key-9f3c1d7e";
const WRONG_TOKEN: &str = "wrong-token-4b8a2e6f";

fn rekon(database_url: &str, base_url: &str, key: &str, token: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rekon"));
    command
        .args(["sync", "--no-progress", "-vv"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("REKON_ELKASSA_BASE_URL", base_url)
        .env("REKON_ELKASSA_KEY", key)
        .env("REKON_ELKASSA_TOKEN", token)
        .env("REKON_ELKASSA_RETRY_BASE_MS", "5")
        .env("RUST_LOG", "trace");
    command
}

/// Runs `rekon sync` off the async runtime; returns its exit code and everything it printed.
async fn run_sync(
    database_url: &str,
    base_url: &str,
    key: &str,
    token: &str,
) -> (Option<i32>, String) {
    let command = rekon(database_url, base_url, key, token);
    let output = tokio::task::spawn_blocking(move || { command }.output().unwrap())
        .await
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), printed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_exit_with_2_and_a_clear_error_that_shows_no_credential() {
    let db = TestWarehouse::sqlite().await;
    let server = partner(30, Faults::default()).await;
    let (code, printed) = run_sync(&db.url, &server.base_url(), WRONG_KEY, WRONG_TOKEN).await;
    assert_eq!(code, Some(2), "{printed}");
    assert!(printed.contains("Invalid key or token"), "{printed}");
    assert!(
        printed.contains("REKON_ELKASSA_KEY"),
        "the error says what to check: {printed}"
    );
    assert!(
        !printed.contains(WRONG_KEY) && !printed.contains(WRONG_TOKEN),
        "{printed}"
    );
    let error = text(
        &db.warehouse,
        "SELECT error FROM sync_runs ORDER BY run_id DESC LIMIT 1",
    )
    .await
    .unwrap();
    assert!(!error.contains(WRONG_KEY) && !error.contains(WRONG_TOKEN));
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_successful_sync_at_trace_level_logs_no_credential_and_exits_0() {
    let db = TestWarehouse::sqlite().await;
    let faults = Faults {
        error_burst: 2,
        drop_rate: 0.05,
        ..Faults::default()
    };
    let server = partner(60, faults).await;
    let sim = server.sim();
    let (code, printed) = run_sync(&db.url, &server.base_url(), sim.key(), sim.token()).await;
    assert_eq!(code, Some(0), "{printed}");
    assert!(printed.contains("elkassa: run 1 succeeded"), "{printed}");
    assert!(
        printed.contains("retrying"),
        "trace output includes the retries: {printed}"
    );
    for secret in [server.sim().key(), server.sim().token()] {
        assert!(!printed.contains(secret), "{secret} leaked: {printed}");
    }
    let raw_mentions = scalar(
        &db.warehouse,
        "SELECT COUNT(*) FROM sync_runs WHERE error LIKE '%sim-key%'",
    )
    .await;
    assert_eq!(raw_mentions, 0);
    server.stop().await;
    db.cleanup().await;
}
