//! Field paths and field sets, the vocabulary of server-side apply (structured-merge-diff).
//!
//! A [`FieldSet`] is exactly the tree of a `managedFields[].fieldsV1` document: keys are path
//! elements — `f:<field>`, `k:<json of the list-map keys>`, `v:<json value>` (set lists), `i:<n>` —
//! and `"."` marks a list item itself as a member. Lists are *atomic* unless the schema says they
//! are associative: the built-in table below follows the `+listType=map` / `+listMapKey` markers of
//! the Kubernetes Go types for the lists that matter to workloads; CRDs use
//! `x-kubernetes-list-type` / `x-kubernetes-list-map-keys` from their `openAPIV3Schema`.

use crate::registry::ResourceType;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// How a list merges.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ListKind {
    /// Replaced as a whole; owned as one leaf.
    Atomic,
    /// Associative by these keys (`k:` elements).
    Map(Vec<String>),
    /// A set of scalars (`v:` elements).
    Set,
}

/// The list kind of the list at `path` (field names from the root; list items are not counted).
pub(crate) fn list_kind(rt: &ResourceType, path: &[String]) -> ListKind {
    let last = path.last().map(String::as_str).unwrap_or_default();
    let parent = if path.len() >= 2 {
        path[path.len() - 2].as_str()
    } else {
        ""
    };
    if path.len() == 2 && parent == "metadata" {
        return match last {
            "ownerReferences" => ListKind::Map(vec!["uid".into()]),
            "finalizers" => ListKind::Set,
            _ => ListKind::Atomic,
        };
    }
    if let Some(schema) = &rt.schema {
        return schema_list_kind(schema, path);
    }
    let keys = |k: &[&str]| ListKind::Map(k.iter().map(|s| s.to_string()).collect());
    match last {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims"
        | "schedulingGates" => keys(&["name"]),
        "ports"
            if matches!(
                parent,
                "containers" | "initContainers" | "ephemeralContainers"
            ) =>
        {
            keys(&["containerPort", "protocol"])
        }
        "ports" if rt.kind == "Service" && path.len() == 2 => keys(&["port", "protocol"]),
        "volumeMounts" => keys(&["mountPath"]),
        "volumeDevices" => keys(&["devicePath"]),
        "hostAliases" => keys(&["ip"]),
        "conditions" => keys(&["type"]),
        "topologySpreadConstraints" => keys(&["topologyKey", "whenUnsatisfiable"]),
        _ => ListKind::Atomic,
    }
}

fn schema_list_kind(schema: &Value, path: &[String]) -> ListKind {
    let mut node = schema;
    for (i, seg) in path.iter().enumerate() {
        if i > 0 && node["type"] == "array" {
            node = &node["items"];
        }
        node = match node["properties"].get(seg) {
            Some(n) => n,
            None => match node.get("additionalProperties") {
                Some(n) if n.is_object() => n,
                _ => return ListKind::Atomic,
            },
        };
    }
    match node["x-kubernetes-list-type"].as_str() {
        Some("map") => ListKind::Map(
            node["x-kubernetes-list-map-keys"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|k| k.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        Some("set") => ListKind::Set,
        _ => ListKind::Atomic,
    }
}

/// The value of a list-map key in an item; `protocol` defaults to `TCP` as the API server's
/// defaulting would make it.
fn key_value(item: &Value, key: &str) -> Value {
    match item.get(key) {
        Some(v) => v.clone(),
        None if key == "protocol" => Value::String("TCP".into()),
        None => Value::Null,
    }
}

/// `k:{"name":"app"}` for an item of a list-map (keys sorted, as structured-merge-diff writes them).
pub(crate) fn key_element(item: &Value, keys: &[String]) -> String {
    let mut sorted: Vec<&String> = keys.iter().collect();
    sorted.sort();
    let parts: Vec<String> = sorted
        .iter()
        .map(|k| format!("{}:{}", Value::String((*k).clone()), key_value(item, k)))
        .collect();
    format!("k:{{{}}}", parts.join(","))
}

/// A set of field paths, in the shape of a FieldsV1 document.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FieldSet(pub(crate) BTreeMap<String, FieldSet>);

impl FieldSet {
    pub(crate) fn from_json(v: &Value) -> FieldSet {
        FieldSet(
            v.as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), FieldSet::from_json(v)))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    pub(crate) fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect::<Map<_, _>>(),
        )
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every member path: leaves and `"."`-marked items.
    pub(crate) fn paths(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        fn walk(s: &FieldSet, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
            for (k, child) in &s.0 {
                prefix.push(k.clone());
                if child.is_empty() {
                    out.push(prefix.clone());
                } else {
                    walk(child, prefix, out);
                }
                prefix.pop();
            }
        }
        walk(self, &mut Vec::new(), &mut out);
        out
    }

    pub(crate) fn contains(&self, path: &[String]) -> bool {
        let mut node = self;
        for p in path {
            match node.0.get(p) {
                Some(n) => node = n,
                None => return false,
            }
        }
        node.is_empty()
    }

    /// True if the set holds `path` or anything below it.
    pub(crate) fn touches(&self, path: &[String]) -> bool {
        let prefix = match path.last().map(String::as_str) {
            Some(".") => &path[..path.len() - 1],
            _ => path,
        };
        let mut node = self;
        for p in prefix {
            match node.0.get(p) {
                Some(n) => node = n,
                None => return false,
            }
        }
        true
    }

    pub(crate) fn insert(&mut self, path: &[String]) {
        let mut node = self;
        for p in path {
            node = node.0.entry(p.clone()).or_default();
        }
    }

    pub(crate) fn remove(&mut self, path: &[String]) {
        fn rm(node: &mut FieldSet, path: &[String]) {
            if path.len() == 1 {
                node.0.remove(&path[0]);
                return;
            }
            if let Some(child) = node.0.get_mut(&path[0]) {
                rm(child, &path[1..]);
                if child.is_empty() {
                    node.0.remove(&path[0]);
                }
            }
        }
        if !path.is_empty() {
            rm(self, path);
        }
    }
}

