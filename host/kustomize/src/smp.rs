//! Strategic merge patch over `serde_json::Value` objects, with kustomize's semantics (kyaml
//! `merge2`, which Flux runs): maps merge, `null` deletes a field, lists of known types merge by
//! their merge keys (see [`schema`]) with new elements prepended, other lists are replaced, and
//! the `$patch: delete|replace|merge` directives work on maps, list elements and whole lists
//! (`- $patch: delete`), as do `$retainKeys` and `$deleteFromPrimitiveList/<field>`.
//! `$setElementOrder/<field>` directives are accepted and dropped (order is not significant for
//! apply). Everything is pure so it can be tested with small builders.

mod schema;

use serde_json::{Map, Value};

pub use schema::ListStrategy;

/// Why a strategic merge patch could not be applied; `path` is the field path in the patch.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MergeError {
    /// A `$patch` directive has a value other than `delete`, `replace` or `merge`.
    #[error("{path}: unknown $patch directive {value:?} (expected delete, replace or merge)")]
    ParseDirective {
        /// Field path of the directive.
        path: String,
        /// The directive as written.
        value: String,
    },
    /// An element of a list that merges by key lacks that key.
    #[error("{path}: list element has no merge key {key:?}")]
    FindMergeKey {
        /// Field path of the list.
        path: String,
        /// The merge key the list uses.
        key: String,
    },
    /// `$retainKeys` or `$deleteFromPrimitiveList` is not a list.
    #[error("{path}: {directive} must be a list")]
    ParseDirectiveList {
        /// Field path of the directive.
        path: String,
        /// The directive name.
        directive: String,
    },
    /// The patch is not an object.
    #[error("{path}: a strategic merge patch must be an object")]
    PatchNotObject {
        /// Field path.
        path: String,
    },
}

/// The object kind a patch applies to: decides which lists merge by key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeContext<'a> {
    /// API group (`""` for core, `apps`, …).
    pub group: &'a str,
    /// Kind (`Deployment`).
    pub kind: &'a str,
}

impl<'a> TypeContext<'a> {
    /// The context of an object from its `apiVersion` and `kind`.
    pub fn of(object: &'a Value) -> Self {
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let group = api_version
            .rsplit_once('/')
            .map(|(g, _)| g)
            .unwrap_or_default();
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
        TypeContext { group, kind }
    }
}

/// Applies `patch` to `original` (both whole objects) and returns the patched object. The type
/// (for list merge keys) is taken from the original's `apiVersion`/`kind`.
pub fn strategic_merge(original: &Value, patch: &Value) -> Result<Value, MergeError> {
    let ctx = TypeContext::of(original);
    let Some(patch) = patch.as_object() else {
        return Err(MergeError::PatchNotObject {
            path: String::new(),
        });
    };
    let mut out = original.as_object().cloned().unwrap_or_default();
    let mut path = Vec::new();
    match merge_map(&mut out, patch, &ctx, &mut path)? {
        Outcome::Keep => Ok(Value::Object(out)),
        // `$patch: delete` at the top level deletes the object; the caller drops it.
        Outcome::Delete => Ok(Value::Null),
    }
}

/// Whether a merged map or list stays or is deleted by a `$patch: delete` directive.
enum Outcome {
    Keep,
    Delete,
}

fn show(path: &[String]) -> String {
    path.join(".")
}

fn merge_map(
    orig: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    ctx: &TypeContext<'_>,
    path: &mut Vec<String>,
) -> Result<Outcome, MergeError> {
    if let Some(directive) = patch.get("$patch") {
        match directive.as_str() {
            Some("delete") => return Ok(Outcome::Delete),
            Some("replace") => {
                let mut fresh = Map::new();
                let mut rest = patch.clone();
                rest.remove("$patch");
                merge_map(&mut fresh, &rest, ctx, path)?;
                *orig = fresh;
                return Ok(Outcome::Keep);
            }
            Some("merge") => {}
            _ => {
                return Err(MergeError::ParseDirective {
                    path: show(path),
                    value: directive.to_string(),
                });
            }
        }
    }
    for (key, value) in patch {
        if key == "$patch" || key == "$retainKeys" || key.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            let Some(remove) = value.as_array() else {
                return Err(MergeError::ParseDirectiveList {
                    path: show(path),
                    directive: key.clone(),
                });
            };
            if let Some(Value::Array(list)) = orig.get_mut(field) {
                list.retain(|v| !remove.contains(v));
            }
            continue;
        }
        path.push(key.clone());
        match (orig.get_mut(key), value) {
            (_, Value::Null) => {
                orig.remove(key);
            }
            (Some(Value::Object(o)), Value::Object(p)) => {
                if let Outcome::Delete = merge_map(o, p, ctx, path)? {
                    orig.remove(key);
                }
            }
            (Some(Value::Array(o)), Value::Array(p)) => {
                if let Outcome::Delete = merge_list(o, p, ctx, path)? {
                    orig.remove(key);
                }
            }
            (_, v) => {
                if let Some(fresh) = clean(v, ctx, path)? {
                    orig.insert(key.clone(), fresh);
                } else {
                    orig.remove(key);
                }
            }
        }
        path.pop();
    }
    if let Some(retain) = patch.get("$retainKeys") {
        let Some(retain) = retain.as_array() else {
            return Err(MergeError::ParseDirectiveList {
                path: show(path),
                directive: "$retainKeys".into(),
            });
        };
        orig.retain(|k, _| retain.iter().any(|r| r.as_str() == Some(k)));
    }
    Ok(Outcome::Keep)
}

