//! From the rows a rule selected to finding rows: the stable key and the
//! detail JSON are built here, once, for every kind.

use super::{Kind, ReconcileError};
use chrono::{DateTime, SecondsFormat, Utc};
use polars::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;

/// How a detail column is shown in the JSON.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shown {
    /// A string.
    Text,
    /// A number.
    Int,
    /// Epoch milliseconds, shown as an RFC 3339 instant.
    Time,
}

/// One entry of a finding's detail: JSON name, source column, how it is shown.
pub(crate) type DetailField = (&'static str, &'static str, Shown);

/// The columns of a findings frame, in order.
pub const FINDING_COLUMNS: [&str; 7] = [
    "finding_key",
    "kind",
    "severity",
    "provider",
    "external_id",
    "customer_id",
    "detail",
];

/// Turns a rule's rows into findings of `kind`: one row per subject, keyed
/// `kind:provider:external_id[:aspect]`.
pub(crate) fn to_findings(
    kind: Kind,
    rows: DataFrame,
    fields: &[DetailField],
) -> Result<DataFrame, ReconcileError> {
    let text = |name: &str| -> Result<StringChunked, ReconcileError> {
        let column = rows.column(name).map_err(ReconcileError::frame)?;
        let cast = column
            .cast(&DataType::String)
            .map_err(ReconcileError::frame)?;
        cast.str().cloned().map_err(ReconcileError::frame)
    };
    let provider = text("provider")?;
    let external_id = text("external_id")?;
    let aspect = text("aspect")?;
    let customer = rows
        .column("customer_id")
        .and_then(|c| c.cast(&DataType::Int64))
        .and_then(|c| c.i64().cloned())
        .map_err(ReconcileError::frame)?;
    let sources = fields
        .iter()
        .map(|(name, column, shown)| {
            let values = rows
                .column(column)
                .map_err(ReconcileError::frame)?
                .as_materialized_series()
                .clone();
            Ok((*name, values, *shown))
        })
        .collect::<Result<Vec<_>, ReconcileError>>()?;
    let height = rows.height();
    let mut keys = Vec::with_capacity(height);
    let mut details = Vec::with_capacity(height);
    for row in 0..height {
        keys.push(finding_key(
            kind,
            provider.get(row),
            external_id.get(row),
            aspect.get(row),
        ));
        details.push(detail_json(&sources, row)?);
    }
    let kind_name = kind.as_str();
    let severity = kind.severity();
    DataFrame::new(
        height,
        vec![
            Column::new("finding_key".into(), keys),
            Column::new("kind".into(), vec![kind_name; height]),
            Column::new("severity".into(), vec![severity; height]),
            provider
                .with_name("provider".into())
                .into_series()
                .into_column(),
            external_id
                .with_name("external_id".into())
                .into_series()
                .into_column(),
            customer
                .with_name("customer_id".into())
                .into_series()
                .into_column(),
            Column::new("detail".into(), details),
        ],
    )
    .map_err(ReconcileError::frame)
}

/// `kind:provider:external_id[:aspect]`; a missing part is left empty.
pub fn finding_key(
    kind: Kind,
    provider: Option<&str>,
    external_id: Option<&str>,
    aspect: Option<&str>,
) -> String {
    let mut key = format!(
        "{}:{}:{}",
        kind.as_str(),
        provider.unwrap_or_default(),
        external_id.unwrap_or_default()
    );
    if let Some(aspect) = aspect {
        key.push(':');
        key.push_str(aspect);
    }
    key
}

/// The detail of one row as compact JSON with sorted keys; nulls are left out.
fn detail_json(sources: &[(&str, Series, Shown)], row: usize) -> Result<String, ReconcileError> {
    let mut detail = BTreeMap::new();
    for (name, values, shown) in sources {
        let value = values.get(row).map_err(ReconcileError::frame)?;
        if value.is_null() {
            continue;
        }
        let json = match shown {
            Shown::Text => Value::from(value.str_value().into_owned()),
            Shown::Int => Value::from(value.extract::<i64>().unwrap_or_default()),
            Shown::Time => Value::from(instant(value.extract::<i64>().unwrap_or_default())),
        };
        detail.insert(*name, json);
    }
    serde_json::to_string(&detail)
        .map_err(|error| ReconcileError::frame(PolarsError::ComputeError(error.to_string().into())))
}

/// Epoch milliseconds as an RFC 3339 UTC instant.
pub fn instant(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A flat JSON object in the one canonical form findings are compared in:
/// compact, keys sorted (Postgres `jsonb` spaces and orders keys its own way).
pub fn canonical_json(text: &str) -> String {
    serde_json::from_str::<BTreeMap<String, Value>>(text)
        .ok()
        .and_then(|object| serde_json::to_string(&object).ok())
        .unwrap_or_else(|| text.to_owned())
}

/// An empty findings frame with the right columns and types.
pub fn empty_findings() -> DataFrame {
    let text = |name: &str| Column::new_empty(name.into(), &DataType::String);
    DataFrame::new(
        0,
        vec![
            text("finding_key"),
            text("kind"),
            text("severity"),
            text("provider"),
            text("external_id"),
            Column::new_empty("customer_id".into(), &DataType::Int64),
            text("detail"),
        ],
    )
    .expect("static schema")
}
