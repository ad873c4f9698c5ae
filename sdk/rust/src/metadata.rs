//! Merging whole maps of labels and annotations into an object's metadata or a pod template's
//! metadata, the one operation nearly every transform needs, with one behaviour everywhere:
//! configured entries win, other entries stay, and the result says whether anything changed (so
//! transforms can be idempotent and report what they did).

use serde_json::{Map, Value};

use crate::object::ensure_map;
use crate::{Object, PodTemplateMetadataMut, PodTemplateMut};

/// Inserts every `(key, value)` into `map` as a string, overwriting existing keys. Returns true if
/// the map changed.
pub fn merge_string_map<K, V>(
    map: &mut Map<String, Value>,
    entries: impl IntoIterator<Item = (K, V)>,
) -> bool
where
    K: Into<String>,
    V: Into<String>,
{
    let mut changed = false;
    for (key, value) in entries {
        let key = key.into();
        let value = Value::String(value.into());
        if map.get(&key) != Some(&value) {
            map.insert(key, value);
            changed = true;
        }
    }
    changed
}

/// Something with Kubernetes `metadata`: an [`Object`] or a pod template.
pub trait Metadata {
    /// `metadata`, created if missing.
    fn metadata_map_mut(&mut self) -> &mut Map<String, Value>;

    /// Merges `entries` into `metadata.labels` (created only if there is something to add).
    /// Returns true if anything changed.
    fn merge_labels<K, V>(&mut self, entries: impl IntoIterator<Item = (K, V)>) -> bool
    where
        K: Into<String>,
        V: Into<String>,
    {
        merge_into(self.metadata_map_mut(), "labels", entries)
    }

    /// Merges `entries` into `metadata.annotations` (created only if there is something to add).
    /// Returns true if anything changed.
    fn merge_annotations<K, V>(&mut self, entries: impl IntoIterator<Item = (K, V)>) -> bool
    where
        K: Into<String>,
        V: Into<String>,
    {
        merge_into(self.metadata_map_mut(), "annotations", entries)
    }
}

fn merge_into<K, V>(
    metadata: &mut Map<String, Value>,
    field: &str,
    entries: impl IntoIterator<Item = (K, V)>,
) -> bool
where
    K: Into<String>,
    V: Into<String>,
{
    let mut entries = entries.into_iter().peekable();
    if entries.peek().is_none() {
        return false;
    }
    merge_string_map(ensure_map(metadata, field), entries)
}

impl Metadata for Object {
    fn metadata_map_mut(&mut self) -> &mut Map<String, Value> {
        self.metadata_mut()
    }
}

impl Metadata for PodTemplateMut<'_> {
    fn metadata_map_mut(&mut self) -> &mut Map<String, Value> {
        self.metadata_mut()
    }
}

impl Metadata for PodTemplateMetadataMut<'_> {
    fn metadata_map_mut(&mut self) -> &mut Map<String, Value> {
        self
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::pod_template_mut;

    fn mk_obj(v: Value) -> Object {
        Object::from_value(v).expect("test object is a map")
    }

    #[test]
    fn merges_and_reports_changes() {
        let mut obj = mk_obj(json!({"kind": "ConfigMap", "metadata": {"labels": {"a": "1"}}}));
        let labels = BTreeMap::from([("a", "1"), ("b", "2")]);
        assert!(obj.merge_labels(labels.clone()));
        assert!(!obj.merge_labels(labels), "second merge changes nothing");
        assert_eq!(obj.label("b"), Some("2"));
        assert!(obj.merge_annotations([("note", "x")]));
        assert_eq!(obj.annotation("note"), Some("x"));
    }

    #[test]
    fn empty_merge_creates_nothing() {
        let mut obj = mk_obj(json!({"kind": "ConfigMap", "metadata": {"name": "c"}}));
        assert!(!obj.merge_labels(Vec::<(String, String)>::new()));
        assert_eq!(
            obj.into_value(),
            json!({"kind": "ConfigMap", "metadata": {"name": "c"}})
        );
    }

    #[test]
    fn merges_into_pod_templates() {
        let mut obj = mk_obj(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "spec": {"selector": {"matchLabels": {"app": "w"}}, "template": {"spec": {}}}
        }));
        let mut t = pod_template_mut(&mut obj).expect("template");
        assert!(t.merge_labels([("team", "a")]));
        assert_eq!(
            obj.pointer("/spec/template/metadata/labels"),
            Some(&json!({"team": "a"}))
        );
        assert_eq!(
            obj.pointer("/spec/selector/matchLabels"),
            Some(&json!({"app": "w"}))
        );
    }
}
