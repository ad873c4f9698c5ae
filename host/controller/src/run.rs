//! Wiring: API discovery (our CRDs must be installed; Flux's are optional unless asked for),
//! one reflector per referenced kind (the engine's lookup reads them, and their changes
//! re-queue the HelmReleases that refer to them), one kube-runtime `Controller` per
//! HelmRelease kind, and the health and metrics endpoints.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use capstan_api::{ChartSource, PluginKind, ValuesKind, parse_helm_release};
use capstan_engine::{Engine, GroupKind, KindScopes, SourceFetcher};
use futures::{FutureExt, StreamExt};
use kube::Client;
use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::leader::{ElectionConfig, ElectionError, Elector};
use crate::lookup::Stores;
use crate::metrics::Metrics;
use crate::reconcile::{Context, Options, error_policy, reconcile};

/// How the controller runs (flags named as Flux's controllers name them).
#[derive(Debug, Clone)]
pub struct ControllerOptions {
    /// `--concurrent`: releases reconciled at once.
    pub concurrent: u16,
    /// `--metrics-addr`.
    pub metrics_addr: Option<SocketAddr>,
    /// `--health-addr`.
    pub health_addr: Option<SocketAddr>,
    /// `--flux-helmreleases`: also reconcile `helm.toolkit.fluxcd.io/v2` HelmReleases.
    pub flux_helmreleases: bool,
    /// `--watch-label-selector`: only HelmReleases matching it (sharding).
    pub watch_label_selector: Option<String>,
    /// Reconciler settings.
    pub reconcile: Options,
    /// `--enable-leader-election`: reconcile only while holding this Lease.
    pub leader_election: Option<ElectionConfig>,
}

impl Default for ControllerOptions {
    fn default() -> Self {
        ControllerOptions {
            concurrent: 4,
            metrics_addr: None,
            health_addr: None,
            flux_helmreleases: false,
            watch_label_selector: None,
            reconcile: Options::default(),
            leader_election: None,
        }
    }
}

/// The controller could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A required kind is not served (CRDs not installed).
    #[error("{kind} ({group}/{version}) is not served by the API server: {hint}")]
    MissingKind {
        /// Kind.
        kind: &'static str,
        /// Group.
        group: &'static str,
        /// Version.
        version: &'static str,
        /// What to do.
        hint: &'static str,
        /// Discovery's answer.
        #[source]
        source: kube::Error,
    },
    /// No client could be built from the Kubernetes configuration.
    #[error("cannot build a Kubernetes client")]
    Client(#[source] kube::Error),
    /// Leadership was lost; the process should exit so that only one replica reconciles.
    #[error("leader election")]
    Election(#[source] ElectionError),
    /// A health or metrics endpoint could not listen.
    #[error("cannot listen on {addr}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

const CAPSTAN_CRDS_HINT: &str =
    "install Capstan's CRDs first (`capstan crds | kubectl apply -f -`, or deploy/crds/)";

async fn require(
    client: &Client,
    (group, version, kind): (&'static str, &'static str, &'static str),
    hint: &'static str,
) -> Result<ApiResource, RunError> {
    kube::discovery::pinned_kind(client, &GroupVersionKind::gvk(group, version, kind))
        .await
        .map(|(r, _)| r)
        .map_err(|source| RunError::MissingKind {
            kind,
            group,
            version,
            hint,
            source,
        })
}

async fn optional(client: &Client, gvk: (&str, &str, &str)) -> Option<ApiResource> {
    kube::discovery::pinned_kind(client, &GroupVersionKind::gvk(gvk.0, gvk.1, gvk.2))
        .await
        .ok()
        .map(|(r, _)| r)
}

/// What changed, to find the releases that refer to it.
#[derive(Debug, Clone)]
enum Changed {
    WasmPlugin(String, String),
    ClusterWasmPlugin(String),
    HelmRepository(String, String),
    OciRepository(String, String),
    ConfigMap(String, String),
    Secret(String, String),
    /// A namespace's labels may now (not) match a ClusterWasmPlugin's namespace selector.
    Namespace(String),
    /// A HelmRelease became (or stopped being) ready, or its spec changed: the releases that
    /// list it in `dependsOn` look again at once instead of at `--requeue-dependency`.
    HelmRelease(String, String),
}

/// Whether `release` lists `namespace/name` in `spec.dependsOn` (read from the raw object:
/// this runs for every release on every dependency transition, so it parses nothing else).
fn depends_on(release: &DynamicObject, namespace: &str, name: &str) -> bool {
    let own = release.metadata.namespace.as_deref().unwrap_or("default");
    release
        .data
        .pointer("/spec/dependsOn")
        .and_then(Value::as_array)
        .is_some_and(|deps| {
            deps.iter().any(|d| {
                d.get("name").and_then(Value::as_str) == Some(name)
                    && d.get("namespace").and_then(Value::as_str).unwrap_or(own) == namespace
            })
        })
}

/// What of a HelmRelease its dependents' readiness can turn on: its `Ready` condition, the
/// generation it was observed at, and its generation (a `readyExpr` may read its spec).
fn dependency_state(hr: &DynamicObject) -> (Option<String>, Option<i64>, Option<i64>) {
    let ready = crate::depends::ready_status(&hr.data).map(str::to_owned);
    let observed = hr
        .data
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64);
    (ready, observed, hr.metadata.generation)
}

/// Watches every HelmRelease of `kind` (all shards: a dependency may be reconciled by another
/// instance) and reports each one whose [`dependency_state`] changed since it was last seen.
fn watch_dependencies(client: &Client, kind: &ApiResource, triggers: Trigger) {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), kind);
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .applied_objects();
    tokio::spawn(async move {
        futures::pin_mut!(stream);
        let mut seen = std::collections::HashMap::new();
        while let Some(event) = stream.next().await {
            match event {
                Ok(hr) => {
                    let (ns, name) = ns_name(&hr);
                    let state = dependency_state(&hr);
                    match seen.insert((ns.clone(), name.clone()), state.clone()) {
                        Some(before) if before != state => {
                            let _ = triggers.unbounded_send(Changed::HelmRelease(ns, name));
                        }
                        _ => {}
                    }
                }
                Err(e) => tracing::warn!(error = %e, "watch error"),
            }
        }
    });
}

