//! Discovery and OpenAPI documents, generated from the [`Registry`].
//!
//! - Legacy (unaggregated) discovery: `/api` (`APIVersions`), `/api/v1` and `/apis/<g>/<v>`
//!   (`APIResourceList`, with subresources `status`/`scale`), `/apis` (`APIGroupList`),
//!   `/apis/<g>` (`APIGroup`). Aggregated discovery (`apidiscovery.k8s.io/v2`) is not served:
//!   the response is plain `application/json`, so client-go falls back to the legacy documents.
//! - `/openapi/v3` lists one document per group-version; each holds the paths of its resources,
//!   with `x-kubernetes-group-version-kind` and the `fieldValidation`, `dryRun`, `fieldManager`
//!   and `force` parameters on `PATCH` — what kubectl looks for to use server-side field
//!   validation instead of downloading schemas. Simplification: the documents carry no schemas
//!   (`kubectl explain` and client-side validation do not work; CRD schemas are not published).
//!   `/openapi/v2` answers 404, as a server with only OpenAPI v3 would.

use crate::registry::{Registry, ResourceType};
use serde_json::{Value, json};

fn resource_entries(types: &[&ResourceType]) -> Vec<Value> {
    let mut out = Vec::new();
    for t in types {
        let mut r = json!({
            "name": t.plural, "singularName": t.singular, "namespaced": t.namespaced,
            "kind": t.kind, "verbs": t.verbs(),
        });
        if !t.short_names.is_empty() {
            r["shortNames"] = json!(t.short_names);
        }
        if !t.categories.is_empty() {
            r["categories"] = json!(t.categories);
        }
        out.push(r);
        if t.status {
            out.push(json!({"name": format!("{}/status", t.plural), "singularName": "", "namespaced": t.namespaced,
                            "kind": t.kind, "verbs": ["get", "patch", "update"]}));
        }
        if t.scale.is_some() {
            out.push(json!({"name": format!("{}/scale", t.plural), "singularName": "", "namespaced": t.namespaced,
                            "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]}));
        }
    }
    out
}

/// `/api`.
pub(crate) fn api_versions(addr: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
           "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": addr}]})
}

/// `/api/v1`, `/apis/<g>/<v>`; None when the group-version is not served.
pub(crate) fn resource_list(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let types: Vec<&ResourceType> = reg
        .all()
        .filter(|t| t.group == group && t.version == version)
        .map(|t| t.as_ref())
        .collect();
    if types.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resource_entries(&types)}),
    )
}

fn preferred(versions: &[String]) -> String {
    // Kubernetes version priority: GA > beta > alpha, higher numbers first.
    let rank = |v: &str| -> (u8, u32, u32) {
        let rest = v.trim_start_matches('v');
        let (major, tail) = rest.split_at(
            rest.find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len()),
        );
        let major: u32 = major.parse().unwrap_or(0);
        let (level, minor) = if let Some(m) = tail.strip_prefix("beta") {
            (1, m.parse().unwrap_or(0))
        } else if let Some(m) = tail.strip_prefix("alpha") {
            (0, m.parse().unwrap_or(0))
        } else {
            (2, 0)
        };
        (level, major, minor)
    };
    versions
        .iter()
        .max_by_key(|v| rank(v))
        .cloned()
        .unwrap_or_default()
}

fn group_doc(name: &str, versions: &[String]) -> Value {
    let mut sorted = versions.to_vec();
    let pref = preferred(versions);
    sorted.sort_by_key(|v| v != &pref);
    let vs: Vec<Value> = sorted
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": name, "versions": vs,
           "preferredVersion": {"groupVersion": format!("{name}/{pref}"), "version": pref}})
}

/// `/apis`.
pub(crate) fn group_list(reg: &Registry) -> Value {
    let groups: Vec<Value> = reg
        .groups()
        .iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, v)| group_doc(g, v))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<g>`.
pub(crate) fn group(reg: &Registry, name: &str) -> Option<Value> {
    reg.groups().get(name).map(|v| group_doc(name, v))
}

/// `/version`.
pub(crate) fn version() -> Value {
    json!({"major": "1", "minor": "35", "gitVersion": "v1.35.0-capstan-testapi", "gitCommit": "0000000000000000000000000000000000000000",
           "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.25.0", "compiler": "gc", "platform": "linux/amd64"})
}

/// `/openapi/v3`.
pub(crate) fn openapi_root(reg: &Registry) -> Value {
    let mut paths = serde_json::Map::new();
    for (g, versions) in reg.groups() {
        for v in versions {
            let key = if g.is_empty() {
                format!("api/{v}")
            } else {
                format!("apis/{g}/{v}")
            };
            paths.insert(
                key.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={}", reg_hash(reg))}),
            );
        }
    }
    json!({"paths": paths})
}

fn reg_hash(reg: &Registry) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for t in reg.all() {
        t.storage().hash(&mut h);
        t.version.hash(&mut h);
    }
    format!("{:016X}", h.finish())
}

/// `/openapi/v3/api/v1`, `/openapi/v3/apis/<g>/<v>`.
pub(crate) fn openapi_doc(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let types: Vec<&ResourceType> = reg
        .all()
        .filter(|t| t.group == group && t.version == version)
        .map(|t| t.as_ref())
        .collect();
    if types.is_empty() {
        return None;
    }
    let query = |name: &str| json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}});
    let mut paths = serde_json::Map::new();
    for t in types {
        let gvk = json!({"group": t.group, "version": t.version, "kind": t.kind});
        let prefix = if group.is_empty() {
            format!("/api/{version}")
        } else {
            format!("/apis/{group}/{version}")
        };
        let base = if t.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}", t.plural)
        } else {
            format!("{prefix}/{}", t.plural)
        };
        let op = |action: &str, params: Vec<Value>| {
            json!({"operationId": format!("{action}{}", t.kind), "x-kubernetes-action": action,
                   "x-kubernetes-group-version-kind": gvk, "parameters": params,
                   "responses": {"200": {"description": "OK"}}})
        };
        let write = vec![
            query("dryRun"),
            query("fieldManager"),
            query("fieldValidation"),
        ];
        let mut patch_params = write.clone();
        patch_params.push(query("force"));
        paths.insert(base.clone(), json!({
            "get": op("list", vec![query("labelSelector"), query("fieldSelector"), query("limit"), query("continue"), query("resourceVersion"), query("watch")]),
            "post": op("post", write.clone()),
            "delete": op("deletecollection", vec![query("dryRun"), query("labelSelector")]),
        }));
        paths.insert(
            format!("{base}/{{name}}"),
            json!({
                "get": op("get", vec![]),
                "put": op("put", write.clone()),
                "patch": op("patch", patch_params.clone()),
                "delete": op("delete", vec![query("dryRun"), query("propagationPolicy")]),
            }),
        );
        if t.status {
            paths.insert(format!("{base}/{{name}}/status"), json!({
                "get": op("get", vec![]), "put": op("put", write.clone()), "patch": op("patch", patch_params.clone()),
            }));
        }
    }
    Some(
        json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.35.0"}, "paths": paths, "components": {"schemas": {}}}),
    )
}
