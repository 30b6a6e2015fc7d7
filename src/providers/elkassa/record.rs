//! ELKASSA user records as the listing serves them, read liberally.
//!
//! A derived `Deserialize` cannot read these objects: `user_type_desc`
//! appears twice (first the user type, last the account status), and serde
//! rejects or silently collapses duplicate fields. The visitor below walks
//! the keys itself so both values survive, and turns a structurally valid
//! but unusable record into a per-record error instead of failing the page.

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// One user of the ELKASSA listing, every field kept as the text it was sent as.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElkassaUser {
    /// The account key, e.g. `ELK44552`.
    pub registration_id: String,
    /// Login email.
    pub email: Option<String>,
    /// Naive WIB timestamp of registration.
    pub registered_date: Option<String>,
    /// `0` retail, `1` grosir.
    pub user_type: Option<String>,
    /// The first `user_type_desc`: the user type's description (`Retail`).
    pub user_type_desc: Option<String>,
    /// The last `user_type_desc`: the account status (`ACTIVE`).
    pub account_status: Option<String>,
    /// Current contract id.
    pub contract_id: Option<String>,
    /// Packet the contract is on, where the partner sends it.
    pub packet_id: Option<String>,
    /// Naive WIB timestamp when the contract ends.
    pub expired_date: Option<String>,
    /// Human packet name, e.g. `6 Bulan`; may disagree with the packet.
    pub contract_notes: Option<String>,
    /// Shop name.
    pub toko_name: Option<String>,
    /// Shop address.
    pub toko_address: Option<String>,
    /// The shop's branches.
    pub cabangs: Vec<Cabang>,
}

/// An ELKASSA branch (cabang) of a shop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Cabang {
    /// Branch key, e.g. `ELK44552-1`.
    #[serde(default, deserialize_with = "lenient_text")]
    pub cabang_id: Option<String>,
    /// Branch name.
    #[serde(default, deserialize_with = "lenient_text")]
    pub cabang_name: Option<String>,
    /// Branch address.
    #[serde(default, deserialize_with = "lenient_text")]
    pub cabang_address: Option<String>,
}

/// A listing entry: a usable user, or why it is not usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSlot(pub Result<ElkassaUser, String>);

impl<'de> Deserialize<'de> for UserSlot {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UserSlotVisitor)
    }
}

struct UserSlotVisitor;

impl<'de> Visitor<'de> for UserSlotVisitor {
    type Value = UserSlot;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an ELKASSA user object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UserSlot, A::Error> {
        let mut user = ElkassaUser::default();
        let mut registration_id = None;
        let mut type_descs: Vec<Option<String>> = Vec::with_capacity(2);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let slot = match key.as_ref() {
                "registration_id" => &mut registration_id,
                "email" => &mut user.email,
                "registered_date" => &mut user.registered_date,
                "user_type" => &mut user.user_type,
                "contract_id" => &mut user.contract_id,
                "packet_id" => &mut user.packet_id,
                "expired_date" => &mut user.expired_date,
                "contract_notes" => &mut user.contract_notes,
                "toko_name" => &mut user.toko_name,
                "toko_address" => &mut user.toko_address,
                "user_type_desc" => {
                    type_descs.push(map.next_value::<LenientText>()?.0);
                    continue;
                }
                "cabangs" => {
                    user.cabangs = map.next_value::<LenientCabangs>()?.0;
                    continue;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = map.next_value::<LenientText>()?.0;
        }
        assign_type_descs(&mut user, type_descs);
        Ok(UserSlot(match registration_id {
            Some(id) => Ok(ElkassaUser {
                registration_id: id,
                ..user
            }),
            None => Err("record has no registration_id".to_owned()),
        }))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UserSlot, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(UserSlot(
            Err("record is an array, not an object".to_owned()),
        ))
    }

    fn visit_unit<E: de::Error>(self) -> Result<UserSlot, E> {
        Ok(UserSlot(Err("record is null".to_owned())))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<UserSlot, E> {
        Ok(UserSlot(
            Err("record is a string, not an object".to_owned()),
        ))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<UserSlot, E> {
        Ok(UserSlot(
            Err("record is a number, not an object".to_owned()),
        ))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<UserSlot, E> {
        Ok(UserSlot(
            Err("record is a number, not an object".to_owned()),
        ))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<UserSlot, E> {
        Ok(UserSlot(Err(
            "record is a boolean, not an object".to_owned()
        )))
    }
}

/// First occurrence is the user type, last the account status. A record with
/// a single occurrence is ambiguous; a value that reads like a status
/// (`ACTIVE`, `INACTIVE`, ...) is taken as the status, otherwise the type.
fn assign_type_descs(user: &mut ElkassaUser, mut descs: Vec<Option<String>>) {
    match descs.len() {
        0 => {}
        1 => {
            let only = descs.pop().flatten();
            if only.as_deref().is_some_and(looks_like_status) {
                user.account_status = only;
            } else {
                user.user_type_desc = only;
            }
        }
        _ => {
            user.account_status = descs.pop().flatten();
            user.user_type_desc = descs.swap_remove(0);
        }
    }
}

fn looks_like_status(value: &str) -> bool {
    let upper = value.trim().to_ascii_uppercase();
    matches!(
        upper.as_str(),
        "ACTIVE" | "INACTIVE" | "EXPIRED" | "SUSPENDED" | "BLOCKED" | "NONACTIVE" | "NON ACTIVE"
    )
}

/// Branches as a list, but also a single object, an object keyed by index
/// (PHP back ends), or null/empty: none of these should cost the user.
struct LenientCabangs(Vec<Cabang>);

impl<'de> Deserialize<'de> for LenientCabangs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let items = match value {
            serde_json::Value::Array(items) => items,
            serde_json::Value::Object(map) if map.contains_key("cabang_id") => {
                vec![serde_json::Value::Object(map)]
            }
            serde_json::Value::Object(map) => map.into_iter().map(|(_, item)| item).collect(),
            _ => Vec::new(),
        };
        Ok(LenientCabangs(
            items
                .into_iter()
                .filter_map(|item| serde_json::from_value(item).ok())
                .collect(),
        ))
    }
}

/// Text that may arrive as a string, number, boolean or null.
struct LenientText(Option<String>);

impl<'de> Deserialize<'de> for LenientText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(LenientTextVisitor)
            .map(LenientText)
    }
}

/// `deserialize_with` helper for fields read as lenient text.
fn lenient_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    LenientText::deserialize(deserializer).map(|text| text.0)
}

