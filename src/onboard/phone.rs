//! Phone numbers to E.164, Indonesia (+62) unless the number says otherwise.
//!
//! Hand-written rules rather than a numbering-plan library: drops are
//! overwhelmingly Indonesian, and the few shapes a spreadsheet produces are
//! easier to explain in a reject reason when the rules are our own.

use super::checks::is_scientific_number;
use thiserror::Error;

/// Why a phone cell cannot be turned into an E.164 number.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PhoneError {
    /// Nothing but spaces and separators.
    #[error("the phone is empty")]
    Empty,
    /// Scientific notation: the spreadsheet rounded the number away.
    #[error(
        "the spreadsheet turned this phone into a number ({0}) and its last digits are lost; \
         export the column as text"
    )]
    SpreadsheetNumber(String),
    /// A letter or symbol that no phone number has.
    #[error("`{character}` is not part of a phone number ({raw})")]
    BadCharacter {
        /// The offending character.
        character: char,
        /// The cell as written.
        raw: String,
    },
    /// Neither a trunk `0`, `62`, a mobile `8`, nor `+` and a country code.
    #[error("{0} has no country code: write it as 08..., +62... or + and the country code")]
    NoCountryCode(String),
    /// An Indonesian number of the wrong length.
    #[error("+62 {kind} numbers have {min} to {max} digits after 62; {raw} has {digits}")]
    IndonesianLength {
        /// `mobile` or `landline`.
        kind: &'static str,
        /// The fewest digits allowed after 62.
        min: usize,
        /// The most digits allowed after 62.
        max: usize,
        /// Digits found after 62.
        digits: usize,
        /// The cell as written.
        raw: String,
    },
    /// Outside E.164's 8 to 15 digits, or a country code starting with 0.
    #[error(
        "{raw} is not a phone number: with its country code it has {digits} digits, not 8 to 15"
    )]
    Length {
        /// Digits including the country code.
        digits: usize,
        /// The cell as written.
        raw: String,
    },
}

/// Digits allowed after 62 for an Indonesian mobile (8xx) number.
const ID_MOBILE: (usize, usize) = (9, 12);
/// Digits allowed after 62 for an Indonesian landline (area code + number).
const ID_LANDLINE: (usize, usize) = (7, 11);

/// Normalises a phone cell to E.164 (`+6281234567890`), Indonesian unless it
/// starts with `+` or `00` and another country code.
pub fn normalize_phone(raw: &str) -> Result<String, PhoneError> {
    let text = raw.trim();
    if is_scientific_number(text) {
        return Err(PhoneError::SpreadsheetNumber(text.to_owned()));
    }
    // `6281234567890.0` went through a float but kept every digit.
    let text = strip_zero_fraction(text);
    let (international, digits) = digits_of(text, raw)?;
    if digits.is_empty() {
        return Err(PhoneError::Empty);
    }
    if international {
        return match digits.strip_prefix("62") {
            Some(rest) => indonesian(rest, raw),
            None => foreign(&digits, raw),
        };
    }
    if let Some(rest) = digits.strip_prefix('0') {
        indonesian(rest, raw)
    } else if let Some(rest) = digits.strip_prefix("62") {
        indonesian(rest, raw)
    } else if digits.starts_with('8') {
        // A mobile number whose leading zero a spreadsheet dropped.
        indonesian(&digits, raw)
    } else {
        Err(PhoneError::NoCountryCode(raw.trim().to_owned()))
    }
}

/// Collects the digits, allowing the separators people type; returns whether
/// the number was written internationally (`+` or `00`).
fn digits_of(text: &str, raw: &str) -> Result<(bool, String), PhoneError> {
    let mut digits = String::with_capacity(16);
    let mut plus = false;
    for character in text.chars() {
        match character {
            '0'..='9' => digits.push(character),
            '+' if digits.is_empty() && !plus => plus = true,
            ' ' | '-' | '.' | '(' | ')' | '\t' | '\u{a0}' => {}
            _ => {
                return Err(PhoneError::BadCharacter {
                    character,
                    raw: raw.trim().to_owned(),
                })
            }
        }
    }
    if !plus && digits.starts_with("00") {
        digits.drain(..2);
        plus = true;
    }
    Ok((plus, digits))
}

