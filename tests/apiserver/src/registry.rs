//! The resource types the server serves: a built-in table for the Kubernetes kinds Helm charts and
//! the reconciler use, plus the types registered by CustomResourceDefinitions at run time.
//!
//! One storage per `<group>/<plural>`: every served version of a CRD reads and writes the same
//! objects, only `apiVersion` is rewritten (no conversion webhooks — a simplification).

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where a Table column's cells come from.
#[derive(Debug, Clone)]
pub(crate) enum CellSource {
    /// A JSONPath expression evaluated against the object (CRD `additionalPrinterColumns`).
    Path(String),
    /// The age of `metadata.creationTimestamp`, printed like `kubectl` does.
    Age,
    /// Number of keys in `data` (+ `binaryData`), as for ConfigMaps and Secrets.
    DataCount,
    /// `<status.readyReplicas>/<spec.replicas>`.
    Ready,
}

/// One column of the server-side Table output.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) type_: String,
    pub(crate) format: String,
    pub(crate) description: String,
    pub(crate) priority: i64,
    pub(crate) source: CellSource,
}

/// Paths of the scale subresource (`autoscaling/v1` Scale).
#[derive(Debug, Clone)]
pub(crate) struct ScalePaths {
    pub(crate) spec_replicas: String,
    pub(crate) status_replicas: String,
    pub(crate) label_selector: Option<String>,
}

/// A served resource: one group/version/plural.
#[derive(Debug, Clone)]
pub(crate) struct ResourceType {
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) kind: String,
    pub(crate) plural: String,
    pub(crate) singular: String,
    pub(crate) namespaced: bool,
    pub(crate) short_names: Vec<String>,
    pub(crate) categories: Vec<String>,
    /// Has a `status` subresource: main-resource writes ignore `.status`, status writes only
    /// change `.status`, and `metadata.generation` counts spec changes only.
    pub(crate) status: bool,
    pub(crate) scale: Option<ScalePaths>,
    /// Tracks `metadata.generation` (built-ins with a spec, every custom resource).
    pub(crate) generation: bool,
    /// The CRD's `openAPIV3Schema` for this version, for list types, defaults and pruning.
    pub(crate) schema: Option<Value>,
    /// The name of the CRD that registered this type.
    pub(crate) crd: Option<String>,
    pub(crate) columns: Vec<Column>,
}

impl ResourceType {
    /// `v1` or `apps/v1`.
    pub(crate) fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The key of the storage shared by all versions: `apps/deployments`, `/configmaps`.
    pub(crate) fn storage(&self) -> String {
        format!("{}/{}", self.group, self.plural)
    }

    /// `deployments.apps` or `configmaps`, as Kubernetes names a resource in messages.
    pub(crate) fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Access reviews are answered, never stored.
    pub(crate) fn is_review(&self) -> bool {
        self.group == "authorization.k8s.io"
    }

    /// The verbs advertised in discovery.
    pub(crate) fn verbs(&self) -> Value {
        if self.is_review() {
            return json!(["create"]);
        }
        json!([
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch"
        ])
    }
}

fn col(name: &str, type_: &str, source: CellSource) -> Column {
    Column {
        name: name.into(),
        type_: type_.into(),
        format: if name == "Name" {
            "name".into()
        } else {
            String::new()
        },
        description: String::new(),
        priority: 0,
        source,
    }
}

fn path(p: &str) -> CellSource {
    CellSource::Path(p.into())
}

