//! ELKASSA: register, resolve an unanswered registration by `user_check`,
//! then activate the packet the row paid for.

use super::prepare::Task;
use super::registrars::{complete, Registrars};
use super::PartnerOutcome;
use crate::onboard::{Partner, ValidActivation};
use crate::providers::elkassa::{
    parse_registration_data, ActivationOutcome, ActivationRequest, ElkassaClient, RegisterError,
    RegisterOutcome, RegistrationRequest, UserType,
};
use crate::warehouse::{Warehouse, WarehouseError};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use std::collections::HashMap;

/// Whether the row asks for an activation that has not been settled yet.
pub(super) fn needs_activation(task: &Task<'_>) -> bool {
    task.partner == Partner::Elkassa
        && task.row.activation.is_some()
        && !matches!(
            task.entry.activation_state.as_deref(),
            Some("activated" | "rejected")
        )
}

/// Registers (or resolves) the row, then activates its packet when asked.
pub(super) async fn run(
    registrars: &Registrars,
    client: &ElkassaClient,
    warehouse: &Warehouse,
    task: &Task<'_>,
) -> Result<PartnerOutcome, WarehouseError> {
    let entry = &task.entry;
    let mut outcome = if entry.is_final() {
        PartnerOutcome::new(
            &entry.state,
            entry.external_id.clone(),
            "done on an earlier run (ledger)",
        )
    } else {
        register(registrars, client, warehouse, task).await?
    };
    if matches!(outcome.state.as_str(), "registered" | "already_registered")
        && needs_activation(task)
    {
        let note = activate(registrars, client, warehouse, task, &outcome).await?;
        outcome.activation = Some(note.0);
        outcome.message = join_message(&outcome.message, &note.1);
    }
    Ok(outcome)
}

async fn register(
    registrars: &Registrars,
    client: &ElkassaClient,
    warehouse: &Warehouse,
    task: &Task<'_>,
) -> Result<PartnerOutcome, WarehouseError> {
    let entry = &task.entry;
    let email = task.row.email.clone().unwrap_or_default();
    if entry.is_ambiguous() {
        registrars.admit(Partner::Elkassa).await;
        match client.user_check(&email).await {
            Ok(Some(_)) => {
                let id = known_id(warehouse, entry.external_id.clone(), &email).await?;
                let message = "found by user_check after a registration whose answer was lost";
                return complete(
                    warehouse,
                    entry.ledger_id,
                    "already_registered",
                    id.as_deref(),
                    Some("lookup"),
                    message,
                )
                .await;
            }
            Ok(None) => {} // never created: sending again is safe
            Err(err) => {
                let message = format!("registration still unresolved: {err}");
                return complete(warehouse, entry.ledger_id, "unknown", None, None, &message).await;
            }
        }
    }
    let request = RegistrationRequest {
        toko_name: task.row.company.clone().unwrap_or_default(),
        user_type: if task.row.user_type == Some("1") {
            UserType::Grosir
        } else {
            UserType::Retail
        },
        no_telp: task.row.phone_digits().unwrap_or_default().to_owned(),
        email: email.clone(),
        password: task.row.password.clone().unwrap_or_default(),
        address: task.row.address.clone().unwrap_or_default(),
    };
    registrars.admit(Partner::Elkassa).await;
    if !warehouse.mark_sent(entry, None).await? {
        return Ok(PartnerOutcome::busy());
    }
    let id = entry.ledger_id;
    match client.register(&request).await {
        Ok(RegisterOutcome::Registered {
            external_id,
            message,
        }) => {
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
        Ok(RegisterOutcome::AlreadyRegistered { message }) => {
            let known = known_id(warehouse, None, &email).await?;
            complete(
                warehouse,
                id,
                "already_registered",
                known.as_deref(),
                Some("duplicate_answer"),
                &message,
            )
            .await
        }
        Ok(RegisterOutcome::Rejected { message }) => {
            complete(warehouse, id, "rejected", None, Some("answer"), &message).await
        }
        Err(err) => {
            let state = failure_state(registrars, &err);
            complete(warehouse, id, state, None, None, &err.to_string()).await
        }
    }
}

/// `unknown` when the request may have been applied, else `failed`.
fn failure_state(registrars: &Registrars, err: &RegisterError) -> &'static str {
    match err {
        RegisterError::Ambiguous { .. } => "unknown",
        RegisterError::Auth { .. } => {
            registrars.refuse(Partner::Elkassa);
            "failed"
        }
        _ => "failed",
    }
}

async fn known_id(
    warehouse: &Warehouse,
    known: Option<String>,
    email: &str,
) -> Result<Option<String>, WarehouseError> {
    match known {
        Some(id) => Ok(Some(id)),
        None => warehouse.elkassa_id_by_email(email).await,
    }
}

