//! The engine's object lookup, answered from the controller's reflector stores (kube-runtime's
//! in-memory caches of watched objects): no API round trip per build, and the same watches
//! re-queue the HelmReleases that refer to an object when it changes.

use capstan_api::{
    ClusterWasmPlugin, HelmRepository, OciRepository, WasmPlugin, parse_cluster_wasm_plugin,
    parse_helm_repository, parse_oci_repository, parse_wasm_plugin,
};
use capstan_engine::{Found, LookupError, ObjectKind, ObjectLookup};
use kube::api::DynamicObject;
use kube::runtime::reflector::Store;
use serde_json::Value;

/// The stores of every kind a HelmRelease can refer to. Flux's source kinds are `None` when
/// their CRDs are not installed.
#[derive(Clone)]
pub struct Stores {
    /// WasmPlugins.
    pub wasm_plugins: Store<DynamicObject>,
    /// ClusterWasmPlugins.
    pub cluster_wasm_plugins: Store<DynamicObject>,
    /// Flux HelmRepositories.
    pub helm_repositories: Option<Store<DynamicObject>>,
    /// Flux OCIRepositories.
    pub oci_repositories: Option<Store<DynamicObject>>,
    /// ConfigMaps.
    pub config_maps: Store<DynamicObject>,
    /// Secrets.
    pub secrets: Store<DynamicObject>,
    /// Namespaces (their labels, for ClusterWasmPlugin namespace selectors).
    pub namespaces: Store<DynamicObject>,
}

/// An [`ObjectLookup`] over [`Stores`], for one release: `no_cross_namespace` refuses any
/// object outside `namespace` (`--no-cross-namespace-refs`) with a denied [`LookupError`].
pub struct StoreLookup<'a> {
    /// The stores.
    pub stores: &'a Stores,
    /// The HelmRelease's namespace.
    pub namespace: &'a str,
    /// Refuse references to other namespaces.
    pub no_cross_namespace: bool,
}

fn to_value(obj: &DynamicObject) -> Value {
    serde_json::to_value(obj).unwrap_or(Value::Null)
}

/// The object `ns/name` (`name` for cluster-scoped kinds) in `store`.
pub fn find(
    store: &Store<DynamicObject>,
    ns: Option<&str>,
    name: &str,
) -> Option<std::sync::Arc<DynamicObject>> {
    store
        .find(|o| o.metadata.name.as_deref() == Some(name) && o.metadata.namespace.as_deref() == ns)
}

fn get(store: &Store<DynamicObject>, ns: Option<&str>, name: &str) -> Option<Value> {
    find(store, ns, name).map(|o| to_value(&o))
}

impl StoreLookup<'_> {
    fn check_namespace(
        &self,
        kind: ObjectKind,
        namespace: &str,
        name: &str,
    ) -> Result<(), LookupError> {
        if self.no_cross_namespace && namespace != self.namespace {
            return Err(LookupError {
                kind,
                object: format!("{namespace}/{name}"),
                reason: format!(
                    "cross-namespace references are disabled (--no-cross-namespace-refs): the HelmRelease is in namespace {:?}",
                    self.namespace
                ),
                denied: true,
            });
        }
        Ok(())
    }

    fn source(
        &self,
        store: Option<&Store<DynamicObject>>,
        kind: ObjectKind,
        namespace: &str,
        name: &str,
    ) -> Found<Value> {
        self.check_namespace(kind, namespace, name)?;
        let store = store.ok_or_else(|| LookupError {
            kind,
            object: format!("{namespace}/{name}"),
            reason: format!(
                "the {kind} kind (source.toolkit.fluxcd.io) is not installed in this cluster"
            ),
            denied: false,
        })?;
        Ok(get(store, Some(namespace), name))
    }
}

fn invalid(kind: ObjectKind, object: String, e: impl std::fmt::Display) -> LookupError {
    LookupError {
        kind,
        object,
        reason: format!("invalid object: {e}"),
        denied: false,
    }
}

