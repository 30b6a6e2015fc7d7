//! Simulated ELKASSA registration, user check and activation: form POSTs
//! with `key` and `token` in the body, answered with the usual envelope.
//! A registration also puts a fresh 30-day trial at the head of the listing.

use std::borrow::Cow;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde_json::json;

use super::super::elkassa::query_param;
use super::super::faults::Counters;
use super::super::population::PACKETS;
use super::super::render;
use super::{lock, same_email, Simulator};

/// Index of the 30-day trial in `PACKETS`.
const TRIAL: usize = 0;
/// Generated users' emails are `shop{index}` at this domain.
const GENERATED_DOMAIN: &str = "@example.test";

/// Shops registered through the API, and the registration POSTs received.
#[derive(Default)]
pub(super) struct Shops {
    pub attempts: AtomicU64,
    shops: Mutex<Vec<Shop>>,
}

struct Shop {
    email: String,
    registration_id: String,
    packet: usize,
}

impl Shops {
    /// Accounts for `email`: shops registered through the API plus generated users.
    pub fn with_email(&self, sim: &Simulator, email: &str) -> usize {
        let shops = lock(&self.shops);
        let registered = shops.iter().filter(|s| same_email(&s.email, email)).count();
        registered + generated_with_email(sim, email).len()
    }
}

/// The routes under `/integration` that take form POSTs.
pub(super) fn router(sim: Simulator) -> Router {
    Router::new()
        .route("/integration/registration", post(register))
        .route("/integration/user_check", post(user_check))
        .route("/integration/activation", post(activate))
        .with_state(sim)
}

/// An ELKASSA refusal envelope.
fn error_body(_code: u16, message: &str) -> String {
    json!({"status": false, "messages": message, "data": null}).to_string()
}

async fn register(State(sim): State<Simulator>, body: Bytes) -> Response {
    Counters::bump(&sim.inner.partners.elkassa.attempts);
    let drop = match sim.admit_partner(error_body).await {
        Ok(drop) => drop,
        Err(refused) => return refused,
    };
    let form = String::from_utf8_lossy(&body);
    if !authorised(&sim, &form) {
        return sim.partner_answer(StatusCode::OK, render::INVALID_AUTH.to_owned(), drop);
    }
    if let Err(message) = validate_registration(&form) {
        return sim.partner_answer(StatusCode::OK, error_body(400, message), drop);
    }
    let email = field(&form, "email").trim().to_lowercase();
    let created = {
        let mut shops = lock(&sim.inner.partners.elkassa.shops);
        let taken = shops.iter().any(|s| same_email(&s.email, &email))
            || !generated_with_email(&sim, &email).is_empty();
        (!taken).then(|| {
            let registration_id = sim.register_shop();
            sim.set_shop_profile(
                &registration_id,
                &email,
                field(&form, "toko_name").trim(),
                field(&form, "address").trim(),
            );
            shops.push(Shop {
                email,
                registration_id: registration_id.clone(),
                packet: TRIAL,
            });
            registration_id
        })
    };
    let Some(registration_id) = created else {
        return sim.partner_answer(
            StatusCode::OK,
            error_body(409, "Email sudah terdaftar"),
            drop,
        );
    };
    let answer = json!({
        "status": true,
        "messages": "Register success!",
        "data": {"registration_id": registration_id},
    });
    let drop = drop || sim.commit_then_drop();
    sim.partner_answer(StatusCode::OK, answer.to_string(), drop)
}

async fn user_check(State(sim): State<Simulator>, body: Bytes) -> Response {
    let drop = match sim.admit_partner(error_body).await {
        Ok(drop) => drop,
        Err(refused) => return refused,
    };
    let form = String::from_utf8_lossy(&body);
    if !authorised(&sim, &form) {
        return sim.partner_answer(StatusCode::OK, render::INVALID_AUTH.to_owned(), drop);
    }
    let email = field(&form, "email");
    let Some(packet) = packet_of(&sim, &email) else {
        return sim.partner_answer(
            StatusCode::OK,
            error_body(404, "Email tidak terdaftar"),
            drop,
        );
    };
    let packet = &PACKETS[packet];
    let answer = json!({
        "status": true,
        "messages": format!("User berlangganan paket {}.", packet.desc),
        "data": {"packet_id": packet.id, "packet_desc": packet.desc},
    });
    sim.partner_answer(StatusCode::OK, answer.to_string(), drop)
}

