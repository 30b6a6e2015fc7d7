//! Account rules: duplicates at one partner, the ledger against the partners'
//! listings (both ways), and accounts gone from a listing.

use super::contracts::with_aspect;
use super::detail::{to_findings, DetailField, Shown};
use super::matching::{live_customers, rows_among, text};
use super::{Frames, Kind, ReconcileError};
use polars::prelude::*;

/// Ledger states that mean the partner made the account.
const REGISTERED: [&str; 2] = ["registered", "already_registered"];

/// Findings of every account rule.
pub(super) fn findings(
    frames: &Frames,
    matched: &DataFrame,
) -> Result<Vec<DataFrame>, ReconcileError> {
    Ok(vec![
        duplicates(matched)?,
        missing_at_partner(frames, matched)?,
        unknown_to_ledger(frames, matched)?,
        removed(matched)?,
    ])
}

/// Accounts still listed, under their matched customer, with only the
/// columns a rule needs: a join copies every column it carries.
fn live(matched: &DataFrame, columns: &[&str]) -> LazyFrame {
    let mut selected = vec![
        col("provider"),
        col("external_id"),
        col("customer").alias("customer_id"),
    ];
    selected.extend(columns.iter().map(|name| col(*name)));
    matched
        .clone()
        .lazy()
        .filter(col("removed_ms").is_null())
        .select(selected)
}

fn collect(frame: LazyFrame) -> Result<DataFrame, ReconcileError> {
    frame.collect().map_err(ReconcileError::frame)
}

/// One customer holding several accounts at one partner: one finding per
/// (partner, customer), keyed by the lowest account id.
fn duplicates(matched: &DataFrame) -> Result<DataFrame, ReconcileError> {
    // Only the few holders' rows are copied and aggregated for the detail.
    let rows = duplicate_rows(matched)?;
    let holders = matched
        .select(["provider", "external_id", "customer", "email_norm"])
        .and_then(|columns| columns.take(&rows))
        .map_err(ReconcileError::frame)?;
    let groups = holders
        .lazy()
        .rename(["customer"], ["customer_id"], true)
        .group_by([col("provider"), col("customer_id")])
        .agg([
            len().alias("accounts"),
            col("external_id").min().alias("external_id"),
            col("external_id").max().alias("other_account"),
            col("email_norm").min().alias("email"),
        ]);
    let fields: &[DetailField] = &[
        ("accounts", "accounts", Shown::Int),
        ("first_account", "external_id", Shown::Text),
        ("last_account", "other_account", Shown::Text),
        ("email", "email", Shown::Text),
    ];
    to_findings(
        Kind::DuplicateAccount,
        collect(with_aspect(groups, None))?,
        fields,
    )
}

/// The rows of live accounts whose customer holds another live account at
/// the same partner.
///
/// (partner, customer) pairs are sorted as 16-byte keys and neighbours
/// compared: a group-by over every live account hashed two columns and held
/// its table at the peak of a reconcile, where this holds the keys only.
fn duplicate_rows(matched: &DataFrame) -> Result<IdxCa, ReconcileError> {
    let customers = live_customers(matched)?;
    let providers = text(matched, "provider")?;
    // Partners become small numbers, in the order first seen (a handful).
    let mut partners: Vec<&str> = Vec::new();
    let keys: Vec<Option<(u32, i64)>> = customers
        .iter()
        .zip(providers.iter())
        .map(|(customer, provider)| {
            let partner = partner_index(&mut partners, provider?);
            Some((partner, (*customer)?))
        })
        .collect();
    let mut sorted: Vec<(u32, i64)> = keys.iter().flatten().copied().collect();
    sorted.sort_unstable();
    let mut holders: Vec<(u32, i64)> = sorted
        .windows(2)
        .filter(|pair| pair[0] == pair[1])
        .map(|pair| pair[0])
        .collect();
    drop(sorted);
    holders.dedup();
    Ok(rows_among(keys.into_iter(), &holders))
}

/// `provider`'s number in `partners`, added when new.
fn partner_index<'a>(partners: &mut Vec<&'a str>, provider: &'a str) -> u32 {
    let index = match partners.iter().position(|known| *known == provider) {
        Some(index) => index,
        None => {
            partners.push(provider);
            partners.len() - 1
        }
    };
    index as u32
}

/// The latest listing time per partner: a partner never listed is not judged.
fn listed_at(matched: &DataFrame) -> LazyFrame {
    matched
        .clone()
        .lazy()
        .group_by([col("provider")])
        .agg([col("last_seen_ms").max().alias("listed_ms")])
}

