//! An in-process simulator of the ELKASSA partner API (`/integration/...`),
//! for tests, the demo and the benchmark.
//!
//! Users are generated from (seed, index) on demand; only the listing order
//! (4 bytes an entry), runtime registrations and test overrides are stored,
//! so a million users fit in a few megabytes and a page renders in
//! microseconds. Faults (outages, 429s, dropped connections, listing drift)
//! are switchable at runtime. The same router also serves the registration
//! APIs of ELKASSA, MCP, the middleware and QM (see `partners`).

mod clients;
mod crafted;
mod elkassa;
mod faults;
mod listing;
mod partners;
mod population;
mod render;
mod server;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Timelike, Utc};

pub use crafted::{CraftedPopulation, Role};
pub use partners::{PartnerSimConfig, PARTNERS};
pub use server::{serve, SimServer};

use faults::{Counters, FaultGate};
use listing::Catalogue;
use population::Population;

/// WIB (Asia/Jakarta) is UTC+7 all year round.
const WIB_OFFSET_HOURS: i64 = 7;

/// How to build a [`Simulator`].
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Number of users in the initial population.
    pub users: u32,
    /// Seed of every generated attribute and fault decision.
    pub seed: u64,
    /// The simulator's present: registration and expiry dates are relative to it.
    pub now: DateTime<Utc>,
    /// The `key` clients must send.
    pub key: String,
    /// The `token` clients must send.
    pub token: String,
    /// Faults active from the start.
    pub faults: Faults,
    /// Share (0..1) of users the listing shows twice in a row.
    pub duplicate_rate: f64,
    /// Credentials and behaviour of the simulated registration APIs.
    pub partners: PartnerSimConfig,
    /// Users of known roles instead of `users` generated ones (for reconcile tests).
    pub crafted: Option<CraftedPopulation>,
}

impl SimConfig {
    /// `users` users from `seed`, as of now, with credentials `sim-key`/`sim-token` and no faults.
    pub fn new(users: u32, seed: u64) -> Self {
        SimConfig {
            users,
            seed,
            now: Utc::now(),
            key: "sim-key".to_owned(),
            token: "sim-token".to_owned(),
            faults: Faults::default(),
            duplicate_rate: population::DEFAULT_DUPLICATE_RATE,
            partners: PartnerSimConfig::default(),
            crafted: None,
        }
    }
}

/// Injected misbehaviour; see each field.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Milliseconds added to every answer.
    pub latency_ms: u64,
    /// Share (0..1) of requests answered 503.
    pub error_rate: f64,
    /// Share (0..1) of requests answered 429 with `Retry-After`.
    pub rate_limit_rate: f64,
    /// The `Retry-After` of injected 429s, in seconds.
    pub retry_after_secs: u64,
    /// Share (0..1) of answers whose connection dies halfway through the body.
    pub drop_rate: f64,
    /// The first N listing requests (since the faults were set) answer 503.
    pub error_burst: u32,
    /// Every N-th page request, a new shop registers at the head first; 0 = off.
    pub drift_every: u32,
    /// Stop drifting after this many inserted shops; 0 = unlimited.
    pub drift_max: u32,
    /// Drift appends new shops at the tail instead (a listing ordered oldest first).
    pub drift_at_tail: bool,
    /// Every request answers 503.
    pub down: bool,
    /// After this many listing requests (since the faults were set), the
    /// partner goes down and stays down; 0 = off.
    pub down_after_pages: u32,
    /// Share (0..1) of registration POSTs that create the account and then
    /// lose the answer (full Content-Length, half the body, connection aborted).
    pub commit_then_drop: f64,
}

/// Counters of what the simulator served and injected.
#[derive(Clone, Debug, Default)]
pub struct SimStats {
    /// Every request received.
    pub requests: u64,
    /// Listing pages answered successfully (not counting dropped ones).
    pub pages_served: u64,
    /// Injected 503s (outage, burst and random errors).
    pub injected_5xx: u64,
    /// Injected 429s.
    pub injected_429: u64,
    /// Answers cut off mid-body.
    pub injected_drops: u64,
    /// Shops registered by listing drift.
    pub drift_inserts: u64,
    /// Requests with a wrong or missing key/token.
    pub auth_failures: u64,
}

/// A simulated ELKASSA partner; cheap to clone (shared state).
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

struct Inner {
    key: String,
    token: String,
    now: DateTime<Utc>,
    started: Instant,
    population: Population,
    catalogue: RwLock<Catalogue>,
    gate: FaultGate,
    counters: Counters,
    partners: partners::PartnerState,
}

impl Simulator {
    /// Generates the population's listing and applies the initial faults.
    pub fn new(config: SimConfig) -> Self {
        let now_wib = (config.now + TimeDelta::hours(WIB_OFFSET_HOURS)).naive_utc();
        let mut population = Population::new(config.seed, config.users, now_wib)
            .with_duplicate_rate(config.duplicate_rate);
        if let Some(plan) = config.crafted {
            population = population.with_crafted(plan);
        }
        let catalogue = Catalogue::new(&population);
        let partners = partners::PartnerState::new(config.partners, config.seed, config.now);
        Simulator {
            inner: Arc::new(Inner {
                key: config.key,
                token: config.token,
                now: config.now,
                started: Instant::now(),
                population,
                catalogue: RwLock::new(catalogue),
                gate: FaultGate::new(config.seed, config.faults),
                counters: Counters::default(),
                partners,
            }),
        }
    }

