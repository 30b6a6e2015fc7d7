//! The axum handlers of the simulated `/integration` endpoints.

use std::borrow::Cow;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures::stream::{self, StreamExt};

use super::faults::{Admission, Counters, Endpoint};
use super::render;
use super::Simulator;

/// Users per listing page, as the partner document states.
pub(super) const PAGE_SIZE: usize = 10;
/// Users rendered per chunk of the unpaged listing, which is streamed.
const STREAM_CHUNK: usize = 512;
/// Pause before a dropped connection dies, so the first half reaches the client.
const DROP_PAUSE: Duration = Duration::from_millis(10);

/// The routes of the simulated partner.
pub(super) fn router(sim: Simulator) -> Router {
    Router::new()
        .route("/integration/registration", get(registration))
        .route("/integration/users", get(all_users))
        .route("/integration/users/{page}", get(users_page))
        .route("/integration/user/{registration_id}", get(user_detail))
        .with_state(sim)
}

async fn registration(State(sim): State<Simulator>, RawQuery(query): RawQuery) -> Response {
    let drop = match sim.admit(Endpoint::Reference).await {
        Ok(drop) => drop,
        Err(refused) => return refused,
    };
    if !sim.authorised(query.as_deref()) {
        return sim.answer(StatusCode::OK, render::INVALID_AUTH.to_owned(), drop);
    }
    sim.answer(StatusCode::OK, render::registration(), drop)
}

async fn users_page(
    State(sim): State<Simulator>,
    Path(page): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let faults = sim.inner.gate.current();
    // The world moves whatever happens to this request: a shop registers first.
    if sim.inner.gate.drift_due(&faults) {
        if faults.drift_at_tail {
            sim.append_shop();
        } else {
            sim.register_shop();
        }
        Counters::bump(&sim.inner.counters.drift_inserts);
    }
    let drop = match sim.admit_with(&faults, Endpoint::Listing).await {
        Ok(drop) => drop,
        Err(refused) => return refused,
    };
    if !sim.authorised(query.as_deref()) {
        return sim.answer(StatusCode::OK, render::INVALID_AUTH.to_owned(), drop);
    }
    let Some(page) = page.parse::<usize>().ok().filter(|&p| p > 0) else {
        return sim.answer(
            StatusCode::BAD_REQUEST,
            render::INVALID_PAGE.to_owned(),
            drop,
        );
    };
    let body = sim.render_page(page);
    if !drop {
        Counters::bump(&sim.inner.counters.pages_served);
    }
    sim.answer(StatusCode::OK, body, drop)
}

