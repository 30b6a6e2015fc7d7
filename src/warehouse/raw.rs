//! Raw partner bodies: compressed on the way in, pruned after retention.

use super::{dual, op, Warehouse, WarehouseError};
use crate::providers::http::Fetched;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::cell::RefCell;

/// zstd level: fast enough to keep up with the listing, ~5x smaller on JSON.
const LEVEL: i32 = 3;

thread_local! {
    // Creating a zstd context costs more than compressing a 5 KB page, so
    // each thread keeps one.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
}

/// A partner body as `raw_responses` stores it: hashed, compressed, with its metadata.
#[derive(Debug, Clone)]
pub struct RawBody {
    /// HTTP status of the answer.
    pub http_status: u16,
    /// When it arrived.
    pub fetched_at: DateTime<Utc>,
    /// Attempts it took.
    pub attempts: u32,
    /// SHA-256 of the body as received, hex.
    pub sha256: String,
    /// Size as received.
    pub size: usize,
    /// `zstd` or `identity`.
    pub encoding: &'static str,
    /// The stored bytes.
    pub stored: Vec<u8>,
}

impl RawBody {
    /// Hashes and compresses a fetched body (done on the fetching task, so
    /// this CPU work spreads over cores instead of queueing at the writer).
    pub fn land(fetched: &Fetched) -> Self {
        let body = fetched.body.as_ref();
        let compressed = COMPRESSOR.with(|cell| {
            let mut cell = cell.borrow_mut();
            if cell.is_none() {
                *cell = zstd::bulk::Compressor::new(LEVEL).ok();
            }
            cell.as_mut()
                .and_then(|compressor| compressor.compress(body).ok())
        });
        let (encoding, stored) = match compressed {
            Some(bytes) => ("zstd", bytes),
            None => ("identity", body.to_vec()),
        };
        Self {
            http_status: fetched.http_status,
            fetched_at: fetched.fetched_at,
            attempts: fetched.attempts,
            sha256: hex(&Sha256::digest(body)),
            size: body.len(),
            encoding,
            stored,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 15)] as char);
    }
    out
}

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
    fn a_landed_body_keeps_its_hash_size_and_bytes() {
        let body = bytes::Bytes::from(br#"{"status":true,"data":[]}"#.repeat(20));
        let fetched = Fetched {
            http_status: 200,
            body: body.clone(),
            fetched_at: Utc::now(),
            attempts: 2,
        };
        let raw = RawBody::land(&fetched);
        assert_eq!(raw.encoding, "zstd");
        assert_eq!(raw.size, body.len());
        assert_eq!(raw.sha256.len(), 64);
        assert_eq!(
            decompress_body(&raw.stored, raw.size).unwrap(),
            body.as_ref()
        );
    }

    #[test]
    fn a_body_survives_compression_and_shrinks() {
        let body = br#"{"status":true,"data":[{"registration_id":"ELK1"}]}"#.repeat(50);
        let stored = compress_body(&body);
        assert!(stored.len() * 4 < body.len());
        assert_eq!(decompress_body(&stored, body.len()).unwrap(), body);
    }
}
