//! The client side of the simulator: a rekon configuration whose four
//! partners point at a running simulator with its credentials, for the
//! demo, tests and benchmarks.

use super::{SimServer, Simulator};
use crate::config::{Config, ElkassaConfig};
use crate::providers::mcp::McpConfig;
use crate::providers::middleware::MiddlewareConfig;
use crate::providers::qm::QmConfig;

/// Per-request timeout of simulated partners: short, they answer at once.
const TIMEOUT_SECS: u64 = 5;

impl Simulator {
    /// A configuration with every partner at `base_url` (this simulator) and
    /// its credentials, defaults elsewhere.
    pub fn client_config(&self, base_url: &str) -> Config {
        let partners = self.partner_config();
        Config {
            elkassa: Some(ElkassaConfig {
                retry_base_ms: 20,
                timeout_secs: TIMEOUT_SECS,
                ..ElkassaConfig::new(base_url, self.key(), self.token())
            }),
            mcp: Some(McpConfig {
                timeout_secs: TIMEOUT_SECS,
                ..McpConfig::new(base_url, &partners.mcp_api_key, self.mcp_jwt())
            }),
            middleware: Some(MiddlewareConfig {
                timeout_secs: TIMEOUT_SECS,
                ..MiddlewareConfig::new(
                    base_url,
                    &partners.middleware_username,
                    &partners.middleware_password,
                )
            }),
            qm: Some(QmConfig {
                timeout_secs: TIMEOUT_SECS,
                ..QmConfig::new(base_url, &partners.qm_key, &partners.qm_secret)
            }),
            ..Config::default()
        }
    }
}

impl SimServer {
    /// A configuration with every partner pointing at this server.
    pub fn client_config(&self) -> Config {
        self.sim().client_config(&self.base_url())
    }
}
