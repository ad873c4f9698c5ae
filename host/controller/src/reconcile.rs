//! `reconcile(release, ctx) -> Action`: fetch → decide → act → write status, kube-rs style.
//!
//! ```text
//!  HelmRelease ─► parse (Flux kinds too) ─► suspended? ─► inputs unchanged since the last
//!     success? ──yes──► drift check against the stored manifest (no render, no transforms)
//!        │no
//!        ▼
//!  Engine::build (blocking pool) ──error──► status Ready=False (Stalled unless transient),
//!        │                                  event; nothing applied, history untouched
//!        ▼
//!  decide(desired digest, last release) ─► install / upgrade ─► storage pending ─► CRDs,
//!        │                                   namespace, objects (SSA) ─► prune ─► deployed
//!        └─► check drift ─► correct / warn
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use capstan_api::{
    DriftDetectionMode, HelmRelease, HelmReleaseStatus, ParsedRelease, ReleaseApiVersion, Snapshot,
    condition, parse_helm_release,
};
use capstan_engine::{Build, Engine, ErrorClass, SourceFetcher};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};

use crate::apply::{Applier, ApplyError, ObjectKey, live_json};
use crate::decide::{
    Decision, DriftAction, Facts, LastRelease, decide, drift_action, short_digest,
};
use crate::impersonate::{Clients, service_account};
use crate::lookup::{StoreLookup, Stores};
use crate::metrics::Metrics;
use crate::release::Outcome;
use crate::remediate::{self, ReleaseAction};
use crate::storage::{self, ReleaseStatus, StoredRelease};

/// Where Capstan records its desired-state digest on a stored release.
pub const DIGEST_LABEL: &str = "capstan.dev/digest";
/// Flux's origin labels, set on the objects of `helm.toolkit.fluxcd.io` releases.
pub const FLUX_NAME_LABEL: &str = "helm.toolkit.fluxcd.io/name";
/// See [`FLUX_NAME_LABEL`].
pub const FLUX_NAMESPACE_LABEL: &str = "helm.toolkit.fluxcd.io/namespace";

/// Annotations that request a reconcile, force an upgrade, reset counters (Flux's and ours).
const REQUESTED_AT: [&str; 2] = [
    "reconcile.fluxcd.io/requestedAt",
    "reconcile.capstan.dev/requestedAt",
];
const FORCE_AT: [&str; 2] = [
    "reconcile.fluxcd.io/forceAt",
    "reconcile.capstan.dev/forceAt",
];
const RESET_AT: [&str; 2] = [
    "reconcile.fluxcd.io/resetAt",
    "reconcile.capstan.dev/resetAt",
];

/// Operator settings of the reconciler.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--no-cross-namespace-refs`.
    pub no_cross_namespace_refs: bool,
    /// `--default-service-account`.
    pub default_service_account: Option<String>,
    /// `--requeue-dependency`: how soon a release waiting for its `dependsOn` looks again.
    pub requeue_dependency: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            no_cross_namespace_refs: false,
            default_service_account: None,
            requeue_dependency: Duration::from_secs(30),
        }
    }
}

/// What the reconciler shares: client, engine, stores, event recorder, settings.
pub struct Context {
    /// The controller's own client.
    pub client: Client,
    /// The pipeline (one Wasm runtime per process).
    pub engine: Engine,
    /// Charts and modules over the network, cached by digest.
    pub fetcher: SourceFetcher,
    /// Reflector stores of referenced objects.
    pub stores: Stores,
    /// Events.
    pub recorder: Recorder,
    /// Settings.
    pub options: Options,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Per release: the inputs fingerprint and desired digest of the last successful
    /// reconcile, so an unchanged release is drift-checked without rendering again.
    pub(crate) last_success: Mutex<HashMap<String, (String, String)>>,
    /// Per release: the resourceVersion our last status write produced, to tell a watch-cache
    /// copy that lags behind that write.
    written: Mutex<HashMap<String, String>>,
    pub(crate) applier: Applier,
    clients: Clients,
}

impl Context {
    /// A context.
    pub fn new(
        client: Client,
        engine: Engine,
        fetcher: SourceFetcher,
        stores: Stores,
        recorder: Recorder,
        options: Options,
    ) -> Self {
        Context {
            applier: Applier::new(client.clone()),
            clients: Clients::new(client.clone(), None),
            client,
            engine,
            fetcher,
            stores,
            recorder,
            options,
            metrics: Arc::new(Metrics::default()),
            last_success: Mutex::new(HashMap::new()),
            written: Mutex::new(HashMap::new()),
        }
    }

    /// Lets releases impersonate service accounts: `config` is what [`Context::client`] was
    /// built from. Without it, a release that names a service account fails rather than run
    /// with the controller's own rights.
    pub fn with_config(mut self, config: kube::Config) -> Self {
        self.clients = Clients::new(self.client.clone(), Some(config));
        self
    }

