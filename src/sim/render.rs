//! Hand-written JSON rendering. Bytes are written straight into one buffer:
//! a page must render in microseconds, and the duplicated `user_type_desc`
//! key cannot be produced by a map-based serializer anyway.

use chrono::{Datelike, NaiveDateTime, Timelike};

use super::listing::Override;
use super::population::{
    Population, User, CITIES, FIRST_CONTRACT, FIRST_REGISTRATION, NAME_PREFIXES, NAME_WORDS,
    PACKETS, STREETS,
};

/// A generous upper bound of one rendered user, for buffer capacity.
pub(super) const USER_CAPACITY: usize = 900;
/// Opening of a successful user answer, up to the first user.
pub(super) const USERS_HEAD: &str = r#"{"status":true,"messages":"User data","data":["#;
/// Closing of a successful user answer.
pub(super) const USERS_TAIL: &str = "]}";
/// Answer to wrong or missing credentials (HTTP 200, as the partner does).
pub(super) const INVALID_AUTH: &str =
    r#"{"status":false,"messages":"Invalid key or token","data":null}"#;
/// Answer of an injected or simulated outage.
pub(super) const UNAVAILABLE: &str =
    r#"{"status":false,"messages":"Service unavailable","data":null}"#;
/// Answer of an injected rate limit.
pub(super) const RATE_LIMITED: &str =
    r#"{"status":false,"messages":"Too many requests","data":null}"#;
/// Answer to a page that is zero or not a number.
pub(super) const INVALID_PAGE: &str = r#"{"status":false,"messages":"Invalid page","data":null}"#;
/// Answer to an unknown registration id.
pub(super) const USER_NOT_FOUND: &str =
    r#"{"status":false,"messages":"User not found","data":null}"#;

