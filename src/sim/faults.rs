//! Fault injection. Decisions hash a request sequence number with the seed
//! (no thread_rng), so a given request sequence always meets the same faults.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use super::population::{mix, unit};
use super::{Faults, SimStats};

const SALT_FAULTS: u64 = 0xA076_1D64_78BD_642F;

/// Which kind of endpoint a request hit; the error burst targets the listing only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Endpoint {
    Reference,
    Listing,
    Detail,
}

/// What the gate decided for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Admission {
    /// Serve it; `drop` cuts the connection halfway through the body.
    Serve { drop: bool },
    /// Answer 503.
    Unavailable,
    /// Answer 429 with this `Retry-After`.
    RateLimited { retry_after: u64 },
}

/// Live counters behind [`SimStats`].
#[derive(Default)]
pub(super) struct Counters {
    pub requests: AtomicU64,
    pub pages_served: AtomicU64,
    pub injected_5xx: AtomicU64,
    pub injected_429: AtomicU64,
    pub injected_drops: AtomicU64,
    pub drift_inserts: AtomicU64,
    pub auth_failures: AtomicU64,
}

impl Counters {
    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A consistent-enough copy for reports and assertions.
    pub fn snapshot(&self) -> SimStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SimStats {
            requests: get(&self.requests),
            pages_served: get(&self.pages_served),
            injected_5xx: get(&self.injected_5xx),
            injected_429: get(&self.injected_429),
            injected_drops: get(&self.injected_drops),
            drift_inserts: get(&self.drift_inserts),
            auth_failures: get(&self.auth_failures),
        }
    }
}

/// The current faults and the counters their schedules run on.
pub(super) struct FaultGate {
    seed: u64,
    faults: RwLock<Faults>,
    sequence: AtomicU64,
    /// Listing requests still to fail in the current burst.
    burst_left: AtomicU32,
    /// Page requests since the faults were last set, for `drift_every`.
    page_requests: AtomicU64,
    /// Drift inserts since the faults were last set, for `drift_max`.
    drifted: AtomicU32,
    /// Listing requests admitted since the faults were last set, for `down_after_pages`.
    listing_admitted: AtomicU64,
    /// Set once `down_after_pages` is reached: the partner stays down until faults change.
    tripped: AtomicBool,
}

impl FaultGate {
    /// A gate with the initial faults.
    pub fn new(seed: u64, faults: Faults) -> Self {
        FaultGate {
            seed: mix(seed ^ SALT_FAULTS),
            burst_left: AtomicU32::new(faults.error_burst),
            faults: RwLock::new(faults),
            sequence: AtomicU64::new(0),
            page_requests: AtomicU64::new(0),
            drifted: AtomicU32::new(0),
            listing_admitted: AtomicU64::new(0),
            tripped: AtomicBool::new(false),
        }
    }

    /// Replaces the faults; bursts and drift schedules restart from zero.
    pub fn set(&self, faults: Faults) {
        let mut current = self.faults.write().unwrap_or_else(PoisonError::into_inner);
        self.burst_left.store(faults.error_burst, Ordering::Relaxed);
        self.page_requests.store(0, Ordering::Relaxed);
        self.drifted.store(0, Ordering::Relaxed);
        self.listing_admitted.store(0, Ordering::Relaxed);
        self.tripped.store(false, Ordering::Relaxed);
        *current = faults;
    }

    /// A copy of the current faults (no heap: cheap per request).
    pub fn current(&self) -> Faults {
        self.faults
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Counts a page request; true when a shop should register before it is served.
    pub fn drift_due(&self, faults: &Faults) -> bool {
        if faults.drift_every == 0 {
            return false;
        }
        let n = self.page_requests.fetch_add(1, Ordering::Relaxed) + 1;
        if !n.is_multiple_of(u64::from(faults.drift_every)) {
            return false;
        }
        if faults.drift_max == 0 {
            return true;
        }
        self.drifted
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| {
                (d < faults.drift_max).then_some(d + 1)
            })
            .is_ok()
    }