    /// The client of every Kubernetes operation on `release`'s objects and Helm storage
    /// (apply, prune, drift, wait, hooks, delete): the one place that decides who the controller
    /// acts as for a release — its service account ([`crate::impersonate::service_account`]).
    /// Status writes and events use [`Context::client`].
    pub fn release_client(&self, release: &HelmRelease) -> Result<Client> {
        let account = service_account(release, self.options.default_service_account.as_deref());
        self.clients
            .acting_as(account.as_ref())
            .map_err(Error::Impersonate)
    }

    /// An [`Applier`] over [`Context::release_client`], sharing the discovery cache.
    pub(crate) fn release_applier(&self, client: Client) -> Applier {
        self.applier.with_client(client)
    }

    /// Forgets what the last successful reconcile of `key` saw (its release is gone).
    pub(crate) fn forget(&self, key: &str) {
        self.last_success
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
        self.written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }

    /// Records the resourceVersion of our status write to `key`.
    fn wrote(&self, key: &str, resource_version: Option<String>) {
        let mut written = self
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match resource_version {
            Some(rv) => written.insert(key.to_owned(), rv),
            None => written.remove(key),
        };
    }

    /// Whether `obj` may be a cached copy older than our last status write to it (a
    /// different resourceVersion: older, or changed by someone else since).
    fn maybe_stale(&self, key: &str, obj: &DynamicObject) -> bool {
        self.written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .is_some_and(|rv| obj.metadata.resource_version.as_ref() != Some(rv))
    }
}

