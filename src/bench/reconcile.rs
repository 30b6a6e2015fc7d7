//! `rekon bench reconcile`: a synthetic warehouse of N customers spread over
//! the four partners (some of everything reconcile looks for), then the time
//! and peak memory of reconciling it, phase by phase.

use super::BenchDatabase;
use crate::config::ReconcileConfig;
use crate::outcome::RunStatus;
use crate::reconcile::run_job;
use crate::telemetry::{peak_memory, reset_peak_memory, resident_memory};
use crate::warehouse::{dual, op, redact_url, Warehouse, WarehouseError};
use chrono::{DateTime, TimeDelta, Utc};
use clap::Args;
use std::time::Instant;

/// Options of `bench reconcile`.
#[derive(Debug, Args)]
pub struct BenchReconcileArgs {
    /// Customers in the synthetic warehouse (each has an ELKASSA account; MCP, QM and the middleware a quarter each).
    #[arg(long, default_value_t = 100_000)]
    pub customers: u32,
    /// Keep the benchmark database instead of dropping it.
    #[arg(long)]
    pub keep: bool,
}

/// A value of a generated row.
enum Value {
    Text(String),
    Int(i64),
    Flag(bool),
    Time(DateTime<Utc>),
    Null,
    NullTime,
}

/// Rows of one table and the columns they fill.
struct Table {
    name: &'static str,
    columns: &'static str,
    rows: Vec<Vec<Value>>,
}

/// Builds, reconciles twice (first run raises everything, the second finds nothing new), reports.
pub async fn run(
    args: BenchReconcileArgs,
    database_url: Option<&str>,
) -> anyhow::Result<RunStatus> {
    let target = BenchDatabase::create(database_url).await?;
    println!(
        "bench reconcile: {} customers; database {}",
        args.customers,
        redact_url(&target.url)
    );
    // A failed run still removes its database.
    let measured = measure(&target.url, args.customers).await;
    target.finish(args.keep).await?;
    measured?;
    Ok(RunStatus::Succeeded)
}

/// Builds the synthetic warehouse at `url` and times two reconciles over it.
async fn measure(url: &str, customers: u32) -> anyhow::Result<()> {
    let warehouse = Warehouse::connect(url, 4).await?;
    warehouse.migrate().await?;
    let now = Utc::now();
    let started = Instant::now();
    let rows = populate(&warehouse, customers, now).await?;
    println!(
        "  synthetic warehouse: {rows} rows in {:.1} s (not timed below)",
        started.elapsed().as_secs_f64()
    );
    // The synthetic rows stand for the nights of syncs that wrote a real
    // warehouse, which autovacuum has long since vacuumed and analysed.
    super::settle(&warehouse, "the syncs' tables as autovacuum leaves them").await?;
    // The second run is an hour later, as a nightly one is later: every
    // open finding's `last_seen_at` moves, which is part of its cost.
    for (label, at) in [
        ("first reconcile (raises every finding)", now),
        (
            "second reconcile, an hour later (nothing changed)",
            now + TimeDelta::hours(1),
        ),
    ] {
        let before = resident_memory();
        let peak_is_own = reset_peak_memory();
        let started = Instant::now();
        let report = run_job(&warehouse, &ReconcileConfig::default(), at).await?;
        println!("{label}: {:.2} s", started.elapsed().as_secs_f64());
        // Without a peak reset the figure covers the synthetic build too.
        let scope = if peak_is_own {
            "this reconcile"
        } else {
            "the whole process so far"
        };
        println!(
            "  peak memory of {scope}: {} (resident before it: {before})",
            peak_memory()
        );
        println!(
            "  read {:.2} s ({} rows), compute {:.2} s, write {:.2} s",
            report.read_time.as_secs_f64(),
            report.rows_read,
            report.compute_time.as_secs_f64(),
            report.write_time.as_secs_f64()
        );
        println!(
            "  findings open {}, raised {}, resolved {}, refreshed {}, match rules written {}",
            report.counts.values().sum::<u64>(),
            report.stored.inserted,
            report.stored.resolved,
            report.stored.refreshed,
            report.stored.match_rules
        );
    }
    warehouse.close().await;
    Ok(())
}

/// Writes the synthetic warehouse; returns the rows written.
async fn populate(
    warehouse: &Warehouse,
    customers: u32,
    now: DateTime<Utc>,
) -> anyhow::Result<u64> {
    let run = warehouse.start_run("bench", now).await?;
    let mut written = insert(warehouse, &packets(now)).await?;
    // In slices, so the generated rows never all sit in memory at once.
    const SLICE: u32 = 50_000;
    for start in (0..customers).step_by(SLICE as usize) {
        let end = (start + SLICE).min(customers);
        let customer_rows = Table {
            name: "customers",
            // Identity columns count from 1 in a fresh database: customer i is i + 1.
            columns: "legal_name, email, phone_e164, identity_hash, identity_last4, created_at, updated_at",
            rows: (start..end).map(|i| customer(i, now)).collect(),
        };
        written += insert(warehouse, &customer_rows).await?;
        for table in partner_tables(start..end, run, now) {
            written += insert(warehouse, &table).await?;
        }
    }
    Ok(written)
}

