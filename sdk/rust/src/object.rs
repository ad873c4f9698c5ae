//! One Kubernetes object as a JSON map, with typed access to the metadata every transform touches.
//! Objects stay untyped (`serde_json`) so a transform works on any kind, CRDs included, and
//! round-trips fields it does not know about.
//!
//! An object handed over by the host is parsed lazily (issue #12): on arrival only its head
//! (`apiVersion`, `kind`, `metadata`) is built, reading the text only as far as the last of
//! them (in the host's sorted text, `spec` and the rest are not even scanned); the rest is parsed
//! the first time a transform reads past the head, around the head already built. Until something
//! asks for the object mutably, it keeps the host's text, and that text is what goes back: an
//! object a transform only looked at (or never touched) costs no full parse, no re-encoding, and
//! the host, finding the same bytes it sent, keeps its own parsed copy. The host's text is
//! compact JSON with sorted keys — exactly what re-encoding the parsed map would give — so the
//! output bytes do not depend on whether an object was parsed.

use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::ObjectRef;

/// One Kubernetes object (`apiVersion`, `kind`, `metadata`, …).
#[derive(Clone, Default)]
pub struct Object(Repr);

#[derive(Clone)]
enum Repr {
    /// Built or changed by the transform: the map is the object.
    Parsed(Map<String, Value>),
    /// Exactly as the host sent it.
    Received {
        /// The host's JSON text, returned as it is.
        text: String,
        /// `apiVersion`, `kind` and `metadata`, parsed on arrival.
        head: Map<String, Value>,
        /// The whole map, once something read past the head.
        full: OnceLock<Map<String, Value>>,
    },
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Parsed(Map::new())
    }
}

/// The head of an object: the keys targeting and the metadata accessors read.
pub const HEAD_KEYS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// The head ([`HEAD_KEYS`]) of an object's JSON text as a JSON object, without building the
/// rest; `None` unless the text is one JSON object as far as it is read (once all three keys
/// are read, the rest is not: callers hand it text already checked to be one JSON object). The
/// host's output guard reads only this.
pub fn head_of_text(text: &str) -> Option<Value> {
    read_head(text).ok().map(Value::Object)
}

fn read_head(text: &str) -> Result<Map<String, Value>, ReceiveError> {
    let mut head = Map::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let read = de::Deserializer::deserialize_map(&mut de, HeadVisitor { head: &mut head });
    match read {
        Ok(()) => de.end().map(|()| head).map_err(ReceiveError::NotJson),
        Err(_) if head.len() == HEAD_KEYS.len() => Ok(head),
        Err(e) => Err(match e.classify() {
            serde_json::error::Category::Data => ReceiveError::NotAnObject,
            _ => ReceiveError::NotJson(e),
        }),
    }
}

/// Why a received text is not an object.
#[derive(Debug)]
pub(crate) enum ReceiveError {
    /// Not JSON at all.
    NotJson(serde_json::Error),
    /// JSON, but not an object.
    NotAnObject,
}

/// Builds the head of an object, skipping (and checking) the other entries, until all of
/// [`HEAD_KEYS`] are read: then it stops, with an error that [`read_head`] takes as "done", and
/// the rest of the text (in the host's sorted text, `spec` and everything after `metadata`) is
/// not read at all. That rest is checked when the body is parsed, if it ever is; an object never
/// parsed goes back as the text it came as. The host sends only text it encoded itself or
/// checked to be one JSON object (`capstan_wasm::check_json_object`), so nothing goes unchecked.
struct HeadVisitor<'a> {
    head: &'a mut Map<String, Value>,
}

