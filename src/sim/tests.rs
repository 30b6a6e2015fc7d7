//! Behaviour of the simulator as a client sees it, over real HTTP where the
//! wire matters (status codes, headers, cut connections).

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::Value;

use super::render;
use super::*;

fn fixed_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, 2, 0, 0).unwrap()
}

fn simulator(users: u32, seed: u64, faults: Faults) -> Simulator {
    let mut config = SimConfig::new(users, seed);
    config.now = fixed_now();
    config.faults = faults;
    Simulator::new(config)
}

fn url(server: &SimServer, path: &str) -> String {
    let sim = server.sim();
    format!(
        "{}{}?key={}&token={}",
        server.base_url(),
        path,
        sim.key(),
        sim.token()
    )
}

async fn get(server: &SimServer, path: &str) -> (u16, String) {
    let response = reqwest::get(url(server, path)).await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn ids(body: &str) -> Vec<String> {
    let value: Value = serde_json::from_str(body).unwrap();
    let data = value["data"].as_array().unwrap();
    data.iter()
        .map(|u| u["registration_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_duplicated_key_appears_twice_with_its_two_meanings() {
    let sim = simulator(100, 1, Faults::default());
    let json = sim.user_json("ELK100042").unwrap();
    let first = json.find(r#""user_type_desc":"#).unwrap();
    let last = json.rfind(r#""user_type_desc":"#).unwrap();
    assert!(first < last);
    let first_value = &json[first + 17..first + 26];
    let last_value = &json[last + 17..last + 28];
    assert!(first_value.starts_with("\"Retail\"") || first_value.starts_with("\"Grosir\""));
    assert!(last_value.starts_with("\"ACTIVE\"") || last_value.starts_with("\"INACTIVE\""));
    let keys = [
        "registration_id",
        "email",
        "registered_date",
        "user_type\"",
        "contract_id",
        "packet_id",
        "expired_date",
        "contract_notes",
        "toko_name",
        "toko_address",
        "cabangs",
    ];
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| json.find(&format!("\"{k}")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{json}");
    assert!(json.starts_with(r#"{"registration_id":"ELK100042","email":"shop"#));
    assert!(json.contains(r#""contract_id":"50042""#));
}

#[test]
fn the_same_seed_serves_the_same_page_body() {
    let a = simulator(2000, 9, Faults::default());
    let b = simulator(2000, 9, Faults::default());
    let other = simulator(2000, 10, Faults::default());
    for page in [1, 7, 150] {
        assert_eq!(a.render_page(page), b.render_page(page));
        assert_ne!(a.render_page(page), other.render_page(page));
    }
}

#[test]
fn a_listing_of_2000_users_holds_some_adjacent_duplicate_entries() {
    let sim = simulator(2000, 3, Faults::default());
    let duplicates = sim.listing_len() - sim.listed_ids().len();
    assert!((2..=30).contains(&duplicates), "{duplicates} duplicates");
    let catalogue = sim.read();
    let order: Vec<u32> = catalogue.order().iter().copied().collect();
    let adjacent = order.windows(2).filter(|w| w[0] == w[1]).count();
    assert_eq!(adjacent, duplicates);
    assert!(order.windows(2).all(|w| w[0] >= w[1]), "newest first");
}

#[test]
fn every_page_parses_and_the_pages_together_hold_every_user() {
    let sim = simulator(2000, 5, Faults::default());
    let mut seen = std::collections::HashSet::new();
    let mut names = String::new();
    for page in 1.. {
        let body = sim.render_page(page);
        let value: Value = serde_json::from_str(&body).unwrap();
        let data = value["data"].as_array().unwrap();
        if data.is_empty() {
            break;
        }
        for user in data {
            seen.insert(user["registration_id"].as_str().unwrap().to_owned());
            names.push_str(user["toko_name"].as_str().unwrap());
        }
    }
    assert_eq!(seen.len(), 2000);
    assert!(names.contains("D'Jawa") && names.contains("Ösmanthus") && names.contains("\"Murah\""));
}

#[test]
fn set_expiry_changes_the_served_record() {
    let sim = simulator(100, 1, Faults::default());
    let expired = NaiveDate::from_ymd_opt(2020, 1, 2)
        .unwrap()
        .and_hms_opt(3, 4, 5)
        .unwrap();
    assert!(sim.set_expiry("ELK100010", expired));
    assert!(sim
        .user_json("ELK100010")
        .unwrap()
        .contains(r#""expired_date":"2020-01-02 03:04:05""#));
    assert!(!sim.set_expiry("ELK999999", expired));
    assert!(!sim.set_expiry("nonsense", expired));
}

#[test]
fn remove_cabang_drops_only_that_branch() {
    let sim = simulator(200, 2, Faults::default());
    let id = (0..200u32)
        .map(render::registration_id)
        .find(|id| sim.user_json(id).unwrap().contains(&format!("\"{id}-2\"")))
        .unwrap();
    assert!(sim.remove_cabang(&id, &format!("{id}-1")));
    assert!(!sim.remove_cabang(&id, &format!("{id}-1")), "already gone");
    assert!(!sim.remove_cabang(&id, &format!("{id}-9")));
    let json = sim.user_json(&id).unwrap();
    assert!(!json.contains(&format!("\"{id}-1\"")));
    assert!(json.contains(&format!(r#""cabangs":[{{"cabang_id":"{id}-2""#)));
}

#[test]
fn register_shop_puts_a_fresh_trial_at_the_head() {
    let sim = simulator(100, 1, Faults::default());
    let id = sim.register_shop();
    assert_eq!(id, "ELK100100");
    assert_eq!(sim.listed_ids()[0], id);
    let json = sim.user_json(&id).unwrap();
    assert!(
        json.contains(r#""packet_id":"9""#)
            && json.contains(r#""registered_date":"2026-10-01 09:00"#)
    );
    assert_eq!(ids(&sim.render_page(1))[1], "ELK100099");
}

#[tokio::test]
async fn a_page_past_the_end_is_empty_but_successful() {
    let server = SimServer::start(simulator(50, 1, Faults::default()))
        .await
        .unwrap();
    let (status, body) = get(&server, "/integration/users/100").await;
    assert_eq!(status, 200);
    assert_eq!(body, r#"{"status":true,"messages":"User data","data":[]}"#);
    let (_, first) = get(&server, "/integration/users/1").await;
    assert_eq!(ids(&first).len(), 10);
    assert_eq!(server.sim().stats().pages_served, 2);
}

#[tokio::test]
async fn page_zero_or_a_non_numeric_page_is_a_bad_request() {
    let server = SimServer::start(simulator(50, 1, Faults::default()))
        .await
        .unwrap();
    for path in [
        "/integration/users/0",
        "/integration/users/abc",
        "/integration/users/-1",
    ] {
        let (status, body) = get(&server, path).await;
        assert_eq!(status, 400, "{path}");
        assert!(body.starts_with(r#"{"status":false"#));
    }
}

#[tokio::test]
async fn a_wrong_or_missing_key_answers_status_false_and_is_counted() {
    let server = SimServer::start(simulator(50, 1, Faults::default()))
        .await
        .unwrap();
    let base = server.base_url();
    for query in ["?key=wrong&token=sim-token", "?token=sim-token", ""] {
        let response = reqwest::get(format!("{base}/integration/users/1{query}"))
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.text().await.unwrap(), render::INVALID_AUTH);
    }
    assert_eq!(server.sim().stats().auth_failures, 3);
    let (_, body) = get(&server, "/integration/registration").await;
    assert!(body.starts_with(r#"{"status":true,"messages":"Registration Data""#));
}

#[tokio::test]
async fn an_error_burst_answers_503_to_the_listing_then_succeeds() {
    let faults = Faults {
        error_burst: 2,
        ..Faults::default()
    };
    let server = SimServer::start(simulator(50, 1, faults)).await.unwrap();
    let (status, _) = get(&server, "/integration/user/ELK100001").await;
    assert_eq!(status, 200, "the burst spares the detail endpoint");
    for _ in 0..2 {
        assert_eq!(
            get(&server, "/integration/users/1").await,
            (503, render::UNAVAILABLE.to_owned())
        );
    }
    assert_eq!(get(&server, "/integration/users/1").await.0, 200);
    assert_eq!(server.sim().stats().injected_5xx, 2);
}

#[tokio::test]
async fn a_drift_insert_shifts_every_later_record_by_one() {
    let faults = Faults {
        drift_every: 2,
        drift_max: 1,
        ..Faults::default()
    };
    let server = SimServer::start(simulator(100, 4, faults)).await.unwrap();
    let before_1 = ids(&get(&server, "/integration/users/1").await.1);
    let after_2 = ids(&get(&server, "/integration/users/2").await.1);
    assert_eq!(
        after_2[0], before_1[9],
        "the last of page 1 slid onto page 2"
    );
    let after_1 = ids(&get(&server, "/integration/users/1").await.1);
    assert_eq!(after_1[0], "ELK100100");
    assert_eq!(after_1[1..], before_1[..9]);
    assert_eq!(server.sim().stats().drift_inserts, 1);
    assert_eq!(
        server.sim().listing_len(),
        server.sim().listed_ids().len() + dupes(server.sim())
    );
}

fn dupes(sim: &Simulator) -> usize {
    let catalogue = sim.read();
    let order: Vec<u32> = catalogue.order().iter().copied().collect();
    order.windows(2).filter(|w| w[0] == w[1]).count()
}

#[tokio::test]
async fn remove_user_removes_every_listing_entry_and_the_detail() {
    let server = SimServer::start(simulator(2000, 3, Faults::default()))
        .await
        .unwrap();
    let sim = server.sim();
    let duplicated = {
        let catalogue = sim.read();
        let order: Vec<u32> = catalogue.order().iter().copied().collect();
        order
            .windows(2)
            .find(|w| w[0] == w[1])
            .map(|w| render::registration_id(w[0]))
            .unwrap()
    };
    let before = sim.listing_len();
    assert!(sim.remove_user(&duplicated));
    assert_eq!(sim.listing_len(), before - 2);
    assert!(!sim.listed_ids().contains(&duplicated));
    assert!(sim.user_json(&duplicated).is_none());
    let (_, body) = get(&server, &format!("/integration/user/{duplicated}")).await;
    assert_eq!(body, render::USER_NOT_FOUND);
    assert!(!sim.remove_user(&duplicated));
}

#[tokio::test]
async fn the_detail_endpoint_serves_an_array_of_one_user() {
    let server = SimServer::start(simulator(50, 1, Faults::default()))
        .await
        .unwrap();
    let (status, body) = get(&server, "/integration/user/ELK100007").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body), ["ELK100007"]);
    assert!(body.contains(&server.sim().user_json("ELK100007").unwrap()));
}

#[tokio::test]
async fn the_unpaged_listing_streams_every_entry() {
    let server = SimServer::start(simulator(2000, 3, Faults::default()))
        .await
        .unwrap();
    let (status, body) = get(&server, "/integration/users").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body).len(), server.sim().listing_len());
}

#[tokio::test]
async fn a_dropped_answer_announces_the_full_length_but_dies_mid_body() {
    let faults = Faults {
        drop_rate: 1.0,
        ..Faults::default()
    };
    let server = SimServer::start(simulator(50, 1, faults)).await.unwrap();
    let full = server.sim().render_page(1).len();
    let response = reqwest::get(url(&server, "/integration/users/1"))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.content_length(), Some(full as u64));
    assert!(response.bytes().await.is_err());
    let stats = server.sim().stats();
    assert_eq!((stats.injected_drops, stats.pages_served), (1, 0));
}

#[tokio::test]
async fn rate_limited_answers_carry_retry_after() {
    let faults = Faults {
        rate_limit_rate: 1.0,
        retry_after_secs: 7,
        ..Faults::default()
    };
    let server = SimServer::start(simulator(50, 1, faults)).await.unwrap();
    let response = reqwest::get(url(&server, "/integration/users/1"))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    assert_eq!(server.sim().stats().injected_429, 1);
}

#[tokio::test]
async fn the_partner_can_go_down_and_come_back_at_runtime() {
    let server = SimServer::start(simulator(50, 1, Faults::default()))
        .await
        .unwrap();
    server.sim().set_faults(Faults {
        down: true,
        ..Faults::default()
    });
    assert_eq!(get(&server, "/integration/registration").await.0, 503);
    assert_eq!(get(&server, "/integration/user/ELK100001").await.0, 503);
    server.sim().set_faults(Faults::default());
    assert_eq!(get(&server, "/integration/registration").await.0, 200);
    let base = server.base_url();
    server.stop().await;
    assert!(reqwest::get(format!("{base}/integration/registration"))
        .await
        .is_err());
}
