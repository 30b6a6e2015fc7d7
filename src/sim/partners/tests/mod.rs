//! The registration connectors against the simulator over real HTTP:
//! outcomes, validation, credentials, and lost answers that must never
//! turn into a second account.

mod elkassa;
mod mcp;
mod middleware;
mod qm;

use crate::sim::{Faults, SimConfig, SimServer, Simulator};

/// A simulator of 50 generated ELKASSA users on port 0, as of now.
async fn start(faults: Faults) -> SimServer {
    start_with(SimConfig {
        faults,
        ..SimConfig::new(50, 7)
    })
    .await
}

/// A simulator built from `config` on port 0.
async fn start_with(config: SimConfig) -> SimServer {
    SimServer::start(Simulator::new(config))
        .await
        .expect("start simulator")
}

/// Faults where every registration is created and its answer lost.
fn lost_answers() -> Faults {
    Faults {
        commit_then_drop: 1.0,
        ..Faults::default()
    }
}

/// A base URL nobody listens on.
async fn dead_base_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// A response body as JSON (reqwest's `json` feature is not enabled).
async fn json_of(response: reqwest::Response) -> serde_json::Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

#[test]
#[should_panic(expected = "unknown partner")]
fn asking_about_an_unknown_partner_panics_rather_than_answering_zero() {
    let sim = Simulator::new(SimConfig::new(1, 1));
    sim.accounts_with_email("mpc", "a@example.test");
}
