//! ELKASSA registration, user check and activation.
//!
//! Registration and activation change the partner's state, so they are sent
//! exactly once: a lost answer is reported as ambiguous and resolved with
//! [`ElkassaClient::user_check`], never by sending the request again blindly.

use super::{ElkassaClient, EnvelopeError};
use crate::providers::answer::{says, text, SendFailure};
use crate::providers::http::{FetchError, Fetched};
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

/// Endpoint label of a registration.
pub const REGISTER_ENDPOINT: &str = "POST /integration/registration";
/// Endpoint label of the user check.
pub const USER_CHECK_ENDPOINT: &str = "POST /integration/user_check";
/// Endpoint label of an activation.
pub const ACTIVATION_ENDPOINT: &str = "POST /integration/activation";

/// Answers meaning "this email already has an account".
const DUPLICATE_HINTS: [&str; 6] = [
    "sudah terdaftar",
    "telah terdaftar",
    "sudah digunakan",
    "already",
    "exist",
    "duplicate",
];
/// Answers meaning "no such user" to a user check.
const UNKNOWN_HINTS: [&str; 5] = [
    "tidak terdaftar",
    "belum terdaftar",
    "not registered",
    "unknown",
    "tidak dikenal",
];

/// ELKASSA's `user_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserType {
    /// `0`: a retail shop.
    Retail,
    /// `1`: a wholesaler.
    Grosir,
}

impl UserType {
    /// The code sent on the wire.
    pub fn code(self) -> &'static str {
        match self {
            UserType::Retail => "0",
            UserType::Grosir => "1",
        }
    }
}

/// A shop to register (its Debug output hides the password).
#[derive(Debug, Clone)]
pub struct RegistrationRequest {
    /// Shop name.
    pub toko_name: String,
    /// Retail or wholesale.
    pub user_type: UserType,
    /// Phone number, digits.
    pub no_telp: String,
    /// Login email: the key the partner deduplicates on.
    pub email: String,
    /// Initial password (the partner wants at least 6 characters).
    pub password: SecretString,
    /// Shop address.
    pub address: String,
}

/// A packet purchase to activate for a registered user.
#[derive(Debug, Clone)]
pub struct ActivationRequest {
    /// The user's email.
    pub email: String,
    /// Packet bought, e.g. `10`.
    pub packet_id: String,
    /// The user's `registration_id`.
    pub registration_id: String,
    /// Branch the packet is for, e.g. `ELK34128-1`.
    pub cabang_id: String,
    /// Our invoice number.
    pub invoice_code: String,
    /// Amount paid, whole rupiah.
    pub invoice_amount: u64,
    /// Payment gateway, e.g. `finpay195`.
    pub payment_gateway: String,
    /// Payment method, e.g. `ATM`.
    pub payment_method: String,
    /// When the payment was made; sent as partner wall-clock time.
    pub payment_date: DateTime<Utc>,
}

/// How a registration ended, in ELKASSA's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisterOutcome {
    /// The shop was created.
    Registered {
        /// `data.registration_id`, e.g. `ELK34128`.
        external_id: String,
        /// The partner's message.
        message: String,
    },
    /// The email already has an account (possibly ours from an earlier, lost answer).
    AlreadyRegistered {
        /// The partner's message.
        message: String,
    },
    /// The partner refused the registration (validation and the like).
    Rejected {
        /// The partner's message.
        message: String,
    },
}

/// The packet a user is on, from the user check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPacket {
    /// Packet key, e.g. `9`.
    pub packet_id: String,
    /// Human name, e.g. `Trial 30 Hari`.
    pub packet_desc: Option<String>,
    /// The partner's message.
    pub message: String,
}

/// How an activation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivationOutcome {
    /// The packet is active.
    Activated {
        /// The user's `registration_id`.
        registration_id: String,
        /// The packet now active.
        packet_id: String,
        /// Its human name.
        packet_desc: Option<String>,
    },
    /// The partner refused the activation.
    Rejected {
        /// The partner's message.
        message: String,
    },
}

