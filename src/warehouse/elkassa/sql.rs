//! SQL of the ELKASSA loader, shared by both backends unless named otherwise.
//! `$1` is always the batch instant, `$2` the run id.

// Postgres staging carries no index: rows are de-duplicated before COPY,
// merges drive from staging into the targets' indexes, and an index would
// cost on every COPY and every truncation. The tables keep their rows past
// commit: `ON COMMIT DELETE ROWS` truncated both at every commit of a
// transaction that touched any temp table, a few milliseconds each even
// when empty, which every nightly batch paid for staging nothing. The
// loader truncates them only before staging over earlier rows.
pub const STAGE_ACCOUNTS_POSTGRES: &str = "CREATE TEMP TABLE IF NOT EXISTS stage_accounts (
    external_id text NOT NULL, email text, email_norm text, shop_name text, address text,
    user_type text, user_type_desc text, status text, registered_at timestamptz,
    contract_id text, packet_id text, contract_notes text, is_trial boolean, expires_at timestamptz,
    raw_id bigint, source_digest bigint)";

pub const STAGE_BRANCHES_POSTGRES: &str = "CREATE TEMP TABLE IF NOT EXISTS stage_branches (
    registration_id text NOT NULL, cabang_id text NOT NULL, name text, address text)";

pub const STAGE_ACCOUNTS_SQLITE: &str = "CREATE TEMP TABLE IF NOT EXISTS stage_accounts (
    external_id TEXT PRIMARY KEY, email TEXT, email_norm TEXT, shop_name TEXT, address TEXT,
    user_type TEXT, user_type_desc TEXT, status TEXT, registered_at TEXT,
    contract_id TEXT, packet_id TEXT, contract_notes TEXT, is_trial INTEGER, expires_at TEXT,
    raw_id INTEGER, source_digest INTEGER)";

pub const STAGE_BRANCHES_SQLITE: &str = "CREATE TEMP TABLE IF NOT EXISTS stage_branches (
    registration_id TEXT, cabang_id TEXT, name TEXT, address TEXT,
    PRIMARY KEY (registration_id, cabang_id))";

pub const STAGE_ACCOUNTS_INSERT: &str = "INSERT INTO stage_accounts (external_id, email, email_norm, shop_name, \
    address, user_type, user_type_desc, status, registered_at, contract_id, packet_id, contract_notes, is_trial, \
    expires_at, raw_id, source_digest) ";

pub const COPY_STAGE_ACCOUNTS: &str = "COPY stage_accounts (external_id, email, email_norm, shop_name, address, \
    user_type, user_type_desc, status, registered_at, contract_id, packet_id, contract_notes, is_trial, expires_at, \
    raw_id, source_digest) FROM STDIN WITH (FORMAT csv)";

pub const COPY_STAGE_BRANCHES: &str =
    "COPY stage_branches (registration_id, cabang_id, name, address) FROM STDIN WITH (FORMAT csv)";

pub const STAGE_BRANCHES_INSERT: &str =
    "INSERT INTO stage_branches (registration_id, cabang_id, name, address) ";

pub const INSERT_RAW: &str =
    "INSERT INTO raw_responses (run_id, provider, endpoint, request_key, fetched_at, \
    http_status, attempts, body_sha256, body_size, body_encoding, body) ";

pub const INSERT_CHECKPOINT: &str =
    "INSERT INTO sync_pages (run_id, provider, pass, page, entries, raw_id, committed_at) ";

pub const CHECKPOINT_CONFLICT: &str = " ON CONFLICT (run_id, provider, pass, page) DO UPDATE SET \
    entries = excluded.entries, raw_id = excluded.raw_id, committed_at = excluded.committed_at";

pub const INSERT_ISSUE: &str =
    "INSERT INTO sync_record_issues (run_id, provider, request_key, position, external_id, \
    severity, field, message) VALUES ($1, 'elkassa', $2, $3, $4, $5, $6, $7)";

/// Customers are matched on the normalized email; the first shop name seen sticks.
macro_rules! merge_customers {
    () => {
        "INSERT INTO customers (email, shop_name, created_at, updated_at) \
        SELECT s.email_norm, MIN(s.shop_name), $1, $1 FROM stage_accounts s WHERE s.email_norm IS NOT NULL \
        GROUP BY s.email_norm ORDER BY s.email_norm \
        ON CONFLICT (email) DO NOTHING"
    };
}

pub const MERGE_CUSTOMERS: &str = merge_customers!();

/// Postgres, during a first load: the customers the merge created, so
/// the run's later batches name them directly.
pub const MERGE_CUSTOMERS_RETURNING: &str =
    concat!(merge_customers!(), " RETURNING customer_id, email");

