//! `[mcp]`, `[middleware]` and `[qm]`: the registration partners, each
//! optional (a partner without a section is skipped).

use super::{check_url, parse_zone_field, resolve_secret, ConfigError};
use crate::providers::mcp::McpConfig;
use crate::providers::middleware::MiddlewareConfig;
use crate::providers::qm::QmConfig;
use crate::secrets::lenient_secret;
use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;

/// MCP as written in the file or environment.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMcp {
    base_url: String,
    #[serde(default, deserialize_with = "lenient_secret")]
    api_key: Option<SecretString>,
    api_key_file: Option<PathBuf>,
    #[serde(default, deserialize_with = "lenient_secret")]
    jwt: Option<SecretString>,
    jwt_file: Option<PathBuf>,
    timeout_secs: Option<u64>,
    jwt_warning_days: Option<u32>,
    timezone: Option<String>,
}

/// The middleware as written in the file or environment.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMiddleware {
    base_url: String,
    username: String,
    #[serde(default, deserialize_with = "lenient_secret")]
    password: Option<SecretString>,
    password_file: Option<PathBuf>,
    request_out_path: Option<String>,
    ticket_prefix: Option<String>,
    timeout_secs: Option<u64>,
}

/// QM as written in the file or environment.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQm {
    base_url: String,
    #[serde(default, deserialize_with = "lenient_secret")]
    api_key: Option<SecretString>,
    api_key_file: Option<PathBuf>,
    #[serde(default, deserialize_with = "lenient_secret")]
    api_secret: Option<SecretString>,
    api_secret_file: Option<PathBuf>,
    timeout_secs: Option<u64>,
}

/// Checks and completes the MCP section.
pub(super) fn resolve_mcp(raw: RawMcp) -> Result<McpConfig, ConfigError> {
    check_url("mcp.base_url", &raw.base_url)?;
    let mut config = McpConfig::new(raw.base_url, "", "");
    config.api_key = resolve_secret(raw.api_key, raw.api_key_file.as_deref(), "mcp.api_key")?;
    config.jwt = resolve_secret(raw.jwt, raw.jwt_file.as_deref(), "mcp.jwt")?;
    config.timeout_secs = raw.timeout_secs.unwrap_or(config.timeout_secs);
    config.jwt_warning_days = raw.jwt_warning_days.unwrap_or(config.jwt_warning_days);
    if let Some(zone) = raw.timezone {
        config.timezone = parse_zone_field("mcp.timezone", &zone)?;
    }
    Ok(config)
}

/// Checks and completes the middleware section.
pub(super) fn resolve_middleware(raw: RawMiddleware) -> Result<MiddlewareConfig, ConfigError> {
    check_url("middleware.base_url", &raw.base_url)?;
    let mut config = MiddlewareConfig::new(raw.base_url, &raw.username, "");
    config.password = resolve_secret(
        raw.password,
        raw.password_file.as_deref(),
        "middleware.password",
    )?;
    config.request_out_path = raw.request_out_path.unwrap_or(config.request_out_path);
    config.ticket_prefix = raw.ticket_prefix.unwrap_or(config.ticket_prefix);
    config.timeout_secs = raw.timeout_secs.unwrap_or(config.timeout_secs);
    Ok(config)
}

/// Checks and completes the QM section.
pub(super) fn resolve_qm(raw: RawQm) -> Result<QmConfig, ConfigError> {
    check_url("qm.base_url", &raw.base_url)?;
    let mut config = QmConfig::new(raw.base_url, "", "");
    config.api_key = resolve_secret(raw.api_key, raw.api_key_file.as_deref(), "qm.api_key")?;
    config.api_secret = resolve_secret(
        raw.api_secret,
        raw.api_secret_file.as_deref(),
        "qm.api_secret",
    )?;
    config.timeout_secs = raw.timeout_secs.unwrap_or(config.timeout_secs);
    Ok(config)
}
