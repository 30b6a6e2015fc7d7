//! Contract rules: trials expiring and expired, expired-but-active, and
//! packet mismatches (notes, length, an activation paid for another packet).

use super::detail::{to_findings, DetailField, Shown};
use super::matching::text;
use super::{Frames, Kind, ReconcileError};
use crate::config::ReconcileConfig;
use polars::prelude::*;

const DAY_MS: i64 = 86_400_000;

/// Findings of every contract rule, over [`live_contracts`].
pub(super) fn findings(
    base: &DataFrame,
    config: &ReconcileConfig,
    now_ms: i64,
) -> Result<Vec<DataFrame>, ReconcileError> {
    let window_end = now_ms + i64::from(config.trial_window_days) * DAY_MS;
    let trial = col("is_trial").eq(lit(1i64));
    let ended = col("expires_ms").lt_eq(lit(now_ms));
    let expiring = trial
        .clone()
        .and(col("expires_ms").gt(lit(now_ms)))
        .and(col("expires_ms").lt_eq(lit(window_end)));
    let active = coalesce(&[col("contract_status"), col("status")])
        .str()
        .to_uppercase()
        .eq(lit("ACTIVE"));
    let expiry: &[DetailField] = &[
        ("expires_at", "expires_ms", Shown::Time),
        ("packet_id", "packet_id", Shown::Text),
        ("packet", "packet_desc", Shown::Text),
    ];
    let status: &[DetailField] = &[
        ("expires_at", "expires_ms", Shown::Time),
        ("packet_id", "packet_id", Shown::Text),
        ("status", "contract_status", Shown::Text),
    ];
    Ok(vec![
        rule(base, Kind::TrialExpiring, expiring, None, expiry)?,
        rule(
            base,
            Kind::TrialExpired,
            trial.clone().and(ended.clone()),
            None,
            status,
        )?,
        rule(
            base,
            Kind::ExpiredButActive,
            ended.and(active),
            None,
            status,
        )?,
        notes_mismatch(base)?,
        length_mismatch(base)?,
        activation_mismatch(base)?,
    ])
}

/// Every contract with its account's matched customer, status and
/// registration and its packet, plus `listed`: whether its account is still
/// listed (rules judge only those).
///
/// Built by gathering the few added columns by row index, not by joins: a
/// join copies every contract column, twice with the packets, and was the
/// largest transient of a reconcile.
pub(super) fn live_contracts(
    frames: &Frames,
    matched: &DataFrame,
) -> Result<DataFrame, ReconcileError> {
    let contracts = &frames.contracts;
    let account_rows = account_rows(contracts, matched)?;
    let listed = account_rows.is_not_null().with_name("listed".into());
    let accounts = matched
        .select(["customer", "status", "registered_ms"])
        .and_then(|columns| columns.take(&account_rows))
        .map_err(ReconcileError::frame)?;
    let packet_rows = packet_rows(contracts, &frames.packets)?;
    let packets = frames
        .packets
        .drop("packet_id")
        .and_then(|columns| columns.take(&packet_rows))
        .map_err(ReconcileError::frame)?;
    let mut base = contracts.clone();
    let added = accounts
        .columns()
        .iter()
        .chain(packets.columns())
        .cloned()
        .chain([listed.into_series().into_column()]);
    for column in added {
        base.with_column(column).map_err(ReconcileError::frame)?;
    }
    base.rename("customer", "customer_id".into())
        .map_err(ReconcileError::frame)?;
    Ok(base)
}

/// Per contract, the row of its account in `matched` if still listed, else null.
///
/// Only the partners that hold contracts are indexed (ELKASSA and MCP, not
/// the accounts of the other two), so the map is the size of the contracts.
fn account_rows(contracts: &DataFrame, matched: &DataFrame) -> Result<IdxCa, ReconcileError> {
    let (providers, ids) = (
        text(contracts, "provider")?,
        text(contracts, "external_id")?,
    );
    let mut holders: Vec<&str> = Vec::new();
    for provider in providers.iter().flatten() {
        if !holders.contains(&provider) {
            holders.push(provider);
        }
    }
    let removed = matched
        .column("removed_ms")
        .and_then(|c| c.i64())
        .map_err(ReconcileError::frame)?;
    let (account_providers, account_ids) =
        (text(matched, "provider")?, text(matched, "external_id")?);
    let mut rows = PlHashMap::with_capacity(contracts.height());
    for (row, ((provider, id), removed)) in account_providers
        .iter()
        .zip(account_ids.iter())
        .zip(removed.iter())
        .enumerate()
    {
        if let (Some(provider), Some(id), None) = (provider, id, removed) {
            if holders.contains(&provider) {
                rows.insert((provider, id), row as IdxSize);
            }
        }
    }
    Ok(providers
        .iter()
        .zip(ids.iter())
        .map(|(provider, id)| rows.get(&(provider?, id?)).copied())
        .collect())
}

