//! Middleware login and Request Out against the simulator.

use serde_json::json;

use super::{json_of, lost_answers, start, start_with};
use crate::providers::middleware::{
    MiddlewareClient, MiddlewareConfig, MiddlewareError, TicketOutcome,
};
use crate::sim::{Faults, PartnerSimConfig, SimConfig, SimServer};

fn client(server: &SimServer) -> MiddlewareClient {
    let partners = server.sim().partner_config();
    MiddlewareClient::new(MiddlewareConfig {
        timeout_secs: 5,
        ..MiddlewareConfig::new(
            server.base_url(),
            &partners.middleware_username,
            &partners.middleware_password,
        )
    })
}

async fn start_partners(partners: PartnerSimConfig, faults: Faults) -> SimServer {
    start_with(SimConfig {
        partners,
        faults,
        ..SimConfig::new(10, 3)
    })
    .await
}

/// A raw Request Out with a token from a raw login: what the wire really carries.
async fn raw_request_out(server: &SimServer, body: serde_json::Value) -> reqwest::Response {
    let partners = server.sim().partner_config();
    let http = reqwest::Client::new();
    let login = json!({
        "username": partners.middleware_username,
        "password": partners.middleware_password,
    });
    let login = http
        .post(format!("{}/auth/login", server.base_url()))
        .body(login.to_string())
        .send()
        .await
        .unwrap();
    let token = json_of(login).await["token"].as_str().unwrap().to_owned();
    http.post(format!("{}/request-out", server.base_url()))
        .bearer_auth(token)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_ticket_is_pending_for_the_configured_polls_and_then_done_without_keeping_the_nik() {
    let server = start(Faults::default()).await;
    let middleware = client(&server);
    let ticket = middleware.new_ticket_id();
    assert_eq!(
        middleware.submit_ticket(&ticket).await.unwrap(),
        TicketOutcome::Pending
    );
    assert_eq!(
        middleware.poll_ticket(&ticket).await.unwrap(),
        TicketOutcome::Pending
    );
    let done = middleware.poll_ticket(&ticket).await.unwrap();
    let TicketOutcome::Done {
        ref nik_status,
        ref resource_id,
    } = done
    else {
        panic!("{done:?}")
    };
    assert_eq!((nik_status.as_str(), resource_id.is_empty()), ("ok", false));
    let raw = raw_request_out(
        &server,
        json!({"TicketId": ticket, "Subject": "digitalid", "SubjectType": "enrollment", "SubjectIdentifier": "ektp"}),
    )
    .await;
    let nik = json_of(raw).await["Data"]["NIK"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!format!("{done:?}").contains(&nik));
    assert_eq!(
        server.sim().middleware_logins(),
        2,
        "one for the client, one raw"
    );
}

#[tokio::test]
async fn an_expired_token_costs_one_new_login_and_the_call_is_repeated() {
    let server = start(Faults::default()).await;
    let middleware = client(&server);
    let ticket = middleware.new_ticket_id();
    middleware.submit_ticket(&ticket).await.unwrap();
    server.sim().expire_middleware_tokens();
    assert_eq!(
        middleware.poll_ticket(&ticket).await.unwrap(),
        TicketOutcome::Pending
    );
    let sim = server.sim();
    assert_eq!(sim.middleware_logins(), 2);
    assert_eq!(
        sim.registration_attempts("middleware"),
        3,
        "two answered, one 401"
    );
}

#[tokio::test]
async fn a_token_refused_again_after_a_fresh_login_is_an_auth_error_after_one_retry() {
    let partners = PartnerSimConfig {
        middleware_token_ttl_secs: 0,
        ..PartnerSimConfig::default()
    };
    let server = start_partners(partners, Faults::default()).await;
    let middleware = client(&server);
    let err = middleware
        .submit_ticket(&middleware.new_ticket_id())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            MiddlewareError::Auth {
                http_status: 401,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.sim().middleware_logins(), 2);
    assert_eq!(server.sim().registration_attempts("middleware"), 2);
}

#[tokio::test]
async fn a_wrong_middleware_password_is_an_auth_error_that_names_no_password() {
    let server = start(Faults::default()).await;
    let middleware = MiddlewareClient::new(MiddlewareConfig::new(
        server.base_url(),
        "sim-user",
        "not-the-password",
    ));
    let err = middleware.login().await.unwrap_err();
    assert!(
        matches!(
            err,
            MiddlewareError::Auth {
                http_status: 401,
                ..
            }
        ),
        "{err:?}"
    );
    let err = middleware
        .submit_ticket(&middleware.new_ticket_id())
        .await
        .unwrap_err();
    assert!(matches!(err, MiddlewareError::Auth { .. }), "{err:?}");
    assert!(!format!("{err:?} {err} {middleware:?}").contains("not-the-password"));
    assert_eq!(server.sim().registration_attempts("middleware"), 0);
}

#[tokio::test]
async fn a_malformed_request_out_is_refused_with_http_400() {
    let server = start(Faults::default()).await;
    let raw = raw_request_out(
        &server,
        json!({"TicketId": "t-1", "Subject": "digitalid", "SubjectType": "other", "SubjectIdentifier": "ektp"}),
    )
    .await;
    assert_eq!(raw.status().as_u16(), 400);
    let body = raw.bytes().await.unwrap();
    let outcome = crate::providers::middleware::parse_ticket(400, &body, "t-1").unwrap();
    assert!(
        matches!(outcome, TicketOutcome::Rejected { ref message, .. } if message.contains("SubjectType"))
    );
    assert_eq!(server.sim().accounts_with_email("middleware", "t-1"), 0);
}

#[tokio::test]
async fn a_lost_submit_is_ambiguous_and_polling_the_same_ticket_finds_it() {
    let partners = PartnerSimConfig {
        middleware_polls_until_done: 0,
        ..PartnerSimConfig::default()
    };
    let server = start_partners(partners, lost_answers()).await;
    let middleware = client(&server);
    let ticket = middleware.new_ticket_id();
    let err = middleware.submit_ticket(&ticket).await.unwrap_err();
    assert!(matches!(err, MiddlewareError::Ambiguous { .. }), "{err:?}");
    let sim = server.sim();
    assert_eq!(sim.accounts_with_email("middleware", &ticket), 1);
    sim.set_faults(Faults::default());
    let done = middleware.poll_ticket(&ticket).await.unwrap();
    assert!(matches!(done, TicketOutcome::Done { .. }), "{done:?}");
    assert_eq!(sim.accounts_with_email("middleware", &ticket), 1);
}
