//! Job files: the shipped jobs' run times at fixed instants, and errors that
//! name the file and the field.

use super::job::{load_job, load_jobs, Job};
use super::steps::Step;
use chrono::{DateTime, TimeZone, Utc};
use std::path::{Path, PathBuf};

fn shipped(name: &str) -> Job {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs");
    load_job(&dir, name).unwrap_or_else(|err| panic!("{err:#}"))
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

fn next_utc(job: &Job, after: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    job.next_runs(after, 3)
        .into_iter()
        .map(|at| at.with_timezone(&Utc))
        .collect()
}

/// Writes `text` as `<name>.toml` in a fresh folder and loads it.
fn load_text(name: &str, text: &str) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    let err = Job::load(&file).map(|_| ()).expect_err("must be refused");
    (dir, file, format!("{err:#}"))
}

const SYNC_STEP: &str = "\n[[steps]]\nstep = \"sync\"\n";

#[test]
fn every_shipped_job_file_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs");
    let jobs = load_jobs(&dir).unwrap_or_else(|err| panic!("{err:#}"));
    let names: Vec<_> = jobs.iter().map(|job| job.name.as_str()).collect();
    assert_eq!(names, ["inbox", "nightly", "weekly"]);
    assert!(jobs
        .iter()
        .all(|job| job.timezone == chrono_tz::Asia::Jakarta));
}

#[test]
fn the_nightly_job_runs_at_two_in_jakarta_which_is_seven_in_the_evening_utc_the_day_before() {
    let nightly = shipped("nightly");
    // Sunday 19:00 WIB: the next 02:00 WIB is Monday, still Sunday in UTC.
    assert_eq!(
        next_utc(&nightly, utc(2026, 11, 22, 12, 0, 0)),
        [
            utc(2026, 11, 22, 19, 0, 0),
            utc(2026, 11, 23, 19, 0, 0),
            utc(2026, 11, 24, 19, 0, 0)
        ]
    );
    let shown = nightly.next_runs(utc(2026, 11, 22, 12, 0, 0), 1)[0].to_string();
    assert_eq!(shown, "2026-11-23 02:00:00 WIB");
}

#[test]
fn a_run_time_is_strictly_after_the_instant_asked_about() {
    let nightly = shipped("nightly");
    assert_eq!(
        nightly.next_after(utc(2026, 11, 22, 19, 0, 0)),
        Some(utc(2026, 11, 23, 19, 0, 0))
    );
    assert_eq!(
        nightly.previous_before(utc(2026, 11, 22, 19, 0, 0)),
        Some(utc(2026, 11, 20, 19, 0, 0)),
        "Saturday 02:00 WIB: the nightly skips Sundays"
    );
    assert_eq!(
        nightly.previous_before(utc(2026, 11, 22, 19, 0, 1)),
        Some(utc(2026, 11, 22, 19, 0, 0))
    );
}

#[test]
fn on_sunday_the_weekly_job_takes_the_nightly_slot() {
    let (nightly, weekly) = (shipped("nightly"), shipped("weekly"));
    // Saturday 03:00 WIB.
    let saturday = utc(2026, 11, 27, 20, 0, 0);
    assert_eq!(
        nightly.next_after(saturday),
        Some(utc(2026, 11, 29, 19, 0, 0)),
        "Monday 02:00 WIB: no nightly on Sunday"
    );
    assert_eq!(
        next_utc(&weekly, saturday),
        [
            utc(2026, 11, 28, 19, 0, 0),
            utc(2026, 12, 5, 19, 0, 0),
            utc(2026, 12, 12, 19, 0, 0)
        ],
        "Sundays 02:00 WIB are Saturdays 19:00 UTC"
    );
}

#[test]
fn the_inbox_watch_runs_every_five_minutes_across_midnight_in_jakarta_and_in_utc() {
    let inbox = shipped("inbox");
    // 23:58:30 WIB on New Year's Eve.
    assert_eq!(
        next_utc(&inbox, utc(2026, 12, 31, 16, 58, 30)),
        [
            utc(2026, 12, 31, 17, 0, 0),
            utc(2026, 12, 31, 17, 5, 0),
            utc(2026, 12, 31, 17, 10, 0)
        ]
    );
    let first = inbox.next_runs(utc(2026, 12, 31, 16, 58, 30), 1)[0].to_string();
    assert_eq!(first, "2027-01-01 00:00:00 WIB");
    assert_eq!(
        next_utc(&inbox, utc(2026, 12, 31, 23, 57, 0)),
        [
            utc(2027, 1, 1, 0, 0, 0),
            utc(2027, 1, 1, 0, 5, 0),
            utc(2027, 1, 1, 0, 10, 0)
        ]
    );
}

