//! Middleware Request Out: Digital-ID (e-KTP) enrollment tickets.
//!
//! The caller makes the `TicketId` and posts the same ticket again to poll it,
//! so an ambiguous submit is resolved by polling that ticket, never by
//! making a new one. The NIK in a done answer is never read into memory
//! beyond the parser: only its status is kept.

use crate::providers::answer::{text, SendFailure};
use crate::providers::http::{PartnerHttp, RetryPolicy};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Partner name as stored in the warehouse.
pub const PROVIDER: &str = "middleware";
/// Path of the login under the base URL.
pub const LOGIN_PATH: &str = "/auth/login";
/// Endpoint label of a Request Out call.
pub const REQUEST_OUT_ENDPOINT: &str = "POST request-out";
/// A token this close to its announced expiry is renewed before use.
const TOKEN_MARGIN: Duration = Duration::from_secs(5);

/// Middleware connection settings.
#[derive(Debug, Clone)]
pub struct MiddlewareConfig {
    /// Scheme and host (and any prefix) of the middleware.
    pub base_url: String,
    /// Login user name.
    pub username: String,
    /// Login password.
    pub password: SecretString,
    /// Path of Request Out under the base URL (the document leaves it blank).
    pub request_out_path: String,
    /// Prefix of the ticket ids this client makes.
    pub ticket_prefix: String,
    /// Per-request timeout in seconds.
    pub timeout_secs: u64,
}

impl MiddlewareConfig {
    /// A configuration for a base URL and login, defaults elsewhere.
    pub fn new(base_url: impl Into<String>, username: &str, password: &str) -> Self {
        Self {
            base_url: base_url.into(),
            username: username.to_owned(),
            password: SecretString::from(password.to_owned()),
            request_out_path: "/request-out".to_owned(),
            ticket_prefix: "rekon".to_owned(),
            timeout_secs: 30,
        }
    }

    /// Per-request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }
}

/// Where an enrollment ticket stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketOutcome {
    /// Enrolled (`StatusCode` 200).
    Done {
        /// `Data.Status`: the middleware's verdict on the NIK (the NIK itself is not kept).
        nik_status: String,
        /// `ResourceId` of the created record.
        resource_id: String,
    },
    /// Still in process (`StatusCode` 404, "Request on process"): poll again later.
    Pending,
    /// The middleware refused the request (HTTP 400).
    Rejected {
        /// Its `Code`, when given.
        code: Option<String>,
        /// Its `Message`.
        message: String,
    },
}

