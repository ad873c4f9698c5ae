//! What the guard reads of an object, and nothing more: `apiVersion`, `kind`, and of `metadata`
//! the name, the namespace and the ownership labels and annotations ([`OWNERSHIP`]). A census of
//! these is the census of the whole objects, so the engine keeps only this per object between
//! steps, and reads it from a step's JSON text without building the rest (issue #12).
//!
//! An identity holds what a census reads of those fields, and nothing else: a census reads
//! `apiVersion`, `kind`, the name and the namespace only as strings, and an ownership value as
//! a string, or as its JSON text when it is not one. So an identity keeps those fields when they
//! are strings (leaving out any that is not), and each ownership value as a string (a value
//! that is not one, as its compact JSON text). Every identity is then a shallow object of
//! strings, which reads back as a value whatever the object held.
//!
//! It is kept as one short compact JSON text, keys in order: comparing two is one `memcmp` and
//! dropping one is one free, where a `serde_json` map cost two B-tree nodes per object and a
//! walk to compare. Objects with equal identities are alike to a census. Two objects alike to a
//! census can still have different identities (an empty name and none), which only makes the
//! guard take a census it could have skipped.
//!
//! JSON allows a key twice. What is applied is the last value (serde_json's maps, the YAML
//! writer), so that is what is read here too, at every level and however late the repeat
//! comes: a step cannot show the guard one namespace and have another one applied.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use capstan_sdk::JsonKey;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{MetadataField, OWNERSHIP};

/// What the guard reads of one object ([`identity_of`]), as compact JSON text with its keys in
/// order. Cloning shares the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity(Arc<str>);

impl Identity {
    /// The identity as JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The identity as a value, for a census: an object holding what is read (`metadata` that
    /// is not an object is `null`; labels and annotations without ownership keys are left out),
    /// or `null` for what is not an object or could not be read at all (a census counts that
    /// as an object without identity).
    pub fn to_value(&self) -> Value {
        // An identity's text is a shallow object of strings that this module wrote.
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }
}

impl Default for Identity {
    fn default() -> Self {
        Identity(Arc::from("null"))
    }
}

/// The identity of an object given as a value.
pub fn identity_of(object: &Value) -> Identity {
    read(object)
}

/// [`identity_of`] the object `text` holds, reading it once and building only what it keeps;
/// `null` if it cannot be read. A step's text is checked to be one JSON object before; what
/// the skipped parts hold is checked when the object is built or written, which fails the
/// step if it cannot be (numbers out of range, lone surrogates, nesting past 128 levels).
pub fn identity_of_text(text: &str) -> Identity {
    read(&mut serde_json::Deserializer::from_str(text))
}

/// [`identity_of_text`] of an object [`capstan_wasm::check_json_object_head`] passed, read
/// from the head the check kept: the same identity, without a second scan of the body. Each of
/// the head's values is read on its own, by the visitors [`identity_of_text`] uses for it; one
/// that cannot be read makes the identity `null`, as in the whole text.
pub fn identity_of_head(head: &capstan_wasm::ObjectHead<'_>) -> Identity {
    fn value<'a, T>(
        raw: Option<&'a serde_json::value::RawValue>,
        seed: impl DeserializeSeed<'a, Value = T>,
    ) -> Result<Option<T>, serde_json::Error> {
        raw.map(|raw| seed.deserialize(&mut serde_json::Deserializer::from_str(raw.get())))
            .transpose()
    }
    let read = || -> Result<Top<'_>, serde_json::Error> {
        Ok(Top {
            api_version: value(head.api_version, StrSeed)?.flatten(),
            kind: value(head.kind, StrSeed)?.flatten(),
            metadata: value(head.metadata, MetadataSeed)?,
        })
    };
    read().map_or_else(|_| Identity::default(), |top| top.write())
}

/// Values and texts are read by the same visitors (`&Value` is a deserializer too), so what is
/// kept has one home.
fn read<'de, D: Deserializer<'de>>(de: D) -> Identity {
    match de.deserialize_any(TopVisitor) {
        Ok(Some(top)) => top.write(),
        _ => Identity::default(),
    }
}

/// A string read from the text (borrowed when it has no escapes).
type Str<'a> = Cow<'a, str>;

/// What is read of an object.
#[derive(Default)]
struct Top<'a> {
    api_version: Option<Str<'a>>,
    kind: Option<Str<'a>>,
    metadata: Option<Metadata<'a>>,
}

/// What is read of `metadata`: `None` when it is not an object.
type Metadata<'a> = Option<MetadataRead<'a>>;

#[derive(Default)]
struct MetadataRead<'a> {
    name: Option<Str<'a>>,
    namespace: Option<Str<'a>>,
    labels: Owners<'a>,
    annotations: Owners<'a>,
}

/// The ownership entries of `labels` or `annotations`, in key order, each key once.
type Owners<'a> = Vec<(&'static str, Str<'a>)>;

