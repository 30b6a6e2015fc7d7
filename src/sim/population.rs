//! Deterministic user generation: every attribute of a user is a pure function
//! of (seed, index), so a million users cost no memory and any page can be
//! rendered without having rendered the ones before it.

use chrono::{Datelike, Months, NaiveDateTime, TimeDelta};

/// `registration_id` is `ELK{FIRST_REGISTRATION + index}`.
pub(super) const FIRST_REGISTRATION: u64 = 100_000;
/// `contract_id` is `{FIRST_CONTRACT + index}`.
pub(super) const FIRST_CONTRACT: u64 = 50_000;

/// One ELKASSA packet as the registration endpoint lists it.
pub(super) struct Packet {
    pub id: &'static str,
    pub code: &'static str,
    pub desc: &'static str,
    /// Length in months; 0 marks the 30-day trial.
    pub months: u32,
}

/// The packets of the partner document, trial first.
pub(super) const PACKETS: [Packet; 5] = [
    Packet {
        id: "9",
        code: "TRIAL-30HARI",
        desc: "Trial 30 Hari",
        months: 0,
    },
    Packet {
        id: "10",
        code: "REG-1BULAN",
        desc: "1 Bulan",
        months: 1,
    },
    Packet {
        id: "11",
        code: "REG-3BULAN",
        desc: "3 Bulan",
        months: 3,
    },
    Packet {
        id: "12",
        code: "REG-6BULAN",
        desc: "6 Bulan",
        months: 6,
    },
    Packet {
        id: "13",
        code: "REG-12BULAN",
        desc: "12 Bulan",
        months: 12,
    },
];
const TRIAL: u8 = 0;
const TRIAL_DAYS: i64 = 30;

/// Shop-name prefixes; the apostrophe, diacritics and quotes exercise escaping.
pub(super) const NAME_PREFIXES: [&str; 8] = [
    "Toko",
    "Warung",
    "Kedai",
    "Toko Kopi",
    "Café",
    "UD",
    "Apotek",
    "Toko Roti",
];
/// Shop-name cores.
pub(super) const NAME_WORDS: [&str; 16] = [
    "Maju",
    "Jaya",
    "Sejahtera",
    "Berkah",
    "Makmur",
    "Sentosa",
    "Bu Siti",
    "D'Jawa",
    "Ösmanthus",
    "Sumber Rejeki",
    "Abadi",
    "Mandiri",
    "Barokah",
    "Pak Budi",
    "\"Murah\" Meriah",
    "Lancar",
];
/// Street names for addresses.
pub(super) const STREETS: [&str; 12] = [
    "Merdeka",
    "Sudirman",
    "Diponegoro",
    "Gatot Subroto",
    "Asia Afrika",
    "Braga",
    "Malioboro",
    "Pemuda",
    "Ahmad Yani",
    "Cendana",
    "Dr. Djunjunan",
    "Pasar Baru",
];
/// Cities for addresses.
pub(super) const CITIES: [&str; 12] = [
    "Bandung",
    "Jakarta Selatan",
    "Surabaya",
    "Yogyakarta",
    "Semarang",
    "Medan",
    "Makassar",
    "Denpasar",
    "Bogor",
    "Malang",
    "Cimahi",
    "Tangerang",
];

const DAY: u64 = 86_400;
/// Base users registered over the two years before `now`.
const HISTORY_SECS: u64 = 730 * DAY;
/// The newest fifth of the base users registered in the last 40 days, so
/// trials that expire soon (or just did) exist at any population size.
const RECENT_SECS: u64 = 40 * DAY;
const RECENT_SHARE_DIV: u64 = 5;

const SALT_DUPLICATE: u64 = 0xD1B5_4A32_D192_ED03;

/// Share of users the listing shows twice in a row, as the partner's document does.
pub(super) const DEFAULT_DUPLICATE_RATE: f64 = 0.005;
const SALT_BRANCH: u64 = 0x8CB9_2BA7_2F3D_8DD7;

/// splitmix64's finaliser: a cheap, well-mixed hash of one word.
pub(super) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Maps a hash to [0, 1).
pub(super) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A splitmix64 stream keyed by (seed, stream): draw k is fixed for a key.
pub(super) struct Draws(u64);

impl Draws {
    /// Starts the stream of one key.
    pub fn new(seed: u64, stream: u64) -> Self {
        Draws(mix(seed ^ mix(stream.wrapping_add(0x9E37_79B9_7F4A_7C15))))
    }
    /// The next raw draw.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        unit(self.next_u64()) < p
    }
    /// Uniform in `0..n` (modulo bias is irrelevant at these sizes).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Everything needed to render one user, small enough to copy.