fn refers_to(release: &DynamicObject, changed: &Changed) -> bool {
    if let Changed::HelmRelease(namespace, name) = changed {
        return depends_on(release, namespace, name);
    }
    let Ok(parsed) = parse_helm_release(&serde_json::to_value(release).unwrap_or(Value::Null))
    else {
        return false;
    };
    let hr = parsed.release;
    let ns = hr.namespace_or_default();
    let wasm = |kind: PluginKind, name: &str| {
        hr.spec.post_renderers.iter().any(|p| {
            p.wasm
                .as_ref()
                .is_some_and(|w| w.kind.unwrap_or_default() == kind && w.plugin == name)
        })
    };
    let values = |kind: ValuesKind, n: &str, name: &str| {
        n == ns
            && hr
                .spec
                .values_from
                .iter()
                .any(|v| v.kind == kind && v.name == name)
    };
    match changed {
        Changed::WasmPlugin(n, name) => n == ns && wasm(PluginKind::WasmPlugin, name),
        Changed::ClusterWasmPlugin(name) => wasm(PluginKind::ClusterWasmPlugin, name),
        Changed::Namespace(n) => {
            n == ns
                && hr.spec.post_renderers.iter().any(|p| {
                    p.wasm.as_ref().is_some_and(|w| {
                        w.kind.unwrap_or_default() == PluginKind::ClusterWasmPlugin
                    })
                })
        }
        Changed::ConfigMap(n, name) => values(ValuesKind::ConfigMap, n, name),
        // Secrets also carry source credentials: any release whose source is in that namespace.
        Changed::Secret(n, name) => {
            values(ValuesKind::Secret, n, name)
                || matches!(hr.chart_source(), Ok(ChartSource::SourceRef { namespace, .. }
                    | ChartSource::ChartRef { namespace, .. }) if namespace == n)
        }
        Changed::HelmRepository(n, name) => matches!(
            hr.chart_source(),
            Ok(ChartSource::SourceRef { namespace, name: r, .. }) if namespace == n && r == name
        ),
        Changed::OciRepository(n, name) => matches!(
            hr.chart_source(),
            Ok(ChartSource::ChartRef { namespace, name: r, .. }) if namespace == n && r == name
        ),
        Changed::HelmRelease(..) => false,
    }
}

