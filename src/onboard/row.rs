//! The typed drop row, before validation: every cell as the sender wrote it.

use super::columns::Column;
use super::decode::RawRow;
use super::validate::Reason;
use secrecy::SecretString;
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// A partner a drop row can be registered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Partner {
    /// ELKASSA point-of-sale accounts.
    Elkassa,
    /// MCP digital products (e-materai, e-signature).
    Mcp,
    /// Middleware e-KTP digital-ID enrollment.
    Middleware,
    /// QM customer accounts.
    Qm,
}

impl Partner {
    /// Every partner, in a fixed order.
    pub const ALL: [Partner; 4] = [
        Partner::Elkassa,
        Partner::Mcp,
        Partner::Middleware,
        Partner::Qm,
    ];

    /// The name used in the `providers` column, reports and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Partner::Elkassa => "elkassa",
            Partner::Mcp => "mcp",
            Partner::Middleware => "middleware",
            Partner::Qm => "qm",
        }
    }
}

impl fmt::Display for Partner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A partner name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown partner `{0}` (known: elkassa, mcp, middleware, qm)")]
pub struct UnknownPartner(pub String);

impl FromStr for Partner {
    type Err = UnknownPartner;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let name = name.trim();
        Partner::ALL
            .into_iter()
            .find(|partner| partner.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownPartner(name.to_owned()))
    }
}

/// Parses a `providers` cell (names separated by `|`, `;` or `,`); a missing
/// or empty cell means `default`. Repeated names count once.
pub fn parse_partners(
    cell: Option<&str>,
    default: &[Partner],
) -> Result<Vec<Partner>, UnknownPartner> {
    let (partners, unknown) = split_partners(cell, default);
    match unknown.into_iter().next() {
        Some(name) => Err(UnknownPartner(name)),
        None => Ok(partners),
    }
}

fn split_partners(cell: Option<&str>, default: &[Partner]) -> (Vec<Partner>, Vec<String>) {
    let mut partners = Vec::with_capacity(4);
    let mut unknown = Vec::new();
    let names = cell
        .unwrap_or("")
        .split(['|', ';', ','])
        .map(str::trim)
        .filter(|name| !name.is_empty());
    for name in names {
        match name.parse::<Partner>() {
            Ok(partner) if !partners.contains(&partner) => partners.push(partner),
            Ok(_) => {}
            Err(UnknownPartner(name)) => unknown.push(name),
        }
    }
    if partners.is_empty() && unknown.is_empty() {
        partners.extend_from_slice(default);
    }
    (partners, unknown)
}

/// ELKASSA activation data: when present, the account is put on a packet
/// right after registration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activation {
    /// The packet to activate, as ELKASSA's reference data names it.
    pub packet_code: Option<String>,
    /// The sender's invoice code.
    pub invoice_code: Option<String>,
    /// The invoice amount, as written.
    pub invoice_amount: Option<String>,
    /// Payment gateway name.
    pub payment_gateway: Option<String>,
    /// Payment method name.
    pub payment_method: Option<String>,
    /// Payment date, as written.
    pub payment_date: Option<String>,
}

/// One row of a drop as read: trimmed, non-empty cells, nothing checked yet.
///
/// `Debug` is safe to log: the password and the national ID are secrets.
#[derive(Debug, Clone, Default)]
pub struct DropRow {
    /// The 1-based line where the row starts in the file.
    pub line: u64,
    /// The sender's id for the row; empty when the cell is.
    pub reference: String,
    /// Legal full name.
    pub name: Option<String>,
    /// Shop or company name.
    pub company: Option<String>,
    /// Email, as written.
    pub email: Option<String>,
    /// Phone, as written.
    pub phone_raw: Option<String>,
    /// Postal address.
    pub address: Option<String>,
    /// National ID (NIK), as written.
    pub identity_number: Option<SecretString>,
    /// ELKASSA user type, as written.
    pub user_type: Option<String>,
    /// Password, exactly as written.
    pub password: Option<SecretString>,
    /// MCP logo URL or file name.
    pub logo: Option<String>,
    /// MCP contact person.
    pub pic: Option<String>,
    /// QM login method, as written.
    pub login_method: Option<String>,
    /// Partners the row goes to: its `providers` cell, or the job's default.
    pub providers: Vec<Partner>,
    /// ELKASSA activation, when any activation cell is filled.
    pub activation: Option<Activation>,
}