#[test]
fn the_weekly_job_is_patient_and_names_its_step_rows_after_itself() {
    let weekly = shipped("weekly");
    let Step::Sync(sync) = &weekly.steps[0] else {
        panic!("first step is a sync: {:?}", weekly.steps)
    };
    assert_eq!(sync.max_drift_rounds, Some(12));
    assert_eq!(sync.job, "weekly.sync");
    assert_eq!(
        weekly.run_jobs(),
        ["weekly", "weekly.sync", "weekly.reconcile"]
    );
    assert_eq!(weekly.steps[1].name(), "reconcile");
}

#[test]
fn a_job_file_with_a_bad_cron_expression_names_the_file_and_field() {
    let text = format!("cron = \"0 61 * * * *\"\ntimezone = \"Asia/Jakarta\"{SYNC_STEP}");
    let (_dir, file, shown) = load_text("broken", &text);
    assert!(shown.contains(&file.display().to_string()), "{shown}");
    assert!(shown.contains("cron: \"0 61 * * * *\""), "{shown}");
}

#[test]
fn a_five_field_crontab_line_is_refused_with_the_expected_layout() {
    let text = format!("cron = \"0 2 * * *\"\ntimezone = \"Asia/Jakarta\"{SYNC_STEP}");
    let (_dir, _file, shown) = load_text("crontab", &text);
    assert!(
        shown.contains("cron:") && shown.contains("expected 6 or 7"),
        "{shown}"
    );
}

#[test]
fn an_unknown_step_names_its_position_and_the_known_steps() {
    let text = format!(
        "cron = \"0 0 2 * * *\"\ntimezone = \"Asia/Jakarta\"{SYNC_STEP}\n[[steps]]\nstep = \"reconcil\"\n"
    );
    let (_dir, _file, shown) = load_text("typo", &text);
    assert!(shown.contains("steps[1].step"), "{shown}");
    assert!(
        shown.contains("\"reconcil\"") && shown.contains("onboard_inbox"),
        "{shown}"
    );
}

#[test]
fn step_options_are_checked_at_load_time() {
    let base = "cron = \"0 0 2 * * *\"\ntimezone = \"Asia/Jakarta\"\n[[steps]]\n";
    let cases = [
        (
            "step = \"sync\"\npartners = [\"elkasa\"]\n",
            "steps[0].partners",
            "elkasa",
        ),
        (
            "step = \"sync\"\npartnrs = [\"qm\"]\n",
            "steps[0]",
            "partnrs",
        ),
        ("step = \"reconcile\"\nwindow = 3\n", "steps[0]", "window"),
        ("step = \"onboard_inbox\"\n", "steps[0]", "inbox"),
        (
            "step = \"sync\"\nconcurrency = 0\n",
            "steps[0].concurrency",
            "at least 1",
        ),
        ("partners = [\"qm\"]\n", "steps[0].step", "missing"),
        (
            "step = \"sync\"\njob = \"nightly.sync\"\n",
            "steps[0].job",
            "must start with \"options.\"",
        ),
    ];
    for (step, field, detail) in cases {
        let (_dir, _file, shown) = load_text("options", &format!("{base}{step}"));
        assert!(
            shown.contains(field) && shown.contains(detail),
            "{step}: {shown}"
        );
    }
}

#[test]
fn a_bad_time_zone_or_a_missing_key_names_the_field() {
    let text = format!("cron = \"0 0 2 * * *\"\ntimezone = \"Asia/Djakarta\"{SYNC_STEP}");
    let (_dir, _file, shown) = load_text("zone", &text);
    assert!(shown.contains("timezone: unknown time zone"), "{shown}");
    let (_dir, file, shown) = load_text("nocron", &format!("timezone = \"UTC\"{SYNC_STEP}"));
    assert!(
        shown.contains("cron") && shown.contains(&file.display().to_string()),
        "{shown}"
    );
    let (_dir, _file, shown) = load_text("nosteps", "cron = \"0 0 2 * * *\"\ntimezone = \"UTC\"\n");
    assert!(shown.contains("steps:"), "{shown}");
}

#[test]
fn a_job_file_name_that_could_not_be_a_lock_or_label_is_refused() {
    let text = format!("cron = \"0 0 2 * * *\"\ntimezone = \"UTC\"{SYNC_STEP}");
    for name in ["Nightly", "night ly", "nightly.sync"] {
        let (_dir, _file, shown) = load_text(name, &text);
        assert!(shown.contains("file name"), "{name}: {shown}");
    }
}

#[test]
fn running_an_unknown_job_lists_the_jobs_there_are() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs");
    let err = load_job(&dir, "nighty").unwrap_err();
    let shown = format!("{err:#}");
    assert!(
        shown.contains("nighty") && shown.contains("inbox, nightly, weekly"),
        "{shown}"
    );
}
