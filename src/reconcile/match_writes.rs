//! Writing what matching decided back to `provider_accounts`: only the
//! accounts whose customer or rule changed, which is every account on a
//! warehouse's first reconcile and almost none after.

use super::ReconcileError;
use crate::warehouse::copy::{copy_lines, csv_int, csv_text};
use crate::warehouse::{dual, op, Warehouse, WarehouseError};
use polars::prelude::*;
use sqlx::Executor;

/// (provider, external_id, customer, rule) of one account to update.
type MatchRow<'a> = (
    Option<&'a str>,
    Option<&'a str>,
    Option<i64>,
    Option<&'a str>,
);

/// Rows per UPDATE on SQLite: four parameters a row stays far below its bound.
const ROWS_PER_STATEMENT: usize = 1_000;

/// The accounts whose matched customer or rule differ from what is stored:
/// `provider`, `external_id`, `customer`, `rule` (none on a rerun over
/// unchanged data). Taken before the rules, so the matched frame can go.
pub fn changes(matched: &DataFrame) -> Result<DataFrame, ReconcileError> {
    matched
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
        .map_err(ReconcileError::frame)
}

/// Writes [`changes`] back; returns how many accounts changed.
pub async fn record(warehouse: &Warehouse, changed: &DataFrame) -> Result<u64, ReconcileError> {
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
    if rows.is_empty() {
        return Ok(0);
    }
    dual!(warehouse, Warehouse, pool => {
        let mut tx = pool.begin().await.map_err(op("begin match rules"))?;
        tx.update_matches(&rows).await?;
        tx.commit().await.map_err(op("commit match rules"))?;
    });
    Ok(rows.len() as u64)
}

/// A connection that can write match results in bulk.
trait UpdateMatches {
    /// Sets `customer_id` and `match_rule` of every account in `rows`.
    async fn update_matches(&mut self, rows: &[MatchRow<'_>]) -> Result<(), WarehouseError>;
}

/// Postgres: the rows `COPY` into a temporary table and one `UPDATE ... FROM`
/// joins it, instead of a statement per thousand rows.
impl UpdateMatches for sqlx::PgConnection {
    async fn update_matches(&mut self, rows: &[MatchRow<'_>]) -> Result<(), WarehouseError> {
        self.execute(
            "CREATE TEMPORARY TABLE match_changes (provider text, external_id text, \
            customer_id bigint, match_rule text) ON COMMIT DROP",
        )
        .await
        .map_err(op("stage match rules"))?;
        let line = |out: &mut String, index: usize| {
            let (provider, external_id, customer, rule) = rows[index];
            csv_text(out, provider);
            out.push(',');
            csv_text(out, external_id);
            out.push(',');
            csv_int(out, customer);
            out.push(',');
            csv_text(out, rule);
        };
        let copy = "COPY match_changes FROM STDIN (FORMAT csv)";
        copy_lines(self, copy, rows.len(), line, "stage match rules").await?;
        // Temp tables are never auto-analysed, and a first reconcile's 1.75 M
        // rows hash to far more than the default 4 MB `work_mem`: without
        // these the join spills to disk in batches. Scoped to this transaction.
        for (statement, what) in [
            ("ANALYZE match_changes", "analyze match rules"),
            ("SET LOCAL work_mem = '256MB'", "size the match rules' join"),
        ] {
            self.execute(statement).await.map_err(op(what))?;
        }
        self.execute(
            "UPDATE provider_accounts AS a SET customer_id = m.customer_id, match_rule = m.match_rule \
            FROM match_changes AS m WHERE a.provider = m.provider AND a.external_id = m.external_id",
        )
        .await
        .map_err(op("record match rules"))?;
        Ok(())
    }
}

/// SQLite: `UPDATE ... FROM (VALUES ...)` a thousand rows at a time.
impl UpdateMatches for sqlx::SqliteConnection {
    async fn update_matches(&mut self, rows: &[MatchRow<'_>]) -> Result<(), WarehouseError> {
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let mut update = sqlx::QueryBuilder::new(
                "UPDATE provider_accounts SET customer_id = v.column3, match_rule = v.column4 FROM (",
            );
            update.push_values(chunk, |mut row, (provider, external_id, customer, rule)| {
                row.push_bind(*provider)
                    .push_bind(*external_id)
                    .push_bind(*customer)
                    .push_bind(*rule);
            });
            update.push(
                ") AS v WHERE provider_accounts.provider = v.column1 \
                AND provider_accounts.external_id = v.column2",
            );
            update
                .build()
                .execute(&mut *self)
                .await
                .map_err(op("record match rules"))?;
        }
        Ok(())
    }
}