#[derive(Clone, Copy, Debug)]
pub(super) struct User {
    pub index: u32,
    pub email_index: u32,
    pub grosir: bool,
    pub registered: NaiveDateTime,
    pub packet: u8,
    /// The packet named in `contract_notes`; differs from `packet` now and then.
    pub notes: u8,
    pub expiry: NaiveDateTime,
    pub active: bool,
    pub prefix: u8,
    pub word: u8,
    pub street: u8,
    pub house: u16,
    pub city: u8,
    pub cabangs: u8,
}

/// The generator of the base population.
pub(super) struct Population {
    seed: u64,
    users: u32,
    /// `now` as naive WIB, the zone the partner writes its timestamps in.
    now: NaiveDateTime,
    /// Share of users listed twice.
    duplicate_rate: f64,
    /// Users of known roles instead of generated ones.
    crafted: Option<super::crafted::CraftedPopulation>,
}

impl Population {
    /// A population of `users` base users as of `now` (naive WIB).
    pub fn new(seed: u64, users: u32, now: NaiveDateTime) -> Self {
        Population {
            seed,
            users,
            now,
            duplicate_rate: DEFAULT_DUPLICATE_RATE,
            crafted: None,
        }
    }

    /// The same population with the base users replaced by a crafted plan.
    pub fn with_crafted(self, plan: super::crafted::CraftedPopulation) -> Self {
        Population {
            users: plan.users(),
            crafted: Some(plan),
            ..self
        }
    }

    /// The same population with another share of users listed twice.
    pub fn with_duplicate_rate(self, duplicate_rate: f64) -> Self {
        Population {
            duplicate_rate,
            ..self
        }
    }

    /// Number of base users (indices below it); later indices are shops.
    pub fn users(&self) -> u32 {
        self.users
    }

    /// `now` as naive WIB.
    #[cfg(test)]
    pub fn now(&self) -> NaiveDateTime {
        self.now
    }

    /// Whether this base user's listing entry appears twice in a row.
    pub fn is_duplicated(&self, index: u32) -> bool {
        index < self.users
            && Draws::new(self.seed ^ SALT_DUPLICATE, index.into()).chance(self.duplicate_rate)
    }

    /// The user at `index`; `shop_registered` is set for shops registered at runtime.
    pub fn user(&self, index: u32, shop_registered: Option<NaiveDateTime>) -> User {
        if let (Some(plan), None, true) = (&self.crafted, shop_registered, index < self.users) {
            return plan.user(index, self.now);
        }
        let mut d = Draws::new(self.seed, index.into());
        let reuse_email = index > 0 && index < self.users && d.chance(0.01);
        let cabangs = match d.below(100) {
            0..=14 => 0,
            15..=69 => 1,
            70..=89 => 2,
            _ => 3,
        };
        let mut user = User {
            index,
            email_index: if reuse_email { index - 1 } else { index },
            grosir: d.chance(0.30),
            registered: self.now,
            packet: TRIAL,
            notes: TRIAL,
            expiry: self.now,
            active: true,
            prefix: d.below(NAME_PREFIXES.len()) as u8,
            word: d.below(NAME_WORDS.len()) as u8,
            street: d.below(STREETS.len()) as u8,
            house: 1 + d.below(200) as u16,
            city: d.below(CITIES.len()) as u8,
            cabangs,
        };
        match shop_registered {
            Some(registered) => self.fill_shop(&mut user, registered),
            None => self.fill_contract(&mut user, &mut d),
        }
        user
    }

    /// A branch's (street, house number); branch 1 is the shop's own address.
    pub fn branch_address(&self, user: &User, k: u8) -> (u8, u16) {
        if k <= 1 {
            return (user.street, user.house);
        }
        let mut d = Draws::new(
            self.seed ^ SALT_BRANCH,
            (u64::from(user.index) << 8) | u64::from(k),
        );
        (d.below(STREETS.len()) as u8, 1 + d.below(200) as u16)
    }

    /// A fresh registration: a 30-day trial with one branch, as the partner creates it.
    fn fill_shop(&self, user: &mut User, registered: NaiveDateTime) {
        user.registered = registered;
        user.expiry = registered + TimeDelta::days(TRIAL_DAYS);
        user.cabangs = 1;
    }

    fn fill_contract(&self, user: &mut User, d: &mut Draws) {
        let (registered, recent) = self.registered(user.index, d.next_u64());
        user.registered = registered;
        user.packet = pick_packet(d, recent);
        user.expiry = match PACKETS[usize::from(user.packet)].months {
            0 => registered + TimeDelta::days(TRIAL_DAYS),
            months => paid_expiry(registered, months, self.now, d),
        };
        let expired = user.expiry <= self.now;
        // Mostly ACTIVE, and many lapsed users are still ACTIVE: a reconciler finding.
        user.active = !d.chance(if expired { 0.18 } else { 0.02 });
        user.notes = if d.chance(0.02) {
            (user.packet + 1) % PACKETS.len() as u8
        } else {
            user.packet
        };
    }