/// The built-in kinds: (group, version, kind, plural, namespaced, short names, status subresource,
/// scale subresource, tracks generation).
#[expect(
    clippy::type_complexity,
    reason = "a literal table reads best as tuples"
)]
#[rustfmt::skip]
const BUILTIN: &[(&str, &str, &str, &str, bool, &[&str], bool, bool, bool)] = &[
    ("", "v1", "Namespace", "namespaces", false, &["ns"], true, false, false),
    ("", "v1", "ConfigMap", "configmaps", true, &["cm"], false, false, false),
    ("", "v1", "Secret", "secrets", true, &[], false, false, false),
    ("", "v1", "Service", "services", true, &["svc"], true, false, false),
    ("", "v1", "ServiceAccount", "serviceaccounts", true, &["sa"], false, false, false),
    ("", "v1", "Pod", "pods", true, &["po"], true, false, false),
    ("", "v1", "Event", "events", true, &["ev"], false, false, false),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true, &["pvc"], true, false, false),
    ("", "v1", "PersistentVolume", "persistentvolumes", false, &["pv"], true, false, false),
    ("", "v1", "Endpoints", "endpoints", true, &["ep"], false, false, false),
    ("", "v1", "LimitRange", "limitranges", true, &["limits"], false, false, false),
    ("", "v1", "ResourceQuota", "resourcequotas", true, &["quota"], true, false, false),
    ("", "v1", "Node", "nodes", false, &["no"], true, false, false),
    ("apps", "v1", "Deployment", "deployments", true, &["deploy"], true, true, true),
    ("apps", "v1", "StatefulSet", "statefulsets", true, &["sts"], true, true, true),
    ("apps", "v1", "DaemonSet", "daemonsets", true, &["ds"], true, false, true),
    ("apps", "v1", "ReplicaSet", "replicasets", true, &["rs"], true, true, true),
    ("apps", "v1", "ControllerRevision", "controllerrevisions", true, &[], false, false, false),
    ("batch", "v1", "Job", "jobs", true, &[], true, false, true),
    ("batch", "v1", "CronJob", "cronjobs", true, &["cj"], true, false, true),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", true, &[], false, false, false),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true, &[], false, false, false),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false, &[], false, false, false),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false, &[], false, false, false),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false, &["crd", "crds"], true, false, true),
    ("coordination.k8s.io", "v1", "Lease", "leases", true, &[], false, false, false),
    ("networking.k8s.io", "v1", "Ingress", "ingresses", true, &["ing"], true, false, true),
    ("networking.k8s.io", "v1", "IngressClass", "ingressclasses", false, &[], false, false, false),
    ("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true, &["netpol"], false, false, true),
    ("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true, &["hpa"], true, false, false),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, &["pdb"], true, false, true),
    ("events.k8s.io", "v1", "Event", "events", true, &["ev"], false, false, false),
    ("storage.k8s.io", "v1", "StorageClass", "storageclasses", false, &["sc"], false, false, false),
    ("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", false, &["pc"], false, false, false),
    ("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", false, &[], false, false, false),
    ("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", false, &[], false, false, false),
];

fn builtin_columns(kind: &str) -> Vec<Column> {
    use CellSource::*;
    let mut c = vec![col("Name", "string", path(".metadata.name"))];
    match kind {
        "Namespace" => c.push(col("Status", "string", path(".status.phase"))),
        "ConfigMap" => c.push(col("Data", "integer", DataCount)),
        "Secret" => {
            c.push(col("Type", "string", path(".type")));
            c.push(col("Data", "integer", DataCount));
        }
        "Service" => {
            c.push(col("Type", "string", path(".spec.type")));
            c.push(col("Cluster-IP", "string", path(".spec.clusterIP")));
        }
        "Deployment" => {
            c.push(col("Ready", "string", Ready));
            c.push(col(
                "Up-to-date",
                "integer",
                path(".status.updatedReplicas"),
            ));
            c.push(col(
                "Available",
                "integer",
                path(".status.availableReplicas"),
            ));
        }
        "StatefulSet" => c.push(col("Ready", "string", Ready)),
        "ReplicaSet" => {
            c.push(col("Desired", "integer", path(".spec.replicas")));
            c.push(col("Ready", "integer", path(".status.readyReplicas")));
        }
        "DaemonSet" => {
            c.push(col(
                "Desired",
                "integer",
                path(".status.desiredNumberScheduled"),
            ));
            c.push(col("Ready", "integer", path(".status.numberReady")));
        }
        "Job" => c.push(col("Succeeded", "integer", path(".status.succeeded"))),
        "PersistentVolumeClaim" => c.push(col("Status", "string", path(".status.phase"))),
        "CustomResourceDefinition" => {
            c.push(col(
                "Created At",
                "string",
                path(".metadata.creationTimestamp"),
            ));
            return c;
        }
        "Event" => c.push(col("Reason", "string", path(".reason"))),
        _ => {}
    }
    c.push(col("Age", "string", Age));
    c
}

/// All served types: the built-ins and the CRD-registered ones.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    /// Keyed by (group, version, plural).
    types: BTreeMap<(String, String, String), Arc<ResourceType>>,
}

