//! The user-supplied values of a HelmRelease, composed in Flux's order:
//!
//! ```text
//! valuesFrom[0] ← valuesFrom[1] ← … ← spec.values ← valuesFrom entries with a targetPath (in order)
//! ```
//!
//! Documents merge with Flux's `MergeMaps` (maps merge deeply, anything else, lists included, is
//! replaced). A `targetPath` entry sets its key's whole content as one value at that path, with
//! Helm's `--set` syntax, after everything else, so it wins over inline values as Flux documents
//! ("it will overwrite everything before, including inline values"). One deliberate difference:
//! Flux sets a targetPath value at its position in the list, so a *later* non-targetPath entry
//! writing the same key can overwrite it (or not, depending on Go map aliasing with the inline
//! values); here targetPath entries always win. The chart's own defaults are *not* merged here: the renderer
//! coalesces them under these values as Helm does (a `null` here deletes a chart default there).
//!
//! ConfigMaps and Secrets are plain JSON objects (read from files or fetched by the reconciler),
//! looked up in the HelmRelease's namespace; an object without `metadata.namespace` counts as
//! being there. A Secret's `data` is base64; its `stringData` is read too and wins, as the API
//! server would write it. A missing optional object or key is skipped with a [`Warning`]; a
//! missing required one is an error naming the HelmRelease, the object and the key.

use base64::Engine;
use serde_json::{Map, Value};

use capstan_api::{HelmRelease, ValuesKind, ValuesReference, Warning, merge_maps};
use capstan_helm::StrvalsError;

use crate::lookup::{LookupError, ObjectLookup};

/// Why the values could not be composed. Messages name the HelmRelease, the `valuesFrom` entry,
/// the object and the key.
#[derive(Debug, thiserror::Error)]
pub enum ValuesError {
    /// A required ConfigMap/Secret does not exist.
    #[error("HelmRelease {release}: spec.valuesFrom[{index}]: {kind} {namespace}/{name} not found")]
    FindObject {
        /// `namespace/name` of the HelmRelease.
        release: String,
        /// Index in `valuesFrom`.
        index: usize,
        /// `ConfigMap` or `Secret`.
        kind: ValuesKind,
        /// Namespace searched.
        namespace: String,
        /// Object name.
        name: String,
    },
    /// A required key is not in the object.
    #[error(
        "HelmRelease {release}: spec.valuesFrom[{index}]: {kind} {namespace}/{name} has no key {key:?}"
    )]
    FindKey {
        /// `namespace/name` of the HelmRelease.
        release: String,
        /// Index in `valuesFrom`.
        index: usize,
        /// `ConfigMap` or `Secret`.
        kind: ValuesKind,
        /// Namespace.
        namespace: String,
        /// Object name.
        name: String,
        /// The missing key.
        key: String,
    },
    /// A Secret value is not base64 or not UTF-8.
    #[error(
        "HelmRelease {release}: spec.valuesFrom[{index}]: Secret {namespace}/{name} key {key:?} is not valid base64 UTF-8 text"
    )]
    DecodeSecret {
        /// `namespace/name` of the HelmRelease.
        release: String,
        /// Index in `valuesFrom`.
        index: usize,
        /// Namespace.
        namespace: String,
        /// Secret name.
        name: String,
        /// The key.
        key: String,
    },
    /// The key's content is not a YAML map.
    #[error(
        "HelmRelease {release}: spec.valuesFrom[{index}]: {kind} {namespace}/{name} key {key:?}: values must be a YAML map"
    )]
    ParseValues {
        /// `namespace/name` of the HelmRelease.
        release: String,
        /// Index in `valuesFrom`.
        index: usize,
        /// `ConfigMap` or `Secret`.
        kind: ValuesKind,
        /// Namespace.
        namespace: String,
        /// Object name.
        name: String,
        /// The key.
        key: String,
        /// The YAML error, if the text is not YAML at all.
        #[source]
        source: Option<Box<capstan_yaml::Error>>,
    },
    /// A `targetPath` expression failed.
    #[error("HelmRelease {release}: spec.valuesFrom[{index}].targetPath {path:?}")]
    SetTargetPath {
        /// `namespace/name` of the HelmRelease.
        release: String,
        /// Index in `valuesFrom`.
        index: usize,
        /// The target path.
        path: String,
        /// The `--set` parser error.
        #[source]
        source: StrvalsError,
    },
    /// A ConfigMap or Secret could not be looked up (retry later).
    #[error("HelmRelease {release}: spec.valuesFrom[{index}]")]
    Lookup {
        /// `namespace/name` of the HelmRelease.
        release: String,
        /// Index in `valuesFrom`.
        index: usize,
        /// Why.
        #[source]
        source: LookupError,
    },
    /// `spec.values` is not a map.
    #[error("HelmRelease {release}: spec.values must be a map")]
    InlineValuesNotMap {
        /// `namespace/name` of the HelmRelease.
        release: String,
    },
}

/// The composed values and what was skipped on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct ComposedValues {
    /// The values map to give the renderer, typed as Flux hands them to Helm.
    pub values: Map<String, Value>,
    /// Optional references that were skipped.
    pub warnings: Vec<Warning>,
}

/// A JSON value as Go's `json.Unmarshal` into `interface{}` types it: every number a
/// `float64`. This is how Flux passes `spec.values` (and, through `sigs.k8s.io/yaml`,
/// `valuesFrom` documents) to Helm, so `{{ .Values.n }}` of `1000000` renders `1e+06`.
pub fn as_go_json(value: Value) -> Value {
    match value {
        Value::Number(n) if !n.is_f64() => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Number(n), Value::Number),
        Value::Array(items) => Value::Array(items.into_iter().map(as_go_json).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, as_go_json(v))).collect())
        }
        other => other,
    }
}

