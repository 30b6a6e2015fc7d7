//! Storing a batch's listing bodies in `raw_responses`: Postgres takes a
//! binary `COPY` with ids drawn from the table's identity sequence first
//! (`COPY` returns no ids), SQLite multi-row INSERTs with `RETURNING`.

use super::rows::LandedPage;
use super::{sql, ROWS_PER_STATEMENT};
use crate::providers::elkassa::USERS_ENDPOINT;
use crate::warehouse::copy::{copy_binary, reserve_ids, BinaryRows};
use crate::warehouse::{op, WarehouseError};
use sqlx::{PgConnection, QueryBuilder, SqliteConnection};
use std::collections::HashMap;

/// Raw body id by request key (a page landed twice keeps its last).
pub type RawIds = HashMap<String, i64>;

/// A connection that stores listing bodies.
pub trait RawPages {
    /// Stores each page's body for run `run_id`.
    async fn store_raw(
        &mut self,
        run_id: i64,
        pages: &[LandedPage],
    ) -> Result<RawIds, WarehouseError>;
}

const COPY_RAW: &str = "COPY raw_responses (raw_id, run_id, provider, endpoint, request_key, \
    fetched_at, http_status, attempts, body_sha256, body_size, body_encoding, body) \
    FROM STDIN WITH (FORMAT binary)";

impl RawPages for PgConnection {
    async fn store_raw(
        &mut self,
        run_id: i64,
        pages: &[LandedPage],
    ) -> Result<RawIds, WarehouseError> {
        let count = pages.len();
        let ids = reserve_ids(
            self,
            "raw_responses",
            "raw_id",
            count,
            "reserve raw body ids",
        )
        .await?;
        let stored: usize = pages.iter().map(|page| page.raw.stored.len()).sum();
        let mut rows = BinaryRows::with_capacity(stored + pages.len() * 200);
        let mut raw_ids = RawIds::with_capacity(pages.len());
        for (page, id) in pages.iter().zip(ids) {
            let key = page.request_key();
            let raw = &page.raw;
            rows.row(12);
            rows.int8(Some(id));
            rows.int8(Some(run_id));
            rows.text(Some("elkassa"));
            rows.text(Some(USERS_ENDPOINT));
            rows.text(Some(&key));
            rows.instant(Some(raw.fetched_at));
            rows.int4(i32::from(raw.http_status));
            rows.int4(raw.attempts as i32);
            rows.text(Some(&raw.sha256));
            rows.int4(raw.size as i32);
            rows.text(Some(raw.encoding));
            rows.bytes(&raw.stored);
            raw_ids.insert(key, id);
        }
        copy_binary(self, COPY_RAW, rows, "store raw bodies").await?;
        Ok(raw_ids)
    }
}

impl RawPages for SqliteConnection {
    async fn store_raw(
        &mut self,
        run_id: i64,
        pages: &[LandedPage],
    ) -> Result<RawIds, WarehouseError> {
        let mut raw_ids = RawIds::with_capacity(pages.len());
        for chunk in pages.chunks(ROWS_PER_STATEMENT / 10) {
            let mut insert = QueryBuilder::new(sql::INSERT_RAW);
            insert.push_values(chunk, |mut row, page| {
                row.push_bind(run_id)
                    .push_bind("elkassa")
                    .push_bind(USERS_ENDPOINT)
                    .push_bind(page.request_key())
                    .push_bind(page.raw.fetched_at)
                    .push_bind(i32::from(page.raw.http_status))
                    .push_bind(page.raw.attempts as i32)
                    .push_bind(page.raw.sha256.as_str())
                    .push_bind(page.raw.size as i32)
                    .push_bind(page.raw.encoding)
                    .push_bind(page.raw.stored.as_slice());
            });
            insert.push(" RETURNING raw_id, request_key");
            let ids: Vec<(i64, String)> = insert
                .build_query_as()
                .fetch_all(&mut *self)
                .await
                .map_err(op("store raw bodies"))?;
            raw_ids.extend(ids.into_iter().map(|(id, key)| (key, id)));
        }
        Ok(raw_ids)
    }
}
