//! Scheduled operation through the real binary: job files, `rekon run`,
//! `rekon schedule` (two at once on one database, one killed mid-run), and
//! SIGTERM during a sync.

use crate::harness::*;
use rekon::sim::{Faults, SimConfig, SimServer, Simulator};
use rekon::warehouse::Warehouse;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A simulated ELKASSA whose listing pages are exactly the listed ids in
/// order, ten a page (no repeated entries), so committed pages can be checked.
pub async fn plain_partner(users: u32, latency_ms: u64) -> SimServer {
    let sim = Simulator::new(SimConfig {
        duplicate_rate: 0.0,
        faults: Faults {
            latency_ms,
            ..Faults::default()
        },
        ..SimConfig::new(users, 7)
    });
    SimServer::start(sim).await.expect("start simulator")
}

/// `rekon ARGS` against `database_url` and `server`, logs to `log`.
pub fn rekon(database_url: &str, server: &SimServer, args: &[&str], log: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rekon"));
    let sim = server.sim();
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("REKON_ELKASSA_BASE_URL", server.base_url())
        .env("REKON_ELKASSA_KEY", sim.key())
        .env("REKON_ELKASSA_TOKEN", sim.token())
        .env("REKON_ELKASSA_RETRY_BASE_MS", "5")
        .env("REKON_SYNC_BATCH_PAGES", "2")
        .env("REKON_SYNC_CONCURRENCY", "2")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(log.with_extension("out")).unwrap())
        .stderr(std::fs::File::create(log).unwrap());
    command
}

/// Everything a process printed (stdout, then the log on stderr).
pub fn printed(log: &Path) -> String {
    let out = std::fs::read_to_string(log.with_extension("out")).unwrap_or_default();
    format!("{out}{}", std::fs::read_to_string(log).unwrap_or_default())
}

/// A jobs folder with one job, `sync` of ELKASSA at `cron`.
pub fn jobs_dir(dir: &Path, job: &str, cron: &str) -> PathBuf {
    let jobs = dir.join("jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    let text = format!(
        "cron = \"{cron}\"\ntimezone = \"Asia/Jakarta\"\n\n[[steps]]\nstep = \"sync\"\npartners = [\"elkassa\"]\n"
    );
    std::fs::write(jobs.join(format!("{job}.toml")), text).unwrap();
    jobs
}

/// Polls `check` every 100 ms until it holds; panics after `limit`.
pub async fn wait_until<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for `child` to exit; `None` if it is still running after `limit`.
pub async fn exit_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn terminate(child: &Child) {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -TERM failed");
}

/// Runs a command to its end off the async runtime.
pub async fn finish(mut command: Command) -> ExitStatus {
    tokio::task::spawn_blocking(move || command.status().unwrap())
        .await
        .unwrap()
}

/// (run_id, job, status, counts as text) of every run, oldest first.
pub async fn runs(warehouse: &Warehouse) -> Vec<(i64, String, String, String)> {
    let sql = "SELECT run_id, job, status, CAST(counts AS TEXT) FROM sync_runs ORDER BY run_id";
    match warehouse {
        Warehouse::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
        Warehouse::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
    }
}