impl Top<'_> {
    /// `{"apiVersion":…,"kind":…,"metadata":{"annotations":{…},"labels":{…},"name":…,
    /// "namespace":…}}`, with what is absent left out: the order and form `serde_json` writes
    /// the same identity as a value in.
    fn write(&self) -> Identity {
        let mut out = Writer(Vec::with_capacity(160));
        out.open();
        out.entry("apiVersion", self.api_version.as_ref());
        out.entry("kind", self.kind.as_ref());
        match &self.metadata {
            None => {}
            Some(None) => {
                out.key("metadata");
                out.0.extend_from_slice(b"null");
            }
            Some(Some(m)) => {
                out.key("metadata");
                out.open();
                out.owners("annotations", &m.annotations);
                out.owners("labels", &m.labels);
                out.entry("name", m.name.as_ref());
                out.entry("namespace", m.namespace.as_ref());
                out.close();
            }
        }
        out.close();
        Identity(Arc::from(
            String::from_utf8(out.0).expect("serde_json writes UTF-8"),
        ))
    }
}

/// Compact JSON, written into memory.
struct Writer(Vec<u8>);

impl Writer {
    fn open(&mut self) {
        self.0.push(b'{');
    }

    fn close(&mut self) {
        self.0.push(b'}');
    }

    fn key(&mut self, key: &str) {
        if self.0.last() != Some(&b'{') {
            self.0.push(b',');
        }
        self.string(key);
        self.0.push(b':');
    }

    fn string(&mut self, s: &str) {
        serde_json::to_writer(&mut self.0, s).expect("writing to memory");
    }

    fn entry(&mut self, key: &str, value: Option<&Str<'_>>) {
        if let Some(value) = value {
            self.key(key);
            self.string(value);
        }
    }

    /// Labels or annotations without ownership keys are left out: to a census they are the
    /// same as none, and an identity is equal before and after a step that only adds others.
    fn owners(&mut self, key: &str, owners: &Owners<'_>) {
        if owners.is_empty() {
            return;
        }
        self.key(key);
        self.open();
        for (k, v) in owners {
            self.key(k);
            self.string(v);
        }
        self.close();
    }
}

/// Visitor arms that read past any value but a map or a string and give `None`.
macro_rules! none_for_the_rest {
    () => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
            while access.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }

        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    };
}

/// For a visitor that reads a map: anything else is read past and gives `None`.
macro_rules! not_a_map {
    () => {
        none_for_the_rest!();

        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
    };
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Option<Top<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut top = Top::default();
        // The last of a repeated key wins, as in serde_json's own maps.
        while let Some(JsonKey(key)) = access.next_key()? {
            match key.as_ref() {
                "apiVersion" => top.api_version = access.next_value_seed(StrSeed)?,
                "kind" => top.kind = access.next_value_seed(StrSeed)?,
                "metadata" => top.metadata = Some(access.next_value_seed(MetadataSeed)?),
                _ => {
                    access.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(top))
    }

    not_a_map!();
}

struct MetadataSeed;

impl<'de> DeserializeSeed<'de> for MetadataSeed {
    type Value = Metadata<'de>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MetadataSeed {
    type Value = Metadata<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut m = MetadataRead::default();
        while let Some(JsonKey(key)) = access.next_key()? {
            match key.as_ref() {
                "name" => m.name = access.next_value_seed(StrSeed)?,
                "namespace" => m.namespace = access.next_value_seed(StrSeed)?,
                "labels" => {
                    m.labels = access
                        .next_value_seed(OwnersSeed(MetadataField::Label))?
                        .unwrap_or_default();
                }
                "annotations" => {
                    m.annotations = access
                        .next_value_seed(OwnersSeed(MetadataField::Annotation))?
                        .unwrap_or_default();
                }
                _ => {
                    access.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(m))
    }

    not_a_map!();
}

struct OwnersSeed(MetadataField);

impl<'de> DeserializeSeed<'de> for OwnersSeed {
    type Value = Option<Owners<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for OwnersSeed {
    type Value = Option<Owners<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut owners = Owners::new();
        while let Some(JsonKey(key)) = access.next_key()? {
            let owned = OWNERSHIP
                .iter()
                .find(|&&(field, k)| field == self.0 && k == key);
            match owned {
                Some(&(_, key)) => {
                    let value = access.next_value_seed(OwnerValueSeed)?;
                    owners.retain(|(k, _)| *k != key);
                    owners.push((key, value));
                }
                None => {
                    access.next_value::<IgnoredAny>()?;
                }
            }
        }
        owners.sort_unstable_by_key(|(key, _)| *key);
        Ok(Some(owners))
    }

    not_a_map!();
}

/// A field a census reads only as a string: the string, or `None` for any other value.
struct StrSeed;

impl<'de> DeserializeSeed<'de> for StrSeed {
    type Value = Option<Str<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrSeed {
    type Value = Option<Str<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(s)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        while access.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    none_for_the_rest!();
}

/// An ownership value as a census compares it: a string as it is, any other value as its
/// compact JSON text.
struct OwnerValueSeed;

impl<'de> DeserializeSeed<'de> for OwnerValueSeed {
    type Value = Str<'de>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        Ok(Cow::Owned(match Value::deserialize(de)? {
            Value::String(s) => s,
            other => other.to_string(),
        }))
    }
}

#[cfg(test)]
mod tests;
