//! Whole-table ELKASSA statements outside the batch loader: reference
//! data, the removal sweep and per-run counts.

use super::rows::{PacketRow, SweepStats};
use super::sql;
use crate::warehouse::{dual, op, Warehouse, WarehouseError};
use chrono::{DateTime, Utc};

impl Warehouse {
    /// Upserts the packet catalogue (reference data).
    pub async fn upsert_packets(
        &self,
        packets: &[PacketRow],
        at: DateTime<Utc>,
    ) -> Result<(), WarehouseError> {
        dual!(self, Warehouse, pool => {
            let mut tx = pool.begin().await.map_err(op("begin"))?;
            for packet in packets {
                sqlx::query(sql::UPSERT_PACKET)
                    .bind(&packet.packet_id)
                    .bind(packet.packet_code.as_deref())
                    .bind(packet.packet_desc.as_deref())
                    .bind(packet.duration_days)
                    .bind(packet.is_trial)
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err(op("upsert packet"))?;
            }
            tx.commit().await.map_err(op("commit packets"))
        })
    }

    /// Marks accounts and branches a complete listing of `run_id` did not contain.
    pub async fn sweep_elkassa(
        &self,
        run_id: i64,
        at: DateTime<Utc>,
    ) -> Result<SweepStats, WarehouseError> {
        dual!(self, Warehouse, pool => {
            let mut tx = pool.begin().await.map_err(op("begin sweep"))?;
            let accounts = sqlx::query(sql::SWEEP_ACCOUNTS).bind(at).bind(run_id).execute(&mut *tx).await.map_err(op("sweep accounts"))?;
            let branches = sqlx::query(sql::SWEEP_BRANCHES).bind(at).bind(run_id).execute(&mut *tx).await.map_err(op("sweep branches"))?;
            tx.commit().await.map_err(op("commit sweep"))?;
            Ok(SweepStats { accounts_removed: accounts.rows_affected(), branches_removed: branches.rows_affected() })
        })
    }

    /// Active ELKASSA accounts a run did not see, and all active accounts.
    pub async fn elkassa_unseen(&self, run_id: i64) -> Result<(i64, i64), WarehouseError> {
        dual!(self, Warehouse, pool => {
            sqlx::query_as::<_, (i64, i64)>(sql::COUNT_UNSEEN).bind(run_id).fetch_one(pool).await.map_err(op("count unseen accounts"))
        })
    }

    /// Distinct ELKASSA accounts and branches a run saw.
    pub async fn elkassa_seen_by(&self, run_id: i64) -> Result<(i64, i64), WarehouseError> {
        dual!(self, Warehouse, pool => {
            let accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM provider_accounts WHERE provider = 'elkassa' AND last_seen_run = $1")
                .bind(run_id).fetch_one(pool).await.map_err(op("count accounts"))?;
            let branches: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM branches WHERE last_seen_run = $1")
                .bind(run_id).fetch_one(pool).await.map_err(op("count branches"))?;
            Ok((accounts, branches))
        })
    }
}