pub async fn committed_pages(warehouse: &Warehouse, job: &str) -> i64 {
    let sql = format!(
        "SELECT COUNT(*) FROM sync_pages p JOIN sync_runs r USING (run_id) WHERE r.job = '{job}'"
    );
    scalar(warehouse, &sql).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_file_with_a_bad_cron_expression_exits_2_naming_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = jobs_dir(dir.path(), "broken", "0 61 2 * * *");
    let server = plain_partner(10, 0).await;
    let url = format!("sqlite://{}", dir.path().join("w.sqlite").display());
    for args in [
        vec!["jobs", "list", "--jobs-dir"],
        vec!["run", "broken", "--jobs-dir"],
        vec!["schedule", "--jobs-dir"],
    ] {
        let log = dir.path().join("cli.log");
        let mut args = args.clone();
        let jobs = jobs.display().to_string();
        args.push(&jobs);
        let status = finish(rekon(&url, &server, &args, &log)).await;
        let shown = printed(&log);
        assert_eq!(status.code(), Some(2), "{args:?}: {shown}");
        let file = jobs.clone() + "/broken.toml";
        assert!(
            shown.contains(&format!("job file {file}: cron: \"0 61 2 * * *\"")),
            "{args:?}: {shown}"
        );
    }
    assert!(
        !dir.path().join("w.sqlite").exists(),
        "nothing ran: the warehouse was never opened"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_list_shows_the_next_three_run_times_of_every_shipped_job() {
    let dir = tempfile::tempdir().unwrap();
    let server = plain_partner(10, 0).await;
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs");
    let log = dir.path().join("list.log");
    let args = ["jobs", "list", "--jobs-dir", shipped.to_str().unwrap()];
    let status = finish(rekon("sqlite://unused", &server, &args, &log)).await;
    let shown = printed(&log);
    assert_eq!(status.code(), Some(0), "{shown}");
    for job in ["inbox", "nightly", "weekly"] {
        assert!(shown.contains(&format!("{job}  cron")), "{shown}");
    }
    assert_eq!(shown.matches("  next: ").count(), 9, "{shown}");
    assert!(shown.contains(" WIB  ("), "{shown}");
    server.stop().await;
}

crate::on_both_backends!(a_job_run_records_its_steps_and_rewrites_the_metrics_file => job_run_is_recorded);

async fn job_run_is_recorded(db: &TestWarehouse) {
    let dir = tempfile::tempdir().unwrap();
    let jobs = jobs_dir(dir.path(), "hourly", "0 0 * * * *");
    let server = plain_partner(45, 0).await;
    let metrics = dir.path().join("textfile").join("rekon.prom");
    let log = dir.path().join("run.log");
    let args = [
        "run",
        "hourly",
        "--no-progress",
        "--log-format",
        "json",
        "--jobs-dir",
        jobs.to_str().unwrap(),
    ];
    let mut command = rekon(&db.url, &server, &args, &log);
    command.env("REKON_SCHEDULE_METRICS_FILE", &metrics);
    let status = finish(command).await;
    let shown = printed(&log);
    assert_eq!(status.code(), Some(0), "{shown}");

    let rows = runs(&db.warehouse).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    // The job row is opened first, its sync step's row inside it.
    let (job_id, job, job_status, counts) = &rows[0];
    let (sync_id, sync_job, sync_status, _) = &rows[1];
    assert_eq!(
        (sync_job.as_str(), sync_status.as_str()),
        ("hourly.sync", "succeeded")
    );
    assert_eq!((job.as_str(), job_status.as_str()), ("hourly", "succeeded"));
    let counts: serde_json::Value = serde_json::from_str(counts).unwrap();
    let step = &counts["job"]["steps"][0];
    assert_eq!(step["step"], "sync");
    assert_eq!(step["status"], "succeeded");
    assert_eq!(step["run_ids"], serde_json::json!([sync_id]));
    assert_eq!(step["counts"]["elkassa"]["counts"]["accounts"], 45);
    assert!(step["seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(counts["job"]["trigger"], "manual");

    let job_line = format!("\"run_id\":{job_id}");
    assert!(
        shown
            .lines()
            .any(|l| l.contains(&job_line) && l.contains("job run finished")),
        "JSON log lines carry the job's run id: {shown}"
    );
    let text = std::fs::read_to_string(&metrics).unwrap();
    for line in [
        "rekon_runs_total{job=\"hourly\",status=\"succeeded\"} 1",
        "rekon_runs_total{job=\"hourly\",status=\"failed\"} 0",
        "rekon_records_total{job=\"hourly\"} 45",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    assert!(text.contains("rekon_last_success_timestamp_seconds{job=\"hourly\"} "));
    assert!(text.contains("rekon_run_duration_seconds{job=\"hourly\"} "));
    server.stop().await;
}

/// How many runs of `job` each scheduled tick got.
async fn runs_per_tick(warehouse: &Warehouse, job: &str) -> BTreeMap<String, u32> {
    let mut per_tick = BTreeMap::new();
    for (_, name, _, counts) in runs(warehouse).await {
        if name == job {
            let counts: serde_json::Value = serde_json::from_str(&counts).unwrap();
            assert_eq!(counts["job"]["trigger"], "schedule", "{counts}");
            let tick = counts["job"]["scheduled_for"].as_str().unwrap().to_owned();
            *per_tick.entry(tick).or_default() += 1;
        }
    }
    per_tick
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_on_one_postgres_database_run_each_due_tick_exactly_once() {
    let db = TestWarehouse::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let jobs = jobs_dir(dir.path(), "often", "*/3 * * * * *");
    let server = plain_partner(30, 0).await;
    let args = ["schedule", "--jobs-dir", jobs.to_str().unwrap()];
    let logs = [dir.path().join("a.log"), dir.path().join("b.log")];
    let mut schedulers: Vec<Child> = logs
        .iter()
        .map(|log| rekon(&db.url, &server, &args, log).spawn().unwrap())
        .collect();

    let finished_job_runs =
        "SELECT COUNT(*) FROM sync_runs WHERE job = 'often' AND status <> 'running'";
    wait_until(
        Duration::from_secs(60),
        "five finished job runs",
        || async { scalar(&db.warehouse, finished_job_runs).await >= 5 },
    )
    .await;
    for child in &schedulers {
        terminate(child);
    }
    for (child, log) in schedulers.iter_mut().zip(&logs) {
        let status = exit_within(child, Duration::from_secs(30)).await;
        let status = status.unwrap_or_else(|| panic!("scheduler did not stop: {}", printed(log)));
        assert!(
            matches!(status.code(), Some(0 | 2)),
            "{status:?}: {}",
            printed(log)
        );
    }

    let per_tick = runs_per_tick(&db.warehouse, "often").await;
    assert!(
        per_tick.values().all(|&runs| runs == 1),
        "a tick ran twice: {per_tick:?}"
    );
    let ticks: Vec<chrono::DateTime<chrono::Utc>> =
        per_tick.keys().map(|tick| tick.parse().unwrap()).collect();
    assert!(ticks.len() >= 5, "{per_tick:?}");
    assert!(
        ticks
            .windows(2)
            .all(|pair| (pair[1] - pair[0]).num_seconds() == 3),
        "every tick between the first and the last ran: {per_tick:?}"
    );
    let skipped = logs
        .iter()
        .map(|log| {
            let shown = printed(log);
            shown.matches("skipped: another run").count()
                + shown.matches("skipped: a run since").count()
        })
        .sum::<usize>();
    assert!(skipped >= 1, "the two schedulers really competed for ticks");
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduler_started_after_a_missed_tick_runs_the_job_once_at_once() {
    let db = TestWarehouse::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let jobs = jobs_dir(dir.path(), "daily", "0 0 2 * * *");
    // The job last ran three days ago: at least two 02:00 ticks were missed.
    let long_ago = chrono::Utc::now() - chrono::Duration::days(3);
    let old = db.warehouse.start_run("daily", long_ago).await.unwrap();
    let done = rekon::warehouse::RunSummary {
        status: rekon::outcome::RunStatus::Succeeded,
        ..Default::default()
    };
    db.warehouse.finish_run(old, long_ago, &done).await.unwrap();
    let server = plain_partner(20, 0).await;
    let log = dir.path().join("schedule.log");
    let args = ["schedule", "--jobs-dir", jobs.to_str().unwrap()];
    let mut scheduler = rekon(&db.url, &server, &args, &log).spawn().unwrap();
    let caught_up = "SELECT COUNT(*) FROM sync_runs WHERE job = 'daily' AND status = 'succeeded'";
    wait_until(Duration::from_secs(60), "the catch-up run", || async {
        scalar(&db.warehouse, caught_up).await >= 2
    })
    .await;
    terminate(&scheduler);
    let status = exit_within(&mut scheduler, Duration::from_secs(30)).await;
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", printed(&log));

    let rows: Vec<_> = runs(&db.warehouse)
        .await
        .into_iter()
        .filter(|r| r.1 == "daily")
        .collect();
    assert_eq!(
        rows.len(),
        2,
        "one catch-up run, not one per missed tick: {rows:?}"
    );
    let counts: serde_json::Value = serde_json::from_str(&rows[1].3).unwrap();
    assert_eq!(counts["job"]["trigger"], "catch_up", "{counts}");
    let tick: chrono::DateTime<chrono::Utc> = counts["job"]["scheduled_for"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        chrono::Utc::now() - tick < chrono::Duration::days(1),
        "the latest missed tick: {tick}"
    );
    server.stop().await;
    db.cleanup().await;
}
