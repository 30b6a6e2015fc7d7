//! Simulated middleware: a login that issues expiring bearer tokens, and
//! Request Out, whose tickets answer "in process" for a configured number
//! of posts and are done after that.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use super::super::faults::Counters;
use super::super::population::mix;
use super::{bearer, json, lock, Simulator};

/// Fields a Request Out must carry, with their only accepted values.
const SUBJECT: [(&str, &str); 3] = [
    ("Subject", "digitalid"),
    ("SubjectType", "enrollment"),
    ("SubjectIdentifier", "ektp"),
];
const FIRST_RESOURCE_ID: u64 = 321_231_990;

/// Tokens, tickets and counters of the simulated middleware.
#[derive(Default)]
pub(super) struct Enrollments {
    pub attempts: AtomicU64,
    pub logins: AtomicU64,
    /// Token → when it was issued.
    tokens: Mutex<HashMap<String, Instant>>,
    tickets: Mutex<HashMap<String, Ticket>>,
}

struct Ticket {
    posts: u32,
    resource_id: u64,
}

impl Enrollments {
    /// 1 when a ticket with this id exists, else 0.
    pub fn with_ticket(&self, ticket_id: &str) -> usize {
        usize::from(lock(&self.tickets).contains_key(ticket_id))
    }

    /// Forgets every issued token.
    pub fn revoke_tokens(&self) {
        lock(&self.tokens).clear();
    }
}

/// The middleware routes.
pub(super) fn router(sim: Simulator) -> Router {
    Router::new()
        .route("/auth/login", post(login))
        .route("/request-out", post(request_out))
        .with_state(sim)
}

/// The document's HTTP 400 shape.
fn error_body(code: u16, message: &str) -> String {
    json!({"Status": "error", "Code": code.to_string(), "Message": message, "Data": ""}).to_string()
}

async fn login(State(sim): State<Simulator>, body: Bytes) -> Response {
    let drop = match sim.admit_partner(error_body).await {
        Ok(drop) => drop,
        Err(refused) => return refused,
    };
    let config = sim.partner_config();
    let credentials: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let valid = credentials["username"].as_str() == Some(config.middleware_username.as_str())
        && credentials["password"].as_str() == Some(config.middleware_password.as_str());
    if !valid {
        Counters::bump(&sim.inner.counters.auth_failures);
        let refusal = json!({"message": "invalid username or password"}).to_string();
        return json(StatusCode::UNAUTHORIZED, refusal);
    }
    let state = &sim.inner.partners;
    let n = state.middleware.logins.fetch_add(1, Ordering::Relaxed);
    let token = format!(
        "mw-{:016x}{:016x}",
        mix(state.seed ^ n),
        mix(!state.seed ^ n)
    );
    lock(&state.middleware.tokens).insert(token.clone(), Instant::now());
    let answer = json!({"token": token, "expiresIn": config.middleware_token_ttl_secs});
    sim.partner_answer(StatusCode::OK, answer.to_string(), drop)
}

async fn request_out(State(sim): State<Simulator>, headers: HeaderMap, body: Bytes) -> Response {
    Counters::bump(&sim.inner.partners.middleware.attempts);
    let drop = match sim.admit_partner(error_body).await {
        Ok(drop) => drop,
        Err(refused) => return refused,
    };
    if !token_valid(&sim, bearer(&headers)) {
        Counters::bump(&sim.inner.counters.auth_failures);
        return json(StatusCode::UNAUTHORIZED, error_body(401, "Unauthorized"));
    }
    let ticket_id = match ticket_of(&body) {
        Ok(ticket_id) => ticket_id,
        Err(message) => {
            return sim.partner_answer(StatusCode::BAD_REQUEST, error_body(400, &message), drop)
        }
    };
    let (created, posts, resource_id) = {
        let mut tickets = lock(&sim.inner.partners.middleware.tickets);
        let next_id = FIRST_RESOURCE_ID + tickets.len() as u64;
        let created = !tickets.contains_key(&ticket_id);
        let ticket = tickets.entry(ticket_id.clone()).or_insert(Ticket {
            posts: 0,
            resource_id: next_id,
        });
        ticket.posts += 1;
        (created, ticket.posts, ticket.resource_id)
    };
    let answer = if posts <= sim.partner_config().middleware_polls_until_done {
        in_process()
    } else {
        done(&sim, &ticket_id, resource_id)
    };
    let drop = drop || (created && sim.commit_then_drop());
    sim.partner_answer(StatusCode::OK, answer, drop)
}

/// Whether the bearer token was issued and is younger than the configured lifetime.
fn token_valid(sim: &Simulator, token: Option<&str>) -> bool {
    let ttl = Duration::from_secs(sim.partner_config().middleware_token_ttl_secs);
    let tokens = lock(&sim.inner.partners.middleware.tokens);
    token
        .and_then(|token| tokens.get(token))
        .is_some_and(|issued| issued.elapsed() < ttl)
}

/// The ticket id of a well-formed Request Out, or the middleware's complaint.
fn ticket_of(body: &[u8]) -> Result<String, String> {
    let request: Value =
        serde_json::from_slice(body).map_err(|_| "Request body harus JSON".to_owned())?;
    let ticket_id = request["TicketId"]
        .as_str()
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .ok_or("TicketId wajib diisi")?;
    for (name, expected) in SUBJECT {
        if request[name].as_str() != Some(expected) {
            return Err(format!("{name} tidak valid"));
        }
    }
    Ok(ticket_id.to_owned())
}

/// The document's "in process" answer: every field empty, `StatusCode` 404.
fn in_process() -> String {
    json!({
        "TicketId": "", "Subject": "", "SubjectType": "", "SubjectIdentifier": "",
        "Action": "", "ResourceType": "", "Resource": "", "ResourceId": "",
        "Data": null, "Status": "success",
        "Message": "Request on process / not available now", "StatusCode": 404,
    })
    .to_string()
}

/// The document's done answer, with a NIK derived from the ticket.
fn done(sim: &Simulator, ticket_id: &str, resource_id: u64) -> String {
    let hash = ticket_id
        .bytes()
        .fold(sim.inner.partners.seed, |h, b| mix(h ^ u64::from(b)));
    let nik = format!("32{:014}", hash % 100_000_000_000_000);
    json!({
        "TicketId": ticket_id, "Subject": "digitalid", "SubjectType": "enrollment",
        "SubjectIdentifier": "ektp", "Action": "create", "ResourceType": "data",
        "Resource": "nik", "ResourceId": resource_id.to_string(),
        "Data": {"Image": "ok", "NIK": nik, "Status": "ok"},
        "Status": "success", "Message": "success", "StatusCode": 200,
    })
    .to_string()
}
