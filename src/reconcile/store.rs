//! Findings in the warehouse: the difference between what reconcile sees now
//! and what is open is computed with anti-joins, and only that is written.
//!
//! A finding is raised once per cause (its `finding_key`); later runs refresh
//! `last_seen_at`, which for every open finding is the one row of
//! `findings_seen`; when the cause is gone `resolved_at` is set and the row
//! stays. A cause that comes back after resolution opens a new row, so the
//! history of each episode is kept and `first_seen_at` stays truthful.

use super::frames::{digest, read_frame, Field};
use super::ReconcileError;
use crate::warehouse::copy::{copy_lines, csv_instant, csv_int, csv_text};
use crate::warehouse::{dual, op, Backend, Warehouse, WarehouseError};
use chrono::{DateTime, Utc};
use polars::prelude::*;

/// Rows per INSERT: nine parameters a row stays under SQLite's bound.
const ROWS_PER_STATEMENT: usize = 1_000;

const OPEN: &str =
    "SELECT CAST(finding_id AS BIGINT), finding_key, CAST(detail AS TEXT) FROM finding_records WHERE resolved_at IS NULL";
const OPEN_FIELDS: &[(&str, Field)] = &[
    ("finding_id", Field::Int),
    ("key_digest", Field::Digest),
    ("detail_digest", Field::JsonDigest),
];

/// What a write changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Findings raised.
    pub inserted: u64,
    /// Open findings whose cause is gone.
    pub resolved: u64,
    /// Open findings seen again (`last_seen_at` moved).
    pub refreshed: u64,
    /// Open findings whose detail changed (e.g. a new value of a mismatch).
    pub detail_updated: u64,
    /// Accounts whose matched customer or match rule changed.
    pub match_rules: u64,
}

/// The changes one reconcile makes.
#[derive(Debug, Clone)]
pub struct FindingsDiff {
    /// Findings to raise (the findings frame's columns).
    pub new: DataFrame,
    /// `finding_id`s of open findings to resolve.
    pub gone: Vec<i64>,
    /// (`finding_id`, new detail) of open findings whose detail changed.
    pub changed: Vec<(i64, String)>,
    /// Open findings that stay open (seen again by this reconcile).
    pub seen_again: u64,
}

/// Open findings: `finding_id`, `key_digest` and `detail_digest`, the
/// [`digest`]s of the key and of the detail as canonical JSON, taken as each
/// row is read. Reconcile reads this frame while its rules run, so it holds
/// 24 bytes a finding instead of the texts. Two of a million keys share a
/// digest with odds of about 1 in 37 million.
pub async fn read_open(warehouse: &Warehouse) -> Result<DataFrame, ReconcileError> {
    read_frame(warehouse, OPEN, OPEN_FIELDS).await
}

/// New, gone and changed findings: `current` against `open`, by the
/// digest of the key (`open` holds digests only; see [`read_open`]).
pub fn diff(current: &DataFrame, open: &DataFrame) -> Result<FindingsDiff, ReconcileError> {
    let digests = |name: &str| -> Result<Series, ReconcileError> {
        let texts = current.column(name).and_then(|c| c.str().cloned());
        let digests: Int64Chunked = texts
            .map_err(ReconcileError::frame)?
            .iter()
            .map(|text| text.map(digest))
            .collect();
        Ok(digests.into_series())
    };
    let current = current.clone().lazy().with_columns([
        lit(digests("finding_key")?).alias("key_digest"),
        lit(digests("detail")?).alias("current_digest"),
    ]);
    let key = || [col("key_digest")];
    let anti = JoinArgs::new(JoinType::Anti);
    let new = current
        .clone()
        .join(
            open.clone().lazy().select(key()),
            key(),
            key(),
            anti.clone(),
        )
        .drop(cols(["key_digest", "current_digest"]))
        .collect()
        .map_err(ReconcileError::frame)?;
    let gone = open
        .clone()
        .lazy()
        .join(current.clone().select(key()), key(), key(), anti)
        .select([col("finding_id")])
        .collect()
        .map_err(ReconcileError::frame)?;
    let changed = current
        .select([
            col("key_digest"),
            col("current_digest"),
            col("detail").alias("current_detail"),
        ])
        .inner_join(open.clone().lazy(), col("key_digest"), col("key_digest"))
        .filter(col("current_digest").neq_missing(col("detail_digest")))
        .select([col("finding_id"), col("current_detail")])
        .collect()
        .map_err(ReconcileError::frame)?;
    let ids = |frame: &DataFrame| -> Result<Vec<i64>, ReconcileError> {
        let ids = frame.column("finding_id").and_then(|c| c.i64().cloned());
        Ok(ids
            .map_err(ReconcileError::frame)?
            .iter()
            .flatten()
            .collect())
    };
    let details = changed
        .column("current_detail")
        .and_then(|c| c.str().cloned())
        .map_err(ReconcileError::frame)?;
    let changed = ids(&changed)?
        .into_iter()
        .zip(details.iter().map(|d| d.unwrap_or("{}").to_owned()))
        .collect();
    let gone = ids(&gone)?;
    Ok(FindingsDiff {
        new,
        seen_again: (open.height() - gone.len()) as u64,
        gone,
        changed,
    })
}

