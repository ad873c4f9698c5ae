//! Applying `patches` entries: telling a strategic merge patch from a JSON 6902 operation list,
//! selecting the objects (a `target`, or the patch's own apiVersion/kind/name), and applying.

use capstan_sdk::{Object, Target};
use serde_json::Value;

use crate::{Error, Patch, Result, Selector, Warning, smp};

/// What a `patch` string holds.
#[derive(Debug, Clone, PartialEq)]
pub enum PatchKind {
    /// One or more strategic merge patch documents (objects).
    StrategicMerge(Vec<Value>),
    /// A JSON 6902 operation list.
    Json6902(Value),
}

/// Parses a `patch` string (YAML or JSON): a list is a JSON 6902 operation list, objects (one per
/// YAML document) are strategic merge patches. `name` is the entry for errors (`patches[0]`).
pub fn parse_patch(name: &str, text: &str) -> Result<PatchKind> {
    let docs = capstan_yaml::parse_stream(text).map_err(|source| Error::ParsePatch {
        patch: name.to_owned(),
        source,
    })?;
    let docs: Vec<Value> = docs.into_iter().filter(|d| !d.is_null()).collect();
    match docs.as_slice() {
        [] => Err(Error::InvalidPatch {
            patch: name.to_owned(),
            reason: "the patch is empty".into(),
        }),
        [Value::Array(_)] => Ok(PatchKind::Json6902(
            docs.into_iter().next().unwrap_or_default(),
        )),
        _ if docs.iter().all(Value::is_object) => Ok(PatchKind::StrategicMerge(docs)),
        _ => Err(Error::InvalidPatch {
            patch: name.to_owned(),
            reason: "expected a strategic merge patch (YAML objects) or a list of JSON 6902 \
                     operations"
                .into(),
        }),
    }
}

pub(crate) fn apply_patch(
    name: &str,
    patch: &Patch,
    objects: &mut Vec<Value>,
    warnings: &mut Vec<Warning>,
) -> Result<()> {
    match parse_patch(name, &patch.patch)? {
        PatchKind::StrategicMerge(docs) => {
            apply_strategic_merge_docs(name, &docs, patch.target.as_ref(), objects, warnings)
        }
        PatchKind::Json6902(ops) => {
            let Some(target) = &patch.target else {
                return Err(Error::MissingTarget {
                    patch: name.to_owned(),
                });
            };
            apply_json6902(name, &ops, target, objects, warnings)
        }
    }
}

fn compile_target(name: &str, selector: &Selector) -> Result<Target> {
    let value = serde_json::to_value(selector).map_err(|source| Error::ParseTarget {
        patch: name.to_owned(),
        source,
    })?;
    serde_json::from_value(value).map_err(|source| Error::ParseTarget {
        patch: name.to_owned(),
        source,
    })
}

/// Indices of the objects `target` selects.
fn select(target: &Target, objects: &mut [Value]) -> Vec<usize> {
    let mut hits = Vec::new();
    for (i, slot) in objects.iter_mut().enumerate() {
        if !slot.is_object() {
            continue;
        }
        let Some(object) = Object::from_value(std::mem::take(slot)) else {
            continue;
        };
        if target.matches(&object) {
            hits.push(i);
        }
        *slot = object.into_value();
    }
    hits
}

/// `apps/v1 Deployment default/web`, for messages.
pub(crate) fn describe(object: &Value) -> String {
    let s = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or("");
    let ns = s("/metadata/namespace");
    let name = if ns.is_empty() {
        s("/metadata/name").to_owned()
    } else {
        format!("{ns}/{}", s("/metadata/name"))
    };
    format!("{} {} {name}", s("/apiVersion"), s("/kind"))
}

/// Kustomize's rule for an untargeted strategic merge patch (`ResMap.GetById`): same apiVersion,
/// kind and name, and the same effective namespace, where a missing namespace means `default`.
fn same_object(patch: &Value, object: &Value) -> bool {
    let get = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_owned);
    let same = |p: &str| get(patch, p) == get(object, p);
    let effective_ns = |v: &Value| {
        get(v, "/metadata/namespace")
            .filter(|ns| !ns.is_empty())
            .unwrap_or_else(|| "default".to_owned())
    };
    same("/apiVersion")
        && same("/kind")
        && same("/metadata/name")
        && effective_ns(patch) == effective_ns(object)
}

/// With a target, the patch's own identity is replaced by each selected object's (kustomize),
/// so it must not rename or re-kind the object.
fn strip_identity(patch: &Value) -> Value {
    let mut patch = patch.clone();
    if let Some(map) = patch.as_object_mut() {
        map.remove("apiVersion");
        map.remove("kind");
        if let Some(Value::Object(meta)) = map.get_mut("metadata") {
            meta.remove("name");
            meta.remove("namespace");
        }
    }
    patch
}

pub(crate) fn apply_strategic_merge_docs(
    name: &str,
    docs: &[Value],
    target: Option<&Selector>,
    objects: &mut Vec<Value>,
    warnings: &mut Vec<Warning>,
) -> Result<()> {
    let target = target.map(|t| compile_target(name, t)).transpose()?;
    for doc in docs {
        let (hits, patch) = match &target {
            Some(t) => (select(t, objects), strip_identity(doc)),
            None => {
                let hits: Vec<usize> = (0..objects.len())
                    .filter(|&i| objects.get(i).is_some_and(|o| same_object(doc, o)))
                    .collect();
                (hits, doc.clone())
            }
        };
        if hits.is_empty() {
            let what = match &target {
                Some(_) => "its target matched no object".to_owned(),
                None => format!(
                    "no object is {} (an untargeted patch matches apiVersion, kind, name and \
                     namespace, `default` when unset; use a target to match more loosely)",
                    describe(doc)
                ),
            };
            warnings.push(Warning {
                patch: name.to_owned(),
                message: format!("strategic merge patch not applied: {what}"),
            });
            continue;
        }
        let mut deleted = Vec::new();
        for i in hits {
            let Some(slot) = objects.get_mut(i) else {
                continue;
            };
            let merged = smp::strategic_merge(slot, &patch).map_err(|source| {
                Error::ApplyStrategicMerge {
                    patch: name.to_owned(),
                    object: describe(slot),
                    source,
                }
            })?;
            if merged.is_null() {
                deleted.push(i);
            } else {
                *slot = merged;
            }
        }
        let mut index = 0;
        objects.retain(|_| {
            let keep = !deleted.contains(&index);
            index += 1;
            keep
        });
    }
    Ok(())
}

pub(crate) fn apply_json6902(
    name: &str,
    ops: &Value,
    target: &Selector,
    objects: &mut [Value],
    warnings: &mut Vec<Warning>,
) -> Result<()> {
    let target = compile_target(name, target)?;
    let ops: json_patch::Patch =
        serde_json::from_value(ops.clone()).map_err(|source| Error::ParseJsonPatch {
            patch: name.to_owned(),
            source,
        })?;
    let hits = select(&target, objects);
    if hits.is_empty() {
        warnings.push(Warning {
            patch: name.to_owned(),
            message: "JSON 6902 patch not applied: its target matched no object".into(),
        });
    }
    for i in hits {
        let Some(slot) = objects.get_mut(i) else {
            continue;
        };
        let mut patched = slot.clone();
        json_patch::patch(&mut patched, &ops).map_err(|source| Error::ApplyJsonPatch {
            patch: name.to_owned(),
            object: describe(slot),
            source,
        })?;
        *slot = patched;
    }
    Ok(())
}
