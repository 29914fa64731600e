//! Strict JSON reading: like `serde_json::from_slice`, but a duplicate key anywhere is an error.
//!
//! Plain serde_json keeps the last of two equal keys, so `{"amount":"1","amount":"1000000"}`
//! could mean different things to different readers. Payment messages are read through
//! [`from_slice_strict`], which refuses them.

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why strict JSON reading failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StrictJsonError {
    /// An object has the same key twice.
    #[error("duplicate JSON key `{0}`")]
    DuplicateKey(String),
    /// Not JSON (syntax, invalid UTF-8, trailing data, byte-order mark, nesting too deep).
    #[error("{0}")]
    Syntax(#[source] serde_json::Error),
    /// Valid JSON of the wrong shape for the requested type.
    #[error("{0}")]
    Shape(#[source] serde_json::Error),
}

/// Reads `T` from JSON bytes, refusing duplicate keys.
pub fn from_slice_strict<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StrictJsonError> {
    let duplicate = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = ValueSeed {
        duplicate: &duplicate,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value))
    .map_err(|err| match duplicate.take() {
        Some(key) => StrictJsonError::DuplicateKey(key),
        None => StrictJsonError::Syntax(err),
    })?;
    serde_json::from_value(value).map_err(StrictJsonError::Shape)
}

#[derive(Clone, Copy)]
struct ValueSeed<'a> {
    duplicate: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                let message = format!("duplicate key `{key}`");
                *self.duplicate.borrow_mut() = Some(key);
                return Err(serde::de::Error::custom(message));
            }
            let value = map.next_value_seed(self)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_duplicates_at_any_depth() {
        for text in [r#"{"a":1,"a":1}"#, r#"{"x":[{"b":1,"c":2,"b":3}]}"#] {
            assert!(matches!(
                from_slice_strict::<Value>(text.as_bytes()),
                Err(StrictJsonError::DuplicateKey(_))
            ));
        }
    }

    #[test]
    fn refuses_trailing_data_and_bom() {
        assert!(matches!(
            from_slice_strict::<Value>(b"{} {}"),
            Err(StrictJsonError::Syntax(_))
        ));
        assert!(matches!(
            from_slice_strict::<Value>(b"\xEF\xBB\xBF{}"),
            Err(StrictJsonError::Syntax(_))
        ));
        assert!(matches!(
            from_slice_strict::<Value>(b"{\"a\":\"\xff\"}"),
            Err(StrictJsonError::Syntax(_))
        ));
    }

    #[test]
    fn keeps_order_and_values() {
        let v: Value = from_slice_strict(br#"{"z":1,"a":[true,null,-2,1.5,"s"]}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"z":1,"a":[true,null,-2,1.5,"s"]}"#
        );
    }

    #[test]
    fn shape_errors_are_separate() {
        assert!(matches!(
            from_slice_strict::<u32>(b"\"x\""),
            Err(StrictJsonError::Shape(_))
        ));
    }
}

/// Merges `over` into `base` as the reference client merges a payment's extension data over the
/// server's declarations: objects field by field, recursively; anything else replaced.
pub fn merge_objects(base: &mut crate::JsonObject, over: crate::JsonObject) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(serde_json::Value::Object(target)), serde_json::Value::Object(source)) => {
                merge_objects(target, source);
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod merge_tests {
    use super::*;

    #[test]
    fn declarations_keep_their_fields_and_client_values_win() {
        let mut base: crate::JsonObject = serde_json::from_value(serde_json::json!({
            "ext": {"info": {"description": "d", "version": "1"}, "schema": {"type": "object"}},
            "other": {"info": {"a": 1}}
        }))
        .unwrap();
        let over: crate::JsonObject = serde_json::from_value(serde_json::json!({
            "ext": {"info": {"from": "0x1", "version": "1"}},
            "new": [1]
        }))
        .unwrap();
        merge_objects(&mut base, over);
        assert_eq!(
            serde_json::Value::Object(base),
            serde_json::json!({
                "ext": {"info": {"description": "d", "version": "1", "from": "0x1"}, "schema": {"type": "object"}},
                "other": {"info": {"a": 1}},
                "new": [1]
            })
        );
    }
}
