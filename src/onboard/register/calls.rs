//! MCP, QM and the middleware: partners whose answer to a repeated request
//! settles an unanswered one (a duplicate is "already registered"; a ticket
//! posted again is polled, never opened twice).

use super::prepare::Task;
use super::registrars::{complete, Registrars};
use super::PartnerOutcome;
use crate::onboard::{LoginMethod, Partner};
use crate::providers::mcp::{ClientRegistration, McpClient, McpError, McpOutcome};
use crate::providers::middleware::{MiddlewareClient, MiddlewareError, TicketOutcome};
use crate::providers::qm::{self, QmClient, QmCustomer, QmError, QmOutcome};
use crate::warehouse::{AccountFacts, TicketPoll, Warehouse, WarehouseError};

/// Why a call failed, as far as the ledger cares.
enum Failure {
    /// The request may have been applied: `unknown`, resolved next run.
    Ambiguous,
    /// Refused before sending: the row breaks a partner rule (`rejected`).
    Invalid,
    /// Credentials refused: `failed`, and no more calls to the partner this run.
    Refused,
    /// Anything else: `failed`, sent again next run.
    Other,
}

impl Failure {
    /// The ledger state of the entry; a refusal also stops calls to `partner`.
    fn state(self, registrars: &Registrars, partner: Partner) -> &'static str {
        match self {
            Failure::Ambiguous => "unknown",
            Failure::Invalid => "rejected",
            Failure::Refused => {
                registrars.refuse(partner);
                "failed"
            }
            Failure::Other => "failed",
        }
    }
}

