//! Before any call: match every valid row to a customer and open its ledger
//! entries; record rejected rows in the ledger with their reasons.

use crate::onboard::{identity_hash, identity_last4, row_key, Partner, RowError, ValidRow};
use crate::warehouse::{CustomerFacts, LedgerEntry, MatchRule, NewEntry, Warehouse};
use secrecy::{ExposeSecret, SecretString};

/// Why a file cannot be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// Rows carry national IDs but no key to hash them is configured.
    #[error(
        "{file}: {rows} rows carry a national ID (identity_number) but onboard.identity_hash_key \
         is not set (or REKON_ONBOARD_IDENTITY_HASH_KEY / onboard.identity_hash_key_file); \
         national IDs are stored only as a keyed hash"
    )]
    NoIdentityKey {
        /// The drop file.
        file: String,
        /// Rows with a national ID.
        rows: usize,
    },
    /// The warehouse failed.
    #[error(transparent)]
    Warehouse(#[from] crate::warehouse::WarehouseError),
}

/// One row bound for one partner, with what the ledger already knows.
#[derive(Debug)]
pub struct Task<'a> {
    /// The row.
    pub row: &'a ValidRow,
    /// The partner.
    pub partner: Partner,
    /// Its ledger entry as opened for this run.
    pub entry: LedgerEntry,
    /// The matched customer.
    pub customer_id: i64,
    /// How the customer was matched.
    pub match_rule: MatchRule,
    /// What the row says about the customer (no secrets).
    pub facts: CustomerFacts,
}

/// The calls a file needs.
#[derive(Debug)]
pub struct Plan<'a> {
    /// One per valid row and partner, in file order.
    pub tasks: Vec<Task<'a>>,
}

/// Opens the ledger for a file. Rejected rows get `rejected` entries for
/// each partner they named; valid rows get `pending` entries (or keep the
/// state an earlier run left them in).
pub async fn prepare<'a>(
    warehouse: &Warehouse,
    file: &str,
    rows: &'a [Result<ValidRow, RowError>],
    run_id: i64,
    identity_key: Option<&SecretString>,
) -> Result<Plan<'a>, PrepareError> {
    let with_identity = rows
        .iter()
        .filter(|row| matches!(row, Ok(valid) if valid.identity_number.is_some()))
        .count();
    if with_identity > 0 && identity_key.is_none() {
        return Err(PrepareError::NoIdentityKey {
            file: file.to_owned(),
            rows: with_identity,
        });
    }
    let mut tasks = Vec::new();
    for row in rows {
        match row {
            Ok(valid) => {
                let facts = customer_facts(valid, identity_key);
                let (customer_id, match_rule) = warehouse.match_customer(&facts).await?;
                for &partner in &valid.providers {
                    let entry = open(warehouse, file, valid, partner, customer_id, run_id).await?;
                    tasks.push(Task {
                        row: valid,
                        partner,
                        entry,
                        customer_id,
                        match_rule,
                        facts: facts.clone(),
                    });
                }
            }
            Err(rejected) => record_rejected(warehouse, file, rejected, run_id).await?,
        }
    }
    Ok(Plan { tasks })
}

async fn open(
    warehouse: &Warehouse,
    file: &str,
    row: &ValidRow,
    partner: Partner,
    customer_id: i64,
    run_id: i64,
) -> Result<LedgerEntry, PrepareError> {
    let key = row_key(file, &row.reference);
    let entry = NewEntry {
        source_file: file,
        source_row: row.line,
        row_key: &key,
        provider: partner.as_str(),
        state: "pending",
        customer_id: Some(customer_id),
        email: row.email.as_deref(),
        phone_e164: row.phone.as_deref(),
        last_error: None,
        run_id,
    };
    Ok(warehouse.open_entry(&entry).await?)
}

async fn record_rejected(
    warehouse: &Warehouse,
    file: &str,
    rejected: &RowError,
    run_id: i64,
) -> Result<(), PrepareError> {
    // Without a ref the row has no key: the rejects file is its record.
    let Some(reference) = rejected.reference.as_deref() else {
        return Ok(());
    };
    let key = row_key(file, reference);
    let reasons = rejected
        .reasons
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    for partner in &rejected.providers {
        let entry = NewEntry {
            source_file: file,
            source_row: rejected.line,
            row_key: &key,
            provider: partner.as_str(),
            state: "rejected",
            customer_id: None,
            email: None,
            phone_e164: None,
            last_error: Some(&reasons),
            run_id,
        };
        warehouse.open_entry(&entry).await?;
    }
    Ok(())
}

/// The customer as the row describes it: the national ID only hashed.
pub fn customer_facts(row: &ValidRow, identity_key: Option<&SecretString>) -> CustomerFacts {
    let identity = row.identity_number.as_ref().map(|id| id.expose_secret());
    CustomerFacts {
        legal_name: Some(row.name.clone()),
        shop_name: row.company.clone(),
        email: row.email.clone(),
        phone_e164: row.phone.clone(),
        identity_hash: identity
            .zip(identity_key)
            .map(|(id, key)| identity_hash(key.expose_secret().as_bytes(), id)),
        identity_last4: identity
            .map(identity_last4)
            .filter(|last4| !last4.is_empty()),
    }
}
