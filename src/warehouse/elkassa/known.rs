//! The digests of the active ELKASSA accounts as a run starts, so each
//! listed account is classified unchanged or changed in memory, without a
//! database round trip per account.
//!
//! Held as (id hash, digest): 16 bytes an account, 16 MiB at a million. A hash collision between two ids can only send an account down
//! the full merge (its digest will not match); the refresh at the end of the
//! run checks each digest against the stored one again in SQL.

#[cfg(test)]
use super::digest::account_digest;
use super::rows::AccountRow;
use crate::warehouse::{dual, op, Warehouse, WarehouseError};
use std::sync::atomic::{AtomicU8, Ordering};
use xxhash_rust::xxh3::xxh3_64;

/// Stored digests of the accounts active when the run started.
#[derive(Debug, Default)]
pub struct KnownDigests {
    /// (hash of external_id, stored digest), sorted.
    entries: Vec<(u64, i64)>,
    /// Where the entries whose hash starts with each `shift`-bit prefix
    /// begin: hashes are uniform, so a lookup lands within an entry or two
    /// of its target instead of binary-searching a million (two cache
    /// misses instead of twenty).
    starts: Vec<u32>,
    shift: u32,
    /// Per entry, what this run did with the account: [`UNTOUCHED`],
    /// [`NOTED`] (listed as stored, once: a repeat is not noted again, so
    /// the writers' end-of-run refreshes never wait on each other's rows)
    /// or [`MERGED`] (merged in full: every later listing is merged too, so
    /// the last listing wins even if it goes back to the stored values).
    state: Vec<AtomicU8>,
}

const UNTOUCHED: u8 = 0;
const NOTED: u8 = 1;
const MERGED: u8 = 2;

/// How a listed account compares with the warehouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed {
    /// Listed exactly as stored: only the account's `last_seen_*` needs
    /// refreshing (its branches read theirs from it).
    Unchanged,
    /// Listed as stored again: already noted by an earlier batch of this run.
    AlreadyNoted,
    /// New, changed, or already merged this run: merge in full.
    Changed,
}

impl KnownDigests {
    /// Builds the set from (external_id, source_digest) rows.
    #[cfg(test)]
    pub fn from_rows(rows: impl IntoIterator<Item = (String, i64)>) -> Self {
        Self::from_hashed(
            rows.into_iter()
                .map(|(id, digest)| (id_hash(&id), digest))
                .collect(),
        )
    }

    /// Builds the set from ([`id_hash`] of external_id, source_digest).
    pub fn from_hashed(mut entries: Vec<(u64, i64)>) -> Self {
        entries.sort_unstable();
        entries.shrink_to_fit();
        let state = entries.iter().map(|_| AtomicU8::new(UNTOUCHED)).collect();
        // About one entry per prefix.
        let bits = (entries.len().max(1).ilog2() + 1).min(24);
        let shift = 64 - bits;
        // starts[p] = entries with a prefix below p = where prefix p begins.
        let mut starts = vec![0u32; (1 << bits) + 1];
        for (key, _) in &entries {
            starts[(key >> shift) as usize + 1] += 1;
        }
        for prefix in 1..starts.len() {
            starts[prefix] += starts[prefix - 1];
        }
        Self {
            entries,
            starts,
            shift,
            state,
        }
    }

    /// Accounts known.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no account is known (a first load).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Classifies `account` (whose digest is `digest`), remembering for the
    /// rest of the run that it was noted or merged in full.
    pub fn classify(&self, account: &AccountRow, digest: i64) -> Listed {
        let Some(at) = self.position(&account.external_id) else {
            return Listed::Changed;
        };
        let (_, stored) = self.entries[at];
        let state = &self.state[at];
        if stored != digest {
            state.store(MERGED, Ordering::Relaxed);
            return Listed::Changed;
        }
        match state.compare_exchange(UNTOUCHED, NOTED, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => Listed::Unchanged,
            Err(NOTED) => Listed::AlreadyNoted,
            Err(_) => Listed::Changed,
        }
    }

