//! The morning report: a real headless Chromium renders the HTML file and
//! the chart is in the rendered DOM; exports are readable data files.

use crate::crafted;
use crate::harness::*;
use chrono::Utc;
use rekon::config::ReconcileConfig;
use rekon::reconcile::run_job;
use rekon::report::{export, html, ReportData};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/test-artifacts`, kept after the run for people to look at.
fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

/// `REKON_CHROMIUM`, else a Chromium or Chrome on PATH; the test fails without one.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("REKON_CHROMIUM").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!("no Chromium found: set REKON_CHROMIUM or run scripts/ensure-chromium.sh (scripts/test does)");
}

fn headless(page: &Path, profile: &Path, extra: &[String]) -> std::process::Output {
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1200,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_html_report_opens_in_headless_chromium_and_shows_the_chart() {
    let db = TestWarehouse::sqlite().await;
    let world = crafted::start(Utc::now()).await;
    crafted::build(&db.warehouse, &world).await;
    let config = ReconcileConfig::default();
    run_job(&db.warehouse, &config, Utc::now()).await.unwrap();
    run_job(&db.warehouse, &config, Utc::now()).await.unwrap();
    let data = ReportData::gather(&db.warehouse, Utc::now(), 20)
        .await
        .unwrap();
    let days_with_trials = data.expiring_per_day.iter().filter(|(_, n)| *n > 0).count();
    assert!(days_with_trials >= 1);

    let dir = artifacts();
    let page = dir.join("report.html");
    std::fs::write(&page, html::render(&data)).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let dom = headless(&page, profile.path(), &["--dump-dom".to_owned()]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("id=\"expiring-chart\""),
        "the chart is rendered: {dom}"
    );
    assert_eq!(
        dom.matches("<rect class=\"bar\"").count(),
        days_with_trials,
        "one bar per day with trials"
    );
    assert!(dom.contains("trial_expiring") && dom.contains("Run health"));

    let shot = dir.join("report.png");
    let _ = std::fs::remove_file(&shot);
    headless(
        &page,
        profile.path(),
        &[format!("--screenshot={}", shot.display())],
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot"
    );
    world.server.stop().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_and_expiring_trials_export_as_csv_parquet_and_json() {
    let db = TestWarehouse::sqlite().await;
    let world = crafted::start(Utc::now()).await;
    crafted::build(&db.warehouse, &world).await;
    run_job(&db.warehouse, &ReconcileConfig::default(), Utc::now())
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let total: u64 = crafted::EXPECTED.iter().map(|(_, n)| n).sum();
    for format in [
        export::Format::Csv,
        export::Format::Json,
        export::Format::Parquet,
    ] {
        let written = export::export(&db.warehouse, format, out.path())
            .await
            .unwrap();
        assert_eq!(written.len(), 2);
        assert!(written
            .iter()
            .all(|p| std::fs::metadata(p).unwrap().len() > 0));
    }
    let csv = std::fs::read_to_string(out.path().join("findings.csv")).unwrap();
    assert_eq!(
        csv.lines().count() as u64,
        total + 1,
        "a header and one line per open finding"
    );
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("expiring_trials.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(json.as_array().map(Vec::len), Some(4));
    world.server.stop().await;
    db.cleanup().await;
}
