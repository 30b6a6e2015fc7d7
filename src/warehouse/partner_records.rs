//! What registrations leave in the warehouse: customers matched across
//! partners, accounts at partners without a listing (MCP, QM, middleware),
//! MCP activations, QM one-time-code sessions and middleware tickets.

use super::{dual, op, Warehouse, WarehouseError};
use chrono::{DateTime, Utc};

/// What a drop row says about a customer. No password; the national ID only
/// as its keyed hash and last four digits.
#[derive(Debug, Clone, Default)]
pub struct CustomerFacts {
    /// Legal full name.
    pub legal_name: Option<String>,
    /// Shop or company name.
    pub shop_name: Option<String>,
    /// Email, lower-cased.
    pub email: Option<String>,
    /// Phone in E.164.
    pub phone_e164: Option<String>,
    /// Keyed hash of the national ID.
    pub identity_hash: Option<String>,
    /// Last four digits of the national ID.
    pub identity_last4: Option<String>,
}

/// Which rule matched a row to an existing customer, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchRule {
    /// Same national-ID hash.
    Identity,
    /// Same email.
    Email,
    /// Same phone.
    Phone,
    /// No match: a new customer.
    New,
}

impl MatchRule {
    /// The value stored in `provider_accounts.match_rule`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchRule::Identity => "identity",
            MatchRule::Email => "email",
            MatchRule::Phone => "phone",
            MatchRule::New => "new",
        }
    }
}

/// An account at a partner without a listing, as the registration left it.
#[derive(Debug, Clone)]
pub struct AccountFacts<'a> {
    /// Partner name.
    pub provider: &'a str,
    /// The partner's id (MCP client_id, QM login, middleware ticket).
    pub external_id: &'a str,
    /// The customer.
    pub customer_id: i64,
    /// How the customer was matched.
    pub match_rule: MatchRule,
    /// Account status in the partner's words, or ours (`registered`, `pending`).
    pub status: &'a str,
    /// What the row sent.
    pub facts: &'a CustomerFacts,
    /// Address sent.
    pub address: Option<&'a str>,
    /// The onboarding run.
    pub run_id: i64,
}

impl Warehouse {
    /// Finds the row's customer (national-ID hash, then email, then phone)
    /// or creates one, and fills fields the customer lacks.
    pub async fn match_customer(
        &self,
        facts: &CustomerFacts,
    ) -> Result<(i64, MatchRule), WarehouseError> {
        let probes = [
            (MatchRule::Identity, "identity_hash", &facts.identity_hash),
            (MatchRule::Email, "email", &facts.email),
            (MatchRule::Phone, "phone_e164", &facts.phone_e164),
        ];
        for (rule, column, value) in probes {
            let Some(value) = value else { continue };
            let sql = format!(
                "SELECT customer_id FROM customers WHERE {column} = $1 ORDER BY customer_id LIMIT 1"
            );
            let found = dual!(self, Warehouse, pool => {
                sqlx::query_scalar::<_, i64>(&sql).bind(value).fetch_optional(pool).await
                    .map_err(op("match customer"))
            })?;
            if let Some(customer_id) = found {
                self.fill_customer(customer_id, facts).await?;
                return Ok((customer_id, rule));
            }
        }
        Ok((self.insert_customer(facts).await?, MatchRule::New))
    }

    async fn insert_customer(&self, facts: &CustomerFacts) -> Result<i64, WarehouseError> {
        // A sync may insert the same email between our look-up and here.
        let sql = "INSERT INTO customers (legal_name, shop_name, email, phone_e164, identity_hash, \
                   identity_last4, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
                   ON CONFLICT (email) DO UPDATE SET updated_at = customers.updated_at RETURNING customer_id";
        dual!(self, Warehouse, pool => {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(&facts.legal_name)
                .bind(&facts.shop_name)
                .bind(&facts.email)
                .bind(&facts.phone_e164)
                .bind(&facts.identity_hash)
                .bind(&facts.identity_last4)
                .bind(Utc::now())
                .fetch_one(pool)
                .await
                .map_err(op("insert customer"))
        })
    }