/// Why a middleware call failed.
#[derive(Debug, thiserror::Error)]
pub enum MiddlewareError {
    /// The ticket certainly did not reach the middleware (includes a failed login).
    #[error("middleware {endpoint}: not sent: {reason}")]
    NotSent {
        /// Endpoint label.
        endpoint: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// The ticket may have reached the middleware: poll the same ticket to learn more.
    #[error("middleware {endpoint}: outcome unknown: {reason}")]
    Ambiguous {
        /// Endpoint label.
        endpoint: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// Login refused, or a fresh token refused again.
    #[error("middleware refused the credentials (HTTP {http_status}): {message}")]
    Auth {
        /// HTTP status.
        http_status: u16,
        /// The middleware's message.
        message: String,
    },
    /// A definite answer that is none of the documented ones.
    #[error("middleware {endpoint}: unexpected answer (HTTP {http_status}): {reason}")]
    Unexpected {
        /// Endpoint label.
        endpoint: &'static str,
        /// HTTP status.
        http_status: u16,
        /// What was wrong with it.
        reason: String,
    },
}

/// A bearer token and when the middleware said it lapses.
#[derive(Debug)]
struct Session {
    token: SecretString,
    expires: Option<Instant>,
}

/// Submits and polls enrollment tickets, logging in as needed.
#[derive(Debug)]
pub struct MiddlewareClient {
    http: PartnerHttp,
    config: MiddlewareConfig,
    session: Mutex<Option<Session>>,
}

#[derive(Deserialize)]
struct LoginAnswer {
    token: Option<String>,
    #[serde(rename = "expiresIn")]
    expires_in: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TicketAnswer {
    ticket_id: Option<String>,
    resource_id: Option<Value>,
    data: Option<DataField>,
    message: Option<String>,
    status_code: Option<Value>,
    code: Option<Value>,
}

/// `Data`: an object when done, `null` in process, a string in a 400.
#[derive(Deserialize)]
#[serde(untagged)]
enum DataField {
    Object(TicketData),
    Other(serde::de::IgnoredAny),
}

/// `Data` of a done answer; `NIK` and `Image` are deliberately not read.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TicketData {
    status: Option<String>,
}

impl MiddlewareClient {
    /// A client for the configured middleware; logs in on first use.
    pub fn new(config: MiddlewareConfig) -> Self {
        let http = PartnerHttp::new(PROVIDER, config.timeout(), 1, RetryPolicy::default());
        Self {
            http,
            config,
            session: Mutex::new(None),
        }
    }

    /// A fresh ticket id: the configured prefix, a dash and a UUID v4.
    pub fn new_ticket_id(&self) -> String {
        format!("{}-{}", self.config.ticket_prefix, uuid::Uuid::new_v4())
    }

    /// Logs in and keeps the token; returns its announced lifetime.
    pub async fn login(&self) -> Result<Duration, MiddlewareError> {
        let mut session = self.session.lock().await;
        let (fresh, lifetime) = self.fetch_token().await?;
        *session = Some(fresh);
        Ok(lifetime)
    }

    /// Submits a new ticket (made with [`Self::new_ticket_id`]).
    pub async fn submit_ticket(&self, ticket_id: &str) -> Result<TicketOutcome, MiddlewareError> {
        self.request_out(ticket_id).await
    }

    /// Polls a submitted ticket: the same request again, as the document prescribes.
    pub async fn poll_ticket(&self, ticket_id: &str) -> Result<TicketOutcome, MiddlewareError> {
        self.request_out(ticket_id).await
    }

    /// One Request Out; on HTTP 401 logs in again once and repeats (a 401 was not processed).
    async fn request_out(&self, ticket_id: &str) -> Result<TicketOutcome, MiddlewareError> {
        let body = json!({
            "TicketId": ticket_id,
            "Subject": "digitalid",
            "SubjectType": "enrollment",
            "SubjectIdentifier": "ektp",
        })
        .to_string();
        let token = self.token(None).await?;
        let (status, answer) = self.post_ticket(&body, &token).await?;
        if status != StatusCode::UNAUTHORIZED {
            return parse_ticket(status.as_u16(), &answer, ticket_id);
        }
        tracing::debug!(provider = PROVIDER, "token refused, logging in again");
        let token = self.token(Some(&token)).await?;
        let (status, answer) = self.post_ticket(&body, &token).await?;
        parse_ticket(status.as_u16(), &answer, ticket_id)
    }

    /// The current token, logging in when there is none, it lapsed, or it is `refused`.
    async fn token(&self, refused: Option<&SecretString>) -> Result<SecretString, MiddlewareError> {
        let mut session = self.session.lock().await;
        if let Some(current) = session.as_ref() {
            let is_refused =
                refused.is_some_and(|r| r.expose_secret() == current.token.expose_secret());
            let lapsed = current
                .expires
                .is_some_and(|at| Instant::now() + TOKEN_MARGIN >= at);
            if !is_refused && !lapsed {
                return Ok(current.token.clone());
            }
        }
        let (fresh, _) = self.fetch_token().await?;
        let token = fresh.token.clone();
        *session = Some(fresh);
        Ok(token)
    }

    async fn fetch_token(&self) -> Result<(Session, Duration), MiddlewareError> {
        let endpoint = "POST /auth/login";
        let url = format!("{}{LOGIN_PATH}", self.base());
        let body = json!({
            "username": self.config.username,
            "password": self.config.password.expose_secret(),
        })
        .to_string();
        // A login creates nothing, so it is retried like a read.
        let build = || {
            self.http
                .client()
                .post(&url)
                .header(CONTENT_TYPE, "application/json")
                .header(ACCEPT, "application/json")
                .body(body.clone())
        };
        let fetched = self
            .http
            .send_idempotent(build, endpoint, "login")
            .await
            .map_err(|err| MiddlewareError::NotSent {
                endpoint: REQUEST_OUT_ENDPOINT,
                reason: format!("login failed: {err}"),
            })?;
        parse_login(fetched.http_status, &fetched.body)
    }

    /// Posts a ticket once; 5xx and lost answers are ambiguous.
    async fn post_ticket(
        &self,
        body: &str,
        token: &SecretString,
    ) -> Result<(StatusCode, bytes::Bytes), MiddlewareError> {
        let endpoint = REQUEST_OUT_ENDPOINT;
        let path = &self.config.request_out_path;
        let url = format!("{}/{}", self.base(), path.trim_start_matches('/'));
        let request = self
            .http
            .client()
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .bearer_auth(token.expose_secret())
            .body(body.to_owned());
        let fetched = self
            .http
            .send_once(request)
            .await
            .map_err(|failure| match failure {
                SendFailure::NotSent(reason) => MiddlewareError::NotSent { endpoint, reason },
                SendFailure::Ambiguous(reason) => MiddlewareError::Ambiguous { endpoint, reason },
            })?;
        let status = StatusCode::from_u16(fetched.http_status).unwrap_or(StatusCode::OK);
        Ok((status, fetched.body))
    }

    fn base(&self) -> &str {
        self.config.base_url.trim_end_matches('/')
    }
}

/// Reads a login answer into a session.
fn parse_login(http_status: u16, body: &[u8]) -> Result<(Session, Duration), MiddlewareError> {
    // Every 4xx to a login is a refusal of the credentials or their shape.
    if (400..500).contains(&http_status) {
        let message = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("HTTP {http_status}"));
        return Err(MiddlewareError::Auth {
            http_status,
            message,
        });
    }
    let unexpected = |reason: &str| MiddlewareError::Unexpected {
        endpoint: "POST /auth/login",
        http_status,
        reason: reason.to_owned(),
    };
    let answer: LoginAnswer =
        serde_json::from_slice(body).map_err(|_| unexpected("unreadable login answer"))?;
    let token = answer
        .token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unexpected("no token in the login answer"))?;
    let lifetime = answer
        .expires_in
        .and_then(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()));
    let session = Session {
        token: SecretString::from(token),
        expires: lifetime.map(|secs| Instant::now() + Duration::from_secs(secs)),
    };
    Ok((session, Duration::from_secs(lifetime.unwrap_or(0))))
}

