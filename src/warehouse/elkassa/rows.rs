//! Rows the ELKASSA loader merges, as the sync hands them over.

use crate::warehouse::raw::RawBody;
use chrono::{DateTime, Utc};

/// One ELKASSA account with its current contract, ready to merge.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountRow {
    /// `registration_id`.
    pub external_id: String,
    /// Email as listed.
    pub email: Option<String>,
    /// Email trimmed and lower-cased: the customer match key.
    pub email_norm: Option<String>,
    /// Shop name.
    pub shop_name: Option<String>,
    /// Shop address.
    pub address: Option<String>,
    /// User type code.
    pub user_type: Option<String>,
    /// User type description (first `user_type_desc`).
    pub user_type_desc: Option<String>,
    /// Account status (last `user_type_desc`).
    pub status: Option<String>,
    /// Registration instant.
    pub registered_at: Option<DateTime<Utc>>,
    /// Contract id.
    pub contract_id: Option<String>,
    /// Packet id, when listed.
    pub packet_id: Option<String>,
    /// Packet name as the partner writes it.
    pub contract_notes: Option<String>,
    /// Whether the contract is a trial.
    pub is_trial: bool,
    /// Contract end.
    pub expires_at: Option<DateTime<Utc>>,
    /// The shop's branches.
    pub branches: Vec<BranchRow>,
}

/// One ELKASSA branch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BranchRow {
    /// Branch id.
    pub cabang_id: String,
    /// Branch name.
    pub name: Option<String>,
    /// Branch address.
    pub address: Option<String>,
}

/// A listing entry that was rejected, or loaded with a field left empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordIssue {
    /// Position in the page, from 0.
    pub position: u32,
    /// Partner id, when the entry had one.
    pub external_id: Option<String>,
    /// `rejected` or `warning`.
    pub severity: &'static str,
    /// Field at fault.
    pub field: Option<&'static str>,
    /// What was wrong.
    pub message: String,
}

/// A fetched listing page with its normalized rows.
#[derive(Debug, Clone)]
pub struct LandedPage {
    /// 0 for the first read, 1.. for drift-repair re-reads.
    pub pass: u32,
    /// Page number.
    pub page: u32,
    /// The body as it will be stored.
    pub raw: RawBody,
    /// Entries the page held, duplicates and rejects included.
    pub entries: u32,
    /// Usable accounts.
    pub accounts: Vec<AccountRow>,
    /// Entries with problems.
    pub issues: Vec<RecordIssue>,
}

impl LandedPage {
    /// `raw_responses.request_key` of this page.
    pub fn request_key(&self) -> String {
        format!("p{}:{}", self.pass, self.page)
    }
}

/// What one batch wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Distinct accounts landed (merged, or noted as listed unchanged).
    pub accounts: u64,
    /// Distinct branches landed (merged, or listed with an unchanged account).
    pub branches: u64,
    /// Branches listed with the accounts found unchanged (not written:
    /// the view `branches` reads their last sighting from the account).
    pub unchanged_branches: u64,
    /// Contract versions added.
    pub history_rows: u64,
    /// New accounts a first load copied straight into the tables (not merged).
    pub copied_accounts: u64,
    /// Bytes of raw bodies as received.
    pub raw_bytes: u64,
    /// Bytes of raw bodies as stored.
    pub stored_bytes: u64,
    /// Where the batch's time went.
    pub phases: PhaseTimes,
}

/// Wall-clock time of a loader's phases (for the benchmark's breakdown).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhaseTimes {
    /// Storing raw bodies.
    pub raw: std::time::Duration,
    /// Refreshing accounts listed unchanged.
    pub refresh: std::time::Duration,
    /// Filling the staging tables.
    pub stage: std::time::Duration,
    /// Merging into customers, accounts, contracts, history, branches.
    pub merge: std::time::Duration,
    /// Checkpoints, record issues and the commit.
    pub commit: std::time::Duration,
    /// Refreshing planner statistics.
    pub analyze: std::time::Duration,
}

impl std::ops::AddAssign for PhaseTimes {
    fn add_assign(&mut self, other: Self) {
        self.raw += other.raw;
        self.refresh += other.refresh;
        self.stage += other.stage;
        self.merge += other.merge;
        self.commit += other.commit;
        self.analyze += other.analyze;
    }
}

/// What the removal sweep marked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepStats {
    /// Accounts newly marked removed.
    pub accounts_removed: u64,
    /// Branches newly marked removed.
    pub branches_removed: u64,
}

/// Where a run's listing leaves the ELKASSA accounts and branches, counted
/// in one scan per table: the sweep skips a table with nothing unseen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Census {
    /// Accounts the run saw (`last_seen_run` is the run).
    pub accounts_seen: i64,
    /// Accounts not marked removed.
    pub accounts_active: i64,
    /// Active accounts the run did not see.
    pub accounts_unseen: i64,
    /// Branches the run saw.
    pub branches_seen: i64,
    /// Active branches the run did not see.
    pub branches_unseen: i64,
}

/// A packet of the reference data, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketRow {
    /// Packet id.
    pub packet_id: String,
    /// Packet code.
    pub packet_code: Option<String>,
    /// Packet name.
    pub packet_desc: Option<String>,
    /// Derived length in days.
    pub duration_days: Option<i32>,
    /// Whether it is a trial packet.
    pub is_trial: bool,
}