/// The resolution recorded when a resend settles an earlier ambiguous call.
fn duplicate_resolution(task: &Task<'_>) -> &'static str {
    if task.entry.is_ambiguous() {
        "duplicate_answer"
    } else {
        "answer"
    }
}

/// Registers the row with MCP; an earlier unanswered call is settled by MCP's duplicate answer.
pub(super) async fn run_mcp(
    registrars: &Registrars,
    client: &McpClient,
    warehouse: &Warehouse,
    task: &Task<'_>,
    run_id: i64,
) -> Result<PartnerOutcome, WarehouseError> {
    let row = task.row;
    let request = ClientRegistration {
        name: row.name.clone(),
        email: row.email.clone().unwrap_or_default(),
        password: row.password.clone().unwrap_or_default(),
        phone: row.phone.clone().unwrap_or_default(),
        company: row.company.clone().unwrap_or_default(),
        address: row.address.clone().unwrap_or_default(),
        logo: row.logo.clone().unwrap_or_default(),
        pic: row.pic.clone(),
    };
    let id = task.entry.ledger_id;
    registrars.admit(Partner::Mcp).await;
    if !warehouse.mark_sent(&task.entry, None).await? {
        return Ok(PartnerOutcome::busy());
    }
    match client.register(&request).await {
        Ok(McpOutcome::Registered {
            external_id,
            expires_at,
            message,
        }) => {
            record(warehouse, task, &external_id, "registered", run_id).await?;
            warehouse
                .record_mcp_activation(&external_id, expires_at, run_id)
                .await?;
            complete(
                warehouse,
                id,
                "registered",
                Some(&external_id),
                Some("answer"),
                &message,
            )
            .await
        }
        Ok(McpOutcome::AlreadyRegistered { message }) => {
            let resolution = duplicate_resolution(task);
            complete(
                warehouse,
                id,
                "already_registered",
                None,
                Some(resolution),
                &message,
            )
            .await
        }
        Ok(McpOutcome::Rejected { code, message }) => {
            let message = format!("{message} (resultCode {code})");
            complete(warehouse, id, "rejected", None, Some("answer"), &message).await
        }
        Err(err) => {
            let failure = match &err {
                McpError::Ambiguous { .. } => Failure::Ambiguous,
                McpError::Invalid { .. } => Failure::Invalid,
                McpError::Auth { .. } => Failure::Refused,
                _ => Failure::Other,
            };
            let state = failure.state(registrars, Partner::Mcp);
            complete(warehouse, id, state, None, None, &err.to_string()).await
        }
    }
}

/// Registers the row with QM; QM's "already registered" settles an earlier unanswered call.
pub(super) async fn run_qm(
    registrars: &Registrars,
    client: &QmClient,
    warehouse: &Warehouse,
    task: &Task<'_>,
    run_id: i64,
) -> Result<PartnerOutcome, WarehouseError> {
    let row = task.row;
    let method = row.login_method.unwrap_or(LoginMethod::Email);
    let customer = QmCustomer {
        legal_full_name: row.name.clone(),
        identity_number: row.identity_number.clone().unwrap_or_default(),
        email: row.email.clone(),
        phone_number: row.phone.clone(),
        primary_login_method: match method {
            LoginMethod::Email => qm::LoginMethod::Email,
            LoginMethod::Phone => qm::LoginMethod::PhoneNumber,
        },
    };
    let login = match method {
        LoginMethod::Email => row.email.clone(),
        LoginMethod::Phone => row.phone.clone(),
    }
    .unwrap_or_default();
    let id = task.entry.ledger_id;
    registrars.admit(Partner::Qm).await;
    if !warehouse.mark_sent(&task.entry, Some(&login)).await? {
        return Ok(PartnerOutcome::busy());
    }
    match client.register(&customer).await {
        Ok(QmOutcome::Registered {
            session_id,
            expired_on,
            message,
        }) => {
            record(warehouse, task, &login, "unverified", run_id).await?;
            warehouse
                .record_otp_session(&session_id, task.customer_id, id, &login, expired_on)
                .await?;
            complete(
                warehouse,
                id,
                "registered",
                Some(&login),
                Some("answer"),
                &message,
            )
            .await
        }
        Ok(QmOutcome::AlreadyRegistered { message }) => {
            record(warehouse, task, &login, "registered", run_id).await?;
            let resolution = duplicate_resolution(task);
            complete(
                warehouse,
                id,
                "already_registered",
                Some(&login),
                Some(resolution),
                &message,
            )
            .await
        }
        Ok(QmOutcome::Rejected { code, message }) => {
            let message = format!("{message} (code {code})");
            complete(warehouse, id, "rejected", None, Some("answer"), &message).await
        }
        Err(err) => {
            let failure = match &err {
                QmError::Ambiguous { .. } => Failure::Ambiguous,
                QmError::Invalid(_) => Failure::Invalid,
                QmError::Auth { .. } => Failure::Refused,
                _ => Failure::Other,
            };
            let state = failure.state(registrars, Partner::Qm);
            complete(warehouse, id, state, None, None, &err.to_string()).await
        }
    }
}

/// Opens an enrollment ticket; the ticket id is in the ledger before the
/// post, so an unanswered post is followed by the same ticket, not a new one.
pub(super) async fn run_middleware(
    registrars: &Registrars,
    client: &MiddlewareClient,
    warehouse: &Warehouse,
    task: &Task<'_>,
    run_id: i64,
) -> Result<PartnerOutcome, WarehouseError> {
    let id = task.entry.ledger_id;
    let ticket = task
        .entry
        .external_id
        .clone()
        .unwrap_or_else(|| client.new_ticket_id());
    registrars.admit(Partner::Middleware).await;
    // The ledger holds the ticket id before the ticket row exists, so a crash
    // in between still reuses this id: one ticket per row, ever.
    if !warehouse.mark_sent(&task.entry, Some(&ticket)).await? {
        return Ok(PartnerOutcome::busy());
    }
    warehouse.open_ticket(&ticket, task.customer_id, id).await?;
    let resolution = if task.entry.is_ambiguous() {
        "ticket_repost"
    } else {
        "answer"
    };
    match client.submit_ticket(&ticket).await {
        Ok(TicketOutcome::Pending) => {
            settle_ticket(warehouse, &ticket, "pending", None, None).await?;
            record(warehouse, task, &ticket, "pending", run_id).await?;
            let message = "enrollment in process; every sync polls the ticket";
            complete(
                warehouse,
                id,
                "registered",
                Some(&ticket),
                Some(resolution),
                message,
            )
            .await
        }
        Ok(TicketOutcome::Done {
            nik_status,
            resource_id,
        }) => {
            settle_ticket(
                warehouse,
                &ticket,
                "done",
                Some(&nik_status),
                Some(&resource_id),
            )
            .await?;
            record(warehouse, task, &ticket, "enrolled", run_id).await?;
            let message = format!("enrolled (NIK status {nik_status})");
            complete(
                warehouse,
                id,
                "registered",
                Some(&ticket),
                Some(resolution),
                &message,
            )
            .await
        }
        Ok(TicketOutcome::Rejected { code, message }) => {
            settle_ticket(warehouse, &ticket, "failed", None, None).await?;
            let code = code
                .map(|code| format!(" (code {code})"))
                .unwrap_or_default();
            let message = format!("{message}{code}");
            complete(
                warehouse,
                id,
                "rejected",
                Some(&ticket),
                Some("answer"),
                &message,
            )
            .await
        }
        Err(err) => {
            let failure = match &err {
                MiddlewareError::Ambiguous { .. } => Failure::Ambiguous,
                MiddlewareError::Auth { .. } => Failure::Refused,
                _ => Failure::Other,
            };
            let state = failure.state(registrars, Partner::Middleware);
            complete(warehouse, id, state, Some(&ticket), None, &err.to_string()).await
        }
    }
}

async fn settle_ticket(
    warehouse: &Warehouse,
    ticket: &str,
    state: &str,
    nik_status: Option<&str>,
    resource_id: Option<&str>,
) -> Result<(), WarehouseError> {
    let poll = TicketPoll {
        state,
        nik_status,
        resource_id,
        message: None,
    };
    warehouse.record_ticket_poll(ticket, &poll).await
}

async fn record(
    warehouse: &Warehouse,
    task: &Task<'_>,
    external_id: &str,
    status: &str,
    run_id: i64,
) -> Result<(), WarehouseError> {
    let account = AccountFacts {
        provider: task.partner.as_str(),
        external_id,
        customer_id: task.customer_id,
        match_rule: task.match_rule,
        status,
        facts: &task.facts,
        address: task.row.address.as_deref(),
        run_id,
    };
    warehouse.record_account(&account).await
}