/// Reads a Request Out answer for `ticket_id`.
pub fn parse_ticket(
    http_status: u16,
    body: &[u8],
    ticket_id: &str,
) -> Result<TicketOutcome, MiddlewareError> {
    let endpoint = REQUEST_OUT_ENDPOINT;
    let unexpected = |reason: String| MiddlewareError::Unexpected {
        endpoint,
        http_status,
        reason,
    };
    if http_status == 401 || http_status == 403 {
        let message = format!("HTTP {http_status} with a freshly issued token");
        return Err(MiddlewareError::Auth {
            http_status,
            message,
        });
    }
    let answer: TicketAnswer = match serde_json::from_slice(body) {
        Ok(answer) => answer,
        Err(_) if (200..300).contains(&http_status) => {
            let reason = "unreadable answer".to_owned();
            return Err(MiddlewareError::Ambiguous { endpoint, reason });
        }
        Err(_) if http_status == 400 => {
            let message = "HTTP 400".to_owned();
            return Ok(TicketOutcome::Rejected {
                code: None,
                message,
            });
        }
        Err(_) => return Err(unexpected("unreadable answer".to_owned())),
    };
    let message = answer.message.clone().unwrap_or_default();
    if http_status == 400 {
        let code = answer.code.as_ref().and_then(text);
        return Ok(TicketOutcome::Rejected { code, message });
    }
    if !(200..300).contains(&http_status) {
        return Err(unexpected(format!("HTTP {http_status}: {message}")));
    }
    match answer.status_code.as_ref().and_then(text).as_deref() {
        Some("200") => done(answer, ticket_id).map_err(unexpected),
        Some("404") if is_in_process(&message) => Ok(TicketOutcome::Pending),
        Some("400") => {
            let code = answer.code.as_ref().and_then(text);
            Ok(TicketOutcome::Rejected { code, message })
        }
        other => Err(unexpected(format!(
            "StatusCode {}: {message}",
            other.unwrap_or("missing")
        ))),
    }
}

