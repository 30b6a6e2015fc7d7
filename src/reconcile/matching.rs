//! Matching accounts to customers, deterministically: the national-ID hash
//! first, then the email, then the phone; the rule that matched is kept
//! (`provider_accounts.match_rule`) so an analyst can see why two accounts
//! are one customer.

use super::{Frames, ReconcileError};
use crate::warehouse::{dual, Warehouse};
use polars::prelude::*;
use std::borrow::Cow;

/// (provider, external_id, customer, rule) of one account to update.
type MatchRow<'a> = (
    Option<&'a str>,
    Option<&'a str>,
    Option<i64>,
    Option<&'a str>,
);

/// Rows per UPDATE: four parameters a row stays far below SQLite's bound.
const ROWS_PER_STATEMENT: usize = 1_000;

/// The accounts frame plus `customer` (the matched customer) and `rule`
/// (`identity`, `email`, `phone`, or `new` when nothing matched and the
/// account keeps the customer it was written with).
///
/// Lookups go through hash maps over the customers' keys rather than three
/// joins: a join would copy every account column three times, the largest
/// transient of a reconcile; this adds two columns and copies nothing.
pub fn match_accounts(frames: &Frames) -> Result<DataFrame, ReconcileError> {
    let lookups = Lookups::of(&frames.customers)?;
    let accounts = &frames.accounts;
    let (identity, email, phone) = (
        text(accounts, "identity_hash")?,
        text(accounts, "email_norm")?,
        text(accounts, "phone_e164")?,
    );
    let written = int(accounts, "customer_id")?;
    let mut rules = Vec::with_capacity(accounts.height());
    let mut matched = Vec::with_capacity(accounts.height());
    for (((identity, email), phone), written) in identity
        .iter()
        .zip(email.iter())
        .zip(phone.iter())
        .zip(written.iter())
    {
        let (rule, customer) = lookups
            .find(identity, email, phone)
            .unwrap_or(("new", written));
        rules.push(rule);
        matched.push(customer);
    }
    let mut out = accounts.clone();
    out.with_column(Column::new("rule".into(), rules))
        .and_then(|frame| frame.with_column(Column::new("customer".into(), matched)))
        .map_err(ReconcileError::frame)?;
    Ok(out)
}

/// Customer ids by each matching key, borrowed from the customers frame.
struct Lookups<'a> {
    identity: PlHashMap<Cow<'a, str>, i64>,
    email: PlHashMap<Cow<'a, str>, i64>,
    phone: PlHashMap<Cow<'a, str>, i64>,
}

impl<'a> Lookups<'a> {
    fn of(customers: &'a DataFrame) -> Result<Self, ReconcileError> {
        let ids = int(customers, "customer_id")?;
        let borrowed = |name| -> Result<_, ReconcileError> {
            Ok(text(customers, name)?.iter().map(|k| k.map(Cow::Borrowed)))
        };
        let emails = text(customers, "email")?.iter().map(|k| k.map(lower));
        Ok(Lookups {
            identity: first_customer(borrowed("identity_hash")?, ids),
            email: first_customer(emails, ids),
            phone: first_customer(borrowed("phone_e164")?, ids),
        })
    }

    /// The first rule that finds a customer for these keys, and that customer.
    fn find(
        &self,
        identity: Option<&str>,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> Option<(&'static str, Option<i64>)> {
        let get = |map: &PlHashMap<Cow<'a, str>, i64>, key: Option<&str>| {
            key.and_then(|key| map.get(key).copied())
        };
        let hit = |rule, map, key| get(map, key).map(|id| (rule, Some(id)));
        hit("identity", &self.identity, identity)
            .or_else(|| hit("email", &self.email, email))
            .or_else(|| hit("phone", &self.phone, phone))
    }
}

fn text<'a>(frame: &'a DataFrame, name: &str) -> Result<&'a StringChunked, ReconcileError> {
    let column = frame.column(name).map_err(ReconcileError::frame)?;
    column.str().map_err(ReconcileError::frame)
}

fn int<'a>(frame: &'a DataFrame, name: &str) -> Result<&'a Int64Chunked, ReconcileError> {
    let column = frame.column(name).map_err(ReconcileError::frame)?;
    column.i64().map_err(ReconcileError::frame)
}

/// Key → the lowest customer id holding it (the tie rule), nulls skipped.
fn first_customer<'a>(
    keys: impl Iterator<Item = Option<Cow<'a, str>>>,
    ids: &Int64Chunked,
) -> PlHashMap<Cow<'a, str>, i64> {
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

/// Writes the matched customer and rule back where they changed; returns
/// how many accounts changed (none on a rerun over unchanged data).
pub async fn record(warehouse: &Warehouse, matched: &DataFrame) -> Result<u64, ReconcileError> {
    let changed = matched
        .clone()
        .lazy()
        .filter(
            col("customer")
                .neq_missing(col("customer_id"))
                .or(col("rule").neq_missing(col("match_rule"))),
        )
        .select([
            col("provider"),
            col("external_id"),
            col("customer"),
            col("rule"),
        ])
        .collect()
        .map_err(ReconcileError::frame)?;
    let text = |name: &str| changed.column(name).and_then(|c| c.str().cloned());
    let (provider, external_id, rule) = (
        text("provider").map_err(ReconcileError::frame)?,
        text("external_id").map_err(ReconcileError::frame)?,
        text("rule").map_err(ReconcileError::frame)?,
    );
    let customer = changed
        .column("customer")
        .and_then(|c| c.i64().cloned())
        .map_err(ReconcileError::frame)?;
    let rows: Vec<MatchRow<'_>> = (0..changed.height())
        .map(|i| {
            (
                provider.get(i),
                external_id.get(i),
                customer.get(i),
                rule.get(i),
            )
        })
        .collect();
    dual!(warehouse, Warehouse, pool => {
        let mut tx = pool.begin().await.map_err(crate::warehouse::op("begin match rules"))?;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut update = sqlx::QueryBuilder::new(
                "UPDATE provider_accounts SET customer_id = v.column3, match_rule = v.column4 FROM (",
            );
            update.push_values(chunk, |mut row, (provider, external_id, customer, rule)| {
                row.push_bind(*provider).push_bind(*external_id).push_bind(*customer).push_bind(*rule);
            });
            update.push(") AS v WHERE provider_accounts.provider = v.column1 AND provider_accounts.external_id = v.column2");
            update.build().execute(&mut *tx).await.map_err(crate::warehouse::op("record match rules"))?;
        }
        tx.commit().await.map_err(crate::warehouse::op("commit match rules"))?;
    });
    Ok(rows.len() as u64)
}
