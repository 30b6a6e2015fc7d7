//! ELKASSA: the point-of-sale partner whose user listing rekon syncs.

mod envelope;
mod record;
pub mod register;

pub use envelope::{
    parse_listing, parse_registration_data, EnvelopeError, PacketRecord, RegistrationData,
};
pub use record::{Cabang, ElkassaUser, UserSlot};
pub use register::{
    ActivationOutcome, ActivationRequest, RegisterError, RegisterOutcome, RegistrationRequest,
    UserPacket, UserType,
};

use crate::config::ElkassaConfig;
use crate::providers::http::{FetchError, Fetched, PartnerHttp};
use secrecy::ExposeSecret;

/// Partner name as stored in the warehouse.
pub const PROVIDER: &str = "elkassa";
/// Endpoint label of the paged listing.
pub const USERS_ENDPOINT: &str = "GET /integration/users/{page}";
/// Endpoint label of the reference data.
pub const REGISTRATION_ENDPOINT: &str = "GET /integration/registration";
/// Entries per listing page, fixed by the partner.
pub const PAGE_SIZE: usize = 10;

/// Reads ELKASSA's listing and reference data.
#[derive(Debug, Clone)]
pub struct ElkassaClient {
    http: PartnerHttp,
    config: ElkassaConfig,
}

impl ElkassaClient {
    /// A client for the configured base URL and credentials.
    pub fn new(config: ElkassaConfig, concurrency: usize) -> Self {
        let http = PartnerHttp::new(
            PROVIDER,
            config.timeout(),
            concurrency,
            config.retry_policy(),
        );
        Self { http, config }
    }

    /// Zone of the partner's naive timestamps.
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.config.timezone
    }

    /// The HTTP layer, for its counters.
    pub fn http(&self) -> &PartnerHttp {
        &self.http
    }

    /// Fetches one listing page as received (pages start at 1).
    pub async fn fetch_users_page(&self, page: u32) -> Result<Fetched, FetchError> {
        let url = format!("{}/users/{page}", self.prefix());
        self.get(url, USERS_ENDPOINT, &format!("page {page}")).await
    }

    /// Fetches packets and user types as received.
    pub async fn fetch_registration_data(&self) -> Result<Fetched, FetchError> {
        let url = format!("{}/registration", self.prefix());
        self.get(url, REGISTRATION_ENDPOINT, "reference data").await
    }

    fn prefix(&self) -> String {
        format!(
            "{}{}",
            self.config.base_url.trim_end_matches('/'),
            self.config.path_prefix.trim_end_matches('/')
        )
    }

    async fn get(&self, url: String, endpoint: &str, request: &str) -> Result<Fetched, FetchError> {
        let build = || {
            self.http.client().get(&url).query(&[
                ("key", self.config.key.expose_secret()),
                ("token", self.config.token.expose_secret()),
            ])
        };
        self.http.send_idempotent(build, endpoint, request).await
    }
}