    /// Registration time of a base user and whether it is in the recent cohort;
    /// non-decreasing in `index` so the newest-first listing is consistent.
    fn registered(&self, index: u32, jitter: u64) -> (NaiveDateTime, bool) {
        let n = u64::from(self.users);
        let recent_len = n.div_ceil(RECENT_SHARE_DIV);
        let old_len = n - recent_len;
        let i = u64::from(index);
        let (start, span, k, len, recent) = if i < old_len {
            (HISTORY_SECS, HISTORY_SECS - RECENT_SECS, i, old_len, false)
        } else {
            (
                RECENT_SECS,
                RECENT_SECS,
                i - old_len,
                recent_len.max(1),
                true,
            )
        };
        let step = (span / len).max(1);
        let offset = (span * k / len + jitter % step).min(span - 1);
        (
            self.now - TimeDelta::seconds((start - offset) as i64),
            recent,
        )
    }
}

/// ~40% trials overall: most recent sign-ups are trials, fewer older ones.
fn pick_packet(d: &mut Draws, recent: bool) -> u8 {
    if d.chance(if recent { 0.90 } else { 0.28 }) {
        return TRIAL;
    }
    match d.below(100) {
        0..=34 => 1,
        35..=64 => 2,
        65..=84 => 3,
        _ => 4,
    }
}

/// Expiry after whole renewals: ~60% renewed past `now`, the rest lapsed.
fn paid_expiry(
    registered: NaiveDateTime,
    months: u32,
    now: NaiveDateTime,
    d: &mut Draws,
) -> NaiveDateTime {
    let after = |periods: u32| {
        registered
            .checked_add_months(Months::new(periods * months))
            .unwrap_or(NaiveDateTime::MAX)
    };
    let elapsed =
        (now.year() - registered.year()) * 12 + now.month() as i32 - registered.month() as i32;
    // Start one period early: day-of-month can make the naive estimate overshoot.
    let mut current = (elapsed.max(0) as u32 / months).saturating_sub(1).max(1);
    while after(current) <= now {
        current += 1;
    }
    let renewed = d.chance(0.6);
    if renewed || current == 1 {
        after(current)
    } else {
        after(1 + d.below(current as usize - 1) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn population(users: u32) -> Population {
        let now = NaiveDate::from_ymd_opt(2026, 10, 1)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        Population::new(7, users, now)
    }

    #[test]
    fn later_indices_registered_later_and_never_after_now() {
        let pop = population(5000);
        let dates: Vec<_> = (0..5000).map(|i| pop.user(i, None).registered).collect();
        assert!(dates.windows(2).all(|w| w[0] <= w[1]));
        assert!(dates.iter().all(|d| *d < pop.now()));
        assert!(dates[0] >= pop.now() - TimeDelta::days(731));
    }

    #[test]
    fn trials_expire_within_a_week_and_some_already_expired_at_200_users() {
        let pop = population(200);
        let now = pop.now();
        let trials: Vec<_> = (0..200)
            .map(|i| pop.user(i, None))
            .filter(|u| u.packet == TRIAL)
            .collect();
        let soon = trials
            .iter()
            .filter(|u| u.expiry > now && u.expiry <= now + TimeDelta::days(7))
            .count();
        let expired = trials.iter().filter(|u| u.expiry <= now).count();
        assert!(soon >= 3, "only {soon} trials expire within 7 days");
        assert!(expired >= 3, "only {expired} trials already expired");
    }

    #[test]
    fn the_mix_of_packets_statuses_and_notes_is_roughly_as_specified() {
        let pop = population(20_000);
        let users: Vec<_> = (0..20_000).map(|i| pop.user(i, None)).collect();
        let share =
            |f: &dyn Fn(&User) -> bool| users.iter().filter(|u| f(u)).count() as f64 / 20_000.0;
        assert!((0.35..0.45).contains(&share(&|u| u.packet == TRIAL)));
        assert!((0.25..0.35).contains(&share(&|u| u.grosir)));
        assert!((0.07..0.14).contains(&share(&|u| !u.active)));
        assert!((0.01..0.03).contains(&share(&|u| u.notes != u.packet)));
        assert!(share(&|u| u.active && u.expiry <= pop.now()) > 0.05);
        let paid: Vec<_> = users.iter().filter(|u| u.packet != TRIAL).collect();
        let current =
            paid.iter().filter(|u| u.expiry > pop.now()).count() as f64 / paid.len() as f64;
        assert!((0.5..0.75).contains(&current), "{current}");
    }
}
