//! Postgres: the open findings' `last_seen_at` refreshed at the start of a
//! reconcile, in a transaction the findings write later commits in.
//!
//! A nightly rerun sees nearly every open finding again, and moving their
//! `last_seen_at` is one `UPDATE` of half a million rows at 1M customers,
//! about 2 s. Run first, it overlaps the reads and rules instead of adding
//! to the write; nothing is visible before the commit, and a reconcile that
//! fails drops the transaction, so the refresh is rolled back with it.

use super::ReconcileError;
use crate::warehouse::{op, Warehouse};
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};

/// Connections a pool needs before one is held for the whole run: the
/// reads would otherwise share what is left one table at a time.
const MIN_POOL: u32 = 3;

/// An open transaction that has moved every open finding's `last_seen_at`
/// to the run's instant, keeping the previous values to restore on the
/// findings this run resolves (they were last seen before it).
pub struct EarlyRefresh {
    /// The transaction the findings write continues in.
    pub(super) tx: Transaction<'static, Postgres>,
    /// Open findings whose `last_seen_at` moved.
    pub(super) refreshed: u64,
}

/// Starts the refresh on a Postgres warehouse whose pool can spare a
/// connection; `None` elsewhere (SQLite has one writer: its refresh stays
/// in the write step).
pub async fn begin(
    warehouse: &Warehouse,
    now: DateTime<Utc>,
) -> Result<Option<EarlyRefresh>, ReconcileError> {
    match warehouse {
        Warehouse::Postgres(pool) if warehouse.pool_size() >= MIN_POOL => {
            Ok(Some(refresh(pool, now).await?))
        }
        _ => Ok(None),
    }
}

async fn refresh(pool: &PgPool, now: DateTime<Utc>) -> Result<EarlyRefresh, ReconcileError> {
    let mut tx = pool.begin().await.map_err(op("begin findings"))?;
    // The previous instants, for the findings this run will resolve; keyed,
    // as the resolve looks them up one id at a time.
    sqlx::query(
        "CREATE TEMP TABLE prior_seen (finding_id BIGINT PRIMARY KEY, last_seen_at TIMESTAMPTZ) \
         ON COMMIT DROP",
    )
    .execute(&mut *tx)
    .await
    .map_err(op("keep previous last_seen_at"))?;
    let changed = "resolved_at IS NULL AND last_seen_at <> $1";
    sqlx::query(&format!(
        "INSERT INTO prior_seen SELECT finding_id, last_seen_at FROM findings WHERE {changed}"
    ))
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(op("keep previous last_seen_at"))?;
    let refreshed = sqlx::query(&format!(
        "UPDATE findings SET last_seen_at = $1 WHERE {changed}"
    ))
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(op("refresh findings"))?
    .rows_affected();
    Ok(EarlyRefresh { tx, refreshed })
}

impl EarlyRefresh {
    /// Resolves `gone` as of `now`, giving each its `last_seen_at` from
    /// before this run back; returns how many were resolved.
    pub(super) async fn resolve(
        &mut self,
        gone: &[i64],
        now: DateTime<Utc>,
    ) -> Result<u64, ReconcileError> {
        if gone.is_empty() {
            return Ok(0);
        }
        let restored: i64 =
            sqlx::query_scalar("SELECT count(*) FROM prior_seen WHERE finding_id = ANY($1)")
                .bind(gone)
                .fetch_one(&mut *self.tx)
                .await
                .map_err(op("count refreshed findings resolved"))?;
        self.refreshed = self.refreshed.saturating_sub(restored as u64);
        let resolved = sqlx::query(
            "UPDATE findings AS f SET resolved_at = $1, last_seen_at = COALESCE(\
             (SELECT p.last_seen_at FROM prior_seen AS p WHERE p.finding_id = f.finding_id), \
             f.last_seen_at) WHERE f.finding_id = ANY($2)",
        )
        .bind(now)
        .bind(gone)
        .execute(&mut *self.tx)
        .await
        .map_err(op("resolve findings"))?
        .rows_affected();
        Ok(resolved)
    }
}
