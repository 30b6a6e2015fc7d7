//! From the rows a rule selected to finding rows: the stable key and the
//! detail JSON are built here, once, for every kind.

use super::{Kind, ReconcileError};
use chrono::{DateTime, SecondsFormat, Utc};
use polars::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;

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
    let sources = typed_sources(&rows, fields)?;
    let height = rows.height();
    let mut keys = StringChunkedBuilder::new("finding_key".into(), height);
    let mut details = StringChunkedBuilder::new("detail".into(), height);
    let (mut key, mut detail) = (String::new(), Vec::new());
    for row in 0..height {
        key.clear();
        push_finding_key(
            &mut key,
            kind,
            provider.get(row),
            external_id.get(row),
            aspect.get(row),
        );
        keys.append_value(&key);
        detail.clear();
        write_detail(&mut detail, &sources, row);
        // Only `&str`s and ASCII were written.
        details.append_value(std::str::from_utf8(&detail).unwrap_or("{}"));
    }
    let kind_name = kind.as_str();
    let severity = kind.severity();
    DataFrame::new(
        height,
        vec![
            keys.finish().into_series().into_column(),
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
            details.finish().into_series().into_column(),
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
    let mut key = String::new();
    push_finding_key(&mut key, kind, provider, external_id, aspect);
    key
}

/// [`finding_key`] written into `key`.
fn push_finding_key(
    key: &mut String,
    kind: Kind,
    provider: Option<&str>,
    external_id: Option<&str>,
    aspect: Option<&str>,
) {
    key.push_str(kind.as_str());
    for part in [provider, external_id] {
        key.push(':');
        key.push_str(part.unwrap_or_default());
    }
    if let Some(aspect) = aspect {
        key.push(':');
        key.push_str(aspect);
    }
}

/// A detail entry's source column, typed once so that rows are read
/// without a dynamic value per cell.
enum Source {
    Text(StringChunked),
    Int(Int64Chunked),
    Time(Int64Chunked),
}

/// The detail sources of `rows`, sorted by JSON name: the canonical form
/// lists keys in order.
fn typed_sources(
    rows: &DataFrame,
    fields: &[DetailField],
) -> Result<Vec<(&'static str, Source)>, ReconcileError> {
    let mut sources = fields
        .iter()
        .map(|(name, column, shown)| {
            let values = rows.column(column).map_err(ReconcileError::frame)?;
            let typed = |dtype: &DataType| values.cast(dtype).map(|c| c.rechunk());
            let source = match shown {
                Shown::Text => typed(&DataType::String)
                    .and_then(|c| c.str().cloned())
                    .map(Source::Text),
                Shown::Int => typed(&DataType::Int64)
                    .and_then(|c| c.i64().cloned())
                    .map(Source::Int),
                Shown::Time => typed(&DataType::Int64)
                    .and_then(|c| c.i64().cloned())
                    .map(Source::Time),
            }
            .map_err(ReconcileError::frame)?;
            Ok((*name, source))
        })
        .collect::<Result<Vec<_>, ReconcileError>>()?;
    sources.sort_by_key(|(name, _)| *name);
    Ok(sources)
}

/// The detail of one row as compact JSON with sorted keys, nulls left out:
/// byte for byte what `serde_json` writes for the same sorted map, which
/// [`canonical_json`] gives the stored details.
fn write_detail(out: &mut Vec<u8>, sources: &[(&str, Source)], row: usize) {
    out.push(b'{');
    for (name, source) in sources {
        let start = out.len();
        if start > 1 {
            out.push(b',');
        }
        json_str(out, name);
        out.push(b':');
        let written = match source {
            Source::Text(values) => values.get(row).map(|text| json_str(out, text)),
            // Writing into a Vec cannot fail.
            Source::Int(values) => values.get(row).map(|n| {
                let _ = write!(out, "{n}");
            }),
            Source::Time(values) => values.get(row).map(|ms| json_str(out, &instant(ms))),
        };
        if written.is_none() {
            out.truncate(start);
        }
    }
    out.push(b'}');
}

/// `text` as a JSON string, escaped as `serde_json` escapes.
fn json_str(out: &mut Vec<u8>, text: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_are_the_canonical_json_of_their_fields_with_nulls_left_out() {
        let rows = df!(
            "provider" => ["elkassa", "mcp"],
            "external_id" => ["ELK-1", "M\"2"],
            "aspect" => [None, Some("email")],
            "customer_id" => [Some(7i64), None],
            "name" => [Some("Toko \"Ayu\"\n\u{1}é/√"), None],
            "count" => [3i64, 4],
            "at_ms" => [Some(0i64), Some(1_700_000_000_123)],
        )
        .unwrap();
        let fields: &[DetailField] = &[
            ("zeta", "count", Shown::Int),
            ("alpha", "name", Shown::Text),
            ("mid", "at_ms", Shown::Time),
        ];
        let findings = to_findings(Kind::FieldMismatch, rows.clone(), fields).unwrap();
        let details = findings.column("detail").unwrap().str().unwrap().clone();
        for row in 0..2 {
            let mut expected = BTreeMap::new();
            if let Some(name) = rows.column("name").unwrap().str().unwrap().get(row) {
                expected.insert("alpha", Value::from(name));
            }
            let at = rows.column("at_ms").unwrap().i64().unwrap().get(row);
            expected.insert("mid", Value::from(instant(at.unwrap())));
            let count = rows.column("count").unwrap().i64().unwrap().get(row);
            expected.insert("zeta", Value::from(count.unwrap()));
            let expected = serde_json::to_string(&expected).unwrap();
            assert_eq!(details.get(row), Some(expected.as_str()));
            assert_eq!(canonical_json(&expected), expected);
        }
        let keys = findings
            .column("finding_key")
            .unwrap()
            .str()
            .unwrap()
            .clone();
        assert_eq!(keys.get(0), Some("field_mismatch:elkassa:ELK-1"));
        assert_eq!(keys.get(1), Some("field_mismatch:mcp:M\"2:email"));
    }
}
