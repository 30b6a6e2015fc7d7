//! A crafted world for reconcile: an ELKASSA simulator whose users play known
//! roles, plus the partner-side rows onboarding writes (ledger, MCP/QM/
//! middleware accounts, an MCP activation, QM sessions, middleware tickets),
//! inserted straight into the tables the way onboarding writes them.

use crate::harness::*;
use chrono::{DateTime, TimeDelta, Utc};
use rekon::config::Config;
use rekon::sim::{CraftedPopulation, Faults, Role, SimConfig, SimServer, Simulator};
use rekon::warehouse::Warehouse;

/// The roles and their counts every crafted test uses.
pub const PLAN: CraftedPopulation = CraftedPopulation {
    plain: 8,
    notes_mismatch: 2,
    duplicate_pairs: 2,
    expired_but_active: 2,
    trial_expired: 3,
    trial_expiring: 4,
};

/// Open findings per kind the crafted world must produce, and nothing else.
pub const EXPECTED: [(&str, u64); 11] = [
    ("account_removed", 2),
    ("duplicate_account", 2),
    ("enrollment_stuck", 1),
    ("expired_but_active", 2),
    ("field_mismatch", 4),
    ("missing_at_partner", 3),
    ("otp_session_expired", 1),
    ("packet_mismatch", 3),
    ("trial_expired", 3),
    ("trial_expiring", 4),
    ("unknown_to_ledger", 2),
];

/// The key of national IDs in this world (onboarding's `identity_hash`).
const HASH_KEY: &[u8] = b"crafted-test-key";

/// A running crafted partner and the configuration to sync it.
pub struct World {
    /// The simulated ELKASSA.
    pub server: SimServer,
    /// Configuration pointing at it.
    pub config: Config,
    /// The simulated present.
    pub now: DateTime<Utc>,
}

/// A value bound into a seeding statement.
#[derive(Clone)]
enum Bind {
    Text(Option<String>),
    Time(DateTime<Utc>),
    NoTime,
}

fn t(value: &str) -> Bind {
    Bind::Text(Some(value.to_owned()))
}

async fn exec(warehouse: &Warehouse, sql: &str, binds: &[Bind]) {
    macro_rules! run {
        ($pool:expr) => {{
            let mut query = sqlx::query(sql);
            for bind in binds {
                query = match bind {
                    Bind::Text(v) => query.bind(v.clone()),
                    Bind::Time(v) => query.bind(*v),
                    Bind::NoTime => query.bind(None::<DateTime<Utc>>),
                };
            }
            query.execute($pool).await.expect(sql);
        }};
    }
    match warehouse {
        Warehouse::Sqlite(pool) => run!(pool),
        Warehouse::Postgres(pool) => run!(pool),
    }
}

/// The email the simulator gives the user behind an ELKASSA id.
pub fn email_of(elkassa_id: &str) -> String {
    let index: u64 = elkassa_id.trim_start_matches("ELK").parse::<u64>().unwrap() - 100_000;
    format!("shop{index}@example.test")
}

/// Starts the crafted partner as of `now` (seconds only, so both backends store equal instants).
pub async fn start(now: DateTime<Utc>) -> World {
    let sim = Simulator::new(SimConfig {
        now,
        crafted: Some(PLAN),
        faults: Faults::default(),
        ..SimConfig::new(0, 3)
    });
    let server = SimServer::start(sim)
        .await
        .expect("start crafted simulator");
    let config = config_for(&server);
    World {
        server,
        config,
        now,
    }
}

/// The plain users whose customers onboarding also registered at the other partners.
pub fn plain(k: usize) -> String {
    PLAN.ids(Role::Plain)[k].clone()
}

/// Syncs, seeds the partner side, removes two plain users and syncs again.
pub async fn build(warehouse: &Warehouse, world: &World) {
    sync(warehouse, &world.config).await;
    seed_partners(warehouse, world.now).await;
    for k in [6, 7] {
        assert!(world.server.sim().remove_user(&plain(k)));
    }
    sync(warehouse, &world.config).await;
}