/// The reference data of `GET /integration/registration`.
pub(super) fn registration() -> String {
    let mut out = String::with_capacity(700);
    out.push_str(
        r#"{"status":true,"messages":"Registration Data","data":{"registration_packets":["#,
    );
    for (i, packet) in PACKETS.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"packet_id":""#);
        out.push_str(packet.id);
        out.push_str(r#"","packet_code":""#);
        out.push_str(packet.code);
        out.push_str(r#"","packet_desc":""#);
        out.push_str(packet.desc);
        out.push_str(r#""}"#);
    }
    out.push_str(r#"],"user_type":[{"code":"0","desc":"Retail"},{"code":"1","desc":"Grosir"}]}}"#);
    out
}

/// Appends one user object, exactly in the partner's key order.
pub(super) fn user(
    out: &mut String,
    population: &Population,
    user: &User,
    extra: Option<&Override>,
) {
    let expiry = extra.and_then(|o| o.expiry).unwrap_or(user.expiry);
    let packet_index = extra.and_then(|o| o.packet).unwrap_or(user.packet);
    let notes_index = extra.and_then(|o| o.packet).unwrap_or(user.notes);
    let packet = &PACKETS[usize::from(packet_index)];
    let profile = extra.and_then(|o| o.profile.as_deref());
    out.push_str(r#"{"registration_id":""#);
    push_registration_id(out, user.index);
    out.push_str(r#"","email":""#);
    match profile {
        Some(profile) => push_escaped(out, &profile.email),
        None => {
            out.push_str("shop");
            push_u64(out, u64::from(user.email_index));
            out.push_str("@example.test");
        }
    }
    out.push_str(r#"","registered_date":""#);
    push_datetime(out, user.registered);
    out.push_str(r#"","user_type":""#);
    out.push_str(if user.grosir { "1" } else { "0" });
    out.push_str(r#"","user_type_desc":""#);
    out.push_str(if user.grosir { "Grosir" } else { "Retail" });
    out.push_str(r#"","contract_id":""#);
    push_u64(out, FIRST_CONTRACT + u64::from(user.index));
    out.push_str(r#"","packet_id":""#);
    out.push_str(packet.id);
    out.push_str(r#"","expired_date":""#);
    push_datetime(out, expiry);
    out.push_str(r#"","contract_notes":""#);
    out.push_str(PACKETS[usize::from(notes_index)].desc);
    out.push_str(r#"","toko_name":""#);
    match profile {
        Some(profile) => push_escaped(out, &profile.toko_name),
        None => push_toko_name(out, user),
    }
    out.push_str(r#"","toko_address":""#);
    match profile {
        Some(profile) => push_escaped(out, &profile.toko_address),
        None => push_address(out, user.street, user.house, user.city),
    }
    // The document's trap: the same key again, now meaning the account status.
    out.push_str(r#"","user_type_desc":""#);
    out.push_str(if user.active { "ACTIVE" } else { "INACTIVE" });
    out.push_str(r#"","cabangs":["#);
    push_cabangs(
        out,
        population,
        user,
        extra.map_or(0, |o| o.removed_cabangs),
    );
    out.push_str("]}");
}

fn push_cabangs(out: &mut String, population: &Population, user: &User, removed: u8) {
    let mut first = true;
    for k in 1..=user.cabangs {
        if removed & (1 << k) != 0 {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(r#"{"cabang_id":""#);
        push_registration_id(out, user.index);
        out.push('-');
        push_u64(out, u64::from(k));
        out.push_str(r#"","cabang_name":""#);
        push_toko_name(out, user);
        if k > 1 {
            out.push_str(" Cabang ");
            push_u64(out, u64::from(k));
        }
        out.push_str(r#"","cabang_address":""#);
        let (street, house) = population.branch_address(user, k);
        push_address(out, street, house, user.city);
        out.push_str(r#""}"#);
    }
}

/// Appends `ELK{100000 + index}`.
pub(super) fn push_registration_id(out: &mut String, index: u32) {
    out.push_str("ELK");
    push_u64(out, FIRST_REGISTRATION + u64::from(index));
}

/// `registration_id` as an owned string.
pub(super) fn registration_id(index: u32) -> String {
    let mut out = String::with_capacity(16);
    push_registration_id(&mut out, index);
    out
}

fn push_toko_name(out: &mut String, user: &User) {
    push_escaped(out, NAME_PREFIXES[usize::from(user.prefix)]);
    out.push(' ');
    push_escaped(out, NAME_WORDS[usize::from(user.word)]);
    out.push(' ');
    push_u64(out, u64::from(user.index));
}

fn push_address(out: &mut String, street: u8, house: u16, city: u8) {
    out.push_str("Jl. ");
    push_escaped(out, STREETS[usize::from(street)]);
    out.push(' ');
    push_u64(out, u64::from(house));
    out.push_str(", ");
    push_escaped(out, CITIES[usize::from(city)]);
}

/// Appends a decimal number without going through `fmt`.
pub(super) fn push_u64(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

fn push_two(out: &mut String, value: u32) {
    out.push(char::from(b'0' + (value / 10 % 10) as u8));
    out.push(char::from(b'0' + (value % 10) as u8));
}

/// Appends `YYYY-MM-DD HH:MM:SS`, the partner's naive WIB format.
pub(super) fn push_datetime(out: &mut String, at: NaiveDateTime) {
    let year = at.year().clamp(0, 9999) as u32;
    push_two(out, year / 100);
    push_two(out, year % 100);
    out.push('-');
    push_two(out, at.month());
    out.push('-');
    push_two(out, at.day());
    out.push(' ');
    push_two(out, at.hour());
    out.push(':');
    push_two(out, at.minute());
    out.push(':');
    push_two(out, at.second());
}

/// Appends the body of a JSON string literal (without the quotes).
pub(super) fn push_escaped(out: &mut String, text: &str) {
    if !text.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                let v = c as u32;
                for nibble in [v >> 4, v & 0xF] {
                    out.push(char::from_digit(nibble, 16).unwrap_or('0'));
                }
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_handles_quotes_backslashes_controls_and_diacritics() {
        let mut out = String::new();
        push_escaped(&mut out, "Toko \"Murah\" \\ D'Jawa\tÖ\u{1}");
        assert_eq!(out, r#"Toko \"Murah\" \\ D'Jawa\tÖ\u0001"#);
        let parsed: String = serde_json::from_str(&format!("\"{out}\"")).unwrap();
        assert_eq!(parsed, "Toko \"Murah\" \\ D'Jawa\tÖ\u{1}");
    }

    #[test]
    fn numbers_and_dates_render_without_fmt() {
        let mut out = String::new();
        push_u64(&mut out, 0);
        out.push(' ');
        push_u64(&mut out, 1_100_042);
        out.push(' ');
        let at = chrono::NaiveDate::from_ymd_opt(2026, 1, 5)
            .unwrap()
            .and_hms_opt(9, 7, 2)
            .unwrap();
        push_datetime(&mut out, at);
        assert_eq!(out, "0 1100042 2026-01-05 09:07:02");
    }

    #[test]
    fn the_registration_reference_data_lists_all_five_packets_and_both_user_types() {
        let body = registration();
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            value["data"]["registration_packets"]
                .as_array()
                .unwrap()
                .len(),
            5
        );
        assert_eq!(
            value["data"]["registration_packets"][4]["packet_code"],
            "REG-12BULAN"
        );
        assert_eq!(value["data"]["user_type"][1]["desc"], "Grosir");
        assert!(body.starts_with(r#"{"status":true,"messages":"Registration Data","data":{"registration_packets":[{"packet_id":"9","packet_code":"TRIAL-30HARI","packet_desc":"Trial 30 Hari"},"#));
    }
}