/// Which part of an object a write manages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scope {
    /// Everything but `status` (types with a status subresource).
    Main,
    /// Only `status`.
    Status,
    /// Everything (types without a status subresource).
    All,
}

const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
    "generateName",
];

/// The fields an object sets, as a [`FieldSet`].
pub(crate) fn fields_of(rt: &ResourceType, obj: &Value, scope: Scope) -> FieldSet {
    let mut set = FieldSet::default();
    let Some(map) = obj.as_object() else {
        return set;
    };
    for (k, v) in map {
        if k == "apiVersion" || k == "kind" || v.is_null() {
            continue;
        }
        let in_scope = match scope {
            Scope::Main => k != "status",
            Scope::Status => k == "status",
            Scope::All => true,
        };
        if !in_scope {
            continue;
        }
        let mut path = vec![k.clone()];
        let child = if k == "metadata" {
            let mut meta = FieldSet::default();
            for (mk, mv) in v.as_object().into_iter().flatten() {
                if SERVER_METADATA.contains(&mk.as_str()) || mv.is_null() {
                    continue;
                }
                path.push(mk.clone());
                meta.0
                    .insert(format!("f:{mk}"), value_fields(rt, mv, &mut path));
                path.pop();
            }
            if meta.is_empty() {
                continue;
            }
            meta
        } else {
            value_fields(rt, v, &mut path)
        };
        set.0.insert(format!("f:{k}"), child);
    }
    set
}

fn value_fields(rt: &ResourceType, v: &Value, path: &mut Vec<String>) -> FieldSet {
    match v {
        Value::Object(m) if !m.is_empty() => {
            let mut s = FieldSet::default();
            for (k, cv) in m {
                if cv.is_null() {
                    continue;
                }
                path.push(k.clone());
                s.0.insert(format!("f:{k}"), value_fields(rt, cv, path));
                path.pop();
            }
            s
        }
        Value::Array(items) if !items.is_empty() => match list_kind(rt, path) {
            ListKind::Atomic => FieldSet::default(),
            ListKind::Set => FieldSet(
                items
                    .iter()
                    .map(|i| (format!("v:{i}"), FieldSet::default()))
                    .collect(),
            ),
            ListKind::Map(keys) => {
                let mut s = FieldSet::default();
                for item in items {
                    let mut child = value_fields(rt, item, path);
                    child.0.insert(".".into(), FieldSet::default());
                    s.0.insert(key_element(item, &keys), child);
                }
                s
            }
        },
        _ => FieldSet::default(),
    }
}

fn item_matches(item: &Value, key_json: &str) -> bool {
    let Ok(Value::Object(keys)) = serde_json::from_str::<Value>(key_json) else {
        return false;
    };
    keys.iter().all(|(k, v)| key_value(item, k) == *v)
}

