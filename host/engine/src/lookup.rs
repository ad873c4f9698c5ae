//! The engine's first seam: how a build finds the objects a HelmRelease refers to.
//!
//! `capstan build` answers from the `-f` files ([`InputsLookup`]); the controller answers from
//! its reflector stores. The engine never knows which: it asks by kind, namespace and name, and
//! a lookup that cannot answer *now* (the API server is unreachable, a cache is not synced)
//! returns a [`LookupError`], which the engine reports as retryable.

use capstan_api::{ClusterWasmPlugin, HelmRepository, Inputs, OciRepository, WasmPlugin};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Map, Value};

/// The kinds a HelmRelease can refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// `source.toolkit.fluxcd.io` HelmRepository.
    HelmRepository,
    /// `source.toolkit.fluxcd.io` OCIRepository.
    OciRepository,
    /// `v1` ConfigMap.
    ConfigMap,
    /// `v1` Secret.
    Secret,
    /// `capstan.dev` WasmPlugin.
    WasmPlugin,
    /// `capstan.dev` ClusterWasmPlugin.
    ClusterWasmPlugin,
    /// `v1` Namespace (its labels, for `ClusterWasmPlugin` namespace selectors).
    Namespace,
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ObjectKind::HelmRepository => "HelmRepository",
            ObjectKind::OciRepository => "OCIRepository",
            ObjectKind::ConfigMap => "ConfigMap",
            ObjectKind::Secret => "Secret",
            ObjectKind::WasmPlugin => "WasmPlugin",
            ObjectKind::ClusterWasmPlugin => "ClusterWasmPlugin",
            ObjectKind::Namespace => "Namespace",
        })
    }
}

/// A lookup could not answer (not "not found": that is `Ok(None)`). Worth retrying unless
/// `denied`.
#[derive(Debug, thiserror::Error)]
#[error("looking up {kind} {object}: {reason}")]
pub struct LookupError {
    /// What was looked up.
    pub kind: ObjectKind,
    /// `namespace/name` (or `name` for cluster-scoped kinds).
    pub object: String,
    /// Why there is no answer.
    pub reason: String,
    /// The operator's policy refuses the reference (`--no-cross-namespace-refs`): retrying
    /// cannot help until the HelmRelease changes.
    pub denied: bool,
}

/// `Ok(None)` when the object does not exist.
pub type Found<T> = Result<Option<T>, LookupError>;

/// Finds the objects a HelmRelease refers to. ConfigMaps and Secrets are returned as the JSON
/// the API server would return (`data` base64 for Secrets, `stringData` honoured when present).
pub trait ObjectLookup {
    /// A HelmRepository.
    fn helm_repository(&self, namespace: &str, name: &str) -> Found<HelmRepository>;
    /// An OCIRepository.
    fn oci_repository(&self, namespace: &str, name: &str) -> Found<OciRepository>;
    /// A ConfigMap.
    fn config_map(&self, namespace: &str, name: &str) -> Found<Value>;
    /// A Secret.
    fn secret(&self, namespace: &str, name: &str) -> Found<Value>;
    /// Every WasmPlugin called `name`, in any namespace (so that using one from another
    /// namespace can be reported as such rather than as "not found").
    fn wasm_plugins_named(&self, name: &str) -> Result<Vec<WasmPlugin>, LookupError>;
    /// A ClusterWasmPlugin.
    fn cluster_wasm_plugin(&self, name: &str) -> Found<ClusterWasmPlugin>;
    /// The labels of namespace `name`, for `ClusterWasmPlugin` namespace selectors (`Ok(None)`
    /// when the namespace is not known; the engine adds `kubernetes.io/metadata.name` itself, as
    /// the API server does).
    fn namespace_labels(&self, name: &str) -> Found<Map<String, Value>>;
    /// Names of the existing objects of `kind` in `namespace` (all namespaces for cluster-scoped
    /// kinds), sorted, for "not found; known: …" messages. Empty when listing is not possible.
    fn known(&self, kind: ObjectKind, namespace: &str) -> Vec<String> {
        let _ = (kind, namespace);
        Vec::new()
    }

    /// Where objects are looked for, for "not found" messages (` in the input files`).
    fn place(&self) -> &'static str {
        ""
    }
}

/// An [`ObjectLookup`] over documents read from files ([`Inputs`]). An object without
/// `metadata.namespace` counts as being in `default_namespace` (the HelmRelease's), as
/// `kubectl apply -n` would place it.
#[derive(Debug, Clone, Copy)]
pub struct InputsLookup<'a> {
    inputs: &'a Inputs,
    default_namespace: &'a str,
}