async fn activate(State(sim): State<Simulator>, body: Bytes) -> Response {
    let drop = match sim.admit_partner(error_body).await {
        Ok(drop) => drop,
        Err(refused) => return refused,
    };
    let form = String::from_utf8_lossy(&body);
    if !authorised(&sim, &form) {
        return sim.partner_answer(StatusCode::OK, render::INVALID_AUTH.to_owned(), drop);
    }
    let answer = match apply_activation(&sim, &form) {
        Ok((registration_id, packet)) => json!({
            "status": true,
            "messages": "Aktifasi user success!",
            "data": {
                "registration_id": registration_id,
                "packet_id": PACKETS[packet].id,
                "packet_desc": PACKETS[packet].desc,
            },
        })
        .to_string(),
        Err(message) => error_body(400, message),
    };
    sim.partner_answer(StatusCode::OK, answer, drop)
}

/// Checks and applies an activation; the registration id and new packet, or the refusal.
fn apply_activation(sim: &Simulator, form: &str) -> Result<(String, usize), &'static str> {
    let packet = PACKETS
        .iter()
        .position(|p| p.id == field(form, "packet_id").trim())
        .filter(|&p| p != TRIAL)
        .ok_or("packet_id tidak valid")?;
    for name in [
        "cabang_id",
        "invoice_code",
        "payment_gateway",
        "payment_method",
        "payment_date",
    ] {
        if field(form, name).trim().is_empty() {
            return Err("Data aktivasi tidak lengkap");
        }
    }
    if !is_digits(&field(form, "invoice_amount")) {
        return Err("invoice_amount harus berupa angka");
    }
    let email = field(form, "email");
    let mut shops = lock(&sim.inner.partners.elkassa.shops);
    let shop = shops
        .iter_mut()
        .find(|s| same_email(&s.email, &email))
        .ok_or("User tidak ditemukan")?;
    if shop.registration_id != field(form, "registration_id").trim() {
        return Err("registration_id tidak sesuai dengan email");
    }
    shop.packet = packet;
    // The listing shows the new packet from now on, running from today.
    let months = i64::from(PACKETS[packet].months);
    let expires = sim.wib_now() + chrono::TimeDelta::days(30 * months);
    sim.set_packet(&shop.registration_id, packet as u8, expires);
    Ok((shop.registration_id.clone(), packet))
}

/// The partner's checks of a registration form, in its own words.
fn validate_registration(form: &str) -> Result<(), &'static str> {
    let email = field(form, "email");
    let checks = [
        (
            field(form, "toko_name").trim().is_empty(),
            "toko_name wajib diisi",
        ),
        (
            !matches!(&*field(form, "user_type"), "0" | "1"),
            "user_type tidak valid",
        ),
        (
            !is_digits(&field(form, "no_telp")),
            "no_telp harus berupa angka",
        ),
        (
            !email.contains('@') || email.trim().len() < 3,
            "Format email tidak valid",
        ),
        (
            field(form, "password").chars().count() < 6,
            "Password minimal 6 karakter",
        ),
        (
            field(form, "address").trim().is_empty(),
            "address wajib diisi",
        ),
    ];
    match checks.iter().find(|(failed, _)| *failed) {
        Some((_, message)) => Err(*message),
        None => Ok(()),
    }
}

/// The packet (index into `PACKETS`) of the user with `email`, if any.
fn packet_of(sim: &Simulator, email: &str) -> Option<usize> {
    let registered = lock(&sim.inner.partners.elkassa.shops)
        .iter()
        .find(|s| same_email(&s.email, email))
        .map(|s| s.packet);
    registered.or_else(|| {
        let index = *generated_with_email(sim, email).first()?;
        let catalogue = sim.read();
        Some(usize::from(
            catalogue.user(&sim.inner.population, index).packet,
        ))
    })
}

/// Indices of listed generated users whose email is `email` (a reused email has two).
fn generated_with_email(sim: &Simulator, email: &str) -> Vec<u32> {
    let lower = email.trim().to_ascii_lowercase();
    let Some(n) = lower
        .strip_prefix("shop")
        .and_then(|rest| rest.strip_suffix(GENERATED_DOMAIN))
        .filter(|digits| is_digits(digits))
        .and_then(|digits| digits.parse::<u32>().ok())
    else {
        return Vec::new();
    };
    let catalogue = sim.read();
    [Some(n), n.checked_add(1)]
        .into_iter()
        .flatten()
        .filter(|&index| catalogue.is_known(index))
        .filter(|&index| catalogue.user(&sim.inner.population, index).email_index == n)
        .collect()
}

/// Checks `key` and `token` among the form fields, counting failures.
fn authorised(sim: &Simulator, form: &str) -> bool {
    let ok = *field(form, "key") == *sim.key() && *field(form, "token") == *sim.token();
    if !ok {
        Counters::bump(&sim.inner.counters.auth_failures);
    }
    ok
}

/// A form field, percent-decoded; empty when missing.
fn field<'a>(form: &'a str, name: &str) -> Cow<'a, str> {
    query_param(form, name).unwrap_or(Cow::Borrowed(""))
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}
