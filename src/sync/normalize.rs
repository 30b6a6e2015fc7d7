//! Pure functions from ELKASSA records to warehouse rows.

use crate::providers::elkassa::{ElkassaUser, PacketRecord, UserSlot};
use crate::providers::http::Fetched;
use crate::timezone::parse_partner_time;
use crate::warehouse::{AccountRow, BranchRow, LandedPage, PacketRow, RawBody, RecordIssue};
use chrono_tz::Tz;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

/// Packets by id, to tell trials from paid contracts.
#[derive(Debug, Clone, Default)]
pub struct PacketCatalog {
    by_id: HashMap<String, PacketRow>,
}

impl PacketCatalog {
    /// Builds the catalogue from the reference data.
    pub fn new(records: &[PacketRecord]) -> Self {
        let by_id = records
            .iter()
            .map(|record| (record.packet_id.clone(), packet_row(record)))
            .collect();
        Self { by_id }
    }

    /// Every packet, for the `packets` table.
    pub fn rows(&self) -> Vec<PacketRow> {
        let mut rows: Vec<PacketRow> = self.by_id.values().cloned().collect();
        rows.sort_by(|a, b| a.packet_id.cmp(&b.packet_id));
        rows
    }

    fn is_trial(&self, packet_id: Option<&str>, notes: Option<&str>) -> bool {
        match packet_id.and_then(|id| self.by_id.get(id)) {
            Some(packet) => packet.is_trial,
            None => notes.is_some_and(|text| text.to_lowercase().contains("trial")),
        }
    }
}

fn packet_row(record: &PacketRecord) -> PacketRow {
    let code = record.packet_code.as_deref().unwrap_or_default();
    let desc = record.packet_desc.as_deref().unwrap_or_default();
    PacketRow {
        packet_id: record.packet_id.clone(),
        packet_code: record.packet_code.clone(),
        packet_desc: record.packet_desc.clone(),
        duration_days: duration_days(desc).or_else(|| duration_days(code)),
        is_trial: format!("{code} {desc}").to_lowercase().contains("trial"),
    }
}

/// Length of a packet from its name: `Trial 30 Hari` → 30, `6 Bulan` → 183,
/// `REG-12BULAN` → 365, `1 Tahun` → 365. Months are 365.25/12 days, rounded.
pub fn duration_days(text: &str) -> Option<i32> {
    let lower = text.to_lowercase();
    let digits: String = lower
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    let count: f64 = digits.parse().ok()?;
    let unit_days = if lower.contains("hari") || lower.contains("day") {
        1.0
    } else if lower.contains("minggu") || lower.contains("week") {
        7.0
    } else if lower.contains("bulan") || lower.contains("month") {
        365.25 / 12.0
    } else if lower.contains("tahun") || lower.contains("year") {
        365.25
    } else {
        return None;
    };
    Some((count * unit_days).round() as i32)
}

/// A stable 64-bit fingerprint of a partner id, for compact bookkeeping.
pub fn id_hash(id: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut hasher);
    hasher.finish()
}

/// Turns a fetched page into rows, issues and the id fingerprints in listing order.
pub fn normalize_page(
    pass: u32,
    page: u32,
    fetched: Fetched,
    slots: Vec<UserSlot>,
    catalog: &PacketCatalog,
    zone: Tz,
) -> (LandedPage, Vec<u64>) {
    let entries = slots.len() as u32;
    let mut accounts = Vec::with_capacity(slots.len());
    let mut issues = Vec::new();
    let mut ids = Vec::with_capacity(slots.len());
    for (position, slot) in slots.into_iter().enumerate() {
        let position = position as u32;
        match slot.0 {
            Ok(user) => {
                ids.push(id_hash(&user.registration_id));
                accounts.push(normalize_user(user, position, catalog, zone, &mut issues));
            }
            Err(message) => issues.push(RecordIssue {
                position,
                external_id: None,
                severity: "rejected",
                field: Some("registration_id"),
                message,
            }),
        }
    }
    (
        LandedPage {
            pass,
            page,
            raw: RawBody::land(&fetched),
            entries,
            accounts,
            issues,
        },
        ids,
    )
}

