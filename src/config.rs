//! Configuration: a TOML file, overridden by `REKON_<SECTION>_<KEY>`
//! environment variables, overridden by command-line flags.

mod onboard;
mod partners;
mod schedule;

pub use schedule::{Misfire, ScheduleConfig};

pub use onboard::OnboardConfig;
mod reconcile;

pub use reconcile::ReconcileConfig;

use crate::providers::http::RetryPolicy;
use crate::providers::mcp::McpConfig;
use crate::providers::middleware::MiddlewareConfig;
use crate::providers::qm::QmConfig;
use crate::secrets::{lenient_secret, read_secret_file};
use chrono_tz::Tz;
use figment::providers::{Env, Format, Toml};
use figment::Figment;
use secrecy::SecretString;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The embedded warehouse used when no database URL is configured.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/warehouse.sqlite";

/// Why configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or environment could not be read into the settings.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    /// A setting has a value that cannot work.
    #[error("invalid configuration: {field}: {reason}")]
    Field {
        /// Dotted key, e.g. `elkassa.timezone`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Everything rekon reads from its configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Where the warehouse lives.
    pub warehouse: WarehouseConfig,
    /// How syncs page and batch.
    pub sync: SyncConfig,
    /// ELKASSA connection; `None` when not configured (the partner is skipped).
    pub elkassa: Option<ElkassaConfig>,
    /// MCP registration; `None` when not configured.
    pub mcp: Option<McpConfig>,
    /// Middleware enrollment; `None` when not configured.
    pub middleware: Option<MiddlewareConfig>,
    /// QM registration; `None` when not configured.
    pub qm: Option<QmConfig>,
    /// Bulk onboarding from CSV drops.
    pub onboard: OnboardConfig,
    /// Job files, metrics file and missed-run policy of the scheduler.
    pub schedule: ScheduleConfig,
    /// When findings are raised.
    pub reconcile: ReconcileConfig,
}

/// Warehouse settings (`[warehouse]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WarehouseConfig {
    /// `sqlite://path` or `postgres://...`; `DATABASE_URL` and `--database-url` override it.
    pub database_url: Option<String>,
    /// Raw partner bodies older than this many days are pruned after a sync.
    pub raw_retention_days: u32,
    /// Connections in the pool; on Postgres, reconcile reads up to this many
    /// tables at once and writes findings and match rules side by side.
    pub max_connections: u32,
}

impl Default for WarehouseConfig {
    fn default() -> Self {
        Self {
            database_url: None,
            raw_retention_days: 14,
            max_connections: 4,
        }
    }
}

/// Sync settings (`[sync]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    /// Listing pages in flight at once.
    pub concurrency: usize,
    /// Pages written to the warehouse per transaction (each with its
    /// checkpoint). Larger batches spread each statement's fixed cost over
    /// more rows (a first load of a million users: 19-23 s at 500 pages,
    /// 21-25 s at 200) at the cost of memory (about 200 MiB at 500).
    pub batch_pages: usize,
    /// Parallel writer connections on Postgres (SQLite always uses one).
    pub writers: usize,
    /// Re-read rounds allowed to repair a listing that moved while paging.
    pub max_drift_rounds: u32,
    /// Largest share of active accounts one complete listing may mark
    /// removed; past it the sweep is withheld and the run ends partial.
    pub max_removal_share: f64,
    /// Seconds between progress lines when not on a terminal.
    pub progress_interval_secs: u64,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            concurrency: 8,
            batch_pages: 500,
            writers: 2,
            max_drift_rounds: 4,
            max_removal_share: 0.2,
            progress_interval_secs: 10,
        }
    }
}

/// ELKASSA connection (`[elkassa]`, or `REKON_ELKASSA_*`).
#[derive(Debug, Clone)]
pub struct ElkassaConfig {
    /// Scheme and host, e.g. `https://api.elkassa.com`.
    pub base_url: String,
    /// Path prefix of the integration API.
    pub path_prefix: String,
    /// The partner-issued key.
    pub key: SecretString,
    /// The partner-issued token.
    pub token: SecretString,
    /// Zone of the partner's naive timestamps.
    pub timezone: Tz,
    /// Per-request timeout in seconds.
    pub timeout_secs: u64,
    /// Retries per request before the run fails.
    pub max_retries: u32,
    /// First backoff step in milliseconds.
    pub retry_base_ms: u64,
}

impl ElkassaConfig {
    /// A configuration for a given base URL and credentials, defaults elsewhere.
    pub fn new(base_url: impl Into<String>, key: &str, token: &str) -> Self {
        Self {
            base_url: base_url.into(),
            path_prefix: "/integration".to_owned(),
            key: SecretString::from(key.to_owned()),
            token: SecretString::from(token.to_owned()),
            timezone: crate::timezone::DEFAULT_PARTNER_ZONE,
            timeout_secs: 30,
            max_retries: 6,
            retry_base_ms: 200,
        }
    }

    /// Per-request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }

    /// Retry policy for reads.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_retries: self.max_retries,
            base_delay: Duration::from_millis(self.retry_base_ms),
            ..RetryPolicy::default()
        }
    }
}

/// ELKASSA settings as written in the file or environment.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawElkassa {
    #[serde(default = "default_elkassa_url")]
    base_url: String,
    #[serde(default = "default_prefix")]
    path_prefix: String,
    #[serde(default, deserialize_with = "lenient_secret")]
    key: Option<SecretString>,
    key_file: Option<PathBuf>,
    #[serde(default, deserialize_with = "lenient_secret")]
    token: Option<SecretString>,
    token_file: Option<PathBuf>,
    #[serde(default = "default_zone")]
    timezone: String,
    #[serde(default = "default_timeout")]
    timeout_secs: u64,
    #[serde(default = "default_retries")]
    max_retries: u32,
    #[serde(default = "default_retry_base")]
    retry_base_ms: u64,
}

