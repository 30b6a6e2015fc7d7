//! `sync_runs`: one row per run, opened at start and closed with its outcome.

use super::{dual, op, Warehouse, WarehouseError};
use crate::outcome::RunStatus;
use chrono::{DateTime, Utc};

/// What a finished run reports about itself.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// How the run ended.
    pub status: RunStatus,
    /// Whether the listing was read to its end and verified.
    pub listing_complete: bool,
    /// Pages fetched, re-reads included.
    pub pages_fetched: u64,
    /// Entries read in the first pass.
    pub records_seen: u64,
    /// Distinct accounts written.
    pub records_loaded: u64,
    /// Entries that could not be used.
    pub records_rejected: u64,
    /// HTTP retries.
    pub retries: u64,
    /// Drift re-read rounds.
    pub drift_rounds: u32,
    /// What drift was seen.
    pub drift_note: Option<String>,
    /// Per-provider counts as a JSON object.
    pub counts: serde_json::Value,
    /// Why the run failed or is partial.
    pub error: Option<String>,
}

/// A `sync_runs` row as read back.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRecord {
    /// Run id.
    pub run_id: i64,
    /// Job name.
    pub job: String,
    /// Status text.
    pub status: String,
    /// Whether the listing was complete.
    pub listing_complete: bool,
    /// Pages fetched.
    pub pages_fetched: i64,
    /// Accounts loaded.
    pub records_loaded: i64,
    /// Entries rejected.
    pub records_rejected: i64,
    /// Retries.
    pub retries: i64,
    /// Drift rounds.
    pub drift_rounds: i32,
    /// Drift description.
    pub drift_note: Option<String>,
    /// Error text.
    pub error: Option<String>,
}

const RUN_COLUMNS: &str = "run_id, job, status, listing_complete, pages_fetched, records_loaded, \
     records_rejected, retries, CAST(drift_rounds AS INTEGER) AS drift_rounds, drift_note, error";

impl Warehouse {
    /// Opens a run as `running` and returns its id.
    pub async fn start_run(&self, job: &str, at: DateTime<Utc>) -> Result<i64, WarehouseError> {
        dual!(self, Warehouse, pool => {
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO sync_runs (job, started_at, status) VALUES ($1, $2, 'running') RETURNING run_id",
            )
            .bind(job)
            .bind(at)
            .fetch_one(pool)
            .await
            .map_err(op("start run"))
        })
    }

    /// Closes a run with its outcome and counts.
    pub async fn finish_run(
        &self,
        run_id: i64,
        at: DateTime<Utc>,
        summary: &RunSummary,
    ) -> Result<(), WarehouseError> {
        let counts = summary.counts.to_string();
        let counts_sql = match self.backend() {
            super::Backend::Postgres => "CAST($11 AS jsonb)",
            super::Backend::Sqlite => "$11",
        };
        let sql = format!(
            "UPDATE sync_runs SET finished_at = $2, status = $3, listing_complete = $4, pages_fetched = $5, \
             records_seen = $6, records_loaded = $7, records_rejected = $8, retries = $9, drift_rounds = $10, \
             counts = {counts_sql}, drift_note = $12, error = $13 WHERE run_id = $1"
        );
        dual!(self, Warehouse, pool => {
            sqlx::query(&sql)
                .bind(run_id)
                .bind(at)
                .bind(summary.status.as_str())
                .bind(summary.listing_complete)
                .bind(summary.pages_fetched as i64)
                .bind(summary.records_seen as i64)
                .bind(summary.records_loaded as i64)
                .bind(summary.records_rejected as i64)
                .bind(summary.retries as i64)
                .bind(summary.drift_rounds as i32)
                .bind(&counts)
                .bind(summary.drift_note.as_deref())
                .bind(summary.error.as_deref())
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(op("finish run"))
        })
    }

    /// Reads one run back.
    pub async fn run(&self, run_id: i64) -> Result<Option<RunRecord>, WarehouseError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM sync_runs WHERE run_id = $1");
        dual!(self, Warehouse, pool => {
            sqlx::query_as::<_, RunRecord>(&sql).bind(run_id).fetch_optional(pool).await.map_err(op("read run"))
        })
    }

    /// The newest runs, newest first.
    pub async fn recent_runs(&self, limit: i64) -> Result<Vec<RunRecord>, WarehouseError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM sync_runs ORDER BY run_id DESC LIMIT $1");
        dual!(self, Warehouse, pool => {
            sqlx::query_as::<_, RunRecord>(&sql).bind(limit).fetch_all(pool).await.map_err(op("list runs"))
        })
    }

    /// Accounts listed by the previous complete ELKASSA sync, to size a progress bar.
    pub async fn last_listing_size(&self) -> Result<Option<i64>, WarehouseError> {
        dual!(self, Warehouse, pool => {
            sqlx::query_scalar::<_, i64>(
                "SELECT records_seen FROM sync_runs WHERE listing_complete ORDER BY run_id DESC LIMIT 1",
            )
            .fetch_optional(pool)
            .await
            .map_err(op("read last listing size"))
        })
    }
}