    /// Decides one request's fate, counts it, and waits out the injected latency.
    pub async fn admit(
        &self,
        faults: &Faults,
        endpoint: Endpoint,
        counters: &Counters,
    ) -> Admission {
        Counters::bump(&counters.requests);
        let admission = self.decide(faults, endpoint);
        match admission {
            Admission::Unavailable => Counters::bump(&counters.injected_5xx),
            Admission::RateLimited { .. } => Counters::bump(&counters.injected_429),
            Admission::Serve { .. } => {}
        }
        if faults.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
        }
        admission
    }

    /// down → error burst (listing only) → 429 → 5xx → drop.
    fn decide(&self, faults: &Faults, endpoint: Endpoint) -> Admission {
        let seq = self.sequence.fetch_add(1, Ordering::Relaxed);
        if faults.down || self.goes_down(faults, endpoint) {
            return Admission::Unavailable;
        }
        if endpoint == Endpoint::Listing && self.take_burst() {
            return Admission::Unavailable;
        }
        if faults.rate_limit_rate > 0.0 && self.roll(seq, 1) < faults.rate_limit_rate {
            return Admission::RateLimited {
                retry_after: faults.retry_after_secs,
            };
        }
        if faults.error_rate > 0.0 && self.roll(seq, 2) < faults.error_rate {
            return Admission::Unavailable;
        }
        let drop = faults.drop_rate > 0.0 && self.roll(seq, 3) < faults.drop_rate;
        Admission::Serve { drop }
    }

    /// True once `down_after_pages` listing requests were let through.
    fn goes_down(&self, faults: &Faults, endpoint: Endpoint) -> bool {
        if faults.down_after_pages == 0 {
            return false;
        }
        if self.tripped.load(Ordering::Relaxed) {
            return true;
        }
        if endpoint == Endpoint::Listing
            && self.listing_admitted.fetch_add(1, Ordering::Relaxed)
                >= u64::from(faults.down_after_pages)
        {
            self.tripped.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }

    fn take_burst(&self) -> bool {
        self.burst_left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(1)
            })
            .is_ok()
    }

    /// An independent uniform draw per (request, decision).
    fn roll(&self, seq: u64, decision: u64) -> f64 {
        unit(mix(
            self.seed ^ mix(seq.wrapping_mul(4).wrapping_add(decision))
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(gate: &FaultGate, faults: &Faults, n: usize) -> Vec<Admission> {
        (0..n)
            .map(|_| gate.decide(faults, Endpoint::Listing))
            .collect()
    }

    #[test]
    fn fault_decisions_repeat_for_the_same_seed_and_request_sequence() {
        let faults = Faults {
            error_rate: 0.2,
            rate_limit_rate: 0.1,
            drop_rate: 0.1,
            ..Faults::default()
        };
        let a = run(&FaultGate::new(3, faults.clone()), &faults, 2000);
        let b = run(&FaultGate::new(3, faults.clone()), &faults, 2000);
        assert_eq!(a, b);
        let errors = a.iter().filter(|x| **x == Admission::Unavailable).count();
        assert!((250..470).contains(&errors), "{errors}");
    }

    #[test]
    fn the_partner_goes_down_for_good_after_the_set_number_of_pages() {
        let faults = Faults {
            down_after_pages: 3,
            ..Faults::default()
        };
        let gate = FaultGate::new(1, faults.clone());
        let served: Vec<bool> = (0..5)
            .map(|_| gate.decide(&faults, Endpoint::Listing) != Admission::Unavailable)
            .collect();
        assert_eq!(served, [true, true, true, false, false]);
        assert_eq!(
            gate.decide(&faults, Endpoint::Reference),
            Admission::Unavailable
        );
    }

    #[test]
    fn drift_stops_after_drift_max_inserts() {
        let faults = Faults {
            drift_every: 2,
            drift_max: 3,
            ..Faults::default()
        };
        let gate = FaultGate::new(1, faults.clone());
        let due: Vec<bool> = (0..10).map(|_| gate.drift_due(&faults)).collect();
        assert_eq!(
            due,
            [false, true, false, true, false, true, false, false, false, false]
        );
    }
}