/// A patch value placed where the original has nothing (or something of another shape): merged
/// into emptiness, so directives and `null`s inside it are resolved rather than copied.
fn clean(
    value: &Value,
    ctx: &TypeContext<'_>,
    path: &mut Vec<String>,
) -> Result<Option<Value>, MergeError> {
    match value {
        Value::Object(p) => {
            let mut fresh = Map::new();
            match merge_map(&mut fresh, p, ctx, path)? {
                Outcome::Keep => Ok(Some(Value::Object(fresh))),
                Outcome::Delete => Ok(None),
            }
        }
        Value::Array(p) => {
            let mut fresh = Vec::new();
            match merge_list(&mut fresh, p, ctx, path)? {
                Outcome::Keep => Ok(Some(Value::Array(fresh))),
                Outcome::Delete => Ok(None),
            }
        }
        other => Ok(Some(other.clone())),
    }
}

fn is_directive_element(v: &Value, directive: &str) -> bool {
    v.as_object()
        .and_then(|m| m.get("$patch"))
        .and_then(Value::as_str)
        == Some(directive)
}

/// True if `a` and `b` agree on every key (a missing key equals only a missing key).
fn same_keys(a: &Value, b: &Value, keys: &[&str]) -> bool {
    keys.iter().all(|k| a.get(*k) == b.get(*k))
}

/// Merges a patch list into `orig`. Returns `Delete` when the list itself is deleted
/// (`- $patch: delete` element).
fn merge_list(
    orig: &mut Vec<Value>,
    patch: &[Value],
    ctx: &TypeContext<'_>,
    path: &mut Vec<String>,
) -> Result<Outcome, MergeError> {
    if patch
        .iter()
        .any(|v| schema::is_directive_only(v) && is_directive_element(v, "delete"))
    {
        return Ok(Outcome::Delete);
    }
    // `- $patch: replace` as an element: the rest of the patch list replaces the original.
    if patch
        .iter()
        .any(|v| schema::is_directive_only(v) && is_directive_element(v, "replace"))
    {
        let mut fresh = Vec::new();
        for v in patch.iter().filter(|v| !schema::is_directive_only(v)) {
            if let Some(c) = clean(v, ctx, path)? {
                fresh.push(c);
            }
        }
        *orig = fresh;
        return Ok(Outcome::Keep);
    }
    let items: Vec<&Value> = patch
        .iter()
        .filter(|v| !schema::is_directive_only(v))
        .collect();
    match schema::list_strategy(ctx, path, orig, patch) {
        ListStrategy::MergeByKeys(keys) => {
            // kustomize merges with `ListIncreaseDirection: Prepend`: elements new to the list
            // go in front, in patch order.
            let mut added = Vec::new();
            for item in items {
                let Some(p) = item.as_object() else {
                    added.push(item.clone());
                    continue;
                };
                if let Some(missing) = keys.first().filter(|k| !p.contains_key(**k)) {
                    return Err(MergeError::FindMergeKey {
                        path: show(path),
                        key: (*missing).to_owned(),
                    });
                }
                if is_directive_element(item, "delete") {
                    orig.retain(|o| !same_keys(o, item, keys));
                    continue;
                }
                match orig.iter().position(|o| same_keys(o, item, keys)) {
                    Some(i) => {
                        if let Some(Value::Object(o)) = orig.get_mut(i) {
                            if let Outcome::Delete = merge_map(o, p, ctx, path)? {
                                orig.remove(i);
                            }
                        } else if let Some(slot) = orig.get_mut(i) {
                            *slot = item.clone();
                        }
                    }
                    None => {
                        if let Some(c) = clean(item, ctx, path)? {
                            added.push(c);
                        }
                    }
                }
            }
            added.append(orig);
            *orig = added;
        }
        ListStrategy::MergePrimitives => {
            let mut added: Vec<Value> = items
                .into_iter()
                .filter(|v| !orig.contains(v))
                .cloned()
                .collect();
            added.append(orig);
            *orig = added;
        }
        ListStrategy::Replace => {
            let mut fresh = Vec::new();
            for v in items {
                if let Some(c) = clean(v, ctx, path)? {
                    fresh.push(c);
                }
            }
            *orig = fresh;
        }
    }
    Ok(Outcome::Keep)
}

#[cfg(test)]
mod tests;