fn indonesian(rest: &str, raw: &str) -> Result<String, PhoneError> {
    // `+62 (0)812...`: the trunk zero written after the country code.
    let rest = rest.strip_prefix('0').unwrap_or(rest);
    let (kind, (min, max)) = if rest.starts_with('8') {
        ("mobile", ID_MOBILE)
    } else {
        ("landline", ID_LANDLINE)
    };
    if rest.starts_with('0') || !(min..=max).contains(&rest.len()) {
        return Err(PhoneError::IndonesianLength {
            kind,
            min,
            max,
            digits: rest.len(),
            raw: raw.trim().to_owned(),
        });
    }
    Ok(format!("+62{rest}"))
}

fn foreign(digits: &str, raw: &str) -> Result<String, PhoneError> {
    if digits.starts_with('0') || !(8..=15).contains(&digits.len()) {
        return Err(PhoneError::Length {
            digits: digits.len(),
            raw: raw.trim().to_owned(),
        });
    }
    Ok(format!("+{digits}"))
}

fn strip_zero_fraction(text: &str) -> &str {
    match text.rsplit_once('.') {
        Some((whole, fraction))
            if !fraction.is_empty()
                && fraction.bytes().all(|byte| byte == b'0')
                && whole.trim_start_matches('+').len() >= 8
                && whole
                    .trim_start_matches('+')
                    .bytes()
                    .all(|b| b.is_ascii_digit()) =>
        {
            whole
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e164(raw: &str) -> String {
        normalize_phone(raw).unwrap_or_else(|err| panic!("{raw}: {err}"))
    }

    #[test]
    fn every_common_indonesian_form_becomes_the_same_number() {
        for raw in [
            "0812-3456-7890",
            "+62 812 3456 7890",
            "6281234567890",
            "(0812) 3456 7890",
            "0812.3456.7890",
            "+62 (0)812 3456 7890",
            "0062 812 3456 7890",
            "6281234567890.0",
        ] {
            assert_eq!(e164(raw), "+6281234567890", "{raw}");
        }
    }

    #[test]
    fn a_lost_leading_zero_is_put_back() {
        assert_eq!(e164("81234567890"), "+6281234567890");
    }

    #[test]
    fn foreign_numbers_written_with_a_plus_are_kept() {
        assert_eq!(e164("+60 12-345 6789"), "+60123456789");
        assert_eq!(e164("+44 20 7946 0958"), "+442079460958");
    }

    #[test]
    fn jakarta_landlines_are_accepted() {
        assert_eq!(e164("(021) 555-1234"), "+62215551234");
    }

    #[test]
    fn an_excel_mangled_phone_is_refused_in_plain_words() {
        for raw in ["6.28123E+12", "6,28123E+12", "6.28E12"] {
            let message = normalize_phone(raw).unwrap_err().to_string();
            assert_eq!(
                message,
                format!(
                    "the spreadsheet turned this phone into a number ({raw}) and its last \
                     digits are lost; export the column as text"
                )
            );
        }
    }

    #[test]
    fn indonesian_mobiles_of_the_wrong_length_are_refused() {
        assert!(matches!(
            normalize_phone("0812-345"),
            Err(PhoneError::IndonesianLength { kind: "mobile", .. })
        ));
        assert!(normalize_phone("+62 812 3456 7890 123").is_err());
    }

    #[test]
    fn numbers_without_a_country_code_or_with_letters_are_refused() {
        assert!(matches!(
            normalize_phone("60123456789"),
            Err(PhoneError::NoCountryCode(_))
        ));
        assert!(matches!(
            normalize_phone("0812 3456 7890 ext 5"),
            Err(PhoneError::BadCharacter { character: 'e', .. })
        ));
        assert_eq!(normalize_phone(" - "), Err(PhoneError::Empty));
        assert!(matches!(
            normalize_phone("+123"),
            Err(PhoneError::Length { .. })
        ));
    }
}
