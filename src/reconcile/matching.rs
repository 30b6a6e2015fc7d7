//! Matching accounts to customers, deterministically: the national-ID hash
//! first, then the email, then the phone; the rule that matched is kept
//! (`provider_accounts.match_rule`) so an analyst can see why two accounts
//! are one customer.

use super::{Frames, ReconcileError};
use crate::warehouse::{dual, Warehouse};
use polars::prelude::*;

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
pub fn match_accounts(frames: &Frames) -> Result<DataFrame, ReconcileError> {
    let customers = frames.customers.clone().lazy();
    let first_customer = |key: Expr, name: &str, alias: &str| {
        customers
            .clone()
            .select([key.alias(name), col("customer_id")])
            .filter(col(name).is_not_null())
            .group_by([col(name)])
            .agg([col("customer_id").min().alias(alias)])
    };
    let by_identity = first_customer(col("identity_hash"), "identity_hash", "by_identity");
    let by_email = first_customer(col("email").str().to_lowercase(), "email_norm", "by_email");
    let by_phone = first_customer(col("phone_e164"), "phone_e164", "by_phone");
    let rule = when(col("by_identity").is_not_null())
        .then(lit("identity"))
        .when(col("by_email").is_not_null())
        .then(lit("email"))
        .when(col("by_phone").is_not_null())
        .then(lit("phone"))
        .otherwise(lit("new"));
    let customer = coalesce(&[
        col("by_identity"),
        col("by_email"),
        col("by_phone"),
        col("customer_id"),
    ]);
    frames
        .accounts
        .clone()
        .lazy()
        .left_join(by_identity, col("identity_hash"), col("identity_hash"))
        .left_join(by_email, col("email_norm"), col("email_norm"))
        .left_join(by_phone, col("phone_e164"), col("phone_e164"))
        .with_columns([rule.alias("rule"), customer.alias("customer")])
        .collect()
        .map_err(ReconcileError::frame)
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
