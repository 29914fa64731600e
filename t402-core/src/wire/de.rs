//! Reading the messages of the paid path (requirements, resource, payment, verify/settle
//! request) field by field.
//!
//! These types keep unknown fields and a version written under either key. Serde's `flatten`
//! does that by buffering every field of the object (and of every nested object) as owned
//! content before reading it again, which made reading a payment several times as costly as the
//! JSON itself. Here each field is read once, straight from the input; the accepted and refused
//! inputs are the same as the derived readers' (`tests/wire_readers.rs`). JSON-valued fields
//! (`extra`, `payload`, `extensions`, `accepted`, unknown fields) are read refusing repeated
//! keys, so a message that reads is strict JSON without a separate check.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::{
    Accepted, JsonObject, PaymentPayload, PaymentRequirements, ResourceInfo, VerifyRequest,
};
use crate::json::{KeySeed, StrictValue};
use crate::version::{ProtocolVersion, T402_VERSION_KEY, VersionError, X402_VERSION_KEY};

/// Reads the next value into `slot`, refusing a field given twice.
fn take<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    name: &'static str,
) -> Result<(), A::Error> {
    take_with(map, slot, name, |map| map.next_value())
}

/// Reads the next value into `slot` with `read`, refusing a field given twice.
fn take_with<'de, A: MapAccess<'de>, T>(
    map: &mut A,
    slot: &mut Option<T>,
    name: &'static str,
    read: impl FnOnce(&mut A) -> Result<T, A::Error>,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(read(map)?);
    Ok(())
}

/// Keeps an unknown field, read strictly.
fn keep_unknown<'de, A: MapAccess<'de>>(
    map: &mut A,
    unknown: &mut JsonObject,
    key: std::borrow::Cow<'de, str>,
) -> Result<(), A::Error> {
    let value = StrictValue::next(map)?;
    StrictValue::insert(unknown, key.into_owned(), value)
}

/// A required object (`null` is refused).
fn object<'de, A: MapAccess<'de>>(map: &mut A) -> Result<JsonObject, A::Error> {
    StrictValue::next_object(map)?
        .ok_or_else(|| de::Error::custom("invalid type: null, expected a JSON object"))
}

/// A required field's value.
fn required<T, E: de::Error>(slot: Option<T>, name: &'static str) -> Result<T, E> {
    slot.ok_or_else(|| E::missing_field(name))
}

/// The two version keys as read (`null` reads as absent). The outer `Option` says whether the
/// key was seen, so that a repeated key is refused.
#[derive(Default)]
#[allow(clippy::option_option)]
struct VersionKeys {
    x402: Option<Option<u32>>,
    t402: Option<Option<u32>>,
}

impl VersionKeys {
    /// Reads `key`'s value if it is a version key; `false` when it is not.
    fn read<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            X402_VERSION_KEY => take(map, &mut self.x402, X402_VERSION_KEY)?,
            T402_VERSION_KEY => take(map, &mut self.t402, T402_VERSION_KEY)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn resolve(self) -> Result<ProtocolVersion, VersionError> {
        ProtocolVersion::resolve(self.x402.flatten(), self.t402.flatten())
    }
}

/// Implements `Deserialize` for a JSON object type with a `visit_map`.
macro_rules! object_reader {
    ($type:ty, $expecting:literal, |$map:ident| $body:block) => {
        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Reader;
                impl<'de> Visitor<'de> for Reader {
                    type Value = $type;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut $map: A) -> Result<$type, A::Error> {
                        $body
                    }
                }
                deserializer.deserialize_map(Reader)
            }
        }
    };
}

