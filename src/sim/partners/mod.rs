//! Simulated registration APIs: ELKASSA's registration, user check and
//! activation, MCP's client registration, the middleware's login and
//! Request Out, and QM's customer registration. They share the simulator's
//! router, fault gate and counters, and add one fault of their own:
//! `commit_then_drop`, an account created whose answer never arrives.

mod elkassa_register;
mod mcp;
mod middleware;
mod qm;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use chrono::{DateTime, TimeDelta, Utc};

use super::faults::{Admission, Endpoint};
use super::population::{mix, unit};
use super::Simulator;

/// Partner names the test helpers accept.
pub const PARTNERS: [&str; 4] = ["elkassa", "mcp", "middleware", "qm"];

const SALT_COMMIT_DROP: u64 = 0x2545_F491_4F6C_DD1D;

/// Credentials and behaviour of the simulated registration partners.
#[derive(Clone, Debug)]
pub struct PartnerSimConfig {
    /// MCP's `x-Gateway-Apikey` (36 characters, as the document says).
    pub mcp_api_key: String,
    /// Key of the HS256 JWTs the simulated MCP mints and accepts.
    pub mcp_jwt_secret: String,
    /// Lifetime of the JWT minted at start, from `SimConfig::now`; negative is already expired.
    pub mcp_jwt_ttl_secs: i64,
    /// Days from a registration to MCP's `expiredDate`.
    pub mcp_activation_days: i64,
    /// Middleware login name.
    pub middleware_username: String,
    /// Middleware login password.
    pub middleware_password: String,
    /// Lifetime of a middleware token in seconds; 0 makes every token stale at once.
    pub middleware_token_ttl_secs: u64,
    /// Posts of a ticket answered "in process" before it is done.
    pub middleware_polls_until_done: u32,
    /// QM's API key (`Key`).
    pub qm_key: String,
    /// QM's API secret (keys `Sign`).
    pub qm_secret: String,
    /// Lifetime of QM's one-time code in seconds (`expiredOn`).
    pub qm_code_ttl_secs: i64,
}

impl Default for PartnerSimConfig {
    fn default() -> Self {
        PartnerSimConfig {
            mcp_api_key: "sim00000-mcp0-4000-8000-apikey000000".to_owned(),
            mcp_jwt_secret: "sim-mcp-jwt-secret".to_owned(),
            mcp_jwt_ttl_secs: 30 * 86_400,
            mcp_activation_days: 30,
            middleware_username: "sim-user".to_owned(),
            middleware_password: "sim-password".to_owned(),
            middleware_token_ttl_secs: 3_600,
            middleware_polls_until_done: 2,
            qm_key: "sim-qm-key".to_owned(),
            qm_secret: "sim-qm-secret".to_owned(),
            qm_code_ttl_secs: 300,
        }
    }
}

/// The partners' accounts and counters, behind the simulator.
pub(super) struct PartnerState {
    config: PartnerSimConfig,
    seed: u64,
    mcp_jwt: String,
    /// Registration POSTs decided so far, for `commit_then_drop`.
    decisions: AtomicU64,
    elkassa: elkassa_register::Shops,
    mcp: mcp::Clients,
    middleware: middleware::Enrollments,
    qm: qm::Customers,
}

impl PartnerState {
    /// Empty partners; the MCP JWT is minted now, expiring `mcp_jwt_ttl_secs` after `now`.
    pub fn new(config: PartnerSimConfig, seed: u64, now: DateTime<Utc>) -> Self {
        let exp = now + TimeDelta::seconds(config.mcp_jwt_ttl_secs);
        let mcp_jwt = mcp::mint_jwt(&config.mcp_jwt_secret, exp.timestamp());
        PartnerState {
            config,
            seed: mix(seed ^ SALT_COMMIT_DROP),
            mcp_jwt,
            decisions: AtomicU64::new(0),
            elkassa: elkassa_register::Shops::default(),
            mcp: mcp::Clients::default(),
            middleware: middleware::Enrollments::default(),
            qm: qm::Customers::default(),
        }
    }
}

/// The routes of the registration APIs.
pub(super) fn router(sim: Simulator) -> Router {
    elkassa_register::router(sim.clone())
        .merge(mcp::router(sim.clone()))
        .merge(middleware::router(sim.clone()))
        .merge(qm::router(sim))
}