impl<'de> Visitor<'de> for HeadVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        while let Some(key) = access.next_key::<std::borrow::Cow<'de, str>>()? {
            if HEAD_KEYS.contains(&key.as_ref()) && !self.head.contains_key(key.as_ref()) {
                let value: Value = access.next_value()?;
                self.head.insert(key.into_owned(), value);
                if self.head.len() == HEAD_KEYS.len() {
                    return Err(de::Error::custom("head read"));
                }
            } else {
                access.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

impl Object {
    /// Wraps a JSON map.
    pub fn new(map: Map<String, Value>) -> Self {
        Object(Repr::Parsed(map))
    }

    /// An object received as JSON text: the head is parsed and the whole text checked now, the
    /// body when it is first needed.
    pub(crate) fn received(text: String) -> Result<Self, ReceiveError> {
        let head = read_head(&text)?;
        Ok(Object(Repr::Received {
            text,
            head,
            full: OnceLock::new(),
        }))
    }

    /// The object as JSON text: the host's own text if the object was never changed.
    pub(crate) fn into_json(self) -> serde_json::Result<String> {
        match self.0 {
            Repr::Received { text, .. } => Ok(text),
            Repr::Parsed(map) => serde_json::to_string(&map),
        }
    }

    /// Wraps a JSON value; `None` unless it is an object.
    pub fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Object::new(map)),
            _ => None,
        }
    }

    /// The object as a JSON value.
    pub fn into_value(self) -> Value {
        Value::Object(self.into_map())
    }

    /// The underlying map.
    pub fn into_map(self) -> Map<String, Value> {
        match self.0 {
            Repr::Parsed(map) => map,
            Repr::Received { text, head, full } => full
                .into_inner()
                .unwrap_or_else(|| parse_around_head(&text, head)),
        }
    }

    /// The whole map (parsed now if only the head was).
    fn map(&self) -> &Map<String, Value> {
        match &self.0 {
            Repr::Parsed(map) => map,
            Repr::Received { text, full, .. } => full.get_or_init(|| parse(text)),
        }
    }

    /// The whole map, to change: from here on the object is the transform's, re-encoded on output.
    fn map_mut(&mut self) -> &mut Map<String, Value> {
        if let Repr::Received { text, head, full } = &mut self.0 {
            let map = full
                .take()
                .unwrap_or_else(|| parse_around_head(text, std::mem::take(head)));
            self.0 = Repr::Parsed(map);
        }
        match &mut self.0 {
            Repr::Parsed(map) => map,
            Repr::Received { .. } => unreachable!("made parsed just above"),
        }
    }

    /// What the head accessors read: the head while the object is unchanged, else the map.
    fn head(&self) -> &Map<String, Value> {
        match &self.0 {
            Repr::Parsed(map) => map,
            Repr::Received { head, .. } => head,
        }
    }

    fn str_field(&self, key: &str) -> &str {
        self.head().get(key).and_then(Value::as_str).unwrap_or("")
    }

    fn meta_str(&self, key: &str) -> Option<&str> {
        self.head().get("metadata")?.get(key)?.as_str()
    }

    /// `apiVersion` (empty if missing).
    pub fn api_version(&self) -> &str {
        self.str_field("apiVersion")
    }

    /// The API group: `apps` for `apps/v1`, empty for the core group (`v1`).
    pub fn group(&self) -> &str {
        match self.api_version().rsplit_once('/') {
            Some((group, _)) => group,
            None => "",
        }
    }

    /// The API version without the group: `v1` for `apps/v1`.
    pub fn version(&self) -> &str {
        match self.api_version().rsplit_once('/') {
            Some((_, version)) => version,
            None => self.api_version(),
        }
    }

    /// `kind` (empty if missing).
    pub fn kind(&self) -> &str {
        self.str_field("kind")
    }

    /// `metadata.name` (empty if missing).
    pub fn name(&self) -> &str {
        self.meta_str("name").unwrap_or("")
    }

    /// `metadata.namespace`, if set.
    pub fn namespace(&self) -> Option<&str> {
        self.meta_str("namespace").filter(|ns| !ns.is_empty())
    }

    /// A reference naming this object, for diagnostics.
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef {
            api_version: self.api_version().to_owned(),
            kind: self.kind().to_owned(),
            name: self.name().to_owned(),
            namespace: self.namespace().map(str::to_owned),
        }
    }

    /// `metadata`, created empty if missing (or replaced if not a map).
    pub fn metadata_mut(&mut self) -> &mut Map<String, Value> {
        ensure_map(self.map_mut(), "metadata")
    }

    /// `metadata.labels`, if present.
    pub fn labels(&self) -> Option<&Map<String, Value>> {
        self.head().get("metadata")?.get("labels")?.as_object()
    }

    /// `metadata.annotations`, if present.
    pub fn annotations(&self) -> Option<&Map<String, Value>> {
        self.head().get("metadata")?.get("annotations")?.as_object()
    }

    /// One label's value.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels()?.get(key)?.as_str()
    }

    /// One annotation's value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations()?.get(key)?.as_str()
    }

    /// `metadata.labels`, created if missing.
    pub fn labels_mut(&mut self) -> &mut Map<String, Value> {
        ensure_map(self.metadata_mut(), "labels")
    }

    /// `metadata.annotations`, created if missing.
    pub fn annotations_mut(&mut self) -> &mut Map<String, Value> {
        ensure_map(self.metadata_mut(), "annotations")
    }

    /// Sets one label.
    pub fn set_label(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.labels_mut()
            .insert(key.into(), Value::String(value.into()));
    }

    /// Sets one annotation.
    pub fn set_annotation(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.annotations_mut()
            .insert(key.into(), Value::String(value.into()));
    }

    /// The value at a JSON pointer (`/spec/replicas`).
    pub fn pointer(&self, pointer: &str) -> Option<&Value> {
        if pointer.is_empty() {
            return None;
        }
        let (first, rest) = split_pointer(pointer)?;
        let value = if HEAD_KEYS.contains(&first.as_str()) {
            self.head().get(&first)?
        } else {
            self.map().get(&first)?
        };
        if rest.is_empty() {
            Some(value)
        } else {
            value.pointer(rest)
        }
    }

    /// The mutable value at a JSON pointer (`/spec/replicas`).
    pub fn pointer_mut(&mut self, pointer: &str) -> Option<&mut Value> {
        let (first, rest) = split_pointer(pointer)?;
        let value = self.map_mut().get_mut(&first)?;
        if rest.is_empty() {
            Some(value)
        } else {
            value.pointer_mut(rest)
        }
    }
}