fn done(answer: TicketAnswer, ticket_id: &str) -> Result<TicketOutcome, String> {
    if answer.ticket_id.as_deref() != Some(ticket_id) {
        return Err("a done answer for another ticket".to_owned());
    }
    let resource_id = answer
        .resource_id
        .as_ref()
        .and_then(text)
        .ok_or("a done answer without ResourceId")?;
    let nik_status = match answer.data {
        Some(DataField::Object(data)) => data.status.unwrap_or_default(),
        Some(DataField::Other(_)) | None => String::new(),
    };
    Ok(TicketOutcome::Done {
        nik_status,
        resource_id,
    })
}

fn is_in_process(message: &str) -> bool {
    let lower = message.to_lowercase();
    lower.contains("on process") || lower.contains("in process") || lower.contains("not available")
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICKET: &str = "312d31-5a2cc51e-ec2a-4286-a44a-bb7a258703e3";

    #[test]
    fn a_done_answer_keeps_the_nik_status_but_never_the_nik() {
        let body = format!(
            r#"{{"TicketId":"{TICKET}","Subject":"digitalid","SubjectType":"enrollment","SubjectIdentifier":"ektp","Action":"create","ResourceType":"data","Resource":"nik","ResourceId":"321231990","Data":{{"Image":"ok","NIK":"3273012345678901","Status":"ok"}},"Status":"success","Message":"success","StatusCode":200}}"#
        );
        let outcome = parse_ticket(200, body.as_bytes(), TICKET).unwrap();
        assert_eq!(
            outcome,
            TicketOutcome::Done {
                nik_status: "ok".to_owned(),
                resource_id: "321231990".to_owned()
            }
        );
        assert!(!format!("{outcome:?}").contains("3273012345678901"));
    }

    #[test]
    fn the_in_process_answer_is_pending_not_an_error() {
        let body = br#"{"TicketId":"","Subject":"","SubjectType":"","SubjectIdentifier":"","Action":"","ResourceType":"","Resource":"","ResourceId":"","Data":null,"Status":"success","Message":"Request on process / not available now","StatusCode":404}"#;
        assert_eq!(
            parse_ticket(200, body, TICKET).unwrap(),
            TicketOutcome::Pending
        );
    }

    #[test]
    fn http_400_is_a_rejection_with_the_middleware_message() {
        let body = br#"{"Status":"error","Code":"400","Message":"Subject tidak valid","Data":""}"#;
        assert_eq!(
            parse_ticket(400, body, TICKET).unwrap(),
            TicketOutcome::Rejected {
                code: Some("400".to_owned()),
                message: "Subject tidak valid".to_owned()
            }
        );
    }

    #[test]
    fn a_done_answer_for_another_ticket_is_not_taken() {
        let body =
            br#"{"TicketId":"other","ResourceId":"1","Data":{"Status":"ok"},"StatusCode":200}"#;
        assert!(matches!(
            parse_ticket(200, body, TICKET),
            Err(MiddlewareError::Unexpected { .. })
        ));
    }

    #[test]
    fn ticket_ids_are_the_prefix_and_a_uuid_like_the_document() {
        let client = MiddlewareClient::new(MiddlewareConfig::new("http://x", "u", "p"));
        let id = client.new_ticket_id();
        let (prefix, uuid) = id.split_once('-').unwrap();
        assert_eq!(prefix, "rekon");
        assert_eq!(uuid.len(), 36);
        assert!(uuid::Uuid::parse_str(uuid).is_ok());
        assert_ne!(id, client.new_ticket_id());
    }

    #[test]
    fn the_debug_output_of_the_client_hides_the_password() {
        let client = MiddlewareClient::new(MiddlewareConfig::new("http://x", "u", "pw-s3cret"));
        assert!(!format!("{client:?}").contains("pw-s3cret"));
    }
}