fn default_elkassa_url() -> String {
    "https://api.elkassa.com".to_owned()
}
fn default_prefix() -> String {
    "/integration".to_owned()
}
fn default_zone() -> String {
    "Asia/Jakarta".to_owned()
}
fn default_timeout() -> u64 {
    30
}
fn default_retries() -> u32 {
    6
}
fn default_retry_base() -> u64 {
    200
}

#[derive(Deserialize, Default)]
struct RawConfig {
    #[serde(default)]
    warehouse: WarehouseConfig,
    #[serde(default)]
    sync: SyncConfig,
    elkassa: Option<RawElkassa>,
    mcp: Option<partners::RawMcp>,
    middleware: Option<partners::RawMiddleware>,
    qm: Option<partners::RawQm>,
    onboard: Option<onboard::RawOnboard>,
    #[serde(default)]
    schedule: ScheduleConfig,
    #[serde(default)]
    reconcile: ReconcileConfig,
}

impl Config {
    /// Loads `file` (when given, it must exist; otherwise `rekon.toml` if
    /// present), then the `REKON_*` environment on top.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        match file {
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None => figment = figment.merge(Toml::file("rekon.toml")),
        }
        figment = figment.merge(rekon_env());
        Self::from_figment(figment)
    }

    /// Builds the settings from any figment (tests use in-memory TOML).
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let raw: RawConfig = figment
            .extract()
            .map_err(|err| ConfigError::Invalid(Box::new(err)))?;
        Ok(Self {
            warehouse: raw.warehouse,
            sync: raw.sync,
            elkassa: raw.elkassa.map(resolve_elkassa).transpose()?,
            mcp: raw.mcp.map(partners::resolve_mcp).transpose()?,
            middleware: raw
                .middleware
                .map(partners::resolve_middleware)
                .transpose()?,
            qm: raw.qm.map(partners::resolve_qm).transpose()?,
            onboard: onboard::resolve_onboard(raw.onboard)?,
            schedule: raw.schedule,
            reconcile: raw.reconcile,
        })
    }

    /// The database URL: the explicit one, else the configured one, else the embedded default.
    pub fn database_url(&self, explicit: Option<&str>) -> String {
        explicit
            .map(str::to_owned)
            .or_else(|| self.warehouse.database_url.clone())
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned())
    }
}

/// `REKON_ELKASSA_BASE_URL` → `elkassa.base_url`: the first underscore
/// separates the section, the rest is the key. Variables that name no
/// section of ours (`REKON_LOG`, `REKON_CONFIG`) are left out.
fn rekon_env() -> Env {
    const SECTIONS: [&str; 9] = [
        "warehouse",
        "sync",
        "elkassa",
        "mcp",
        "middleware",
        "qm",
        "onboard",
        "schedule",
        "reconcile",
    ];
    Env::prefixed("REKON_")
        .filter(|key| {
            let key = key.as_str().to_ascii_lowercase();
            SECTIONS
                .iter()
                .any(|section| key.starts_with(&format!("{section}_")))
        })
        .map(|key| key.as_str().replacen('_', ".", 1).into())
}

fn resolve_elkassa(raw: RawElkassa) -> Result<ElkassaConfig, ConfigError> {
    let key = resolve_secret(raw.key, raw.key_file.as_deref(), "elkassa.key")?;
    let token = resolve_secret(raw.token, raw.token_file.as_deref(), "elkassa.token")?;
    let timezone = parse_zone_field("elkassa.timezone", &raw.timezone)?;
    check_url("elkassa.base_url", &raw.base_url)?;
    Ok(ElkassaConfig {
        base_url: raw.base_url,
        path_prefix: raw.path_prefix,
        key,
        token,
        timezone,
        timeout_secs: raw.timeout_secs,
        max_retries: raw.max_retries,
        retry_base_ms: raw.retry_base_ms,
    })
}

/// An http(s) URL, or an error naming the field.
fn check_url(field: &str, url: &str) -> Result<(), ConfigError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(());
    }
    Err(ConfigError::Field {
        field: field.to_owned(),
        reason: format!("{url:?} is not an http(s) URL"),
    })
}

/// An IANA zone, or an error naming the field.
fn parse_zone_field(field: &str, name: &str) -> Result<Tz, ConfigError> {
    crate::timezone::parse_zone(name).map_err(|reason| ConfigError::Field {
        field: field.to_owned(),
        reason,
    })
}

/// A secret given inline or as a file, never both; the error names the
/// field and its environment variable, never a value.
fn resolve_secret(
    value: Option<SecretString>,
    file: Option<&Path>,
    field: &str,
) -> Result<SecretString, ConfigError> {
    let invalid = |reason: String| ConfigError::Field {
        field: field.to_owned(),
        reason,
    };
    match (value, file) {
        (Some(secret), None) => Ok(secret),
        (None, Some(path)) => read_secret_file(path).map_err(invalid),
        (Some(_), Some(_)) => Err(invalid(format!(
            "set either {field} or {field}_file, not both"
        ))),
        (None, None) => Err(invalid(format!(
            "missing (set {field}, {field}_file or REKON_{})",
            field.replace('.', "_").to_uppercase()
        ))),
    }
}

#[cfg(test)]
mod tests;