impl DropRow {
    /// Types a decoded record. Unknown partner names are left out of
    /// `providers` and returned as reasons, so validation can still report
    /// everything else wrong with the row in the same pass.
    pub fn from_raw(mut raw: RawRow, default_partners: &[Partner]) -> (DropRow, Vec<Reason>) {
        let (providers, unknown) = split_partners(raw.get(Column::Providers), default_partners);
        let reasons = unknown
            .into_iter()
            .map(|name| Reason::row("providers", UnknownPartner(name).to_string()))
            .collect();
        let activation = take_activation(&mut raw);
        let row = DropRow {
            line: raw.line,
            reference: raw.take(Column::Ref).unwrap_or_default(),
            name: raw.take(Column::Name),
            company: raw.take(Column::Company),
            email: raw.take(Column::Email),
            phone_raw: raw.take(Column::Phone),
            address: raw.take(Column::Address),
            identity_number: raw.take(Column::IdentityNumber).map(SecretString::from),
            user_type: raw.take(Column::UserType),
            password: raw.take(Column::Password).map(SecretString::from),
            logo: raw.take(Column::Logo),
            pic: raw.take(Column::Pic),
            login_method: raw.take(Column::LoginMethod),
            providers,
            activation,
        };
        (row, reasons)
    }
}

fn take_activation(raw: &mut RawRow) -> Option<Activation> {
    let activation = Activation {
        packet_code: raw.take(Column::PacketCode),
        invoice_code: raw.take(Column::InvoiceCode),
        invoice_amount: raw.take(Column::InvoiceAmount),
        payment_gateway: raw.take(Column::PaymentGateway),
        payment_method: raw.take(Column::PaymentMethod),
        payment_date: raw.take(Column::PaymentDate),
    };
    (activation != Activation::default()).then_some(activation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn providers_may_be_separated_by_pipes_semicolons_or_commas() {
        let parsed = parse_partners(Some("ELKASSA | mcp;qm, mcp"), &[]).unwrap();
        assert_eq!(parsed, vec![Partner::Elkassa, Partner::Mcp, Partner::Qm]);
    }

    #[test]
    fn an_empty_providers_cell_means_the_default_list() {
        let default = [Partner::Qm, Partner::Middleware];
        assert_eq!(parse_partners(None, &default).unwrap(), default);
        assert_eq!(parse_partners(Some(" | "), &default).unwrap(), default);
    }

    #[test]
    fn an_unknown_partner_name_is_an_error_naming_it() {
        let err = parse_partners(Some("elkassa|gojek"), &[]).unwrap_err();
        assert!(err.to_string().contains("`gojek`"));
    }

    #[test]
    fn a_raw_record_becomes_a_row_with_secrets_wrapped() {
        let mut raw = RawRow::new(7);
        raw.set(Column::Ref, "A1");
        raw.set(Column::Password, "s3cret!");
        raw.set(Column::IdentityNumber, "3174015501900001");
        raw.set(Column::PacketCode, "P6");
        raw.set(Column::Providers, "elkassa|nope");
        let (row, reasons) = DropRow::from_raw(raw, &[Partner::Mcp]);
        assert_eq!(row.line, 7);
        assert_eq!(row.providers, vec![Partner::Elkassa]);
        assert_eq!(row.password.as_ref().unwrap().expose_secret(), "s3cret!");
        assert_eq!(row.activation.unwrap().packet_code.as_deref(), Some("P6"));
        assert_eq!(reasons.len(), 1);
        assert_eq!(reasons[0].field, "providers");
    }
}
