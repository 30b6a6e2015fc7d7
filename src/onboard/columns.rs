//! The columns of the drop format and the header spellings that mean them.

/// How many columns the format knows.
pub const COLUMN_COUNT: usize = 19;

/// A column of the drop format, after header aliases are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    /// The sender's own id for the row.
    Ref,
    /// Legal full name.
    Name,
    /// Shop or company name.
    Company,
    /// Email address.
    Email,
    /// Phone, in any common form.
    Phone,
    /// Postal address.
    Address,
    /// National ID (NIK).
    IdentityNumber,
    /// ELKASSA user type.
    UserType,
    /// Password for ELKASSA and MCP.
    Password,
    /// MCP logo URL or file name.
    Logo,
    /// MCP contact person.
    Pic,
    /// QM primary login method.
    LoginMethod,
    /// Partners the row goes to.
    Providers,
    /// ELKASSA activation: packet.
    PacketCode,
    /// ELKASSA activation: invoice code.
    InvoiceCode,
    /// ELKASSA activation: invoice amount.
    InvoiceAmount,
    /// ELKASSA activation: payment gateway.
    PaymentGateway,
    /// ELKASSA activation: payment method.
    PaymentMethod,
    /// ELKASSA activation: payment date.
    PaymentDate,
}

impl Column {
    /// Every column, in the order of the spec's table.
    pub const ALL: [Column; COLUMN_COUNT] = [
        Column::Ref,
        Column::Name,
        Column::Company,
        Column::Email,
        Column::Phone,
        Column::Address,
        Column::IdentityNumber,
        Column::UserType,
        Column::Password,
        Column::Logo,
        Column::Pic,
        Column::LoginMethod,
        Column::Providers,
        Column::PacketCode,
        Column::InvoiceCode,
        Column::InvoiceAmount,
        Column::PaymentGateway,
        Column::PaymentMethod,
        Column::PaymentDate,
    ];

    /// The canonical header name, as the spec and reject reasons spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Column::Ref => "ref",
            Column::Name => "name",
            Column::Company => "company",
            Column::Email => "email",
            Column::Phone => "phone",
            Column::Address => "address",
            Column::IdentityNumber => "identity_number",
            Column::UserType => "user_type",
            Column::Password => "password",
            Column::Logo => "logo",
            Column::Pic => "pic",
            Column::LoginMethod => "login_method",
            Column::Providers => "providers",
            Column::PacketCode => "packet_code",
            Column::InvoiceCode => "invoice_code",
            Column::InvoiceAmount => "invoice_amount",
            Column::PaymentGateway => "payment_gateway",
            Column::PaymentMethod => "payment_method",
            Column::PaymentDate => "payment_date",
        }
    }

    /// Resolves a header cell, ignoring case, spaces, dashes and underscores.
    pub fn from_header(header: &str) -> Option<Column> {
        let key: String = header
            .chars()
            .filter(|ch| !matches!(ch, ' ' | '-' | '_' | '\t' | '\u{a0}'))
            .flat_map(char::to_lowercase)
            .collect();
        let column = match key.as_str() {
            "ref" => Column::Ref,
            "name" | "nama" => Column::Name,
            "company" | "namatoko" | "tokoname" => Column::Company,
            "email" => Column::Email,
            "phone" | "notelp" | "telepon" => Column::Phone,
            "address" | "alamat" => Column::Address,
            "identitynumber" | "nik" => Column::IdentityNumber,
            "usertype" => Column::UserType,
            "password" => Column::Password,
            "logo" => Column::Logo,
            "pic" => Column::Pic,
            "loginmethod" => Column::LoginMethod,
            "providers" => Column::Providers,
            "packetcode" => Column::PacketCode,
            "invoicecode" => Column::InvoiceCode,
            "invoiceamount" => Column::InvoiceAmount,
            "paymentgateway" => Column::PaymentGateway,
            "paymentmethod" => Column::PaymentMethod,
            "paymentdate" => Column::PaymentDate,
            _ => return None,
        };
        Some(column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_ignoring_case_spaces_dashes_and_underscores() {
        assert_eq!(Column::from_header("E-Mail"), Some(Column::Email));
        assert_eq!(Column::from_header("No Telp"), Some(Column::Phone));
        assert_eq!(Column::from_header("NAMA_TOKO"), Some(Column::Company));
        assert_eq!(Column::from_header("toko name"), Some(Column::Company));
        assert_eq!(Column::from_header("NIK"), Some(Column::IdentityNumber));
        assert_eq!(
            Column::from_header("Identity Number"),
            Some(Column::IdentityNumber)
        );
        assert_eq!(Column::from_header("nomor"), None);
    }

    #[test]
    fn every_canonical_name_reads_back_as_its_column() {
        for column in Column::ALL {
            assert_eq!(Column::from_header(column.as_str()), Some(column));
        }
    }
}
