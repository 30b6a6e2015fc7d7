//! Making output safe to open: cells a spreadsheet would run as formulas,
//! and national IDs reduced to what a report may show.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::borrow::Cow;

/// A cell that a spreadsheet will show as text, never run: one starting with
/// `=`, `+`, `-`, `@`, tab or CR gets a leading `'` (OWASP's CSV injection
/// advice). Other cells are returned unchanged.
pub fn spreadsheet_safe(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// The last four characters of a national ID, for reports; empty for a
/// value under eight characters, where four would give most of it away.
pub fn identity_last4(nik: &str) -> String {
    let nik = nik.trim();
    let count = nik.chars().count();
    if count < 8 {
        return String::new();
    }
    nik.chars().skip(count - 4).collect()
}

/// Lowercase hex HMAC-SHA256 of a national ID under `key`: lets two runs
/// recognise the same person without storing the number. Pass the
/// normalised ID (`ValidRow::identity_number`) so spacing cannot change it.
pub fn identity_hash(key: &[u8], nik: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts a key of any length");
    mac.update(nik.as_bytes());
    lower_hex(&mac.finalize().into_bytes())
}

/// Bytes as lowercase hex.
pub(crate) fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_start_like_formulas_are_neutralised() {
        for cell in [
            "=HYPERLINK(\"http://x\",\"a\")",
            "+6281234567890",
            "-1",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            assert_eq!(spreadsheet_safe(cell), format!("'{cell}"));
        }
        assert_eq!(spreadsheet_safe("Budi = boss"), "Budi = boss");
        assert_eq!(spreadsheet_safe(""), "");
    }

    #[test]
    fn only_the_last_four_of_an_id_are_shown() {
        assert_eq!(identity_last4("3174015501900001"), "0001");
        assert_eq!(identity_last4("12345"), "");
    }

    #[test]
    fn the_identity_hash_is_hmac_sha256_in_lowercase_hex() {
        // hmac-sha256(key "k3y", "3174015501900001"), computed independently.
        assert_eq!(
            identity_hash(b"k3y", "3174015501900001"),
            "0c747c44de6d4acd50107e235cc4dab83883d071fa81debd3e528c6b22eeaeae"
        );
    }
}