/// A finding row as bound into an INSERT.
type NewRow<'a> = (
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<i64>,
    Option<&'a str>,
);

fn new_rows(new: &DataFrame) -> Result<Vec<NewRow<'_>>, ReconcileError> {
    let text = |name: &str| {
        new.column(name)
            .and_then(|c| c.str())
            .map_err(ReconcileError::frame)
    };
    let (key, kind, severity, provider, external_id, detail) = (
        text("finding_key")?,
        text("kind")?,
        text("severity")?,
        text("provider")?,
        text("external_id")?,
        text("detail")?,
    );
    let customer = new
        .column("customer_id")
        .and_then(|c| c.i64())
        .map_err(ReconcileError::frame)?;
    Ok((0..new.height())
        .map(|i| {
            (
                key.get(i),
                kind.get(i),
                severity.get(i),
                provider.get(i),
                external_id.get(i),
                customer.get(i),
                detail.get(i),
            )
        })
        .collect())
}

/// Writes a diff in one transaction: resolves the gone findings (each last
/// seen by the previous reconcile), updates changed details, raises the new
/// ones, and moves `findings_seen` to `now`, which is every open finding's
/// `last_seen_at` (see the view `findings`): refreshing them all is one row.
pub async fn write(
    warehouse: &Warehouse,
    diff: &FindingsDiff,
    now: DateTime<Utc>,
    run_id: Option<i64>,
) -> Result<StoreStats, ReconcileError> {
    let rows = new_rows(&diff.new)?;
    let json = json_cast(warehouse.backend());
    let mut stats = StoreStats {
        detail_updated: diff.changed.len() as u64,
        ..StoreStats::default()
    };
    let previous: Option<DateTime<Utc>>;
    dual!(warehouse, Warehouse, pool => {
        let mut tx = pool.begin().await.map_err(op("begin findings"))?;
        previous = sqlx::query_scalar("SELECT last_seen_at FROM findings_seen")
            .fetch_optional(&mut *tx).await.map_err(op("read findings_seen"))?;
        for chunk in diff.gone.chunks(ROWS_PER_STATEMENT) {
            let mut update = sqlx::QueryBuilder::new("UPDATE finding_records SET resolved_at = ");
            update.push_bind(now).push(", last_seen_at = ").push_bind(previous.unwrap_or(now));
            update.push(" WHERE finding_id IN (");
            let mut ids = update.separated(", ");
            for id in chunk {
                ids.push_bind(*id);
            }
            update.push(")");
            stats.resolved += update.build().execute(&mut *tx).await.map_err(op("resolve findings"))?.rows_affected();
        }
        let sql = format!("UPDATE finding_records SET detail = CAST($1{json} WHERE finding_id = $2");
        for (id, detail) in &diff.changed {
            sqlx::query(&sql).bind(detail).bind(*id).execute(&mut *tx).await.map_err(op("update finding detail"))?;
        }
        stats.inserted = tx.insert_findings(&rows, now, run_id).await?;
        sqlx::query(SEEN).bind(now).execute(&mut *tx).await.map_err(op("write findings_seen"))?;
        tx.commit().await.map_err(op("commit findings"))?;
    });
    // Stored instants keep microseconds; a rerun at the same instant moves nothing.
    if previous.map(|seen| seen.timestamp_micros()) != Some(now.timestamp_micros()) {
        stats.refreshed = diff.seen_again;
    }
    Ok(stats)
}

