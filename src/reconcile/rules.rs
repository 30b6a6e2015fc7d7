//! Every rule over the frames, in a fixed order, into one findings frame
//! with one row per finding key.

use super::{accounts, contracts, detail, identity, onboarding, Frames, Kind, ReconcileError};
use crate::config::ReconcileConfig;
use chrono::{DateTime, Utc};
use polars::prelude::*;
use std::collections::BTreeMap;
use std::time::Instant;

/// Every rule over the frames, as one findings frame (one row per key).
///
/// Takes the frames by value and lets go of each table once the last rule
/// reading it has run, so the peak is the largest phase, not their sum.
pub fn compute(
    mut frames: Frames,
    matched: DataFrame,
    config: &ReconcileConfig,
    now: DateTime<Utc>,
) -> Result<DataFrame, ReconcileError> {
    let now_ms = now.timestamp_millis();
    let mut lap = Lap::start();
    // Every rule reads the matched copy; the customers served matching only.
    frames.accounts = DataFrame::empty();
    frames.customers = DataFrame::empty();
    let mut parts = onboarding::findings(&frames, config, now_ms)?;
    lap.mark("onboarding rules");
    frames.sessions = DataFrame::empty();
    frames.tickets = DataFrame::empty();
    let base = contracts::live_contracts(&frames, &matched)?;
    lap.mark("live contracts");
    frames.contracts = DataFrame::empty();
    frames.packets = DataFrame::empty();
    parts.extend(contracts::findings(&base, config, now_ms)?);
    lap.mark("contract rules");
    drop(base);
    parts.extend(accounts::findings(&frames, &matched)?);
    lap.mark("account rules");
    drop(frames);
    parts.push(identity::findings(&matched)?);
    lap.mark("identity rule");
    drop(matched);
    let mut all = detail::empty_findings();
    for part in parts {
        all.vstack_mut(&part).map_err(ReconcileError::frame)?;
    }
    let all = one_row_per_key(all)?;
    lap.mark("one row per finding key");
    Ok(all)
}

/// `findings` sorted by key, each key once: the first a rule raised (rules
/// run in a fixed order, and a stable sort keeps it among equal keys).
/// One string sort and a neighbour compare, not a hash of every key too.
fn one_row_per_key(findings: DataFrame) -> Result<DataFrame, ReconcileError> {
    let sorted = findings
        .sort(
            ["finding_key"],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .map_err(ReconcileError::frame)?;
    let keys = sorted
        .column("finding_key")
        .and_then(|c| c.str())
        .map_err(ReconcileError::frame)?;
    let mut previous = None;
    let first: BooleanChunked = keys
        .iter()
        .enumerate()
        .map(|(row, key)| {
            let first = row == 0 || key != previous;
            previous = key;
            first
        })
        .collect();
    sorted.filter(&first).map_err(ReconcileError::frame)
}

/// Logs how long each step of a reconcile took and the memory held after
/// it (at debug), so a slow or swollen night says which rule grew.
pub(super) struct Lap(Instant);

impl Lap {
    pub(super) fn start() -> Self {
        Lap(Instant::now())
    }

    pub(super) fn mark(&mut self, step: &'static str) {
        tracing::debug!(
            step,
            seconds = self.0.elapsed().as_secs_f64(),
            resident = crate::telemetry::resident_memory(),
            peak = crate::telemetry::peak_memory(),
            "reconcile step done"
        );
        self.0 = Instant::now();
    }
}

/// Findings per kind, every kind present (zero when none).
pub fn count_kinds(findings: &DataFrame) -> Result<BTreeMap<&'static str, u64>, ReconcileError> {
    let kinds = findings
        .column("kind")
        .and_then(|c| c.str().cloned())
        .map_err(ReconcileError::frame)?;
    let mut counts: BTreeMap<&'static str, u64> =
        Kind::ALL.iter().map(|kind| (kind.as_str(), 0)).collect();
    for kind in kinds.iter().flatten() {
        if let Some(count) = counts.get_mut(kind) {
            *count += 1;
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_finding_key_is_kept_once_sorted_with_the_first_raised_winning() {
        let findings = df!(
            "finding_key" => ["b", "a", "b", "c", "a"],
            "detail" => ["b1", "a1", "b2", "c1", "a2"],
        )
        .unwrap();
        let kept = one_row_per_key(findings).unwrap();
        let column = |name: &str| -> Vec<Option<String>> {
            let values = kept.column(name).unwrap().str().unwrap().clone();
            values.iter().map(|v| v.map(str::to_owned)).collect()
        };
        let some = |values: &[&str]| -> Vec<Option<String>> {
            values.iter().map(|v| Some((*v).to_owned())).collect()
        };
        assert_eq!(column("finding_key"), some(&["a", "b", "c"]));
        assert_eq!(column("detail"), some(&["a1", "b1", "c1"]));
    }
}