/// Why an ELKASSA registration call failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The request certainly did not reach the partner; sending it again is safe.
    #[error("ELKASSA {endpoint}: not sent: {reason}")]
    NotSent {
        /// Endpoint label.
        endpoint: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// The request may have been applied; look the user up before sending it again.
    #[error("ELKASSA {endpoint}: outcome unknown, the request may have been applied: {reason}")]
    Ambiguous {
        /// Endpoint label.
        endpoint: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// The partner refused our key or token.
    #[error("ELKASSA {endpoint}: credentials refused: {message}")]
    Auth {
        /// Endpoint label.
        endpoint: &'static str,
        /// The partner's message.
        message: String,
    },
    /// A definite answer that is none of the documented ones.
    #[error("ELKASSA {endpoint}: {source}")]
    Unexpected {
        /// Endpoint label.
        endpoint: &'static str,
        /// The answer as read.
        source: EnvelopeError,
    },
    /// The user check failed even after retries.
    #[error(transparent)]
    Lookup(#[from] FetchError),
}

impl RegisterError {
    /// The registration error for a failed send.
    fn from_failure(endpoint: &'static str, failure: SendFailure) -> Self {
        match failure {
            SendFailure::NotSent(reason) => RegisterError::NotSent { endpoint, reason },
            SendFailure::Ambiguous(reason) => RegisterError::Ambiguous { endpoint, reason },
        }
    }
}

impl ElkassaClient {
    /// Registers a shop: sent once, never retried (see the module docs).
    pub async fn register(
        &self,
        request: &RegistrationRequest,
    ) -> Result<RegisterOutcome, RegisterError> {
        let fetched = self.send_registration(request).await?;
        let outcome = parse_register(fetched.http_status, &fetched.body)?;
        Ok(outcome.redacted(request.password.expose_secret()))
    }

    /// Sends a registration once and returns the answer as received (the landing copy).
    pub async fn send_registration(
        &self,
        request: &RegistrationRequest,
    ) -> Result<Fetched, RegisterError> {
        let fields = [
            ("toko_name", request.toko_name.as_str()),
            ("user_type", request.user_type.code()),
            ("no_telp", request.no_telp.as_str()),
            ("email", request.email.as_str()),
            ("password", request.password.expose_secret()),
            ("address", request.address.as_str()),
        ];
        self.post_once("/registration", REGISTER_ENDPOINT, &fields)
            .await
    }

    /// Looks a user up by email: the packet they are on, or `None` for an unknown email.
    ///
    /// A read, so it is retried like one; this is how an ambiguous
    /// registration is resolved.
    pub async fn user_check(&self, email: &str) -> Result<Option<UserPacket>, RegisterError> {
        let url = format!("{}/user_check", self.prefix());
        let build = || {
            self.http.client().post(&url).form(&[
                ("email", email),
                ("key", self.config.key.expose_secret()),
                ("token", self.config.token.expose_secret()),
            ])
        };
        let fetched = self
            .http
            .send_idempotent(build, USER_CHECK_ENDPOINT, "email lookup")
            .await?;
        parse_user_check(fetched.http_status, &fetched.body)
    }

    /// Activates a packet: sent once, never retried.
    pub async fn activate(
        &self,
        request: &ActivationRequest,
    ) -> Result<ActivationOutcome, RegisterError> {
        let amount = request.invoice_amount.to_string();
        let paid = request
            .payment_date
            .with_timezone(&self.config.timezone)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string();
        let fields = [
            ("email", request.email.as_str()),
            ("packet_id", request.packet_id.as_str()),
            ("registration_id", request.registration_id.as_str()),
            ("cabang_id", request.cabang_id.as_str()),
            ("invoice_code", request.invoice_code.as_str()),
            ("invoice_amount", amount.as_str()),
            ("payment_gateway", request.payment_gateway.as_str()),
            ("payment_method", request.payment_method.as_str()),
            ("payment_date", paid.as_str()),
        ];
        let fetched = self
            .post_once("/activation", ACTIVATION_ENDPOINT, &fields)
            .await?;
        parse_activation(fetched.http_status, &fetched.body)
    }

    /// One POST with the credentials added, classified for ambiguity; no retry.
    async fn post_once(
        &self,
        path: &str,
        endpoint: &'static str,
        fields: &[(&str, &str)],
    ) -> Result<Fetched, RegisterError> {
        let mut form = fields.to_vec();
        form.push(("key", self.config.key.expose_secret()));
        form.push(("token", self.config.token.expose_secret()));
        let request = self
            .http
            .client()
            .post(format!("{}{path}", self.prefix()))
            .form(&form);
        self.http
            .send_once(request)
            .await
            .map_err(|failure| RegisterError::from_failure(endpoint, failure))
    }
}

/// Reads a registration answer.
pub fn parse_register(http_status: u16, body: &[u8]) -> Result<RegisterOutcome, RegisterError> {
    let endpoint = REGISTER_ENDPOINT;
    match read_envelope(http_status, body) {
        Ok((message, data)) => match data.as_ref().and_then(|d| text(&d["registration_id"])) {
            Some(external_id) => Ok(RegisterOutcome::Registered {
                external_id,
                message,
            }),
            // The shop probably exists; only a user check can tell.
            None => Err(RegisterError::Ambiguous {
                endpoint,
                reason: "success without a registration_id".to_owned(),
            }),
        },
        Err(refusal) => {
            let message = refusal_message(&refusal);
            if refusal.is_auth() {
                Err(RegisterError::Auth { endpoint, message })
            } else if says(&message, &DUPLICATE_HINTS) {
                Ok(RegisterOutcome::AlreadyRegistered { message })
            } else {
                refused(endpoint, refusal).map(|message| RegisterOutcome::Rejected { message })
            }
        }
    }
}

/// Reads a user-check answer; only a recognised "unknown user" is `None`,
/// because reading any other refusal as "absent" would invite a double registration.
pub fn parse_user_check(
    http_status: u16,
    body: &[u8],
) -> Result<Option<UserPacket>, RegisterError> {
    let endpoint = USER_CHECK_ENDPOINT;
    match read_envelope(http_status, body) {
        Ok((message, data)) => {
            let data = data.unwrap_or(Value::Null);
            let Some(packet_id) = text(&data["packet_id"]) else {
                let source = malformed(http_status, "no packet_id");
                return Err(RegisterError::Unexpected { endpoint, source });
            };
            Ok(Some(UserPacket {
                packet_id,
                packet_desc: text(&data["packet_desc"]),
                message,
            }))
        }
        Err(refusal) if refusal.is_auth() => Err(RegisterError::Auth {
            endpoint,
            message: refusal_message(&refusal),
        }),
        Err(refusal)
            if refusal.is_no_data() || says(&refusal_message(&refusal), &UNKNOWN_HINTS) =>
        {
            Ok(None)
        }
        Err(source) => Err(RegisterError::Unexpected { endpoint, source }),
    }
}

/// Reads an activation answer.
pub fn parse_activation(http_status: u16, body: &[u8]) -> Result<ActivationOutcome, RegisterError> {
    let endpoint = ACTIVATION_ENDPOINT;
    match read_envelope(http_status, body) {
        Ok((_, data)) => {
            let data = data.unwrap_or(Value::Null);
            match (text(&data["registration_id"]), text(&data["packet_id"])) {
                (Some(registration_id), Some(packet_id)) => Ok(ActivationOutcome::Activated {
                    registration_id,
                    packet_id,
                    packet_desc: text(&data["packet_desc"]),
                }),
                _ => Err(RegisterError::Ambiguous {
                    endpoint,
                    reason: "success without registration_id or packet_id".to_owned(),
                }),
            }
        }
        Err(refusal) if refusal.is_auth() => Err(RegisterError::Auth {
            endpoint,
            message: refusal_message(&refusal),
        }),
        Err(refusal) => {
            refused(endpoint, refusal).map(|message| ActivationOutcome::Rejected { message })
        }
    }
}

/// A refusal's message for a Rejected outcome; an unreadable success is ambiguous.
fn refused(endpoint: &'static str, refusal: EnvelopeError) -> Result<String, RegisterError> {
    match refusal {
        EnvelopeError::Refused { message, .. } => Ok(message),
        malformed if malformed.is_garbled_success() => Err(RegisterError::Ambiguous {
            endpoint,
            reason: malformed.to_string(),
        }),
        source => Err(RegisterError::Unexpected { endpoint, source }),
    }
}

/// The envelope's message and data, or the refusal (same rules as the listing parser).
fn read_envelope(http_status: u16, body: &[u8]) -> Result<(String, Option<Value>), EnvelopeError> {
    let value: Value = serde_json::from_slice(body).map_err(|err| EnvelopeError::Malformed {
        http_status,
        reason: err.to_string(),
    })?;
    let message = match &value["messages"] {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let status = match &value["status"] {
        Value::Bool(flag) => Some(*flag),
        Value::Number(number) => Some(number.as_f64() != Some(0.0)),
        Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "ok" | "success" => Some(true),
            "false" | "0" | "error" | "failed" => Some(false),
            _ => None,
        },
        _ => None,
    };
    let success = (200..300).contains(&http_status);
    match status {
        Some(true) if success => Ok((message, value.get("data").cloned())),
        Some(_) => Err(EnvelopeError::Refused {
            http_status,
            message: if message.is_empty() {
                format!("HTTP {http_status}")
            } else {
                message
            },
        }),
        None => Err(malformed(http_status, "no `status` field")),
    }
}

fn malformed(http_status: u16, reason: &str) -> EnvelopeError {
    EnvelopeError::Malformed {
        http_status,
        reason: reason.to_owned(),
    }
}

fn refusal_message(refusal: &EnvelopeError) -> String {
    match refusal {
        EnvelopeError::Refused { message, .. } => message.clone(),
        EnvelopeError::Malformed { reason, .. } => reason.clone(),
    }
}

impl RegisterOutcome {
    /// Removes `secret` from the partner's message, which may echo the request back.
    fn redacted(mut self, secret: &str) -> Self {
        let (Self::Registered { message, .. }
        | Self::AlreadyRegistered { message }
        | Self::Rejected { message }) = &mut self;
        *message = crate::secrets::redact(message, &[secret]);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registration_id_in_the_data_is_a_registration() {
        let outcome = parse_register(
            200,
            br#"{"status": true, "messages": "Register success!", "data": {"registration_id": "ELK34128"}}"#,
        )
        .unwrap();
        assert_eq!(
            outcome,
            RegisterOutcome::Registered {
                external_id: "ELK34128".to_owned(),
                message: "Register success!".to_owned()
            }
        );
    }

    #[test]
    fn a_used_email_is_already_registered_and_other_refusals_are_rejections() {
        let duplicate = br#"{"status": false, "messages": "Email sudah terdaftar", "data": null}"#;
        assert!(matches!(
            parse_register(200, duplicate).unwrap(),
            RegisterOutcome::AlreadyRegistered { .. }
        ));
        let short = br#"{"status": false, "messages": "Password minimal 6 karakter"}"#;
        assert!(matches!(
            parse_register(200, short).unwrap(),
            RegisterOutcome::Rejected { .. }
        ));
        let missing = br#"{"status": false, "messages": "Packet does not exist"}"#;
        assert!(matches!(
            parse_register(200, missing).unwrap(),
            RegisterOutcome::Rejected { .. }
        ));
    }

    #[test]
    fn a_bad_key_is_an_auth_error_and_an_unreadable_success_is_ambiguous() {
        let auth = br#"{"status": false, "messages": "Invalid key or token"}"#;
        assert!(matches!(
            parse_register(200, auth),
            Err(RegisterError::Auth { .. })
        ));
        assert!(matches!(
            parse_register(200, b"{\"status\": tr"),
            Err(RegisterError::Ambiguous { .. })
        ));
        assert!(matches!(
            parse_register(200, br#"{"status": true, "data": {}}"#),
            Err(RegisterError::Ambiguous { .. })
        ));
    }

    #[test]
    fn only_a_recognised_unknown_user_reads_as_absent() {
        let unknown = br#"{"status": false, "messages": "Email tidak terdaftar"}"#;
        assert_eq!(parse_user_check(200, unknown).unwrap(), None);
        let odd = br#"{"status": false, "messages": "Sistem sibuk"}"#;
        assert!(matches!(
            parse_user_check(200, odd),
            Err(RegisterError::Unexpected { .. })
        ));
        let known = br#"{"status": true, "messages": "ok", "data": {"packet_id": 9, "packet_desc": "Trial 30 Hari"}}"#;
        assert_eq!(
            parse_user_check(200, known).unwrap().unwrap().packet_id,
            "9"
        );
    }

    #[test]
    fn the_debug_output_of_a_registration_hides_the_password() {
        let request = RegistrationRequest {
            toko_name: "Toko AHE".to_owned(),
            user_type: UserType::Retail,
            no_telp: "081234567890".to_owned(),
            email: "ahe@example.test".to_owned(),
            password: SecretString::from("hunter2-secret"),
            address: "Bandung".to_owned(),
        };
        assert!(!format!("{request:?}").contains("hunter2-secret"));
        let echoed = RegisterOutcome::Rejected {
            message: "bad password hunter2-secret".to_owned(),
        }
        .redacted("hunter2-secret");
        assert!(!format!("{echoed:?}").contains("hunter2-secret"));
    }
}
