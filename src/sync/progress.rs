//! Progress of a long sync: a bar on a terminal, plain lines in logs.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts pages and records and shows them to whoever is watching.
pub struct Progress {
    provider: &'static str,
    bar: Option<ProgressBar>,
    started: Instant,
    interval: Duration,
    last_line: Mutex<Instant>,
    pages: AtomicU64,
    records: AtomicU64,
    written: AtomicU64,
}

impl Progress {
    /// A bar sized by the last complete listing when stderr is a terminal
    /// (and `show_bar`), otherwise a log line every `interval`.
    pub fn new(
        provider: &'static str,
        estimated: Option<u64>,
        interval: Duration,
        show_bar: bool,
    ) -> Self {
        let bar = (show_bar && std::io::stderr().is_terminal()).then(|| {
            let bar = match estimated {
                Some(total) if total > 0 => ProgressBar::new(total),
                _ => ProgressBar::new_spinner(),
            };
            let template = "{spinner} {prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} records ({per_sec}, eta {eta})";
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar.set_prefix(provider);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let now = Instant::now();
        Self {
            provider,
            bar,
            started: now,
            interval,
            last_line: Mutex::new(now),
            pages: AtomicU64::new(0),
            records: AtomicU64::new(0),
            written: AtomicU64::new(0),
        }
    }

    /// A page of `records` entries was fetched.
    pub fn add_page(&self, records: u64) {
        self.pages.fetch_add(1, Ordering::Relaxed);
        let total = self.records.fetch_add(records, Ordering::Relaxed) + records;
        match &self.bar {
            Some(bar) => {
                if bar.length().is_some_and(|len| total > len) {
                    bar.set_length(total);
                }
                bar.set_position(total);
            }
            None => self.maybe_log_line(),
        }
    }

    /// Accounts were committed to the warehouse.
    pub fn add_written(&self, accounts: u64) {
        self.written.fetch_add(accounts, Ordering::Relaxed);
    }

    fn maybe_log_line(&self) {
        let Ok(mut last) = self.last_line.try_lock() else {
            return;
        };
        if last.elapsed() < self.interval {
            return;
        }
        *last = Instant::now();
        let records = self.records.load(Ordering::Relaxed);
        let rate = records as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        tracing::info!(
            provider = self.provider,
            pages = self.pages.load(Ordering::Relaxed),
            records,
            written = self.written.load(Ordering::Relaxed),
            records_per_sec = rate as u64,
            "sync progress"
        );
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