async fn user_detail(
    State(sim): State<Simulator>,
    Path(registration_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let drop = match sim.admit(Endpoint::Detail).await {
        Ok(drop) => drop,
        Err(refused) => return refused,
    };
    if !sim.authorised(query.as_deref()) {
        return sim.answer(StatusCode::OK, render::INVALID_AUTH.to_owned(), drop);
    }
    let body = match sim.user_json(&registration_id) {
        Some(user) => {
            let mut out = String::with_capacity(user.len() + 64);
            out.push_str(render::USERS_HEAD);
            out.push_str(&user);
            out.push_str(render::USERS_TAIL);
            out
        }
        None => render::USER_NOT_FOUND.to_owned(),
    };
    sim.answer(StatusCode::OK, body, drop)
}

/// Everyone at once. Streamed in chunks from a snapshot of the order, so a
/// million users never sit in memory as one body (hence no Content-Length).
async fn all_users(State(sim): State<Simulator>, RawQuery(query): RawQuery) -> Response {
    let drop = match sim.admit(Endpoint::Listing).await {
        Ok(drop) => drop,
        Err(refused) => return refused,
    };
    if !sim.authorised(query.as_deref()) {
        return sim.answer(StatusCode::OK, render::INVALID_AUTH.to_owned(), drop);
    }
    let order: Vec<u32> = sim.read().order().iter().copied().collect();
    let chunks = order.len().div_ceil(STREAM_CHUNK);
    let renderer = sim.clone();
    let mut first = true;
    let users = stream::iter(0..chunks).map(move |c| {
        let part = &order[c * STREAM_CHUNK..((c + 1) * STREAM_CHUNK).min(order.len())];
        Bytes::from(renderer.render_entries(part.iter().copied(), &mut first))
    });
    let body = stream::iter([Bytes::from_static(render::USERS_HEAD.as_bytes())])
        .chain(users)
        .chain(stream::once(async {
            Bytes::from_static(render::USERS_TAIL.as_bytes())
        }));
    if drop {
        Counters::bump(&sim.inner.counters.injected_drops);
        let half = (chunks + 2) / 2;
        let cut = body.take(half).map(Ok).chain(dying());
        return json_response(StatusCode::OK, Body::from_stream(cut));
    }
    json_response(
        StatusCode::OK,
        Body::from_stream(body.map(Ok::<_, std::io::Error>)),
    )
}

impl Simulator {
    /// Runs the fault gate; `Ok(drop)` to serve, `Err` with the injected answer.
    async fn admit(&self, endpoint: Endpoint) -> Result<bool, Response> {
        let faults = self.inner.gate.current();
        self.admit_with(&faults, endpoint).await
    }

    async fn admit_with(
        &self,
        faults: &super::Faults,
        endpoint: Endpoint,
    ) -> Result<bool, Response> {
        match self
            .inner
            .gate
            .admit(faults, endpoint, &self.inner.counters)
            .await
        {
            Admission::Serve { drop } => Ok(drop),
            Admission::Unavailable => Err(json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                Body::from(render::UNAVAILABLE),
            )),
            Admission::RateLimited { retry_after } => {
                let mut response = json_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    Body::from(render::RATE_LIMITED),
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                Err(response)
            }
        }
    }

    /// Checks `key` and `token` in the query string, counting failures.
    fn authorised(&self, query: Option<&str>) -> bool {
        let query = query.unwrap_or("");
        let ok = query_param(query, "key").is_some_and(|k| k == self.inner.key)
            && query_param(query, "token").is_some_and(|t| t == self.inner.token);
        if !ok {
            Counters::bump(&self.inner.counters.auth_failures);
        }
        ok
    }

    /// Listing page `page` (1-based) of the current order; empty data past the end.
    pub(super) fn render_page(&self, page: usize) -> String {
        let catalogue = self.read();
        let offset = (page - 1).saturating_mul(PAGE_SIZE);
        let mut out = String::with_capacity(64 + PAGE_SIZE * render::USER_CAPACITY);
        out.push_str(render::USERS_HEAD);
        for (i, index) in catalogue.window(offset, PAGE_SIZE).enumerate() {
            if i > 0 {
                out.push(',');
            }
            self.render_user(&catalogue, index, &mut out);
        }
        out.push_str(render::USERS_TAIL);
        out
    }

    /// Renders listing entries, skipping users removed since the snapshot.
    fn render_entries(&self, entries: impl Iterator<Item = u32>, first: &mut bool) -> String {
        let catalogue = self.read();
        let mut out = String::with_capacity(STREAM_CHUNK * render::USER_CAPACITY);
        for index in entries.filter(|&i| catalogue.is_known(i)) {
            if !*first {
                out.push(',');
            }
            *first = false;
            self.render_user(&catalogue, index, &mut out);
        }
        out
    }

    /// A complete answer, or (for an injected drop) half of it and a dead connection.
    pub(super) fn answer(&self, status: StatusCode, body: String, drop: bool) -> Response {
        if !drop {
            return json_response(status, Body::from(body));
        }
        Counters::bump(&self.inner.counters.injected_drops);
        let full = Bytes::from(body);
        let length = full.len();
        let half = full.slice(..length / 2);
        let cut = stream::once(async move { Ok(half) }).chain(dying());
        let mut response = json_response(status, Body::from_stream(cut));
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        response
    }
}

/// A body tail that waits briefly (so what came before is flushed) and then fails,
/// which makes hyper abort the connection.
fn dying() -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    stream::once(async {
        tokio::time::sleep(DROP_PAUSE).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "simulated connection drop",
        ))
    })
}

/// A JSON answer with `status`.
pub(super) fn json_response(status: StatusCode, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The first value of `name` in a raw query string, percent-decoded only when needed.
pub(super) fn query_param<'a>(query: &'a str, name: &str) -> Option<Cow<'a, str>> {
    let raw = query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)?;
    if !raw.contains(['%', '+']) {
        return Some(Cow::Borrowed(raw));
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match bytes.get(i + 1..i + 3).and_then(|h| hex_pair(h[0], h[1])) {
                Some(decoded) => {
                    out.push(decoded);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    Some(Cow::Owned(String::from_utf8_lossy(&out).into_owned()))
}

fn hex_pair(high: u8, low: u8) -> Option<u8> {
    let digit = |b: u8| char::from(b).to_digit(16).map(|d| d as u8);
    Some(digit(high)? << 4 | digit(low)?)
}
