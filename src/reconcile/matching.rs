//! Matching accounts to customers, deterministically: the national-ID hash
//! first, then the email, then the phone; the rule that matched is kept
//! (`provider_accounts.match_rule`) so an analyst can see why two accounts
//! are one customer.

use super::{Frames, ReconcileError};
use polars::prelude::*;
use std::borrow::Cow;

/// The accounts frame plus `customer` (the matched customer) and `rule`
/// (`identity`, `email`, `phone`, or `new` when nothing matched and the
/// account keeps the customer it was written with).
///
/// Lookups go through hash maps over the customers' keys rather than three
/// joins: a join would copy every account column three times, the largest
/// transient of a reconcile; this adds two columns and copies nothing. One
/// rule's map at a time, each pass filling what the earlier left open.
pub fn match_accounts(frames: &Frames) -> Result<DataFrame, ReconcileError> {
    let (accounts, customers) = (&frames.accounts, &frames.customers);
    let height = accounts.height();
    let mut rules: Vec<&'static str> = vec!["new"; height];
    let mut matched: Vec<Option<i64>> = vec![None; height];
    let ids = int(customers, "customer_id")?;
    let identities = first_customer(int(customers, "identity_hash")?.iter(), ids);
    fill(
        &mut rules,
        &mut matched,
        "identity",
        int(accounts, "identity_hash")?.iter(),
        |key| identities.get(&key).copied(),
    );
    drop(identities);
    let emails = text(customers, "email")?.iter().map(|k| k.map(lower));
    let emails = first_customer(emails, ids);
    fill(
        &mut rules,
        &mut matched,
        "email",
        text(accounts, "email_norm")?.iter(),
        |key| emails.get(key).copied(),
    );
    drop(emails);
    let phones = text(customers, "phone_e164")?.iter();
    let phones = first_customer(phones, ids);
    fill(
        &mut rules,
        &mut matched,
        "phone",
        text(accounts, "phone_e164")?.iter(),
        |key| phones.get(key).copied(),
    );
    drop(phones);
    // Nothing matched: the account keeps the customer it was written with.
    for ((rule, customer), written) in rules
        .iter()
        .zip(matched.iter_mut())
        .zip(int(accounts, "customer_id")?.iter())
    {
        if *rule == "new" {
            *customer = written;
        }
    }
    let mut out = accounts.clone();
    out.with_column(Column::new("rule".into(), rules))
        .and_then(|frame| frame.with_column(Column::new("customer".into(), matched)))
        .map_err(ReconcileError::frame)?;
    Ok(out)
}

/// Gives each account still without a rule the customer `find` has for its key.
fn fill<K>(
    rules: &mut [&'static str],
    matched: &mut [Option<i64>],
    rule: &'static str,
    keys: impl Iterator<Item = Option<K>>,
    find: impl Fn(K) -> Option<i64>,
) {
    for ((slot, customer), key) in rules.iter_mut().zip(matched.iter_mut()).zip(keys) {
        if *slot != "new" {
            continue;
        }
        if let Some(id) = key.and_then(&find) {
            *slot = rule;
            *customer = Some(id);
        }
    }
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
