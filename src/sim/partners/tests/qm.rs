//! QM customer registration against the simulator.

use chrono::{TimeDelta, Utc};
use secrecy::SecretString;

use super::{json_of, lost_answers, start};
use crate::providers::qm::{
    register_body, sign, LoginMethod, QmClient, QmConfig, QmCustomer, QmError, QmOutcome,
};
use crate::sim::{Faults, SimServer};

const NIK: &str = "3273019876543210";

fn config(server: &SimServer) -> QmConfig {
    let partners = server.sim().partner_config();
    QmConfig {
        timeout_secs: 5,
        ..QmConfig::new(server.base_url(), &partners.qm_key, &partners.qm_secret)
    }
}

fn customer(email: &str) -> QmCustomer {
    QmCustomer {
        legal_full_name: "Siti Aminah".to_owned(),
        identity_number: SecretString::from(NIK),
        email: Some(email.to_owned()),
        phone_number: Some("+6281234567890".to_owned()),
        primary_login_method: LoginMethod::Email,
    }
}

#[tokio::test]
async fn a_qm_registration_returns_a_session_whose_code_lapses_as_configured() {
    let server = start(Faults::default()).await;
    let outcome = QmClient::new(config(&server))
        .register(&customer("siti@example.id"))
        .await
        .unwrap();
    let QmOutcome::Registered {
        session_id,
        expired_on,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert!(session_id.starts_with("qm-"));
    let left = expired_on - Utc::now();
    assert!(
        (TimeDelta::seconds(290)..TimeDelta::seconds(310)).contains(&left),
        "{left:?}"
    );
    assert_eq!(server.sim().accounts_with_email("qm", "siti@example.id"), 1);
}

#[tokio::test]
async fn a_known_qm_customer_is_already_registered() {
    let server = start(Faults::default()).await;
    let qm = QmClient::new(config(&server));
    qm.register(&customer("siti@example.id")).await.unwrap();
    let again = qm.register(&customer("siti@example.id")).await.unwrap();
    assert!(
        matches!(again, QmOutcome::AlreadyRegistered { ref message } if message.contains("already registered"))
    );
    assert_eq!(server.sim().accounts_with_email("qm", "siti@example.id"), 1);
}

#[tokio::test]
async fn a_phone_that_is_not_e164_is_rejected_by_qm_without_quoting_the_identity_number() {
    let server = start(Faults::default()).await;
    let mut by_phone = customer("x@example.id");
    by_phone.email = None;
    by_phone.phone_number = Some("081234567890".to_owned());
    by_phone.primary_login_method = LoginMethod::PhoneNumber;
    let outcome = QmClient::new(config(&server))
        .register(&by_phone)
        .await
        .unwrap();
    assert!(
        matches!(outcome, QmOutcome::Rejected { code: 1001, ref message } if message.contains("E.164"))
    );
    assert!(!format!("{outcome:?} {by_phone:?}").contains(NIK));
}

#[tokio::test]
async fn the_qm_signature_covers_the_exact_body_so_a_tampered_body_is_refused() {
    let server = start(Faults::default()).await;
    let partners = server.sim().partner_config();
    let body = register_body(&customer("sign@example.id")).unwrap();
    let signature = sign(&SecretString::from(partners.qm_secret.clone()), &body);
    let send = |body: Vec<u8>| {
        reqwest::Client::new()
            .post(format!("{}/v1/customer/register", server.base_url()))
            .header("Key", &partners.qm_key)
            .header("Sign", &signature)
            .body(body)
            .send()
    };
    let mut tampered = String::from_utf8(body.clone())
        .unwrap()
        .replace("Siti", "Sita");
    let refused = send(tampered.clone().into_bytes()).await.unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    assert_eq!(json_of(refused).await["message"], "invalid signature");
    // Whitespace is part of the bytes too.
    tampered = String::from_utf8(body.clone())
        .unwrap()
        .replacen(':', ": ", 1);
    assert_eq!(
        send(tampered.into_bytes()).await.unwrap().status().as_u16(),
        401
    );
    let accepted = send(body).await.unwrap();
    assert_eq!(json_of(accepted).await["code"], 0);
    assert_eq!(server.sim().accounts_with_email("qm", "sign@example.id"), 1);
}

#[tokio::test]
async fn a_wrong_qm_secret_is_an_auth_error() {
    let server = start(Faults::default()).await;
    let qm = QmClient::new(QmConfig {
        api_secret: SecretString::from("wrong-secret"),
        ..config(&server)
    });
    let err = qm.register(&customer("k@example.id")).await.unwrap_err();
    assert!(
        matches!(err, QmError::Auth { http_status: 401, ref message } if message == "invalid signature")
    );
    assert!(!format!("{err:?} {err}").contains(NIK));
}

#[tokio::test]
async fn a_lost_qm_answer_is_ambiguous_and_sending_again_is_already_registered() {
    let server = start(lost_answers()).await;
    let qm = QmClient::new(config(&server));
    let err = qm
        .register(&customer("hilang@example.id"))
        .await
        .unwrap_err();
    assert!(matches!(err, QmError::Ambiguous { .. }), "{err:?}");
    assert!(!format!("{err:?} {err}").contains(NIK));
    let sim = server.sim();
    assert_eq!(sim.accounts_with_email("qm", "hilang@example.id"), 1);
    sim.set_faults(Faults::default());
    let again = qm.register(&customer("hilang@example.id")).await.unwrap();
    assert!(
        matches!(again, QmOutcome::AlreadyRegistered { .. }),
        "{again:?}"
    );
    assert_eq!(sim.accounts_with_email("qm", "hilang@example.id"), 1);
    assert_eq!(sim.registration_attempts("qm"), 2);
}

#[tokio::test]
async fn a_qm_answer_slower_than_the_timeout_is_ambiguous() {
    let faults = Faults {
        latency_ms: 1_500,
        ..Faults::default()
    };
    let server = start(faults).await;
    let qm = QmClient::new(QmConfig {
        timeout_secs: 1,
        ..config(&server)
    });
    let err = qm
        .register(&customer("lambat@example.id"))
        .await
        .unwrap_err();
    assert!(matches!(err, QmError::Ambiguous { .. }), "{err:?}");
}
