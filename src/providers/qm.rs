//! QM customer registration (`POST {base}/v1/customer/register`).
//!
//! The body is serialised once; those exact bytes are signed (HMAC-SHA256,
//! lowercase hex) and sent, so the signature can never drift from the body.
//! A registration is sent exactly once; after an ambiguous failure it may be
//! sent again, because QM answers a known customer with "already registered".

use crate::providers::answer::{or_http, SendFailure};
use crate::providers::http::{Fetched, PartnerHttp, RetryPolicy};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;
use std::fmt::Write as _;
use std::time::Duration;

/// Partner name as stored in the warehouse.
pub const PROVIDER: &str = "qm";
/// Path of the registration under the base URL.
pub const REGISTER_PATH: &str = "/v1/customer/register";
/// Endpoint label of a registration.
pub const REGISTER_ENDPOINT: &str = "POST /v1/customer/register";

/// QM connection settings.
#[derive(Debug, Clone)]
pub struct QmConfig {
    /// Scheme and host of the QM API.
    pub base_url: String,
    /// The API key sent as `Key`.
    pub api_key: SecretString,
    /// The API secret that keys the `Sign` HMAC.
    pub api_secret: SecretString,
    /// Per-request timeout in seconds.
    pub timeout_secs: u64,
}

impl QmConfig {
    /// A configuration for a base URL and credentials, defaults elsewhere.
    pub fn new(base_url: impl Into<String>, api_key: &str, api_secret: &str) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: SecretString::from(api_key.to_owned()),
            api_secret: SecretString::from(api_secret.to_owned()),
            timeout_secs: 30,
        }
    }

    /// Per-request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }
}

/// Where the customer receives the one-time code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LoginMethod {
    /// By email.
    #[serde(rename = "email")]
    Email,
    /// By SMS to the phone number.
    #[serde(rename = "phoneNumber")]
    PhoneNumber,
}

/// A customer to register; Debug hides the national identity number.
#[derive(Debug, Clone)]
pub struct QmCustomer {
    /// Legal full name.
    pub legal_full_name: String,
    /// National identity number (NRIC, NIK).
    pub identity_number: SecretString,
    /// Email; optional when a phone number is given.
    pub email: Option<String>,
    /// Phone in E.164 (`+6281234567890`); optional when an email is given.
    pub phone_number: Option<String>,
    /// Which of the two receives the one-time code.
    pub primary_login_method: LoginMethod,
}

/// How a registration ended, in QM's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QmOutcome {
    /// A one-time code was sent; the customer completes registration with it.
    Registered {
        /// `data.sessionId`, needed to verify the registration.
        session_id: String,
        /// When the one-time code lapses.
        expired_on: DateTime<Utc>,
        /// QM's message.
        message: String,
    },
    /// The customer is already registered (possibly by our earlier, lost request).
    AlreadyRegistered {
        /// QM's message.
        message: String,
    },
    /// QM refused the registration.
    Rejected {
        /// QM's `code`.
        code: i64,
        /// QM's message.
        message: String,
    },
}

/// Why a QM registration failed.
#[derive(Debug, thiserror::Error)]
pub enum QmError {
    /// Refused before sending: the customer breaks a rule of the document.
    #[error("QM registration not sent: {0}")]
    Invalid(String),
    /// The request certainly did not reach QM; sending it again is safe.
    #[error("QM {REGISTER_ENDPOINT}: not sent: {reason}")]
    NotSent {
        /// What went wrong.
        reason: String,
    },
    /// The customer may have been registered; send again and expect "already registered".
    #[error("QM {REGISTER_ENDPOINT}: outcome unknown, the customer may exist: {reason}")]
    Ambiguous {
        /// What went wrong.
        reason: String,
    },
    /// QM refused the key or the signature.
    #[error("QM refused the credentials (HTTP {http_status}): {message}")]
    Auth {
        /// HTTP status.
        http_status: u16,
        /// QM's message.
        message: String,
    },
    /// A definite answer that is none of the documented ones.
    #[error("QM {REGISTER_ENDPOINT}: unexpected answer (HTTP {http_status}): {reason}")]
    Unexpected {
        /// HTTP status.
        http_status: u16,
        /// What was wrong with it.
        reason: String,
    },
}