    /// Forgets that `external_id` was noted: its batch did not commit, and
    /// the batch written again must note it again.
    pub fn unnote(&self, external_id: &str) {
        if let Some(at) = self.position(external_id) {
            let _ = self.state[at].compare_exchange(
                NOTED,
                UNTOUCHED,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    fn position(&self, external_id: &str) -> Option<usize> {
        let hash = id_hash(external_id);
        let prefix = (hash >> self.shift) as usize;
        let (from, to) = (
            self.starts[prefix] as usize,
            self.starts[prefix + 1] as usize,
        );
        let at = from + self.entries[from..to].partition_point(|(key, _)| *key < hash);
        (at < to && self.entries[at].0 == hash).then_some(at)
    }

    /// Classifies with the account's own digest.
    #[cfg(test)]
    pub fn classify_row(&self, account: &AccountRow) -> Listed {
        self.classify(account, account_digest(account))
    }
}

/// The 64-bit key an account id is held under.
pub fn id_hash(external_id: &str) -> u64 {
    xxh3_64(external_id.as_bytes())
}

impl Warehouse {
    /// The stored digests of the active ELKASSA accounts, streamed in.
    pub(super) async fn known_elkassa_digests(&self) -> Result<KnownDigests, WarehouseError> {
        use futures::TryStreamExt;
        const SQL: &str = "SELECT external_id, source_digest FROM provider_accounts \
            WHERE provider = 'elkassa' AND removed_at IS NULL AND source_digest IS NOT NULL";
        let mut entries = Vec::new();
        dual!(self, Warehouse, pool => {
            let mut rows = sqlx::query_as::<_, (String, i64)>(SQL).fetch(pool);
            while let Some((id, digest)) = rows.try_next().await.map_err(op("read stored digests"))? {
                entries.push((id_hash(&id), digest));
            }
        });
        Ok(KnownDigests::from_hashed(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: &str, shop: &str) -> AccountRow {
        AccountRow {
            external_id: id.into(),
            shop_name: Some(shop.into()),
            ..AccountRow::default()
        }
    }

    fn known(rows: &[AccountRow]) -> KnownDigests {
        KnownDigests::from_rows(
            rows.iter()
                .map(|row| (row.external_id.clone(), account_digest(row))),
        )
    }

    #[test]
    fn an_account_listed_as_stored_is_unchanged_and_a_new_or_edited_one_is_not() {
        let known = known(&[account("A", "Toko"), account("B", "Warung")]);
        assert_eq!(known.len(), 2);
        assert_eq!(known.classify_row(&account("A", "Toko")), Listed::Unchanged);
        assert_eq!(
            known.classify_row(&account("B", "Warung Baru")),
            Listed::Changed
        );
        assert_eq!(known.classify_row(&account("C", "Toko")), Listed::Changed);
    }

    #[test]
    fn an_account_listed_as_stored_twice_is_noted_once_and_again_after_its_batch_failed() {
        let known = known(&[account("A", "Toko")]);
        let unchanged = Listed::Unchanged;
        assert_eq!(known.classify_row(&account("A", "Toko")), unchanged);
        assert_eq!(
            known.classify_row(&account("A", "Toko")),
            Listed::AlreadyNoted
        );
        known.unnote("A");
        assert_eq!(known.classify_row(&account("A", "Toko")), unchanged);
    }

    #[test]
    fn every_one_of_many_known_accounts_is_found_and_no_stranger_is() {
        let rows: Vec<AccountRow> = (0..5_000)
            .map(|n| account(&format!("ELK{n}"), "Toko"))
            .collect();
        let known = known(&rows);
        for row in &rows {
            assert!(matches!(known.classify_row(row), Listed::Unchanged));
        }
        for n in 5_000..6_000 {
            let stranger = account(&format!("ELK{n}"), "Toko");
            assert_eq!(known.classify_row(&stranger), Listed::Changed);
        }
    }

    #[test]
    fn once_merged_in_full_an_account_stays_changed_for_the_run_even_if_listed_as_stored_again() {
        let known = known(&[account("A", "Toko")]);
        assert_eq!(
            known.classify_row(&account("A", "Toko Baru")),
            Listed::Changed
        );
        assert_eq!(
            known.classify_row(&account("A", "Toko")),
            Listed::Changed,
            "a later listing back at the stored values must still be written"
        );
    }
}
