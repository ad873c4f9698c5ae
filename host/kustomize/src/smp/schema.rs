//! Which lists merge by key: the `patchMergeKey`/`patchStrategy` table of the built-in
//! Kubernetes types that appear in rendered charts (core, apps, batch), and kustomize's
//! (kyaml's) associative-list heuristic for everything else (custom resources).
//!
//! For a built-in kind, a list the table does not name is atomic and replaced, as in
//! apimachinery's strategic merge. For other kinds there is no schema, so, like kyaml, a list
//! whose elements all carry one of the well-known associative keys merges by that key.

use serde_json::Value;

use super::TypeContext;

/// How a list in a strategic merge patch combines with the original list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStrategy {
    /// Elements are maps merged by this key (`containers` by `name`).
    MergeByKey(&'static str),
    /// A list of scalars merged as a set (`metadata.finalizers`).
    MergePrimitives,
    /// The patch list replaces the original.
    Replace,
}

/// kyaml's `AssociativeSequenceKeys`, in its order of preference.
const ASSOCIATIVE_KEYS: &[&str] = &[
    "mountPath",
    "devicePath",
    "ip",
    "type",
    "topologyKey",
    "name",
    "containerPort",
];

/// Where the `PodSpec` sits in a built-in workload kind.
fn pod_spec_path(group: &str, kind: &str) -> Option<&'static [&'static str]> {
    match (group, kind) {
        ("", "Pod") => Some(&["spec"]),
        ("", "PodTemplate") => Some(&["template", "spec"]),
        ("", "ReplicationController")
        | ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("extensions", "Deployment" | "DaemonSet" | "ReplicaSet")
        | ("batch", "Job") => Some(&["spec", "template", "spec"]),
        ("batch", "CronJob") => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
        _ => None,
    }
}

/// True for API groups whose types have a compiled-in schema (lists not in the table are atomic).
fn is_builtin_group(group: &str) -> bool {
    matches!(
        group,
        "" | "apps" | "batch" | "autoscaling" | "policy" | "extensions"
    ) || group.ends_with(".k8s.io")
}

fn pod_spec_list(rest: &[String]) -> Option<ListStrategy> {
    let names: Vec<&str> = rest.iter().map(String::as_str).collect();
    Some(match names.as_slice() {
        ["containers" | "initContainers" | "ephemeralContainers"] => {
            ListStrategy::MergeByKey("name")
        }
        ["volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates"] => {
            ListStrategy::MergeByKey("name")
        }
        ["hostAliases"] => ListStrategy::MergeByKey("ip"),
        ["topologySpreadConstraints"] => ListStrategy::MergeByKey("topologyKey"),
        [
            "containers" | "initContainers" | "ephemeralContainers",
            "ports",
        ] => ListStrategy::MergeByKey("containerPort"),
        [
            "containers" | "initContainers" | "ephemeralContainers",
            "env",
        ] => ListStrategy::MergeByKey("name"),
        [
            "containers" | "initContainers" | "ephemeralContainers",
            "volumeMounts",
        ] => ListStrategy::MergeByKey("mountPath"),
        [
            "containers" | "initContainers" | "ephemeralContainers",
            "volumeDevices",
        ] => ListStrategy::MergeByKey("devicePath"),
        _ => return None,
    })
}

fn builtin_list(ctx: &TypeContext<'_>, path: &[String]) -> Option<ListStrategy> {
    let names: Vec<&str> = path.iter().map(String::as_str).collect();
    match names.as_slice() {
        ["metadata", "finalizers"] => return Some(ListStrategy::MergePrimitives),
        ["metadata", "ownerReferences"] => return Some(ListStrategy::MergeByKey("uid")),
        ["status", "conditions"] => return Some(ListStrategy::MergeByKey("type")),
        _ => {}
    }
    if let Some(prefix) = pod_spec_path(ctx.group, ctx.kind)
        && path.len() >= prefix.len()
        && path.iter().zip(prefix.iter()).all(|(a, b)| a == b)
        && let Some(s) = path.get(prefix.len()..).and_then(pod_spec_list)
    {
        return Some(s);
    }
    match (ctx.group, ctx.kind, names.as_slice()) {
        ("", "Service", ["spec", "ports"]) => Some(ListStrategy::MergeByKey("port")),
        ("", "ServiceAccount", ["secrets" | "imagePullSecrets"]) => {
            Some(ListStrategy::MergeByKey("name"))
        }
        _ => None,
    }
}

/// Decides how the list at `path` (field names from the object root) merges.
pub(super) fn list_strategy(
    ctx: &TypeContext<'_>,
    path: &[String],
    orig: &[Value],
    patch: &[Value],
) -> ListStrategy {
    if let Some(s) = builtin_list(ctx, path) {
        return s;
    }
    if is_builtin_group(ctx.group) {
        return ListStrategy::Replace;
    }
    associative_key(orig, patch)
        .map(ListStrategy::MergeByKey)
        .unwrap_or(ListStrategy::Replace)
}

/// kyaml's heuristic: the first well-known key that every element (original and patch, ignoring
/// `$patch` directive elements) carries.
fn associative_key(orig: &[Value], patch: &[Value]) -> Option<&'static str> {
    let elements: Vec<&Value> = orig
        .iter()
        .chain(patch.iter().filter(|v| {
            v.as_object()
                .is_none_or(|m| !(m.len() == 1 && m.contains_key("$patch")))
        }))
        .collect();
    if elements.is_empty() || !elements.iter().all(|v| v.is_object()) {
        return None;
    }
    ASSOCIATIVE_KEYS
        .iter()
        .copied()
        .find(|key| elements.iter().all(|v| v.get(key).is_some()))
}
