//! The ELKASSA answer envelope `{"status", "messages", "data"}`.
//!
//! `status: false` is an error whatever the HTTP status: ELKASSA answers 200
//! with `status: false` for bad credentials and unknown users.

use super::record::UserSlot;
use crate::providers::answer::or_http;
use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use serde::Deserialize;
use std::fmt;

/// Why an ELKASSA body could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// The partner said no, in its own words.
    #[error("partner answered status false (HTTP {http_status}): {message}")]
    Refused {
        /// HTTP status of the answer.
        http_status: u16,
        /// The partner's `messages`.
        message: String,
    },
    /// Not the documented envelope.
    #[error("unreadable answer (HTTP {http_status}): {reason}")]
    Malformed {
        /// HTTP status of the answer.
        http_status: u16,
        /// What was wrong with it.
        reason: String,
    },
}

impl EnvelopeError {
    /// Whether a refusal reads like "nothing here": how some partners
    /// answer a page past the end instead of an empty list.
    pub fn is_no_data(&self) -> bool {
        match self {
            EnvelopeError::Refused {
                http_status,
                message,
            } => {
                let lower = message.to_lowercase();
                *http_status == 404
                    || [
                        "not found",
                        "no data",
                        "tidak ditemukan",
                        "tidak ada",
                        "empty",
                        "kosong",
                    ]
                    .iter()
                    .any(|hint| lower.contains(hint))
            }
            EnvelopeError::Malformed { .. } => false,
        }
    }

    /// Whether the body was unreadable although the partner said 2xx (worth fetching again).
    pub fn is_garbled_success(&self) -> bool {
        matches!(self, EnvelopeError::Malformed { http_status, .. } if (200..300).contains(http_status))
    }

    /// Whether the partner refused our credentials (no retry will help).
    pub fn is_auth(&self) -> bool {
        match self {
            EnvelopeError::Refused {
                http_status,
                message,
            } => {
                let lower = message.to_lowercase();
                *http_status == 401
                    || *http_status == 403
                    || ["key", "token", "auth", "unauthori", "credential"]
                        .iter()
                        .any(|hint| lower.contains(hint))
            }
            EnvelopeError::Malformed { http_status, .. } => {
                *http_status == 401 || *http_status == 403
            }
        }
    }
}

#[derive(Deserialize)]
struct Envelope<T> {
    #[serde(default, deserialize_with = "lenient_bool")]
    status: Option<bool>,
    #[serde(default)]
    messages: Option<serde_json::Value>,
    #[serde(default = "none")]
    data: Option<T>,
}

fn none<T>() -> Option<T> {
    None
}

/// Data of `GET /integration/registration`.
#[derive(Debug, Default, Deserialize)]
pub struct RegistrationData {
    /// Packets on offer.
    #[serde(default)]
    pub registration_packets: Vec<PacketRecord>,
}

/// One packet of the reference data.
#[derive(Debug, Clone, Deserialize)]
pub struct PacketRecord {
    /// Packet key, e.g. `9`.
    #[serde(deserialize_with = "text")]
    pub packet_id: String,
    /// Packet code, e.g. `TRIAL-30HARI`.
    #[serde(default, deserialize_with = "opt_text")]
    pub packet_code: Option<String>,
    /// Human name, e.g. `Trial 30 Hari`.
    #[serde(default, deserialize_with = "opt_text")]
    pub packet_desc: Option<String>,
}

/// Reads a listing page: its entries, or the partner's refusal.
pub fn parse_listing(http_status: u16, body: &[u8]) -> Result<Vec<UserSlot>, EnvelopeError> {
    let data: Option<ListingData> = parse_envelope(http_status, body)?;
    Ok(data.map(|listing| listing.0).unwrap_or_default())
}

/// Reads the registration reference data.
pub fn parse_registration_data(
    http_status: u16,
    body: &[u8],
) -> Result<RegistrationData, EnvelopeError> {
    let data: Option<RegistrationData> = parse_envelope(http_status, body)?;
    Ok(data.unwrap_or_default())
}