impl<'a> InputsLookup<'a> {
    /// Looks objects up in `inputs`; objects without a namespace live in `default_namespace`.
    pub fn new(inputs: &'a Inputs, default_namespace: &'a str) -> Self {
        InputsLookup {
            inputs,
            default_namespace,
        }
    }

    fn namespace_of(&self, meta: &ObjectMeta) -> String {
        meta.namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| self.default_namespace.to_owned())
    }

    fn find<T: Clone>(
        &self,
        items: &[T],
        meta: impl Fn(&T) -> &ObjectMeta,
        namespace: &str,
        name: &str,
    ) -> Option<T> {
        items
            .iter()
            .find(|i| {
                let m = meta(i);
                m.name.as_deref() == Some(name) && self.namespace_of(m) == namespace
            })
            .cloned()
    }

    fn find_value(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let meta = |o: &Value, f: &str| {
            o.pointer(&format!("/metadata/{f}"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        self.inputs
            .values_objects
            .iter()
            .find(|o| {
                o.get("kind").and_then(Value::as_str) == Some(kind)
                    && o.get("apiVersion").and_then(Value::as_str) == Some("v1")
                    && meta(o, "name").as_deref() == Some(name)
                    && meta(o, "namespace")
                        .filter(|n| !n.is_empty())
                        .unwrap_or_else(|| self.default_namespace.to_owned())
                        == namespace
            })
            .cloned()
    }
}

impl ObjectLookup for InputsLookup<'_> {
    fn helm_repository(&self, namespace: &str, name: &str) -> Found<HelmRepository> {
        Ok(self.find(
            &self.inputs.helm_repositories,
            |r| &r.metadata,
            namespace,
            name,
        ))
    }

    fn oci_repository(&self, namespace: &str, name: &str) -> Found<OciRepository> {
        Ok(self.find(
            &self.inputs.oci_repositories,
            |r| &r.metadata,
            namespace,
            name,
        ))
    }

    fn config_map(&self, namespace: &str, name: &str) -> Found<Value> {
        Ok(self.find_value("ConfigMap", namespace, name))
    }

    fn secret(&self, namespace: &str, name: &str) -> Found<Value> {
        Ok(self.find_value("Secret", namespace, name))
    }

    fn wasm_plugins_named(&self, name: &str) -> Result<Vec<WasmPlugin>, LookupError> {
        Ok(self
            .inputs
            .plugins
            .iter()
            .filter(|p| p.metadata.name.as_deref() == Some(name))
            .map(|p| {
                let mut p = p.clone();
                p.metadata.namespace = Some(self.namespace_of(&p.metadata));
                p
            })
            .collect())
    }

    fn cluster_wasm_plugin(&self, name: &str) -> Found<ClusterWasmPlugin> {
        Ok(self
            .inputs
            .cluster_plugins
            .iter()
            .find(|p| p.metadata.name.as_deref() == Some(name))
            .cloned())
    }

    fn namespace_labels(&self, name: &str) -> Found<Map<String, Value>> {
        Ok(self
            .inputs
            .namespaces
            .iter()
            .find(|n| n.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
            .map(|n| {
                n.pointer("/metadata/labels")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default()
            }))
    }

    fn known(&self, kind: ObjectKind, namespace: &str) -> Vec<String> {
        let namespaced = |meta: &ObjectMeta| {
            format!(
                "{}/{}",
                self.namespace_of(meta),
                meta.name.as_deref().unwrap_or("")
            )
        };
        let mut names: Vec<String> = match kind {
            ObjectKind::HelmRepository => self
                .inputs
                .helm_repositories
                .iter()
                .map(|r| namespaced(&r.metadata))
                .collect(),
            ObjectKind::OciRepository => self
                .inputs
                .oci_repositories
                .iter()
                .map(|r| namespaced(&r.metadata))
                .collect(),
            ObjectKind::WasmPlugin => self
                .inputs
                .plugins
                .iter()
                .filter(|p| self.namespace_of(&p.metadata) == namespace)
                .filter_map(|p| p.metadata.name.clone())
                .collect(),
            ObjectKind::ClusterWasmPlugin => self
                .inputs
                .cluster_plugins
                .iter()
                .filter_map(|p| p.metadata.name.clone())
                .collect(),
            ObjectKind::ConfigMap | ObjectKind::Secret | ObjectKind::Namespace => Vec::new(),
        };
        names.sort();
        names.dedup();
        names
    }

    fn place(&self) -> &'static str {
        " in the input files"
    }
}