fn text(value: impl Into<String>) -> Value {
    Value::Text(value.into())
}

fn packets(now: DateTime<Utc>) -> Table {
    let rows = [
        ("9", "Trial 30 Hari", 30, true),
        ("10", "1 Bulan", 30, false),
        ("11", "3 Bulan", 91, false),
        ("13", "12 Bulan", 365, false),
    ]
    .into_iter()
    .map(|(id, desc, days, trial)| {
        vec![
            text(id),
            text(desc),
            Value::Int(days),
            Value::Flag(trial),
            Value::Time(now),
            Value::Time(now),
        ]
    })
    .collect();
    Table {
        name: "packets",
        columns: "packet_id, packet_desc, duration_days, is_trial, first_seen_at, last_seen_at",
        rows,
    }
}

fn customer(i: u32, now: DateTime<Utc>) -> Vec<Value> {
    let (identity_hash, identity_last4) = identity(i);
    vec![
        text(format!("Customer {i}")),
        text(format!("c{i}@bench.test")),
        text(format!("+62812{i:08}")),
        identity_hash,
        identity_last4,
        Value::Time(now),
        Value::Time(now),
    ]
}

/// Customer `i`'s national-ID hash and last four digits.
fn identity(i: u32) -> (Value, Value) {
    let hash = u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (
        text(format!("{hash:064x}")),
        text(format!("{:04}", i % 10_000)),
    )
}

/// How sync or onboarding matched a synthetic account to customer `i`, as
/// they record it: by email, or by national ID when the account lists
/// another email (onboarding keeps both keys).
#[derive(Clone, Copy)]
enum Matched {
    Email,
    Identity,
}

/// Accounts, contracts, ledger rows, sessions and tickets of customers `range`.
fn partner_tables(range: std::ops::Range<u32>, run: i64, now: DateTime<Utc>) -> Vec<Table> {
    let mut rows = Synthetic {
        run,
        now,
        ..Synthetic::default()
    };
    for i in range {
        let packet = rows.elkassa(i);
        rows.partner(i, packet);
    }
    rows.into_tables()
}

/// The rows of one slice of customers, table by table.
#[derive(Default)]
struct Synthetic {
    run: i64,
    now: DateTime<Utc>,
    accounts: Vec<Vec<Value>>,
    contracts: Vec<Vec<Value>>,
    ledger: Vec<Vec<Value>>,
    sessions: Vec<Vec<Value>>,
    tickets: Vec<Vec<Value>>,
}

impl Synthetic {
    fn day(&self, days: i64) -> DateTime<Utc> {
        self.now + TimeDelta::days(days)
    }

    fn registered(&self, i: u32) -> DateTime<Utc> {
        self.day(-i64::from(i % 700) - 1)
    }

    fn account(
        &mut self,
        i: u32,
        provider: &str,
        id: String,
        email: String,
        matched: Matched,
        removed: bool,
    ) {
        let status = if i.is_multiple_of(11) {
            "INACTIVE"
        } else {
            "ACTIVE"
        };
        let removed = if removed {
            Value::Time(self.now)
        } else {
            Value::NullTime
        };
        let (rule, identity_hash, identity_last4) = match matched {
            Matched::Email => ("email", Value::Null, Value::Null),
            Matched::Identity => {
                let (hash, last4) = identity(i);
                ("identity", hash, last4)
            }
        };
        self.accounts.push(vec![
            text(provider),
            text(id),
            Value::Int(i64::from(i) + 1),
            text(status),
            text(email),
            Value::Time(self.registered(i)),
            Value::Time(self.now),
            Value::Time(self.now),
            Value::Int(self.run),
            removed,
            text(rule),
            identity_hash,
            identity_last4,
        ]);
    }

