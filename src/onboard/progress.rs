//! Progress of a registration run: a bar on a terminal, plain lines in logs.

use super::register::PartnerOutcome;
use super::Partner;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Counts finished calls and shows them to whoever is watching.
pub struct OnboardProgress {
    bar: Option<ProgressBar>,
    total: u64,
    done: AtomicU64,
    problems: AtomicU64,
    last_line: Mutex<Instant>,
}

impl OnboardProgress {
    /// A bar of `total` calls when stderr is a terminal (and `show_bar`), else log lines.
    pub fn new(total: u64, show_bar: bool) -> Self {
        let bar = (show_bar && total > 0 && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total);
            let template =
                "{spinner} onboard [{elapsed_precise}] {wide_bar} {pos}/{len} calls ({per_sec}, eta {eta}) {msg}";
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self {
            bar,
            total,
            done: AtomicU64::new(0),
            problems: AtomicU64::new(0),
            last_line: Mutex::new(Instant::now()),
        }
    }

    /// One row finished at one partner (`None` when the warehouse failed).
    pub fn add(&self, partner: Partner, outcome: Option<&PartnerOutcome>) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if outcome.is_none_or(PartnerOutcome::is_problem) {
            self.problems.fetch_add(1, Ordering::Relaxed);
        }
        let problems = self.problems.load(Ordering::Relaxed);
        match &self.bar {
            Some(bar) => {
                bar.set_position(done);
                bar.set_message(format!("{problems} need attention"));
            }
            None => self.maybe_log_line(partner, done, problems),
        }
    }

    fn maybe_log_line(&self, partner: Partner, done: u64, problems: u64) {
        let Ok(mut last) = self.last_line.try_lock() else {
            return;
        };
        if last.elapsed() < LOG_INTERVAL && done < self.total {
            return;
        }
        *last = Instant::now();
        tracing::info!(
            done,
            total = self.total,
            problems,
            last_partner = partner.as_str(),
            "onboarding progress"
        );
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