/// Customer identity as onboarding records it on a matched customer.
async fn identify(warehouse: &Warehouse, k: usize, name: &str, nik: &str) {
    let phone = format!("+628120000000{k}");
    exec(
        warehouse,
        "UPDATE customers SET legal_name = $1, phone_e164 = $2, identity_hash = $3, identity_last4 = $4 WHERE email = $5",
        &[t(name), t(&phone), t(&rekon::onboard::identity_hash(HASH_KEY, nik)), t(&nik[nik.len() - 4..]), t(&email_of(&plain(k)))],
    )
    .await;
}

/// One partner account as onboarding writes it after a registration.
struct Account<'a> {
    provider: &'a str,
    id: &'a str,
    of: usize,
    email: &'a str,
    name: &'a str,
    phone: &'a str,
    nik: &'a str,
}

async fn account(warehouse: &Warehouse, run: &str, now: DateTime<Utc>, a: Account<'_>) {
    let email = if a.email.is_empty() {
        email_of(&plain(a.of))
    } else {
        a.email.to_owned()
    };
    let sql = format!(
        "INSERT INTO provider_accounts (provider, external_id, customer_id, status, email, legal_name, phone_e164, \
         identity_hash, identity_last4, registered_at, first_seen_at, last_seen_at, last_seen_run) \
         SELECT $1, $2, customer_id, 'ACTIVE', $3, $4, $5, $6, $7, $8, $9, $9, {run} FROM customers WHERE email = $10"
    );
    let binds = [
        t(a.provider),
        t(a.id),
        t(&email),
        t(a.name),
        t(a.phone),
        t(&rekon::onboard::identity_hash(HASH_KEY, a.nik)),
        t(&a.nik[a.nik.len() - 4..]),
        Bind::Time(now - TimeDelta::days(20)),
        Bind::Time(now),
        t(&email_of(&plain(a.of))),
    ];
    exec(warehouse, &sql, &binds).await;
}

async fn ledger(
    warehouse: &Warehouse,
    provider: &str,
    id: Option<&str>,
    state: &str,
    now: DateTime<Utc>,
) {
    let row_key = format!("drop.csv#{provider}#{}", id.unwrap_or("rejected"));
    exec(
        warehouse,
        "INSERT INTO registrations (source_file, source_row, row_key, provider, state, external_id, attempts, created_at, updated_at) \
         VALUES ('drop.csv', 2, $1, $2, $3, $4, 1, $5, $5)",
        &[t(&row_key), t(provider), t(state), Bind::Text(id.map(str::to_owned)), Bind::Time(now - TimeDelta::days(30))],
    )
    .await;
}

/// Everything onboarding would have left in the warehouse for this world.
pub async fn seed_partners(warehouse: &Warehouse, now: DateTime<Utc>) {
    let run = warehouse.start_run("onboard", now).await.unwrap();
    let run = run.to_string();
    identify(warehouse, 0, "Siti Nurhaliza", "3174015501900000").await;
    identify(warehouse, 1, "Agus Salim", "3174015501900001").await;
    identify(warehouse, 2, "Dewi Lestari", "3174015501900002").await;
    identify(warehouse, 3, "Budi Santoso", "3174015501900003").await;
    identify(warehouse, 4, "Rina Wati", "3174015501900004").await;
    seed_accounts(warehouse, &run, now).await;
    seed_activations(warehouse, &run, now).await;
    seed_ledger(warehouse, now).await;
    seed_sessions_and_tickets(warehouse, now).await;
}