/// Activates the row's packet; returns the activation state and a note.
async fn activate(
    registrars: &Registrars,
    client: &ElkassaClient,
    warehouse: &Warehouse,
    task: &Task<'_>,
    registered: &PartnerOutcome,
) -> Result<(String, String), WarehouseError> {
    let Some(wanted) = task.row.activation.as_ref() else {
        return Ok(("none".to_owned(), String::new()));
    };
    let ledger_id = task.entry.ledger_id;
    let email = task.row.email.clone().unwrap_or_default();
    let settle = |state: &'static str, packet: Option<String>, message: String| async move {
        let error = (state != "activated").then_some(message.as_str());
        warehouse
            .record_activation(ledger_id, packet.as_deref(), state, error)
            .await?;
        Ok::<_, WarehouseError>((state.to_owned(), format!("activation {state}: {message}")))
    };
    let packet_id = match packet_id(registrars, client, &wanted.packet_code).await {
        Ok(id) => id,
        Err(message) => return settle("failed", None, message).await,
    };
    if matches!(
        task.entry.activation_state.as_deref(),
        Some("sent" | "unknown")
    ) {
        registrars.admit(Partner::Elkassa).await;
        if let Ok(Some(current)) = client.user_check(&email).await {
            if current.packet_id == packet_id {
                let message = format!("packet {packet_id} found active by user_check");
                return settle("activated", Some(packet_id), message).await;
            }
        }
    }
    let Some(registration_id) = registered.external_id.clone() else {
        let message = "the registration_id is not known yet; the activation is sent after the next sync lists the shop".to_owned();
        return settle("failed", Some(packet_id), message).await;
    };
    let Some(request) = activation_request(wanted, &email, &packet_id, &registration_id, client)
    else {
        return settle(
            "rejected",
            Some(packet_id),
            "invoice_amount or payment_date unreadable".to_owned(),
        )
        .await;
    };
    registrars.admit(Partner::Elkassa).await;
    warehouse
        .record_activation(ledger_id, Some(&packet_id), "sent", None)
        .await?;
    match client.activate(&request).await {
        Ok(ActivationOutcome::Activated { packet_id, .. }) => {
            settle(
                "activated",
                Some(packet_id.clone()),
                format!("packet {packet_id}"),
            )
            .await
        }
        Ok(ActivationOutcome::Rejected { message }) => settle("rejected", None, message).await,
        Err(err @ RegisterError::Ambiguous { .. }) => {
            settle("unknown", None, err.to_string()).await
        }
        Err(err) => settle("failed", None, err.to_string()).await,
    }
}

/// The packet id of a packet code, from ELKASSA's reference data (read once per run).
async fn packet_id(
    registrars: &Registrars,
    client: &ElkassaClient,
    code: &str,
) -> Result<String, String> {
    let packets = registrars
        .packets
        .get_or_try_init(|| read_packets(client))
        .await?;
    let wanted = code.trim().to_ascii_lowercase();
    packets
        .get(&wanted)
        .cloned()
        .ok_or_else(|| format!("packet_code {code:?} is not one of ELKASSA's packets"))
}

async fn read_packets(client: &ElkassaClient) -> Result<HashMap<String, String>, String> {
    let fetched = client
        .fetch_registration_data()
        .await
        .map_err(|err| format!("cannot read ELKASSA packets: {err}"))?;
    let data = parse_registration_data(fetched.http_status, &fetched.body)
        .map_err(|err| format!("cannot read ELKASSA packets: {err}"))?;
    let mut packets = HashMap::new();
    for packet in data.registration_packets {
        packets.insert(
            packet.packet_id.to_ascii_lowercase(),
            packet.packet_id.clone(),
        );
        if let Some(code) = packet.packet_code {
            packets.insert(code.trim().to_ascii_lowercase(), packet.packet_id);
        }
    }
    Ok(packets)
}

fn activation_request(
    wanted: &ValidActivation,
    email: &str,
    packet_id: &str,
    registration_id: &str,
    client: &ElkassaClient,
) -> Option<ActivationRequest> {
    let amount: f64 = wanted.invoice_amount.parse().ok()?;
    Some(ActivationRequest {
        email: email.to_owned(),
        packet_id: packet_id.to_owned(),
        registration_id: registration_id.to_owned(),
        cabang_id: format!("{registration_id}-1"),
        invoice_code: wanted.invoice_code.clone(),
        invoice_amount: amount.round() as u64,
        payment_gateway: wanted.payment_gateway.clone(),
        payment_method: wanted.payment_method.clone(),
        payment_date: payment_instant(&wanted.payment_date, client)?,
    })
}

/// `YYYY-MM-DD[ HH:MM:SS]` in the partner's zone, as an instant.
fn payment_instant(text: &str, client: &ElkassaClient) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S")
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .ok()
                .and_then(|date| date.and_hms_opt(0, 0, 0))
        })?;
    client
        .timezone()
        .from_local_datetime(&naive)
        .earliest()
        .map(|local| local.with_timezone(&Utc))
}

fn join_message(first: &str, second: &str) -> String {
    match (first.is_empty(), second.is_empty()) {
        (true, _) => second.to_owned(),
        (_, true) => first.to_owned(),
        _ => format!("{first}; {second}"),
    }
}
