//! The protocol version field and the key that names it.
//!
//! x402 peers write the version as `x402Version`; t402 peers write `t402Version`. t402 accepts
//! either on input (a message carrying both with different values is refused) and emits
//! `x402Version`, `t402Version`, or both with equal values, as the caller chooses with
//! [`VersionKey`].

use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// The JSON key x402 peers use for the protocol version.
pub const X402_VERSION_KEY: &str = "x402Version";
/// The JSON key t402 peers use for the protocol version.
pub const T402_VERSION_KEY: &str = "t402Version";

/// Which key (or keys) name the protocol version when a message is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum VersionKey {
    /// `x402Version`: what x402 peers (the reference SDKs, x402-rs) read. The default.
    #[default]
    X402,
    /// `t402Version`: what t402 peers read.
    T402,
    /// Both keys with equal values: read by both families.
    Both,
}

impl VersionKey {
    /// Whether the `x402Version` key is written.
    pub fn writes_x402(self) -> bool {
        matches!(self, Self::X402 | Self::Both)
    }

    /// Whether the `t402Version` key is written.
    pub fn writes_t402(self) -> bool {
        matches!(self, Self::T402 | Self::Both)
    }

    /// The key a reply should use for a message that arrived with this key: x402 when both were
    /// present.
    pub fn reply_key(self) -> Self {
        match self {
            Self::Both => Self::X402,
            other => other,
        }
    }
}

/// Why a message's version field was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VersionError {
    /// Neither `x402Version` nor `t402Version` is present.
    #[error("the message has no x402Version (or t402Version)")]
    Missing,
    /// A version key holds something other than a non-negative integer (`"2"`, `2.0`, ...).
    #[error("{key} must be an integer")]
    NotAnInteger {
        /// The offending key.
        key: &'static str,
    },
    /// Both keys are present with different values.
    #[error("x402Version ({x402}) and t402Version ({t402}) disagree")]
    Disagree {
        /// The `x402Version` value.
        x402: u32,
        /// The `t402Version` value.
        t402: u32,
    },
    /// The version is not the one this message type carries.
    #[error("protocol version {found} where {expected} was expected")]
    Unexpected {
        /// The version expected.
        expected: u32,
        /// The version found.
        found: u32,
    },
}

/// A protocol version number together with the key that carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProtocolVersion {
    /// The version number (1 or 2).
    pub number: u32,
    /// The key (or keys) naming it.
    pub key: VersionKey,
}

impl ProtocolVersion {
    /// Version 2 written as `x402Version`.
    pub const V2: Self = Self {
        number: 2,
        key: VersionKey::X402,
    };
    /// Version 1 written as `x402Version`.
    pub const V1: Self = Self {
        number: 1,
        key: VersionKey::X402,
    };

    /// A version written with `key`.
    pub const fn new(number: u32, key: VersionKey) -> Self {
        Self { number, key }
    }

    pub(crate) fn resolve(x402: Option<u32>, t402: Option<u32>) -> Result<Self, VersionError> {
        match (x402, t402) {
            (None, None) => Err(VersionError::Missing),
            (Some(number), None) => Ok(Self::new(number, VersionKey::X402)),
            (None, Some(number)) => Ok(Self::new(number, VersionKey::T402)),
            (Some(x402), Some(t402)) if x402 == t402 => Ok(Self::new(x402, VersionKey::Both)),
            (Some(x402), Some(t402)) => Err(VersionError::Disagree { x402, t402 }),
        }
    }

    /// Reads the version of a JSON object without deserializing the rest of it.
    pub fn of_json(object: &Value) -> Result<Self, VersionError> {
        match object.as_object() {
            Some(map) => Self::of_map(map),
            None => Err(VersionError::Missing),
        }
    }

    fn of_map(object: &serde_json::Map<String, Value>) -> Result<Self, VersionError> {
        let read = |key: &'static str| -> Result<Option<u32>, VersionError> {
            match object.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(value) => value
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .map(Some)
                    .ok_or(VersionError::NotAnInteger { key }),
            }
        };
        Self::resolve(read(X402_VERSION_KEY)?, read(T402_VERSION_KEY)?)
    }

    /// Reads the version of JSON bytes (an object) without deserializing the rest of them. The
    /// bytes must be JSON; other errors are the same as [`of_json`](Self::of_json)'s.
    pub fn of_json_bytes(bytes: &[u8]) -> Result<Result<Self, VersionError>, serde_json::Error> {
        let fields: VersionFields = serde_json::from_slice(bytes)?;
        Ok(Self::of_json(&fields.0))
    }

    /// Checks that the number is `expected`.
    pub fn expect(self, expected: u32) -> Result<Self, VersionError> {
        if self.number == expected {
            Ok(self)
        } else {
            Err(VersionError::Unexpected {
                expected,
                found: self.number,
            })
        }
    }
}

