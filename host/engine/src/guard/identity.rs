//! What the guard reads of an object, and nothing more: `apiVersion`, `kind`, and of `metadata`
//! the name, the namespace and the ownership labels and annotations ([`OWNERSHIP`]). A census of
//! these is the census of the whole objects, so the engine keeps only this per object between
//! steps, and reads it from a step's JSON text without building the rest (issue #12).
//!
//! JSON allows a key twice. What is applied is the last value (serde_json's maps, the YAML
//! writer), so that is what is read here too, at every level and however late the repeat
//! comes: a step cannot show the guard one namespace and have another one applied.

use std::fmt;

use capstan_sdk::JsonKey;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{MetadataField, OWNERSHIP};

/// The identity of an object given as a value: its fields above, each as it is (a value that
/// is not an object where one is read from becomes `null`; labels and annotations without
/// ownership keys are left out).
pub fn identity_of(object: &Value) -> Value {
    pick(Level::Top, object)
}

/// [`identity_of`] the object `text` holds, reading it once and building only what it keeps;
/// `null` if it cannot be read. A step's text is checked to be one JSON object before; what
/// the skipped parts hold is checked when the object is built or written, which fails the
/// step if it cannot be (numbers out of range, lone surrogates, nesting past 128 levels).
pub fn identity_of_text(text: &str) -> Value {
    let mut de = serde_json::Deserializer::from_str(text);
    Level::Top.deserialize(&mut de).unwrap_or(Value::Null)
}

/// Where in an object a map is read.
#[derive(Debug, Clone, Copy)]
enum Level {
    /// The object itself.
    Top,
    /// `metadata`.
    Metadata,
    /// `metadata.labels` or `metadata.annotations`.
    Owners(MetadataField),
}

/// What is kept of the entry `key` of a map at `level`.
enum Keep {
    /// Its value, as it is.
    Value,
    /// What is read of its value one level down.
    Below(Level),
    /// Nothing.
    Nothing,
}

impl Level {
    fn keep(self, key: &str) -> Keep {
        match (self, key) {
            (Level::Top, "apiVersion" | "kind") | (Level::Metadata, "name" | "namespace") => {
                Keep::Value
            }
            (Level::Top, "metadata") => Keep::Below(Level::Metadata),
            (Level::Metadata, "labels") => Keep::Below(Level::Owners(MetadataField::Label)),
            (Level::Metadata, "annotations") => {
                Keep::Below(Level::Owners(MetadataField::Annotation))
            }
            (Level::Owners(field), key)
                if OWNERSHIP.iter().any(|&(f, k)| f == field && k == key) =>
            {
                Keep::Value
            }
            _ => Keep::Nothing,
        }
    }
}

impl Level {
    /// Labels or annotations without ownership keys are left out: to a census they are the
    /// same as none, and an identity is equal before and after a step that only adds others.
    fn left_out(self, read: &Value) -> bool {
        matches!(self, Level::Owners(_)) && read.as_object().is_none_or(Map::is_empty)
    }
}

fn pick(level: Level, value: &Value) -> Value {
    let Some(map) = value.as_object() else {
        return Value::Null;
    };
    let kept = map.iter().filter_map(|(key, value)| match level.keep(key) {
        Keep::Value => Some((key.clone(), value.clone())),
        Keep::Below(below) => {
            Some((key.clone(), pick(below, value))).filter(|(_, v)| !below.left_out(v))
        }
        Keep::Nothing => None,
    });
    Value::Object(kept.collect())
}

impl<'de> DeserializeSeed<'de> for Level {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Value, D::Error> {
        de.deserialize_any(self)
    }
}

/// Reads a map at its level; anything else is read past and becomes `null`, as [`pick`] does.
impl<'de> Visitor<'de> for Level {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        while let Some(JsonKey(key)) = access.next_key()? {
            let value = match self.keep(&key) {
                Keep::Value => access.next_value::<Value>()?,
                Keep::Below(below) => {
                    let value = access.next_value_seed(below)?;
                    if below.left_out(&value) {
                        kept.remove(key.as_ref());
                        continue;
                    }
                    value
                }
                Keep::Nothing => {
                    access.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            // The last of a repeated key wins, as in serde_json's own maps.
            kept.insert(key.into_owned(), value);
        }
        Ok(Value::Object(kept))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        while access.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_str<E>(self, _: &str) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

#[cfg(test)]
mod tests;
