//! What the scheduler asks of `sync_runs`: abandoned runs, the latest start
//! of a job, and the figures of its metrics file.

use super::{dual, op, Warehouse, WarehouseError};
use chrono::{DateTime, Utc};

/// A job's figures over every run recorded for it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobStats {
    /// Runs per status text.
    pub runs_by_status: Vec<(String, i64)>,
    /// Records loaded, summed over finished runs.
    pub records: i64,
    /// HTTP retries, summed over finished runs.
    pub retries: i64,
    /// Seconds the latest finished run took.
    pub last_duration_secs: Option<f64>,
    /// When the latest succeeded run finished.
    pub last_success: Option<DateTime<Utc>>,
}

impl Warehouse {
    /// Marks `running` rows of `jobs` as `interrupted`: called by a run that
    /// holds the job's lock, so no live process can own them any more.
    pub async fn interrupt_abandoned_runs(
        &self,
        jobs: &[String],
        at: DateTime<Utc>,
        note: &str,
    ) -> Result<Vec<i64>, WarehouseError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (0..jobs.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "UPDATE sync_runs SET status = 'interrupted', finished_at = $1, error = $2 \
             WHERE status = 'running' AND job IN ({}) RETURNING run_id",
            placeholders.join(", ")
        );
        dual!(self, Warehouse, pool => {
            let mut query = sqlx::query_scalar::<_, i64>(&sql).bind(at).bind(note);
            for job in jobs {
                query = query.bind(job);
            }
            query.fetch_all(pool).await.map_err(op("mark abandoned runs interrupted"))
        })
    }

    /// When the newest run of `job` started.
    pub async fn latest_start(&self, job: &str) -> Result<Option<DateTime<Utc>>, WarehouseError> {
        dual!(self, Warehouse, pool => {
            sqlx::query_scalar::<_, DateTime<Utc>>(
                "SELECT started_at FROM sync_runs WHERE job = $1 ORDER BY run_id DESC LIMIT 1",
            )
            .bind(job)
            .fetch_optional(pool)
            .await
            .map_err(op("read latest run start"))
        })
    }

    /// Figures for the metrics file of one job.
    pub async fn job_stats(&self, job: &str) -> Result<JobStats, WarehouseError> {
        let mut stats = JobStats::default();
        dual!(self, Warehouse, pool => {
            stats.runs_by_status = sqlx::query_as::<_, (String, i64)>(
                "SELECT status, COUNT(*) FROM sync_runs WHERE job = $1 GROUP BY status ORDER BY status",
            )
            .bind(job)
            .fetch_all(pool)
            .await
            .map_err(op("count runs per status"))?;
            (stats.records, stats.retries) = sqlx::query_as::<_, (i64, i64)>(
                "SELECT CAST(COALESCE(SUM(records_loaded), 0) AS BIGINT), CAST(COALESCE(SUM(retries), 0) AS BIGINT) \
                 FROM sync_runs WHERE job = $1 AND finished_at IS NOT NULL",
            )
            .bind(job)
            .fetch_one(pool)
            .await
            .map_err(op("sum run records"))?;
            let last = sqlx::query_as::<_, (DateTime<Utc>, DateTime<Utc>)>(
                "SELECT started_at, finished_at FROM sync_runs WHERE job = $1 AND finished_at IS NOT NULL \
                 ORDER BY run_id DESC LIMIT 1",
            )
            .bind(job)
            .fetch_optional(pool)
            .await
            .map_err(op("read last run"))?;
            stats.last_duration_secs = last.map(|(started, finished)| {
                (finished - started).num_milliseconds().max(0) as f64 / 1000.0
            });
            stats.last_success = sqlx::query_scalar::<_, DateTime<Utc>>(
                "SELECT finished_at FROM sync_runs WHERE job = $1 AND status = 'succeeded' \
                 ORDER BY run_id DESC LIMIT 1",
            )
            .bind(job)
            .fetch_optional(pool)
            .await
            .map_err(op("read last success"))?;
        });
        Ok(stats)
    }

    /// Open (unresolved) findings per kind.
    pub async fn open_findings_by_kind(&self) -> Result<Vec<(String, i64)>, WarehouseError> {
        let sql =
            "SELECT kind, COUNT(*) FROM findings WHERE resolved_at IS NULL GROUP BY kind ORDER BY kind";
        dual!(self, Warehouse, pool => {
            sqlx::query_as::<_, (String, i64)>(sql)
                .fetch_all(pool)
                .await
                .map_err(op("count open findings"))
        })
    }
}
