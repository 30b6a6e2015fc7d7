//! Shape checks for single values. Each returns a fixed message, so a valid
//! value costs no allocation and an invalid one says plainly what is wrong.
//! Messages never repeat a national ID: reject files are read by people.

/// Why an email address is not usable, or `None` when it is.
pub fn email_problem(email: &str) -> Option<&'static str> {
    if email.bytes().any(|byte| byte.is_ascii_whitespace()) || email.contains('\u{a0}') {
        return Some("contains a space");
    }
    if email.contains([',', ';', '<', '>']) {
        return Some("is not a single plain address (found `,` `;` `<` or `>`)");
    }
    let mut parts = email.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Some("must contain exactly one @");
    };
    if local.is_empty() {
        return Some("has nothing before the @");
    }
    if !domain.contains('.') {
        return Some("has no dot in the domain after the @");
    }
    if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return Some("has an empty part in the domain after the @");
    }
    if domain.rsplit('.').next().is_some_and(|top| top.len() < 2) {
        return Some("ends in a one-letter domain");
    }
    None
}

/// Why a value is not a plausible Indonesian NIK, or `None` when it is:
/// 16 digits, a province code 11–94, a birth date DDMMYY with women's days
/// raised by 40, and a serial that is not 0000.
pub fn nik_problem(nik: &str) -> Option<&'static str> {
    let bytes = nik.as_bytes();
    if !bytes.iter().all(u8::is_ascii_digit) {
        return Some("a NIK holds digits only");
    }
    if bytes.len() != 16 {
        return Some("a NIK has 16 digits");
    }
    let number = |at: usize| u32::from(bytes[at] - b'0') * 10 + u32::from(bytes[at + 1] - b'0');
    if !(11..=94).contains(&number(0)) {
        return Some("a NIK starts with a province code from 11 to 94");
    }
    let day = number(6);
    if !(1..=31).contains(&day) && !(41..=71).contains(&day) {
        return Some("digits 7–8 of a NIK are the birth day: 01–31, or 41–71 for women");
    }
    if !(1..=12).contains(&number(8)) {
        return Some("digits 9–10 of a NIK are the birth month: 01–12");
    }
    if &bytes[12..] == b"0000" {
        return Some("the last four digits of a NIK are a serial from 0001");
    }
    None
}

/// Why a non-Indonesian identity number is not usable, or `None`.
pub fn identity_problem(identity: &str) -> Option<&'static str> {
    let shape_ok = identity
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-');
    if !shape_ok || !(5..=32).contains(&identity.len()) {
        return Some("an identity number has 5 to 32 letters, digits or dashes");
    }
    None
}

/// `6.28123E+12`-style text: what a spreadsheet exports for a long number in
/// a General-formatted cell, its last digits already rounded away.
pub fn is_scientific_number(text: &str) -> bool {
    let Some((mantissa, exponent)) = text.split_once(['e', 'E']) else {
        return false;
    };
    let mantissa = mantissa.trim_start_matches('+');
    let exponent = exponent.trim_start_matches('+');
    !exponent.is_empty()
        && exponent.bytes().all(|byte| byte.is_ascii_digit())
        && mantissa.bytes().any(|byte| byte.is_ascii_digit())
        && mantissa
            .bytes()
            .all(|byte| byte.is_ascii_digit() || byte == b'.' || byte == b',')
}

/// ELKASSA's user type code: `0` retail, `1` grosir (wholesale).
pub fn user_type_code(value: &str) -> Option<&'static str> {
    let value = value.trim();
    if value == "0" || value.eq_ignore_ascii_case("retail") {
        Some("0")
    } else if value == "1" || value.eq_ignore_ascii_case("grosir") {
        Some("1")
    } else {
        None
    }
}

/// Whether a logo URL or file name ends in an image type MCP takes; a query
/// string or fragment after the name does not count.
pub fn logo_is_image(logo: &str) -> bool {
    let path = logo.split(['?', '#']).next().unwrap_or(logo);
    let lower_ends = |suffix: &str| {
        path.len() >= suffix.len()
            && path.as_bytes()[path.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    };
    lower_ends(".png") || lower_ends(".jpg") || lower_ends(".jpeg")
}

/// Whether text looks like a spreadsheet formula rather than a value.
pub fn is_formula(text: &str) -> bool {
    text.starts_with('=')
}

/// Why an invoice amount is not a plain non-negative number, or `None`.
pub fn amount_problem(amount: &str) -> Option<&'static str> {
    let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 2 {
        return Some("write the amount as digits only, e.g. 150000 or 150000.00");
    }
    None
}

/// Whether a payment date is `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS`.
pub fn is_iso_date(date: &str) -> bool {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok()
        || chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%d %H:%M:%S").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_addresses_pass_the_email_check() {
        assert_eq!(email_problem("priyanga27+sobat33@gmail.com"), None);
        assert_eq!(email_problem("a.b@mail.co.id"), None);
    }

    #[test]
    fn malformed_addresses_fail_the_email_check() {
        for bad in [
            "budi@",
            "@x.id",
            "budi",
            "budi@@x.id",
            "budi@x",
            "bu di@x.id",
            "a@x..id",
            "a@b.c",
            "a@x.id; b@x.id",
            "Budi <b@x.id>",
        ] {
            assert!(email_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn a_plausible_nik_passes_and_implausible_ones_fail() {
        assert_eq!(nik_problem("3174015501900001"), None);
        assert_eq!(
            nik_problem("3174014501900001"),
            None,
            "a woman born on the 5th"
        );
        assert!(nik_problem("317401550190000").is_some(), "15 digits");
        assert!(nik_problem("0974015501900001").is_some(), "province 09");
        assert!(nik_problem("3174013501900001").is_some(), "day 35");
        assert!(nik_problem("3174015513900001").is_some(), "month 13");
        assert!(nik_problem("3174015501900000").is_some(), "serial 0000");
        assert!(nik_problem("31740155019000x1").is_some());
    }

    #[test]
    fn user_types_read_as_codes() {
        assert_eq!(user_type_code("Retail"), Some("0"));
        assert_eq!(user_type_code("GROSIR"), Some("1"));
        assert_eq!(user_type_code("1"), Some("1"));
        assert_eq!(user_type_code("wholesale"), None);
    }

    #[test]
    fn logos_must_name_an_image_file() {
        assert!(logo_is_image("https://cdn.example.id/toko.PNG?v=2"));
        assert!(logo_is_image("logo.jpeg"));
        assert!(!logo_is_image("logo.gif"));
        assert!(!logo_is_image("https://example.id/png"));
    }

    #[test]
    fn amounts_and_dates_have_one_plain_form() {
        assert_eq!(amount_problem("150000"), None);
        assert_eq!(amount_problem("150000.50"), None);
        assert!(amount_problem("Rp 150.000").is_some());
        assert!(amount_problem("-5").is_some());
        assert!(is_iso_date("2024-02-29"));
        assert!(is_iso_date("2024-02-29 13:05:00"));
        assert!(!is_iso_date("29/02/2024"));
    }
}