    /// The axum router serving `/integration/...` and the partners' registration APIs.
    pub fn router(&self) -> axum::Router {
        elkassa::router(self.clone()).merge(partners::router(self.clone()))
    }

    /// Switches faults at runtime; the error burst and drift schedule restart.
    pub fn set_faults(&self, faults: Faults) {
        self.inner.gate.set(faults);
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> SimStats {
        self.inner.counters.snapshot()
    }

    /// Distinct registration ids currently listed, in listing order.
    pub fn listed_ids(&self) -> Vec<String> {
        let catalogue = self.read();
        let mut seen = HashSet::with_capacity(catalogue.len());
        catalogue
            .order()
            .iter()
            .filter(|&&index| seen.insert(index))
            .map(|&index| render::registration_id(index))
            .collect()
    }

    /// Entries in the listing, duplicated entries included.
    pub fn listing_len(&self) -> usize {
        self.read().len()
    }

    /// Registers a new shop at the head of the listing; returns its registration id.
    pub fn register_shop(&self) -> String {
        let registered = self.wib_now();
        render::registration_id(self.write().register_shop(registered))
    }

    /// A new user appended at the tail (an oldest-first listing); returns its registration_id.
    pub fn append_shop(&self) -> String {
        let registered = self.wib_now();
        render::registration_id(self.write().append_shop(registered))
    }

    /// Overrides a user's expiry; false for an unknown id.
    pub fn set_expiry(&self, registration_id: &str, expired: NaiveDateTime) -> bool {
        let mut catalogue = self.write();
        let Some(index) = catalogue.lookup(registration_id) else {
            return false;
        };
        catalogue.override_mut(index).expiry = Some(expired);
        true
    }

    /// Shows a registered shop with the email, name and address it registered with.
    pub(crate) fn set_shop_profile(
        &self,
        registration_id: &str,
        email: &str,
        toko_name: &str,
        toko_address: &str,
    ) {
        let mut catalogue = self.write();
        if let Some(index) = catalogue.lookup(registration_id) {
            catalogue.override_mut(index).profile = Some(Box::new(listing::ShopProfile {
                email: email.to_owned(),
                toko_name: toko_name.to_owned(),
                toko_address: toko_address.to_owned(),
            }));
        }
    }

    /// Puts a user on packet `packet` (an index into the packets), expiring at `expired`.
    pub(crate) fn set_packet(&self, registration_id: &str, packet: u8, expired: NaiveDateTime) {
        let mut catalogue = self.write();
        if let Some(index) = catalogue.lookup(registration_id) {
            let extra = catalogue.override_mut(index);
            extra.packet = Some(packet);
            extra.expiry = Some(expired);
        }
    }

    /// Removes a user from the listing (every entry) and from the detail endpoint.
    pub fn remove_user(&self, registration_id: &str) -> bool {
        let mut catalogue = self.write();
        let Some(index) = catalogue.lookup(registration_id) else {
            return false;
        };
        catalogue.remove(index);
        true
    }

    /// Removes one branch of a user; false if the user or branch does not exist.
    pub fn remove_cabang(&self, registration_id: &str, cabang_id: &str) -> bool {
        let mut catalogue = self.write();
        let Some(index) = catalogue.lookup(registration_id) else {
            return false;
        };
        let k = cabang_id
            .strip_prefix(registration_id)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|k| k.parse::<u8>().ok());
        let user = catalogue.user(&self.inner.population, index);
        let Some(k) = k.filter(|k| (1..=user.cabangs).contains(k)) else {
            return false;
        };
        let extra = catalogue.override_mut(index);
        let was_present = extra.removed_cabangs & (1 << k) == 0;
        extra.removed_cabangs |= 1 << k;
        was_present
    }

    /// The user object exactly as the listing and detail endpoints serve it.
    pub fn user_json(&self, registration_id: &str) -> Option<String> {
        let catalogue = self.read();
        let index = catalogue.lookup(registration_id)?;
        let mut out = String::with_capacity(render::USER_CAPACITY);
        self.render_user(&catalogue, index, &mut out);
        Some(out)
    }

    /// The `key` clients must send.
    pub fn key(&self) -> &str {
        &self.inner.key
    }

    /// The `token` clients must send.
    pub fn token(&self) -> &str {
        &self.inner.token
    }

    fn read(&self) -> RwLockReadGuard<'_, Catalogue> {
        self.inner
            .catalogue
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Catalogue> {
        self.inner
            .catalogue
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn render_user(&self, catalogue: &Catalogue, index: u32, out: &mut String) {
        let population = &self.inner.population;
        let user = catalogue.user(population, index);
        render::user(out, population, &user, catalogue.override_of(index));
    }

    /// The simulated present in WIB: `now` plus the time the simulator has run,
    /// so runtime registrations are never older than the generated ones.
    fn wib_now(&self) -> NaiveDateTime {
        let elapsed =
            TimeDelta::from_std(self.inner.started.elapsed()).unwrap_or(TimeDelta::zero());
        let now = self.inner.now + elapsed + TimeDelta::hours(WIB_OFFSET_HOURS);
        let naive = now.naive_utc();
        naive.with_nanosecond(0).unwrap_or(naive)
    }
}