object_reader!(
    PaymentRequirements,
    "payment requirements (a JSON object)",
    |map| {
        let (mut scheme, mut network, mut amount, mut asset) = (None, None, None, None);
        let (mut pay_to, mut max_timeout_seconds) = (None, None);
        let mut extra: Option<Value> = None;
        let mut unknown = JsonObject::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match key.as_ref() {
                "scheme" => take(&mut map, &mut scheme, "scheme")?,
                "network" => take(&mut map, &mut network, "network")?,
                "amount" => take(&mut map, &mut amount, "amount")?,
                "asset" => take(&mut map, &mut asset, "asset")?,
                "payTo" => take(&mut map, &mut pay_to, "payTo")?,
                "maxTimeoutSeconds" => {
                    take(&mut map, &mut max_timeout_seconds, "maxTimeoutSeconds")?
                }
                "extra" => {
                    take_with(&mut map, &mut extra, "extra", StrictValue::next)?;
                    if let Some(other) = extra.as_ref().filter(|v| !v.is_object() && !v.is_null()) {
                        return Err(de::Error::custom(format!(
                            "expected a JSON object or null, found {other}"
                        )));
                    }
                }
                _ => keep_unknown(&mut map, &mut unknown, key)?,
            }
        }
        Ok(PaymentRequirements {
            scheme: required(scheme, "scheme")?,
            network: required(network, "network")?,
            amount: required(amount, "amount")?,
            asset: required(asset, "asset")?,
            pay_to: required(pay_to, "payTo")?,
            max_timeout_seconds: required(max_timeout_seconds, "maxTimeoutSeconds")?,
            extra,
            unknown,
        })
    }
);

object_reader!(
    ResourceInfo,
    "resource information (a JSON object)",
    |map| {
        let mut url = None;
        let (mut description, mut mime_type): (Option<Option<String>>, Option<Option<String>>) =
            (None, None);
        let mut unknown = JsonObject::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match key.as_ref() {
                "url" => take(&mut map, &mut url, "url")?,
                "description" => take(&mut map, &mut description, "description")?,
                "mimeType" => take(&mut map, &mut mime_type, "mimeType")?,
                _ => keep_unknown(&mut map, &mut unknown, key)?,
            }
        }
        Ok(ResourceInfo {
            url: required(url, "url")?,
            description: description.flatten(),
            mime_type: mime_type.flatten(),
            unknown,
        })
    }
);

object_reader!(PaymentPayload, "a payment payload (a JSON object)", |map| {
    let mut version = VersionKeys::default();
    let mut resource: Option<Option<ResourceInfo>> = None;
    let mut accepted: Option<Accepted> = None;
    let mut payload: Option<JsonObject> = None;
    let mut extensions: Option<Option<JsonObject>> = None;
    let mut unknown = JsonObject::new();
    while let Some(key) = map.next_key_seed(KeySeed)? {
        if version.read(&key, &mut map)? {
            continue;
        }
        match key.as_ref() {
            "resource" => take(&mut map, &mut resource, "resource")?,
            "accepted" => take(&mut map, &mut accepted, "accepted")?,
            "payload" => take_with(&mut map, &mut payload, "payload", object)?,
            "extensions" => {
                take_with(
                    &mut map,
                    &mut extensions,
                    "extensions",
                    StrictValue::next_object,
                )?;
            }
            _ => keep_unknown(&mut map, &mut unknown, key)?,
        }
    }
    let version_key = version
        .resolve()
        .and_then(|version| version.expect(2))
        .map_err(de::Error::custom)?
        .key;
    Ok(PaymentPayload {
        version_key,
        resource: resource.flatten(),
        accepted: required(accepted, "accepted")?,
        payload: required(payload, "payload")?,
        extensions: extensions.flatten(),
        unknown,
    })
});

object_reader!(
    VerifyRequest,
    "a verify or settle request (a JSON object)",
    |map| {
        let mut version = VersionKeys::default();
        let mut payment_payload = None;
        let mut payment_requirements = None;
        let mut unknown = JsonObject::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if version.read(&key, &mut map)? {
                continue;
            }
            match key.as_ref() {
                "paymentPayload" => take(&mut map, &mut payment_payload, "paymentPayload")?,
                "paymentRequirements" => {
                    take(&mut map, &mut payment_requirements, "paymentRequirements")?;
                }
                _ => keep_unknown(&mut map, &mut unknown, key)?,
            }
        }
        // Older peers write no top-level version: the payload's is the one that counts.
        let version = match version.resolve() {
            Ok(version) => Some(version),
            Err(VersionError::Missing) => None,
            Err(other) => return Err(de::Error::custom(other)),
        };
        Ok(VerifyRequest {
            version,
            payment_payload: required(payment_payload, "paymentPayload")?,
            payment_requirements: required(payment_requirements, "paymentRequirements")?,
            unknown,
        })
    }
);
