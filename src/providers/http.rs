//! Shared HTTP for partner connectors: timeouts, retries with backoff and
//! jitter, `Retry-After`, and errors that name partner, endpoint and request
//! without ever carrying a URL (query strings hold credentials).

use crate::providers::answer::{describe, send_failure, SendFailure};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::{RequestBuilder, Response, StatusCode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How a connector retries reads (never registration POSTs).
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt before giving up.
    pub max_retries: u32,
    /// First backoff step; doubles per attempt.
    pub base_delay: Duration,
    /// Ceiling for one backoff step.
    pub max_delay: Duration,
    /// Ceiling for a partner's `Retry-After`, so a bogus value cannot stall a night.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// Counters a run reports: how hard the partner made us work.
#[derive(Debug, Default)]
pub struct HttpStats {
    /// Requests sent, retries included.
    pub requests: AtomicU64,
    /// Attempts repeated after a retryable failure.
    pub retries: AtomicU64,
    /// Answers that were HTTP 429.
    pub throttled: AtomicU64,
}

impl HttpStats {
    /// Retries so far.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
}

/// A response body as received, before any parsing (the landing copy).
#[derive(Debug, Clone)]
pub struct Fetched {
    /// HTTP status code.
    pub http_status: u16,
    /// Body bytes exactly as received.
    pub body: Bytes,
    /// When the body arrived.
    pub fetched_at: DateTime<Utc>,
    /// Attempts it took (1 when the first one worked).
    pub attempts: u32,
}

/// Why a request failed for good.
#[derive(Debug, thiserror::Error)]
#[error("{provider} {endpoint} {request}: {cause} (after {attempts} attempt(s))")]
pub struct FetchError {
    /// Partner name.
    pub provider: &'static str,
    /// Endpoint template, e.g. `GET /integration/users/{page}`.
    pub endpoint: String,
    /// Which request: `page 42`, `ticket ...`.
    pub request: String,
    /// Attempts made.
    pub attempts: u32,
    /// Last failure.
    pub cause: FetchCause,
}

/// The last failure of a request.
#[derive(Debug, thiserror::Error)]
pub enum FetchCause {
    /// The partner kept answering a retryable status.
    #[error("HTTP {0}")]
    Status(u16),
    /// Network trouble: refused, reset, timed out, body cut short.
    #[error("transport error: {0}")]
    Transport(String),
}

/// One partner's HTTP client with its retry policy.
#[derive(Debug, Clone)]
pub struct PartnerHttp {
    client: reqwest::Client,
    provider: &'static str,
    policy: RetryPolicy,
    stats: Arc<HttpStats>,
}

impl PartnerHttp {
    /// Builds a client with a per-request timeout and a pool sized for `concurrency`.
    pub fn new(
        provider: &'static str,
        timeout: Duration,
        concurrency: usize,
        policy: RetryPolicy,
    ) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(concurrency.max(1))
            .tcp_nodelay(true)
            .user_agent(concat!("rekon/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("a TLS backend is compiled in");
        Self {
            client,
            provider,
            policy,
            stats: Arc::default(),
        }
    }

    /// The counters of this client.
    pub fn stats(&self) -> Arc<HttpStats> {
        Arc::clone(&self.stats)
    }

    /// The underlying client, for building requests.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends an idempotent request, retrying 429, 5xx and transport failures.
    ///
    /// Any other status is returned as received: partners put their own
    /// error envelope in 4xx bodies and the caller reads it.
    pub async fn send_idempotent(
        &self,
        build: impl Fn() -> RequestBuilder,
        endpoint: &str,
        request: &str,
    ) -> Result<Fetched, FetchError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let (cause, retry_after) = match self.attempt(build()).await {
                Ok(fetched) => {
                    return Ok(Fetched {
                        attempts: attempt,
                        ..fetched
                    })
                }
                Err(failure) => failure,
            };
            if attempt > self.policy.max_retries {
                return Err(FetchError {
                    provider: self.provider,
                    endpoint: endpoint.to_owned(),
                    request: request.to_owned(),
                    attempts: attempt,
                    cause,
                });
            }
            let delay = self.backoff(attempt, retry_after);
            tracing::debug!(provider = self.provider, endpoint, request, attempt, %cause, ?delay, "retrying");
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt(
        &self,
        request: RequestBuilder,
    ) -> Result<Fetched, (FetchCause, Option<Duration>)> {
        let response = request.send().await.map_err(|err| (transport(err), None))?;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            if status == StatusCode::TOO_MANY_REQUESTS {
                self.stats.throttled.fetch_add(1, Ordering::Relaxed);
            }
            let retry_after = retry_after(&response);
            return Err((FetchCause::Status(status.as_u16()), retry_after));
        }
        let body = response
            .bytes()
            .await
            .map_err(|err| (transport(err), None))?;
        Ok(Fetched {
            http_status: status.as_u16(),
            body,
            fetched_at: Utc::now(),
            attempts: 1,
        })
    }

    /// Sends a request that creates something exactly once: no retry, and
    /// every failure classed as not sent (nothing reached the partner: a
    /// refused connection, or 429 turned away before processing) or
    /// ambiguous (it may have been processed: 5xx, timeout, a cut answer).
    pub async fn send_once(&self, request: RequestBuilder) -> Result<Fetched, SendFailure> {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let response = request.send().await.map_err(send_failure)?;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.stats.throttled.fetch_add(1, Ordering::Relaxed);
            return Err(SendFailure::NotSent(
                "HTTP 429: throttled before processing".to_owned(),
            ));
        }
        if status.is_server_error() {
            return Err(SendFailure::Ambiguous(format!("HTTP {}", status.as_u16())));
        }
        let body = response.bytes().await.map_err(|err| {
            SendFailure::Ambiguous(format!("answer cut short: {}", describe(err)))
        })?;
        Ok(Fetched {
            http_status: status.as_u16(),
            body,
            fetched_at: Utc::now(),
            attempts: 1,
        })
    }

    /// Full-jitter exponential backoff, or the partner's `Retry-After` plus a little jitter.
    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let mut rng = rand::thread_rng();
        if let Some(wait) = retry_after {
            let wait = wait.min(self.policy.max_retry_after);
            return wait + wait.mul_f64(rng.gen_range(0.0..0.1));
        }
        let exponential = self
            .policy
            .base_delay
            .saturating_mul(1 << (attempt - 1).min(16));
        let ceiling = exponential.min(self.policy.max_delay);
        ceiling.mul_f64(rng.gen_range(0.5..=1.0))
    }
}