/// Accounts join their customer by the normalized email and record that
/// rule (`new` when they have none), which is what reconcile's matching
/// decides for an ELKASSA account (it lists no national ID or phone): a
/// warehouse's first reconcile then rewrites only the accounts it matches
/// otherwise, not every account.
pub const MERGE_ACCOUNTS: &str = "INSERT INTO provider_accounts (provider, external_id, customer_id, match_rule, \
    status, email, shop_name, address, user_type, user_type_desc, registered_at, first_seen_at, last_seen_at, \
    last_seen_run, merged_run, source_raw_id, source_digest) \
    SELECT 'elkassa', s.external_id, c.customer_id, CASE WHEN c.customer_id IS NULL THEN 'new' ELSE 'email' END, \
    s.status, s.email, s.shop_name, s.address, s.user_type, \
    s.user_type_desc, s.registered_at, $1, $1, $2, $2, s.raw_id, s.source_digest \
    FROM stage_accounts s LEFT JOIN customers c ON c.email = s.email_norm WHERE true ORDER BY s.external_id \
    ON CONFLICT (provider, external_id) DO UPDATE SET customer_id = excluded.customer_id, \
    match_rule = excluded.match_rule, status = excluded.status, \
    email = excluded.email, shop_name = excluded.shop_name, address = excluded.address, \
    user_type = excluded.user_type, user_type_desc = excluded.user_type_desc, registered_at = excluded.registered_at, \
    last_seen_at = excluded.last_seen_at, last_seen_run = excluded.last_seen_run, merged_run = excluded.merged_run, \
    removed_at = NULL, source_raw_id = excluded.source_raw_id, source_digest = excluded.source_digest";

/// Before a staged account's row is overwritten: its current branches (the
/// ones its latest full write listed) take the instant and run the view
/// `branches` showed for them, the shop's, so one this listing drops keeps
/// when it was last seen. A shop merged at its last sighting has nothing to
/// freeze (its branches already carry those values).
pub const FREEZE_BRANCHES: &str = "UPDATE branch_records SET last_seen_at = a.last_seen_at, \
    last_seen_run = a.last_seen_run \
    FROM stage_accounts s JOIN provider_accounts a ON a.provider = 'elkassa' AND a.external_id = s.external_id \
    WHERE branch_records.registration_id = s.external_id AND branch_records.removed_at IS NULL \
    AND branch_records.last_seen_run = a.merged_run AND a.last_seen_run <> a.merged_run";

/// The contract columns whose change makes a new history version
/// (`c` the stored contract, `s` the staged one).
macro_rules! changed {
    () => {
        "(c.contract_id, c.packet_id, c.contract_notes, c.is_trial, c.expires_at, c.status) \
         IS DISTINCT FROM (s.contract_id, s.packet_id, s.contract_notes, s.is_trial, s.expires_at, s.status)"
    };
}

pub const CLOSE_HISTORY: &str = concat!(
    "UPDATE contract_history SET valid_to = $1 \
     WHERE provider = 'elkassa' AND valid_to IS NULL AND external_id IN ( \
     SELECT s.external_id FROM stage_accounts s JOIN contracts c \
     ON c.provider = 'elkassa' AND c.external_id = s.external_id WHERE ",
    changed!(),
    ")"
);

pub const OPEN_HISTORY: &str = concat!(
    "INSERT INTO contract_history (provider, external_id, contract_id, packet_id, contract_notes, is_trial, \
     expires_at, status, valid_from, run_id) \
     SELECT 'elkassa', s.external_id, s.contract_id, s.packet_id, s.contract_notes, s.is_trial, s.expires_at, \
     s.status, $1, $2 \
     FROM stage_accounts s LEFT JOIN contracts c ON c.provider = 'elkassa' AND c.external_id = s.external_id \
     WHERE c.external_id IS NULL OR ",
    changed!()
);

/// Upsert of the staged contracts that touches only those whose values
/// changed; shared by both backends and the Postgres history statement.
macro_rules! upsert_changed_contracts {
    () => {
        "INSERT INTO contracts (provider, external_id, contract_id, packet_id, contract_notes, is_trial, \
         expires_at, status, updated_at, updated_run) \
         SELECT 'elkassa', s.external_id, s.contract_id, s.packet_id, s.contract_notes, s.is_trial, s.expires_at, \
         s.status, $1, $2 FROM stage_accounts s WHERE true ORDER BY s.external_id \
         ON CONFLICT (provider, external_id) DO UPDATE SET contract_id = excluded.contract_id, \
         packet_id = excluded.packet_id, contract_notes = excluded.contract_notes, is_trial = excluded.is_trial, \
         expires_at = excluded.expires_at, status = excluded.status, updated_at = excluded.updated_at, \
         updated_run = excluded.updated_run \
         WHERE (contracts.contract_id, contracts.packet_id, contracts.contract_notes, contracts.is_trial, \
         contracts.expires_at, contracts.status) IS DISTINCT FROM (excluded.contract_id, excluded.packet_id, \
         excluded.contract_notes, excluded.is_trial, excluded.expires_at, excluded.status)"
    };
}

