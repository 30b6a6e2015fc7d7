//! Bytes to text: the encoding a drop was saved in, Excel's `sep=` hint,
//! the delimiter, and physical line numbers.

use super::decode::DecodeError;
use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};
use std::borrow::Cow;

/// How the bytes of a drop were turned into text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8 without a byte-order mark.
    Utf8,
    /// UTF-8 with a byte-order mark (Excel's "CSV UTF-8").
    Utf8Bom,
    /// UTF-16 with a byte-order mark (Excel's "Unicode Text").
    Utf16,
    /// Windows-1252, the fallback for bytes that are not UTF-8 (older Excel).
    Windows1252,
}

/// Physical line numbers from byte offsets. The csv crate's own count starts
/// a record at the end of the previous one, before its line break and any
/// blank lines, so after a CRLF it is one line early.
pub(super) struct Lines<'a> {
    text: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    /// Counts lines of `text`, whose first byte is on line `first`.
    pub(super) fn new(text: &'a [u8], first: u64) -> Self {
        Lines {
            text,
            offset: 0,
            line: first,
        }
    }

    /// The line of the first byte at or after `byte` that is not a line
    /// break. Offsets only grow, so each byte is looked at once.
    pub(super) fn at(&mut self, byte: usize) -> u64 {
        let mut start = byte.clamp(self.offset, self.text.len());
        while self
            .text
            .get(start)
            .is_some_and(|b| matches!(b, b'\r' | b'\n'))
        {
            start += 1;
        }
        for (index, byte) in self.text[self.offset..start].iter().enumerate() {
            let next = self.text.get(self.offset + index + 1);
            // CRLF is one break; a lone CR (old Mac files) is one too.
            if *byte == b'\n' || (*byte == b'\r' && next != Some(&b'\n')) {
                self.line += 1;
            }
        }
        self.offset = start;
        self.line
    }
}

/// Decodes the bytes, noting in `warnings` anything a person should check.
pub(super) fn to_text<'a>(
    bytes: &'a [u8],
    warnings: &mut Vec<String>,
) -> Result<(Cow<'a, str>, TextEncoding), DecodeError> {
    if let Some((encoding, bom)) = Encoding::for_bom(bytes) {
        let (text, replaced) = encoding.decode_without_bom_handling(&bytes[bom..]);
        if replaced {
            warnings.push(format!(
                "some bytes are not valid {} and were replaced with U+FFFD",
                encoding.name()
            ));
        }
        let kind = if encoding == UTF_8 {
            TextEncoding::Utf8Bom
        } else {
            TextEncoding::Utf16
        };
        return Ok((text, kind));
    }
    refuse_binary(bytes)?;
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok((Cow::Borrowed(text), TextEncoding::Utf8)),
        Err(_) => {
            warnings.push(
                "the file is not valid UTF-8 and was read as Windows-1252 (older Excel); \
                 check accented names, or save as CSV UTF-8"
                    .to_owned(),
            );
            let (text, _) = WINDOWS_1252.decode_without_bom_handling(bytes);
            Ok((text, TextEncoding::Windows1252))
        }
    }
}

/// A workbook saved under a `.csv` name is common; say what it is instead
/// of reading zip bytes as text.
fn refuse_binary(bytes: &[u8]) -> Result<(), DecodeError> {
    if bytes.starts_with(b"PK\x03\x04") {
        return Err(DecodeError::NotCsv(
            "an Excel workbook (.xlsx) or another zip file",
        ));
    }
    if bytes.starts_with(b"\xD0\xCF\x11\xE0") {
        return Err(DecodeError::NotCsv("an old Excel workbook (.xls)"));
    }
    if bytes.iter().take(4096).any(|byte| *byte == 0) {
        return Err(DecodeError::NotCsv("binary data"));
    }
    Ok(())
}

/// Excel honours a first line `sep=;` and some exports write one; it names
/// the delimiter and is not the header.
pub(super) fn strip_sep_hint(text: &str) -> (&str, u64, Option<u8>) {
    let end = text.find('\n').unwrap_or(text.len());
    let first = text[..end].trim().trim_matches('"');
    let hint = first
        .get(..4)
        .filter(|prefix| prefix.eq_ignore_ascii_case("sep="))
        .and_then(|_| match first.as_bytes() {
            [_, _, _, _, delimiter] if b",;\t|".contains(delimiter) => Some(*delimiter),
            _ => None,
        });
    match hint {
        Some(delimiter) => (text.get(end + 1..).unwrap_or(""), 1, Some(delimiter)),
        None => (text, 0, None),
    }
}

/// Counts `,`, `;` and tab outside quotes on the first non-blank line; the
/// most frequent wins, a comma on a tie or when there is none.
pub(super) fn sniff_delimiter(text: &str) -> u8 {
    const CANDIDATES: [u8; 3] = [b',', b';', b'\t'];
    let mut counts = [0usize; 3];
    let mut in_quotes = false;
    let mut seen_content = false;
    for byte in text.bytes() {
        match byte {
            b'"' => in_quotes = !in_quotes,
            b'\n' | b'\r' if !in_quotes && seen_content => break,
            _ if in_quotes => {}
            _ => {
                if let Some(slot) = CANDIDATES.iter().position(|c| *c == byte) {
                    counts[slot] += 1;
                }
            }
        }
        seen_content |= !byte.is_ascii_whitespace();
    }
    let mut best = 0;
    for slot in 1..CANDIDATES.len() {
        if counts[slot] > counts[best] {
            best = slot;
        }
    }
    CANDIDATES[best]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delimiter_is_the_most_frequent_one_outside_quotes() {
        assert_eq!(sniff_delimiter("ref;name;\"a,b,c,d\"\n1;2;3"), b';');
        assert_eq!(sniff_delimiter("\n\nref,name,email\r\n"), b',');
        assert_eq!(sniff_delimiter("ref\tname\n"), b'\t');
        assert_eq!(sniff_delimiter("ref\n"), b',');
    }

    #[test]
    fn a_workbook_is_refused_as_not_csv() {
        assert!(matches!(
            to_text(b"PK\x03\x04rest", &mut Vec::new()),
            Err(DecodeError::NotCsv(_))
        ));
    }

    #[test]
    fn lines_count_crlf_once_and_a_lone_cr_as_a_break() {
        let text = b"a\r\nb\rc\n\n\nd";
        let mut lines = Lines::new(text, 1);
        assert_eq!(lines.at(0), 1);
        assert_eq!(
            lines.at(1),
            2,
            "from the CR of a CRLF, the record starts after it"
        );
        assert_eq!(lines.at(4), 3);
        assert_eq!(
            lines.at(6),
            6,
            "blank lines are skipped to the next content"
        );
    }

    #[test]
    fn bad_bytes_after_a_utf8_mark_are_replaced_and_reported() {
        let mut warnings = Vec::new();
        let (text, encoding) =
            to_text(b"\xEF\xBB\xBFref,name\nA1,B\xFFudi\n", &mut warnings).unwrap();
        assert_eq!(encoding, TextEncoding::Utf8Bom);
        assert!(text.contains("B\u{fffd}udi"));
        assert!(warnings[0].contains("UTF-8"), "{warnings:?}");
    }
}
