//! `field_mismatch`: one customer's email, phone, name or national ID
//! differs between partners. Names compare normalised (case, spacing,
//! diacritics); national IDs by their keyed hash, shown only as last four.

use super::detail::{to_findings, DetailField, Shown};
use super::{Kind, ReconcileError};
use polars::prelude::*;

/// (aspect, compared column, shown column) per field.
const FIELDS: [(&str, &str, &str); 4] = [
    ("email", "email_norm", "email_norm"),
    ("phone", "phone_e164", "phone_e164"),
    ("name", "name_key", "legal_name"),
    ("national_id", "identity_hash", "identity_last4"),
];

/// Partners shown side by side in the detail.
const PARTNERS: [&str; 4] = ["elkassa", "mcp", "middleware", "qm"];

/// One finding per (customer, field) whose values differ between partners,
/// keyed by the customer's first account (by partner, then id).
pub(super) fn findings(matched: &DataFrame) -> Result<DataFrame, ReconcileError> {
    let live = matched.clone().lazy().filter(
        col("removed_ms")
            .is_null()
            .and(col("customer").is_not_null()),
    );
    // One field at a time: the sorted long frame of all four would be the
    // largest thing reconcile ever holds.
    let mut all = super::detail::empty_findings();
    for (aspect, compared, shown) in FIELDS {
        let rows = live.clone().filter(col(compared).is_not_null()).select([
            col("customer"),
            col("provider"),
            col("external_id"),
            lit(aspect).alias("aspect"),
            col(compared).alias("value"),
            col(shown).cast(DataType::String).alias("shown"),
        ]);
        let part = differing(rows)?;
        all.vstack_mut(&part).map_err(ReconcileError::frame)?;
    }
    Ok(all)
}

/// The customers whose rows of one field hold more than one value, from more than one partner.
fn differing(rows: LazyFrame) -> Result<DataFrame, ReconcileError> {
    // First which customers differ, by hashing alone; only their rows are
    // then sorted for the detail (a sort of every row would copy them all).
    let differing = rows
        .clone()
        .group_by([col("customer")])
        .agg([
            col("value").n_unique().alias("values"),
            col("provider").n_unique().alias("partners"),
        ])
        .filter(col("values").gt(lit(1)).and(col("partners").gt(lit(1))))
        .select([col("customer")])
        .collect()
        .map_err(ReconcileError::frame)?;
    let mut aggregates = vec![
        col("provider").first().alias("provider"),
        col("external_id").first().alias("external_id"),
        col("aspect").first().alias("aspect"),
    ];
    for partner in PARTNERS {
        aggregates.push(
            col("shown")
                .filter(col("provider").eq(lit(partner)))
                .first()
                .alias(partner),
        );
    }
    let rows = rows
        .join(
            differing.lazy(),
            [col("customer")],
            [col("customer")],
            JoinArgs::new(JoinType::Semi),
        )
        .sort(
            ["customer", "provider", "external_id"],
            SortMultipleOptions::default(),
        )
        .group_by_stable([col("customer")])
        .agg(aggregates)
        .rename(["customer"], ["customer_id"], true);
    let rows = rows.collect().map_err(ReconcileError::frame)?;
    let fields: &[DetailField] = &[
        ("field", "aspect", Shown::Text),
        ("elkassa", "elkassa", Shown::Text),
        ("mcp", "mcp", Shown::Text),
        ("middleware", "middleware", Shown::Text),
        ("qm", "qm", Shown::Text),
    ];
    to_findings(Kind::FieldMismatch, rows, fields)
}