/// Splits `/a/b/c` into the unescaped first token `a` and the rest `/b/c`.
fn split_pointer(pointer: &str) -> Option<(String, &str)> {
    let body = pointer.strip_prefix('/')?;
    let (first, rest) = match body.find('/') {
        Some(i) => (&body[..i], &body[i..]),
        None => (body, ""),
    };
    Some((first.replace("~1", "/").replace("~0", "~"), rest))
}

/// `map[key]` as a map, inserting (or replacing a non-map with) an empty one.
pub(crate) fn ensure_map<'a>(
    map: &'a mut Map<String, Value>,
    key: &str,
) -> &'a mut Map<String, Value> {
    let slot = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(m) => m,
        _ => unreachable!("slot was just made an object"),
    }
}

/// Parses a received text whole. Its head was checked on arrival; the rest was checked by the
/// host before it was sent (see [`HeadVisitor`]), so failing here means the host broke that.
fn parse(text: &str) -> Map<String, Value> {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{NOT_AN_OBJECT}: {e}"))
}

const NOT_AN_OBJECT: &str = "the host sent an object whose text is not one JSON object";

/// [`parse`], taking the head's entries from `head` (already built) instead of building them
/// again: an object a transform changes is read once, not twice.
fn parse_around_head(text: &str, head: Map<String, Value>) -> Map<String, Value> {
    let mut de = serde_json::Deserializer::from_str(text);
    de::Deserializer::deserialize_map(&mut de, AroundHeadVisitor { head })
        .and_then(|map| de.end().map(|()| map))
        .unwrap_or_else(|e| panic!("{NOT_AN_OBJECT}: {e}"))
}

/// Builds a whole object, skipping the head's entries and moving them in from the head.
struct AroundHeadVisitor {
    head: Map<String, Value>,
}

impl<'de> Visitor<'de> for AroundHeadVisitor {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            match self.head.remove(&key) {
                Some(value) => {
                    access.next_value::<IgnoredAny>()?;
                    map.insert(key, value);
                }
                None => {
                    let value: Value = access.next_value()?;
                    map.insert(key, value);
                }
            }
        }
        Ok(map)
    }
}

impl Deref for Object {
    type Target = Map<String, Value>;
    fn deref(&self) -> &Self::Target {
        self.map()
    }
}

impl DerefMut for Object {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.map_mut()
    }
}

impl PartialEq for Object {
    fn eq(&self, other: &Self) -> bool {
        self.map() == other.map()
    }
}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Object").field(self.map()).finish()
    }
}

impl From<Map<String, Value>> for Object {
    fn from(map: Map<String, Value>) -> Self {
        Object::new(map)
    }
}

impl From<Object> for Value {
    fn from(obj: Object) -> Self {
        obj.into_value()
    }
}

impl TryFrom<Value> for Object {
    type Error = Value;
    fn try_from(value: Value) -> std::result::Result<Self, Value> {
        match value {
            Value::Object(map) => Ok(Object::new(map)),
            other => Err(other),
        }
    }
}

impl serde::Serialize for Object {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.map().serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Object {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Map::deserialize(d).map(Object::new)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mk_obj(v: Value) -> Object {
        Object::from_value(v).expect("test object is a map")
    }

