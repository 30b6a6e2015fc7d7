//! Reading partner answers and send failures, shared by the connectors.

use serde_json::Value;

/// A non-empty string or a number, as text (partners send ids either way).
pub(crate) fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// The partner's message, or the HTTP status when it gave none.
pub(crate) fn or_http(message: String, http_status: u16) -> String {
    if message.is_empty() {
        format!("HTTP {http_status}")
    } else {
        message
    }
}

/// Whether a message says one of `hints`, unless it is negated: "email not
/// registered" must not read as "already registered".
pub(crate) fn says(message: &str, hints: &[&str]) -> bool {
    const NEGATIONS: [&str; 6] = [
        "not exist",
        "n't exist",
        "not registered",
        "not found",
        "tidak ada",
        "belum ",
    ];
    let lower = message.to_lowercase();
    !NEGATIONS.iter().any(|negation| lower.contains(negation))
        && hints.iter().any(|hint| lower.contains(hint))
}

/// How a request that got no answer failed, for a POST that creates something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFailure {
    /// Nothing reached the partner (connect refused, request not built).
    NotSent(String),
    /// The request may have reached the partner: timeout, reset, cut answer.
    Ambiguous(String),
}

/// Only a failed connect proves nothing reached the partner.
pub(crate) fn send_failure(err: reqwest::Error) -> SendFailure {
    let not_sent = err.is_connect() || err.is_builder();
    let reason = describe(err);
    if not_sent {
        SendFailure::NotSent(reason)
    } else {
        SendFailure::Ambiguous(reason)
    }
}

/// A transport error with its cause chain and without its URL (query
/// strings carry credentials).
pub(crate) fn describe(err: reqwest::Error) -> String {
    format!("{:#}", anyhow::Error::new(err.without_url()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_negated_hint_is_not_a_match() {
        assert!(says("Email sudah terdaftar", &["terdaftar"]));
        assert!(says("client email already registered", &["already"]));
        assert!(!says("email not registered", &["registered"]));
        assert!(!says("Email belum terdaftar", &["terdaftar"]));
    }

    #[test]
    fn text_reads_strings_and_numbers_but_not_blanks() {
        assert_eq!(text(&serde_json::json!(" ELK1 ")), Some("ELK1".to_owned()));
        assert_eq!(text(&serde_json::json!(42)), Some("42".to_owned()));
        assert_eq!(text(&serde_json::json!("")), None);
        assert_eq!(or_http(String::new(), 503), "HTTP 503");
    }
}
