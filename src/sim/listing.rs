//! The mutable side of the simulator: the listing order (4 bytes an entry, so
//! a million users cost 4 MB), shops registered at runtime, and the few
//! per-user overrides that tests apply. Everything else is regenerated.

use std::collections::{HashMap, HashSet, VecDeque};

use chrono::NaiveDateTime;

use super::population::{Population, User, FIRST_REGISTRATION};

/// A change to one user (by a test, a registration or an activation),
/// applied when the user is rendered.
#[derive(Clone, Debug, Default)]
pub(super) struct Override {
    pub expiry: Option<NaiveDateTime>,
    /// Bit k set: branch k is gone.
    pub removed_cabangs: u8,
    /// What a registration through the API said about the shop.
    pub profile: Option<Box<ShopProfile>>,
    /// The packet an activation put the user on (an index into `PACKETS`).
    pub packet: Option<u8>,
}

/// The shop as its registration described it, shown instead of generated values.
#[derive(Clone, Debug)]
pub(super) struct ShopProfile {
    pub email: String,
    pub toko_name: String,
    pub toko_address: String,
}

/// The listing and every deviation from the generated population.
pub(super) struct Catalogue {
    /// User indices, newest first; a duplicated entry occurs twice in a row.
    order: VecDeque<u32>,
    /// Registration time of shop `k`, whose index is `base_users + k`.
    shops: Vec<NaiveDateTime>,
    overrides: HashMap<u32, Override>,
    removed: HashSet<u32>,
    base_users: u32,
}

impl Catalogue {
    /// The initial listing of a population: newest first, with its duplicates.
    pub fn new(population: &Population) -> Self {
        let users = population.users();
        let mut order = VecDeque::with_capacity(users as usize + users as usize / 100 + 16);
        for index in (0..users).rev() {
            order.push_back(index);
            if population.is_duplicated(index) {
                order.push_back(index);
            }
        }
        Catalogue {
            order,
            shops: Vec::new(),
            overrides: HashMap::new(),
            removed: HashSet::new(),
            base_users: users,
        }
    }

    /// Entries in the listing, duplicates included.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// The listing in order.
    pub fn order(&self) -> &VecDeque<u32> {
        &self.order
    }

    /// Up to `count` entries starting at `offset`; empty past the end.
    pub fn window(&self, offset: usize, count: usize) -> impl Iterator<Item = u32> + '_ {
        let start = offset.min(self.order.len());
        let end = offset.saturating_add(count).min(self.order.len());
        self.order.range(start..end).copied()
    }

    /// Registers a shop at the head of the listing and returns its index.
    pub fn register_shop(&mut self, registered: NaiveDateTime) -> u32 {
        let index = self.base_users + self.shops.len() as u32;
        self.shops.push(registered);
        self.order.push_front(index);
        index
    }

    /// A new shop at the tail, as a partner listing oldest first would place it.
    pub fn append_shop(&mut self, registered: NaiveDateTime) -> u32 {
        let index = self.base_users + self.shops.len() as u32;
        self.shops.push(registered);
        self.order.push_back(index);
        index
    }

    /// Whether the index names a user that exists and was not removed.
    pub fn is_known(&self, index: u32) -> bool {
        let total = u64::from(self.base_users) + self.shops.len() as u64;
        u64::from(index) < total && !self.removed.contains(&index)
    }

    /// The index behind a `registration_id`, if that user exists.
    pub fn lookup(&self, registration_id: &str) -> Option<u32> {
        let digits = registration_id.strip_prefix("ELK")?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let number: u64 = digits.parse().ok()?;
        let index = u32::try_from(number.checked_sub(FIRST_REGISTRATION)?).ok()?;
        self.is_known(index).then_some(index)
    }

    /// The user at `index` as generated (overrides are applied at render).
    pub fn user(&self, population: &Population, index: u32) -> User {
        let shop = index
            .checked_sub(self.base_users)
            .and_then(|k| self.shops.get(k as usize).copied());
        population.user(index, shop)
    }

    /// The override of one user, if any.
    pub fn override_of(&self, index: u32) -> Option<&Override> {
        self.overrides.get(&index)
    }

    /// The override of one user, created empty on first use.
    pub fn override_mut(&mut self, index: u32) -> &mut Override {
        self.overrides.entry(index).or_default()
    }

    /// Drops every listing entry of the user and hides its detail.
    pub fn remove(&mut self, index: u32) {
        self.order.retain(|&entry| entry != index);
        self.overrides.remove(&index);
        self.removed.insert(index);
    }
}
