//! Simulated QM customer registration: `Key` and an HMAC-SHA256 `Sign` over
//! the exact body bytes, the document's field rules, and "already
//! registered" for a known identity number, email or phone.

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use chrono::TimeDelta;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::super::faults::Counters;
use super::super::population::mix;
use super::{header_text, hex, json, lock, same_email, Simulator};

const VALIDATION_CODE: u16 = 1001;
const DUPLICATE_CODE: u16 = 1002;

/// Customers registered, and the registration POSTs received.
#[derive(Default)]
pub(super) struct Customers {
    pub attempts: AtomicU64,
    customers: Mutex<Vec<Customer>>,
}

struct Customer {
    identity_number: String,
    email: Option<String>,
    phone_number: Option<String>,
}

impl Customer {
    fn same_person(&self, other: &Customer) -> bool {
        let same = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => same_email(a, b),
            _ => false,
        };
        self.identity_number == other.identity_number
            || same(&self.email, &other.email)
            || same(&self.phone_number, &other.phone_number)
    }
}

impl Customers {
    /// Customers registered with `email`.
    pub fn with_email(&self, email: &str) -> usize {
        let customers = lock(&self.customers);
        customers
            .iter()
            .filter(|c| c.email.as_deref().is_some_and(|e| same_email(e, email)))
            .count()
    }
}

/// The QM route.
pub(super) fn router(sim: Simulator) -> Router {
    Router::new()
        .route("/v1/customer/register", post(register))
        .with_state(sim)
}

/// A QM answer without data.
fn error_body(code: u16, message: &str) -> String {
    json!({"code": code, "message": message}).to_string()
}

async fn register(State(sim): State<Simulator>, headers: HeaderMap, body: Bytes) -> Response {
    Counters::bump(&sim.inner.partners.qm.attempts);
    let drop = match sim.admit_partner(error_body).await {
        Ok(drop) => drop,
        Err(refused) => return refused,
    };
    if let Err(message) = authenticate(&sim, &headers, &body) {
        Counters::bump(&sim.inner.counters.auth_failures);
        return json(StatusCode::UNAUTHORIZED, error_body(401, message));
    }
    let customer = match serde_json::from_slice::<Value>(&body) {
        Ok(request) if request["customer"].is_object() => request["customer"].clone(),
        _ => {
            return json(
                StatusCode::BAD_REQUEST,
                error_body(400, "invalid JSON body"),
            )
        }
    };
    let customer = match validate(&customer) {
        Ok(customer) => customer,
        Err(message) => {
            let body = error_body(VALIDATION_CODE, message);
            return sim.partner_answer(StatusCode::BAD_REQUEST, body, drop);
        }
    };
    let session = {
        let mut customers = lock(&sim.inner.partners.qm.customers);
        if customers.iter().any(|known| known.same_person(&customer)) {
            let body = error_body(DUPLICATE_CODE, "customer already registered");
            return sim.partner_answer(StatusCode::OK, body, drop);
        }
        customers.push(customer);
        customers.len() as u64
    };
    let seed = sim.inner.partners.seed;
    let ttl = TimeDelta::seconds(sim.partner_config().qm_code_ttl_secs);
    let answer = json!({
        "code": 0,
        "message": "success",
        "data": {
            "sessionId": format!("qm-{:016x}", mix(seed ^ session)),
            "expiredOn": (sim.present() + ttl).timestamp_millis(),
        },
    });
    let drop = drop || sim.commit_then_drop();
    sim.partner_answer(StatusCode::OK, answer.to_string(), drop)
}

/// Checks `Key`, and `Sign` against the body bytes exactly as received.
fn authenticate(sim: &Simulator, headers: &HeaderMap, body: &[u8]) -> Result<(), &'static str> {
    let config = sim.partner_config();
    if header_text(headers, "key") != Some(config.qm_key.as_str()) {
        return Err("invalid key");
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(config.qm_secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(body);
    let expected = hex(&mac.finalize().into_bytes());
    // Case matters: the document asks for lowercase hex.
    match header_text(headers, "sign") {
        Some(sign) if sign == expected => Ok(()),
        _ => Err("invalid signature"),
    }
}

/// The document's rules for a customer, in QM's words.
fn validate(customer: &Value) -> Result<Customer, &'static str> {
    let text = |name: &str| -> Result<Option<String>, &'static str> {
        match &customer[name] {
            Value::Null => Ok(None),
            Value::String(text) if text.trim().is_empty() => Ok(None),
            Value::String(text) => Ok(Some(text.trim().to_owned())),
            _ => Err("customer fields must be strings"),
        }
    };
    text("legalFullName")?.ok_or("legalFullName is required")?;
    let identity_number = text("identityNumber")?.ok_or("identityNumber is required")?;
    let email = text("email")?;
    let phone_number = text("phoneNumber")?;
    if email.is_none() && phone_number.is_none() {
        return Err("email or phoneNumber is required");
    }
    if email.as_deref().is_some_and(|e| !e.contains('@')) {
        return Err("email is not a valid email address");
    }
    if phone_number.as_deref().is_some_and(|p| !is_e164(p)) {
        return Err("phoneNumber must be in E.164 format, e.g. +60123456789");
    }
    let method_ok = match text("primaryLoginMethod")?.as_deref() {
        Some("email") => email.is_some(),
        Some("phoneNumber") => phone_number.is_some(),
        _ => false,
    };
    if !method_ok {
        return Err("primaryLoginMethod must be email or phoneNumber and name a given field");
    }
    Ok(Customer {
        identity_number,
        email,
        phone_number,
    })
}

/// `+`, a non-zero country digit, 8 to 15 digits in all.
fn is_e164(phone: &str) -> bool {
    phone.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len())
            && !digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_needs_the_plus_the_country_code_and_digits_only() {
        assert!(is_e164("+60123456789") && is_e164("+6281234567890"));
        assert!(!is_e164("60123456789"));
        assert!(!is_e164("+0812345678"));
        assert!(!is_e164("+62 812 3456"));
    }
}
