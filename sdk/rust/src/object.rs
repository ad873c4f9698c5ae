//! One Kubernetes object as a JSON map, with typed access to the metadata every transform touches.
//! Objects stay untyped (`serde_json`) so a transform works on any kind, CRDs included, and
//! round-trips fields it does not know about.

use std::ops::{Deref, DerefMut};

use serde_json::{Map, Value};

use crate::ObjectRef;

/// One Kubernetes object (`apiVersion`, `kind`, `metadata`, …).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Object(Map<String, Value>);

impl Object {
    /// Wraps a JSON map.
    pub fn new(map: Map<String, Value>) -> Self {
        Object(map)
    }

    /// Wraps a JSON value; `None` unless it is an object.
    pub fn from_value(value: Value) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Object(map)),
            _ => None,
        }
    }

    /// The object as a JSON value.
    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }

    /// The underlying map.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    fn str_field(&self, key: &str) -> &str {
        self.0.get(key).and_then(Value::as_str).unwrap_or("")
    }

    fn meta_str(&self, key: &str) -> Option<&str> {
        self.0.get("metadata")?.get(key)?.as_str()
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
        ensure_map(&mut self.0, "metadata")
    }

    /// `metadata.labels`, if present.
    pub fn labels(&self) -> Option<&Map<String, Value>> {
        self.0.get("metadata")?.get("labels")?.as_object()
    }

    /// `metadata.annotations`, if present.
    pub fn annotations(&self) -> Option<&Map<String, Value>> {
        self.0.get("metadata")?.get("annotations")?.as_object()
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
        let value = self.0.get(&first)?;
        if rest.is_empty() {
            Some(value)
        } else {
            value.pointer(rest)
        }
    }

    /// The mutable value at a JSON pointer (`/spec/replicas`).
    pub fn pointer_mut(&mut self, pointer: &str) -> Option<&mut Value> {
        let (first, rest) = split_pointer(pointer)?;
        let value = self.0.get_mut(&first)?;
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

impl Deref for Object {
    type Target = Map<String, Value>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Object {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl From<Map<String, Value>> for Object {
    fn from(map: Map<String, Value>) -> Self {
        Object(map)
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
            Value::Object(map) => Ok(Object(map)),
            other => Err(other),
        }
    }
}

impl serde::Serialize for Object {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Object {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Map::deserialize(d).map(Object)
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
