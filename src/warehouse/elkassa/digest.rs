//! A stable 64-bit digest of what ELKASSA listed for one account (account,
//! contract and branches), stored as `provider_accounts.source_digest`.
//!
//! A nightly listing repeats almost every account unchanged; comparing
//! digests lets the loader refresh `last_seen_*` on those instead of
//! re-merging every row. XXH3 is specified and stable across releases, so
//! digests written by one build are comparable in the next.

use super::rows::AccountRow;
use chrono::{DateTime, Utc};
use xxhash_rust::xxh3::xxh3_64;

/// Bumped whenever the encoding below changes, so every stored digest
/// mismatches once and the next sync rewrites each account in full.
const ENCODING_VERSION: u8 = 1;

/// Digest of every listed value of `account`, its id included.
pub fn account_digest(account: &AccountRow) -> i64 {
    let mut bytes = Vec::with_capacity(256);
    bytes.push(ENCODING_VERSION);
    push_text(&mut bytes, Some(&account.external_id));
    for field in [
        &account.email,
        &account.shop_name,
        &account.address,
        &account.user_type,
        &account.user_type_desc,
        &account.status,
        &account.contract_id,
        &account.packet_id,
        &account.contract_notes,
    ] {
        push_text(&mut bytes, field.as_deref());
    }
    push_instant(&mut bytes, account.registered_at);
    push_instant(&mut bytes, account.expires_at);
    bytes.push(u8::from(account.is_trial));
    bytes.extend_from_slice(&(account.branches.len() as u32).to_le_bytes());
    for branch in &account.branches {
        push_text(&mut bytes, Some(&branch.cabang_id));
        push_text(&mut bytes, branch.name.as_deref());
        push_text(&mut bytes, branch.address.as_deref());
    }
    xxh3_64(&bytes) as i64
}

/// Length-prefixed, so `("ab", "c")` and `("a", "bc")` differ, and absent
/// differs from empty.
fn push_text(bytes: &mut Vec<u8>, text: Option<&str>) {
    match text {
        None => bytes.push(0),
        Some(text) => {
            bytes.push(1);
            bytes.extend_from_slice(&(text.len() as u32).to_le_bytes());
            bytes.extend_from_slice(text.as_bytes());
        }
    }
}

fn push_instant(bytes: &mut Vec<u8>, instant: Option<DateTime<Utc>>) {
    match instant {
        None => bytes.push(0),
        Some(instant) => {
            bytes.push(1);
            bytes.extend_from_slice(&instant.timestamp_micros().to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::BranchRow;

    fn account() -> AccountRow {
        AccountRow {
            external_id: "ELK1".into(),
            email: Some("a@b.id".into()),
            shop_name: Some("Toko".into()),
            expires_at: DateTime::from_timestamp(1_700_000_000, 0),
            branches: vec![BranchRow {
                cabang_id: "1".into(),
                name: Some("Pusat".into()),
                address: None,
            }],
            ..AccountRow::default()
        }
    }

    #[test]
    fn the_same_listing_gives_the_same_digest_and_is_pinned_across_builds() {
        assert_eq!(account_digest(&account()), account_digest(&account()));
        // Stored digests must stay comparable between releases: a change
        // here needs ENCODING_VERSION bumped (one full rewrite, announced).
        assert_eq!(account_digest(&account()), 7_203_491_652_743_796_453);
    }

    #[test]
    fn any_listed_value_changes_the_digest() {
        let base = account_digest(&account());
        let mut expiry = account();
        expiry.expires_at = DateTime::from_timestamp(1_700_000_001, 0);
        let mut branch = account();
        branch.branches[0].address = Some(String::new());
        let mut moved = account();
        moved.email = None;
        moved.shop_name = Some("a@b.idToko".into());
        let mut trial = account();
        trial.is_trial = true;
        for changed in [expiry, branch, moved, trial] {
            assert_ne!(account_digest(&changed), base, "{changed:?}");
        }
    }
}
