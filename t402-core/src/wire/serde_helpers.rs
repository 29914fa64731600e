//! Small serde helpers shared by the wire types.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Deserializes a field that may be an object or `null`, keeping `null` as `Some(Value::Null)` so
/// that it is written back as it came. Use with `#[serde(default)]` so absence gives `None`.
pub(crate) fn object_or_null<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Value>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    match value {
        Value::Object(_) | Value::Null => Ok(Some(value)),
        other => Err(serde::de::Error::custom(format!(
            "expected a JSON object or null, found {other}"
        ))),
    }
}