pub const MERGE_CONTRACTS: &str = upsert_changed_contracts!();

pub const MERGE_BRANCHES: &str = "INSERT INTO branch_records (registration_id, cabang_id, name, address, first_seen_at, \
    last_seen_at, last_seen_run) \
    SELECT b.registration_id, b.cabang_id, b.name, b.address, $1, $1, $2 FROM stage_branches b WHERE true \
    ORDER BY b.registration_id, b.cabang_id \
    ON CONFLICT (registration_id, cabang_id) DO UPDATE SET name = excluded.name, address = excluded.address, \
    last_seen_at = excluded.last_seen_at, last_seen_run = excluded.last_seen_run, removed_at = NULL";

pub const UPSERT_PACKET: &str = "INSERT INTO packets (packet_id, packet_code, packet_desc, duration_days, is_trial, \
    first_seen_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
    ON CONFLICT (packet_id) DO UPDATE SET packet_code = excluded.packet_code, packet_desc = excluded.packet_desc, \
    duration_days = excluded.duration_days, is_trial = excluded.is_trial, last_seen_at = excluded.last_seen_at";

pub const SWEEP_ACCOUNTS: &str = "UPDATE provider_accounts SET removed_at = $1 \
    WHERE provider = 'elkassa' AND removed_at IS NULL AND last_seen_run <> $2";

/// Branches whose shop run `$2` did not see, or that its shop's latest full
/// write did not list, are removed, keeping the last_seen values the view
/// showed for them.
pub const SWEEP_BRANCHES: &str = "UPDATE branch_records SET removed_at = $1, \
    last_seen_at = CASE WHEN branch_records.last_seen_run = a.merged_run THEN a.last_seen_at \
    ELSE branch_records.last_seen_at END, \
    last_seen_run = CASE WHEN branch_records.last_seen_run = a.merged_run THEN a.last_seen_run \
    ELSE branch_records.last_seen_run END \
    FROM provider_accounts a WHERE a.provider = 'elkassa' AND a.external_id = branch_records.registration_id \
    AND branch_records.removed_at IS NULL AND (a.last_seen_run <> $2 OR branch_records.last_seen_run <> a.merged_run)";

/// Postgres: contracts and their history in one statement, so each staged
/// row probes `contracts` once. Data-modifying CTEs all see the snapshot
/// from before the statement, so the UPDATE closes only older versions.
/// `xmax <> 0` marks a row the upsert updated rather than inserted: only
/// those have a version to close (a first load probes history for none).
pub const MERGE_CONTRACTS_WITH_HISTORY_POSTGRES: &str = concat!(
    "WITH changed AS (",
    upsert_changed_contracts!(),
    " RETURNING external_id, contract_id, packet_id, contract_notes, is_trial, expires_at, status, \
    xmax <> 0 AS replaced \
), closed AS ( \
    UPDATE contract_history h SET valid_to = $1 FROM changed c \
    WHERE c.replaced AND h.provider = 'elkassa' AND h.external_id = c.external_id AND h.valid_to IS NULL \
    RETURNING h.history_id \
) \
INSERT INTO contract_history (provider, external_id, contract_id, packet_id, contract_notes, is_trial, expires_at, \
    status, valid_from, run_id) \
SELECT 'elkassa', c.external_id, c.contract_id, c.packet_id, c.contract_notes, c.is_trial, c.expires_at, c.status, \
    $1, $2 FROM changed c"
);

/// Seen, active and active-but-unseen accounts of run `$1`, in one scan.
pub const CENSUS_ACCOUNTS: &str = "SELECT \
    COALESCE(SUM(CASE WHEN last_seen_run = $1 THEN 1 ELSE 0 END), 0), \
    COALESCE(SUM(CASE WHEN removed_at IS NULL THEN 1 ELSE 0 END), 0), \
    COALESCE(SUM(CASE WHEN removed_at IS NULL AND last_seen_run <> $1 THEN 1 ELSE 0 END), 0) \
    FROM provider_accounts WHERE provider = 'elkassa'";

/// Seen and active-but-unseen branches of run `$1`, in one scan of the
/// view (current branches take their shop's last run).
pub const CENSUS_BRANCHES: &str = "SELECT \
    COALESCE(SUM(CASE WHEN last_seen_run = $1 THEN 1 ELSE 0 END), 0), \
    COALESCE(SUM(CASE WHEN removed_at IS NULL AND last_seen_run <> $1 THEN 1 ELSE 0 END), 0) \
    FROM branches";
