//! A first load: a run that starts on a Postgres warehouse holding no
//! ELKASSA rows at all. Every account it lists is new, so instead of staging
//! and merging each batch (upserts, a join to find each customer, history
//! compared row by row) it `COPY`s the rows straight into `customers`,
//! `provider_accounts`, `contracts`, `contract_history` and `branch_records`.
//!
//! What makes a straight `COPY` safe is knowing, before the batch starts,
//! that no other batch of the run writes the same keys:
//! - each account is claimed by the first batch that lists it; a later
//!   listing of it (drift re-reads, the repeated `registration_id`) goes
//!   down the ordinary merge, which updates the row in place;
//! - customers are looked up by normalized email in memory (the warehouse's
//!   customers are read once at the start), and a batch that creates one
//!   takes its id from the identity sequence; an account whose email another
//!   batch is still creating is merged instead, so it never names an
//!   uncommitted customer.
//!
//! Anything else that writes the same keys meanwhile (a second process) makes
//! the `COPY` fail on a unique or foreign key: the loader then writes that
//! batch again through the merge, so the worst case is the old speed.

use super::known::id_hash;
use super::rows::AccountRow;
use super::stage::StagedAccount;
use crate::warehouse::{op, WarehouseError};
use sqlx::PgConnection;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use xxhash_rust::xxh3::xxh3_128;

/// What the run's batches have claimed so far, shared by its loaders.
#[derive(Debug)]
pub struct FirstLoad {
    claims: Mutex<Claims>,
    /// Whether a loader has analysed the loaded tables (once per run).
    pub analyzed: AtomicBool,
}

#[derive(Debug, Default)]
struct Claims {
    /// [`id_hash`] of every account a batch of this run took up. A hash
    /// collision only sends an account down the merge, which is always safe.
    accounts: HashSet<u64, Prehashed>,
    /// Committed customers by [`email_key`]: 128 bits, so two emails
    /// sharing a key (about 1 in 10^26 at a million) is not a practical risk.
    customers: HashMap<EmailKey, i64, Prehashed>,
    /// Emails whose customer an uncommitted batch is creating.
    creating: HashSet<EmailKey, Prehashed>,
}

/// 128 bits of xxh3 as two words: 24-byte map entries with the id, where
/// a `u128` key would align them to 32 (16 MiB more at a million emails).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct EmailKey(u64, u64);

/// The keys are already uniform hashes: the map uses their first word as
/// is instead of hashing them again.
type Prehashed = BuildHasherDefault<FirstWord>;

/// A [`Hasher`] that keeps the first `u64` it is given.
#[derive(Debug, Default)]
struct FirstWord(Option<u64>);

impl Hasher for FirstWord {
    fn finish(&self) -> u64 {
        self.0.unwrap_or_default()
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached for the keys here (they write whole words); kept correct anyway.
        for byte in bytes {
            let word = self.0.unwrap_or_default();
            self.0 = Some(word.rotate_left(8) ^ u64::from(*byte));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0.get_or_insert(word);
    }
}

/// The customer a bulk-written account names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerRef {
    /// No email: no customer (`match_rule` `new`).
    None,
    /// An existing customer.
    Known(i64),
    /// The batch's `n`th new customer.
    New(usize),
}

/// A customer a batch creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCustomer<'a> {
    /// Normalized email.
    pub email: &'a str,
    /// The least shop name listed with it in the batch (as the merge picks).
    pub shop_name: Option<&'a str>,
    key: EmailKey,
}