/// Registered per the ledger before the partner's latest listing, yet never in a listing.
fn missing_at_partner(frames: &Frames, matched: &DataFrame) -> Result<DataFrame, ReconcileError> {
    let keys = [col("provider"), col("external_id")];
    let known = matched.clone().lazy().select(keys.clone());
    let rows = frames
        .ledger
        .clone()
        .lazy()
        .filter(
            col("state")
                .eq(lit(REGISTERED[0]))
                .or(col("state").eq(lit(REGISTERED[1])))
                .and(col("external_id").is_not_null()),
        )
        .join(known, keys.clone(), keys, JoinArgs::new(JoinType::Anti))
        .inner_join(listed_at(matched), col("provider"), col("provider"))
        .filter(col("updated_ms").lt(col("listed_ms")));
    let fields: &[DetailField] = &[
        ("ledger_row", "row_key", Shown::Text),
        ("state", "state", Shown::Text),
        ("ledger_updated_at", "updated_ms", Shown::Time),
    ];
    to_findings(
        Kind::MissingAtPartner,
        collect(with_aspect(rows, None))?,
        fields,
    )
}

/// Listed accounts the ledger has no row for, among those registered since
/// the ledger began for that partner (older accounts predate onboarding).
fn unknown_to_ledger(frames: &Frames, matched: &DataFrame) -> Result<DataFrame, ReconcileError> {
    let keys = [col("provider"), col("external_id")];
    let made = frames
        .ledger
        .clone()
        .lazy()
        .filter(col("external_id").is_not_null())
        .select(keys.clone());
    let began = ledger_began(&frames.ledger)?;
    // Narrow to accounts registered since their partner's ledger began
    // before anything is joined: a join would copy every live account.
    let rows = live(
        matched,
        &["registered_ms", "first_seen_ms", "email_norm", "shop_name"],
    )
    .filter(coalesce(&[col("registered_ms"), col("first_seen_ms")]).gt_eq(began))
    .join(made, keys.clone(), keys, JoinArgs::new(JoinType::Anti));
    let fields: &[DetailField] = &[
        ("registered_at", "registered_ms", Shown::Time),
        ("email", "email_norm", Shown::Text),
        ("shop_name", "shop_name", Shown::Text),
    ];
    to_findings(
        Kind::UnknownToLedger,
        collect(with_aspect(rows, None))?,
        fields,
    )
}

/// Per account, when its partner's ledger began (its first row), as an
/// expression; null for a partner without a ledger, so none of its accounts pass.
fn ledger_began(ledger: &DataFrame) -> Result<Expr, ReconcileError> {
    let began = ledger
        .clone()
        .lazy()
        .group_by([col("provider")])
        .agg([col("created_ms").min().alias("began_ms")])
        .collect()
        .map_err(ReconcileError::frame)?;
    let providers = began.column("provider").and_then(|c| c.str().cloned());
    let times = began.column("began_ms").and_then(|c| c.i64().cloned());
    let (providers, times) = (
        providers.map_err(ReconcileError::frame)?,
        times.map_err(ReconcileError::frame)?,
    );
    let mut began = lit(NULL).cast(DataType::Int64);
    for (provider, time) in providers.iter().zip(times.iter()) {
        if let (Some(provider), Some(time)) = (provider, time) {
            began = when(col("provider").eq(lit(provider.to_owned())))
                .then(lit(time))
                .otherwise(began);
        }
    }
    Ok(began)
}

/// Accounts a complete listing no longer had.
fn removed(matched: &DataFrame) -> Result<DataFrame, ReconcileError> {
    let rows = matched
        .clone()
        .lazy()
        .filter(col("removed_ms").is_not_null())
        .drop(cols(["customer_id"]))
        .rename(["customer"], ["customer_id"], true);
    let fields: &[DetailField] = &[
        ("removed_at", "removed_ms", Shown::Time),
        ("last_seen_at", "last_seen_ms", Shown::Time),
        ("email", "email_norm", Shown::Text),
    ];
    to_findings(
        Kind::AccountRemoved,
        collect(with_aspect(rows, None))?,
        fields,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_live_accounts_sharing_a_customer_at_one_partner() {
        let matched = df!(
            "provider" => ["elkassa", "elkassa", "mcp", "elkassa", "elkassa", "mcp", "mcp"],
            "customer" => [Some(1i64), Some(2), Some(1), Some(1), Some(2), None, None],
            "removed_ms" => [None, None, None, None, Some(5i64), None, None],
        )
        .unwrap();
        // Row 2 is the same customer at another partner, row 4 is removed,
        // rows 5 and 6 have no customer: only rows 0 and 3 hold duplicates.
        let rows: Vec<IdxSize> = duplicate_rows(&matched)
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(rows, [0, 3]);
    }
}
