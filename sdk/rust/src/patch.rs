//! Patching objects with RFC 6902 JSON patches and RFC 7386 JSON merge patches, the two patch
//! forms Flux and kustomize users already write. Errors name the failing operation's index and
//! path so the user can find it in their config; a failed JSON patch leaves the object unchanged.

use serde_json::Value;

use crate::Object;

pub use json_patch::PatchOperation;

/// Why a patch could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// One operation of a JSON patch failed (a path that does not exist, a failed `test`, …).
    #[error("JSON patch operation #{index} ({op} {path}) failed: {kind}")]
    ApplyJsonPatch {
        /// Index of the failing operation in the patch.
        index: usize,
        /// Its `op` (`add`, `replace`, …).
        op: &'static str,
        /// Its `path`, as a JSON pointer.
        path: String,
        /// Why it failed.
        kind: String,
        /// The error from the patch engine.
        #[source]
        source: json_patch::PatchError,
    },
    /// The patch replaced the whole object with something that is not a map.
    #[error("{form} patch turned the object into a non-object ({found})")]
    ReplaceRoot {
        /// `JSON` or `merge`.
        form: &'static str,
        /// The JSON type it became.
        found: &'static str,
    },
}

fn op_name(op: &PatchOperation) -> &'static str {
    match op {
        PatchOperation::Add(_) => "add",
        PatchOperation::Remove(_) => "remove",
        PatchOperation::Replace(_) => "replace",
        PatchOperation::Move(_) => "move",
        PatchOperation::Copy(_) => "copy",
        PatchOperation::Test(_) => "test",
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Applies an RFC 6902 JSON patch to `object`. All or nothing: on error `object` is unchanged.
pub fn apply_json_patch(object: &mut Object, ops: &[PatchOperation]) -> Result<(), PatchError> {
    // Only an operation on the root can turn the object into a non-object; keep a copy for that
    // rare case instead of cloning every object.
    let backup = ops
        .iter()
        .any(|op| op.path().is_root())
        .then(|| object.clone());
    let mut doc = std::mem::take(object).into_value();
    let result = json_patch::patch(&mut doc, ops);
    // `json_patch::patch` rolls back on error, so `doc` is the original object again then.
    match Object::try_from(doc) {
        Ok(obj) => *object = obj,
        Err(other) => {
            if let Some(original) = backup {
                *object = original;
            }
            return Err(PatchError::ReplaceRoot {
                form: "JSON",
                found: type_name(&other),
            });
        }
    }
    result.map_err(|source| {
        let op = ops.get(source.operation);
        PatchError::ApplyJsonPatch {
            index: source.operation,
            op: op.map_or("?", op_name),
            path: source.path.to_string(),
            kind: source.kind.to_string(),
            source,
        }
    })
}

/// Applies an RFC 7386 JSON merge patch to `object`: maps merge recursively, `null` deletes a
/// key, anything else (lists included) replaces. On error `object` is unchanged.
pub fn apply_merge_patch(object: &mut Object, patch: &Value) -> Result<(), PatchError> {
    if !patch.is_object() {
        return Err(PatchError::ReplaceRoot {
            form: "merge",
            found: type_name(patch),
        });
    }
    let mut doc = std::mem::take(object).into_value();
    json_patch::merge(&mut doc, patch);
    match Object::try_from(doc) {
        Ok(obj) => {
            *object = obj;
            Ok(())
        }
        // Unreachable for an object patch over an object, but never lose the object.
        Err(other) => Err(PatchError::ReplaceRoot {
            form: "merge",
            found: type_name(&other),
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mk_obj(v: Value) -> Object {
        Object::from_value(v).expect("test object is a map")
    }

    fn mk_ops(v: Value) -> Vec<PatchOperation> {
        serde_json::from_value(v).expect("test patch parses")
    }

    fn mk_deploy() -> Object {
        mk_obj(json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "a"}]}}}
        }))
    }

    #[test]
    fn json_patch_applies_in_order() {
        let mut obj = mk_deploy();
        let ops = mk_ops(json!([
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "add", "path": "/spec/template/spec/containers/-", "value": {"name": "b"}},
            {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}},
            {"op": "test", "path": "/spec/replicas", "value": 3}
        ]));
        apply_json_patch(&mut obj, &ops).expect("patch applies");
        assert_eq!(obj.pointer("/spec/replicas"), Some(&json!(3)));
        assert_eq!(
            obj.pointer("/spec/template/spec/containers/1/name"),
            Some(&json!("b"))
        );
        assert_eq!(obj.label("x"), Some("y"));
    }

    #[test]
    fn json_patch_error_names_op_and_path_and_rolls_back() {
        let mut obj = mk_deploy();
        let before = obj.clone();
        let ops = mk_ops(json!([
            {"op": "replace", "path": "/spec/replicas", "value": 5},
            {"op": "remove", "path": "/spec/missing/field"}
        ]));
        let err = apply_json_patch(&mut obj, &ops).expect_err("missing path");
        let msg = err.to_string();
        assert!(msg.contains("#1"), "{msg}");
        assert!(msg.contains("remove /spec/missing/field"), "{msg}");
        assert_eq!(obj, before, "failed patch leaves the object unchanged");
    }

    #[test]
    fn json_patch_cannot_replace_the_root_with_a_scalar() {
        let mut obj = mk_deploy();
        let err = apply_json_patch(
            &mut obj,
            &mk_ops(json!([{"op": "replace", "path": "", "value": 1}])),
        )
        .expect_err("root replaced by a number");
        assert!(
            matches!(
                err,
                PatchError::ReplaceRoot {
                    found: "number",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(obj, mk_deploy(), "the object survives");
    }

    #[test]
    fn merge_patch_follows_rfc7386() {
        let mut obj = mk_deploy();
        apply_merge_patch(
            &mut obj,
            &json!({"metadata": {"labels": {"a": "b"}}, "spec": {"replicas": null,
                "template": {"spec": {"containers": [{"name": "only"}]}}}}),
        )
        .expect("merge applies");
        assert_eq!(obj.label("a"), Some("b"));
        assert_eq!(obj.pointer("/spec/replicas"), None);
        assert_eq!(
            obj.pointer("/spec/template/spec/containers"),
            Some(&json!([{"name": "only"}]))
        );
        assert_eq!(obj.name(), "web");
        let err = apply_merge_patch(&mut obj, &json!([1])).expect_err("list patch");
        assert!(err.to_string().contains("non-object (array)"), "{err}");
    }
}
