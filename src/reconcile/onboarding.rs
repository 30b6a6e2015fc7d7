//! Rules over what onboarding leaves behind: QM one-time-code sessions and
//! middleware enrollment tickets.

use super::contracts::with_aspect;
use super::detail::{to_findings, DetailField, Shown};
use super::{Frames, Kind, ReconcileError};
use crate::config::ReconcileConfig;
use polars::prelude::*;

const HOUR_MS: i64 = 3_600_000;

/// Findings of both rules.
pub(super) fn findings(
    frames: &Frames,
    config: &ReconcileConfig,
    now_ms: i64,
) -> Result<Vec<DataFrame>, ReconcileError> {
    Ok(vec![
        otp_expired(frames, now_ms)?,
        enrollment_stuck(frames, config, now_ms)?,
    ])
}

/// A customer whose latest QM session expired and who never verified any
/// session (re-registering opens a new session; verifying one settles it).
fn otp_expired(frames: &Frames, now_ms: i64) -> Result<DataFrame, ReconcileError> {
    let owner = coalesce(&[col("customer_id").cast(DataType::String), col("session_id")]);
    let rows = frames
        .sessions
        .clone()
        .lazy()
        .with_column(owner.alias("owner"))
        .sort(
            ["owner", "created_ms", "session_id"],
            SortMultipleOptions::default().with_order_descending_multi([false, true, true]),
        )
        .group_by_stable([col("owner")])
        .agg([
            col("session_id").first().alias("external_id"),
            col("customer_id").first().alias("customer_id"),
            col("expires_ms").first().alias("expires_ms"),
            col("verified_ms").first().alias("latest_verified_ms"),
            col("verified_ms").max().alias("any_verified_ms"),
            len().alias("sessions"),
        ])
        .filter(
            col("any_verified_ms")
                .is_null()
                .and(col("expires_ms").lt_eq(lit(now_ms))),
        )
        .with_column(lit("qm").alias("provider"));
    let rows = with_aspect(rows, None)
        .collect()
        .map_err(ReconcileError::frame)?;
    let fields: &[DetailField] = &[
        ("expired_at", "expires_ms", Shown::Time),
        ("sessions", "sessions", Shown::Int),
    ];
    to_findings(Kind::OtpSessionExpired, rows, fields)
}

/// A middleware ticket still pending longer than `enrollment_stuck_hours` after it was made.
fn enrollment_stuck(
    frames: &Frames,
    config: &ReconcileConfig,
    now_ms: i64,
) -> Result<DataFrame, ReconcileError> {
    let cutoff = now_ms - i64::from(config.enrollment_stuck_hours) * HOUR_MS;
    let rows = frames
        .tickets
        .clone()
        .lazy()
        .filter(
            col("state")
                .eq(lit("pending"))
                .and(col("created_ms").lt_eq(lit(cutoff))),
        )
        .rename(["ticket_id"], ["external_id"], true)
        .with_column(lit("middleware").alias("provider"));
    let rows = with_aspect(rows, None)
        .collect()
        .map_err(ReconcileError::frame)?;
    let fields: &[DetailField] = &[
        ("created_at", "created_ms", Shown::Time),
        ("last_polled_at", "last_polled_ms", Shown::Time),
        ("polls", "polls", Shown::Int),
    ];
    to_findings(Kind::EnrollmentStuck, rows, fields)
}