/// Rewrites the version field of a JSON object with `key`: whichever key (or keys) named the
/// version are replaced by the ones `key` writes, with the same number. Used to forward a message
/// to a peer of the other family. An object without a version is left as it is.
pub fn set_version_key(
    object: &mut serde_json::Map<String, Value>,
    key: VersionKey,
) -> Result<(), VersionError> {
    let number = match ProtocolVersion::of_map(object) {
        Ok(version) => version.number,
        Err(VersionError::Missing) => return Ok(()),
        Err(other) => return Err(other),
    };
    object.remove(X402_VERSION_KEY);
    object.remove(T402_VERSION_KEY);
    if key.writes_x402() {
        object.insert(X402_VERSION_KEY.to_owned(), Value::from(number));
    }
    if key.writes_t402() {
        object.insert(T402_VERSION_KEY.to_owned(), Value::from(number));
    }
    Ok(())
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.number)
    }
}

#[derive(Deserialize)]
struct RawVersionKeys {
    #[serde(rename = "x402Version", default)]
    x402: Option<u32>,
    #[serde(rename = "t402Version", default)]
    t402: Option<u32>,
}

impl Serialize for ProtocolVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fields = usize::from(self.key.writes_x402()) + usize::from(self.key.writes_t402());
        let mut out = serializer.serialize_struct("ProtocolVersion", fields)?;
        if self.key.writes_x402() {
            out.serialize_field(X402_VERSION_KEY, &self.number)?;
        }
        if self.key.writes_t402() {
            out.serialize_field(T402_VERSION_KEY, &self.number)?;
        }
        out.end()
    }
}

impl<'de> Deserialize<'de> for ProtocolVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawVersionKeys::deserialize(deserializer)?;
        Self::resolve(raw.x402, raw.t402).map_err(serde::de::Error::custom)
    }
}

/// Serde helpers for a flattened version field fixed to one number, stored as its
/// [`VersionKey`].
pub(crate) mod fixed {
    use super::*;

