//! `commonMetadata` and origin labels: labels and annotations set on every object's own
//! `metadata` (not on selectors or pod templates), overriding existing keys, as Flux applies
//! them after the post-renderers.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

fn set_all(metadata: &mut Map<String, Value>, field: &str, entries: &BTreeMap<String, String>) {
    if entries.is_empty() {
        return;
    }
    let slot = metadata
        .entry(field)
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    if let Value::Object(map) = slot {
        for (k, v) in entries {
            map.insert(k.clone(), Value::String(v.clone()));
        }
    }
}

/// Sets `labels` and `annotations` on the `metadata` of every object (objects that are not JSON
/// objects are left alone).
pub fn apply_common_metadata(
    objects: &mut [Value],
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) {
    for object in objects.iter_mut() {
        let Some(map) = object.as_object_mut() else {
            continue;
        };
        let metadata = map
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if !metadata.is_object() {
            *metadata = Value::Object(Map::new());
        }
        if let Value::Object(metadata) = metadata {
            set_all(metadata, "labels", labels);
            set_all(metadata, "annotations", annotations);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sets_metadata_only_and_overrides() {
        let mut objects = vec![
            json!({"kind": "Deployment", "metadata": {"name": "a", "labels": {"app": "a", "team": "old"}},
                   "spec": {"selector": {"matchLabels": {"app": "a"}},
                            "template": {"metadata": {"labels": {"app": "a"}}}}}),
            json!({"kind": "ConfigMap", "metadata": {"name": "b"}}),
            json!("not an object"),
        ];
        let labels = BTreeMap::from([("team".to_owned(), "new".to_owned())]);
        let annotations = BTreeMap::from([("owner".to_owned(), "x".to_owned())]);
        apply_common_metadata(&mut objects, &labels, &annotations);
        assert_eq!(
            objects[0]["metadata"]["labels"],
            json!({"app": "a", "team": "new"})
        );
        assert_eq!(objects[0]["metadata"]["annotations"], json!({"owner": "x"}));
        assert_eq!(
            objects[0]["spec"]["selector"]["matchLabels"],
            json!({"app": "a"})
        );
        assert_eq!(
            objects[0]["spec"]["template"]["metadata"]["labels"],
            json!({"app": "a"})
        );
        assert_eq!(objects[1]["metadata"]["labels"], json!({"team": "new"}));
        assert_eq!(objects[2], json!("not an object"));
    }
}
