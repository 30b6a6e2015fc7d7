//! `enrollment_tickets`: middleware e-KTP tickets, opened by onboarding and
//! polled by every sync until they are done or failed.

use super::{dual, op, Warehouse, WarehouseError};
use chrono::{DateTime, Utc};

/// A ticket still waiting for the middleware.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingTicket {
    /// The TicketId to post again.
    pub ticket_id: String,
    /// The customer being enrolled.
    pub customer_id: Option<i64>,
    /// Posts so far.
    pub polls: i32,
    /// When the ticket was made.
    pub created_at: DateTime<Utc>,
}

/// Where a poll left a ticket.
#[derive(Debug, Clone)]
pub struct TicketPoll<'a> {
    /// `pending`, `done` or `failed`.
    pub state: &'a str,
    /// The middleware's verdict on the NIK, once done.
    pub nik_status: Option<&'a str>,
    /// `ResourceId` once done.
    pub resource_id: Option<&'a str>,
    /// The middleware's message.
    pub message: Option<&'a str>,
}

impl Warehouse {
    /// Records a ticket the moment it is made, before it is first posted.
    pub async fn open_ticket(
        &self,
        ticket_id: &str,
        customer_id: i64,
        ledger_id: i64,
    ) -> Result<(), WarehouseError> {
        let sql = "INSERT INTO enrollment_tickets (ticket_id, customer_id, ledger_id, state, created_at) \
                   VALUES ($1, $2, $3, 'pending', $4) ON CONFLICT (ticket_id) DO NOTHING";
        dual!(self, Warehouse, pool => {
            sqlx::query(sql)
                .bind(ticket_id)
                .bind(customer_id)
                .bind(ledger_id)
                .bind(Utc::now())
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(op("open ticket"))
        })
    }

    /// Records one post of a ticket and what the middleware said. A ticket
    /// that is done or failed keeps that state.
    pub async fn record_ticket_poll(
        &self,
        ticket_id: &str,
        poll: &TicketPoll<'_>,
    ) -> Result<(), WarehouseError> {
        let sql =
            "UPDATE enrollment_tickets SET state = $2, nik_status = COALESCE($3, nik_status), \
                   resource_id = COALESCE($4, resource_id), last_message = $5, polls = polls + 1, \
                   first_polled_at = COALESCE(first_polled_at, $6), last_polled_at = $6, \
                   done_at = CASE WHEN $2 <> 'pending' THEN $6 ELSE done_at END \
                   WHERE ticket_id = $1 AND state = 'pending'";
        dual!(self, Warehouse, pool => {
            sqlx::query(sql)
                .bind(ticket_id)
                .bind(poll.state)
                .bind(poll.nik_status)
                .bind(poll.resource_id)
                .bind(poll.message)
                .bind(Utc::now())
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(op("record ticket poll"))
        })
    }

    /// Tickets still pending, oldest first.
    pub async fn pending_tickets(&self) -> Result<Vec<PendingTicket>, WarehouseError> {
        dual!(self, Warehouse, pool => {
            sqlx::query_as::<_, PendingTicket>(
                "SELECT ticket_id, customer_id, polls, created_at FROM enrollment_tickets \
                 WHERE state = 'pending' ORDER BY created_at, ticket_id",
            )
            .fetch_all(pool)
            .await
            .map_err(op("read pending tickets"))
        })
    }

    /// Sets the status of a middleware account (its ticket) once a poll settles it.
    pub async fn settle_ticket_account(
        &self,
        ticket_id: &str,
        status: &str,
        run_id: i64,
    ) -> Result<(), WarehouseError> {
        let sql = "UPDATE provider_accounts SET status = $2, last_seen_at = $3, last_seen_run = $4 \
                   WHERE provider = 'middleware' AND external_id = $1 AND status IS DISTINCT FROM $2";
        dual!(self, Warehouse, pool => {
            sqlx::query(sql)
                .bind(ticket_id)
                .bind(status)
                .bind(Utc::now())
                .bind(run_id)
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(op("settle ticket account"))
        })
    }
}
