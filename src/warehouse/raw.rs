//! Raw partner bodies: compressed on the way in, pruned after retention.

use super::{dual, op, Warehouse, WarehouseError};
use chrono::{DateTime, Utc};

/// zstd level: fast enough to keep up with the listing, ~5x smaller on JSON.
const LEVEL: i32 = 3;

/// Compresses a body for `raw_responses.body` (encoding `zstd`).
pub fn compress_body(body: &[u8]) -> Vec<u8> {
    zstd::bulk::compress(body, LEVEL).expect("in-memory zstd compression cannot fail")
}

/// Restores a body stored with encoding `zstd`.
pub fn decompress_body(stored: &[u8], original_size: usize) -> std::io::Result<Vec<u8>> {
    zstd::bulk::decompress(stored, original_size.max(1))
}

impl Warehouse {
    /// Deletes raw bodies fetched before `cutoff`; returns how many went.
    pub async fn prune_raw(&self, cutoff: DateTime<Utc>) -> Result<u64, WarehouseError> {
        dual!(self, Warehouse, pool => {
            sqlx::query("DELETE FROM raw_responses WHERE fetched_at < $1")
                .bind(cutoff)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
                .map_err(op("prune raw responses"))
        })
    }

    /// Reads one raw body back, decompressed (for replay and tests).
    pub async fn raw_body(&self, raw_id: i64) -> Result<Option<Vec<u8>>, WarehouseError> {
        let row: Option<(String, i64, Vec<u8>)> = dual!(self, Warehouse, pool => {
            sqlx::query_as("SELECT body_encoding, CAST(body_size AS BIGINT), body FROM raw_responses WHERE raw_id = $1")
                .bind(raw_id)
                .fetch_optional(pool)
                .await
                .map_err(op("read raw body"))?
        });
        Ok(row.map(|(encoding, size, body)| match encoding.as_str() {
            "zstd" => decompress_body(&body, size as usize).unwrap_or_default(),
            _ => body,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_survives_compression_and_shrinks() {
        let body = br#"{"status":true,"data":[{"registration_id":"ELK1"}]}"#.repeat(50);
        let stored = compress_body(&body);
        assert!(stored.len() * 4 < body.len());
        assert_eq!(decompress_body(&stored, body.len()).unwrap(), body);
    }
}
