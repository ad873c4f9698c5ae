//! Server-side printing: `meta.k8s.io/v1` `Table` responses for
//! `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` (API concept "Receiving resources as
//! Tables"), which is how `kubectl get` prints columns. CRDs print their
//! `additionalPrinterColumns` (JSONPath subset: `.a.b`, `[n]`, `[*]`, `[?(@.k=="v")]`), built-ins a
//! few familiar columns. Rows carry the object as `PartialObjectMetadata` (`includeObject=Metadata`,
//! the default), the full object (`Object`) or nothing (`None`).

use crate::registry::{CellSource, ResourceType};
use serde_json::{Value, json};

/// Evaluates a JSONPath subset; returns all matches.
pub(crate) fn json_path<'a>(obj: &'a Value, path: &str) -> Vec<&'a Value> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut cur: Vec<&Value> = vec![obj];
    let mut rest = path.trim_start_matches('$');
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let field = &r[..end];
            if !field.is_empty() {
                cur = cur.into_iter().filter_map(|v| v.get(field)).collect();
            }
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else {
                return vec![];
            };
            let inner = &r[..end];
            rest = &r[end + 1..];
            if inner == "*" {
                cur = cur
                    .into_iter()
                    .flat_map(|v| v.as_array().into_iter().flatten())
                    .collect();
            } else if let Some(filter) =
                inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')'))
            {
                let Some((k, v)) = filter.split_once("==") else {
                    return vec![];
                };
                let want = v.trim().trim_matches(['"', '\'']);
                let key = k.trim();
                cur = cur
                    .into_iter()
                    .flat_map(|a| a.as_array().into_iter().flatten())
                    .filter(|item| {
                        item.get(key).is_some_and(|x| match x {
                            Value::String(s) => s == want,
                            other => *other == want,
                        })
                    })
                    .collect();
            } else if let Ok(i) = inner.parse::<usize>() {
                cur = cur.into_iter().filter_map(|v| v.get(i)).collect();
            } else {
                let key = inner.trim_matches(['"', '\'']);
                cur = cur.into_iter().filter_map(|v| v.get(key)).collect();
            }
        } else {
            return vec![];
        }
    }
    cur
}

/// `kubectl`'s human duration (`k8s.io/apimachinery/pkg/util/duration.HumanDuration`).
pub(crate) fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    if s < 120 {
        return format!("{s}s");
    }
    let m = s / 60;
    if m < 10 {
        return if s % 60 == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{}s", s % 60)
        };
    }
    if m < 180 {
        return format!("{m}m");
    }
    let h = m / 60;
    if h < 8 {
        return if m % 60 == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        };
    }
    if h < 48 {
        return format!("{h}h");
    }
    let d = h / 24;
    if d < 8 {
        return if h % 24 == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{}h", h % 24)
        };
    }
    if d < 365 * 2 {
        return format!("{d}d");
    }
    format!("{}y", d / 365)
}

fn age(ts: &Value) -> Value {
    let Some(t) = ts.as_str().and_then(|s| s.parse::<jiff::Timestamp>().ok()) else {
        return json!("<unknown>");
    };
    let secs = jiff::Timestamp::now().as_second() - t.as_second();
    json!(human_duration(secs))
}

fn cell(source: &CellSource, type_: &str, obj: &Value) -> Value {
    match source {
        CellSource::Age => age(&obj["metadata"]["creationTimestamp"]),
        CellSource::DataCount => {
            let n = obj["data"].as_object().map_or(0, |m| m.len())
                + obj["binaryData"].as_object().map_or(0, |m| m.len());
            json!(n)
        }
        CellSource::Ready => json!(format!(
            "{}/{}",
            obj["status"]["readyReplicas"].as_i64().unwrap_or(0),
            obj["spec"]["replicas"].as_i64().unwrap_or(1)
        )),
        CellSource::Path(p) => {
            let found = json_path(obj, p);
            match found.first() {
                None => Value::Null,
                Some(v) if type_ == "date" => age(v),
                Some(Value::String(s)) if found.len() == 1 => json!(s),
                Some(v) if found.len() == 1 && !v.is_object() && !v.is_array() => (*v).clone(),
                Some(_) => json!(
                    found
                        .iter()
                        .map(|v| match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            }
        }
    }
}

/// A Table of `objects`.
pub(crate) fn table(
    rt: &ResourceType,
    objects: &[Value],
    list_meta: Value,
    include: &str,
) -> Value {
    let columns: Vec<Value> = rt
        .columns
        .iter()
        .map(|c| {
            json!({"name": c.name, "type": if c.type_ == "date" { "string" } else { c.type_.as_str() },
                   "format": c.format, "description": c.description, "priority": c.priority})
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let cells: Vec<Value> = rt.columns.iter().map(|c| cell(&c.source, &c.type_, o)).collect();
            let mut row = json!({"cells": cells});
            match include {
                "None" => {}
                "Object" => row["object"] = o.clone(),
                _ => {
                    row["object"] = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]})
                }
            }
            row
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "columnDefinitions": columns, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_path_subset() {
        let obj = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "X", "status": "False"}]}});
        let r = json_path(&obj, r#".status.conditions[?(@.type=="Ready")].status"#);
        assert_eq!(r, vec![&json!("True")]);
        assert_eq!(
            json_path(&obj, ".status.conditions[1].type"),
            vec![&json!("X")]
        );
        assert_eq!(json_path(&obj, ".status.conditions[*].type").len(), 2);
        assert!(json_path(&obj, ".spec.nothing").is_empty());
    }

    #[test]
    fn durations_like_kubectl() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(150), "2m30s");
        assert_eq!(human_duration(3600), "60m");
        assert_eq!(human_duration(4 * 3600 + 60), "4h1m");
        assert_eq!(human_duration(3 * 86400), "3d");
    }
}
