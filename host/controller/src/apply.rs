//! Server-side apply of a release's objects, with one field manager (`capstan`), forcing
//! conflicts as Flux does; dry-run applies for drift detection; deletes for pruning. Kinds are
//! resolved through API discovery (cached; a kind installed by the release's own CRDs is found
//! once the CRD is established).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PropagationPolicy};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Scope;
use kube::{Client, ResourceExt};
use serde_json::Value;

/// The field manager of every apply.
pub const FIELD_MANAGER: &str = "capstan";

/// An apply, get or delete failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The object has no apiVersion/kind/name.
    #[error("{object}: not a Kubernetes object ({reason})")]
    Malformed {
        /// What we know of it.
        object: String,
        /// What is missing.
        reason: &'static str,
    },
    /// The API server does not serve the kind.
    #[error("{object}: the API server does not serve {gvk}")]
    Discover {
        /// `Kind namespace/name`.
        object: String,
        /// `group/version/Kind`.
        gvk: String,
        /// Why.
        #[source]
        source: ApiFailure,
    },
    /// The API call failed.
    #[error("{verb} {object}")]
    Call {
        /// `apply`, `dry-run apply`, `get`, `delete`.
        verb: &'static str,
        /// `Kind namespace/name`.
        object: String,
        /// Why (403s name the verb, resource and user).
        #[source]
        source: ApiFailure,
    },
    /// A CRD did not become Established in time.
    #[error("CustomResourceDefinition {name} was not Established within {timeout:?}")]
    CrdNotEstablished {
        /// The CRD.
        name: String,
        /// How long we waited.
        timeout: Duration,
    },
}

impl ApplyError {
    /// Whether retrying can help: API errors other than 4xx client errors (conflicts and
    /// throttling aside) are transient.
    pub fn is_transient(&self) -> bool {
        match self {
            ApplyError::Call { source, .. } | ApplyError::Discover { source, .. } => {
                match &source.0 {
                    kube::Error::Api(s) => s.code == 409 || s.code == 429 || s.code >= 500,
                    _ => true,
                }
            }
            ApplyError::CrdNotEstablished { .. } => true,
            ApplyError::Malformed { .. } => false,
        }
    }
}

/// A Kubernetes API error, shown as the API server's own message (kube's `Display` of an API
/// error appends a debug dump of the whole `Status`). A 403 reads `deployments.apps "web" is
/// forbidden: User "system:serviceaccount:team-a:deployer" cannot patch resource …`.
#[derive(Debug)]
pub struct ApiFailure(pub kube::Error);

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            kube::Error::Api(s) if !s.message.is_empty() => f.write_str(&s.message),
            kube::Error::Api(s) => write!(f, "{} ({})", s.reason, s.code),
            other => other.fmt(f),
        }
    }
}

impl std::error::Error for ApiFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            kube::Error::Api(_) => None,
            other => other.source(),
        }
    }
}

/// Identity of an object in a release: what pruning and messages need.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Namespace (empty for cluster-scoped objects and before defaulting).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectKey {
    /// The key of a manifest object (namespace as written).
    pub fn of(object: &Value) -> Option<ObjectKey> {
        let s = |p: &str| object.pointer(p).and_then(Value::as_str).map(str::to_owned);
        Some(ObjectKey {
            api_version: s("/apiVersion")?,
            kind: s("/kind")?,
            namespace: s("/metadata/namespace").unwrap_or_default(),
            name: s("/metadata/name")?,
        })
    }

    /// The group of the apiVersion (empty for core).
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(g, _)| g)
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// Applies, reads and deletes objects of any kind through one client (impersonating the
/// release's service account when it has one).
pub struct Applier {
    client: Client,
    kinds: Arc<Mutex<KindCache>>,
}

/// Discovered kinds by (apiVersion, kind): the resource and whether it is namespaced.
type KindCache = HashMap<(String, String), (ApiResource, bool)>;

