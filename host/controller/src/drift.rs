//! Drift, decided over plain JSON: the live object against what a server-side apply dry-run of
//! the last applied manifest says it would become (Flux's method). A field differs only when
//! applying would change it, so fields owned by other managers that Capstan does not set (an
//! HPA's replicas when the chart leaves them out) never count; `ignore` rules remove more.

use capstan_api::IgnoreRule;
use serde_json::Value;

/// Fields the API server maintains, never drift.
const SERVER_FIELDS: &[&str] = &[
    "/metadata/managedFields",
    "/metadata/resourceVersion",
    "/metadata/generation",
    "/metadata/uid",
    "/metadata/creationTimestamp",
    "/metadata/selfLink",
    "/status",
];

/// One object's drift: the JSON pointers that differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// `Kind namespace/name`.
    pub object: String,
    /// JSON pointers (RFC 6901) of the fields that would change.
    pub paths: Vec<String>,
}

/// Whether `rule` applies to `object` (no target: every object).
fn rule_applies(rule: &IgnoreRule, object: &Value) -> bool {
    let Some(target) = &rule.target else {
        return true;
    };
    let field = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or("");
    let (group, version) = match field("/apiVersion").rsplit_once('/') {
        Some((g, v)) => (g.to_owned(), v.to_owned()),
        None => (String::new(), field("/apiVersion").to_owned()),
    };
    let matches = |want: &Option<String>, have: &str| {
        want.as_deref()
            .is_none_or(|w| regex_lite_full_match(w, have))
    };
    matches(&target.group, &group)
        && matches(&target.version, &version)
        && matches(&target.kind, field("/kind"))
        && matches(&target.name, field("/metadata/name"))
        && matches(&target.namespace, field("/metadata/namespace"))
}

/// An anchored match, kustomize style; an invalid pattern matches only itself literally.
fn regex_lite_full_match(pattern: &str, text: &str) -> bool {
    regex_lite::Regex::new(&format!("^(?:{pattern})$"))
        .map(|r| r.is_match(text))
        .unwrap_or(pattern == text)
}

/// The pointers at which `live` and `applied` (the dry-run result) differ, minus server-owned
/// fields and the `ignore` rules that apply to the object.
pub fn diff(live: &Value, applied: &Value, ignore: &[IgnoreRule]) -> Vec<String> {
    let ignored: Vec<&str> = SERVER_FIELDS
        .iter()
        .copied()
        .chain(
            ignore
                .iter()
                .filter(|r| rule_applies(r, applied))
                .flat_map(|r| r.paths.iter().map(String::as_str)),
        )
        .collect();
    let mut out = Vec::new();
    walk(live, applied, &mut String::new(), &ignored, &mut out);
    out
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn is_ignored(path: &str, ignored: &[&str]) -> bool {
    ignored
        .iter()
        .any(|i| path == *i || (path.starts_with(i) && path[i.len()..].starts_with('/')))
}

fn walk(live: &Value, applied: &Value, path: &mut String, ignored: &[&str], out: &mut Vec<String>) {
    if is_ignored(path, ignored) {
        return;
    }
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            let keys: std::collections::BTreeSet<&String> = l.keys().chain(a.keys()).collect();
            for k in keys {
                let len = path.len();
                path.push('/');
                path.push_str(&escape(k));
                match (l.get(k), a.get(k)) {
                    (Some(lv), Some(av)) => walk(lv, av, path, ignored, out),
                    _ if !is_ignored(path, ignored) => out.push(path.clone()),
                    _ => {}
                }
                path.truncate(len);
            }
        }
        (Value::Array(l), Value::Array(a)) if l.len() == a.len() => {
            for (i, (lv, av)) in l.iter().zip(a).enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                walk(lv, av, path, ignored, out);
                path.truncate(len);
            }
        }
        (l, a) if l == a => {}
        _ => out.push(if path.is_empty() {
            "/".to_owned()
        } else {
            path.clone()
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mk_deployment(replicas: i64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "apps", "resourceVersion": "7",
                            "managedFields": [{"manager": "capstan"}]},
               "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}},
               "status": {"readyReplicas": 1}})
    }

    fn mk_rule(paths: &[&str], kind: Option<&str>) -> IgnoreRule {
        IgnoreRule {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            target: kind.map(|k| capstan_api::Selector {
                kind: Some(k.to_owned()),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn a_hand_scaled_deployment_drifts_at_its_replicas() {
        let mut live = mk_deployment(1, "nginx:1");
        live["metadata"]["resourceVersion"] = json!("9");
        live["status"] = json!({"readyReplicas": 0});
        assert_eq!(
            diff(&live, &mk_deployment(3, "nginx:1"), &[]),
            ["/spec/replicas"]
        );
        assert!(
            diff(
                &mk_deployment(3, "nginx:1"),
                &mk_deployment(3, "nginx:1"),
                &[]
            )
            .is_empty()
        );
    }

    #[test]
    fn ignore_rules_remove_paths_for_their_targets_only() {
        let live = mk_deployment(1, "nginx:2");
        let applied = mk_deployment(3, "nginx:1");
        assert_eq!(
            diff(
                &live,
                &applied,
                &[mk_rule(&["/spec/replicas"], Some("Deployment"))]
            ),
            ["/spec/template/spec/containers/0/image"]
        );
        assert_eq!(
            diff(
                &live,
                &applied,
                &[mk_rule(&["/spec/replicas"], Some("StatefulSet"))]
            )
            .len(),
            2
        );
        assert!(diff(&live, &applied, &[mk_rule(&["/spec"], None)]).is_empty());
    }

    #[test]
    fn added_and_removed_fields_are_drift_with_escaped_pointers() {
        let live = json!({"metadata": {"labels": {"app.kubernetes.io/name": "x", "extra": "y"}}});
        let applied = json!({"metadata": {"labels": {"app.kubernetes.io/name": "x"}}});
        assert_eq!(diff(&live, &applied, &[]), ["/metadata/labels/extra"]);
        let changed = json!({"metadata": {"labels": {"app.kubernetes.io/name": "z"}}});
        assert_eq!(
            diff(&changed, &applied, &[]),
            ["/metadata/labels/app.kubernetes.io~1name"]
        );
    }
}
