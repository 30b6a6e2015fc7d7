//! Postgres: the open findings' `last_seen_at` refreshed at the start of a
//! reconcile, in a transaction the findings write later commits in.
//!
//! A nightly rerun sees nearly every open finding again, and moving their
//! `last_seen_at` is one `UPDATE` of half a million rows at 1M customers,
//! about 2 s. Started once the tables are read, it overlaps the rules
//! instead of adding to the write; nothing is visible before the commit,
//! and a reconcile that fails drops the transaction, so the refresh is
//! rolled back with it.

use super::ReconcileError;
use crate::warehouse::{op, Warehouse};
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};

/// Connections a pool needs before one is held for the whole run: the
/// reads would otherwise share what is left one table at a time.
const MIN_POOL: u32 = 3;

/// An open transaction that has moved every open finding's `last_seen_at`
/// to the run's instant. The findings this run resolves were last seen
/// before it: their previous values are still the committed ones, read
/// back over another connection when they are resolved.
pub struct EarlyRefresh {
    /// The transaction the findings write continues in.
    pub(super) tx: Transaction<'static, Postgres>,
    /// Reads what is committed: the findings' `last_seen_at` from before the refresh.
    pool: PgPool,
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
    let refreshed = sqlx::query(
        "UPDATE findings SET last_seen_at = $1 WHERE resolved_at IS NULL AND last_seen_at <> $1",
    )
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(op("refresh findings"))?
    .rows_affected();
    Ok(EarlyRefresh {
        tx,
        pool: pool.clone(),
        refreshed,
    })
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
        // Outside the transaction, so its own refresh is not what is read.
        let previous: Vec<(i64, DateTime<Utc>)> = sqlx::query_as(
            "SELECT finding_id, last_seen_at FROM findings WHERE finding_id = ANY($1)",
        )
        .bind(gone)
        .fetch_all(&self.pool)
        .await
        .map_err(op("read last_seen_at of findings to resolve"))?;
        let restored = previous
            .iter()
            .filter(|(_, seen)| seen.timestamp_micros() != now.timestamp_micros())
            .count();
        self.refreshed = self.refreshed.saturating_sub(restored as u64);
        let (ids, seen): (Vec<i64>, Vec<DateTime<Utc>>) = previous.into_iter().unzip();
        let resolved = sqlx::query(
            "UPDATE findings AS f SET resolved_at = $1, last_seen_at = p.last_seen_at \
             FROM unnest($2::bigint[], $3::timestamptz[]) AS p (finding_id, last_seen_at) \
             WHERE f.finding_id = p.finding_id",
        )
        .bind(now)
        .bind(&ids)
        .bind(&seen)
        .execute(&mut *self.tx)
        .await
        .map_err(op("resolve findings"))?
        .rows_affected();
        Ok(resolved)
    }
}
