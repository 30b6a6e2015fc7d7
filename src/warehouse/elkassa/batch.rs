//! Shaping one batch of pages before it is written: each account once, its
//! digest, and the split between accounts listed unchanged (only noted, and
//! refreshed at the end of the run) and those merged in full.

use super::digest::account_digest;
use super::known::{KnownDigests, Listed};
use super::rows::{BatchStats, BranchRow, LandedPage};
use super::seen::SeenAccount;
use super::stage::StagedAccount;
use std::collections::{HashMap, HashSet};

/// Each account once per batch (the listing repeats some), the latest page winning.
pub(super) fn latest_per_account(pages: &[LandedPage]) -> Vec<StagedAccount<'_>> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut out: Vec<StagedAccount<'_>> = Vec::new();
    for page in pages {
        let key = page.request_key();
        for account in &page.accounts {
            let entry = StagedAccount {
                request_key: key.clone(),
                row: account,
                digest: account_digest(account),
            };
            match index.get(account.external_id.as_str()) {
                Some(&at) => out[at] = entry,
                None => {
                    index.insert(&account.external_id, out.len());
                    out.push(entry);
                }
            }
        }
    }
    out
}

/// Each branch of `accounts` once.
pub(super) fn branches_of<'s, 'a: 's>(
    accounts: impl IntoIterator<Item = &'s StagedAccount<'a>>,
) -> Vec<(&'a str, &'a BranchRow)> {
    let mut seen = HashSet::new();
    accounts
        .into_iter()
        .flat_map(|account| {
            let registration_id = account.row.external_id.as_str();
            account
                .row
                .branches
                .iter()
                .map(move |branch| (registration_id, branch))
        })
        .filter(|(registration_id, branch)| {
            seen.insert((*registration_id, branch.cabang_id.as_str()))
        })
        .collect()
}

/// A batch's accounts by how they compare with the warehouse.
pub(super) struct Split<'a> {
    /// New or changed: merged in full.
    pub changed: Vec<StagedAccount<'a>>,
    /// Listed exactly as stored: noted for the end-of-run refresh.
    pub unchanged: Vec<StagedAccount<'a>>,
}

/// Splits `accounts` by their digests against the run's known digests.
pub(super) fn split_unchanged<'a>(
    accounts: Vec<StagedAccount<'a>>,
    known: &KnownDigests,
) -> Split<'a> {
    if known.is_empty() {
        return Split {
            changed: accounts,
            unchanged: Vec::new(),
        };
    }
    let mut split = Split {
        changed: Vec::new(),
        unchanged: Vec::new(),
    };
    for account in accounts {
        match known.classify(account.row, account.digest) {
            Listed::Unchanged => split.unchanged.push(account),
            Listed::AlreadyNoted => {}
            Listed::Changed => split.changed.push(account),
        }
    }
    split
}

/// What a batch lands, before it is written (times and history come later).
pub(super) fn batch_stats(
    pages: &[LandedPage],
    listed: u64,
    unchanged: &[StagedAccount<'_>],
    written_branches: usize,
) -> BatchStats {
    let unchanged_branches: usize = unchanged
        .iter()
        .map(|account| account.row.branches.len())
        .sum();
    BatchStats {
        accounts: listed,
        branches: (written_branches + unchanged_branches) as u64,
        unchanged_branches: unchanged_branches as u64,
        raw_bytes: pages.iter().map(|page| page.raw.size as u64).sum(),
        stored_bytes: pages.iter().map(|page| page.raw.stored.len() as u64).sum(),
        ..BatchStats::default()
    }
}

/// The `seen_accounts` rows of a batch's unchanged accounts.
pub(super) fn seen_rows<'a>(
    unchanged: &'a [StagedAccount<'a>],
    raw_ids: &HashMap<String, i64>,
) -> Vec<SeenAccount<'a>> {
    unchanged
        .iter()
        .map(|account| SeenAccount {
            external_id: account.row.external_id.as_str(),
            digest: account.digest,
            raw_id: raw_ids.get(account.request_key.as_str()).copied(),
        })
        .collect()
}
