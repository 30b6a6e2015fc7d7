//! MCP Digital Product client registration (`POST {endpoint}/client/register`).
//!
//! A registration is sent exactly once. After an ambiguous failure it may be
//! sent again: MCP answers a duplicate email with a recognisable refusal,
//! which reads as [`McpOutcome::AlreadyRegistered`].

use crate::providers::answer::{or_http, says, text, SendFailure};
use crate::providers::http::{Fetched, PartnerHttp, RetryPolicy};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

/// Partner name as stored in the warehouse.
pub const PROVIDER: &str = "mcp";
/// Path of the registration under the configured endpoint.
pub const REGISTER_PATH: &str = "/client/register";
/// Endpoint label of a registration.
pub const REGISTER_ENDPOINT: &str = "POST /client/register";
/// Days before the JWT's `exp` from which every new client warns.
pub const DEFAULT_JWT_WARNING_DAYS: u32 = 7;

/// Answers meaning "this email already has a client".
const DUPLICATE_HINTS: [&str; 4] = ["already", "exist", "registered", "duplicate"];

/// MCP connection settings.
#[derive(Debug, Clone)]
pub struct McpConfig {
    /// The document's `{{endpoint}}`: scheme, host and any path prefix.
    pub base_url: String,
    /// The 36-character `x-Gateway-Apikey`.
    pub api_key: SecretString,
    /// The issued JWT sent as `Authorization: Bearer`.
    pub jwt: SecretString,
    /// Per-request timeout in seconds.
    pub timeout_secs: u64,
    /// Warn when the JWT expires within this many days.
    pub jwt_warning_days: u32,
    /// Zone of MCP's naive `expiredDate`.
    pub timezone: Tz,
}

impl McpConfig {
    /// A configuration for a base URL and credentials, defaults elsewhere.
    pub fn new(base_url: impl Into<String>, api_key: &str, jwt: &str) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: SecretString::from(api_key.to_owned()),
            jwt: SecretString::from(jwt.to_owned()),
            timeout_secs: 30,
            jwt_warning_days: DEFAULT_JWT_WARNING_DAYS,
            timezone: crate::timezone::DEFAULT_PARTNER_ZONE,
        }
    }

    /// Per-request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }
}

/// A client (customer) to register with MCP; Debug hides the password.
#[derive(Debug, Clone)]
pub struct ClientRegistration {
    /// `client_name` (at most 100).
    pub name: String,
    /// `client_email` (at most 100): the key MCP deduplicates on.
    pub email: String,
    /// `client_password` (at most 100).
    pub password: SecretString,
    /// Phone in international form; `+`, spaces and dashes are dropped, e.g. `+62 812-3456-7890`.
    pub phone: String,
    /// `client_company` (at most 200).
    pub company: String,
    /// `client_address` (at most 255).
    pub address: String,
    /// `client_logo` (at most 200): a URL or file name of a png or jpg.
    pub logo: String,
    /// `client_pic`, optional contact person (at most 200).
    pub pic: Option<String>,
}

/// How a registration ended, in MCP's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McpOutcome {
    /// The client was created.
    Registered {
        /// `data.client_id`.
        external_id: String,
        /// `expiredDate`: when the activation lapses; `None` if absent or unreadable.
        expires_at: Option<DateTime<Utc>>,
        /// `resultDesc`.
        message: String,
    },
    /// The email already has a client (possibly ours from an earlier, lost answer).
    AlreadyRegistered {
        /// `resultDesc`.
        message: String,
    },
    /// MCP refused the registration.
    Rejected {
        /// `resultCode` as text.
        code: String,
        /// `resultDesc`.
        message: String,
    },
}