/// A transport error described without its URL, which holds credentials.
fn transport(err: reqwest::Error) -> FetchCause {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_body() || err.is_decode() {
        "body cut short"
    } else {
        "request failed"
    };
    let detail = std::error::Error::source(&err)
        .map(|source| format!(": {source}"))
        .unwrap_or_default();
    FetchCause::Transport(format!("{kind}{detail}"))
}

/// Reads `Retry-After` as delta-seconds or an HTTP date.
fn retry_after(response: &Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http() -> PartnerHttp {
        PartnerHttp::new("test", Duration::from_secs(1), 1, RetryPolicy::default())
    }

    #[test]
    fn a_partner_retry_after_is_waited_at_least_in_full() {
        let wait = http().backoff(1, Some(Duration::from_secs(3)));
        assert!(
            wait >= Duration::from_secs(3) && wait <= Duration::from_millis(3300),
            "{wait:?}"
        );
    }

    #[test]
    fn an_absurd_retry_after_is_capped() {
        let wait = http().backoff(1, Some(Duration::from_secs(86_400)));
        assert!(wait <= Duration::from_secs(132), "{wait:?}");
    }

    #[test]
    fn backoff_grows_and_stays_under_its_ceiling() {
        let client = http();
        assert!(client.backoff(1, None) <= Duration::from_millis(200));
        assert!(client.backoff(3, None) >= Duration::from_millis(400));
        assert!(client.backoff(30, None) <= Duration::from_secs(10));
    }
}