impl<'a> NewCustomer<'a> {
    /// Keeps the lesser of its shop name and `row`'s (byte order: the
    /// merge's `MIN` under a C or C.UTF-8 collation).
    fn take_least_shop(&mut self, row: &'a AccountRow) {
        self.shop_name = match (self.shop_name, row.shop_name.as_deref()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// How one batch of a first load is written.
#[derive(Debug, Default)]
pub struct Plan<'a> {
    /// Accounts first listed in this batch, with their customer: copied.
    pub copied: Vec<(StagedAccount<'a>, CustomerRef)>,
    /// Accounts an earlier batch took up, or whose customer another batch
    /// is creating: merged.
    pub merged: Vec<StagedAccount<'a>>,
    /// Customers the batch creates.
    pub customers: Vec<NewCustomer<'a>>,
}

/// The in-memory key of a normalized email.
fn email_key(email: &str) -> EmailKey {
    let key = xxh3_128(email.as_bytes());
    EmailKey(key as u64, (key >> 64) as u64)
}

impl FirstLoad {
    /// Reads the customers the warehouse already has (other partners',
    /// onboarding's) by email.
    pub async fn start(conn: &mut PgConnection) -> Result<Self, WarehouseError> {
        use futures::TryStreamExt;
        let mut customers = HashMap::default();
        let mut rows = sqlx::query_as::<_, (i64, String)>(
            "SELECT customer_id, email FROM customers WHERE email IS NOT NULL",
        )
        .fetch(&mut *conn);
        while let Some((id, email)) = rows.try_next().await.map_err(op("read customers"))? {
            customers.insert(email_key(&email), id);
        }
        Ok(Self {
            claims: Mutex::new(Claims {
                customers,
                ..Claims::default()
            }),
            analyzed: AtomicBool::new(false),
        })
    }

    /// Splits a batch (each account once) into copied and merged accounts
    /// and the customers it creates, claiming its new accounts and emails.
    pub fn plan<'a>(&self, accounts: Vec<StagedAccount<'a>>) -> Plan<'a> {
        let mut claims = self.claims.lock().unwrap_or_else(|e| e.into_inner());
        let mut plan = Plan::default();
        let mut mine: HashMap<EmailKey, usize> = HashMap::new();
        for account in accounts {
            let row: &'a AccountRow = account.row;
            if !claims.accounts.insert(id_hash(&row.external_id)) {
                plan.merged.push(account);
                continue;
            }
            let customer = match row.email_norm.as_deref() {
                None => CustomerRef::None,
                Some(email) => {
                    let key = email_key(email);
                    if let Some(&id) = claims.customers.get(&key) {
                        CustomerRef::Known(id)
                    } else if let Some(&at) = mine.get(&key) {
                        plan.customers[at].take_least_shop(row);
                        CustomerRef::New(at)
                    } else if claims.creating.insert(key) {
                        mine.insert(key, plan.customers.len());
                        plan.customers.push(NewCustomer {
                            email,
                            shop_name: row.shop_name.as_deref(),
                            key,
                        });
                        CustomerRef::New(plan.customers.len() - 1)
                    } else {
                        plan.merged.push(account);
                        continue;
                    }
                }
            };
            plan.copied.push((account, customer));
        }
        // The merge names a new customer after the least shop name listed
        // with its email in the batch, merged accounts included.
        for account in &plan.merged {
            let key = account.row.email_norm.as_deref().map(email_key);
            if let Some(&at) = key.and_then(|key| mine.get(&key)) {
                plan.customers[at].take_least_shop(account.row);
            }
        }
        plan
    }

    /// After the batch: its customers become known (committed, with their
    /// `ids`) or are released (rolled back); customers its merge created
    /// (`learned`, email and id) become known too.
    pub fn settle(&self, plan: &Plan<'_>, ids: Option<&[i64]>, learned: &[(i64, String)]) {
        let mut claims = self.claims.lock().unwrap_or_else(|e| e.into_inner());
        for (at, customer) in plan.customers.iter().enumerate() {
            claims.creating.remove(&customer.key);
            if let Some(ids) = ids {
                claims.customers.insert(customer.key, ids[at]);
            }
        }
        for (id, email) in learned {
            claims.customers.insert(email_key(email), *id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Default for FirstLoad {
        fn default() -> Self {
            Self {
                claims: Mutex::default(),
                analyzed: AtomicBool::new(false),
            }
        }
    }

    fn row(id: &str, email: Option<&str>, shop: &str) -> AccountRow {
        AccountRow {
            external_id: id.into(),
            email_norm: email.map(str::to_owned),
            shop_name: Some(shop.into()),
            ..AccountRow::default()
        }
    }

    fn staged(row: &AccountRow) -> StagedAccount<'_> {
        StagedAccount {
            request_key: "p0:1".into(),
            row,
            digest: 0,
        }
    }

    fn refs<'a>(plan: &Plan<'a>) -> Vec<(&'a str, CustomerRef)> {
        let copied = plan.copied.iter();
        copied
            .map(|(a, c)| (a.row.external_id.as_str(), *c))
            .collect()
    }

    #[test]
    fn prehashed_keys_spread_by_their_first_word() {
        use std::hash::BuildHasher;
        let hash = |key: EmailKey| Prehashed::default().hash_one(key);
        assert_eq!(hash(email_key("a@x.id")), email_key("a@x.id").0);
        assert_ne!(hash(email_key("a@x.id")), hash(email_key("b@x.id")));
        assert_eq!(Prehashed::default().hash_one(7u64), 7);
    }

    #[test]
    fn a_batch_creates_each_new_email_once_with_the_least_shop_name() {
        let load = FirstLoad::default();
        let rows = [
            row("E1", Some("a@x.id"), "Toko B"),
            row("E2", Some("a@x.id"), "Toko A"),
            row("E3", None, "Toko C"),
        ];
        let plan = load.plan(rows.iter().map(staged).collect());
        assert_eq!(
            refs(&plan),
            [
                ("E1", CustomerRef::New(0)),
                ("E2", CustomerRef::New(0)),
                ("E3", CustomerRef::None)
            ]
        );
        assert_eq!(plan.customers.len(), 1);
        assert_eq!(plan.customers[0].shop_name, Some("Toko A"));
        assert!(plan.merged.is_empty());
    }

    #[test]
    fn a_new_customer_takes_the_least_shop_name_of_its_batch_merged_accounts_included() {
        let load = FirstLoad::default();
        let first = [row("E1", Some("a@x.id"), "Toko A")];
        let done = load.plan(first.iter().map(staged).collect());
        load.settle(&done, Some(&[1]), &[]);
        let batch = [
            row("E1", Some("b@x.id"), "Toko A"),
            row("E2", Some("b@x.id"), "Toko B"),
        ];
        let plan = load.plan(batch.iter().map(staged).collect());
        assert_eq!(refs(&plan), [("E2", CustomerRef::New(0))]);
        assert_eq!(plan.customers[0].shop_name, Some("Toko A"));
    }

    #[test]
    fn an_account_listed_again_or_whose_customer_is_being_created_is_merged() {
        let load = FirstLoad::default();
        let first = [row("E1", Some("a@x.id"), "A")];
        let pending = load.plan(first.iter().map(staged).collect());
        let second = [
            row("E1", Some("a@x.id"), "A"),
            row("E2", Some("a@x.id"), "A"),
        ];
        let plan = load.plan(second.iter().map(staged).collect());
        assert!(plan.copied.is_empty());
        let merged: Vec<&str> = plan
            .merged
            .iter()
            .map(|a| a.row.external_id.as_str())
            .collect();
        assert_eq!(merged, ["E1", "E2"]);
        // Once the first batch commits, its customer is named directly.
        load.settle(&pending, Some(&[41]), &[]);
        let third = [row("E3", Some("a@x.id"), "A")];
        let plan = load.plan(third.iter().map(staged).collect());
        assert_eq!(refs(&plan), [("E3", CustomerRef::Known(41))]);
    }

    #[test]
    fn a_rolled_back_batch_releases_its_emails_and_merge_created_customers_are_learned() {
        let load = FirstLoad::default();
        let first = [row("E1", Some("a@x.id"), "A")];
        let failed = load.plan(first.iter().map(staged).collect());
        load.settle(&failed, None, &[(7, "b@x.id".into())]);
        let next = [
            row("E2", Some("a@x.id"), "A"),
            row("E3", Some("b@x.id"), "B"),
        ];
        let plan = load.plan(next.iter().map(staged).collect());
        assert_eq!(
            refs(&plan),
            [("E2", CustomerRef::New(0)), ("E3", CustomerRef::Known(7))]
        );
    }
}
