//! The partner clients an onboarding run calls, each behind its own rate
//! limit, and the dispatch of a task to its partner.

use super::prepare::Task;
use super::PartnerOutcome;
use crate::config::Config;
use crate::onboard::Partner;
use crate::providers::elkassa::ElkassaClient;
use crate::providers::mcp::McpClient;
use crate::providers::middleware::MiddlewareClient;
use crate::providers::qm::QmClient;
use crate::warehouse::{Completion, Warehouse, WarehouseError};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::OnceCell;

/// Why the partner clients could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RegistrarsError {
    /// A rate is not a usable number.
    #[error("onboard.{partner}_per_sec: {rate} is not a positive rate")]
    Rate {
        /// Partner name.
        partner: &'static str,
        /// The configured rate.
        rate: f64,
    },
}

/// The configured partners, their rate limits and what a run learns about them.
pub struct Registrars {
    pub(super) elkassa: Option<ElkassaClient>,
    pub(super) mcp: Option<McpClient>,
    pub(super) middleware: Option<MiddlewareClient>,
    pub(super) qm: Option<QmClient>,
    limiters: HashMap<Partner, DefaultDirectRateLimiter>,
    refused: HashMap<Partner, AtomicBool>,
    concurrency: usize,
    /// ELKASSA packet codes to ids, read once per run when an activation needs them.
    pub(super) packets: OnceCell<HashMap<String, String>>,
}

impl Registrars {
    /// Clients for every configured partner, limited to the configured rates.
    pub fn new(config: &Config) -> Result<Self, RegistrarsError> {
        let onboard = &config.onboard;
        let rates = [
            (Partner::Elkassa, onboard.elkassa_per_sec),
            (Partner::Mcp, onboard.mcp_per_sec),
            (Partner::Middleware, onboard.middleware_per_sec),
            (Partner::Qm, onboard.qm_per_sec),
        ];
        let mut limiters = HashMap::new();
        for (partner, rate) in rates {
            limiters.insert(partner, limiter(partner, rate)?);
        }
        Ok(Self {
            elkassa: config
                .elkassa
                .clone()
                .map(|elkassa| ElkassaClient::new(elkassa, onboard.concurrency)),
            mcp: config.mcp.clone().map(McpClient::new),
            middleware: config.middleware.clone().map(MiddlewareClient::new),
            qm: config.qm.clone().map(QmClient::new),
            limiters,
            refused: Partner::ALL
                .into_iter()
                .map(|partner| (partner, AtomicBool::new(false)))
                .collect(),
            concurrency: onboard.concurrency.max(1),
            packets: OnceCell::new(),
        })
    }

    /// Calls in flight at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Waits for the partner's rate limit to allow one more call.
    pub(super) async fn admit(&self, partner: Partner) {
        if let Some(limiter) = self.limiters.get(&partner) {
            limiter.until_ready().await;
        }
    }

    /// Records that the partner refused our credentials: later rows are not sent.
    pub(super) fn refuse(&self, partner: Partner) {
        if let Some(flag) = self.refused.get(&partner) {
            flag.store(true, Ordering::Relaxed);
        }
    }

    fn is_refused(&self, partner: Partner) -> bool {
        self.refused
            .get(&partner)
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
    }

    /// The partner's client, `None` when the partner is not configured.
    fn client(&self, partner: Partner) -> Option<Client<'_>> {
        match partner {
            Partner::Elkassa => self.elkassa.as_ref().map(Client::Elkassa),
            Partner::Mcp => self.mcp.as_ref().map(Client::Mcp),
            Partner::Middleware => self.middleware.as_ref().map(Client::Middleware),
            Partner::Qm => self.qm.as_ref().map(Client::Qm),
        }
    }

    /// Brings one task to an outcome, recorded in the ledger. Only a
    /// warehouse failure is an error: it stops the run, and the entry in
    /// hand stays `sent` for the next run to resolve.
    pub async fn run(
        &self,
        warehouse: &Warehouse,
        task: &Task<'_>,
        run_id: i64,
    ) -> Result<PartnerOutcome, WarehouseError> {
        let entry = &task.entry;
        if entry.is_final() && !super::elkassa::needs_activation(task) {
            return Ok(PartnerOutcome::new(
                &entry.state,
                entry.external_id.clone(),
                "done on an earlier run (ledger)",
            ));
        }
        let client = self.client(task.partner);
        let unavailable = match client {
            None => Some(format!(
                "{} is not configured; the row is sent on a later run",
                task.partner
            )),
            Some(_) if self.is_refused(task.partner) => Some(format!(
                "{} refused the credentials earlier in this run; not sent",
                task.partner
            )),
            Some(_) => None,
        };
        let (Some(client), None) = (client, &unavailable) else {
            let message = unavailable.unwrap_or_default();
            if entry.is_ambiguous() {
                return Ok(PartnerOutcome::new(&entry.state, None, message));
            }
            return complete(warehouse, entry.ledger_id, "failed", None, None, &message).await;
        };
        match client {
            Client::Elkassa(client) => super::elkassa::run(self, client, warehouse, task).await,
            Client::Mcp(client) => {
                super::calls::run_mcp(self, client, warehouse, task, run_id).await
            }
            Client::Middleware(client) => {
                super::calls::run_middleware(self, client, warehouse, task, run_id).await
            }
            Client::Qm(client) => super::calls::run_qm(self, client, warehouse, task, run_id).await,
        }
    }
}

/// A configured partner's client, so each call site gets the one it needs.
#[derive(Clone, Copy)]
enum Client<'a> {
    Elkassa(&'a ElkassaClient),
    Mcp(&'a McpClient),
    Middleware(&'a MiddlewareClient),
    Qm(&'a QmClient),
}

fn limiter(partner: Partner, rate: f64) -> Result<DefaultDirectRateLimiter, RegistrarsError> {
    let invalid = || RegistrarsError::Rate {
        partner: partner.as_str(),
        rate,
    };
    if !(rate.is_finite() && rate > 0.0) {
        return Err(invalid());
    }
    let quota = Quota::with_period(Duration::from_secs_f64(1.0 / rate)).ok_or_else(invalid)?;
    Ok(RateLimiter::direct(quota))
}

/// Completes an entry and returns the outcome it records.
pub(super) async fn complete(
    warehouse: &Warehouse,
    ledger_id: i64,
    state: &str,
    external_id: Option<&str>,
    resolution: Option<&str>,
    message: &str,
) -> Result<PartnerOutcome, WarehouseError> {
    let done = Completion {
        state,
        external_id,
        resolution,
        // Success messages are not errors; the results file still shows them.
        last_error: matches!(state, "rejected" | "failed" | "unknown").then_some(message),
    };
    warehouse.complete_entry(ledger_id, &done).await?;
    Ok(PartnerOutcome::new(
        state,
        external_id.map(str::to_owned),
        message,
    ))
}
