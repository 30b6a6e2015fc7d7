//! The drop folder: which files are complete and can be taken, and the run
//! over them. A file counts as complete once it has not changed for the
//! settle time; files still being written under a temporary name (anything
//! not ending in `.csv`, or starting with `.` or `~$`) are never taken.

use super::register::{file_name, onboard_file, FileOutcome, OnboardOptions, Registrars};
use super::DropError;
use crate::config::Config;
use crate::outcome::RunStatus;
use crate::warehouse::Warehouse;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The drops in `inbox` that are complete at `now`, in name order, and how
/// many are still settling.
pub fn ready_drops(
    inbox: &Path,
    settle: Duration,
    now: SystemTime,
) -> std::io::Result<(Vec<PathBuf>, usize)> {
    let mut ready = Vec::new();
    let mut settling = 0;
    for entry in std::fs::read_dir(inbox)? {
        let entry = entry?;
        let path = entry.path();
        let metadata = entry.metadata()?;
        if !metadata.is_file() || !is_drop_name(&path) {
            continue;
        }
        let age = now
            .duration_since(metadata.modified()?)
            .unwrap_or(Duration::ZERO);
        if age >= settle {
            ready.push(path);
        } else {
            settling += 1;
        }
    }
    ready.sort();
    Ok((ready, settling))
}

fn is_drop_name(path: &Path) -> bool {
    let name = file_name(path);
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".csv") && !name.starts_with('.') && !name.starts_with("~$")
}

/// What an inbox run did with each file.
#[derive(Debug, Default)]
pub struct InboxReport {
    /// Files onboarded, with their outcome.
    pub handled: Vec<(PathBuf, FileOutcome)>,
    /// Files that could not be read as drops, moved aside with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
    /// Files left in the inbox for the next run, with the reason.
    pub left: Vec<(PathBuf, String)>,
    /// Files not yet complete.
    pub settling: usize,
}

impl InboxReport {
    /// The worst outcome over the files: failed when a file was unreadable or left behind.
    pub fn status(&self) -> RunStatus {
        let stopped = self
            .left
            .iter()
            .any(|(_, reason)| reason.contains("rekon was stopping"));
        if stopped {
            return RunStatus::Interrupted;
        }
        let mut status = RunStatus::Succeeded;
        for (_, outcome) in &self.handled {
            status = status.worst(outcome.status);
        }
        if !self.unreadable.is_empty() || !self.left.is_empty() {
            status = status.worst(RunStatus::Failed);
        }
        status
    }
}

/// Onboards every complete drop in `inbox`, archiving each into `archive`.
/// A file that is not a readable drop moves to `archive/unreadable`, so it
/// is not retried every few minutes; any other failure leaves it in place.
pub async fn run_inbox(
    warehouse: &Warehouse,
    config: &Config,
    registrars: &Registrars,
    inbox: &Path,
    archive: &Path,
    options: &OnboardOptions,
) -> anyhow::Result<InboxReport> {
    let (ready, settling) = ready_drops(inbox, config.onboard.settle(), SystemTime::now())
        .with_context(|| format!("cannot list the inbox {}", inbox.display()))?;
    let mut report = InboxReport {
        settling,
        ..InboxReport::default()
    };
    let options = OnboardOptions {
        archive_dir: Some(archive.to_path_buf()),
        ..options.clone()
    };
    for path in ready {
        if options.shutdown.is_requested() {
            report
                .left
                .push((path, "not started: rekon was stopping".to_owned()));
            continue;
        }
        match onboard_file(warehouse, config, registrars, &path, &options).await {
            Ok(outcome) => report.handled.push((path, outcome)),
            Err(err) if err.downcast_ref::<DropError>().is_some() => {
                let aside = set_aside(&path, archive)?;
                report.unreadable.push((aside, format!("{err:#}")));
            }
            Err(err) => report.left.push((path, format!("{err:#}"))),
        }
    }
    Ok(report)
}

fn set_aside(path: &Path, archive: &Path) -> anyhow::Result<PathBuf> {
    let dir = archive.join("unreadable");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let target = dir.join(file_name(path));
    std::fs::rename(path, &target)
        .with_context(|| format!("cannot move {} to {}", path.display(), target.display()))?;
    Ok(target)
}