/// Why an MCP registration failed.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// Refused before sending: a field breaks the document's limits.
    #[error("MCP registration not sent: {field}: {reason}")]
    Invalid {
        /// Wire name of the field.
        field: &'static str,
        /// What is wrong (never the value).
        reason: String,
    },
    /// The request certainly did not reach MCP; sending it again is safe.
    #[error("MCP {REGISTER_ENDPOINT}: not sent: {reason}")]
    NotSent {
        /// What went wrong.
        reason: String,
    },
    /// The client may have been created; send again and expect "already registered".
    #[error("MCP {REGISTER_ENDPOINT}: outcome unknown, the client may exist: {reason}")]
    Ambiguous {
        /// What went wrong.
        reason: String,
    },
    /// MCP refused the API key or the JWT; no retry will help.
    #[error("MCP refused the credentials (HTTP {http_status}): {message}")]
    Auth {
        /// HTTP status.
        http_status: u16,
        /// MCP's message.
        message: String,
    },
    /// A definite answer that is none of the documented ones.
    #[error("MCP {REGISTER_ENDPOINT}: unexpected answer (HTTP {http_status}): {reason}")]
    Unexpected {
        /// HTTP status.
        http_status: u16,
        /// What was wrong with it.
        reason: String,
    },
}

/// Registers clients with MCP.
#[derive(Debug, Clone)]
pub struct McpClient {
    http: PartnerHttp,
    config: McpConfig,
    jwt_expires_at: Option<DateTime<Utc>>,
}

impl McpClient {
    /// A client for the configured endpoint; warns when the JWT is expired or about to be.
    pub fn new(config: McpConfig) -> Self {
        let http = PartnerHttp::new(PROVIDER, config.timeout(), 1, RetryPolicy::default());
        let jwt_expires_at = jwt_expiry(&config.jwt);
        let window = TimeDelta::days(i64::from(config.jwt_warning_days));
        if let Some(warning) = jwt_warning(jwt_expires_at, Utc::now(), window) {
            tracing::warn!(provider = PROVIDER, expires_at = ?jwt_expires_at, "{warning}");
        }
        Self {
            http,
            config,
            jwt_expires_at,
        }
    }

    /// The JWT's `exp`, when it has a readable one.
    pub fn jwt_expires_at(&self) -> Option<DateTime<Utc>> {
        self.jwt_expires_at
    }

    /// Registers a client: validated, then sent once, never retried.
    pub async fn register(&self, client: &ClientRegistration) -> Result<McpOutcome, McpError> {
        let fetched = self.send_register(client).await?;
        let outcome = parse_register(fetched.http_status, &fetched.body, self.config.timezone)?;
        Ok(outcome.redacted(client.password.expose_secret()))
    }

    /// Validates and sends a registration once; the answer as received (the landing copy).
    pub async fn send_register(&self, client: &ClientRegistration) -> Result<Fetched, McpError> {
        let body = register_body(client)?;
        let mut api_key =
            HeaderValue::from_str(self.config.api_key.expose_secret()).map_err(|_| {
                McpError::NotSent {
                    reason: "the configured API key is not a valid header value".to_owned(),
                }
            })?;
        api_key.set_sensitive(true);
        let url = format!(
            "{}{REGISTER_PATH}",
            self.config.base_url.trim_end_matches('/')
        );
        let request = self
            .http
            .client()
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header("x-Gateway-Apikey", api_key)
            .bearer_auth(self.config.jwt.expose_secret())
            .body(body);
        self.http.send_once(request).await.map_err(from_failure)
    }
}

#[derive(Serialize)]
struct WireClient<'a> {
    client_name: &'a str,
    client_email: &'a str,
    client_password: &'a str,
    client_phone: u64,
    client_company: &'a str,
    client_address: &'a str,
    client_logo: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_pic: Option<&'a str>,
}