impl Simulator {
    /// How many accounts `partner` holds for `email` (for the middleware: tickets
    /// with that `TicketId`), so tests can prove nothing was registered twice.
    ///
    /// Panics on a partner not in [`PARTNERS`], so a typo cannot pass a test.
    pub fn accounts_with_email(&self, partner: &str, email: &str) -> usize {
        let state = &self.inner.partners;
        match partner {
            "elkassa" => state.elkassa.with_email(self, email),
            "mcp" => state.mcp.with_email(email),
            "middleware" => state.middleware.with_ticket(email),
            "qm" => state.qm.with_email(email),
            other => panic!("unknown partner {other:?}, expected one of {PARTNERS:?}"),
        }
    }

    /// Registration POSTs `partner` received (the middleware: every Request Out).
    ///
    /// Panics on a partner not in [`PARTNERS`].
    pub fn registration_attempts(&self, partner: &str) -> u64 {
        let state = &self.inner.partners;
        let counter = match partner {
            "elkassa" => &state.elkassa.attempts,
            "mcp" => &state.mcp.attempts,
            "middleware" => &state.middleware.attempts,
            "qm" => &state.qm.attempts,
            other => panic!("unknown partner {other:?}, expected one of {PARTNERS:?}"),
        };
        counter.load(Ordering::Relaxed)
    }

    /// The partners' credentials and behaviour.
    pub fn partner_config(&self) -> &PartnerSimConfig {
        &self.inner.partners.config
    }

    /// The JWT the simulated MCP accepts, minted at start.
    pub fn mcp_jwt(&self) -> &str {
        &self.inner.partners.mcp_jwt
    }

    /// Another JWT for the simulated MCP, signed with its secret, expiring at `exp`.
    pub fn mint_mcp_jwt(&self, exp: DateTime<Utc>) -> String {
        mcp::mint_jwt(&self.inner.partners.config.mcp_jwt_secret, exp.timestamp())
    }

    /// Revokes every middleware token, as if they had all expired.
    pub fn expire_middleware_tokens(&self) {
        self.inner.partners.middleware.revoke_tokens();
    }

    /// Successful middleware logins so far.
    pub fn middleware_logins(&self) -> u64 {
        self.inner
            .partners
            .middleware
            .logins
            .load(Ordering::Relaxed)
    }

    /// The simulated present as an instant: `now` plus the time the simulator has run.
    fn present(&self) -> DateTime<Utc> {
        let elapsed =
            TimeDelta::from_std(self.inner.started.elapsed()).unwrap_or(TimeDelta::zero());
        self.inner.now + elapsed
    }

    /// Runs the fault gate: `Ok(drop)` to serve, `Err` with the injected answer,
    /// written in the partner's own error shape by `error_body`.
    async fn admit_partner(&self, error_body: fn(u16, &str) -> String) -> Result<bool, Response> {
        let faults = self.inner.gate.current();
        let admission = self
            .inner
            .gate
            .admit(&faults, Endpoint::Detail, &self.inner.counters)
            .await;
        match admission {
            Admission::Serve { drop } => Ok(drop),
            Admission::Unavailable => Err(json(
                StatusCode::SERVICE_UNAVAILABLE,
                error_body(503, "Service unavailable"),
            )),
            Admission::RateLimited { retry_after } => {
                let mut response = json(
                    StatusCode::TOO_MANY_REQUESTS,
                    error_body(429, "Too many requests"),
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                Err(response)
            }
        }
    }

    /// Whether the answer to a registration just committed is lost (`commit_then_drop`).
    fn commit_then_drop(&self) -> bool {
        let share = self.inner.gate.current().commit_then_drop;
        if share <= 0.0 {
            return false;
        }
        let state = &self.inner.partners;
        let n = state.decisions.fetch_add(1, Ordering::Relaxed);
        unit(mix(state.seed ^ mix(n))) < share
    }

    /// A complete answer, or (for a drop) the full Content-Length, half the body and an abort.
    fn partner_answer(&self, status: StatusCode, body: String, drop: bool) -> Response {
        self.answer(status, body, drop)
    }
}

/// A JSON answer.
fn json(status: StatusCode, body: String) -> Response {
    super::elkassa::json_response(status, Body::from(body))
}

/// The token of an `Authorization: Bearer` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A header's value as text.
fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok()
}

/// Locks a partner's state; a panicked test thread must not wedge the others.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Emails compare case-insensitively, as every partner treats them.
fn same_email(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// Lowercase hex of bytes.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}
