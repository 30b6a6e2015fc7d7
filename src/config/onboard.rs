//! `[onboard]`: bulk onboarding from CSV drops (`rekon onboard`).

use super::{resolve_secret, ConfigError};
use crate::secrets::lenient_secret;
use secrecy::SecretString;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Onboarding settings (`[onboard]`, or `REKON_ONBOARD_*`).
#[derive(Debug, Clone)]
pub struct OnboardConfig {
    /// Folder operations staff drop CSV files into (`--inbox` overrides it).
    pub inbox_dir: PathBuf,
    /// Where handled drops go, passwords blanked; default: `archive` beside the inbox.
    pub archive_dir: Option<PathBuf>,
    /// A drop is taken once unchanged this long (write under a temporary name, then rename, to be safe).
    pub settle_secs: u64,
    /// Registration calls in flight at once, over all partners.
    pub concurrency: usize,
    /// Partners of a row without a `providers` cell.
    pub partners: Vec<String>,
    /// Registration calls per second allowed at ELKASSA.
    pub elkassa_per_sec: f64,
    /// Registration calls per second allowed at MCP.
    pub mcp_per_sec: f64,
    /// Ticket posts per second allowed at the middleware.
    pub middleware_per_sec: f64,
    /// Registration calls per second allowed at QM.
    pub qm_per_sec: f64,
    /// Key of the national-ID hash; required to register rows that carry a NIK.
    pub identity_hash_key: Option<SecretString>,
}

impl Default for OnboardConfig {
    fn default() -> Self {
        Self {
            inbox_dir: PathBuf::from("data/inbox"),
            archive_dir: None,
            settle_secs: 30,
            concurrency: 8,
            partners: ["elkassa", "mcp", "middleware", "qm"]
                .map(str::to_owned)
                .to_vec(),
            elkassa_per_sec: 10.0,
            mcp_per_sec: 10.0,
            middleware_per_sec: 10.0,
            qm_per_sec: 10.0,
            identity_hash_key: None,
        }
    }
}

impl OnboardConfig {
    /// The archive folder: configured, or `archive` beside the inbox.
    pub fn archive_for(&self, inbox: &Path) -> PathBuf {
        self.archive_dir
            .clone()
            .unwrap_or_else(|| inbox.parent().unwrap_or(Path::new(".")).join("archive"))
    }

    /// How long a drop must stay unchanged before it is taken.
    pub fn settle(&self) -> Duration {
        Duration::from_secs(self.settle_secs)
    }
}

/// The section as written in the file or environment.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOnboard {
    inbox_dir: Option<PathBuf>,
    archive_dir: Option<PathBuf>,
    settle_secs: Option<u64>,
    concurrency: Option<usize>,
    partners: Option<PartnerList>,
    elkassa_per_sec: Option<f64>,
    mcp_per_sec: Option<f64>,
    middleware_per_sec: Option<f64>,
    qm_per_sec: Option<f64>,
    #[serde(default, deserialize_with = "lenient_secret")]
    identity_hash_key: Option<SecretString>,
    identity_hash_key_file: Option<PathBuf>,
}

/// A list from TOML, or a comma-separated string from the environment.
#[derive(Deserialize)]
#[serde(untagged)]
enum PartnerList {
    List(Vec<String>),
    Text(String),
}

/// Checks and completes the section.
pub(super) fn resolve_onboard(raw: Option<RawOnboard>) -> Result<OnboardConfig, ConfigError> {
    let defaults = OnboardConfig::default();
    let Some(raw) = raw else {
        return Ok(defaults);
    };
    let identity_hash_key = match (raw.identity_hash_key, raw.identity_hash_key_file) {
        (None, None) => None,
        (value, file) => Some(resolve_secret(
            value,
            file.as_deref(),
            "onboard.identity_hash_key",
        )?),
    };
    let config = OnboardConfig {
        inbox_dir: raw.inbox_dir.unwrap_or(defaults.inbox_dir),
        archive_dir: raw.archive_dir,
        settle_secs: raw.settle_secs.unwrap_or(defaults.settle_secs),
        concurrency: raw.concurrency.unwrap_or(defaults.concurrency).max(1),
        partners: match raw.partners {
            None => defaults.partners,
            Some(PartnerList::List(list)) => list,
            Some(PartnerList::Text(text)) => text
                .split([',', '|', ';'])
                .map(|name| name.trim().to_owned())
                .filter(|name| !name.is_empty())
                .collect(),
        },
        elkassa_per_sec: raw.elkassa_per_sec.unwrap_or(defaults.elkassa_per_sec),
        mcp_per_sec: raw.mcp_per_sec.unwrap_or(defaults.mcp_per_sec),
        middleware_per_sec: raw
            .middleware_per_sec
            .unwrap_or(defaults.middleware_per_sec),
        qm_per_sec: raw.qm_per_sec.unwrap_or(defaults.qm_per_sec),
        identity_hash_key,
    };
    for (field, rate) in [
        ("onboard.elkassa_per_sec", config.elkassa_per_sec),
        ("onboard.mcp_per_sec", config.mcp_per_sec),
        ("onboard.middleware_per_sec", config.middleware_per_sec),
        ("onboard.qm_per_sec", config.qm_per_sec),
    ] {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(ConfigError::Field {
                field: field.to_owned(),
                reason: format!("{rate} is not a positive number of calls per second"),
            });
        }
    }
    Ok(config)
}