/// MCP, QM and middleware accounts of the identified customers.
async fn seed_accounts(warehouse: &Warehouse, run: &str, now: DateTime<Utc>) {
    let p = |k: usize| format!("+628120000000{k}");
    let accounts = [
        // P0: the same person everywhere, written differently: no mismatch.
        (
            "mcp",
            "MCP-0",
            0,
            "",
            "SITI  NURHALIZA",
            p(0),
            "3174015501900000",
        ),
        (
            "qm",
            "QM-0",
            0,
            "",
            "Sití Nurhaliza",
            p(0),
            "3174015501900000",
        ),
        // P1: matched by national ID, another email at MCP.
        (
            "mcp",
            "MCP-1",
            1,
            "agus.other@example.test",
            "Agus Salim",
            p(1),
            "3174015501900001",
        ),
        // P2: another phone at QM.
        (
            "mcp",
            "MCP-2",
            2,
            "",
            "Dewi Lestari",
            p(2),
            "3174015501900002",
        ),
        (
            "qm",
            "QM-2",
            2,
            "",
            "Dewi Lestari",
            "+6281299999999".to_owned(),
            "3174015501900002",
        ),
        // P3: another name and another national ID at the middleware (matched by email).
        (
            "qm",
            "QM-3",
            3,
            "",
            "Budi Santoso",
            p(3),
            "3174015501900003",
        ),
        (
            "middleware",
            "MW-3",
            3,
            "",
            "Budi Santosa",
            p(3),
            "3174015501999999",
        ),
        // P4: consistent, but no ledger row.
        ("qm", "QM-4", 4, "", "Rina Wati", p(4), "3174015501900004"),
    ];
    for (provider, id, of, email, name, phone, nik) in &accounts {
        let a = Account {
            provider,
            id,
            of: *of,
            email,
            name,
            phone,
            nik,
        };
        account(warehouse, run, now, a).await;
    }
}

/// MCP activations: one paid for the packet ELKASSA shows, one for another, one without a packet.
async fn seed_activations(warehouse: &Warehouse, run: &str, now: DateTime<Utc>) {
    for (id, packet) in [
        ("MCP-0", Some("13")),
        ("MCP-1", Some("11")),
        ("MCP-2", None),
    ] {
        let sql = format!(
            "INSERT INTO contracts (provider, external_id, contract_id, packet_id, expires_at, status, updated_at, updated_run) \
             VALUES ('mcp', $1, $1, $2, $3, 'ACTIVE', $4, {run})"
        );
        let binds = [
            t(id),
            Bind::Text(packet.map(str::to_owned)),
            Bind::Time(now + TimeDelta::days(300)),
            Bind::Time(now),
        ];
        exec(warehouse, &sql, &binds).await;
    }
}

async fn seed_ledger(warehouse: &Warehouse, now: DateTime<Utc>) {
    let expiring = PLAN.ids(Role::TrialExpiring);
    // The last expiring trial was made outside onboarding: unknown to the ledger.
    for id in &expiring[..expiring.len() - 1] {
        ledger(warehouse, "elkassa", Some(id), "registered", now).await;
    }
    for id in ["ELK900001", "ELK900002"] {
        ledger(warehouse, "elkassa", Some(id), "registered", now).await;
    }
    ledger(warehouse, "elkassa", None, "rejected", now).await;
    for id in ["MCP-0", "MCP-1", "MCP-2", "MCP-GHOST"] {
        ledger(warehouse, "mcp", Some(id), "registered", now).await;
    }
    for id in ["QM-0", "QM-2", "QM-3"] {
        ledger(warehouse, "qm", Some(id), "already_registered", now).await;
    }
    ledger(warehouse, "middleware", Some("MW-3"), "registered", now).await;
}

async fn seed_sessions_and_tickets(warehouse: &Warehouse, now: DateTime<Utc>) {
    let h = |hours: i64| Bind::Time(now + TimeDelta::hours(hours));
    let customer = |k: usize| {
        format!(
            "(SELECT customer_id FROM customers WHERE email = '{}')",
            email_of(&plain(k))
        )
    };
    for (session, k, expires, verified) in [
        ("S-0", 0, -2, None),
        ("S-2", 2, -5, Some(-6)),
        ("S-3", 3, 1, None),
    ] {
        let sql = format!(
            "INSERT INTO otp_sessions (session_id, customer_id, login, expires_at, verified_at, created_at) \
             VALUES ($1, {}, 'login', $2, $3, $4)",
            customer(k)
        );
        let verified = verified.map_or(Bind::NoTime, h);
        exec(
            warehouse,
            &sql,
            &[t(session), h(expires), verified, h(expires - 1)],
        )
        .await;
    }
    for (ticket, state, created) in [
        ("T-stuck", "pending", -48),
        ("T-fresh", "pending", -1),
        ("T-done", "done", -72),
    ] {
        let sql = format!(
            "INSERT INTO enrollment_tickets (ticket_id, customer_id, state, polls, created_at) VALUES ($1, {}, $2, 3, $3)",
            customer(3)
        );
        exec(warehouse, &sql, &[t(ticket), t(state), h(created)]).await;
    }
}