    #[test]
    fn metadata_accessors() {
        let mut obj = mk_obj(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "prod", "labels": {"app": "web"}}
        }));
        assert_eq!(obj.group(), "apps");
        assert_eq!(obj.version(), "v1");
        assert_eq!(obj.label("app"), Some("web"));
        assert_eq!(obj.object_ref().to_string(), "Deployment/prod/web");
        obj.set_annotation("a", "b");
        assert_eq!(obj.annotation("a"), Some("b"));
        assert_eq!(obj.pointer("/metadata/name"), Some(&json!("web")));
    }

    fn mk_received(text: &str) -> Object {
        Object::received(text.to_owned()).expect("a JSON object")
    }

    #[test]
    fn received_objects_read_their_head_without_the_body() {
        let text = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"labels":{"app":"w"},"name":"web","namespace":"prod"},"spec":{"replicas":2}}"#;
        let obj = mk_received(text);
        assert_eq!(obj.kind(), "Deployment");
        assert_eq!(obj.label("app"), Some("w"));
        assert_eq!(obj.pointer("/metadata/name"), Some(&json!("web")));
        match &obj.0 {
            Repr::Received { full, .. } => assert!(full.get().is_none(), "body not parsed"),
            Repr::Parsed(_) => panic!("still as received"),
        }
        assert_eq!(obj.pointer("/spec/replicas"), Some(&json!(2)));
        assert_eq!(
            obj.clone().into_json().expect("encodes"),
            text,
            "read only: same text"
        );
        let mut changed = obj.clone();
        changed.set_label("team", "a");
        assert_eq!(changed.label("team"), Some("a"));
        let mut expected: Value = serde_json::from_str(text).expect("json");
        expected["metadata"]["labels"]["team"] = json!("a");
        assert_eq!(changed.into_json().expect("encodes"), expected.to_string());
        assert_eq!(obj, mk_obj(serde_json::from_str(text).expect("json")));
    }

    /// The host's text of an object is what `serde_json` writes, so handing it back unparsed
    /// gives the same bytes as parsing and re-encoding it would (floats, escapes, Unicode,
    /// integers at the edges, nesting).
    #[test]
    fn an_untouched_object_is_what_re_encoding_would_give() {
        let value = json!({
            "kind": "ConfigMap", "apiVersion": "v1",
            "metadata": {"name": "c", "annotations": {"z": "\u{2028}\"\\\n\t\u{1}", "a": "é😀"}},
            "data": {"f": 1e6, "g": 0.1, "h": -0.0, "i": u64::MAX, "j": i64::MIN, "k": 1.5e300,
                     "l": [null, true, {"b": 1, "a": [2.0, "x"]}]}
        });
        let text = value.to_string();
        let received = mk_received(&text);
        assert_eq!(received.clone().into_json().expect("encodes"), text);
        let reencoded = serde_json::to_string(&received.into_map()).expect("encodes");
        assert_eq!(reencoded, text);
    }

    #[test]
    fn received_text_must_be_one_json_object() {
        assert!(matches!(
            Object::received("[1]".into()),
            Err(ReceiveError::NotAnObject)
        ));
        assert!(matches!(
            Object::received(r#"{"kind": "A", "spec": {"x": }}"#.into()),
            Err(ReceiveError::NotJson(_))
        ));
        assert!(matches!(
            Object::received(r#"{"kind": "A"} {}"#.into()),
            Err(ReceiveError::NotJson(_))
        ));
        assert_eq!(
            head_of_text(r#"{"kind":"A","spec":{"big":[1,2,3]}}"#),
            Some(json!({"kind": "A"}))
        );
    }

    #[test]
    fn reading_the_head_stops_after_its_last_key() {
        // Not JSON after `metadata`: never read on arrival, and handed back as it came.
        let text = r#"{"apiVersion":"v1","kind":"A","metadata":{"name":"a"},"spec":{"x": }}"#;
        let obj = mk_received(text);
        assert_eq!(obj.name(), "a");
        assert_eq!(obj.into_json().expect("encodes"), text);
        assert_eq!(
            head_of_text(r#"{"apiVersion":"v1","data":{"k":"v"},"kind":"A","metadata":{},"z":]"#),
            Some(json!({"apiVersion": "v1", "kind": "A", "metadata": {}}))
        );
        // Until the last head key, the text is checked as it is read.
        assert!(matches!(
            Object::received(
                r#"{"apiVersion":"v1","data":{"k": },"kind":"A","metadata":{}}"#.into()
            ),
            Err(ReceiveError::NotJson(_))
        ));
    }

    #[test]
    fn a_changed_object_is_parsed_around_its_head() {
        let text = r#"{"apiVersion":"v1","data":{"a":[1,2.5,null]},"kind":"ConfigMap","metadata":{"labels":{"x":"y"},"name":"c"},"z":{"q":true}}"#;
        let mut obj = mk_received(text);
        obj.set_annotation("n", "1");
        let mut expected: Value = serde_json::from_str(text).expect("json");
        expected["metadata"]["annotations"] = json!({"n": "1"});
        assert_eq!(obj.clone().into_value(), expected);
        assert_eq!(obj.into_json().expect("encodes"), expected.to_string());
        assert_eq!(
            mk_received(text).into_map(),
            serde_json::from_str::<Map<String, Value>>(text).expect("json")
        );
    }

    #[test]
    fn core_group_and_missing_metadata() {
        let mut obj = mk_obj(json!({"apiVersion": "v1", "kind": "ConfigMap"}));
        assert_eq!(obj.group(), "");
        assert_eq!(obj.version(), "v1");
        assert_eq!(obj.name(), "");
        assert_eq!(obj.namespace(), None);
        obj.set_label("x", "y");
        assert_eq!(
            obj.into_value(),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"labels": {"x": "y"}}})
        );
    }
}
