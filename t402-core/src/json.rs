//! Strict JSON reading: like `serde_json::from_slice`, but a duplicate key anywhere is an error.
//!
//! Plain serde_json keeps the last of two equal keys, so `{"amount":"1","amount":"1000000"}`
//! could mean different things to different readers. Payment messages are read through
//! [`from_slice_strict`], which refuses them.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
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
///
/// Two passes over the bytes: the first checks the syntax and that no object repeats a key,
/// allocating nothing for keys without escapes; the second is serde_json's own typed reading.
/// No intermediate JSON value is built.
pub fn from_slice_strict<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StrictJsonError> {
    let text = check_unique_keys(bytes)?;
    serde_json::from_str(text).map_err(StrictJsonError::Shape)
}

/// Checks that `bytes` is one JSON value (nothing after it) whose objects never repeat a key,
/// and gives them back as text. The UTF-8 is checked once, here: reading the text again
/// (`serde_json::from_str`) does not check each string anew.
pub fn check_unique_keys(bytes: &[u8]) -> Result<&str, StrictJsonError> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        // serde_json words the error and says where (its reading of strings checks UTF-8).
        let error = match serde_json::from_slice::<serde_json::Value>(bytes) {
            Err(error) => error,
            Ok(_) => serde::de::Error::custom("invalid UTF-8"),
        };
        return Err(StrictJsonError::Syntax(error));
    };
    let duplicate = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    UniqueKeys {
        duplicate: &duplicate,
    }
    .deserialize(&mut deserializer)
    .and_then(|()| deserializer.end())
    .map_err(|err| match duplicate.take() {
        Some(key) => StrictJsonError::DuplicateKey(key),
        None => StrictJsonError::Syntax(err),
    })?;
    Ok(text)
}

/// Objects with more keys than this are checked with a hash set instead of a scan.
const SCANNED_KEYS: usize = 16;

/// Walks a JSON value, failing at the first object that repeats a key.
#[derive(Clone, Copy)]
struct UniqueKeys<'a> {
    duplicate: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for UniqueKeys<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueKeys<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen: Vec<Cow<'de, str>> = Vec::new();
        let mut many: Option<HashSet<Cow<'de, str>>> = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let repeated = match &mut many {
                Some(set) => !set.insert(key.clone()),
                None if seen.len() >= SCANNED_KEYS => {
                    let mut set: HashSet<_> = seen.drain(..).collect();
                    let repeated = !set.insert(key.clone());
                    many = Some(set);
                    repeated
                }
                None => {
                    let repeated = seen.contains(&key);
                    seen.push(key.clone());
                    repeated
                }
            };
            if repeated {
                let message = format!("duplicate key `{key}`");
                *self.duplicate.borrow_mut() = Some(key.into_owned());
                return Err(serde::de::Error::custom(message));
            }
            map.next_value_seed(self)?;
        }
        Ok(())
    }
}

/// A JSON value read in one pass, refusing an object that repeats a key. The readers of the
/// paid path's messages read their JSON-valued fields with it, so that they are strict by
/// themselves (`wire::de`).
#[derive(Clone, Copy)]
pub(crate) struct StrictValue;

impl StrictValue {
    /// The next value of `map`, read strictly.
    pub(crate) fn next<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Value, A::Error> {
        map.next_value_seed(Self)
    }

    /// The next value of `map` as an object (strictly); `null` reads as `None`.
    pub(crate) fn next_object<'de, A: MapAccess<'de>>(
        map: &mut A,
    ) -> Result<Option<Map<String, Value>>, A::Error> {
        match Self::next(map)? {
            Value::Object(object) => Ok(Some(object)),
            Value::Null => Ok(None),
            other => Err(serde::de::Error::custom(format!(
                "invalid type: {}, expected a JSON object",
                kind(&other)
            ))),
        }
    }

    /// Inserts `key` into `object`, refusing a key already there.
    pub(crate) fn insert<E: serde::de::Error>(
        object: &mut Map<String, Value>,
        key: String,
        value: Value,
    ) -> Result<(), E> {
        // One lookup: the key is hashed once.
        match object.entry(key) {
            serde_json::map::Entry::Occupied(entry) => {
                Err(E::custom(format!("duplicate key `{}`", entry.key())))
            }
            serde_json::map::Entry::Vacant(entry) => {
                entry.insert(value);
                Ok(())
            }
        }
    }
}

/// How serde names a JSON value's type in its errors.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "sequence",
        Value::Object(_) => "map",
    }
}

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
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
            let value = map.next_value_seed(self)?;
            Self::insert(&mut object, key, value)?;
        }
        Ok(Value::Object(object))
    }
}

/// The `visit_*` methods of a visitor for every JSON value but an object, all answering
/// `$answer` (arrays are skipped unread): for readers that look into objects and treat anything
/// else as absent.
macro_rules! visit_non_objects {
    ($de:lifetime, $value:ty => $answer:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<$value, E> {
            Ok($answer)
        }
        fn visit_i64<E>(self, _: i64) -> Result<$value, E> {
            Ok($answer)
        }
        fn visit_u64<E>(self, _: u64) -> Result<$value, E> {
            Ok($answer)
        }
        fn visit_f64<E>(self, _: f64) -> Result<$value, E> {
            Ok($answer)
        }
        fn visit_str<E>(self, _: &str) -> Result<$value, E> {
            Ok($answer)
        }
        fn visit_unit<E>(self) -> Result<$value, E> {
            Ok($answer)
        }
        fn visit_seq<A: serde::de::SeqAccess<$de>>(self, mut seq: A) -> Result<$value, A::Error> {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok($answer)
        }
    };
}
pub(crate) use visit_non_objects;

/// An object key, borrowed from the input when it has no escapes.
pub(crate) struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn refuses_duplicates_written_differently_and_in_large_objects() {
        // An escaped key is the same key.
        assert!(matches!(
            from_slice_strict::<Value>(br#"{"a":1,"\u0061":2}"#),
            Err(StrictJsonError::DuplicateKey(key)) if key == "a"
        ));
        // Past the scanned keys, the hash set finds the repeat (first, middle and last keys).
        let keys: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        for repeated in ["k0", "k20", "k39"] {
            let text = format!("{{{},\"{repeated}\":0}}", keys.join(","));
            assert!(matches!(
                from_slice_strict::<Value>(text.as_bytes()),
                Err(StrictJsonError::DuplicateKey(key)) if key == repeated
            ));
        }
        let text = format!("{{{}}}", keys.join(","));
        let value: Value = from_slice_strict(text.as_bytes()).unwrap();
        assert_eq!(value.as_object().unwrap().len(), 40);
    }

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
