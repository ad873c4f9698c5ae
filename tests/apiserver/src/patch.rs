//! The three client-side patch formats of `PATCH` (server-side apply is in `apply`):
//!
//! - `application/merge-patch+json` — RFC 7386 JSON merge patch.
//! - `application/json-patch+json` — RFC 6902 JSON patch (the `json-patch` crate).
//! - `application/strategic-merge-patch+json` — Kubernetes' strategic merge patch, for built-in
//!   types only (custom resources answer 415 like the real server). Subset: lists merge by the
//!   same keys server-side apply uses ([`crate::fields::list_kind`]: containers/env/ports/volumes/
//!   volumeMounts/conditions/…), `metadata.finalizers` merges as a set, `$patch: delete|replace`,
//!   `$retainKeys` and `$deleteFromPrimitiveList/<field>` are honoured; `$setElementOrder/<field>`
//!   is accepted and ignored (the live order is kept, new items are appended).

use crate::fields::{ListKind, key_element, list_kind};
use crate::registry::ResourceType;
use serde_json::Value;

/// RFC 7386.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Default::default());
            }
            let Some(t) = target.as_object_mut() else {
                return;
            };
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

/// RFC 6902, with one leniency of the Go library the API server uses (evanphx/json-patch): a
/// `test` for `null` passes when the path does not exist (kube-runtime's finalizer helper relies
/// on it for objects without `metadata.finalizers`).
pub(crate) fn json_patch(target: &mut Value, patch: &Value) -> Result<(), String> {
    let mut ops = patch.clone();
    if let Some(list) = ops.as_array_mut() {
        list.retain(|op| {
            !(op["op"] == "test"
                && op["value"].is_null()
                && op["path"]
                    .as_str()
                    .is_some_and(|p| target.pointer(p).is_none()))
        });
    }
    let p: json_patch::Patch =
        serde_json::from_value(ops).map_err(|e| format!("invalid JSON patch: {e}"))?;
    json_patch::patch(target, &p).map_err(|e| e.to_string())
}

/// Kubernetes strategic merge patch (subset, see the module docs).
pub(crate) fn strategic_merge_patch(rt: &ResourceType, target: &mut Value, patch: &Value) {
    smp_map(rt, target, patch, &mut Vec::new());
}

fn smp_map(rt: &ResourceType, target: &mut Value, patch: &Value, path: &mut Vec<String>) {
    let Some(p) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut clean = patch.clone();
        strip_directives(&mut clean);
        *target = clean;
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let Some(t) = target.as_object_mut() else {
        return;
    };
    if let Some(retain) = p.get("$retainKeys").and_then(Value::as_array) {
        let keep: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        t.retain(|k, _| keep.contains(&k.as_str()) || p.contains_key(k));
    }
    for (k, v) in p {
        if k.starts_with("$setElementOrder/") || k == "$retainKeys" || k == "$patch" {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(list), Some(del)) =
                (t.get_mut(field).and_then(Value::as_array_mut), v.as_array())
            {
                list.retain(|i| !del.contains(i));
            }
            continue;
        }
        if v.is_null() {
            t.remove(k);
            continue;
        }
        path.push(k.clone());
        match v {
            Value::Object(_) => {
                let entry = t.entry(k.clone()).or_insert(Value::Null);
                smp_map(rt, entry, v, path);
            }
            Value::Array(items) => {
                let kind = list_kind(rt, path);
                match (kind, t.get_mut(k)) {
                    (ListKind::Map(keys), Some(Value::Array(live))) => {
                        smp_list(rt, live, items, &keys, path)
                    }
                    (ListKind::Set, Some(Value::Array(live))) => {
                        for i in items {
                            if !live.contains(i) {
                                live.push(i.clone());
                            }
                        }
                    }
                    _ => {
                        let mut clean = v.clone();
                        strip_directives(&mut clean);
                        t.insert(k.clone(), clean);
                    }
                }
            }
            _ => {
                t.insert(k.clone(), v.clone());
            }
        }
        path.pop();
    }
}

fn smp_list(
    rt: &ResourceType,
    live: &mut Vec<Value>,
    items: &[Value],
    keys: &[String],
    path: &mut Vec<String>,
) {
    for item in items {
        let key = key_element(item, keys);
        let directive = item.get("$patch").and_then(Value::as_str);
        let pos = live.iter().position(|l| key_element(l, keys) == key);
        match (directive, pos) {
            (Some("delete"), Some(i)) => {
                live.remove(i);
            }
            (Some("delete"), None) => {}
            (Some("replace"), _) => {
                let mut clean = item.clone();
                strip_directives(&mut clean);
                match pos {
                    Some(i) => live[i] = clean,
                    None => live.push(clean),
                }
            }
            (_, Some(i)) => smp_map(rt, &mut live[i], item, path),
            (_, None) => {
                let mut clean = item.clone();
                strip_directives(&mut clean);
                live.push(clean);
            }
        }
    }
}

fn strip_directives(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.starts_with('$'));
            m.values_mut().for_each(strip_directives);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_directives),
        _ => {}
    }
}