    /// Fills empty customer fields; never overwrites one (a differing value is
    /// a finding for reconciliation, not ours to decide), and never takes an
    /// email another customer holds.
    async fn fill_customer(
        &self,
        customer_id: i64,
        facts: &CustomerFacts,
    ) -> Result<(), WarehouseError> {
        let sql = "UPDATE customers SET \
                   legal_name = COALESCE(legal_name, $2), shop_name = COALESCE(shop_name, $3), \
                   email = CASE WHEN email IS NULL AND NOT EXISTS (SELECT 1 FROM customers other WHERE other.email = $4) \
                                THEN $4 ELSE email END, \
                   phone_e164 = COALESCE(phone_e164, $5), identity_hash = COALESCE(identity_hash, $6), \
                   identity_last4 = COALESCE(identity_last4, $7), updated_at = $8 \
                   WHERE customer_id = $1 AND ((legal_name IS NULL AND $2 IS NOT NULL) \
                      OR (shop_name IS NULL AND $3 IS NOT NULL) \
                      OR (email IS NULL AND $4 IS NOT NULL AND NOT EXISTS (SELECT 1 FROM customers held WHERE held.email = $4)) \
                      OR (phone_e164 IS NULL AND $5 IS NOT NULL) OR (identity_hash IS NULL AND $6 IS NOT NULL))";
        dual!(self, Warehouse, pool => {
            sqlx::query(sql)
                .bind(customer_id)
                .bind(&facts.legal_name)
                .bind(&facts.shop_name)
                .bind(&facts.email)
                .bind(&facts.phone_e164)
                .bind(&facts.identity_hash)
                .bind(&facts.identity_last4)
                .bind(Utc::now())
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(op("fill customer"))
        })
    }

    /// Records (or refreshes) an account at a partner that publishes no listing.
    pub async fn record_account(&self, account: &AccountFacts<'_>) -> Result<(), WarehouseError> {
        let sql = "INSERT INTO provider_accounts (provider, external_id, customer_id, status, email, shop_name, \
                   address, legal_name, phone_e164, identity_hash, identity_last4, match_rule, registered_at, \
                   first_seen_at, last_seen_at, last_seen_run) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $13, $14) \
                   ON CONFLICT (provider, external_id) DO UPDATE SET status = excluded.status, \
                   last_seen_at = excluded.last_seen_at, last_seen_run = excluded.last_seen_run \
                   WHERE provider_accounts.status IS DISTINCT FROM excluded.status";
        let facts = account.facts;
        dual!(self, Warehouse, pool => {
            sqlx::query(sql)
                .bind(account.provider)
                .bind(account.external_id)
                .bind(account.customer_id)
                .bind(account.status)
                .bind(&facts.email)
                .bind(&facts.shop_name)
                .bind(account.address)
                .bind(&facts.legal_name)
                .bind(&facts.phone_e164)
                .bind(&facts.identity_hash)
                .bind(&facts.identity_last4)
                .bind(account.match_rule.as_str())
                .bind(Utc::now())
                .bind(account.run_id)
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(op("record account"))
        })
    }

    /// Records MCP's activation of a client: `expiredDate` as the contract's expiry.
    pub async fn record_mcp_activation(
        &self,
        client_id: &str,
        expires_at: Option<DateTime<Utc>>,
        run_id: i64,
    ) -> Result<(), WarehouseError> {
        let sql = "INSERT INTO contracts (provider, external_id, contract_id, is_trial, expires_at, status, \
                   updated_at, updated_run) VALUES ('mcp', $1, $1, $2, $3, 'ACTIVE', $4, $5) \
                   ON CONFLICT (provider, external_id) DO NOTHING";
        dual!(self, Warehouse, pool => {
            sqlx::query(sql)
                .bind(client_id)
                .bind(false)
                .bind(expires_at)
                .bind(Utc::now())
                .bind(run_id)
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(op("record MCP activation"))
        })
    }

    /// The ELKASSA `registration_id` a sync has listed for `email`, if any.
    pub async fn elkassa_id_by_email(&self, email: &str) -> Result<Option<String>, WarehouseError> {
        dual!(self, Warehouse, pool => {
            sqlx::query_scalar::<_, String>(
                "SELECT external_id FROM provider_accounts WHERE provider = 'elkassa' AND email = $1 \
                 AND removed_at IS NULL ORDER BY first_seen_at, external_id LIMIT 1",
            )
            .bind(email)
            .fetch_optional(pool)
            .await
            .map_err(op("find ELKASSA account by email"))
        })
    }

    /// Records a QM one-time-code session.
    pub async fn record_otp_session(
        &self,
        session_id: &str,
        customer_id: i64,
        ledger_id: i64,
        login: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), WarehouseError> {
        let sql = "INSERT INTO otp_sessions (session_id, customer_id, ledger_id, login, expires_at, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (session_id) DO NOTHING";
        dual!(self, Warehouse, pool => {
            sqlx::query(sql)
                .bind(session_id)
                .bind(customer_id)
                .bind(ledger_id)
                .bind(login)
                .bind(expires_at)
                .bind(Utc::now())
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(op("record OTP session"))
        })
    }
}