    pub(crate) fn serialize<S: Serializer, const N: u32>(
        key: &VersionKey,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        ProtocolVersion::new(N, *key).serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>, const N: u32>(
        deserializer: D,
    ) -> Result<VersionKey, D::Error> {
        let version = ProtocolVersion::deserialize(deserializer)?;
        version
            .expect(N)
            .map(|v| v.key)
            .map_err(serde::de::Error::custom)
    }

    /// Version 2.
    pub(crate) mod v2 {
        use super::*;
        pub(crate) fn serialize<S: Serializer>(k: &VersionKey, s: S) -> Result<S::Ok, S::Error> {
            super::serialize::<S, 2>(k, s)
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<VersionKey, D::Error> {
            super::deserialize::<D, 2>(d)
        }
    }

    /// Version 1.
    pub(crate) mod v1 {
        use super::*;
        pub(crate) fn serialize<S: Serializer>(k: &VersionKey, s: S) -> Result<S::Ok, S::Error> {
            super::serialize::<S, 1>(k, s)
        }
        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<VersionKey, D::Error> {
            super::deserialize::<D, 1>(d)
        }
    }
}

/// Serde helpers for a flattened version field that may be absent (the top-level version of
/// verify and settle requests, which older peers omit).
pub(crate) mod optional {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        version: &Option<ProtocolVersion>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match version {
            Some(version) => version.serialize(serializer),
            None => serializer.serialize_struct("ProtocolVersion", 0)?.end(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<ProtocolVersion>, D::Error> {
        let raw = RawVersionKeys::deserialize(deserializer)?;
        match ProtocolVersion::resolve(raw.x402, raw.t402) {
            Ok(version) => Ok(Some(version)),
            Err(VersionError::Missing) => Ok(None),
            Err(other) => Err(serde::de::Error::custom(other)),
        }
    }
}

/// A JSON value reduced to its version fields: an object holding only `x402Version` and
/// `t402Version` where present, `null` for anything but an object. Other fields are skipped
/// unread.
pub(crate) struct VersionFields(pub(crate) Value);

impl<'de> Deserialize<'de> for VersionFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, Visitor};

        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = VersionFields;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<VersionFields, A::Error> {
                let mut fields = serde_json::Map::new();
                while let Some(key) = map.next_key_seed(crate::json::KeySeed)? {
                    if key == X402_VERSION_KEY || key == T402_VERSION_KEY {
                        fields.insert(key.into_owned(), map.next_value::<Value>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(VersionFields(Value::Object(fields)))
            }
            crate::json::visit_non_objects!('de, VersionFields => VersionFields(Value::Null));
        }
        deserializer.deserialize_any(Fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_either_key() {
        assert_eq!(
            ProtocolVersion::of_json(&json!({"x402Version": 2})).unwrap(),
            ProtocolVersion::new(2, VersionKey::X402)
        );
        assert_eq!(
            ProtocolVersion::of_json(&json!({"t402Version": 2})).unwrap(),
            ProtocolVersion::new(2, VersionKey::T402)
        );
        assert_eq!(
            ProtocolVersion::of_json(&json!({"t402Version": 2, "x402Version": 2})).unwrap(),
            ProtocolVersion::new(2, VersionKey::Both)
        );
    }

    #[test]
    fn refuses_bad_versions() {
        assert_eq!(
            ProtocolVersion::of_json(&json!({"x402Version": 2, "t402Version": 1})),
            Err(VersionError::Disagree { x402: 2, t402: 1 })
        );
        assert_eq!(
            ProtocolVersion::of_json(&json!({})),
            Err(VersionError::Missing)
        );
        assert_eq!(
            ProtocolVersion::of_json(&json!({"x402Version": 2.0})),
            Err(VersionError::NotAnInteger {
                key: X402_VERSION_KEY
            })
        );
        assert_eq!(
            ProtocolVersion::of_json(&json!({"t402Version": "2"})),
            Err(VersionError::NotAnInteger {
                key: T402_VERSION_KEY
            })
        );
        assert_eq!(
            ProtocolVersion::V1.expect(2),
            Err(VersionError::Unexpected {
                expected: 2,
                found: 1
            })
        );
    }

    #[test]
    fn rewrites_the_version_key_in_place() {
        let mut object = json!({"x402Version": 1, "payload": {}})
            .as_object()
            .cloned()
            .unwrap();
        set_version_key(&mut object, VersionKey::T402).unwrap();
        assert_eq!(
            Value::Object(object.clone()),
            json!({"t402Version": 1, "payload": {}})
        );
        set_version_key(&mut object, VersionKey::Both).unwrap();
        assert_eq!(
            Value::Object(object.clone()),
            json!({"x402Version": 1, "t402Version": 1, "payload": {}})
        );
        set_version_key(&mut object, VersionKey::X402).unwrap();
        assert_eq!(
            Value::Object(object),
            json!({"x402Version": 1, "payload": {}})
        );

        let mut unversioned = json!({"a": 1}).as_object().cloned().unwrap();
        set_version_key(&mut unversioned, VersionKey::T402).unwrap();
        assert_eq!(Value::Object(unversioned), json!({"a": 1}));
        let mut disagreeing = json!({"x402Version": 2, "t402Version": 1})
            .as_object()
            .cloned()
            .unwrap();
        assert_eq!(
            set_version_key(&mut disagreeing, VersionKey::X402),
            Err(VersionError::Disagree { x402: 2, t402: 1 })
        );
    }

    #[test]
    fn writes_the_chosen_keys() {
        let both = serde_json::to_string(&ProtocolVersion::new(2, VersionKey::Both)).unwrap();
        assert_eq!(both, r#"{"x402Version":2,"t402Version":2}"#);
        let t = serde_json::to_string(&ProtocolVersion::new(1, VersionKey::T402)).unwrap();
        assert_eq!(t, r#"{"t402Version":1}"#);
        assert_eq!(VersionKey::Both.reply_key(), VersionKey::X402);
        assert_eq!(VersionKey::T402.reply_key(), VersionKey::T402);
    }
}
