//! ELKASSA registration, user check and activation against the simulator.

use chrono::Utc;
use secrecy::SecretString;

use super::{dead_base_url, lost_answers, start};
use crate::config::ElkassaConfig;
use crate::providers::elkassa::{
    parse_listing, parse_registration_data, ActivationOutcome, ActivationRequest, ElkassaClient,
    RegisterError, RegisterOutcome, RegistrationRequest, UserSlot, UserType,
};
use crate::sim::{Faults, SimServer};

const PASSWORD: &str = "rahasia-123";

fn client(server: &SimServer) -> ElkassaClient {
    let sim = server.sim();
    let config = ElkassaConfig {
        retry_base_ms: 5,
        max_retries: 2,
        timeout_secs: 5,
        ..ElkassaConfig::new(server.base_url(), sim.key(), sim.token())
    };
    ElkassaClient::new(config, 1)
}

fn shop(email: &str) -> RegistrationRequest {
    RegistrationRequest {
        toko_name: "Toko Maju".to_owned(),
        user_type: UserType::Retail,
        no_telp: "081234567890".to_owned(),
        email: email.to_owned(),
        password: SecretString::from(PASSWORD),
        address: "Jl. Braga 1, Bandung".to_owned(),
    }
}

fn registration_id(outcome: RegisterOutcome) -> String {
    match outcome {
        RegisterOutcome::Registered { external_id, .. } => external_id,
        other => panic!("not registered: {other:?}"),
    }
}

#[tokio::test]
async fn a_registered_shop_heads_the_listing_as_a_thirty_day_trial() {
    let server = start(Faults::default()).await;
    let elkassa = client(&server);
    let id = registration_id(elkassa.register(&shop("maju@example.id")).await.unwrap());
    let page = elkassa.fetch_users_page(1).await.unwrap();
    let UserSlot(first) = parse_listing(page.http_status, &page.body)
        .unwrap()
        .remove(0);
    let first = first.unwrap();
    assert_eq!(first.registration_id, id);
    assert_eq!(first.packet_id.as_deref(), Some("9"));
    let packet = elkassa
        .user_check("MAJU@example.id")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(packet.packet_desc.as_deref(), Some("Trial 30 Hari"));
    assert_eq!(
        server
            .sim()
            .accounts_with_email("elkassa", "maju@example.id"),
        1
    );
}

#[tokio::test]
async fn registering_a_used_email_again_is_already_registered() {
    let server = start(Faults::default()).await;
    let elkassa = client(&server);
    elkassa.register(&shop("dua@example.id")).await.unwrap();
    let again = elkassa.register(&shop("dua@example.id")).await.unwrap();
    assert!(
        matches!(again, RegisterOutcome::AlreadyRegistered { ref message } if message.contains("sudah terdaftar"))
    );
    let generated = elkassa.register(&shop("shop3@example.test")).await.unwrap();
    assert!(matches!(
        generated,
        RegisterOutcome::AlreadyRegistered { .. }
    ));
    let sim = server.sim();
    assert_eq!(sim.accounts_with_email("elkassa", "dua@example.id"), 1);
    assert_eq!(sim.registration_attempts("elkassa"), 3);
}

#[tokio::test]
async fn a_short_password_is_rejected_in_the_partners_words() {
    let server = start(Faults::default()).await;
    let mut request = shop("pendek@example.id");
    request.password = SecretString::from("12345");
    let outcome = client(&server).register(&request).await.unwrap();
    assert!(
        matches!(outcome, RegisterOutcome::Rejected { ref message } if message.contains("Password"))
    );
    assert_eq!(
        server
            .sim()
            .accounts_with_email("elkassa", "pendek@example.id"),
        0
    );
}

