//! Row identity: the idempotency key a row keeps across runs, and the
//! duplicates a file holds within itself.

use super::row::{DropRow, Partner};
use super::sanitize::lower_hex;
use super::validate::Reason;
use sha2::{Digest, Sha256};
use std::collections::hash_map::Entry;
use std::collections::HashMap;

/// The row's idempotency key: lowercase hex SHA-256 of the file name, a unit
/// separator (which neither a file name nor a cell holds) and the `ref`.
pub fn row_key(file_name: &str, reference: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(file_name.as_bytes());
    hasher.update("\u{1f}".as_bytes());
    hasher.update(reference.as_bytes());
    lower_hex(&hasher.finalize())
}

/// Finds rows that repeat an earlier row of the same file. The first row
/// wins whether or not it is valid, so which copy is rejected does not
/// depend on which copy was fixed.
#[derive(Debug, Default)]
pub struct FileDuplicates {
    refs: HashMap<String, u64>,
    emails: HashMap<(String, Partner), u64>,
}

impl FileDuplicates {
    /// An empty record of rows seen.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the row and returns why it repeats an earlier one, if it does:
    /// the same `ref`, or the same email for the same partner. A row rejected
    /// for its `ref` does not claim its emails.
    pub fn check(&mut self, row: &DropRow) -> Vec<Reason> {
        let mut reasons = Vec::new();
        if !row.reference.is_empty() {
            match self.refs.entry(row.reference.clone()) {
                Entry::Occupied(first) => {
                    let message = format!(
                        "`{}` repeats the ref of line {}; a ref is unique within a file",
                        row.reference,
                        first.get()
                    );
                    reasons.push(Reason::row("ref", message));
                    return reasons;
                }
                Entry::Vacant(slot) => {
                    slot.insert(row.line);
                }
            }
        }
        let Some(email) = row
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
        else {
            return reasons;
        };
        let email = email.to_lowercase();
        for partner in &row.providers {
            match self.emails.entry((email.clone(), *partner)) {
                Entry::Occupied(first) => {
                    let message = format!(
                        "{email} is already in this file for {partner}, on line {}",
                        first.get()
                    );
                    reasons.push(Reason::for_partner(*partner, "email", message));
                }
                Entry::Vacant(slot) => {
                    slot.insert(row.line);
                }
            }
        }
        reasons
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(line: u64, reference: &str, email: &str, providers: &[Partner]) -> DropRow {
        DropRow {
            line,
            reference: reference.to_owned(),
            email: Some(email.to_owned()),
            providers: providers.to_vec(),
            ..DropRow::default()
        }
    }

    #[test]
    fn the_row_key_is_the_sha256_of_file_and_ref() {
        // sha256("a.csv\x1fR1"), computed independently.
        assert_eq!(
            row_key("a.csv", "R1"),
            "78e7645d68dcc4f4a4b608151aaaa108b1d770b8959582683191407318e72773"
        );
        assert_eq!(row_key("a.csv", "R1").len(), 64);
        assert_ne!(row_key("a.csv", "R1"), row_key("a.csvR", "1"));
    }

    #[test]
    fn a_repeated_ref_is_rejected_naming_the_first_line() {
        let mut seen = FileDuplicates::new();
        assert!(seen
            .check(&row(2, "R1", "a@x.id", &[Partner::Qm]))
            .is_empty());
        let reasons = seen.check(&row(9, "R1", "b@x.id", &[Partner::Qm]));
        assert_eq!(reasons.len(), 1);
        assert_eq!(reasons[0].partner, None);
        assert!(
            reasons[0].message.contains("line 2"),
            "{}",
            reasons[0].message
        );
    }

    #[test]
    fn the_same_email_for_the_same_partner_is_a_duplicate_whatever_its_case() {
        let mut seen = FileDuplicates::new();
        seen.check(&row(2, "R1", "a@x.id", &[Partner::Elkassa]));
        let reasons = seen.check(&row(3, "R2", " A@X.id ", &[Partner::Elkassa, Partner::Mcp]));
        assert_eq!(reasons.len(), 1);
        assert_eq!(reasons[0].partner, Some(Partner::Elkassa));
        assert!(reasons[0].message.contains("line 2"));
        assert!(seen
            .check(&row(4, "R3", "a@x.id", &[Partner::Qm]))
            .is_empty());
    }
}
