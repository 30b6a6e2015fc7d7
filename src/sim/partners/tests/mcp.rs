//! MCP client registration against the simulator.

use chrono::{TimeDelta, Utc};
use secrecy::SecretString;
use serde_json::{json, Value};

use super::{dead_base_url, json_of, lost_answers, start};
use crate::providers::mcp::{
    jwt_expiry, ClientRegistration, McpClient, McpConfig, McpError, McpOutcome,
};
use crate::sim::{Faults, SimServer};

const PASSWORD: &str = "kata-sandi-rahasia";

fn config(server: &SimServer) -> McpConfig {
    let sim = server.sim();
    McpConfig {
        timeout_secs: 5,
        ..McpConfig::new(
            server.base_url(),
            &sim.partner_config().mcp_api_key,
            sim.mcp_jwt(),
        )
    }
}

fn client_named(email: &str) -> ClientRegistration {
    ClientRegistration {
        name: "Budi Santoso".to_owned(),
        email: email.to_owned(),
        password: SecretString::from(PASSWORD),
        phone: "+62 812-3456-7890".to_owned(),
        company: "PT Maju Jaya".to_owned(),
        address: "Jl. Sudirman 1, Jakarta".to_owned(),
        logo: "https://example.test/logo.png".to_owned(),
        pic: Some("Siti".to_owned()),
    }
}

#[tokio::test]
async fn an_mcp_registration_returns_the_client_id_and_when_activation_lapses() {
    let server = start(Faults::default()).await;
    let outcome = McpClient::new(config(&server))
        .register(&client_named("budi@example.id"))
        .await
        .unwrap();
    let McpOutcome::Registered {
        external_id,
        expires_at,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(external_id, "MCP000001");
    let lapse = expires_at.unwrap() - Utc::now();
    assert!(
        (TimeDelta::days(29)..TimeDelta::days(31)).contains(&lapse),
        "{lapse:?}"
    );
}

#[tokio::test]
async fn a_second_mcp_registration_with_the_same_email_is_already_registered() {
    let server = start(Faults::default()).await;
    let mcp = McpClient::new(config(&server));
    mcp.register(&client_named("dua@example.id")).await.unwrap();
    let again = mcp.register(&client_named("DUA@example.id")).await.unwrap();
    assert!(
        matches!(again, McpOutcome::AlreadyRegistered { .. }),
        "{again:?}"
    );
    assert_eq!(server.sim().accounts_with_email("mcp", "dua@example.id"), 1);
}

#[tokio::test]
async fn an_mcp_logo_that_is_not_a_png_or_jpg_is_rejected() {
    let server = start(Faults::default()).await;
    let mut client = client_named("logo@example.id");
    client.logo = "logo.gif".to_owned();
    let outcome = McpClient::new(config(&server))
        .register(&client)
        .await
        .unwrap();
    assert!(
        matches!(outcome, McpOutcome::Rejected { ref code, .. } if code == "10"),
        "{outcome:?}"
    );
    assert_eq!(
        server.sim().accounts_with_email("mcp", "logo@example.id"),
        0
    );
}

#[tokio::test]
async fn the_simulated_mcp_refuses_over_long_fields_and_a_phone_that_is_not_digits() {
    let server = start(Faults::default()).await;
    let sim = server.sim();
    let mut body = json!({
        "client_name": "n".repeat(101), "client_email": "x@example.id",
        "client_password": "secret", "client_phone": 6281234567890_u64,
        "client_company": "PT", "client_address": "Jakarta", "client_logo": "a.png",
    });
    let send = |body: Value| {
        reqwest::Client::new()
            .post(format!("{}/client/register", server.base_url()))
            .header("x-Gateway-Apikey", &sim.partner_config().mcp_api_key)
            .bearer_auth(sim.mcp_jwt())
            .body(body.to_string())
            .send()
    };
    let answer = json_of(send(body.clone()).await.unwrap()).await;
    assert_eq!(answer["resultDesc"], "client_name exceeds 100 characters");
    body["client_name"] = json!("Budi");
    body["client_phone"] = json!("62-812-3456");
    let answer = json_of(send(body).await.unwrap()).await;
    assert_ne!(answer["resultCode"], "0");
    assert!(answer["resultDesc"]
        .as_str()
        .unwrap()
        .contains("client_phone"));
    assert_eq!(sim.accounts_with_email("mcp", "x@example.id"), 0);
}

#[tokio::test]
async fn an_expired_jwt_is_an_auth_error_and_jwt_expiry_reads_its_exp() {
    let server = start(Faults::default()).await;
    let exp = Utc::now() - TimeDelta::hours(1);
    let expired = server.sim().mint_mcp_jwt(exp);
    let secret = SecretString::from(expired.clone());
    assert_eq!(jwt_expiry(&secret).unwrap().timestamp(), exp.timestamp());
    let mcp = McpClient::new(McpConfig {
        jwt: secret,
        ..config(&server)
    });
    assert_eq!(mcp.jwt_expires_at().unwrap().timestamp(), exp.timestamp());
    let err = mcp
        .register(&client_named("telat@example.id"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            McpError::Auth {
                http_status: 401,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!format!("{err:?} {err}").contains(&expired));
    assert_eq!(
        server.sim().accounts_with_email("mcp", "telat@example.id"),
        0
    );
}

#[tokio::test]
async fn a_wrong_gateway_key_is_an_auth_error() {
    let server = start(Faults::default()).await;
    let mcp = McpClient::new(McpConfig {
        api_key: SecretString::from("wrong"),
        ..config(&server)
    });
    let err = mcp
        .register(&client_named("k@example.id"))
        .await
        .unwrap_err();
    assert!(matches!(err, McpError::Auth { .. }), "{err:?}");
}

#[tokio::test]
async fn a_lost_mcp_answer_is_ambiguous_and_sending_again_is_already_registered() {
    let server = start(lost_answers()).await;
    let mcp = McpClient::new(config(&server));
    let client = client_named("hilang@example.id");
    let err = mcp.register(&client).await.unwrap_err();
    assert!(matches!(err, McpError::Ambiguous { .. }), "{err:?}");
    assert!(!format!("{err:?} {err} {client:?}").contains(PASSWORD));
    let sim = server.sim();
    assert_eq!(sim.accounts_with_email("mcp", "hilang@example.id"), 1);
    sim.set_faults(Faults::default());
    let again = mcp.register(&client).await.unwrap();
    assert!(
        matches!(again, McpOutcome::AlreadyRegistered { .. }),
        "{again:?}"
    );
    assert_eq!(sim.accounts_with_email("mcp", "hilang@example.id"), 1);
    assert_eq!(sim.registration_attempts("mcp"), 2);
}

#[tokio::test]
async fn an_mcp_endpoint_nobody_listens_on_is_not_sent() {
    let config = McpConfig::new(dead_base_url().await, "key", "a.b.c");
    let err = McpClient::new(config)
        .register(&client_named("x@example.id"))
        .await
        .unwrap_err();
    assert!(matches!(err, McpError::NotSent { .. }), "{err:?}");
}
