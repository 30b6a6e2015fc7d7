//! Job files: `jobs/<name>.toml`, each a cron expression, a time zone and
//! the steps to run. Everything is checked when the file is loaded, so a
//! mistake stops the scheduler at start-up, not at 02:00.

use super::steps::{BadOption, Step};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use figment::providers::{Format, Toml};
use figment::value::{Dict, Value};
use figment::Figment;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Why a job file (or the jobs folder) cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The file is not the expected TOML shape.
    #[error("job file {}", file.display())]
    Invalid {
        /// The job file.
        file: PathBuf,
        /// What the TOML reader said (it names the key).
        source: Box<figment::Error>,
    },
    /// A field has a value that cannot work.
    #[error("job file {}: {field}: {reason}", file.display())]
    Field {
        /// The job file.
        file: PathBuf,
        /// Key in the file, e.g. `cron` or `steps[1].partners`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The jobs folder cannot be read.
    #[error("jobs folder {}", dir.display())]
    Folder {
        /// The folder.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `rekon run NAME` named no job file.
    #[error("no job {name:?}: {} does not exist (jobs: {known})", file.display())]
    Unknown {
        /// The name asked for.
        name: String,
        /// Where it was looked for.
        file: PathBuf,
        /// Jobs that do exist.
        known: String,
    },
}

/// A validated job.
#[derive(Debug, Clone)]
pub struct Job {
    /// Name: the file stem; `sync_runs.job` of the job's own rows.
    pub name: String,
    /// The file it was read from.
    pub file: PathBuf,
    /// What the job is for.
    pub description: Option<String>,
    /// The cron expression as written.
    pub cron: String,
    /// The parsed expression.
    pub schedule: cron::Schedule,
    /// Zone the expression is read in.
    pub timezone: Tz,
    /// Steps, run in order.
    pub steps: Vec<Step>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    description: Option<String>,
    cron: String,
    timezone: String,
    #[serde(default)]
    steps: Vec<RawStep>,
}

#[derive(Deserialize)]
struct RawStep {
    step: Option<String>,
    #[serde(flatten)]
    options: Dict,
}

impl Job {
    /// Reads and validates one job file.
    pub fn load(file: &Path) -> Result<Job, JobError> {
        let field = |field: &str, reason: String| JobError::Field {
            file: file.to_owned(),
            field: field.to_owned(),
            reason,
        };
        let name = file
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or_default()
            .to_owned();
        check_name(&name)
            .and_then(|()| match name.contains('.') {
                // A dot is kept for step rows (`nightly.sync`), so no job can take their name.
                true => Err(format!(
                    "{name:?} is not a job name: no '.' in job file names"
                )),
                false => Ok(()),
            })
            .map_err(|reason| field("file name", reason))?;
        let raw: RawJob = Figment::from(Toml::file_exact(file))
            .extract()
            .map_err(|source| JobError::Invalid {
                file: file.to_owned(),
                source: Box::new(source),
            })?;
        let schedule = parse_cron(&raw.cron).map_err(|reason| field("cron", reason))?;
        let timezone = crate::timezone::parse_zone(raw.timezone.trim())
            .map_err(|reason| field("timezone", reason))?;
        if raw.steps.is_empty() {
            return Err(field(
                "steps",
                "a job needs at least one [[steps]] table".into(),
            ));
        }
        let steps = raw
            .steps
            .into_iter()
            .enumerate()
            .map(|(index, raw)| {
                parse_step(index, raw, &name).map_err(|(key, reason)| field(&key, reason))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Job {
            name,
            file: file.to_owned(),
            description: raw.description,
            cron: raw.cron.trim().to_owned(),
            schedule,
            timezone,
            steps,
        })
    }

    /// The next `count` run times strictly after `after`, in the job's zone.
    pub fn next_runs(&self, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Tz>> {
        self.schedule
            .after(&after.with_timezone(&self.timezone))
            .take(count)
            .collect()
    }

    /// The first run time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.next_runs(after, 1)
            .first()
            .map(|at| at.with_timezone(&Utc))
    }

    /// The latest run time strictly before `before`.
    pub fn previous_before(&self, before: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule
            .after(&before.with_timezone(&self.timezone))
            .next_back()
            .map(|at| at.with_timezone(&Utc))
    }

    /// Every `sync_runs.job` this job writes: its own and its steps'.
    pub fn run_jobs(&self) -> Vec<String> {
        let mut names = vec![self.name.clone()];
        names.extend(self.steps.iter().flat_map(Step::run_jobs));
        names.dedup();
        names
    }
}

fn parse_step(index: usize, raw: RawStep, job: &str) -> Result<Step, (String, String)> {
    let at = |key: &str| {
        if key.is_empty() {
            format!("steps[{index}]")
        } else {
            format!("steps[{index}].{key}")
        }
    };
    let Some(kind) = raw.step else {
        return Err((
            at("step"),
            "missing (one of: sync, reconcile, onboard_inbox)".into(),
        ));
    };
    Step::parse(kind.trim(), &Value::from(raw.options), job)
        .map_err(|BadOption { key, reason }| (at(&key), reason))
}

/// Six or seven fields, seconds first. Five-field crontab lines are refused
/// rather than guessed at: this crate numbers weekdays 1-7 from Sunday,
/// crontab 0-6, so a silently shifted `* * * * 1` would run on the wrong day.
fn parse_cron(expression: &str) -> Result<cron::Schedule, String> {
    let expression = expression.trim();
    let fields = expression.split_whitespace().count();
    if !expression.starts_with('@') && !(6..=7).contains(&fields) {
        return Err(format!(
            "{expression:?} has {fields} fields; expected 6 or 7: \
             second minute hour day-of-month month day-of-week [year], e.g. \"0 0 2 * * *\""
        ));
    }
    let schedule = cron::Schedule::from_str(expression)
        .map_err(|err| format!("{expression:?} is not a cron expression: {err}"))?;
    if schedule.upcoming(Utc).next().is_none() {
        return Err(format!("{expression:?} never fires"));
    }
    Ok(schedule)
}

/// Job names end up in lock names, metric labels and file names: keep them plain.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.".contains(c);
    let starts_well = name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit());
    if starts_well && name.len() <= 64 && name.chars().all(plain) {
        return Ok(());
    }
    Err(format!(
        "{name:?} is not a job name: use lowercase letters, digits, '_', '-' or '.', starting with a letter or digit (at most 64)"
    ))
}