type Trigger = futures::channel::mpsc::UnboundedSender<Changed>;

/// Runs a reflector for `resource` (all namespaces), sending every change to `triggers`.
fn reflect(
    client: &Client,
    resource: &ApiResource,
    triggers: Trigger,
    changed: fn(&DynamicObject) -> Changed,
) -> Store<DynamicObject> {
    let api: Api<DynamicObject> = Api::all_with(client.clone(), resource);
    let writer = reflector::store::Writer::new(resource.clone());
    let reader = writer.as_reader();
    let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()))
        .default_backoff()
        .touched_objects();
    tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(obj) => {
                    let _ = triggers.unbounded_send(changed(&obj));
                }
                Err(e) => tracing::warn!(error = %e, "watch error"),
            }
        }
    });
    reader
}

fn ns_name(o: &DynamicObject) -> (String, String) {
    (
        o.metadata.namespace.clone().unwrap_or_default(),
        o.metadata.name.clone().unwrap_or_default(),
    )
}

/// Kubernetes' well-known kinds plus what API discovery says is cluster-scoped; discovery
/// failing (RBAC, a broken aggregated API) leaves the well-known table, with a warning.
async fn discovered_scopes(client: &Client) -> KindScopes {
    let mut kinds = KindScopes::well_known();
    match kube::discovery::Discovery::new(client.clone()).run().await {
        Ok(discovery) => {
            for group in discovery.groups() {
                for (resource, caps) in group.recommended_resources() {
                    kinds.set(
                        GroupKind::new(resource.group.clone(), resource.kind.clone()),
                        caps.scope == kube::discovery::Scope::Namespaced,
                    );
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "API discovery failed; the output guard knows only built-in cluster-scoped kinds")
        }
    }
    kinds
}

/// Runs the controller until the process is stopped. `config` is the controller's own
/// Kubernetes configuration; releases impersonate their service accounts through copies of it.
pub async fn run(
    config: kube::Config,
    engine: Engine,
    fetcher: SourceFetcher,
    options: ControllerOptions,
) -> Result<(), RunError> {
    let client = Client::try_from(config.clone()).map_err(RunError::Client)?;
    let hr_kind = require(
        &client,
        ("capstan.dev", "v1alpha1", "HelmRelease"),
        CAPSTAN_CRDS_HINT,
    )
    .await?;
    let plugin_kind = require(
        &client,
        ("capstan.dev", "v1alpha1", "WasmPlugin"),
        CAPSTAN_CRDS_HINT,
    )
    .await?;
    let cluster_plugin_kind = require(
        &client,
        ("capstan.dev", "v1alpha1", "ClusterWasmPlugin"),
        CAPSTAN_CRDS_HINT,
    )
    .await?;
    let flux_kind = if options.flux_helmreleases {
        Some(
            require(
                &client,
                ("helm.toolkit.fluxcd.io", "v2", "HelmRelease"),
                "--flux-helmreleases needs Flux's HelmRelease CRD (helm.toolkit.fluxcd.io/v2) installed",
            )
            .await?,
        )
    } else {
        None
    };
    let helm_repo_kind = optional(
        &client,
        ("source.toolkit.fluxcd.io", "v1", "HelmRepository"),
    )
    .await;
    let oci_repo_kind =
        match optional(&client, ("source.toolkit.fluxcd.io", "v1", "OCIRepository")).await {
            Some(k) => Some(k),
            None => {
                optional(
                    &client,
                    ("source.toolkit.fluxcd.io", "v1beta2", "OCIRepository"),
                )
                .await
            }
        };
    // The output guard learns which kinds the cluster serves cluster-scoped (CRDs installed
    // later are still known to it when the release's own chart ships them).
    let engine = engine.with_kind_scopes(discovered_scopes(&client).await);
    let cm_kind = ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&());
    let secret_kind = ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&());
    let namespace_kind = ApiResource::erase::<k8s_openapi::api::core::v1::Namespace>(&());

    let (tx, rx) = futures::channel::mpsc::unbounded::<Changed>();
    let stores = Stores {
        wasm_plugins: reflect(&client, &plugin_kind, tx.clone(), |o| {
            let (n, name) = ns_name(o);
            Changed::WasmPlugin(n, name)
        }),
        cluster_wasm_plugins: reflect(&client, &cluster_plugin_kind, tx.clone(), |o| {
            Changed::ClusterWasmPlugin(ns_name(o).1)
        }),
        helm_repositories: helm_repo_kind.as_ref().map(|k| {
            reflect(&client, k, tx.clone(), |o| {
                let (n, name) = ns_name(o);
                Changed::HelmRepository(n, name)
            })
        }),
        oci_repositories: oci_repo_kind.as_ref().map(|k| {
            reflect(&client, k, tx.clone(), |o| {
                let (n, name) = ns_name(o);
                Changed::OciRepository(n, name)
            })
        }),
        config_maps: reflect(&client, &cm_kind, tx.clone(), |o| {
            let (n, name) = ns_name(o);
            Changed::ConfigMap(n, name)
        }),
        secrets: reflect(&client, &secret_kind, tx.clone(), |o| {
            let (n, name) = ns_name(o);
            Changed::Secret(n, name)
        }),
        namespaces: reflect(&client, &namespace_kind, tx.clone(), |o| {
            Changed::Namespace(ns_name(o).1)
        }),
    };
    for kind in std::iter::once(&hr_kind).chain(flux_kind.as_ref()) {
        watch_dependencies(&client, kind, tx.clone());
    }
    drop(tx);
    for store in [
        Some(&stores.wasm_plugins),
        Some(&stores.cluster_wasm_plugins),
        stores.helm_repositories.as_ref(),
        stores.oci_repositories.as_ref(),
        Some(&stores.config_maps),
        Some(&stores.secrets),
        Some(&stores.namespaces),
    ]
    .into_iter()
    .flatten()
    {
        let _ = store.wait_until_ready().await;
    }

    let reporter = Reporter {
        controller: "capstan".into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let ctx = Arc::new(
        Context::new(
            client.clone(),
            engine,
            fetcher,
            stores,
            Recorder::new(client.clone(), reporter),
            options.reconcile.clone(),
        )
        .with_config(config),
    );
    let metrics = ctx.metrics.clone();
    let ready = Arc::new(AtomicBool::new(false));
    if let Some(addr) = options.health_addr {
        serve(addr, Endpoint::Health(ready.clone())).await?;
    }
    if let Some(addr) = options.metrics_addr {
        serve(
            addr,
            Endpoint::Metrics(metrics.clone(), ctx.engine.runtime().clone()),
        )
        .await?;
    }

    let mut watcher_config = watcher::Config::default();
    if let Some(selector) = &options.watch_label_selector {
        watcher_config = watcher_config.labels(selector);
    }
    let config = ControllerConfig::default().concurrency(options.concurrent);

    // Re-queue releases that refer to a changed object: one channel feeds every kind's
    // controller through its own filtered copy.
    let kinds: Vec<ApiResource> = std::iter::once(hr_kind).chain(flux_kind).collect();
    let mut senders = Vec::new();
    let mut controllers = Vec::new();
    for kind in kinds {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &kind);
        let (ktx, krx) = futures::channel::mpsc::unbounded::<Changed>();
        senders.push(ktx);
        let controller = Controller::new_with(api, watcher_config.clone(), kind.clone())
            .with_config(config.clone());
        let store = controller.store();
        let triggers = krx.flat_map(move |changed| {
            let refs: Vec<ObjectRef<DynamicObject>> = store
                .state()
                .iter()
                .filter(|r| refers_to(r, &changed))
                .map(|r| ObjectRef::from_obj_with(r.as_ref(), kind.clone()))
                .collect();
            futures::stream::iter(refs)
        });
        let ctx = ctx.clone();
        let metrics = metrics.clone();
        controllers.push(
            controller
                .reconcile_on(triggers)
                .shutdown_on_signal()
                .run(
                    move |obj, ctx| {
                        let metrics = metrics.clone();
                        async move {
                            let start = std::time::Instant::now();
                            let (namespace, name) = ns_name(&obj);
                            let result = reconcile(obj, ctx).await;
                            metrics.record_reconcile(
                                &namespace,
                                &name,
                                result.is_ok(),
                                start.elapsed(),
                            );
                            result
                        }
                    },
                    error_policy,
                    ctx,
                )
                .for_each(|r| async move {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "reconcile error");
                    }
                })
                .boxed_local(),
        );
    }
    tokio::spawn(async move {
        futures::pin_mut!(rx);
        while let Some(changed) = rx.next().await {
            for s in &senders {
                let _ = s.unbounded_send(changed.clone());
            }
        }
    });
    // Standby replicas are ready too (they serve probes and keep their caches warm).
    ready.store(true, Ordering::SeqCst);
    let Some(election) = options.leader_election.clone() else {
        tracing::info!("capstan controller started");
        futures::future::join_all(controllers).await;
        return Ok(());
    };
    let elector = Elector::new(client.clone(), election);
    elector.acquire().await;
    tracing::info!("capstan controller started (leader)");
    let lost = {
        let run = futures::future::join_all(controllers);
        futures::pin_mut!(run);
        let keep = elector.keep();
        futures::pin_mut!(keep);
        match futures::future::select(run, keep).await {
            futures::future::Either::Left(_) => None,
            futures::future::Either::Right((lost, _)) => Some(lost),
        }
    };
    match lost {
        Some(e) => Err(RunError::Election(e)),
        None => {
            elector.release().await;
            Ok(())
        }
    }
}