impl Registry {
    pub(crate) fn builtin() -> Registry {
        let mut r = Registry::default();
        for &(group, version, kind, plural, namespaced, short, status, scale, generation) in BUILTIN
        {
            let scale = scale.then(|| ScalePaths {
                spec_replicas: ".spec.replicas".into(),
                status_replicas: ".status.replicas".into(),
                label_selector: None,
            });
            r.insert(ResourceType {
                group: group.into(),
                version: version.into(),
                kind: kind.into(),
                plural: plural.into(),
                singular: kind.to_ascii_lowercase(),
                namespaced,
                short_names: short.iter().map(|s| s.to_string()).collect(),
                categories: if matches!(
                    kind,
                    "Pod"
                        | "Service"
                        | "Deployment"
                        | "StatefulSet"
                        | "DaemonSet"
                        | "ReplicaSet"
                        | "Job"
                        | "CronJob"
                ) {
                    vec!["all".into()]
                } else {
                    vec![]
                },
                status,
                scale,
                generation,
                schema: None,
                crd: None,
                columns: builtin_columns(kind),
            });
        }
        r
    }

    pub(crate) fn insert(&mut self, t: ResourceType) {
        self.types.insert(
            (t.group.clone(), t.version.clone(), t.plural.clone()),
            Arc::new(t),
        );
    }

    pub(crate) fn get(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<Arc<ResourceType>> {
        self.types
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .cloned()
    }

    /// Every type sharing a storage key (all versions of a CRD).
    pub(crate) fn all(&self) -> impl Iterator<Item = &Arc<ResourceType>> {
        self.types.values()
    }

    /// Groups in discovery order (core first, then by name) with their versions.
    pub(crate) fn groups(&self) -> BTreeMap<String, Vec<String>> {
        let mut g: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in self.types.values() {
            let v = g.entry(t.group.clone()).or_default();
            if !v.contains(&t.version) {
                v.push(t.version.clone());
            }
        }
        g
    }

    /// Drops the types a CRD registered.
    pub(crate) fn remove_crd(&mut self, crd_name: &str) {
        self.types.retain(|_, t| t.crd.as_deref() != Some(crd_name));
    }

    /// Registers (or re-registers) the served versions of a CustomResourceDefinition. Returns the
    /// accepted names, or an error message for `status.conditions`.
    pub(crate) fn register_crd(&mut self, crd: &Value) -> Result<(), String> {
        let name = crd["metadata"]["name"].as_str().unwrap_or_default();
        let spec = &crd["spec"];
        let group = spec["group"].as_str().unwrap_or_default();
        let names = &spec["names"];
        let plural = names["plural"].as_str().unwrap_or_default();
        let kind = names["kind"].as_str().unwrap_or_default();
        if group.is_empty() || plural.is_empty() || kind.is_empty() {
            return Err("spec.group, spec.names.plural and spec.names.kind are required".into());
        }
        if name != format!("{plural}.{group}") {
            return Err(format!(
                "metadata.name: Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"
            ));
        }
        let namespaced = spec["scope"].as_str() != Some("Cluster");
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        self.remove_crd(name);
        for v in spec["versions"].as_array().into_iter().flatten() {
            if v["served"].as_bool() == Some(false) {
                continue;
            }
            let version = v["name"].as_str().unwrap_or_default();
            let sub = &v["subresources"];
            let scale = sub.get("scale").map(|s| ScalePaths {
                spec_replicas: s["specReplicasPath"]
                    .as_str()
                    .unwrap_or(".spec.replicas")
                    .into(),
                status_replicas: s["statusReplicasPath"]
                    .as_str()
                    .unwrap_or(".status.replicas")
                    .into(),
                label_selector: s["labelSelectorPath"].as_str().map(String::from),
            });
            let mut columns = vec![col("Name", "string", path(".metadata.name"))];
            let printer = v["additionalPrinterColumns"].as_array();
            for c in printer.into_iter().flatten() {
                columns.push(Column {
                    name: c["name"].as_str().unwrap_or_default().into(),
                    type_: c["type"].as_str().unwrap_or("string").into(),
                    format: c["format"].as_str().unwrap_or_default().into(),
                    description: c["description"].as_str().unwrap_or_default().into(),
                    priority: c["priority"].as_i64().unwrap_or(0),
                    source: path(c["jsonPath"].as_str().unwrap_or_default()),
                });
            }
            if printer.is_none() {
                columns.push(col("Age", "date", path(".metadata.creationTimestamp")));
            }
            self.insert(ResourceType {
                group: group.into(),
                version: version.into(),
                kind: kind.into(),
                plural: plural.into(),
                singular: names["singular"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| kind.to_ascii_lowercase()),
                namespaced,
                short_names: strings(&names["shortNames"]),
                categories: strings(&names["categories"]),
                status: sub.get("status").is_some(),
                scale,
                generation: true,
                schema: v["schema"].get("openAPIV3Schema").cloned(),
                crd: Some(name.into()),
                columns,
            });
        }
        Ok(())
    }
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}