/// Loads every `*.toml` in `dir`, sorted by name; the first invalid file stops it.
pub fn load_jobs(dir: &Path) -> Result<Vec<Job>, JobError> {
    job_files(dir)?.iter().map(|file| Job::load(file)).collect()
}

/// Loads the job called `name` from `dir`.
pub fn load_job(dir: &Path, name: &str) -> Result<Job, JobError> {
    let file = dir.join(format!("{name}.toml"));
    if !file.is_file() {
        let known = job_names(dir).unwrap_or_default().join(", ");
        return Err(JobError::Unknown {
            name: name.to_owned(),
            file,
            known: if known.is_empty() {
                "none".into()
            } else {
                known
            },
        });
    }
    Job::load(&file)
}

/// Names of the job files in `dir`, without reading them.
pub fn job_names(dir: &Path) -> Result<Vec<String>, JobError> {
    Ok(job_files(dir)?
        .iter()
        .filter_map(|file| file.file_stem()?.to_str().map(str::to_owned))
        .collect())
}

fn job_files(dir: &Path) -> Result<Vec<PathBuf>, JobError> {
    let folder = |source| JobError::Folder {
        dir: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(folder)? {
        let path = entry.map_err(folder)?.path();
        if path.extension().is_some_and(|ext| ext == "toml") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