/// Per contract, the row of its packet in `packets`, null when unknown.
fn packet_rows(contracts: &DataFrame, packets: &DataFrame) -> Result<IdxCa, ReconcileError> {
    let rows: PlHashMap<&str, IdxSize> = text(packets, "packet_id")?
        .iter()
        .enumerate()
        .filter_map(|(row, id)| Some((id?, row as IdxSize)))
        .collect();
    Ok(text(contracts, "packet_id")?
        .iter()
        .map(|id| rows.get(id?).copied())
        .collect())
}

/// The rows of `base` matching `filter`, as findings of `kind`.
fn rule(
    base: &DataFrame,
    kind: Kind,
    filter: Expr,
    aspect: Option<&str>,
    fields: &[DetailField],
) -> Result<DataFrame, ReconcileError> {
    let rows = with_aspect(
        base.clone().lazy().filter(col("listed").and(filter)),
        aspect,
    )
    .collect()
    .map_err(ReconcileError::frame)?;
    to_findings(kind, rows, fields)
}

/// Adds the `aspect` column every rule frame carries.
pub(super) fn with_aspect(frame: LazyFrame, aspect: Option<&str>) -> LazyFrame {
    let aspect = match aspect {
        Some(aspect) => lit(aspect),
        None => lit(NULL).cast(DataType::String),
    };
    frame.with_column(aspect.alias("aspect"))
}

/// `contract_notes` names another packet than the contract is on.
fn notes_mismatch(base: &DataFrame) -> Result<DataFrame, ReconcileError> {
    let filter = col("notes_key")
        .is_not_null()
        .and(col("desc_key").is_not_null())
        .and(col("notes_key").neq(col("desc_key")));
    let fields: &[DetailField] = &[
        ("packet_id", "packet_id", Shown::Text),
        ("packet", "packet_desc", Shown::Text),
        ("contract_notes", "contract_notes", Shown::Text),
    ];
    rule(base, Kind::PacketMismatch, filter, Some("notes"), fields)
}

/// A trial's length (registration to expiry) is not the packet's length, give or take a day.
fn length_mismatch(base: &DataFrame) -> Result<DataFrame, ReconcileError> {
    let off_by = col("expires_ms") - col("registered_ms") - col("duration_days") * lit(DAY_MS);
    let filter = col("is_trial")
        .eq(lit(1i64))
        .and(col("duration_days").is_not_null())
        .and(off_by.clone().gt(lit(DAY_MS)).or(off_by.lt(lit(-DAY_MS))));
    let fields: &[DetailField] = &[
        ("packet_id", "packet_id", Shown::Text),
        ("packet_days", "duration_days", Shown::Int),
        ("registered_at", "registered_ms", Shown::Time),
        ("expires_at", "expires_ms", Shown::Time),
    ];
    rule(base, Kind::PacketMismatch, filter, Some("length"), fields)
}

/// An MCP activation paid for one packet while ELKASSA shows the same customer on another.
fn activation_mismatch(base: &DataFrame) -> Result<DataFrame, ReconcileError> {
    let paid = base
        .clone()
        .lazy()
        .filter(
            col("listed")
                .and(col("provider").eq(lit("mcp")))
                .and(col("packet_id").is_not_null()),
        )
        .select([
            col("customer_id"),
            col("external_id").alias("mcp_account"),
            col("packet_id").alias("paid_packet"),
        ]);
    // Only the columns the finding shows: the ELKASSA side is most of `base`.
    let rows = base
        .clone()
        .lazy()
        .filter(
            col("listed")
                .and(col("provider").eq(lit("elkassa")))
                .and(col("customer_id").is_not_null()),
        )
        .select([
            col("provider"),
            col("external_id"),
            col("customer_id"),
            col("packet_id"),
        ])
        .inner_join(paid, col("customer_id"), col("customer_id"))
        .filter(col("packet_id").neq_missing(col("paid_packet")));
    let rows = with_aspect(rows, Some("activation"))
        .collect()
        .map_err(ReconcileError::frame)?;
    let fields: &[DetailField] = &[
        ("elkassa_packet", "packet_id", Shown::Text),
        ("paid_packet", "paid_packet", Shown::Text),
        ("mcp_account", "mcp_account", Shown::Text),
    ];
    to_findings(Kind::PacketMismatch, rows, fields)
}
