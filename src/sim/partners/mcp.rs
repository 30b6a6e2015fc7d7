//! Simulated MCP client registration: the gateway key and an HS256 JWT,
//! the document's field limits, and a refusal of a second client with the
//! same email.

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::TimeDelta;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::super::faults::Counters;
use super::super::WIB_OFFSET_HOURS;
use super::{bearer, header_text, json, lock, same_email, Simulator};

/// Text fields: wire name, maximum length, mandatory.
const FIELDS: [(&str, usize, bool); 7] = [
    ("client_name", 100, true),
    ("client_email", 100, true),
    ("client_password", 100, true),
    ("client_company", 200, true),
    ("client_address", 255, true),
    ("client_logo", 200, true),
    ("client_pic", 200, false),
];
const VALIDATION_CODE: u16 = 10;
const DUPLICATE_CODE: u16 = 20;

/// Clients registered, and the registration POSTs received.
#[derive(Default)]
pub(super) struct Clients {
    pub attempts: AtomicU64,
    clients: Mutex<Vec<(String, String)>>,
}

impl Clients {
    /// Clients registered with `email`.
    pub fn with_email(&self, email: &str) -> usize {
        let clients = lock(&self.clients);
        clients.iter().filter(|(e, _)| same_email(e, email)).count()
    }
}

/// The MCP route.
pub(super) fn router(sim: Simulator) -> Router {
    Router::new()
        .route("/client/register", post(register))
        .with_state(sim)
}

/// An MCP failure answer.
fn error_body(code: u16, message: &str) -> String {
    json!({"resultCode": code.to_string(), "resultDesc": message, "data": {}, "expiredDate": ""})
        .to_string()
}

/// An HS256 JWT with subject, issuer and `exp`, signed with `secret`.
pub(super) fn mint_jwt(secret: &str, exp: i64) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = json!({"sub": "rekon", "iss": "mcp-sim", "exp": exp}).to_string();
    let signing_input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims));
    let mut mac = hmac(secret);
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

/// Checks a JWT's signature and that `exp` is after `now` (Unix seconds).
fn verify_jwt(secret: &str, token: &str, now: i64) -> Result<(), &'static str> {
    let invalid = "invalid token";
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid);
    };
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| invalid)?;
    let mut mac = hmac(secret);
    mac.update(format!("{header}.{payload}").as_bytes());
    mac.verify_slice(&signature).map_err(|_| invalid)?;
    let claims: Value = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(invalid)?;
    match claims["exp"].as_i64() {
        Some(exp) if exp > now => Ok(()),
        Some(_) => Err("token expired"),
        None => Err(invalid),
    }
}

fn hmac(secret: &str) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length")
}

async fn register(State(sim): State<Simulator>, headers: HeaderMap, body: Bytes) -> Response {
    Counters::bump(&sim.inner.partners.mcp.attempts);
    let drop = match sim.admit_partner(error_body).await {
        Ok(drop) => drop,
        Err(refused) => return refused,
    };
    if let Err(message) = authenticate(&sim, &headers) {
        Counters::bump(&sim.inner.counters.auth_failures);
        return json(StatusCode::UNAUTHORIZED, error_body(401, message));
    }
    let client = match serde_json::from_slice::<Value>(&body) {
        Ok(client) if client.is_object() => client,
        _ => {
            return json(
                StatusCode::BAD_REQUEST,
                error_body(400, "invalid JSON body"),
            )
        }
    };
    if let Err(message) = validate(&client) {
        let body = error_body(VALIDATION_CODE, &message);
        return sim.partner_answer(StatusCode::BAD_REQUEST, body, drop);
    }
    let email = client["client_email"].as_str().unwrap_or_default();
    let client_id = {
        let mut clients = lock(&sim.inner.partners.mcp.clients);
        if clients.iter().any(|(e, _)| same_email(e, email)) {
            let body = error_body(DUPLICATE_CODE, "client email already registered");
            return sim.partner_answer(StatusCode::OK, body, drop);
        }
        let client_id = format!("MCP{:06}", clients.len() + 1);
        clients.push((email.to_owned(), client_id.clone()));
        client_id
    };
    let days = TimeDelta::days(sim.partner_config().mcp_activation_days);
    let expires = sim.present() + days + TimeDelta::hours(WIB_OFFSET_HOURS);
    let answer = json!({
        "resultCode": "0",
        "resultDesc": "success",
        "data": {"client_id": client_id, "client_email": email},
        "expiredDate": expires.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string(),
    });
    let drop = drop || sim.commit_then_drop();
    sim.partner_answer(StatusCode::OK, answer.to_string(), drop)
}

/// Checks the gateway key and the JWT.
fn authenticate(sim: &Simulator, headers: &HeaderMap) -> Result<(), &'static str> {
    let config = sim.partner_config();
    if header_text(headers, "x-gateway-apikey") != Some(config.mcp_api_key.as_str()) {
        return Err("invalid api key");
    }
    let token = bearer(headers).ok_or("missing bearer token")?;
    verify_jwt(&config.mcp_jwt_secret, token, sim.present().timestamp())
}

/// The document's rules for a registration body, in MCP's words.
fn validate(client: &Value) -> Result<(), String> {
    for (name, limit, mandatory) in FIELDS {
        match &client[name] {
            Value::String(text) if mandatory && text.trim().is_empty() => {
                return Err(format!("{name} is required"));
            }
            Value::String(text) if text.chars().count() > limit => {
                return Err(format!("{name} exceeds {limit} characters"));
            }
            Value::String(_) => {}
            Value::Null if !mandatory => {}
            Value::Null => return Err(format!("{name} is required")),
            _ => return Err(format!("{name} must be a string")),
        }
    }
    let phone_ok = client["client_phone"]
        .as_u64()
        .is_some_and(|phone| (8..=15).contains(&phone.to_string().len()));
    if !phone_ok {
        return Err("client_phone must be an integer of 8 to 15 digits".to_owned());
    }
    if !client["client_email"]
        .as_str()
        .unwrap_or_default()
        .contains('@')
    {
        return Err("client_email is not a valid email".to_owned());
    }
    let logo = client["client_logo"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    if ![".png", ".jpg", ".jpeg"]
        .iter()
        .any(|ext| logo.ends_with(ext))
    {
        return Err("client_logo must be a png or jpg".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_jwt_verifies_until_its_exp_and_not_with_another_secret() {
        let jwt = mint_jwt("secret", 1_000);
        assert_eq!(verify_jwt("secret", &jwt, 999), Ok(()));
        assert_eq!(verify_jwt("secret", &jwt, 1_000), Err("token expired"));
        assert_eq!(verify_jwt("other", &jwt, 999), Err("invalid token"));
        assert_eq!(verify_jwt("secret", "a.b", 999), Err("invalid token"));
    }
}
