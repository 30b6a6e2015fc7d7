//! `field_mismatch`: one customer's email, phone, name or national ID
//! differs between partners. Names compare normalised (case, spacing,
//! diacritics); national IDs by their keyed hash, shown only as last four.

use super::detail::{to_findings, DetailField, Shown};
use super::matching::{live_customers, rows_among, text};
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
    let mut all = super::detail::empty_findings();
    let customers = live_customers(matched)?;
    for (aspect, compared, shown) in FIELDS {
        let rows = differing_rows(matched, &customers, compared)?;
        if rows.is_empty() {
            continue;
        }
        let rows = matched
            .select(["customer", "provider", "external_id", shown])
            .map_err(ReconcileError::frame)?
            .take(&rows)
            .map_err(ReconcileError::frame)?
            .lazy()
            .select([
                col("customer"),
                col("provider"),
                col("external_id"),
                lit(aspect).alias("aspect"),
                col(shown).cast(DataType::String).alias("shown"),
            ]);
        let part = detail_of(rows)?;
        all.vstack_mut(&part).map_err(ReconcileError::frame)?;
    }
    Ok(all)
}

/// The rows (live accounts with a value) of the live customers whose
/// accounts hold more than one value of `compared`, from more than one
/// partner; `customers` is [`live_customers`] of `matched`.
///
/// One pass and a map per customer of the first value and partner seen:
/// "more than one" needs no count, and a group-by counting distinct texts
/// per customer cost several times as much. Only the few differing
/// customers' rows are then copied and sorted for the detail.
fn differing_rows(
    matched: &DataFrame,
    customers: &[Option<i64>],
    compared: &str,
) -> Result<IdxCa, ReconcileError> {
    let providers = text(matched, "provider")?;
    let values = matched.column(compared).map_err(ReconcileError::frame)?;
    let has_value = values.is_not_null();
    // A live customer per row, None where the row takes no part.
    let judged = || {
        customers
            .iter()
            .zip(has_value.iter())
            .map(|(customer, has)| customer.filter(|_| has == Some(true)))
    };
    let differing = match values.dtype() {
        DataType::Int64 => {
            let values = values.i64().map_err(ReconcileError::frame)?;
            differing(judged(), providers.iter(), values.iter())
        }
        _ => {
            let values = values.str().map_err(ReconcileError::frame)?;
            differing(judged(), providers.iter(), values.iter())
        }
    };
    if differing.is_empty() {
        return Ok(IdxCa::from_vec("rows".into(), Vec::new()));
    }
    Ok(rows_among(judged(), &differing))
}

/// Customers (None: not live) with more than one value from more than one partner.
fn differing<'a, V: PartialEq>(
    customers: impl Iterator<Item = Option<i64>>,
    providers: impl Iterator<Item = Option<&'a str>>,
    values: impl Iterator<Item = Option<V>>,
) -> Vec<i64> {
    /// The first value and partner of a customer, and whether another followed.
    struct Seen<'a, V> {
        value: V,
        provider: Option<&'a str>,
        values_differ: bool,
        partners_differ: bool,
    }
    let mut seen: PlHashMap<i64, Seen<'a, V>> = PlHashMap::new();
    for ((customer, provider), value) in customers.zip(providers).zip(values) {
        let (Some(customer), Some(value)) = (customer, value) else {
            continue;
        };
        seen.entry(customer)
            .and_modify(|first| {
                first.values_differ |= first.value != value;
                first.partners_differ |= first.provider != provider;
            })
            .or_insert(Seen {
                value,
                provider,
                values_differ: false,
                partners_differ: false,
            });
    }
    let mut differing: Vec<i64> = seen
        .into_iter()
        .filter(|(_, first)| first.values_differ && first.partners_differ)
        .map(|(customer, _)| customer)
        .collect();
    differing.sort_unstable();
    differing
}

/// One finding per customer of `rows`, its partners' values side by side.
fn detail_of(rows: LazyFrame) -> Result<DataFrame, ReconcileError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_customer_differs_only_with_two_values_from_two_partners() {
        let customers = [1, 1, 2, 2, 3, 3, 3, 4, 4].map(Some);
        let providers = ["a", "b", "a", "a", "a", "b", "b", "a", "b"].map(Some);
        let values = [
            Some("x"),
            Some("y"),
            Some("x"),
            Some("y"),
            Some("x"),
            Some("x"),
            Some("z"),
            Some("x"),
            None,
        ];
        let differing = differing(
            customers.into_iter(),
            providers.into_iter(),
            values.into_iter(),
        );
        // 2: two values from one partner; 4: the other partner holds none.
        assert_eq!(differing, [1, 3]);
    }

    #[test]
    fn accounts_of_no_live_customer_are_left_out() {
        let customers = [Some(1), None, Some(2), Some(2)];
        let providers = ["a", "b", "a", "b"].map(Some);
        let values = [1, 2, 5, 6].map(Some);
        let differing = differing(
            customers.into_iter(),
            providers.into_iter(),
            values.into_iter(),
        );
        assert_eq!(differing, [2]);
    }
}
