//! Matching accounts to customers, deterministically: the national-ID hash
//! first, then the email, then the phone; the rule that matched is kept
//! (`provider_accounts.match_rule`) so an analyst can see why two accounts
//! are one customer.

use super::{Frames, ReconcileError};
use polars::prelude::*;
use std::borrow::Cow;
use std::hash::Hash;

/// No customer holds this account's key (a customer id is never negative).
const NONE: i64 = i64::MIN;

/// The accounts frame plus `customer` (the matched customer) and `rule`
/// (`identity`, `email`, `phone`, or `new` when nothing matched and the
/// account keeps the customer it was written with).
///
/// Lookups go through hash maps over the customers' keys rather than three
/// joins: a join would copy every account column three times, the largest
/// transient of a reconcile; this adds two columns and copies nothing. The
/// rules' lookups are independent: the email's (the slowest) runs on a
/// thread of its own beside the other two, and the first rule that found a
/// customer wins afterwards.
pub fn match_accounts(frames: &Frames) -> Result<DataFrame, ReconcileError> {
    let (accounts, customers) = (&frames.accounts, &frames.customers);
    let ids = int(customers, "customer_id")?;
    let (identity_keys, identity_found) = (
        int(customers, "identity_hash")?,
        int(accounts, "identity_hash")?,
    );
    let (email_keys, email_found) = (text(customers, "email")?, text(accounts, "email_norm")?);
    let (phone_keys, phone_found) = (
        text(customers, "phone_e164")?,
        text(accounts, "phone_e164")?,
    );
    let (by_identity, by_email, by_phone) = std::thread::scope(|scope| {
        let by_email = scope.spawn(|| {
            let keys = email_keys.iter().map(|key| key.map(lower));
            look_up(
                keys,
                ids,
                email_found.iter().map(|key| key.map(Cow::Borrowed)),
            )
        });
        // The two cheaper lookups share this thread, one map at a time, so
        // no more than two maps are ever held: matching holds every frame.
        let by_identity = look_up(identity_keys.iter(), ids, identity_found.iter());
        let by_phone = look_up(phone_keys.iter(), ids, phone_found.iter());
        let by_email = by_email
            .join()
            .map_err(|_| ReconcileError::Task("the email matching thread panicked".into()))?;
        Ok::<_, ReconcileError>((by_identity, by_email, by_phone))
    })?;
    let written = int(accounts, "customer_id")?;
    let mut rules: Vec<&'static str> = Vec::with_capacity(accounts.height());
    let mut matched: Vec<Option<i64>> = Vec::with_capacity(accounts.height());
    for (row, written) in written.iter().enumerate() {
        let (rule, customer) = [
            ("identity", by_identity[row]),
            ("email", by_email[row]),
            ("phone", by_phone[row]),
        ]
        .into_iter()
        .find(|(_, customer)| *customer != NONE)
        // Nothing matched: the account keeps the customer it was written with.
        .map_or(("new", written), |(rule, customer)| (rule, Some(customer)));
        rules.push(rule);
        matched.push(customer);
    }
    drop((by_identity, by_email, by_phone));
    let mut out = accounts.clone();
    out.with_column(Column::new("rule".into(), rules))
        .and_then(|frame| frame.with_column(Column::new("customer".into(), matched)))
        .map_err(ReconcileError::frame)?;
    Ok(out)
}

/// Per account key, the lowest customer holding it, or [`NONE`].
fn look_up<K: Hash + Eq>(
    customer_keys: impl Iterator<Item = Option<K>>,
    ids: &Int64Chunked,
    account_keys: impl Iterator<Item = Option<K>>,
) -> Vec<i64> {
    let first = first_customer(customer_keys, ids);
    account_keys
        .map(|key| key.and_then(|key| first.get(&key).copied()).unwrap_or(NONE))
        .collect()
}

/// Per account row, its matched customer while the account is listed
/// (`removed_ms` unset), else None: the accounts the per-customer rules judge.
pub(super) fn live_customers(matched: &DataFrame) -> Result<Vec<Option<i64>>, ReconcileError> {
    let (customers, removed) = (int(matched, "customer")?, int(matched, "removed_ms")?);
    Ok(customers
        .iter()
        .zip(removed.iter())
        .map(|(customer, removed)| customer.filter(|_| removed.is_none()))
        .collect())
}

/// Row indexes of the rows whose key is among `sorted` (ascending), to
/// `take` those rows alone.
pub(super) fn rows_among<K: Ord>(keys: impl Iterator<Item = Option<K>>, sorted: &[K]) -> IdxCa {
    let rows = keys
        .enumerate()
        .filter(|(_, key)| {
            key.as_ref()
                .is_some_and(|key| sorted.binary_search(key).is_ok())
        })
        .map(|(row, _)| row as IdxSize)
        .collect();
    IdxCa::from_vec("rows".into(), rows)
}

/// A text column of `frame`, typed.
pub(super) fn text<'a>(
    frame: &'a DataFrame,
    name: &str,
) -> Result<&'a StringChunked, ReconcileError> {
    let column = frame.column(name).map_err(ReconcileError::frame)?;
    column.str().map_err(ReconcileError::frame)
}

fn int<'a>(frame: &'a DataFrame, name: &str) -> Result<&'a Int64Chunked, ReconcileError> {
    let column = frame.column(name).map_err(ReconcileError::frame)?;
    column.i64().map_err(ReconcileError::frame)
}

/// Key → the lowest customer id holding it (the tie rule), nulls skipped.
fn first_customer<K: std::hash::Hash + Eq>(
    keys: impl Iterator<Item = Option<K>>,
    ids: &Int64Chunked,
) -> PlHashMap<K, i64> {
    let mut map = PlHashMap::with_capacity(ids.len());
    for (key, id) in keys.zip(ids.iter()) {
        if let (Some(key), Some(id)) = (key, id) {
            map.entry(key)
                .and_modify(|first: &mut i64| *first = (*first).min(id))
                .or_insert(id);
        }
    }
    map
}

/// Lower-cased, borrowed when already lower case (most stored emails are).
fn lower(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return if text.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(text.to_ascii_lowercase())
        } else {
            Cow::Borrowed(text)
        };
    }
    let changes = |c: char| {
        let mut lowered = c.to_lowercase();
        lowered.next() != Some(c) || lowered.next().is_some()
    };
    if text.chars().any(changes) {
        Cow::Owned(text.to_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowering_borrows_lower_case_and_lowers_ascii_and_unicode_alike() {
        for text in [
            "ana@toko.id",
            "Ana@Toko.ID",
            "ÉLODIE@café.fr",
            "élodie@café.fr",
            "",
        ] {
            assert_eq!(lower(text), text.to_lowercase(), "{text}");
        }
        assert!(matches!(lower("ana@toko.id"), Cow::Borrowed(_)));
        assert!(matches!(lower("élodie@café.fr"), Cow::Borrowed(_)));
        assert!(matches!(lower("Ana@toko.id"), Cow::Owned(_)));
    }
}
