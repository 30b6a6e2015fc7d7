//! Filling the per-connection staging tables: Postgres takes a CSV `COPY`
//! (one round trip, no bind parameters to parse), SQLite multi-row INSERTs.

use super::rows::{AccountRow, BranchRow};
use super::{sql, ROWS_PER_STATEMENT};
use crate::warehouse::copy::{copy_csv, csv_instant as instant, csv_int, csv_text as text};
use crate::warehouse::{op, WarehouseError};
use sqlx::{PgConnection, QueryBuilder, SqliteConnection};
use std::collections::HashMap;
use std::fmt::Write;

/// An account of a batch to merge in full.
#[derive(Debug)]
pub struct StagedAccount<'a> {
    /// Request key of the page it came from (its raw body).
    pub request_key: String,
    /// The listed values.
    pub row: &'a AccountRow,
    /// Digest of the listed values (`provider_accounts.source_digest`).
    pub digest: i64,
}

/// Accounts of a batch to merge in full.
pub type StagedAccounts<'a> = [StagedAccount<'a>];
/// Branches of a batch with their shop's registration id.
pub type StagedBranches<'a> = [(&'a str, &'a BranchRow)];

/// A connection that can load the staging tables.
pub trait Staging {
    /// Loads one batch into `stage_accounts` and `stage_branches`.
    async fn stage(
        &mut self,
        accounts: &StagedAccounts<'_>,
        branches: &StagedBranches<'_>,
        raw_ids: &HashMap<String, i64>,
    ) -> Result<(), WarehouseError>;
}

impl Staging for PgConnection {
    async fn stage(
        &mut self,
        accounts: &StagedAccounts<'_>,
        branches: &StagedBranches<'_>,
        raw_ids: &HashMap<String, i64>,
    ) -> Result<(), WarehouseError> {
        let mut csv = String::with_capacity(accounts.len() * 300);
        for account in accounts {
            let raw_id = raw_ids.get(account.request_key.as_str()).copied();
            account_csv(&mut csv, account.row, raw_id, account.digest);
        }
        copy(self, sql::COPY_STAGE_ACCOUNTS, &csv).await?;
        csv.clear();
        for (registration_id, branch) in branches {
            for field in [
                Some(*registration_id),
                Some(branch.cabang_id.as_str()),
                branch.name.as_deref(),
            ] {
                text(&mut csv, field);
                csv.push(',');
            }
            text(&mut csv, branch.address.as_deref());
            csv.push('\n');
        }
        copy(self, sql::COPY_STAGE_BRANCHES, &csv).await
    }
}

async fn copy(conn: &mut PgConnection, statement: &str, csv: &str) -> Result<(), WarehouseError> {
    copy_csv(conn, statement, csv, "stage rows").await
}

/// One `stage_accounts` line in Postgres CSV: unquoted empty is NULL.
fn account_csv(out: &mut String, account: &AccountRow, raw_id: Option<i64>, digest: i64) {
    let texts = [
        Some(account.external_id.as_str()),
        account.email.as_deref(),
        account.email_norm.as_deref(),
        account.shop_name.as_deref(),
        account.address.as_deref(),
        account.user_type.as_deref(),
        account.user_type_desc.as_deref(),
        account.status.as_deref(),
    ];
    for field in texts {
        text(out, field);
        out.push(',');
    }
    instant(out, account.registered_at);
    for field in [
        account.contract_id.as_deref(),
        account.packet_id.as_deref(),
        account.contract_notes.as_deref(),
    ] {
        out.push(',');
        text(out, field);
    }
    out.push_str(if account.is_trial { ",t," } else { ",f," });
    instant(out, account.expires_at);
    out.push(',');
    csv_int(out, raw_id);
    let _ = writeln!(out, ",{digest}");
}

impl Staging for SqliteConnection {
    async fn stage(
        &mut self,
        accounts: &StagedAccounts<'_>,
        branches: &StagedBranches<'_>,
        raw_ids: &HashMap<String, i64>,
    ) -> Result<(), WarehouseError> {
        for chunk in accounts.chunks(ROWS_PER_STATEMENT) {
            let mut insert = QueryBuilder::new(sql::STAGE_ACCOUNTS_INSERT);
            insert.push_values(chunk, |mut row, staged| {
                let account = staged.row;
                row.push_bind(account.external_id.as_str())
                    .push_bind(account.email.as_deref())
                    .push_bind(account.email_norm.as_deref())
                    .push_bind(account.shop_name.as_deref())
                    .push_bind(account.address.as_deref())
                    .push_bind(account.user_type.as_deref())
                    .push_bind(account.user_type_desc.as_deref())
                    .push_bind(account.status.as_deref())
                    .push_bind(account.registered_at)
                    .push_bind(account.contract_id.as_deref())
                    .push_bind(account.packet_id.as_deref())
                    .push_bind(account.contract_notes.as_deref())
                    .push_bind(account.is_trial)
                    .push_bind(account.expires_at)
                    .push_bind(raw_ids.get(staged.request_key.as_str()).copied())
                    .push_bind(staged.digest);
            });
            insert
                .build()
                .execute(&mut *self)
                .await
                .map_err(op("stage accounts"))?;
        }
        for chunk in branches.chunks(ROWS_PER_STATEMENT) {
            let mut insert = QueryBuilder::new(sql::STAGE_BRANCHES_INSERT);
            insert.push_values(chunk, |mut row, (registration_id, branch)| {
                row.push_bind(*registration_id)
                    .push_bind(branch.cabang_id.as_str())
                    .push_bind(branch.name.as_deref())
                    .push_bind(branch.address.as_deref());
            });
            insert
                .build()
                .execute(&mut *self)
                .await
                .map_err(op("stage branches"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_text_doubles_quotes_and_leaves_nulls_unquoted() {
        let account = AccountRow {
            external_id: "ELK1".into(),
            shop_name: Some("Toko \"Murah\", Jaya".into()),
            is_trial: true,
            ..AccountRow::default()
        };
        let mut out = String::new();
        account_csv(&mut out, &account, Some(7), -3);
        assert_eq!(
            out,
            "\"ELK1\",,,\"Toko \"\"Murah\"\", Jaya\",,,,,,,,,t,,7,-3\n"
        );
    }
}