/// The value at a field path (`"."` returns the item itself).
pub(crate) fn get_path<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = obj;
    for pe in path {
        if pe == "." {
            return Some(cur);
        }
        cur = if let Some(f) = pe.strip_prefix("f:") {
            cur.get(f)?
        } else if let Some(k) = pe.strip_prefix("k:") {
            cur.as_array()?.iter().find(|i| item_matches(i, k))?
        } else if let Some(v) = pe.strip_prefix("v:") {
            let want: Value = serde_json::from_str(v).ok()?;
            cur.as_array()?.iter().find(|i| **i == want)?
        } else if let Some(i) = pe.strip_prefix("i:") {
            cur.as_array()?.get(i.parse::<usize>().ok()?)?
        } else {
            return None;
        };
    }
    Some(cur)
}

/// Removes the value at a field path; a `"."` path removes the list item.
pub(crate) fn remove_path(obj: &mut Value, path: &[String]) {
    let path = match path.last().map(String::as_str) {
        Some(".") => &path[..path.len() - 1],
        _ => path,
    };
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for pe in parents {
        let next = if let Some(f) = pe.strip_prefix("f:") {
            cur.get_mut(f)
        } else if let Some(k) = pe.strip_prefix("k:") {
            cur.as_array_mut()
                .and_then(|a| a.iter_mut().find(|i| item_matches(i, k)))
        } else if let Some(i) = pe.strip_prefix("i:") {
            i.parse::<usize>()
                .ok()
                .and_then(|i| cur.as_array_mut().and_then(|a| a.get_mut(i)))
        } else {
            None
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let Some(f) = last.strip_prefix("f:") {
        if let Some(m) = cur.as_object_mut() {
            m.remove(f);
        }
    } else if let Some(k) = last.strip_prefix("k:") {
        if let Some(a) = cur.as_array_mut() {
            a.retain(|i| !item_matches(i, k));
        }
    } else if let Some(v) = last.strip_prefix("v:")
        && let (Some(a), Ok(want)) = (cur.as_array_mut(), serde_json::from_str::<Value>(v))
    {
        a.retain(|i| *i != want);
    }
}

/// `.spec.containers[name="app"].image`, as structured-merge-diff prints a path.
pub(crate) fn display_path(path: &[String]) -> String {
    let mut s = String::new();
    for pe in path {
        if pe == "." {
            continue;
        }
        if let Some(f) = pe.strip_prefix("f:") {
            s.push('.');
            s.push_str(f);
        } else if let Some(k) = pe.strip_prefix("k:") {
            let parts: Vec<String> = match serde_json::from_str::<Value>(k) {
                Ok(Value::Object(m)) => m.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                _ => vec![k.to_string()],
            };
            s.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = pe.strip_prefix("v:") {
            s.push_str(&format!("[={v}]"));
        } else if let Some(i) = pe.strip_prefix("i:") {
            s.push_str(&format!("[{i}]"));
        }
    }
    s
}

/// Merges an applied configuration into a live object: maps recursively, associative lists by
/// their keys, sets by union, everything else replaced.
pub(crate) fn merge(rt: &ResourceType, live: &mut Value, applied: &Value, path: &mut Vec<String>) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            for (k, av) in a {
                if av.is_null() {
                    continue;
                }
                path.push(k.clone());
                match l.get_mut(k) {
                    Some(lv) if lv.is_object() && av.is_object() => merge(rt, lv, av, path),
                    Some(lv) if lv.is_array() && av.is_array() => merge_list(rt, lv, av, path),
                    _ => {
                        l.insert(k.clone(), av.clone());
                    }
                }
                path.pop();
            }
        }
        (l, a) => *l = a.clone(),
    }
}

fn merge_list(rt: &ResourceType, live: &mut Value, applied: &Value, path: &mut Vec<String>) {
    let (Some(l), Some(a)) = (live.as_array_mut(), applied.as_array()) else {
        return;
    };
    match list_kind(rt, path) {
        ListKind::Atomic => *l = a.clone(),
        ListKind::Set => {
            for v in a {
                if !l.contains(v) {
                    l.push(v.clone());
                }
            }
        }
        ListKind::Map(keys) => {
            for item in a {
                let key = key_element(item, &keys);
                match l.iter_mut().find(|i| key_element(i, &keys) == key) {
                    Some(li) => merge(rt, li, item, path),
                    None => l.push(item.clone()),
                }
            }
        }
    }
}