struct LenientTextVisitor;

impl<'de> Visitor<'de> for LenientTextVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, number, boolean or null")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        let trimmed = value.trim();
        Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // A nested object where text was expected carries nothing we model;
        // the raw body keeps it.
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC_USER: &str = r#"{
      "registration_id": "ELK44552", "email": "priyanga27+sobat33@gmail.com",
      "registered_date": "2016-03-18 22:08:02", "user_type": "0", "user_type_desc": "Retail",
      "contract_id": "12", "expired_date": "2017-04-12 23:00:01", "contract_notes": "6 Bulan",
      "toko_name": "Toko AHE", "toko_address": "Bandung Tenggara", "user_type_desc": "ACTIVE",
      "cabangs": [{"cabang_id": "ELK44552-1", "cabang_name": "Toko AHE", "cabang_address": "Bandung Tenggara"}]
    }"#;

    fn parse(json: &str) -> UserSlot {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_duplicated_key_keeps_both_the_user_type_and_the_status() {
        let user = parse(DOC_USER).0.unwrap();
        assert_eq!(user.user_type_desc.as_deref(), Some("Retail"));
        assert_eq!(user.account_status.as_deref(), Some("ACTIVE"));
        assert_eq!(user.cabangs.len(), 1);
        assert_eq!(user.cabangs[0].cabang_id.as_deref(), Some("ELK44552-1"));
    }

    #[test]
    fn numbers_where_text_is_expected_are_kept_as_text() {
        let user = parse(
            r#"{"registration_id": 123, "user_type": 1, "contract_id": 12.0, "cabangs": null}"#,
        )
        .0
        .unwrap();
        assert_eq!(user.registration_id, "123");
        assert_eq!(user.user_type.as_deref(), Some("1"));
        assert!(user.cabangs.is_empty());
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let user =
            parse(r#"{"registration_id": "ELK1", "loyalty": {"tier": [1,2]}, "extra": null}"#)
                .0
                .unwrap();
        assert_eq!(user.registration_id, "ELK1");
    }

    #[test]
    fn branches_in_other_shapes_are_still_read() {
        let single = parse(
            r#"{"registration_id": "E", "cabangs": {"cabang_id": "E-1", "cabang_name": "A"}}"#,
        )
        .0
        .unwrap();
        assert_eq!(single.cabangs.len(), 1);
        let keyed = parse(r#"{"registration_id": "E", "cabangs": {"0": {"cabang_id": "E-1"}, "1": {"cabang_id": 2}}}"#).0.unwrap();
        assert_eq!(keyed.cabangs[1].cabang_id.as_deref(), Some("2"));
        let junk = parse(r#"{"registration_id": "E", "cabangs": ""}"#)
            .0
            .unwrap();
        assert!(junk.cabangs.is_empty());
    }

    #[test]
    fn a_lone_status_value_is_read_as_the_status() {
        let user = parse(r#"{"registration_id": "ELK1", "user_type_desc": "INACTIVE"}"#)
            .0
            .unwrap();
        assert_eq!(user.account_status.as_deref(), Some("INACTIVE"));
        assert_eq!(user.user_type_desc, None);
    }

    #[test]
    fn a_record_without_an_id_is_an_error_for_that_record_only() {
        let slots: Vec<UserSlot> =
            serde_json::from_str(r#"[{"email": "a@b.c"}, null, {"registration_id": "ELK2"}]"#)
                .unwrap();
        assert!(slots[0].0.as_ref().unwrap_err().contains("registration_id"));
        assert!(slots[1].0.is_err());
        assert_eq!(slots[2].0.as_ref().unwrap().registration_id, "ELK2");
    }
}
