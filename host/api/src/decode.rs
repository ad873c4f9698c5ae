//! Decoding a JSON value into a typed struct while collecting every field the type does not know
//! (so nothing is ignored silently) and, on failure, the path of the offending field.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// A field path as users write it: `spec.postRenderers[0].kustomize`.
fn show(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", show(parent)),
        Path::Map { parent, key } => {
            let parent = show(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => show(parent),
    }
}

pub(crate) fn join(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty() || path == ".") {
        (_, true) => prefix.to_owned(),
        (true, false) => path.to_owned(),
        (false, false) if path.starts_with('[') => format!("{prefix}{path}"),
        (false, false) => format!("{prefix}.{path}"),
    }
}

/// Decodes `value` as `T`. Unknown fields are returned as paths under `prefix`; an error comes
/// with the path of the field that failed.
pub(crate) fn decode<T: DeserializeOwned>(
    value: Value,
    prefix: &str,
    unknown: &mut Vec<String>,
) -> Result<T, (String, serde_json::Error)> {
    let mut track = serde_path_to_error::Track::new();
    let mut ignored = Vec::new();
    let de = serde_path_to_error::Deserializer::new(value, &mut track);
    match serde_ignored::deserialize(de, |path| ignored.push(join(prefix, &show(&path)))) {
        Ok(v) => {
            unknown.extend(ignored);
            Ok(v)
        }
        Err(e) => Err((join(prefix, &track.path().to_string()), e)),
    }
}