    /// Customer `i`'s ELKASSA account and contract (a fifth trials, some
    /// lapsed, some notes off, a few duplicates and removals); returns its packet.
    fn elkassa(&mut self, i: u32) -> &'static str {
        let email = format!("c{i}@bench.test");
        self.account(
            i,
            "elkassa",
            format!("E{i}"),
            email.clone(),
            Matched::Email,
            i % 500 == 3,
        );
        if i % 1000 == 1 {
            self.account(i, "elkassa", format!("D{i}"), email, Matched::Email, false);
        }
        let trial = i.is_multiple_of(5);
        let (packet, expires) = if trial {
            ("9", self.registered(i) + TimeDelta::days(30))
        } else {
            ("13", self.day(i64::from(i % 400) - 50))
        };
        let notes = match (i.is_multiple_of(97), trial) {
            (true, _) => "3 Bulan",
            (false, true) => "Trial 30 Hari",
            (false, false) => "12 Bulan",
        };
        let status = if i.is_multiple_of(11) {
            "INACTIVE"
        } else {
            "ACTIVE"
        };
        self.contracts.push(vec![
            text("elkassa"),
            text(format!("E{i}")),
            text(packet),
            text(notes),
            Value::Flag(trial),
            Value::Time(expires),
            text(status),
            Value::Time(self.now),
            Value::Int(self.run),
        ]);
        packet
    }

    /// A quarter of customers each at MCP, QM and the middleware, with
    /// ledger rows (a few missing), an activation, a session or a ticket.
    fn partner(&mut self, i: u32, packet: &str) {
        let (provider, id) = match i % 4 {
            0 => ("mcp", format!("M{i}")),
            1 => ("qm", format!("Q{i}")),
            2 => ("middleware", format!("W{i}")),
            _ => return,
        };
        let (email, matched) = if i.is_multiple_of(251) {
            (format!("other{i}@bench.test"), Matched::Identity)
        } else {
            (format!("c{i}@bench.test"), Matched::Email)
        };
        self.account(i, provider, id.clone(), email, matched, false);
        let customer = Value::Int(i64::from(i) + 1);
        if i % 300 != 2 {
            let made = self.day(-800);
            self.ledger.push(vec![
                text("bench.csv"),
                Value::Int(1),
                text(format!("drop#{id}")),
                text(provider),
                text("registered"),
                text(id.clone()),
                customer,
                Value::Time(made),
                Value::Time(made),
            ]);
        }
        let customer = Value::Int(i64::from(i) + 1);
        match provider {
            "mcp" => self.contracts.push(vec![
                text("mcp"),
                text(id),
                text(if i.is_multiple_of(333) { "11" } else { packet }),
                Value::Null,
                Value::Flag(false),
                Value::Time(self.day(200)),
                text("ACTIVE"),
                Value::Time(self.now),
                Value::Int(self.run),
            ]),
            "qm" => self.sessions.push(vec![
                text(format!("S{i}")),
                customer,
                text("email"),
                Value::Time(self.day(if i % 13 == 1 { -1 } else { 1 })),
                Value::NullTime,
                Value::Time(self.day(-2)),
            ]),
            _ => self.tickets.push(vec![
                text(format!("T{i}")),
                customer,
                text(if i % 17 == 2 { "pending" } else { "done" }),
                Value::Time(self.day(-2)),
            ]),
        }
    }

    fn into_tables(self) -> Vec<Table> {
        let table = |name, columns, rows| Table {
            name,
            columns,
            rows,
        };
        vec![
            table("provider_accounts", "provider, external_id, customer_id, status, email, registered_at, first_seen_at, last_seen_at, last_seen_run, removed_at, match_rule, identity_hash, identity_last4", self.accounts),
            table("contracts", "provider, external_id, packet_id, contract_notes, is_trial, expires_at, status, updated_at, updated_run", self.contracts),
            table("registrations", "source_file, source_row, row_key, provider, state, external_id, customer_id, created_at, updated_at", self.ledger),
            table("otp_sessions", "session_id, customer_id, login, expires_at, verified_at, created_at", self.sessions),
            table("enrollment_tickets", "ticket_id, customer_id, state, created_at", self.tickets),
        ]
    }
}

/// Multi-row INSERTs, as many rows a statement as SQLite's parameter bound allows.
async fn insert(warehouse: &Warehouse, table: &Table) -> Result<u64, WarehouseError> {
    let Some(width) = table.rows.first().map(Vec::len) else {
        return Ok(0);
    };
    let head = format!("INSERT INTO {} ({}) ", table.name, table.columns);
    let per_statement = (30_000 / width).max(1);
    let mut written = 0;
    dual!(warehouse, Warehouse, pool => {
        let mut tx = pool.begin().await.map_err(op("begin bench data"))?;
        for chunk in table.rows.chunks(per_statement) {
            let mut insert = sqlx::QueryBuilder::new(&head);
            insert.push_values(chunk, |mut row, values| {
                for value in values {
                    match value {
                        Value::Text(v) => row.push_bind(v.as_str()),
                        Value::Int(v) => row.push_bind(*v),
                        Value::Flag(v) => row.push_bind(*v),
                        Value::Time(v) => row.push_bind(*v),
                        Value::Null => row.push_bind(None::<&str>),
                        Value::NullTime => row.push_bind(None::<DateTime<Utc>>),
                    };
                }
            });
            written += insert.build().execute(&mut *tx).await.map_err(op("write bench data"))?.rows_affected();
        }
        tx.commit().await.map_err(op("commit bench data"))?;
    });
    Ok(written)
}
