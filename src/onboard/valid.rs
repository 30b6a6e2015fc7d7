//! What validation produces: reasons a row is rejected, and the normalised
//! row it accepts.

use super::row::Partner;
use secrecy::SecretString;
use std::fmt;

/// Why a row cannot be sent: to which partner, and which field is at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// The partner that cannot take the row; `None` for the row itself.
    pub partner: Option<Partner>,
    /// The column at fault, by its canonical name.
    pub field: &'static str,
    /// What is wrong, in words for the person fixing the file.
    pub message: String,
}

impl Reason {
    /// A reason that holds whatever partner the row targets.
    pub fn row(field: &'static str, message: impl Into<String>) -> Reason {
        Reason {
            partner: None,
            field,
            message: message.into(),
        }
    }

    /// A reason that keeps the row from one partner.
    pub fn for_partner(
        partner: Partner,
        field: &'static str,
        message: impl Into<String>,
    ) -> Reason {
        Reason {
            partner: Some(partner),
            field,
            message: message.into(),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(partner) = self.partner {
            write!(f, "{partner}: ")?;
        }
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// How QM sends the customer's one-time code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMethod {
    /// By email.
    Email,
    /// By SMS to the phone.
    Phone,
}

impl LoginMethod {
    /// QM's wire value: `email` or `phoneNumber`.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginMethod::Email => "email",
            LoginMethod::Phone => "phoneNumber",
        }
    }
}

/// ELKASSA activation data that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidActivation {
    /// Packet code, to look up in ELKASSA's reference data.
    pub packet_code: String,
    /// Invoice code.
    pub invoice_code: String,
    /// Invoice amount: digits, optionally `.` and up to two decimals.
    pub invoice_amount: String,
    /// Payment gateway.
    pub payment_gateway: String,
    /// Payment method.
    pub payment_method: String,
    /// `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS`, as written.
    pub payment_date: String,
}

/// A row that passed for every partner it targets, values normalised.
/// Values that no targeted partner takes are `None`.
#[derive(Debug, Clone)]
pub struct ValidRow {
    /// The 1-based line where the row starts in the file.
    pub line: u64,
    /// The sender's id for the row.
    pub reference: String,
    /// Legal full name.
    pub name: String,
    /// Shop or company name (ELKASSA, MCP).
    pub company: Option<String>,
    /// Email, trimmed and lowercased.
    pub email: Option<String>,
    /// Phone in E.164, e.g. `+6281234567890`.
    pub phone: Option<String>,
    /// Postal address (ELKASSA, MCP).
    pub address: Option<String>,
    /// National ID with spaces removed (QM, middleware).
    pub identity_number: Option<SecretString>,
    /// ELKASSA user type: `0` retail, `1` grosir.
    pub user_type: Option<&'static str>,
    /// Password exactly as written (ELKASSA, MCP).
    pub password: Option<SecretString>,
    /// MCP logo URL or file name.
    pub logo: Option<String>,
    /// MCP contact person.
    pub pic: Option<String>,
    /// QM login method, defaulted to email when there is one.
    pub login_method: Option<LoginMethod>,
    /// Partners the row goes to.
    pub providers: Vec<Partner>,
    /// ELKASSA activation after registration.
    pub activation: Option<ValidActivation>,
}

impl ValidRow {
    /// The phone as MCP takes it: international digits without the `+`.
    pub fn phone_digits(&self) -> Option<&str> {
        self.phone
            .as_deref()
            .map(|phone| phone.trim_start_matches('+'))
    }
}
