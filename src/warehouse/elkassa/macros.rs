//! The statements of a batch's transaction, as macros so one body serves
//! both backends' transaction types (`dual!` binds a different `tx` type
//! in each arm).

/// Merges the staged rows into the warehouse; evaluates to history rows added.
macro_rules! merge_staged {
    ($tx:ident, $at:expr, $run_id:expr, $postgres:expr, $freeze:expr) => {{
        sqlx::query(sql::MERGE_CUSTOMERS)
            .bind($at)
            .execute(&mut *$tx)
            .await
            .map_err(op("merge customers"))?;
        merge_staged_accounts!($tx, $at, $run_id, $postgres, $freeze)
    }};
}

/// The merge after customers: accounts, contracts with history, branches;
/// evaluates to history rows added.
macro_rules! merge_staged_accounts {
    ($tx:ident, $at:expr, $run_id:expr, $postgres:expr, $freeze:expr) => {{
        let run = |statement: &'static str| sqlx::query(statement).bind($at).bind($run_id);
        if $freeze {
            sqlx::query(sql::FREEZE_BRANCHES)
                .execute(&mut *$tx)
                .await
                .map_err(op("freeze dropped branches"))?;
        }
        run(sql::MERGE_ACCOUNTS)
            .execute(&mut *$tx)
            .await
            .map_err(op("merge accounts"))?;
        let opened = if $postgres {
            run(sql::MERGE_CONTRACTS_WITH_HISTORY_POSTGRES)
                .execute(&mut *$tx)
                .await
                .map_err(op("merge contracts"))?
        } else {
            sqlx::query(sql::CLOSE_HISTORY)
                .bind($at)
                .execute(&mut *$tx)
                .await
                .map_err(op("close contract history"))?;
            let opened = run(sql::OPEN_HISTORY)
                .execute(&mut *$tx)
                .await
                .map_err(op("add contract history"))?;
            run(sql::MERGE_CONTRACTS)
                .execute(&mut *$tx)
                .await
                .map_err(op("merge contracts"))?;
            opened
        };
        run(sql::MERGE_BRANCHES)
            .execute(&mut *$tx)
            .await
            .map_err(op("merge branches"))?;
        opened.rows_affected()
    }};
}

/// Records the batch's pages (and their rejected entries) as committed.
macro_rules! write_checkpoints {
    ($tx:ident, $run_id:expr, $pages:expr, $raw_ids:expr, $at:expr) => {
        // A verification re-read can land a page twice in one batch: keep the last.
        let mut latest: HashMap<(u32, u32), &LandedPage> = HashMap::with_capacity($pages.len());
        for page in $pages {
            latest.insert((page.pass, page.page), page);
        }
        let checkpoints: Vec<&LandedPage> = latest.into_values().collect();
        for chunk in checkpoints.chunks(ROWS_PER_STATEMENT / 10) {
            let mut insert = QueryBuilder::new(sql::INSERT_CHECKPOINT);
            insert.push_values(chunk, |mut row, page| {
                row.push_bind($run_id)
                    .push_bind("elkassa")
                    .push_bind(page.pass as i32)
                    .push_bind(page.page as i32)
                    .push_bind(page.entries as i32)
                    .push_bind(
                        $raw_ids
                            .get(&page.request_key())
                            .copied()
                            .unwrap_or_default(),
                    )
                    .push_bind($at);
            });
            insert.push(sql::CHECKPOINT_CONFLICT);
            insert
                .build()
                .execute(&mut *$tx)
                .await
                .map_err(op("write checkpoint"))?;
        }
        for page in checkpoints.iter().filter(|page| page.pass == 0) {
            for issue in &page.issues {
                sqlx::query(sql::INSERT_ISSUE)
                    .bind($run_id)
                    .bind(page.request_key())
                    .bind(issue.position as i32)
                    .bind(issue.external_id.as_deref())
                    .bind(issue.severity)
                    .bind(issue.field)
                    .bind(&issue.message)
                    .execute(&mut *$tx)
                    .await
                    .map_err(op("record issue"))?;
            }
        }
    };
}
