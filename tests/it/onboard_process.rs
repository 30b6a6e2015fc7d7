//! `rekon onboard` as a process: killed midway and run again, and checked
//! for secrets in everything it prints and writes.

use crate::onboard_register::{mixed_drop, partners, PASSWORD};
use rekon::sim::{Faults, SimServer};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROWS: u32 = 30;

/// A rekon.toml pointing every partner at `server`.
fn config_file(dir: &Path, server: &SimServer, per_sec: f64) -> PathBuf {
    let sim = server.sim();
    let partners = sim.partner_config();
    let url = server.base_url();
    let text = format!(
        "[elkassa]\nbase_url = \"{url}\"\nkey = \"{}\"\ntoken = \"{}\"\nretry_base_ms = 5\ntimeout_secs = 5\n\
         [mcp]\nbase_url = \"{url}\"\napi_key = \"{}\"\njwt = \"{}\"\n\
         [middleware]\nbase_url = \"{url}\"\nusername = \"{}\"\npassword = \"{}\"\n\
         [qm]\nbase_url = \"{url}\"\napi_key = \"{}\"\napi_secret = \"{}\"\n\
         [onboard]\nidentity_hash_key = \"process-test-key\"\nconcurrency = 2\nsettle_secs = 0\n\
         elkassa_per_sec = {per_sec}\nmcp_per_sec = {per_sec}\nmiddleware_per_sec = {per_sec}\nqm_per_sec = {per_sec}\n",
        sim.key(),
        sim.token(),
        partners.mcp_api_key,
        sim.mcp_jwt(),
        partners.middleware_username,
        partners.middleware_password,
        partners.qm_key,
        partners.qm_secret,
    );
    let path = dir.join("rekon.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `ROWS` valid rows for every partner.
fn big_drop(dir: &Path) -> PathBuf {
    let mut lines =
        vec!["ref,name,company,email,phone,address,nik,user_type,password,logo".to_owned()];
    for n in 1..=ROWS {
        lines.push(format!(
            "K{n},Pelanggan {n},Toko {n},kill{n}@example.test,0812-7777-{n:04},Jl. Kill {n},31740155019{n:05},retail,{PASSWORD},k{n}.png"
        ));
    }
    let path = dir.join("kill.csv");
    std::fs::write(&path, lines.join("\n")).unwrap();
    path
}

fn rekon(config: &Path, database: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rekon"));
    command
        .arg("--config")
        .arg(config)
        .arg("--database-url")
        .arg(database)
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1");
    command
}

async fn registered(url: &str) -> i64 {
    let warehouse = rekon::warehouse::Warehouse::connect(url, 1).await.unwrap();
    let count = crate::harness::scalar(
        &warehouse,
        "SELECT COUNT(*) FROM registrations WHERE state = 'registered'",
    )
    .await;
    warehouse.close().await;
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_midway_and_run_again_registers_everyone_exactly_once() {
    let server = partners(Faults {
        latency_ms: 60,
        ..Faults::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let drop = big_drop(dir.path());
    let config = config_file(dir.path(), &server, 1000.0);
    let url = format!("sqlite://{}", dir.path().join("warehouse.sqlite").display());
    rekon(&config, &url).arg("migrate").output().unwrap();
    let mut child = rekon(&config, &url)
        .args(["onboard", "--no-progress"])
        .arg(&drop)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut at_kill = 0;
    while at_kill < 12 {
        assert!(Instant::now() < deadline, "onboarding made no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before it could be killed"
        );
        at_kill = registered(&url).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL: no chance to tidy up
    child.wait().unwrap();
    let total = i64::from(ROWS) * 4;
    assert!(
        registered(&url).await < total,
        "the kill came too late to test anything"
    );

    server.sim().set_faults(Faults::default());
    let rerun = rekon(&config, &url)
        .args(["onboard", "--no-progress"])
        .arg(&drop)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&rerun.stdout).into_owned();
    assert_eq!(
        rerun.status.code(),
        Some(0),
        "{printed}{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let sim = server.sim();
    for n in 1..=ROWS {
        let email = format!("kill{n}@example.test");
        for partner in ["elkassa", "mcp", "qm"] {
            assert_eq!(
                sim.accounts_with_email(partner, &email),
                1,
                "{partner} {email}"
            );
        }
    }
    let warehouse = rekon::warehouse::Warehouse::connect(&url, 1).await.unwrap();
    let final_entries = crate::harness::scalar(
        &warehouse,
        "SELECT COUNT(*) FROM registrations WHERE state IN ('registered', 'already_registered')",
    )
    .await;
    assert_eq!(final_entries, total);
    let tickets =
        crate::harness::scalar(&warehouse, "SELECT COUNT(*) FROM enrollment_tickets").await;
    assert_eq!(
        tickets,
        i64::from(ROWS),
        "one ticket per row, however often it was posted"
    );
    warehouse.close().await;
    server.stop().await;
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_or_national_id_reaches_logs_the_warehouse_or_any_written_file() {
    let server = partners(Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    mixed_drop(&inbox, "secret.csv");
    let config = config_file(dir.path(), &server, 1000.0);
    let url = format!("sqlite://{}", dir.path().join("warehouse.sqlite").display());
    let output = rekon(&config, &url)
        .args([
            "-vv",
            "--log-format",
            "json",
            "onboard",
            "--no-progress",
            "--inbox",
        ])
        .arg(&inbox)
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "rows were rejected: {printed}"
    );
    assert!(printed.contains("archived as"), "{printed}");
    let nik = format!("317401550190{}", &NIK_SUFFIX);
    for secret in [PASSWORD, nik.as_str()] {
        assert!(!printed.contains(secret), "{secret} in the output");
        for file in files_under(dir.path()) {
            if file.ends_with("rekon.toml") {
                continue;
            }
            let bytes = std::fs::read(&file).unwrap();
            let found = bytes
                .windows(secret.len())
                .any(|window| window == secret.as_bytes());
            assert!(!found, "{secret} found in {}", file.display());
        }
    }
    let archived = std::fs::read_to_string(dir.path().join("archive").join("secret.csv")).unwrap();
    assert!(archived.contains("************0001"), "{archived}");
    assert!(
        !inbox.join("secret.csv").exists(),
        "the drop stays in the inbox"
    );
    server.stop().await;
}

/// The last digits of the first row's national ID in [`mixed_drop`].
const NIK_SUFFIX: &str = "0001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_job_registers_complete_drops_and_leaves_files_still_being_written() {
    let server = partners(Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    mixed_drop(&inbox, "ready.csv");
    std::fs::write(inbox.join("half.csv.part"), "ref,name\nP1,Partial").unwrap();
    let jobs = dir.path().join("jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    let job = format!(
        "cron = \"0 */5 * * * *\"\ntimezone = \"Asia/Jakarta\"\n\n[[steps]]\nstep = \"onboard_inbox\"\ninbox = \"{}\"\n",
        inbox.display()
    );
    std::fs::write(jobs.join("inbox.toml"), job).unwrap();
    let config = config_file(dir.path(), &server, 1000.0);
    let url = format!("sqlite://{}", dir.path().join("warehouse.sqlite").display());
    let output = rekon(&config, &url)
        .args(["run", "inbox", "--no-progress", "--jobs-dir"])
        .arg(&jobs)
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "the drop has rejected rows: {printed}"
    );
    assert!(
        dir.path().join("archive").join("ready.csv").exists(),
        "{printed}"
    );
    assert!(dir
        .path()
        .join("archive")
        .join("ready.results.csv")
        .exists());
    assert!(!inbox.join("ready.csv").exists());
    assert!(
        inbox.join("half.csv.part").exists(),
        "a file still being written was taken"
    );
    let warehouse = rekon::warehouse::Warehouse::connect(&url, 1).await.unwrap();
    let registered = crate::harness::scalar(
        &warehouse,
        "SELECT COUNT(*) FROM registrations WHERE state = 'registered'",
    )
    .await;
    assert_eq!(registered, 7 + 7 + 6 + 6);
    let file_runs = crate::harness::scalar(
        &warehouse,
        "SELECT COUNT(*) FROM sync_runs WHERE job = 'inbox.onboard' AND status = 'partial'",
    )
    .await;
    assert_eq!(file_runs, 1, "one run row for the one drop");
    warehouse.close().await;
    server.stop().await;
}