/// The JSON body of a registration, after checking the document's length limits.
pub fn register_body(client: &ClientRegistration) -> Result<Vec<u8>, McpError> {
    let password = client.password.expose_secret();
    let limits: [(&'static str, &str, usize); 7] = [
        ("client_name", &client.name, 100),
        ("client_email", &client.email, 100),
        ("client_password", password, 100),
        ("client_company", &client.company, 200),
        ("client_address", &client.address, 255),
        ("client_logo", &client.logo, 200),
        ("client_pic", client.pic.as_deref().unwrap_or(""), 200),
    ];
    for (field, value, limit) in limits {
        let length = value.chars().count();
        if length > limit {
            let reason = format!("{length} characters, at most {limit} allowed");
            return Err(McpError::Invalid { field, reason });
        }
    }
    let wire = WireClient {
        client_name: &client.name,
        client_email: &client.email,
        client_password: password,
        client_phone: phone_number(&client.phone)?,
        client_company: &client.company,
        client_address: &client.address,
        client_logo: &client.logo,
        client_pic: client.pic.as_deref(),
    };
    serde_json::to_vec(&wire).map_err(|err| McpError::Invalid {
        field: "body",
        reason: err.to_string(),
    })
}

/// The phone as the JSON number MCP wants: international digits without `+`.
fn phone_number(raw: &str) -> Result<u64, McpError> {
    let digits: String = raw
        .trim()
        .trim_start_matches('+')
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    let invalid = |reason: &str| McpError::Invalid {
        field: "client_phone",
        reason: reason.to_owned(),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("must be digits in international form"));
    }
    // A leading 0 is a national number, and as a JSON number it would be lost.
    if digits.starts_with('0') || !(8..=15).contains(&digits.len()) {
        return Err(invalid(
            "must be 8 to 15 digits with the country code, e.g. 62812…",
        ));
    }
    digits.parse().map_err(|_| invalid("not a number"))
}

/// Reads a registration answer; naive `expiredDate` values are read in `zone`.
pub fn parse_register(http_status: u16, body: &[u8], zone: Tz) -> Result<McpOutcome, McpError> {
    let value: Result<Value, _> = serde_json::from_slice(body);
    let description = value
        .as_ref()
        .ok()
        .and_then(|v| text(&v["resultDesc"]))
        .unwrap_or_default();
    if matches!(http_status, 401 | 403) {
        let message = or_http(description, http_status);
        return Err(McpError::Auth {
            http_status,
            message,
        });
    }
    let code = value.as_ref().ok().and_then(|v| text(&v["resultCode"]));
    let (Ok(value), Some(code)) = (&value, code) else {
        let reason = "no resultCode in the answer".to_owned();
        return Err(if (200..300).contains(&http_status) {
            // MCP said yes to something we cannot read: the client may exist.
            McpError::Ambiguous { reason }
        } else {
            McpError::Unexpected {
                http_status,
                reason,
            }
        });
    };
    if code != "0" {
        if mentions_duplicate(&description) {
            return Ok(McpOutcome::AlreadyRegistered {
                message: description,
            });
        }
        let message = or_http(description, http_status);
        return Ok(McpOutcome::Rejected { code, message });
    }
    let Some(external_id) = text(&value["data"]["client_id"]) else {
        let reason = "success without data.client_id".to_owned();
        return Err(McpError::Ambiguous { reason });
    };
    let expires_at = text(&value["expiredDate"]).and_then(|raw| {
        crate::timezone::parse_partner_time(&raw, zone)
            .inspect_err(|err| tracing::warn!(provider = PROVIDER, %err, "unreadable expiredDate"))
            .ok()
            .flatten()
    });
    Ok(McpOutcome::Registered {
        external_id,
        expires_at,
        message: description,
    })
}

/// The `exp` of a JWT, read from its payload without verifying the signature.
pub fn jwt_expiry(jwt: &SecretString) -> Option<DateTime<Utc>> {
    let payload = jwt.expose_secret().split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let exp = &claims["exp"];
    let seconds = exp.as_i64().or_else(|| exp.as_f64().map(|f| f as i64))?;
    DateTime::from_timestamp(seconds, 0)
}

/// The warning due for a JWT expiring at `expires_at`, if any.
fn jwt_warning(
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    window: TimeDelta,
) -> Option<String> {
    let expires_at = expires_at?;
    if expires_at <= now {
        return Some("the MCP JWT has expired: registrations will be refused".to_owned());
    }
    let left = expires_at - now;
    (left <= window).then(|| format!("the MCP JWT expires in {} hour(s)", left.num_hours()))
}

fn mentions_duplicate(description: &str) -> bool {
    says(description, &DUPLICATE_HINTS)
}

/// The MCP error for a failed send.
fn from_failure(failure: SendFailure) -> McpError {
    match failure {
        SendFailure::NotSent(reason) => McpError::NotSent { reason },
        SendFailure::Ambiguous(reason) => McpError::Ambiguous { reason },
    }
}

