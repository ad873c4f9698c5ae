//! Which lists merge by key, following kustomize (kyaml `merge2`, which Flux runs): a list the
//! built-in Kubernetes schema gives merge keys merges by them (`containers` by `name`, container
//! `ports` by `containerPort` + `protocol`, …); a list the schema knows as atomic is replaced;
//! any other list (custom resources, fields outside the schema) merges when all its elements
//! carry one of kyaml's associative keys, and is replaced otherwise.

use serde_json::Value;

use super::TypeContext;

/// How a list in a strategic merge patch combines with the original list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStrategy {
    /// Elements are maps merged when all these keys have equal values (`containers` by `name`,
    /// container `ports` by `containerPort` and `protocol`).
    MergeByKeys(&'static [&'static str]),
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

const NAME: &[&str] = &["name"];

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

fn pod_spec_list(rest: &[&str]) -> Option<ListStrategy> {
    const CONTAINERS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];
    let in_container =
        |field: &str| rest.len() == 2 && CONTAINERS.contains(&rest[0]) && rest[1] == field;
    Some(match rest {
        [list] if CONTAINERS.contains(list) => ListStrategy::MergeByKeys(NAME),
        ["volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates"] => {
            ListStrategy::MergeByKeys(NAME)
        }
        ["hostAliases"] => ListStrategy::MergeByKeys(&["ip"]),
        ["topologySpreadConstraints"] => {
            ListStrategy::MergeByKeys(&["topologyKey", "whenUnsatisfiable"])
        }
        ["tolerations" | "readinessGates"] => ListStrategy::Replace,
        ["securityContext", "sysctls"] | ["dnsConfig", "options"] => ListStrategy::Replace,
        _ if in_container("ports") => ListStrategy::MergeByKeys(&["containerPort", "protocol"]),
        _ if in_container("env") => ListStrategy::MergeByKeys(NAME),
        _ if in_container("volumeMounts") => ListStrategy::MergeByKeys(&["mountPath"]),
        _ if in_container("volumeDevices") => ListStrategy::MergeByKeys(&["devicePath"]),
        _ if in_container("envFrom")
            || in_container("args")
            || in_container("command")
            || in_container("resizePolicy") =>
        {
            ListStrategy::Replace
        }
        _ => return None,
    })
}

fn builtin_list(ctx: &TypeContext<'_>, path: &[&str]) -> Option<ListStrategy> {
    match path {
        ["metadata", "finalizers"] => return Some(ListStrategy::MergePrimitives),
        ["metadata", "ownerReferences"] => return Some(ListStrategy::MergeByKeys(&["uid"])),
        _ => {}
    }
    if let Some(prefix) = pod_spec_path(ctx.group, ctx.kind)
        && path.starts_with(prefix)
        && let Some(s) = path.get(prefix.len()..).and_then(pod_spec_list)
    {
        return Some(s);
    }
    match (ctx.group, ctx.kind, path) {
        ("", "Service", ["spec", "ports"]) => {
            Some(ListStrategy::MergeByKeys(&["port", "protocol"]))
        }
        ("", "ServiceAccount", ["secrets" | "imagePullSecrets"]) => {
            Some(ListStrategy::MergeByKeys(NAME))
        }
        (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration",
            ["webhooks"],
        ) => Some(ListStrategy::MergeByKeys(NAME)),
        // Atomic in the schema although their elements look associative.
        ("autoscaling", "HorizontalPodAutoscaler", ["spec", "metrics"])
        | ("apiextensions.k8s.io", "CustomResourceDefinition", ["spec", "versions"])
        | ("discovery.k8s.io", "EndpointSlice", ["endpoints" | "ports"]) => {
            Some(ListStrategy::Replace)
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
    let names: Vec<&str> = path.iter().map(String::as_str).collect();
    if let Some(s) = builtin_list(ctx, &names) {
        return s;
    }
    associative_key(orig, patch)
        .map(ListStrategy::MergeByKeys)
        .unwrap_or(ListStrategy::Replace)
}

/// A `$patch` directive element (`- $patch: replace`), not data.
pub(super) fn is_directive_only(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|m| m.len() == 1 && m.contains_key("$patch"))
}

/// kyaml's heuristic: the first well-known key that every element (original and patch, ignoring
/// directive elements) carries.
fn associative_key(orig: &[Value], patch: &[Value]) -> Option<&'static [&'static str]> {
    let elements: Vec<&Value> = orig
        .iter()
        .chain(patch.iter().filter(|v| !is_directive_only(v)))
        .collect();
    if elements.is_empty() || !elements.iter().all(|v| v.is_object()) {
        return None;
    }
    ASSOCIATIVE_KEYS
        .iter()
        .find(|key| elements.iter().all(|v| v.get(**key).is_some()))
        .map(std::slice::from_ref)
}
