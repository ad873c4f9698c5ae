//! Custom resources against their CRD's structural schema: unknown fields are pruned and
//! `default`s filled in on every write (apiextensions "Pruning versus preserving unknown fields"
//! and "Defaulting"). `x-kubernetes-preserve-unknown-fields` keeps a subtree,
//! `x-kubernetes-embedded-resource` keeps `apiVersion`/`kind`/`metadata`, `additionalProperties`
//! schemas apply to every value of a map. With `fieldValidation=Strict` (kubectl's default) a
//! pruned field is a 400 `strict decoding error: unknown field "spec.x"`, as on the real server. Simplifications: no validation (types, enums, patterns,
//! CEL rules are not checked), defaults are applied on write only (the real server also defaults
//! when reading from storage), `metadata` is not pruned, `allOf`/`anyOf`/`oneOf` are ignored.

use serde_json::Value;

/// Prunes and defaults a whole custom resource; returns the paths of the pruned fields
/// (`spec.foo`), which `fieldValidation=Strict` turns into an error.
pub(crate) fn prune_and_default(schema: &Value, obj: &mut Value) -> Vec<String> {
    let mut pruned = Vec::new();
    walk(schema, obj, true, "", &mut pruned);
    pruned
}

fn walk(schema: &Value, v: &mut Value, root: bool, path: &str, pruned: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            let props = schema["properties"].as_object();
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            if let Some(props) = props {
                for (k, ps) in props {
                    if !m.contains_key(k)
                        && let Some(d) = ps.get("default")
                    {
                        m.insert(k.clone(), d.clone());
                    }
                }
            }
            let keep_all = schema["x-kubernetes-preserve-unknown-fields"] == true
                || additional.is_some()
                || schema.get("additionalProperties") == Some(&Value::Bool(true));
            let embedded = root || schema["x-kubernetes-embedded-resource"] == true;
            if !keep_all {
                m.retain(|k, _| {
                    let keep = props.is_some_and(|p| p.contains_key(k))
                        || (embedded && matches!(k.as_str(), "apiVersion" | "kind" | "metadata"));
                    if !keep {
                        pruned.push(if path.is_empty() {
                            k.clone()
                        } else {
                            format!("{path}.{k}")
                        });
                    }
                    keep
                });
            }
            for (k, child) in m.iter_mut() {
                if embedded && k == "metadata" {
                    continue;
                }
                if let Some(cs) = props.and_then(|p| p.get(k)).or(additional) {
                    let child_path = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(cs, child, false, &child_path, pruned);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (n, i) in items.iter_mut().enumerate() {
                    walk(item_schema, i, false, &format!("{path}[{n}]"), pruned);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prunes_unknown_fields_and_fills_defaults() {
        let schema = json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "interval": {"type": "string", "default": "5m"},
                "values": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "weight": {"type": "integer", "default": 1}}}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            }},
        }});
        let mut obj = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a", "labels": {"k": "v"}}, "junk": 1,
            "spec": {"typo": true, "values": {"any": {"thing": 1}}, "items": [{"name": "a", "extra": 2}], "labels": {"a": "b"}}});
        let pruned = prune_and_default(&schema, &mut obj);
        assert_eq!(pruned, ["junk", "spec.typo", "spec.items[0].extra"]);
        assert_eq!(
            obj,
            json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a", "labels": {"k": "v"}},
            "spec": {"interval": "5m", "values": {"any": {"thing": 1}}, "items": [{"name": "a", "weight": 1}], "labels": {"a": "b"}}})
        );
    }
}