impl Applier {
    /// An applier over `client`.
    pub fn new(client: Client) -> Self {
        Applier {
            client,
            kinds: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// An applier over another client (a release's), sharing this one's discovery cache.
    pub fn with_client(&self, client: Client) -> Self {
        Applier {
            client,
            kinds: self.kinds.clone(),
        }
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn resource(&self, key: &ObjectKey) -> Result<(ApiResource, bool), ApplyError> {
        let cache_key = (key.api_version.clone(), key.kind.clone());
        if let Some(found) = self
            .kinds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&cache_key)
        {
            return Ok(found.clone());
        }
        let (group, version) = match key.api_version.rsplit_once('/') {
            Some((g, v)) => (g, v),
            None => ("", key.api_version.as_str()),
        };
        let gvk = GroupVersionKind::gvk(group, version, &key.kind);
        let (resource, caps) = kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .map_err(|source| ApplyError::Discover {
                object: key.to_string(),
                gvk: format!("{}/{}", key.api_version, key.kind),
                source: ApiFailure(source),
            })?;
        let namespaced = matches!(caps.scope, Scope::Namespaced);
        self.kinds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(cache_key, (resource.clone(), namespaced));
        Ok((resource, namespaced))
    }

    /// Whether `key`'s kind is namespaced (discovery).
    pub async fn is_namespaced(&self, key: &ObjectKey) -> Result<bool, ApplyError> {
        Ok(self.resource(key).await?.1)
    }

    /// The API for `key`, with the namespace defaulted to `default_ns` for namespaced kinds;
    /// also the key with its effective namespace.
    async fn api(
        &self,
        key: &ObjectKey,
        default_ns: &str,
    ) -> Result<(Api<DynamicObject>, ObjectKey), ApplyError> {
        let (resource, namespaced) = self.resource(key).await?;
        let mut key = key.clone();
        if namespaced {
            if key.namespace.is_empty() {
                key.namespace = default_ns.to_owned();
            }
            Ok((
                Api::namespaced_with(self.client.clone(), &key.namespace, &resource),
                key,
            ))
        } else {
            key.namespace.clear();
            Ok((Api::all_with(self.client.clone(), &resource), key))
        }
    }

    /// Server-side applies `object` (force, field manager `capstan`); `dry_run` only asks what
    /// the object would become.
    pub async fn apply(
        &self,
        object: &Value,
        default_ns: &str,
        dry_run: bool,
    ) -> Result<DynamicObject, ApplyError> {
        let key = ObjectKey::of(object).ok_or_else(|| ApplyError::Malformed {
            object: object
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("<unnamed>")
                .to_owned(),
            reason: "apiVersion, kind and metadata.name are required",
        })?;
        let (api, key) = self.api(&key, default_ns).await?;
        let mut body = object.clone();
        if !key.namespace.is_empty() {
            body["metadata"]["namespace"] = Value::String(key.namespace.clone());
        }
        let mut params = PatchParams::apply(FIELD_MANAGER).force();
        if dry_run {
            params = params.dry_run();
        }
        api.patch(&key.name, &params, &Patch::Apply(&body))
            .await
            .map_err(|source| ApplyError::Call {
                verb: if dry_run { "dry-run apply" } else { "apply" },
                object: key.to_string(),
                source: ApiFailure(source),
            })
    }

    /// The live object, `None` when it does not exist.
    pub async fn get(
        &self,
        key: &ObjectKey,
        default_ns: &str,
    ) -> Result<Option<DynamicObject>, ApplyError> {
        let (api, key) = self.api(key, default_ns).await?;
        api.get_opt(&key.name)
            .await
            .map_err(|source| ApplyError::Call {
                verb: "get",
                object: key.to_string(),
                source: ApiFailure(source),
            })
    }

    /// Deletes the object (already gone is fine).
    pub async fn delete(
        &self,
        key: &ObjectKey,
        default_ns: &str,
        propagation: PropagationPolicy,
    ) -> Result<(), ApplyError> {
        let (api, key) = self.api(key, default_ns).await?;
        let params = DeleteParams {
            propagation_policy: Some(propagation),
            ..DeleteParams::default()
        };
        match api.delete(&key.name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(source) => Err(ApplyError::Call {
                verb: "delete",
                object: key.to_string(),
                source: ApiFailure(source),
            }),
        }
    }

    /// Waits until the CRD `name` is `Established` (then forgets cached kinds, so its kind is
    /// discovered fresh).
    pub async fn wait_established(&self, name: &str, timeout: Duration) -> Result<(), ApplyError> {
        use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
        let api: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let crd = api.get_opt(name).await.map_err(|source| ApplyError::Call {
                verb: "get",
                object: format!("CustomResourceDefinition {name}"),
                source: ApiFailure(source),
            })?;
            let established = crd
                .and_then(|c| c.status)
                .and_then(|s| s.conditions)
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c.type_ == "Established" && c.status == "True")
                });
            if established {
                self.kinds
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clear();
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ApplyError::CrdNotEstablished {
                    name: name.to_owned(),
                    timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A live object as JSON without what the server adds that a diff must not see.
pub fn live_json(object: &DynamicObject) -> Value {
    let mut v = serde_json::to_value(object).unwrap_or(Value::Null);
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    let _ = object.name_any();
    v
}