enum Lookup {
    Found(String),
    MissingKey,
    BadSecret,
}

fn read_key(object: &Value, kind: ValuesKind, key: &str) -> Lookup {
    let string_at = |field: &str| {
        object
            .get(field)
            .and_then(|d| d.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match kind {
        ValuesKind::ConfigMap => string_at("data").map_or(Lookup::MissingKey, Lookup::Found),
        ValuesKind::Secret => {
            if let Some(text) = string_at("stringData") {
                return Lookup::Found(text);
            }
            let Some(encoded) = string_at("data") else {
                return Lookup::MissingKey;
            };
            let cleaned: String = encoded.split_whitespace().collect();
            match base64::engine::general_purpose::STANDARD
                .decode(cleaned)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
            {
                Some(text) => Lookup::Found(text),
                None => Lookup::BadSecret,
            }
        }
    }
}

/// Composes the values of `release` from its `valuesFrom` references (found through `lookup` in
/// the release's namespace) and its inline `values`, in Flux's order (see the module docs).
pub fn compose_values(
    release: &HelmRelease,
    lookup: &dyn ObjectLookup,
) -> Result<ComposedValues, ValuesError> {
    let release_name = release.full_name();
    let namespace = release.namespace_or_default();
    let mut warnings = Vec::new();
    let mut result = Map::new();
    let mut targeted: Vec<(usize, &ValuesReference, String)> = Vec::new();

    for (index, reference) in release.spec.values_from.iter().enumerate() {
        let key = reference.values_key();
        let field = format!("spec.valuesFrom[{index}]");
        let found = match reference.kind {
            ValuesKind::ConfigMap => lookup.config_map(namespace, &reference.name),
            ValuesKind::Secret => lookup.secret(namespace, &reference.name),
        }
        .map_err(|source| ValuesError::Lookup {
            release: release_name.clone(),
            index,
            source,
        })?;
        let Some(object) = found else {
            if reference.optional {
                warnings.push(Warning::new(
                    field,
                    format!(
                        "optional {} {namespace}/{} not found, skipped",
                        reference.kind, reference.name
                    ),
                ));
                continue;
            }
            return Err(ValuesError::FindObject {
                release: release_name,
                index,
                kind: reference.kind,
                namespace: namespace.into(),
                name: reference.name.clone(),
            });
        };
        let text = match read_key(&object, reference.kind, key) {
            Lookup::Found(text) => text,
            Lookup::MissingKey if reference.optional => {
                warnings.push(Warning::new(
                    field,
                    format!(
                        "optional {} {namespace}/{} has no key {key:?}, skipped",
                        reference.kind, reference.name
                    ),
                ));
                continue;
            }
            Lookup::MissingKey => {
                return Err(ValuesError::FindKey {
                    release: release_name,
                    index,
                    kind: reference.kind,
                    namespace: namespace.into(),
                    name: reference.name.clone(),
                    key: key.into(),
                });
            }
            Lookup::BadSecret => {
                return Err(ValuesError::DecodeSecret {
                    release: release_name,
                    index,
                    namespace: namespace.into(),
                    name: reference.name.clone(),
                    key: key.into(),
                });
            }
        };
        if reference
            .target_path
            .as_deref()
            .is_some_and(|p| !p.is_empty())
        {
            targeted.push((index, reference, text));
            continue;
        }
        let parse_error = |source| ValuesError::ParseValues {
            release: release_name.clone(),
            index,
            kind: reference.kind,
            namespace: namespace.into(),
            name: reference.name.clone(),
            key: key.into(),
            source,
        };
        // Flux reads the key with sigs.k8s.io/yaml, as Helm reads `-f` files.
        let doc =
            capstan_yaml::parse_json_like(&text).map_err(|e| parse_error(Some(Box::new(e))))?;
        match doc {
            Value::Object(map) => result = merge_maps(&result, &map),
            // An empty document is an empty values file, as in Helm.
            Value::Null => {}
            _ => return Err(parse_error(None)),
        }
    }

    match &release.spec.values {
        None | Some(Value::Null) => {}
        Some(Value::Object(inline)) => {
            let inline = match as_go_json(Value::Object(inline.clone())) {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            result = merge_maps(&result, &inline);
        }
        Some(_) => {
            return Err(ValuesError::InlineValuesNotMap {
                release: release_name,
            });
        }
    }

    for (index, reference, text) in targeted {
        let path = reference.target_path.clone().unwrap_or_default();
        replace_path_value(&mut result, &path, &text).map_err(|source| {
            ValuesError::SetTargetPath {
                release: release_name.clone(),
                index,
                path,
                source,
            }
        })?;
    }

    Ok(ComposedValues {
        values: result,
        warnings,
    })
}

/// Flux's `ReplacePathValue`: sets `value` at `path` with Helm's `--set` parser (typed, as
/// `strvals.ParseInto`); a value in single or double quotes is set as a string, quotes removed.
pub fn replace_path_value(
    data: &mut Map<String, Value>,
    path: &str,
    value: &str,
) -> Result<(), StrvalsError> {
    let quoted = |q: char| value.len() >= 2 && value.starts_with(q) && value.ends_with(q);
    if quoted('\'') || quoted('"') {
        let inner = value.trim_matches(|c| c == '\'' || c == '"');
        return capstan_helm::parse_set_string(&format!("{path}={inner}"), data);
    }
    capstan_helm::parse_set(&format!("{path}={value}"), data)
}

#[cfg(test)]
mod tests;