fn normalize_user(
    user: ElkassaUser,
    position: u32,
    catalog: &PacketCatalog,
    zone: Tz,
    issues: &mut Vec<RecordIssue>,
) -> AccountRow {
    let mut read_time = |field: &'static str, value: Option<&str>| {
        let raw = value?;
        parse_partner_time(raw, zone).unwrap_or_else(|err| {
            issues.push(RecordIssue {
                position,
                external_id: Some(user.registration_id.clone()),
                severity: "warning",
                field: Some(field),
                message: err.to_string(),
            });
            None
        })
    };
    let registered_at = read_time("registered_date", user.registered_date.as_deref());
    let expires_at = read_time("expired_date", user.expired_date.as_deref());
    let is_trial = catalog.is_trial(user.packet_id.as_deref(), user.contract_notes.as_deref());
    let branches = user
        .cabangs
        .into_iter()
        .filter_map(|cabang| {
            Some(BranchRow {
                cabang_id: cabang.cabang_id?,
                name: cabang.cabang_name,
                address: cabang.cabang_address,
            })
        })
        .collect();
    AccountRow {
        email_norm: user.email.as_deref().map(normalize_email),
        external_id: user.registration_id,
        email: user.email,
        shop_name: user.toko_name,
        address: user.toko_address,
        user_type: user.user_type,
        user_type_desc: user.user_type_desc,
        status: user.account_status,
        registered_at,
        contract_id: user.contract_id,
        packet_id: user.packet_id,
        contract_notes: user.contract_notes,
        is_trial,
        expires_at,
        branches,
    }
}

/// Email as a match key: trimmed and lower-cased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_lengths_are_derived_from_indonesian_names() {
        assert_eq!(duration_days("Trial 30 Hari"), Some(30));
        assert_eq!(duration_days("1 Bulan"), Some(30));
        assert_eq!(duration_days("6 Bulan"), Some(183));
        assert_eq!(duration_days("REG-12BULAN"), Some(365));
        assert_eq!(duration_days("2 Tahun"), Some(731));
        assert_eq!(duration_days("Premium"), None);
    }

    fn fetched() -> Fetched {
        Fetched {
            http_status: 200,
            body: bytes::Bytes::new(),
            fetched_at: chrono::Utc::now(),
            attempts: 1,
        }
    }

    #[test]
    fn a_trial_is_known_from_its_packet_before_its_notes() {
        let catalog = PacketCatalog::new(&[PacketRecord {
            packet_id: "9".into(),
            packet_code: Some("TRIAL-30HARI".into()),
            packet_desc: Some("Trial 30 Hari".into()),
        }]);
        assert!(catalog.is_trial(Some("9"), Some("6 Bulan")));
        assert!(!catalog.is_trial(Some("12"), Some("6 Bulan")));
        assert!(catalog.is_trial(None, Some("Trial 30 Hari")));
    }

    #[test]
    fn a_bad_date_is_a_warning_and_the_account_still_loads() {
        let user = ElkassaUser {
            registration_id: "ELK1".into(),
            email: Some(" Shop@Example.TEST ".into()),
            expired_date: Some("soon".into()),
            ..ElkassaUser::default()
        };
        let slots = vec![UserSlot(Ok(user)), UserSlot(Err("record is null".into()))];
        let (landed, ids) = normalize_page(
            0,
            1,
            fetched(),
            slots,
            &PacketCatalog::default(),
            crate::timezone::DEFAULT_PARTNER_ZONE,
        );
        assert_eq!(landed.entries, 2);
        assert_eq!(landed.accounts.len(), 1);
        assert_eq!(
            landed.accounts[0].email_norm.as_deref(),
            Some("shop@example.test")
        );
        assert_eq!(ids, vec![id_hash("ELK1")]);
        let severities: Vec<_> = landed
            .issues
            .iter()
            .map(|issue| (issue.severity, issue.field))
            .collect();
        assert_eq!(
            severities,
            vec![
                ("warning", Some("expired_date")),
                ("rejected", Some("registration_id"))
            ]
        );
    }
}