#[tokio::test]
async fn a_lost_registration_answer_is_ambiguous_and_user_check_finds_the_one_account() {
    let server = start(lost_answers()).await;
    let elkassa = client(&server);
    let err = elkassa
        .register(&shop("hilang@example.id"))
        .await
        .unwrap_err();
    assert!(matches!(err, RegisterError::Ambiguous { .. }), "{err:?}");
    assert!(!format!("{err:?} {err}").contains(PASSWORD));
    let sim = server.sim();
    assert_eq!(sim.accounts_with_email("elkassa", "hilang@example.id"), 1);
    assert!(elkassa
        .user_check("hilang@example.id")
        .await
        .unwrap()
        .is_some());
    sim.set_faults(Faults::default());
    let again = elkassa.register(&shop("hilang@example.id")).await.unwrap();
    assert!(matches!(again, RegisterOutcome::AlreadyRegistered { .. }));
    assert_eq!(sim.accounts_with_email("elkassa", "hilang@example.id"), 1);
    assert_eq!(sim.registration_attempts("elkassa"), 2);
}

#[tokio::test]
async fn a_503_to_a_registration_is_ambiguous_and_is_never_retried() {
    let faults = Faults {
        error_rate: 1.0,
        ..Faults::default()
    };
    let server = start(faults).await;
    let elkassa = client(&server);
    let err = elkassa
        .register(&shop("sibuk@example.id"))
        .await
        .unwrap_err();
    assert!(matches!(err, RegisterError::Ambiguous { .. }), "{err:?}");
    let sim = server.sim();
    assert_eq!(sim.registration_attempts("elkassa"), 1);
    sim.set_faults(Faults::default());
    assert_eq!(elkassa.user_check("sibuk@example.id").await.unwrap(), None);
}

#[tokio::test]
async fn a_refused_connection_is_not_sent_and_wrong_credentials_are_an_auth_error() {
    let config = ElkassaConfig::new(dead_base_url().await, "k", "t");
    let err = ElkassaClient::new(config, 1)
        .register(&shop("a@example.id"))
        .await
        .unwrap_err();
    assert!(matches!(err, RegisterError::NotSent { .. }), "{err:?}");
    let server = start(Faults::default()).await;
    let config = ElkassaConfig::new(server.base_url(), "wrong-key", "wrong-token");
    let err = ElkassaClient::new(config, 1)
        .register(&shop("a@example.id"))
        .await
        .unwrap_err();
    assert!(matches!(err, RegisterError::Auth { .. }), "{err:?}");
}

#[tokio::test]
async fn an_activation_moves_the_user_to_the_bought_packet() {
    let server = start(Faults::default()).await;
    let elkassa = client(&server);
    let id = registration_id(elkassa.register(&shop("aktif@example.id")).await.unwrap());
    let mut activation = ActivationRequest {
        email: "aktif@example.id".to_owned(),
        packet_id: "10".to_owned(),
        registration_id: "ELK999999".to_owned(),
        cabang_id: format!("{id}-1"),
        invoice_code: "INV-1".to_owned(),
        invoice_amount: 99_000,
        payment_gateway: "finpay195".to_owned(),
        payment_method: "ATM".to_owned(),
        payment_date: Utc::now(),
    };
    let wrong = elkassa.activate(&activation).await.unwrap();
    assert!(
        matches!(wrong, ActivationOutcome::Rejected { .. }),
        "{wrong:?}"
    );
    activation.registration_id = id.clone();
    let done = elkassa.activate(&activation).await.unwrap();
    assert!(
        matches!(done, ActivationOutcome::Activated { ref packet_id, .. } if packet_id == "10")
    );
    let packet = elkassa
        .user_check("aktif@example.id")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(packet.packet_id, "10");
}

#[tokio::test]
async fn the_reference_data_is_still_served_beside_the_registration_post() {
    let server = start(Faults::default()).await;
    let fetched = client(&server).fetch_registration_data().await.unwrap();
    let data = parse_registration_data(fetched.http_status, &fetched.body).unwrap();
    assert_eq!(data.registration_packets[0].packet_id, "9");
}
