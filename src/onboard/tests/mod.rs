//! End-to-end tests through the module's public API: the CSV torture set
//! in `torture`, whole-row validation in `rows`.

mod rows;
mod torture;

use super::*;
use secrecy::SecretString;

pub(super) const ALL: &[Partner] = &Partner::ALL;
pub(super) const NIK: &str = "3174015501900001";
pub(super) const PASSWORD: &str = "Rahasia#2024";

pub(super) fn read(bytes: &[u8]) -> Drop {
    read_drop("drop.csv", bytes, ALL).unwrap_or_else(|err| panic!("{err}"))
}

pub(super) fn ok_rows(drop: &Drop) -> Vec<&DropRow> {
    drop.rows
        .iter()
        .filter_map(|row| row.as_ref().ok())
        .collect()
}

pub(super) fn errors(drop: &Drop) -> Vec<&RowError> {
    drop.rows
        .iter()
        .filter_map(|row| row.as_ref().err())
        .collect()
}

/// A row valid for every partner.
pub(super) fn full_row() -> DropRow {
    DropRow {
        line: 2,
        reference: "R1".into(),
        name: Some("Budi Santoso".into()),
        company: Some("Toko Budi".into()),
        email: Some(" Budi@Example.CO.ID".into()),
        phone_raw: Some("0812-3456-7890".into()),
        address: Some("Jl. Merdeka 1, Bandung".into()),
        identity_number: Some(SecretString::from(NIK)),
        user_type: Some("Grosir".into()),
        password: Some(SecretString::from(PASSWORD)),
        logo: Some("https://cdn.example.id/budi.png".into()),
        pic: None,
        login_method: None,
        providers: Partner::ALL.to_vec(),
        activation: None,
    }
}

pub(super) fn fields_of(reasons: &[Reason]) -> Vec<(Option<Partner>, &'static str)> {
    reasons
        .iter()
        .map(|reason| (reason.partner, reason.field))
        .collect()
}