/// Registers customers with QM.
#[derive(Debug, Clone)]
pub struct QmClient {
    http: PartnerHttp,
    config: QmConfig,
}

impl QmClient {
    /// A client for the configured base URL and credentials.
    pub fn new(config: QmConfig) -> Self {
        let http = PartnerHttp::new(PROVIDER, config.timeout(), 1, RetryPolicy::default());
        Self { http, config }
    }

    /// Registers a customer: checked, signed and sent once, never retried.
    pub async fn register(&self, customer: &QmCustomer) -> Result<QmOutcome, QmError> {
        let fetched = self.send_register(customer).await?;
        let outcome = parse_register(fetched.http_status, &fetched.body)?;
        Ok(outcome.redacted(customer.identity_number.expose_secret()))
    }

    /// Sends a registration once; the answer as received (the landing copy).
    pub async fn send_register(&self, customer: &QmCustomer) -> Result<Fetched, QmError> {
        let body = register_body(customer)?;
        let signature = sign(&self.config.api_secret, &body);
        let mut key = HeaderValue::from_str(self.config.api_key.expose_secret()).map_err(|_| {
            QmError::NotSent {
                reason: "the configured API key is not a valid header value".to_owned(),
            }
        })?;
        key.set_sensitive(true);
        let url = format!(
            "{}{REGISTER_PATH}",
            self.config.base_url.trim_end_matches('/')
        );
        let request = self
            .http
            .client()
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header("Key", key)
            .header("Sign", signature)
            .body(body);
        self.http.send_once(request).await.map_err(from_failure)
    }
}

#[derive(Serialize)]
struct WireBody<'a> {
    customer: WireCustomer<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WireCustomer<'a> {
    legal_full_name: &'a str,
    identity_number: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<&'a str>,
    primary_login_method: LoginMethod,
}

/// The exact body bytes of a registration, after the document's structural rules.
pub fn register_body(customer: &QmCustomer) -> Result<Vec<u8>, QmError> {
    let email = present(&customer.email);
    let phone_number = present(&customer.phone_number);
    if email.is_none() && phone_number.is_none() {
        return Err(QmError::Invalid(
            "email and phoneNumber may not both be omitted".to_owned(),
        ));
    }
    let primary_present = match customer.primary_login_method {
        LoginMethod::Email => email.is_some(),
        LoginMethod::PhoneNumber => phone_number.is_some(),
    };
    if !primary_present {
        return Err(QmError::Invalid(
            "primaryLoginMethod names a field that is not given".to_owned(),
        ));
    }
    let wire = WireBody {
        customer: WireCustomer {
            legal_full_name: &customer.legal_full_name,
            identity_number: customer.identity_number.expose_secret(),
            email,
            phone_number,
            primary_login_method: customer.primary_login_method,
        },
    };
    serde_json::to_vec(&wire).map_err(|err| QmError::Invalid(err.to_string()))
}

/// A field's value unless it is missing or blank.
fn present(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|value| !value.trim().is_empty())
}