enum Endpoint {
    Health(Arc<AtomicBool>),
    Metrics(Arc<Metrics>, capstan_wasm::Runtime),
}

/// A minimal HTTP/1.1 responder for `/healthz`, `/readyz` and `/metrics`.
async fn serve(addr: SocketAddr, endpoint: Endpoint) -> Result<(), RunError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| RunError::Listen { addr, source })?;
    let endpoint = Arc::new(endpoint);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                continue;
            };
            let endpoint = endpoint.clone();
            tokio::spawn(async move {
                // Read the whole request head (it may arrive in several segments): closing a
                // socket with unread bytes resets the connection instead of delivering the reply.
                let mut buf = Vec::with_capacity(1024);
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&buf);
                let path = request.split_whitespace().nth(1).unwrap_or("/");
                let (code, body, content_type) = match (&*endpoint, path) {
                    (Endpoint::Health(_), "/healthz") => (200, "ok".to_owned(), "text/plain"),
                    (Endpoint::Health(ready), "/readyz") if ready.load(Ordering::SeqCst) => {
                        (200, "ok".to_owned(), "text/plain")
                    }
                    (Endpoint::Health(_), "/readyz") => (503, "starting".to_owned(), "text/plain"),
                    (Endpoint::Metrics(m, runtime), "/metrics") => (
                        200,
                        m.render(runtime.cache_stats()),
                        "text/plain; version=0.0.4; charset=utf-8",
                    ),
                    _ => (404, "not found".to_owned(), "text/plain"),
                };
                let reason = match code {
                    200 => "OK",
                    503 => "Service Unavailable",
                    _ => "Not Found",
                };
                let response = format!(
                    "HTTP/1.1 {code} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mk_release(ns: &str, name: &str, spec: Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "HelmRelease",
            "metadata": {"namespace": ns, "name": name, "generation": 4},
            "spec": spec,
        }))
        .expect("object")
    }

    #[test]
    fn a_dependency_transition_wakes_only_its_dependents() {
        let web = mk_release(
            "apps",
            "web",
            json!({"dependsOn": [{"name": "api"}, {"name": "db", "namespace": "data"}]}),
        );
        let other = mk_release("apps", "other", json!({}));
        let wake = |ns: &str, name: &str| Changed::HelmRelease(ns.into(), name.into());
        assert!(refers_to(&web, &wake("apps", "api")));
        assert!(refers_to(&web, &wake("data", "db")));
        assert!(
            !refers_to(&web, &wake("data", "api")),
            "namespace defaults to the release's"
        );
        assert!(!refers_to(&web, &wake("apps", "db")));
        assert!(!refers_to(&other, &wake("apps", "api")));
    }

    #[test]
    fn dependency_state_is_ready_observed_and_generation() {
        let mut hr = mk_release("apps", "api", json!({}));
        assert_eq!(dependency_state(&hr), (None, None, Some(4)));
        hr.data["status"] = json!({"observedGeneration": 4,
            "conditions": [{"type": "Reconciling", "status": "True"},
                           {"type": "Ready", "status": "True"}]});
        assert_eq!(
            dependency_state(&hr),
            (Some("True".into()), Some(4), Some(4))
        );
    }
}