/// Why a reconcile failed (after status and events were written).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The build failed (render, values, plugin, fetch…).
    #[error("building the release")]
    Build(#[source] Box<capstan_engine::Error>),
    /// Applying, pruning or reading objects failed.
    #[error("applying the release")]
    Apply(#[source] ApplyError),
    /// Reading or writing Helm storage failed.
    #[error("Helm release storage")]
    Storage(#[source] kube::Error),
    /// A stored release is unreadable or too large.
    #[error("Helm release storage")]
    Record(#[source] storage::StorageError),
    /// Writing the HelmRelease status failed.
    #[error("writing the HelmRelease status")]
    WriteStatus(#[source] kube::Error),
    /// No client could be built for the release's service account.
    #[error("impersonating the release's service account")]
    Impersonate(#[source] crate::impersonate::ImpersonateError),
    /// The blocking build task died.
    #[error("the build task panicked or was cancelled")]
    Join(#[source] tokio::task::JoinError),
    /// A Helm hook failed.
    #[error("running hooks")]
    Hook(#[source] Box<crate::hooks::HookError>),
    /// The release's objects did not become ready (or were not deleted) in time.
    #[error("waiting for the release's objects")]
    Wait(#[source] Box<crate::wait::WaitError>),
    /// A CEL expression in the spec does not compile.
    #[error("compiling the spec's CEL expressions")]
    CompileExpr(#[source] crate::cel::CompileError),
    /// Reading the HelmReleases listed in `dependsOn` failed.
    #[error("reading dependencies")]
    Dependencies(#[source] kube::Error),
    /// Reading the HelmRelease afresh (the cached copy was stale) failed.
    #[error("reading the HelmRelease")]
    ReadRelease(#[source] kube::Error),
    /// Adding or removing the finalizer failed.
    #[error("the HelmRelease finalizer")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
}

impl Error {
    /// Whether retrying (with backoff) can help.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Build(e) => e.class() == ErrorClass::Transient,
            Error::Apply(e) => e.is_transient(),
            Error::Record(_)
            | Error::Hook(_)
            | Error::Wait(_)
            | Error::CompileExpr(_)
            | Error::Impersonate(_) => false,
            Error::Storage(_)
            | Error::WriteStatus(_)
            | Error::Join(_)
            | Error::Dependencies(_)
            | Error::ReadRelease(_)
            | Error::Finalizer(_) => true,
        }
    }
}

type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn annotation<'a>(obj: &'a DynamicObject, names: &[&str]) -> Option<&'a str> {
    let a = obj.metadata.annotations.as_ref()?;
    names.iter().find_map(|n| a.get(*n).map(String::as_str))
}

pub(crate) fn now() -> Time {
    Time(Timestamp::now())
}

pub(crate) fn mk_condition(
    type_: &str,
    ok: bool,
    reason: &str,
    message: &str,
    generation: i64,
) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: if ok { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message: truncate(message, 32 * 1024),
        observed_generation: Some(generation),
        last_transition_time: now(),
    }
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// One reconciliation's state.
pub(crate) struct Run<'a> {
    pub(crate) ctx: &'a Context,
    pub(crate) obj: &'a DynamicObject,
    pub(crate) parsed: ParsedRelease,
    pub(crate) status: HelmReleaseStatus,
    pub(crate) generation: i64,
    pub(crate) key: String,
    /// [`Context::release_client`] of this release.
    pub(crate) client: Client,
    /// [`Context::release_applier`] of this release.
    pub(crate) applier: Applier,
    /// The status as the API has it after our last write (at first: as read).
    written: Mutex<Value>,
}

impl<'a> Run<'a> {
    pub(crate) fn new(
        ctx: &'a Context,
        obj: &'a DynamicObject,
        parsed: ParsedRelease,
        status: HelmReleaseStatus,
        key: String,
    ) -> Result<Self> {
        let client = ctx.release_client(&parsed.release)?;
        Ok(Run {
            ctx,
            obj,
            applier: ctx.release_applier(client.clone()),
            client,
            generation: obj.metadata.generation.unwrap_or(0),
            written: Mutex::new(obj.data.get("status").cloned().unwrap_or(Value::Null)),
            parsed,
            status,
            key,
        })
    }

    pub(crate) fn release(&self) -> &HelmRelease {
        &self.parsed.release
    }

    pub(crate) fn is_flux(&self) -> bool {
        self.parsed.api_version != ReleaseApiVersion::CapstanV1alpha1
    }

    pub(crate) fn api(&self) -> Api<DynamicObject> {
        let (group, version) = match self.obj.types.as_ref().map(|t| t.api_version.as_str()) {
            Some(v) => v.rsplit_once('/').unwrap_or(("", v)),
            None => ("capstan.dev", "v1alpha1"),
        };
        let resource = kube::core::ApiResource {
            group: group.to_owned(),
            version: version.to_owned(),
            api_version: format!("{group}/{version}"),
            kind: "HelmRelease".to_owned(),
            plural: "helmreleases".to_owned(),
        };
        Api::namespaced_with(
            self.ctx.client.clone(),
            self.release().namespace_or_default(),
            &resource,
        )
    }

    pub(crate) async fn event(&self, type_: EventType, reason: &str, note: &str, action: &str) {
        let reference = self.obj.object_ref(&kube::core::ApiResource::from_gvk(
            &kube::core::GroupVersionKind::gvk(
                self.obj
                    .types
                    .as_ref()
                    .map(|t| t.api_version.rsplit_once('/').map_or("", |(g, _)| g))
                    .unwrap_or("capstan.dev"),
                self.obj
                    .types
                    .as_ref()
                    .map(|t| {
                        t.api_version
                            .rsplit_once('/')
                            .map_or("v1alpha1", |(_, v)| v)
                    })
                    .unwrap_or("v1alpha1"),
                "HelmRelease",
            ),
        ));
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(truncate(note, 1000)),
            action: action.to_owned(),
            secondary: None,
        };
        if let Err(e) = self.ctx.recorder.publish(&event, &reference).await {
            tracing::warn!(release = %self.key, error = %e, "cannot publish event");
        }
    }

    /// Writes what changed in the status since it was read or last written (a merge patch:
    /// cleared fields become `null`, conditions and history are replaced as a whole).
    pub(crate) async fn write_status(&self) -> Result<()> {
        let status = serde_json::to_value(&self.status).unwrap_or(Value::Null);
        let patch = {
            let written = self
                .written
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            status_patch(&written, &status)
        };
        if patch.as_object().is_some_and(serde_json::Map::is_empty) {
            return Ok(());
        }
        let updated = self
            .api()
            .patch_status(
                &self.obj.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": patch })),
            )
            .await
            .map_err(Error::WriteStatus)?;
        *self
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = status;
        self.ctx.wrote(&self.key, updated.resource_version());
        Ok(())
    }

    /// Marks work in progress (kstatus): Reconciling=True and Ready=Unknown, written at once so
    /// `kubectl wait`/`flux get` see that an install or upgrade is running.
    pub(crate) async fn progressing(&mut self, message: &str) -> Result<()> {
        let g = self.generation;
        self.status.set_condition(mk_condition(
            condition::RECONCILING,
            true,
            "Progressing",
            message,
            g,
        ));
        let mut ready = mk_condition(condition::READY, false, "Progressing", message, g);
        ready.status = "Unknown".to_owned();
        self.status.set_condition(ready);
        self.write_status().await
    }

    pub(crate) fn set_ready(&mut self, ok: bool, reason: &str, message: &str) {
        let g = self.generation;
        self.status
            .set_condition(mk_condition(condition::READY, ok, reason, message, g));
    }

    /// Records a failure: Ready=False, Stalled when retrying cannot help, counters, an event.
    pub(crate) async fn fail(
        &mut self,
        reason: &str,
        message: &str,
        transient: bool,
    ) -> Result<()> {
        self.set_ready(false, reason, message);
        self.status.remove_condition(condition::RECONCILING);
        if transient {
            self.status.remove_condition(condition::STALLED);
        } else {
            let g = self.generation;
            self.status
                .set_condition(mk_condition(condition::STALLED, true, reason, message, g));
        }
        self.status.failures = Some(self.status.failures.unwrap_or(0) + 1);
        self.status.observed_generation = Some(self.generation);
        self.event(EventType::Warning, reason, message, "Reconcile")
            .await;
        self.write_status().await
    }

    /// The fingerprint of everything a build reads that the API can tell us about cheaply:
    /// the spec generation, the annotations that ask for work, and the resourceVersion of every
    /// object the release refers to.
    fn fingerprint(&self) -> String {
        let release = self.release();
        let ns = release.namespace_or_default();
        let rv = |store: Option<&kube::runtime::reflector::Store<DynamicObject>>,
                  ns: Option<&str>,
                  name: &str| {
            store
                .and_then(|s| crate::lookup::find(s, ns, name))
                .and_then(|o| o.metadata.resource_version.clone())
                .unwrap_or_default()
        };
        let stores = &self.ctx.stores;
        let mut parts = vec![
            self.generation.to_string(),
            annotation(self.obj, &REQUESTED_AT).unwrap_or("").to_owned(),
            annotation(self.obj, &FORCE_AT).unwrap_or("").to_owned(),
        ];
        for v in &release.spec.values_from {
            let store = match v.kind {
                capstan_api::ValuesKind::ConfigMap => &stores.config_maps,
                capstan_api::ValuesKind::Secret => &stores.secrets,
            };
            parts.push(rv(Some(store), Some(ns), &v.name));
        }
        for p in &release.spec.post_renderers {
            if let Some(w) = &p.wasm {
                match w.kind.unwrap_or_default() {
                    capstan_api::PluginKind::WasmPlugin => {
                        parts.push(rv(Some(&stores.wasm_plugins), Some(ns), &w.plugin));
                    }
                    capstan_api::PluginKind::ClusterWasmPlugin => {
                        parts.push(rv(Some(&stores.cluster_wasm_plugins), None, &w.plugin));
                    }
                }
            }
        }
        if let Ok(source) = release.chart_source() {
            match source {
                capstan_api::ChartSource::SourceRef {
                    name, namespace, ..
                } => {
                    parts.push(rv(stores.helm_repositories.as_ref(), Some(namespace), name));
                }
                capstan_api::ChartSource::ChartRef {
                    name, namespace, ..
                } => {
                    parts.push(rv(stores.oci_repositories.as_ref(), Some(namespace), name));
                }
                _ => {}
            }
        }
        parts.join("|")
    }

    pub(crate) async fn history(&self) -> Result<Vec<StoredRelease>> {
        let release = self.release();
        let api: Api<Secret> = Api::namespaced(self.client.clone(), release.storage_namespace());
        let list = api
            .list(&ListParams::default().labels(&storage::selector(&release.release_name())))
            .await
            .map_err(Error::Storage)?;
        list.items
            .iter()
            .filter(|s| s.type_.as_deref() == Some(storage::SECRET_TYPE))
            .map(|s| storage::decode(s).map_err(Error::Record))
            .collect()
    }

    pub(crate) async fn store(&self, record: &StoredRelease) -> Result<()> {
        let release = self.release();
        let ns = release.storage_namespace();
        let secret =
            storage::encode(record, ns, Timestamp::now().as_second()).map_err(Error::Record)?;
        let api: Api<Secret> = Api::namespaced(self.client.clone(), ns);
        api.patch(
            &storage::secret_name(&record.name, record.version),
            &PatchParams::apply(crate::apply::FIELD_MANAGER).force(),
            &Patch::Apply(&secret),
        )
        .await
        .map(|_| ())
        .map_err(Error::Storage)
    }

    pub(crate) async fn delete_revision(&self, name: &str, version: i64) -> Result<()> {
        let api: Api<Secret> =
            Api::namespaced(self.client.clone(), self.release().storage_namespace());
        match api
            .delete(&storage::secret_name(name, version), &Default::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(Error::Storage(e)),
        }
    }

    pub(crate) fn objects_of(&self, build: &Build) -> Vec<Value> {
        let mut objects: Vec<Value> = build.crds_and_objects().cloned().collect();
        if self.is_flux() {
            let release = self.release();
            let labels = BTreeMap::from([
                (FLUX_NAME_LABEL.to_owned(), release.name().to_owned()),
                (
                    FLUX_NAMESPACE_LABEL.to_owned(),
                    release.namespace_or_default().to_owned(),
                ),
            ]);
            capstan_kustomize_labels(&mut objects, &labels);
        }
        objects
    }

    /// Applies CRDs (waiting for them), the namespace and the objects, in order.
    pub(crate) async fn apply_all(&self, objects: &[Value], install: bool) -> Result<()> {
        let release = self.release();
        let ns = release.release_namespace();
        let applier = &self.applier;
        let create_ns = install
            && release
                .spec
                .install
                .as_ref()
                .is_some_and(|i| i.create_namespace);
        if create_ns {
            applier
                .apply(
                    &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                    ns,
                    false,
                )
                .await
                .map_err(Error::Apply)?;
        }
        let is_crd =
            |o: &Value| o.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition");
        let mut crds = Vec::new();
        for o in objects.iter().filter(|o| is_crd(o)) {
            applier.apply(o, ns, false).await.map_err(Error::Apply)?;
            if let Some(name) = o.pointer("/metadata/name").and_then(Value::as_str) {
                crds.push(name.to_owned());
            }
        }
        for name in crds {
            applier
                .wait_established(&name, Duration::from_secs(60))
                .await
                .map_err(Error::Apply)?;
        }
        for o in objects.iter().filter(|o| !is_crd(o)) {
            applier.apply(o, ns, false).await.map_err(Error::Apply)?;
        }
        Ok(())
    }

    /// Deletes what the previous release applied and this one does not (inventory = the
    /// previous release's manifest; nothing else is ever deleted).
    pub(crate) async fn prune(
        &self,
        previous: Option<&StoredRelease>,
        objects: &[Value],
    ) -> Result<usize> {
        let Some(previous) = previous else {
            return Ok(0);
        };
        let ns = self.release().release_namespace();
        let applier = &self.applier;
        let mut current = BTreeSet::new();
        for o in objects {
            if let Some(k) = ObjectKey::of(o) {
                current.insert(normalize_key(applier, k, ns).await);
            }
        }
        let old = capstan_yaml::parse_stream(&previous.manifest).unwrap_or_default();
        let propagation = crate::uninstall::propagation(
            self.release()
                .spec
                .uninstall
                .as_ref()
                .and_then(|u| u.deletion_propagation.as_deref()),
        );
        let mut pruned = 0;
        for o in old.iter().filter(|o| !o.is_null()) {
            let Some(k) = ObjectKey::of(o) else { continue };
            let k = normalize_key(applier, k, ns).await;
            if !current.contains(&k) {
                applier
                    .delete(&k, ns, propagation.clone())
                    .await
                    .map_err(Error::Apply)?;
                pruned += 1;
            }
        }
        Ok(pruned)
    }

    /// Compares the live objects with a dry-run apply of `objects`; corrects or reports per
    /// `spec.driftDetection`. Returns the number of drifted objects.
    pub(crate) async fn check_drift(&mut self, objects: &[Value]) -> Result<usize> {
        let detection = self
            .release()
            .spec
            .drift_detection
            .clone()
            .unwrap_or_default();
        let mode = detection.mode.unwrap_or(DriftDetectionMode::Disabled);
        if mode == DriftDetectionMode::Disabled {
            return Ok(0);
        }
        let ns = self.release().release_namespace().to_owned();
        let applier = &self.applier;
        let mut drifted = Vec::new();
        for o in objects {
            let Some(key) = ObjectKey::of(o) else {
                continue;
            };
            let live = applier.get(&key, &ns).await.map_err(Error::Apply)?;
            let Some(live) = live else {
                drifted.push((o.clone(), format!("{key}: missing")));
                continue;
            };
            let dry = applier.apply(o, &ns, true).await.map_err(Error::Apply)?;
            let paths = crate::drift::diff(&live_json(&live), &live_json(&dry), &detection.ignore);
            if !paths.is_empty() {
                drifted.push((o.clone(), format!("{key}: {}", paths.join(", "))));
            }
        }
        let count = drifted.len();
        let summary = drifted
            .iter()
            .map(|(_, d)| d.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        match drift_action(mode, count) {
            DriftAction::None => {}
            DriftAction::Correct => {
                for (o, _) in &drifted {
                    applier.apply(o, &ns, false).await.map_err(Error::Apply)?;
                }
                self.event(
                    EventType::Normal,
                    "DriftCorrected",
                    &format!("corrected drift in {count} object(s): {summary}"),
                    "CorrectDrift",
                )
                .await;
            }
            DriftAction::Warn => {
                self.event(
                    EventType::Warning,
                    "DriftDetected",
                    &format!("drift in {count} object(s): {summary}"),
                    "DetectDrift",
                )
                .await;
            }
        }
        let g = self.generation;
        if count > 0 && mode == DriftDetectionMode::Warn {
            self.status
                .set_condition(mk_condition("Drifted", true, "DriftDetected", &summary, g));
        } else {
            self.status.remove_condition("Drifted");
        }
        Ok(count)
    }
}

/// The merge patch from status `old` to `new`: changed fields, and `null` for fields `new` no
/// longer has (a merge patch leaves out what it does not mention).
pub fn status_patch(old: &Value, new: &Value) -> Value {
    let empty = serde_json::Map::new();
    let old = old.as_object().unwrap_or(&empty);
    let new = new.as_object().unwrap_or(&empty);
    let mut patch = serde_json::Map::new();
    for (k, v) in new {
        if old.get(k) != Some(v) {
            patch.insert(k.clone(), v.clone());
        }
    }
    for k in old.keys() {
        if !new.contains_key(k) {
            patch.insert(k.clone(), Value::Null);
        }
    }
    Value::Object(patch)
}

/// Merges `labels` into every object's `metadata.labels`.
pub(crate) fn capstan_kustomize_labels(objects: &mut [Value], labels: &BTreeMap<String, String>) {
    for o in objects.iter_mut() {
        let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) else {
            continue;
        };
        let entry = meta.entry("labels").or_insert_with(|| json!({}));
        if let Some(map) = entry.as_object_mut() {
            for (k, v) in labels {
                map.insert(k.clone(), Value::String(v.clone()));
            }
        }
    }
}

/// The key with the namespace it really has (defaulted for namespaced kinds, cleared for
/// cluster-scoped ones), so a manifest written with or without `namespace:` compares equal.
pub(crate) async fn normalize_key(
    applier: &Applier,
    mut key: ObjectKey,
    default_ns: &str,
) -> ObjectKey {
    match applier.is_namespaced(&key).await {
        Ok(true) if key.namespace.is_empty() => key.namespace = default_ns.to_owned(),
        Ok(false) => key.namespace.clear(),
        _ => {}
    }
    key
}

pub(crate) fn snapshot(record: &StoredRelease, build: &Build, desired: &str) -> Snapshot {
    Snapshot {
        name: record.name.clone(),
        namespace: record.namespace.clone(),
        version: record.version,
        status: record.info.status.as_str().to_owned(),
        chart_name: build.chart.name.clone(),
        chart_version: build.chart.version.clone(),
        app_version: build
            .chart_metadata
            .get("appVersion")
            .and_then(Value::as_str)
            .map(str::to_owned),
        config_digest: build.digests.values.clone(),
        digest: format!("sha256:{desired}"),
        oci_digest: None,
        post_renderers: build
            .digests
            .post_renderers
            .iter()
            .map(|s| match &s.module {
                Some(m) => format!("wasm:{}@{m}", s.name),
                None => s.name.clone(),
            })
            .collect(),
        first_deployed: Timestamp::from_str_opt(&record.info.first_deployed).map(Time),
        last_deployed: Timestamp::from_str_opt(&record.info.last_deployed).map(Time),
        deleted: None,
    }
}

trait FromStrOpt: Sized {
    fn from_str_opt(s: &str) -> Option<Self>;
}

impl FromStrOpt for Timestamp {
    fn from_str_opt(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

/// Reconciles one HelmRelease (either kind), behind the finalizer that uninstalls its release
/// when it is deleted ([`crate::uninstall`]).
pub async fn reconcile(obj: Arc<DynamicObject>, ctx: Arc<Context>) -> Result<Action> {
    let api = hr_api(&ctx.client, &obj);
    let result = kube::runtime::finalizer(&api, crate::uninstall::FINALIZER, obj, |event| async {
        match event {
            kube::runtime::finalizer::Event::Apply(obj) => {
                reconcile_release(obj, ctx.clone()).await
            }
            kube::runtime::finalizer::Event::Cleanup(obj) => {
                crate::uninstall::cleanup(obj, ctx.clone()).await
            }
        }
    })
    .await;
    match result {
        Ok(action) => Ok(action),
        Err(
            kube::runtime::finalizer::Error::ApplyFailed(e)
            | kube::runtime::finalizer::Error::CleanupFailed(e),
        ) => Err(e),
        Err(e) => Err(Error::Finalizer(Box::new(e))),
    }
}

/// The kind of `obj` (either HelmRelease kind) as an API resource.
pub(crate) fn hr_resource(obj: &DynamicObject) -> kube::core::ApiResource {
    let (group, version) = match obj.types.as_ref().map(|t| t.api_version.as_str()) {
        Some(v) => v.rsplit_once('/').unwrap_or(("", v)),
        None => ("capstan.dev", "v1alpha1"),
    };
    kube::core::ApiResource {
        group: group.to_owned(),
        version: version.to_owned(),
        api_version: format!("{group}/{version}"),
        kind: "HelmRelease".to_owned(),
        plural: "helmreleases".to_owned(),
    }
}

fn hr_api(client: &Client, obj: &DynamicObject) -> Api<DynamicObject> {
    Api::namespaced_with(
        client.clone(),
        &obj.namespace().unwrap_or_else(|| "default".to_owned()),
        &hr_resource(obj),
    )
}

async fn reconcile_release(obj: Arc<DynamicObject>, ctx: Arc<Context>) -> Result<Action> {
    let key = format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any());
    // A watch-cache copy that lags behind our own last status write would undo it (Ready
    // written back to Unknown, failure counters forgotten): read the release afresh.
    let obj = if ctx.maybe_stale(&key, &obj) {
        match hr_api(&ctx.client, &obj)
            .get_opt(&obj.name_any())
            .await
            .map_err(Error::ReadRelease)?
        {
            Some(current) => Arc::new(current),
            None => return Ok(Action::await_change()),
        }
    } else {
        obj
    };
    let doc = serde_json::to_value(&*obj).unwrap_or(Value::Null);
    let status: HelmReleaseStatus = doc
        .get("status")
        .cloned()
        .and_then(|s| serde_json::from_value(s).ok())
        .unwrap_or_default();
    let generation = obj.metadata.generation.unwrap_or(0);
    let parsed = match parse_helm_release(&doc) {
        Ok(p) => p,
        Err(e) => {
            // Not a release we can act on until its spec changes.
            let mut release = HelmRelease::new(&obj.name_any(), Default::default());
            release.metadata.namespace = obj.namespace();
            let mut run = Run::new(
                &ctx,
                &obj,
                ParsedRelease {
                    release,
                    api_version: ReleaseApiVersion::CapstanV1alpha1,
                    warnings: Vec::new(),
                },
                status,
                key,
            )?;
            run.fail("InvalidSpec", &capstan_engine::chain(&e), false)
                .await?;
            return Ok(Action::await_change());
        }
    };
    let mut run = Run::new(&ctx, &obj, parsed, status, key)?;
    if run.release().spec.suspend {
        tracing::debug!(release = %run.key, "suspended");
        return Ok(Action::await_change());
    }
    let interval = run.release().interval();
    // CEL expressions are compiled before anything runs: a syntax error stalls the release
    // until its spec changes, naming the field.
    let own_ns = run.release().namespace_or_default().to_owned();
    let ready_exprs = match crate::depends::ready_exprs(&own_ns, &run.release().spec)
        .and_then(|r| crate::wait::WaitRules::for_release(&run.release().spec, false).map(|_| r))
    {
        Ok(r) => r,
        Err(e) => {
            let message = format!("HelmRelease {}: {e}", run.key);
            run.fail("InvalidSpec", &message, false).await?;
            return Ok(Action::await_change());
        }
    };
    if !run.release().spec.depends_on.is_empty() {
        let blocked = crate::depends::check(&ctx.client, &hr_resource(&obj), &doc, &ready_exprs)
            .await
            .map_err(Error::Dependencies)?;
        match blocked {
            Some(b @ crate::depends::Blocked::NotReady(_)) => {
                tracing::info!(release = %run.key, reason = %b.message(), "waiting for dependencies");
                run.set_ready(false, "DependencyNotReady", &b.message());
                run.status.observed_generation = Some(generation);
                run.write_status().await?;
                return Ok(Action::requeue(ctx.options.requeue_dependency));
            }
            Some(b @ crate::depends::Blocked::Cycle(_)) => {
                run.fail("DependencyCycle", &b.message(), false).await?;
                return Ok(Action::requeue(interval));
            }
            None => {}
        }
    }
    if let Some(requested) = annotation(&obj, &REQUESTED_AT) {
        run.status.last_handled_reconcile_at = Some(requested.to_owned());
    }
    if let Some(reset) = annotation(&obj, &RESET_AT)
        && run.status.last_handled_reset_at.as_deref() != Some(reset)
    {
        clear_failures(&mut run.status);
        run.status.last_handled_reset_at = Some(reset.to_owned());
    }
    let force_requested = annotation(&obj, &FORCE_AT)
        .is_some_and(|f| run.status.last_handled_force_at.as_deref() != Some(f));
    let history = run.history().await?;
    let fingerprint = run.fingerprint();
    let last_deployed = storage::last_deployed(&history).cloned();
    let latest = storage::latest(&history).cloned();
    let unchanged = {
        let cache = ctx
            .last_success
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.get(&run.key).is_some_and(|(fp, digest)| {
            fp == &fingerprint
                && latest.as_ref().is_some_and(|l| {
                    l.info.status == ReleaseStatus::Deployed
                        && l.labels.get(DIGEST_LABEL) == Some(digest)
                })
        })
    };
    if unchanged && !force_requested {
        // Nothing the build reads changed: compare the cluster with the stored manifest only.
        let objects = last_deployed
            .as_ref()
            .map(|r| capstan_yaml::parse_stream(&r.manifest).unwrap_or_default())
            .unwrap_or_default();
        let objects: Vec<Value> = objects.into_iter().filter(|o| !o.is_null()).collect();
        run.check_drift(&objects).await?;
        run.status.observed_generation = Some(generation);
        run.write_status().await?;
        return Ok(Action::requeue(interval));
    }

    if run.status.last_attempted_generation != Some(generation) {
        // A new desired state gets fresh attempts (Flux).
        clear_failures(&mut run.status);
    }
    run.status.last_attempted_generation = Some(generation);
    let engine = ctx.engine.clone();
    let fetcher = ctx.fetcher.clone();
    let stores = ctx.stores.clone();
    let release = run.release().clone();
    let no_cross = ctx.options.no_cross_namespace_refs;
    let built = tokio::task::spawn_blocking(move || {
        let lookup = StoreLookup {
            stores: &stores,
            namespace: release.namespace_or_default(),
            no_cross_namespace: no_cross,
        };
        engine.build(&release, &lookup, &fetcher).map_err(Box::new)
    })
    .await
    .map_err(Error::Join)?;
    let build = match built {
        Ok(b) => {
            ctx.metrics
                .record_build(run.release().namespace_or_default(), &obj.name_any(), &b);
            for step in &b.steps {
                tracing::debug!(
                    release = %run.key,
                    plugin = %step.detail,
                    duration_ms = step.duration.as_secs_f64() * 1e3,
                    "post-render step"
                );
            }
            b
        }
        Err(e) => {
            ctx.metrics.record_build_error(&e);
            let transient = e.is_transient();
            tracing::warn!(
                release = %run.key,
                plugin = e.plugin().unwrap_or_default(),
                reason = e.reason(),
                transient,
                error = %capstan_engine::chain(&e),
                "build failed"
            );
            run.status.observed_generation = Some(generation);
            run.fail(e.reason(), &capstan_engine::chain(&e), transient)
                .await?;
            if transient {
                return Err(Error::Build(e));
            }
            // Stalled until the spec or an input changes (the watches re-queue it); look again
            // at the interval in case an input changed where no watch can see it.
            return Ok(Action::requeue(interval));
        }
    };
    if !build.warnings.is_empty() {
        run.event(
            EventType::Warning,
            "BuildWarnings",
            &build.warnings.join("; "),
            "Build",
        )
        .await;
    }
    let desired = short_digest(&build.digests.desired());
    if run.status.last_attempted_revision.as_deref() != Some(build.chart.version.as_str())
        || run.status.last_attempted_config_digest.as_deref() != Some(build.digests.values.as_str())
    {
        clear_failures(&mut run.status);
    }
    let facts = Facts {
        desired: desired.clone(),
        last: latest.as_ref().map(|l| LastRelease {
            version: l.version,
            status: l.info.status,
            digest: l.labels.get(DIGEST_LABEL).cloned(),
        }),
        force_requested,
    };
    let decision = decide(&facts);
    if let Decision::Install | Decision::Upgrade(_) = decision {
        let install = decision == Decision::Install;
        let decided = if install {
            ReleaseAction::Install
        } else {
            ReleaseAction::Upgrade
        };
        let action = remediate::active_action(
            decided,
            latest
                .as_ref()
                .is_some_and(|l| l.info.status == ReleaseStatus::Failed),
            run.status.last_attempted_release_action.as_deref(),
        );
        let failures = match action {
            ReleaseAction::Install => run.status.install_failures,
            ReleaseAction::Upgrade => run.status.upgrade_failures,
        }
        .unwrap_or(0);
        let policy = remediate::policy(&run.release().spec, action);
        if policy.exhausted(failures) && !force_requested {
            // No attempt left for this desired state: stay Stalled until it changes.
            run.mark_retries_exceeded(action, failures);
            run.status.observed_generation = Some(generation);
            run.write_status().await?;
            return Ok(Action::requeue(interval));
        }
        if let Decision::Upgrade(reason) = decision {
            tracing::info!(release = %run.key, reason = reason.describe(), "upgrading");
        }
        if force_requested {
            run.status.last_handled_force_at = annotation(&obj, &FORCE_AT).map(str::to_owned);
        }
        match run
            .release_build(&build, &history, install, &desired, action)
            .await?
        {
            Outcome::Released => {}
            Outcome::Retry(after) => return Ok(Action::requeue(after)),
            Outcome::Stalled => return Ok(Action::requeue(interval)),
        }
    }
    match decision {
        Decision::Install | Decision::Upgrade(_) => {}
        Decision::CheckDrift => {
            let objects = run.objects_of(&build);
            run.check_drift(&objects).await?;
            if run
                .status
                .condition(condition::READY)
                .is_none_or(|c| c.status != "True")
            {
                let message = format!(
                    "release {}/{} is up to date with chart {}@{}",
                    build.release_namespace,
                    build.release_name,
                    build.chart.name,
                    build.chart.version
                );
                run.set_ready(true, "UpToDate", &message);
            }
        }
    }
    run.status.remove_condition(condition::STALLED);
    run.status.remove_condition(condition::RECONCILING);
    run.status.observed_generation = Some(generation);
    run.status.storage_namespace = Some(run.release().storage_namespace().to_owned());
    run.write_status().await?;
    ctx.last_success
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(run.key.clone(), (fingerprint, desired));
    Ok(Action::requeue(interval))
}

/// Resets the failure counters (new desired state, or a `resetAt` request).
fn clear_failures(status: &mut HelmReleaseStatus) {
    status.failures = None;
    status.install_failures = None;
    status.upgrade_failures = None;
}

/// Transient failures retry with backoff; the rest were reported and wait for a change.
pub fn error_policy(obj: Arc<DynamicObject>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(
        release = %format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any()),
        error = %capstan_engine::chain(error),
        "reconcile failed"
    );
    if error.is_transient() {
        Action::requeue(Duration::from_secs(10))
    } else {
        Action::requeue(Duration::from_secs(300))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk_status(fields: Value) -> Value {
        let mut status =
            json!({"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True"}]});
        if let (Some(s), Some(f)) = (status.as_object_mut(), fields.as_object()) {
            s.extend(f.clone());
        }
        status
    }

    #[test]
    fn a_status_patch_sends_changes_and_clears_what_is_gone() {
        let old = mk_status(json!({"installFailures": 2, "failures": 2}));
        let new = mk_status(json!({"observedGeneration": 3}));
        assert_eq!(
            status_patch(&old, &new),
            json!({"observedGeneration": 3, "installFailures": null, "failures": null})
        );
        assert_eq!(status_patch(&new, &new), json!({}), "nothing changed");
        assert_eq!(
            status_patch(&Value::Null, &json!({"failures": 1})),
            json!({"failures": 1}),
            "no status yet"
        );
    }
}