fn parse_envelope<T: de::DeserializeOwned>(
    http_status: u16,
    body: &[u8],
) -> Result<Option<T>, EnvelopeError> {
    // Fast path: one typed pass. Only when that fails (a refusal whose `data`
    // has another shape, or garbage) is the body read again generically to
    // say why; `serde_json::Value` is never used for user objects because it
    // would drop the first `user_type_desc`.
    let typed = serde_json::from_slice::<Envelope<T>>(body);
    let (status, messages, data, typed_error) = match typed {
        Ok(envelope) => (envelope.status, envelope.messages, envelope.data, None),
        Err(err) => {
            let loose: Envelope<IgnoredAny> =
                serde_json::from_slice(body).map_err(|_| EnvelopeError::Malformed {
                    http_status,
                    reason: err.to_string(),
                })?;
            (loose.status, loose.messages, None, Some(err.to_string()))
        }
    };
    let message = match messages {
        Some(serde_json::Value::String(text)) => text,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let success = (200..300).contains(&http_status);
    match (status, typed_error) {
        (Some(false), _) => Err(EnvelopeError::Refused {
            http_status,
            message,
        }),
        _ if !success => Err(EnvelopeError::Refused {
            http_status,
            message: or_http(message, http_status),
        }),
        (None, _) => Err(EnvelopeError::Malformed {
            http_status,
            reason: "no `status` field".to_owned(),
        }),
        (Some(true), Some(reason)) => Err(EnvelopeError::Malformed {
            http_status,
            reason,
        }),
        (Some(true), None) => Ok(data),
    }
}

/// Listing data: an array of user entries; `null` or an empty object mean none.
struct ListingData(Vec<UserSlot>);

impl<'de> Deserialize<'de> for ListingData {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListingVisitor;
        impl<'de> Visitor<'de> for ListingVisitor {
            type Value = ListingData;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of users")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<ListingData, A::Error> {
                let mut slots = Vec::with_capacity(seq.size_hint().unwrap_or(10));
                while let Some(slot) = seq.next_element::<UserSlot>()? {
                    slots.push(slot);
                }
                Ok(ListingData(slots))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<ListingData, A::Error> {
                // Some PHP back ends serialise a list with holes as an object
                // keyed by index: read the values in order.
                let mut slots = Vec::new();
                while let Some((_, slot)) = map.next_entry::<IgnoredAny, UserSlot>()? {
                    slots.push(slot);
                }
                Ok(ListingData(slots))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ListingData, E> {
                Ok(ListingData(Vec::new()))
            }
        }
        deserializer.deserialize_any(ListingVisitor)
    }
}

fn lenient_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Bool(flag) => Some(flag),
        serde_json::Value::Number(number) => Some(number.as_f64() != Some(0.0)),
        serde_json::Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "ok" | "success" => Some(true),
            "false" | "0" | "error" | "failed" => Some(false),
            _ => None,
        },
        _ => None,
    })
}

fn opt_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        serde_json::Value::Number(number) => Some(number.to_string()),
        _ => None,
    })
}

fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    opt_text(deserializer)?
        .ok_or_else(|| de::Error::custom("expected a non-empty string or number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_false_is_an_error_even_with_http_200() {
        let err = parse_listing(
            200,
            br#"{"status": false, "messages": "Invalid key or token", "data": null}"#,
        )
        .unwrap_err();
        assert!(err.is_auth());
        assert!(err.to_string().contains("Invalid key or token"));
    }

    #[test]
    fn a_page_past_the_end_is_empty() {
        assert!(parse_listing(
            200,
            br#"{"status": true, "messages": "User data", "data": []}"#
        )
        .unwrap()
        .is_empty());
        assert!(parse_listing(200, br#"{"status": "true", "data": null}"#)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn not_found_refusals_are_recognised_as_no_data() {
        let not_found = parse_listing(
            200,
            br#"{"status": false, "messages": "Data tidak ditemukan"}"#,
        )
        .unwrap_err();
        assert!(not_found.is_no_data() && !not_found.is_auth());
        let http_404 = parse_listing(404, br#"{"status": false, "messages": ""}"#).unwrap_err();
        assert!(http_404.is_no_data());
        let auth = parse_listing(
            200,
            br#"{"status": false, "messages": "Invalid key or token"}"#,
        )
        .unwrap_err();
        assert!(!auth.is_no_data());
    }

    #[test]
    fn a_body_that_is_not_json_is_malformed_not_empty() {
        let err = parse_listing(200, b"<html>gateway</html>").unwrap_err();
        assert!(matches!(err, EnvelopeError::Malformed { .. }));
    }

    #[test]
    fn registration_data_reads_packets_with_numeric_ids() {
        let data = parse_registration_data(
            200,
            br#"{"status": true, "data": {"registration_packets": [{"packet_id": 9, "packet_code": "TRIAL-30HARI", "packet_desc": "Trial 30 Hari"}], "user_type": []}}"#,
        )
        .unwrap();
        assert_eq!(data.registration_packets[0].packet_id, "9");
    }
}
