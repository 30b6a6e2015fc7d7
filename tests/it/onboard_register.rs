//! `rekon onboard` against the simulated partners on real warehouses: every
//! row ends in one outcome per partner, nothing is registered twice (not
//! after a lost answer, not on a rerun), and tickets are polled by the sync.

use crate::harness::{scalar, sync, TestWarehouse};
use crate::on_both_backends;
use rekon::config::Config;
use rekon::onboard::register::{onboard_file, FileOutcome, OnboardOptions, Registrars};
use rekon::onboard::Partner;
use rekon::sim::{Faults, SimConfig, SimServer, Simulator};
use rekon::warehouse::Warehouse;
use secrecy::SecretString;
use std::path::{Path, PathBuf};

pub const PASSWORD: &str = "kata-sandi-99";

/// A drop of valid rows for every partner, rows invalid for one partner
/// only, a repeated row, and a Windows-1252 name, separated by `;`.
pub fn mixed_drop(dir: &Path, name: &str) -> PathBuf {
    let header = "ref;nama;nama_toko;email;no_telp;alamat;nik;user_type;password;logo;providers";
    let mut lines = vec![header.to_owned()];
    for n in 1..=6 {
        lines.push(format!(
            "R{n};Pelanggan {n};Toko {n};pelanggan{n}@example.test;0812-3456-{n:04};Jl. Merdeka {n};31740155019{n:05};retail;{PASSWORD};logo{n}.png;elkassa|mcp|middleware|qm"
        ));
    }
    lines.push(format!(
        "R7;Bad Logo;Toko 7;bad.logo@example.test;081234560007;Jl. 7;;retail;{PASSWORD};logo.gif;elkassa|mcp"
    ));
    lines
        .push("R8;Short Id;;short.id@example.test;081234560008;;12345;;;;qm|middleware".to_owned());
    lines.push(format!(
        "R9;Pelanggan 1 again;Toko 1;pelanggan1@example.test;081234569999;Jl. 9;;retail;{PASSWORD};x.png;elkassa"
    ));
    let mut bytes = lines.join("\r\n").into_bytes();
    // Windows-1252: "José" with é as the single byte 0xE9.
    bytes.extend(b"\r\nR10;Jos");
    bytes.push(0xE9);
    bytes.extend(
        format!(
            ";Toko Jose;jose@example.test;081234560010;Jl. 10;;grosir;{PASSWORD};j.jpg;elkassa|mcp"
        )
        .into_bytes(),
    );
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A simulator of all four partners on port 0.
pub async fn partners(faults: Faults) -> SimServer {
    let sim = Simulator::new(SimConfig {
        faults,
        ..SimConfig::new(20, 5)
    });
    SimServer::start(sim).await.expect("start simulator")
}

/// A configuration for `server` with an identity key and generous rates.
pub fn onboard_config(server: &SimServer) -> Config {
    let mut config = server.client_config();
    config.onboard.identity_hash_key = Some(SecretString::from("test-identity-key"));
    config.onboard.concurrency = 4;
    for rate in [
        &mut config.onboard.elkassa_per_sec,
        &mut config.onboard.mcp_per_sec,
        &mut config.onboard.middleware_per_sec,
        &mut config.onboard.qm_per_sec,
    ] {
        *rate = 500.0;
    }
    config
}

fn options(out: &Path) -> OnboardOptions {
    OnboardOptions {
        out_dir: Some(out.to_path_buf()),
        archive_dir: None,
        default_partners: Partner::ALL.to_vec(),
        show_progress: false,
        job: "test-onboard".to_owned(),
        shutdown: rekon::shutdown::Shutdown::never(),
    }
}

async fn onboard(warehouse: &Warehouse, config: &Config, file: &Path, out: &Path) -> FileOutcome {
    let registrars = Registrars::new(config).unwrap();
    onboard_file(warehouse, config, &registrars, file, &options(out))
        .await
        .expect("onboarding runs")
}

fn outcome_count(outcome: &FileOutcome, partner: &str, state: &str) -> u64 {
    outcome
        .reports
        .tally
        .get(partner)
        .and_then(|counts| counts.get(state))
        .copied()
        .unwrap_or(0)
}

async fn mixed_drop_ends_with_one_outcome_per_row_and_partner(db: &TestWarehouse) {
    let server = partners(Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = mixed_drop(dir.path(), "mixed.csv");
    let config = onboard_config(&server);
    let outcome = onboard(&db.warehouse, &config, &file, dir.path()).await;
    assert_eq!(outcome.rows, 10);
    // Rows targeting each partner: 6 valid for all, R7 (elkassa, mcp),
    // R8 (qm, middleware), R9 (elkassa, a repeat), R10 (elkassa, mcp).
    for (partner, registered, rejected) in [
        ("elkassa", 7, 2),
        ("mcp", 7, 1),
        ("middleware", 6, 1),
        ("qm", 6, 1),
    ] {
        assert_eq!(
            outcome_count(&outcome, partner, "registered"),
            registered,
            "{partner}: {:?}",
            outcome.reports.tally
        );
        assert_eq!(
            outcome_count(&outcome, partner, "rejected"),
            rejected,
            "{partner}: {:?}",
            outcome.reports.tally
        );
        let total: u64 = outcome.reports.tally[partner].values().sum();
        assert_eq!(
            total,
            registered + rejected,
            "{partner}: {:?}",
            outcome.reports.tally
        );
    }
    let results = std::fs::read_to_string(dir.path().join("mixed.results.csv")).unwrap();
    assert_eq!(results.lines().count(), 1 + 7 + 2 + 7 + 1 + 6 + 1 + 6 + 1);
    let sim = server.sim();
    for n in 1..=6 {
        let email = format!("pelanggan{n}@example.test");
        for partner in ["elkassa", "mcp", "qm"] {
            assert_eq!(
                sim.accounts_with_email(partner, &email),
                1,
                "{partner} {email}"
            );
        }
    }
    let w = &db.warehouse;
    assert_eq!(
        scalar(
            w,
            "SELECT COUNT(*) FROM registrations WHERE state = 'registered'"
        )
        .await,
        7 + 7 + 6 + 6
    );
    assert_eq!(scalar(w, "SELECT COUNT(*) FROM otp_sessions").await, 6);
    assert_eq!(
        scalar(w, "SELECT COUNT(*) FROM enrollment_tickets").await,
        6
    );
    assert_eq!(
        scalar(
            w,
            "SELECT COUNT(*) FROM provider_accounts WHERE provider = 'mcp'"
        )
        .await,
        7
    );
    assert_eq!(
        scalar(w, "SELECT COUNT(*) FROM contracts WHERE provider = 'mcp'").await,
        7
    );
    assert_eq!(
        scalar(
            w,
            "SELECT COUNT(*) FROM customers WHERE identity_last4 = '0001'"
        )
        .await,
        1
    );
    let jose = crate::harness::text(
        w,
        "SELECT legal_name FROM customers WHERE email = 'jose@example.test'",
    )
    .await;
    assert_eq!(
        jose.as_deref(),
        Some("José"),
        "the Windows-1252 row was read right"
    );
    server.stop().await;
}
on_both_backends!(a_mixed_drop_ends_with_accepted_plus_rejected_equal_to_rows_per_partner => mixed_drop_ends_with_one_outcome_per_row_and_partner);

async fn same_drop_twice_registers_nobody_the_second_time(db: &TestWarehouse) {
    let server = partners(Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = mixed_drop(dir.path(), "twice.csv");
    let config = onboard_config(&server);
    onboard(&db.warehouse, &config, &file, dir.path()).await;
    let sim = server.sim();
    let attempts: Vec<u64> = Partner::ALL
        .iter()
        .map(|p| sim.registration_attempts(p.as_str()))
        .collect();
    let ledger = ledger_snapshot(&db.warehouse).await;
    let second = onboard(&db.warehouse, &config, &file, dir.path()).await;
    let again: Vec<u64> = Partner::ALL
        .iter()
        .map(|p| sim.registration_attempts(p.as_str()))
        .collect();
    assert_eq!(attempts, again, "the second run sent registrations");
    assert_eq!(
        ledger,
        ledger_snapshot(&db.warehouse).await,
        "the second run changed the ledger"
    );
    assert_eq!(
        outcome_count(&second, "elkassa", "registered"),
        7,
        "{:?}",
        second.reports.tally
    );
    let results = std::fs::read_to_string(dir.path().join("twice.results.csv")).unwrap();
    assert!(results.contains("done on an earlier run"), "{results}");
    server.stop().await;
}
on_both_backends!(the_same_drop_twice_registers_nobody_the_second_time => same_drop_twice_registers_nobody_the_second_time);

async fn ledger_snapshot(warehouse: &Warehouse) -> Vec<(String, i64)> {
    crate::harness::query_pairs(
        warehouse,
        "SELECT provider || ':' || state || ':' || COALESCE(external_id, '') || ':' || updated_at, CAST(attempts AS BIGINT) \
         FROM registrations ORDER BY ledger_id",
    )
    .await
}

async fn lost_answers_are_resolved_without_doubles(db: &TestWarehouse) {
    let server = partners(Faults {
        commit_then_drop: 1.0,
        ..Faults::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = mixed_drop(dir.path(), "lost.csv");
    let config = onboard_config(&server);
    let first = onboard(&db.warehouse, &config, &file, dir.path()).await;
    for partner in ["elkassa", "mcp", "middleware", "qm"] {
        assert!(
            outcome_count(&first, partner, "unknown") >= 6,
            "{partner}: {:?}",
            first.reports.tally
        );
    }
    server.sim().set_faults(Faults::default());
    let second = onboard(&db.warehouse, &config, &file, dir.path()).await;
    assert_eq!(
        outcome_count(&second, "elkassa", "already registered"),
        7,
        "{:?}",
        second.reports.tally
    );
    let sim = server.sim();
    for n in 1..=6 {
        let email = format!("pelanggan{n}@example.test");
        for partner in ["elkassa", "mcp", "qm"] {
            assert_eq!(
                sim.accounts_with_email(partner, &email),
                1,
                "{partner} {email}"
            );
        }
    }
    let w = &db.warehouse;
    let resolved = crate::harness::query_pairs(
        w,
        "SELECT provider || ':' || resolution, COUNT(*) FROM registrations \
         WHERE state IN ('registered', 'already_registered') GROUP BY provider, resolution ORDER BY 1",
    )
    .await;
    assert_eq!(
        resolved,
        vec![
            ("elkassa:lookup".to_owned(), 7),
            ("mcp:duplicate_answer".to_owned(), 7),
            ("middleware:ticket_repost".to_owned(), 6),
            ("qm:duplicate_answer".to_owned(), 6),
        ]
    );
    // One ticket per row: the repost reused the ticket recorded before the lost post.
    assert_eq!(
        scalar(w, "SELECT COUNT(*) FROM enrollment_tickets").await,
        6
    );
    let tickets = crate::harness::query_pairs(w, "SELECT external_id, CAST(1 AS BIGINT) FROM registrations WHERE provider = 'middleware' AND state = 'registered'").await;
    for (ticket, _) in tickets {
        assert_eq!(
            sim.accounts_with_email("middleware", &ticket),
            1,
            "{ticket}"
        );
    }
    server.stop().await;
}
on_both_backends!(commit_then_drop_on_every_partner_is_resolved_on_the_rerun_without_doubles => lost_answers_are_resolved_without_doubles);

async fn sync_polls_pending_tickets_until_done(db: &TestWarehouse) {
    let server = partners(Faults::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = mixed_drop(dir.path(), "tickets.csv");
    let config = onboard_config(&server);
    onboard(&db.warehouse, &config, &file, dir.path()).await;
    let w = &db.warehouse;
    assert_eq!(
        scalar(
            w,
            "SELECT COUNT(*) FROM enrollment_tickets WHERE state = 'pending'"
        )
        .await,
        6
    );
    // The simulator answers "in process" to the first posts of a ticket.
    for _ in 0..3 {
        sync(w, &config).await;
    }
    assert_eq!(
        scalar(
            w,
            "SELECT COUNT(*) FROM enrollment_tickets WHERE state = 'done'"
        )
        .await,
        6
    );
    assert_eq!(
        scalar(w, "SELECT COUNT(*) FROM provider_accounts WHERE provider = 'middleware' AND status = 'enrolled'").await,
        6
    );
    // The shops registered through the API come back in the listing, with
    // their own email, so the sync joins them to the onboarding's customers.
    let joined = "SELECT COUNT(*) FROM provider_accounts a JOIN registrations r \
                  ON r.provider = 'elkassa' AND r.external_id = a.external_id AND r.customer_id = a.customer_id \
                  WHERE a.provider = 'elkassa' AND a.email = r.email";
    assert_eq!(scalar(w, joined).await, 7);
    server.stop().await;
}
on_both_backends!(every_sync_polls_pending_tickets_and_lists_registered_shops_under_their_customers => sync_polls_pending_tickets_until_done);

async fn matching_is_idempotent_when_an_email_is_held_elsewhere(db: &TestWarehouse) {
    use rekon::warehouse::{CustomerFacts, MatchRule};
    let w = &db.warehouse;
    let held = CustomerFacts {
        email: Some("held@example.test".to_owned()),
        ..CustomerFacts::default()
    };
    w.match_customer(&held).await.unwrap();
    // Registered first by phone only (QM), so the customer has no email.
    let by_phone = CustomerFacts {
        legal_name: Some("Putri".to_owned()),
        phone_e164: Some("+6281234567890".to_owned()),
        identity_hash: Some("h1".to_owned()),
        ..CustomerFacts::default()
    };
    let (person, rule) = w.match_customer(&by_phone).await.unwrap();
    assert_eq!(rule, MatchRule::New);
    // The same person (by national ID) now gives an email another customer holds.
    let moved = CustomerFacts {
        email: Some("held@example.test".to_owned()),
        ..by_phone.clone()
    };
    assert_eq!(
        w.match_customer(&moved).await.unwrap(),
        (person, MatchRule::Identity)
    );
    let stamp =
        format!("SELECT CAST(updated_at AS TEXT) FROM customers WHERE customer_id = {person}");
    let before = crate::harness::text(w, &stamp).await;
    assert_eq!(
        w.match_customer(&moved).await.unwrap(),
        (person, MatchRule::Identity)
    );
    assert_eq!(
        crate::harness::text(w, &stamp).await,
        before,
        "a rerun touched the customer"
    );
    let email = format!("SELECT email FROM customers WHERE customer_id = {person}");
    assert_eq!(
        crate::harness::text(w, &email).await,
        None,
        "took an email another customer holds"
    );
}
on_both_backends!(matching_a_row_again_changes_no_customer_even_when_its_email_is_held_elsewhere => matching_is_idempotent_when_an_email_is_held_elsewhere);
