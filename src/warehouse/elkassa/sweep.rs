//! Whole-table ELKASSA statements outside the batch loader: reference
//! data, the per-run census and the removal sweep.

use super::rows::{Census, PacketRow, SweepStats};
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

    /// Counts what run `run_id` saw and left unseen, one scan per table.
    pub async fn elkassa_census(&self, run_id: i64) -> Result<Census, WarehouseError> {
        dual!(self, Warehouse, pool => {
            let (accounts_seen, accounts_active, accounts_unseen): (i64, i64, i64) =
                sqlx::query_as(sql::CENSUS_ACCOUNTS).bind(run_id).fetch_one(pool).await.map_err(op("count accounts"))?;
            let (branches_seen, branches_unseen): (i64, i64) =
                sqlx::query_as(sql::CENSUS_BRANCHES).bind(run_id).fetch_one(pool).await.map_err(op("count branches"))?;
            Ok(Census { accounts_seen, accounts_active, accounts_unseen, branches_seen, branches_unseen })
        })
    }

    /// Marks accounts and branches a complete listing of `run_id` did not
    /// contain; a table the census found nothing unseen in is not scanned.
    pub async fn sweep_elkassa(
        &self,
        run_id: i64,
        at: DateTime<Utc>,
        census: &Census,
    ) -> Result<SweepStats, WarehouseError> {
        let statements = [
            (
                census.accounts_unseen > 0,
                sql::SWEEP_ACCOUNTS,
                "sweep accounts",
            ),
            (
                census.branches_unseen > 0,
                sql::SWEEP_BRANCHES,
                "sweep branches",
            ),
        ];
        let mut removed = [0u64; 2];
        dual!(self, Warehouse, pool => {
            let mut tx = pool.begin().await.map_err(op("begin sweep"))?;
            for ((due, statement, operation), count) in statements.into_iter().zip(&mut removed) {
                if due {
                    let done = sqlx::query(statement).bind(at).bind(run_id).execute(&mut *tx).await.map_err(op(operation))?;
                    *count = done.rows_affected();
                }
            }
            tx.commit().await.map_err(op("commit sweep"))?;
        });
        Ok(SweepStats {
            accounts_removed: removed[0],
            branches_removed: removed[1],
        })
    }
}