/// Moves the instant every open finding was last seen at.
const SEEN: &str = "INSERT INTO findings_seen (id, last_seen_at) VALUES (1, $1) \
    ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at";

/// How a detail text becomes the backend's JSON column type.
fn json_cast(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => " AS jsonb)",
        Backend::Sqlite => " AS TEXT)",
    }
}

/// A connection that can insert new findings in bulk.
trait InsertFindings {
    /// Inserts `rows` first seen `now` (open: their `last_seen_at` is `findings_seen`'s); returns how many.
    async fn insert_findings(
        &mut self,
        rows: &[NewRow<'_>],
        now: DateTime<Utc>,
        run_id: Option<i64>,
    ) -> Result<u64, WarehouseError>;
}

/// Postgres: one `COPY`, a first reconcile's half a million rows in seconds.
impl InsertFindings for sqlx::PgConnection {
    async fn insert_findings(
        &mut self,
        rows: &[NewRow<'_>],
        now: DateTime<Utc>,
        run_id: Option<i64>,
    ) -> Result<u64, WarehouseError> {
        let statement =
            "COPY finding_records (finding_key, kind, severity, provider, external_id, customer_id, \
            detail, first_seen_at, run_id) FROM STDIN (FORMAT csv)";
        // Every row is first seen at the same instant: format it once.
        let mut seen = String::new();
        csv_instant(&mut seen, Some(now));
        let line = |out: &mut String, index: usize| {
            let (key, kind, severity, provider, external_id, customer, detail) = rows[index];
            for text in [key, kind, severity, provider, external_id] {
                csv_text(out, text);
                out.push(',');
            }
            csv_int(out, customer);
            out.push(',');
            csv_text(out, detail);
            out.push(',');
            out.push_str(&seen);
            out.push(',');
            csv_int(out, run_id);
        };
        copy_lines(self, statement, rows.len(), line, "insert findings").await?;
        Ok(rows.len() as u64)
    }
}

/// SQLite: multi-row INSERTs, bound well under its parameter limit.
impl InsertFindings for sqlx::SqliteConnection {
    async fn insert_findings(
        &mut self,
        rows: &[NewRow<'_>],
        now: DateTime<Utc>,
        run_id: Option<i64>,
    ) -> Result<u64, WarehouseError> {
        let mut inserted = 0;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO finding_records (finding_key, kind, severity, provider, \
                external_id, customer_id, detail, first_seen_at, run_id) ",
            );
            insert.push_values(
                chunk,
                |mut row, (key, kind, severity, provider, external_id, customer, detail)| {
                    row.push_bind(*key)
                        .push_bind(*kind)
                        .push_bind(*severity)
                        .push_bind(*provider)
                        .push_bind(*external_id)
                        .push_bind(*customer)
                        .push_bind(*detail)
                        .push_bind(now)
                        .push_bind(run_id);
                },
            );
            inserted += insert
                .build()
                .execute(&mut *self)
                .await
                .map_err(op("insert findings"))?
                .rows_affected();
        }
        Ok(inserted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diff_raises_new_resolves_gone_and_updates_changed_details() {
        let current = df!(
            "finding_key" => ["a", "b", "c"],
            "kind" => ["trial_expired"; 3],
            "severity" => ["warning"; 3],
            "provider" => ["elkassa"; 3],
            "external_id" => ["E1", "E2", "E3"],
            "customer_id" => [Some(1i64), None, Some(3)],
            "detail" => ["{}", r#"{"v":2}"#, "{}"],
        )
        .unwrap();
        // As read_open holds them: the digest of each canonical detail.
        let open = df!(
            "finding_id" => [1i64, 2, 3],
            "key_digest" => [digest("a"), digest("b"), digest("gone")],
            "detail_digest" => [digest("{}"), digest(r#"{"v":1}"#), digest("{}")],
        )
        .unwrap();
        let diff = diff(&current, &open).unwrap();
        let new_keys: Vec<_> = diff
            .new
            .column("finding_key")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(new_keys, [Some("c")]);
        assert_eq!(diff.gone, [3]);
        assert_eq!(diff.changed, [(2, r#"{"v":2}"#.to_owned())]);
    }

    #[test]
    fn postgres_jsonb_text_compares_equal_to_the_compact_form() {
        assert_eq!(
            crate::reconcile::canonical_json(r#"{"b": 1, "a": "x"}"#),
            r#"{"a":"x","b":1}"#
        );
    }
}