impl ObjectLookup for StoreLookup<'_> {
    fn helm_repository(&self, namespace: &str, name: &str) -> Found<HelmRepository> {
        let kind = ObjectKind::HelmRepository;
        self.source(
            self.stores.helm_repositories.as_ref(),
            kind,
            namespace,
            name,
        )?
        .map(|v| {
            parse_helm_repository(&v)
                .map(|p| p.object)
                .map_err(|e| invalid(kind, format!("{namespace}/{name}"), e))
        })
        .transpose()
    }

    fn oci_repository(&self, namespace: &str, name: &str) -> Found<OciRepository> {
        let kind = ObjectKind::OciRepository;
        self.source(self.stores.oci_repositories.as_ref(), kind, namespace, name)?
            .map(|v| {
                parse_oci_repository(&v)
                    .map(|p| p.object)
                    .map_err(|e| invalid(kind, format!("{namespace}/{name}"), e))
            })
            .transpose()
    }

    fn config_map(&self, namespace: &str, name: &str) -> Found<Value> {
        self.check_namespace(ObjectKind::ConfigMap, namespace, name)?;
        Ok(get(&self.stores.config_maps, Some(namespace), name))
    }

    fn secret(&self, namespace: &str, name: &str) -> Found<Value> {
        self.check_namespace(ObjectKind::Secret, namespace, name)?;
        Ok(get(&self.stores.secrets, Some(namespace), name))
    }

    fn wasm_plugins_named(&self, name: &str) -> Result<Vec<WasmPlugin>, LookupError> {
        self.stores
            .wasm_plugins
            .state()
            .iter()
            .filter(|p| p.metadata.name.as_deref() == Some(name))
            .map(|p| {
                parse_wasm_plugin(&to_value(p))
                    .map(|p| p.object)
                    .map_err(|e| invalid(ObjectKind::WasmPlugin, name.to_owned(), e))
            })
            .collect()
    }

    fn cluster_wasm_plugin(&self, name: &str) -> Found<ClusterWasmPlugin> {
        get(&self.stores.cluster_wasm_plugins, None, name)
            .map(|v| {
                parse_cluster_wasm_plugin(&v)
                    .map(|p| p.object)
                    .map_err(|e| invalid(ObjectKind::ClusterWasmPlugin, name.to_owned(), e))
            })
            .transpose()
    }

    fn namespace_labels(&self, name: &str) -> Found<serde_json::Map<String, Value>> {
        Ok(find(&self.stores.namespaces, None, name).map(|ns| {
            ns.metadata
                .labels
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect()
        }))
    }

    fn known(&self, kind: ObjectKind, namespace: &str) -> Vec<String> {
        let names = |store: &Store<DynamicObject>, namespaced: bool| {
            let mut v: Vec<String> = store
                .state()
                .iter()
                .filter(|o| !namespaced || o.metadata.namespace.as_deref() == Some(namespace))
                .filter_map(|o| {
                    let name = o.metadata.name.clone()?;
                    Some(if namespaced {
                        format!("{namespace}/{name}")
                    } else {
                        name
                    })
                })
                .collect();
            v.sort();
            v
        };
        match kind {
            ObjectKind::WasmPlugin => names(&self.stores.wasm_plugins, true)
                .into_iter()
                .map(|n| n.rsplit('/').next().unwrap_or_default().to_owned())
                .collect(),
            ObjectKind::ClusterWasmPlugin => names(&self.stores.cluster_wasm_plugins, false),
            ObjectKind::HelmRepository => self
                .stores
                .helm_repositories
                .as_ref()
                .map(|s| names(s, true))
                .unwrap_or_default(),
            ObjectKind::OciRepository => self
                .stores
                .oci_repositories
                .as_ref()
                .map(|s| names(s, true))
                .unwrap_or_default(),
            // Never list Secret or ConfigMap names into a status message.
            ObjectKind::ConfigMap | ObjectKind::Secret | ObjectKind::Namespace => Vec::new(),
        }
    }
}