impl McpOutcome {
    /// Removes `secret` from MCP's message, which may echo the request back.
    fn redacted(mut self, secret: &str) -> Self {
        let (Self::Registered { message, .. }
        | Self::AlreadyRegistered { message }
        | Self::Rejected { message, .. }) = &mut self;
        *message = crate::secrets::redact(message, &[secret]);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timezone::DEFAULT_PARTNER_ZONE;

    fn jwt_with(claims: &str) -> SecretString {
        let part = |json: &str| URL_SAFE_NO_PAD.encode(json);
        SecretString::from(format!(
            "{}.{}.c2ln",
            part(r#"{"alg":"HS256","typ":"JWT"}"#),
            part(claims)
        ))
    }

    #[test]
    fn jwt_expiry_reads_the_exp_claim() {
        let jwt = jwt_with(r#"{"sub":"rekon","exp":1767225600}"#);
        assert_eq!(
            jwt_expiry(&jwt).unwrap().to_rfc3339(),
            "2026-01-01T00:00:00+00:00"
        );
        assert_eq!(jwt_expiry(&jwt_with(r#"{"sub":"rekon"}"#)), None);
        assert_eq!(jwt_expiry(&SecretString::from("not-a-jwt")), None);
    }

    #[test]
    fn a_jwt_close_to_or_past_its_exp_warns_and_a_fresh_one_does_not() {
        let now = Utc::now();
        let week = TimeDelta::days(7);
        assert!(jwt_warning(Some(now - TimeDelta::hours(1)), now, week)
            .unwrap()
            .contains("expired"));
        assert!(jwt_warning(Some(now + TimeDelta::days(3)), now, week).is_some());
        assert!(jwt_warning(Some(now + TimeDelta::days(30)), now, week).is_none());
    }

    #[test]
    fn the_phone_is_sent_as_international_digits() {
        assert_eq!(phone_number("+62 812-3456-7890").unwrap(), 6281234567890);
        assert!(phone_number("0812345678").is_err());
        assert!(phone_number("62abc").is_err());
    }

    #[test]
    fn a_zero_result_code_is_a_registration_with_its_expiry_in_wib() {
        let body = br#"{"resultCode":"0","resultDesc":"success","data":{"client_id":"CL7"},"expiredDate":"2026-10-31 07:00:00"}"#;
        let outcome = parse_register(200, body, DEFAULT_PARTNER_ZONE).unwrap();
        let McpOutcome::Registered {
            external_id,
            expires_at,
            ..
        } = outcome
        else {
            panic!("{outcome:?}")
        };
        assert_eq!(external_id, "CL7");
        assert_eq!(
            expires_at.unwrap().to_rfc3339(),
            "2026-10-31T00:00:00+00:00"
        );
    }

    #[test]
    fn a_duplicate_email_is_already_registered_and_401_is_an_auth_error() {
        let duplicate = br#"{"resultCode":"2","resultDesc":"client email already registered"}"#;
        assert!(matches!(
            parse_register(200, duplicate, DEFAULT_PARTNER_ZONE).unwrap(),
            McpOutcome::AlreadyRegistered { .. }
        ));
        let expired = br#"{"resultCode":"401","resultDesc":"token expired"}"#;
        assert!(matches!(
            parse_register(401, expired, DEFAULT_PARTNER_ZONE),
            Err(McpError::Auth {
                http_status: 401,
                ..
            })
        ));
    }

    #[test]
    fn an_over_long_field_is_refused_before_sending_without_quoting_it() {
        let mut client = ClientRegistration {
            name: "Toko".to_owned(),
            email: "a@example.test".to_owned(),
            password: SecretString::from("p".repeat(101)),
            phone: "6281234567890".to_owned(),
            company: "PT Toko".to_owned(),
            address: "Bandung".to_owned(),
            logo: "logo.png".to_owned(),
            pic: None,
        };
        let err = register_body(&client).unwrap_err();
        assert!(matches!(
            err,
            McpError::Invalid {
                field: "client_password",
                ..
            }
        ));
        assert!(!format!("{err:?} {err}").contains(&"p".repeat(101)));
        client.password = SecretString::from("s3cret-pass");
        assert!(!format!("{client:?}").contains("s3cret-pass"));
    }
}
