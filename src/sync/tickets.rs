//! The middleware's part of a sync: it publishes no listing, so each sync
//! posts every pending enrollment ticket again and records what it says.
//! Answers are not kept raw: a finished ticket carries the NIK and a photo.

use crate::outcome::RunStatus;
use crate::providers::middleware::{MiddlewareClient, MiddlewareError, TicketOutcome};
use crate::warehouse::{RunSummary, TicketPoll, Warehouse, WarehouseError};

/// Polls every pending ticket once and records the outcome of each.
pub async fn poll_tickets(
    warehouse: &Warehouse,
    run_id: i64,
    client: &MiddlewareClient,
) -> Result<RunSummary, WarehouseError> {
    let pending = warehouse.pending_tickets().await?;
    let (mut done, mut failed, mut still, mut errors) = (0u64, 0u64, 0u64, 0u64);
    let mut last_error = None;
    for ticket in &pending {
        let id = ticket.ticket_id.as_str();
        match client.poll_ticket(id).await {
            Ok(TicketOutcome::Pending) => {
                still += 1;
                record(warehouse, id, "pending", None, None, "request on process").await?;
            }
            Ok(TicketOutcome::Done {
                nik_status,
                resource_id,
            }) => {
                done += 1;
                let message = format!("enrolled (NIK status {nik_status})");
                record(
                    warehouse,
                    id,
                    "done",
                    Some(&nik_status),
                    Some(&resource_id),
                    &message,
                )
                .await?;
                warehouse
                    .settle_ticket_account(id, "enrolled", run_id)
                    .await?;
            }
            Ok(TicketOutcome::Rejected { message, .. }) => {
                failed += 1;
                record(warehouse, id, "failed", None, None, &message).await?;
                warehouse
                    .settle_ticket_account(id, "failed", run_id)
                    .await?;
            }
            Err(err) => {
                errors += 1;
                tracing::warn!(ticket = id, "{err}");
                let stop = matches!(err, MiddlewareError::Auth { .. });
                last_error = Some(err.to_string());
                if stop {
                    break;
                }
            }
        }
    }
    let status = if errors == 0 {
        RunStatus::Succeeded
    } else if done + failed + still == 0 {
        RunStatus::Failed
    } else {
        RunStatus::Partial
    };
    Ok(RunSummary {
        status,
        records_seen: pending.len() as u64,
        records_loaded: done + failed + still,
        counts: serde_json::json!({
            "middleware": { "tickets": pending.len(), "done": done, "failed": failed,
                            "pending": still, "errors": errors }
        }),
        error: last_error,
        ..RunSummary::default()
    })
}

async fn record(
    warehouse: &Warehouse,
    ticket: &str,
    state: &str,
    nik_status: Option<&str>,
    resource_id: Option<&str>,
    message: &str,
) -> Result<(), WarehouseError> {
    let poll = TicketPoll {
        state,
        nik_status,
        resource_id,
        message: Some(message),
    };
    warehouse.record_ticket_poll(ticket, &poll).await
}
