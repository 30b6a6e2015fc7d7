//! `[reconcile]`: windows and ages that decide when a finding is raised.

use serde::Deserialize;

/// Reconciliation settings (`[reconcile]`, or `REKON_RECONCILE_*`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReconcileConfig {
    /// A trial ending within this many days raises `trial_expiring`.
    pub trial_window_days: u32,
    /// A middleware ticket still pending this many hours after it was made raises `enrollment_stuck`.
    pub enrollment_stuck_hours: u32,
    /// Run reconcile as the last step of every `rekon sync`.
    pub after_sync: bool,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        Self {
            trial_window_days: 7,
            enrollment_stuck_hours: 24,
            after_sync: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use figment::Jail;
    use std::path::Path;

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail closures return figment::Result
    fn reconcile_keys_come_from_the_file_and_the_environment_wins() {
        Jail::expect_with(|jail| {
            jail.create_file("rekon.toml", "[reconcile]\ntrial_window_days = 10\n")?;
            jail.set_env("REKON_RECONCILE_ENROLLMENT_STUCK_HOURS", "6");
            let config = Config::load(Some(Path::new("rekon.toml"))).unwrap();
            assert_eq!(config.reconcile.trial_window_days, 10);
            assert_eq!(config.reconcile.enrollment_stuck_hours, 6);
            assert!(config.reconcile.after_sync);
            Ok(())
        });
    }
}
