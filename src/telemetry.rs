//! Logging: human-readable or JSON lines on stderr, filtered by `RUST_LOG`.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Output format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Installs the global subscriber once; later calls are no-ops (tests).
///
/// Drivers are kept at `warn`: sqlx would log every statement, and HTTP
/// crates log URLs, whose query strings carry partner credentials.
pub fn init(format: LogFormat, verbose: u8) {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(default))
        .add_directive("sqlx=warn".parse().expect("static directive"))
        .add_directive("hyper=warn".parse().expect("static directive"))
        .add_directive("hyper_util=warn".parse().expect("static directive"))
        .add_directive("reqwest=warn".parse().expect("static directive"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Peak resident memory of this process, from /proc (Linux).
pub fn peak_memory() -> String {
    memory_line("VmHWM:")
}

/// Resident memory of this process now, from /proc (Linux).
pub fn resident_memory() -> String {
    memory_line("VmRSS:")
}

/// Restarts the peak (`VmHWM`) from the current resident size, so a phase's
/// peak can be told apart from an earlier phase's; false where unsupported.
pub fn reset_peak_memory() -> bool {
    // Freed heap pages glibc still holds would count as this phase's.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
    // "5" resets the peak RSS counter (Linux 4.0+, proc(5) clear_refs).
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn memory_line(key: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(key).map(|v| v.trim().to_owned()))
        })
        .map(|kb| {
            let kib: f64 = kb.trim_end_matches("kB").trim().parse().unwrap_or_default();
            format!("{:.1} MiB", kib / 1024.0)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