/// The `Sign` header: lowercase hex HMAC-SHA256 of `body`, keyed with the API secret.
pub fn sign(secret: &SecretString, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    digest
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// Reads a registration answer.
pub fn parse_register(http_status: u16, body: &[u8]) -> Result<QmOutcome, QmError> {
    let value: Option<Value> = serde_json::from_slice(body).ok();
    let message = value
        .as_ref()
        .and_then(|v| v["message"].as_str())
        .unwrap_or_default()
        .to_owned();
    if matches!(http_status, 401 | 403) {
        let message = or_http(message, http_status);
        return Err(QmError::Auth {
            http_status,
            message,
        });
    }
    let code = value.as_ref().and_then(|v| code(&v["code"]));
    let (Some(value), Some(code)) = (&value, code) else {
        let reason = "no code in the answer".to_owned();
        return Err(if (200..300).contains(&http_status) {
            // QM said yes to something we cannot read: the customer may exist.
            QmError::Ambiguous { reason }
        } else {
            QmError::Unexpected {
                http_status,
                reason,
            }
        });
    };
    if code != 0 {
        let lower = message.to_lowercase();
        if lower.contains("already") && !lower.contains("not ") {
            return Ok(QmOutcome::AlreadyRegistered { message });
        }
        let message = or_http(message, http_status);
        return Ok(QmOutcome::Rejected { code, message });
    }
    let data = &value["data"];
    let session_id = data["sessionId"].as_str().filter(|s| !s.is_empty());
    let expired_on = data["expiredOn"]
        .as_i64()
        .and_then(DateTime::from_timestamp_millis);
    match (session_id, expired_on) {
        (Some(session_id), Some(expired_on)) => Ok(QmOutcome::Registered {
            session_id: session_id.to_owned(),
            expired_on,
            message,
        }),
        _ => Err(QmError::Ambiguous {
            reason: "success without data.sessionId or data.expiredOn".to_owned(),
        }),
    }
}

/// A numeric `code`, also when sent as a string.
fn code(value: &Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

/// The QM error for a failed send.
fn from_failure(failure: SendFailure) -> QmError {
    match failure {
        SendFailure::NotSent(reason) => QmError::NotSent { reason },
        SendFailure::Ambiguous(reason) => QmError::Ambiguous { reason },
    }
}

impl QmOutcome {
    /// Removes `secret` from QM's message, which may echo the request back.
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

    fn customer() -> QmCustomer {
        QmCustomer {
            legal_full_name: "Siti Aminah".to_owned(),
            identity_number: SecretString::from("3273012345678901"),
            email: Some("siti@example.test".to_owned()),
            phone_number: None,
            primary_login_method: LoginMethod::Email,
        }
    }

    #[test]
    fn the_signature_is_the_rfc_4231_hmac_in_lowercase_hex() {
        // RFC 4231 test case 2.
        let secret = SecretString::from("Jefe");
        assert_eq!(
            sign(&secret, b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn an_omitted_email_is_left_out_of_the_body_and_both_omitted_is_refused() {
        let mut by_phone = customer();
        by_phone.email = None;
        by_phone.phone_number = Some("+6281234567890".to_owned());
        by_phone.primary_login_method = LoginMethod::PhoneNumber;
        let body = String::from_utf8(register_body(&by_phone).unwrap()).unwrap();
        assert!(
            !body.contains("email\"") && body.contains(r#""primaryLoginMethod":"phoneNumber""#)
        );
        by_phone.phone_number = None;
        assert!(matches!(register_body(&by_phone), Err(QmError::Invalid(_))));
        let mut wrong_method = customer();
        wrong_method.primary_login_method = LoginMethod::PhoneNumber;
        assert!(matches!(
            register_body(&wrong_method),
            Err(QmError::Invalid(_))
        ));
    }

    #[test]
    fn code_zero_is_a_registration_with_an_expiry_from_unix_milliseconds() {
        let body =
            br#"{"code":0,"message":"ok","data":{"sessionId":"s-1","expiredOn":1706600000000}}"#;
        let QmOutcome::Registered { expired_on, .. } = parse_register(200, body).unwrap() else {
            panic!("not registered")
        };
        assert_eq!(expired_on.to_rfc3339(), "2024-01-30T07:33:20+00:00");
    }

    #[test]
    fn already_registered_is_recognised_and_a_bad_signature_is_an_auth_error() {
        let known = br#"{"code":1002,"message":"customer already registered"}"#;
        assert!(matches!(
            parse_register(200, known).unwrap(),
            QmOutcome::AlreadyRegistered { .. }
        ));
        let unsigned = br#"{"code":401,"message":"invalid signature"}"#;
        assert!(matches!(
            parse_register(401, unsigned),
            Err(QmError::Auth { .. })
        ));
    }

    #[test]
    fn the_identity_number_never_shows_in_debug_output_or_echoed_messages() {
        assert!(!format!("{:?}", customer()).contains("3273012345678901"));
        let echoed = QmOutcome::Rejected {
            code: 1001,
            message: "identityNumber 3273012345678901 invalid".to_owned(),
        }
        .redacted("3273012345678901");
        assert!(!format!("{echoed:?}").contains("3273012345678901"));
    }
}
