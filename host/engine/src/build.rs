//! The pipeline: one HelmRelease, an [`ObjectLookup`] and a [`Fetcher`] in, the [`Build`] a
//! reconciler would apply out. `capstan build` and the controller both call [`Engine::build`];
//! neither re-implements a step.
//!
//! ```text
//!  HelmRelease ─► 1. post-renderers: plugins resolved (lookup), modules fetched or read from
//!                    ConfigMaps (sha256 verified), loaded with their limits, configs validated
//!                 2. chart: HTTP/OCI repository, Flux HelmRepository/OCIRepository (secretRef
//!                    credentials), or a local path (fetcher's choice)
//!                 3. values in Flux's order and types; chart valuesFiles
//!                 4. render (capstan-helm), release name/namespace by Flux's rules
//!                 5. post-render chain; hooks routed by postRenderStrategy
//!                 6. commonMetadata + origin labels on every object
//!    ▼
//!  Build { crds, objects, hooks, chart, steps (timings), warnings, diagnostics, digests }
//! ```
//!
//! Plugins are resolved and their configs validated before the chart is fetched, so a misnamed
//! plugin or a bad config fails fast without touching the network. Nothing here applies
//! anything: a failed build leaves no trace.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use capstan_api::{
    ChartSource, ClusterWasmPlugin, EffectiveLimits, HelmRelease, LocalObjectReference,
    ModuleSource, PluginError, PluginKind, PostRenderStrategy, ResolvedPlugin, WasmPlugin,
    WasmPostRenderer,
};
use capstan_helm::HelmVersion;
use capstan_sdk::Context;
use capstan_source::{Credentials, Digest, TlsOptions};
use capstan_wasm::{Limits, Runtime};

use crate::ceilings::Ceilings;
use serde_json::{Map, Value};
use sha2::Digest as _;

use crate::digest::{Digests, StepDigest, sha256_json};
use crate::error::{Error, Result};
use crate::fetch::{
    Auth, ChartContent, ChartLocation, ChartRequest, FetchError, FetchedChart, FetchedModule,
    Fetcher, ModuleLocation, ModuleRequest, files_digest,
};
use crate::guard::{GroupKind, GuardPolicy, KindScopes, OutputGuard};
use crate::lookup::{ObjectKind, ObjectLookup};
use crate::postrender::{self, Pipeline, PostRenderer, StepDiagnostic};
use crate::values::compose_values;

/// The annotation that makes a rendered object a Helm hook.
pub const HOOK_ANNOTATION: &str = "helm.sh/hook";

/// The chart a build rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartInfo {
    /// Chart name.
    pub name: String,
    /// Chart version.
    pub version: String,
    /// sha256 of the archive (or of a directory's files, sorted by path).
    pub digest: String,
    /// Where it came from.
    pub location: String,
}

/// One post-renderer of the chain, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepSummary {
    /// `kustomize` or the plugin name.
    pub name: String,
    /// `kustomize`, or `wasm <name>@sha256:<12 hex>` and where the module came from.
    pub detail: String,
    /// Time spent, all passes together.
    pub duration: Duration,
}

/// Where a build's time went besides the post-renderers (those are in [`Build::steps`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildTimings {
    /// Resolving plugins, fetching and loading their modules, validating their configs.
    pub plugins: Duration,
    /// Fetching and loading the chart.
    pub chart: Duration,
    /// Rendering the chart's templates (Helm).
    pub render: Duration,
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct Build {
    /// `namespace/name` of the HelmRelease.
    pub release: String,
    /// The Helm release name (Flux's rules).
    pub release_name: String,
    /// The namespace the release installs into.
    pub release_namespace: String,
    /// The chart.
    pub chart: ChartInfo,
    /// `Chart.yaml` of the chart, as JSON (what Helm stores as the release's chart metadata).
    pub chart_metadata: Value,
    /// The user-supplied values, composed and typed as Flux hands them to Helm (what Helm
    /// stores as the release's `config`).
    pub values: Map<String, Value>,
    /// CRDs from the chart's `crds/` (empty when the release skips them), labelled.
    pub crds: Vec<Value>,
    /// Manifests in Helm's install order, post-rendered and labelled.
    pub objects: Vec<Value>,
    /// Hooks, routed through the chain by `postRenderStrategy`, labelled.
    pub hooks: Vec<Value>,
    /// The template each hook was rendered from (`web/templates/job.yaml`), by `Kind/name` as
    /// rendered: what Helm records as the hook's path (`helm get hooks` prints it as
    /// `# Source:`).
    pub hook_sources: BTreeMap<String, String>,
    /// The chain, in order.
    pub steps: Vec<StepSummary>,
    /// Non-fatal findings of the build itself (skipped optional values, …).
    pub warnings: Vec<String>,
    /// Non-error findings of the post-renderers.
    pub diagnostics: Vec<StepDiagnostic>,
    /// What the desired state depends on: chart, values, every resolved module and config.
    pub digests: Digests,
    /// Plugin loading, chart fetching and rendering times.
    pub timings: BuildTimings,
}

impl Build {
    /// CRDs then manifests, the order they are applied in.
    pub fn crds_and_objects(&self) -> impl Iterator<Item = &Value> {
        self.crds.iter().chain(&self.objects)
    }
}

/// The key of [`Build::hook_sources`]: `Kind/name` of a hook object.
pub fn hook_key(hook: &Value) -> String {
    let s = |p: &str| hook.pointer(p).and_then(Value::as_str).unwrap_or("");
    format!("{}/{}", s("/kind"), s("/metadata/name"))
}

/// How a `postRenderStrategy` routes hooks through the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookRouting {
    /// Hooks skip the chain (`nohooks`).
    Skip,
    /// Hooks go through the chain in the same pass as the manifests (`combined`).
    WithManifests,
    /// Hooks go through the chain in a pass of their own (`separate`).
    SeparatePass,
}

impl HookRouting {
    /// The routing for a strategy.
    pub fn of(strategy: PostRenderStrategy) -> Self {
        match strategy {
            PostRenderStrategy::Nohooks => HookRouting::Skip,
            PostRenderStrategy::Combined => HookRouting::WithManifests,
            PostRenderStrategy::Separate => HookRouting::SeparatePass,
        }
    }
}

/// Whether an object carries the `helm.sh/hook` annotation.
pub fn is_hook(object: &Value) -> bool {
    object
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .is_some_and(|a| a.contains_key(HOOK_ANNOTATION))
}

/// Splits a combined pass's output back into manifests and hooks (by the hook annotation),
/// keeping order within each.
pub fn split_hooks(objects: Vec<Value>) -> (Vec<Value>, Vec<Value>) {
    objects.into_iter().partition(|o| !is_hook(o))
}

/// The labels and annotations every object of the release gets after the chain:
/// `commonMetadata`, then the origin labels (which `commonMetadata` cannot override).
pub fn release_metadata(
    release: &HelmRelease,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let (mut labels, annotations) = release
        .spec
        .common_metadata
        .as_ref()
        .map(|m| (m.labels.clone(), m.annotations.clone()))
        .unwrap_or_default();
    labels.extend(release.origin_labels());
    (labels, annotations)
}

/// Runs HelmReleases through the pipeline. One per process: it holds the Wasm runtime (one
/// wasmtime `Engine`, modules compiled once per sha256) and whose Helm rules charts render by.
#[derive(Debug, Clone)]
pub struct Engine {
    runtime: Runtime,
    ceilings: Ceilings,
    helm: HelmVersion,
    guard: GuardPolicy,
    kinds: KindScopes,
}

impl Engine {
    /// An engine over `runtime` that renders with Helm 4 rules, as Flux's helm-controller (which
    /// embeds the Helm 4 SDK) does.
    pub fn new(runtime: Runtime) -> Self {
        Engine {
            runtime,
            ceilings: Ceilings::default(),
            helm: HelmVersion::V4,
            guard: GuardPolicy::default(),
            kinds: KindScopes::well_known(),
        }
    }

    /// The same engine with the operator's output-guard policy: every post-render step's
    /// output is checked against it ([`crate::guard`]). The default policy allows no tenant
    /// cluster-scoped objects from post-renderers.
    pub fn with_guard(mut self, policy: GuardPolicy) -> Self {
        self.guard = policy;
        self
    }

    /// The same engine, knowing which kinds are cluster-scoped from `kinds` (a controller adds
    /// what discovery says; the default is [`KindScopes::well_known`]). Each build adds the
    /// CRDs its chart renders.
    pub fn with_kind_scopes(mut self, kinds: KindScopes) -> Self {
        self.kinds = kinds;
        self
    }

    /// The same engine with the operator's caps on every plugin's limits.
    pub fn with_ceilings(mut self, ceilings: Ceilings) -> Self {
        self.ceilings = ceilings;
        self
    }

    /// The same engine rendering with `helm`'s rules (`capstan build --helm-version 3`, `capstan
    /// controller --helm-version 3` for releases written against Helm 3).
    #[must_use]
    pub fn with_helm_version(mut self, helm: HelmVersion) -> Self {
        self.helm = helm;
        self
    }

    /// The Wasm runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Whose Helm rules charts render by.
    pub fn helm_version(&self) -> HelmVersion {
        self.helm
    }

    /// Builds `release`: plugins resolved and configs validated first, then the chart fetched,
    /// values composed, rendered, post-rendered (every step's output checked by the output
    /// guard, [`Engine::with_guard`]) and labelled.
    pub fn build(
        &self,
        release: &HelmRelease,
        lookup: &dyn ObjectLookup,
        fetcher: &dyn Fetcher,
    ) -> Result<Build> {
        Run {
            release,
            name: release.full_name(),
            lookup,
            fetcher,
            runtime: &self.runtime,
            ceilings: self.ceilings,
            warnings: std::cell::RefCell::new(Vec::new()),
            helm: self.helm,
            guard: &self.guard,
            kinds: &self.kinds,
        }
        .build()
    }
}

/// One build's state: the release and its two seams.
struct Run<'a> {
    release: &'a HelmRelease,
    name: String,
    lookup: &'a dyn ObjectLookup,
    fetcher: &'a dyn Fetcher,
    runtime: &'a Runtime,
    ceilings: Ceilings,
    /// Warnings found while resolving plugins (limits lowered to the ceilings).
    warnings: std::cell::RefCell<Vec<String>>,
    helm: HelmVersion,
    guard: &'a GuardPolicy,
    kinds: &'a KindScopes,
}

struct LoadedChart {
    chart: capstan_helm::Chart,
    info: ChartInfo,
}

/// A plugin object found for a `wasm` post-renderer, owned.
enum FoundPlugin {
    Namespaced(WasmPlugin),
    Cluster(ClusterWasmPlugin),
}

impl FoundPlugin {
    fn as_resolved(&self) -> ResolvedPlugin<'_> {
        match self {
            FoundPlugin::Namespaced(p) => ResolvedPlugin::Namespaced(p),
            FoundPlugin::Cluster(p) => ResolvedPlugin::Cluster(p),
        }
    }
}

/// Where a wasm post-renderer's module comes from.
enum Module {
    /// A module the fetcher substitutes (`--plugin-dir`), with the plugin object if any.
    Local(FetchedModule, Option<FoundPlugin>),
    /// The plugin object's declared source.
    Declared(FoundPlugin),
}

impl Run<'_> {
    fn build(&self) -> Result<Build> {
        let release = self.release;
        let started = std::time::Instant::now();
        let (pipeline, mut steps, step_digests) = self.pipeline()?;
        let mut diagnostics = pipeline
            .validate()
            .map_err(|source| Error::ValidateConfig {
                release: self.name.clone(),
                source,
            })?;
        let mut build_timings = BuildTimings {
            plugins: started.elapsed(),
            ..BuildTimings::default()
        };
        let started = std::time::Instant::now();
        let loaded = self.load_chart()?;
        build_timings.chart = started.elapsed();
        let mut warnings = self.warnings.take();
        let composed = compose_values(release, self.lookup).map_err(Error::ComposeValues)?;
        warnings.extend(
            composed
                .warnings
                .iter()
                .map(|w| format!("HelmRelease {}: {w}", self.name)),
        );
        let mut chart = loaded.chart;
        self.apply_values_files(&mut chart)?;
        let values = composed.values;
        let helm_release = capstan_helm::Release {
            name: release.release_name(),
            namespace: release.release_namespace().to_owned(),
            ..capstan_helm::Release::default()
        };
        let started = std::time::Instant::now();
        let rendered = capstan_helm::render(
            &chart,
            &values,
            &helm_release,
            &capstan_helm::Capabilities::for_helm(self.helm),
        )
        .map_err(|source| Error::Render {
            release: self.name.clone(),
            chart: format!("{}@{}", loaded.info.name, loaded.info.version),
            source,
        })?;
        build_timings.render = started.elapsed();

        let parse = |template: &str, text: &str| {
            postrender::parse_manifests(text)
                .map(|docs| {
                    docs.into_iter()
                        .filter(|d| !d.is_null())
                        .collect::<Vec<_>>()
                })
                .map_err(|source| Error::ParseRendered {
                    release: self.name.clone(),
                    template: template.to_owned(),
                    source,
                })
        };
        let mut crds = Vec::new();
        if !skip_crds(release) {
            for file in &rendered.crds {
                crds.extend(parse(&file.name, &String::from_utf8_lossy(&file.data))?);
            }
        }
        let mut manifests = Vec::new();
        for m in &rendered.manifests {
            manifests.extend(parse(&m.name, &m.content)?);
        }
        let mut hooks = Vec::new();
        let mut hook_sources = BTreeMap::new();
        for h in &rendered.hooks {
            for o in parse(&h.path, &h.manifest)? {
                hook_sources.insert(hook_key(&o), h.path.clone());
                hooks.push(o);
            }
        }

        let mut kinds = self.kinds.clone();
        kinds.add_crds(crds.iter().chain(&manifests).chain(&hooks));
        let mut guard = OutputGuard::new(
            helm_release.namespace.clone(),
            release.namespace_or_default(),
            self.guard.clone(),
        )
        .owned_by(release.name(), &helm_release.name);
        guard.kinds = kinds.clone();
        let pipeline = pipeline.with_guard(guard);
        let ctx = Context {
            release_name: helm_release.name.clone(),
            release_namespace: helm_release.namespace.clone(),
            chart_name: loaded.info.name.clone(),
            chart_version: loaded.info.version.clone(),
            plugin_name: String::new(),
        };
        let run = |pass: &'static str, objects: Vec<Value>| {
            pipeline
                .run(&ctx, objects)
                .map_err(|source| Error::PostRender {
                    release: self.name.clone(),
                    pass,
                    source,
                })
        };
        let mut timings: Vec<Duration> = vec![Duration::ZERO; steps.len()];
        let mut record = |out: &postrender::PipelineOutput,
                          diagnostics: &mut Vec<StepDiagnostic>| {
            for (i, (_, d)) in out.timings.iter().enumerate() {
                if let Some(t) = timings.get_mut(i) {
                    *t += *d;
                }
            }
            diagnostics.extend(out.diagnostics.iter().cloned());
        };
        let (mut objects, mut hooks) = match HookRouting::of(release.post_render_strategy()) {
            HookRouting::Skip => {
                let out = run("manifests", manifests)?;
                record(&out, &mut diagnostics);
                (out.objects, hooks)
            }
            HookRouting::WithManifests => {
                manifests.append(&mut hooks);
                let out = run("manifests and hooks", manifests)?;
                record(&out, &mut diagnostics);
                split_hooks(out.objects)
            }
            HookRouting::SeparatePass => {
                let out = run("manifests", manifests)?;
                record(&out, &mut diagnostics);
                let hook_out = if hooks.is_empty() {
                    None
                } else {
                    Some(run("hooks", hooks)?)
                };
                if let Some(h) = &hook_out {
                    record(h, &mut diagnostics);
                }
                (out.objects, hook_out.map(|h| h.objects).unwrap_or_default())
            }
        };
        for (step, t) in steps.iter_mut().zip(timings) {
            step.duration = t;
        }
        let tenant = release.namespace_or_default();
        if self.guard.chart_objects && !self.guard.allows_cluster_scoped(tenant) {
            let cluster_scoped = crds.iter().chain(&objects).chain(&hooks).find_map(|o| {
                let kind = GroupKind::of(o).filter(|k| kinds.is_cluster_scoped(k))?;
                let name = o.pointer("/metadata/name").and_then(Value::as_str);
                Some(format!("{kind} {}", name.unwrap_or("")))
            });
            if let Some(object) = cluster_scoped {
                return Err(Error::ClusterScopedRefused {
                    release: self.name.clone(),
                    object,
                    tenant: tenant.to_owned(),
                    allowed: self.guard.cluster_scoped_tenants(),
                });
            }
        }
        let (labels, annotations) = release_metadata(release);
        capstan_kustomize::apply_common_metadata(&mut crds, &labels, &annotations);
        capstan_kustomize::apply_common_metadata(&mut objects, &labels, &annotations);
        capstan_kustomize::apply_common_metadata(&mut hooks, &labels, &annotations);
        let digests = Digests {
            chart: loaded.info.digest.clone(),
            values: sha256_json(&Value::Object(values.clone())),
            post_renderers: step_digests,
            common_metadata: sha256_json(
                &serde_json::to_value(&release.spec.common_metadata).unwrap_or(Value::Null),
            ),
        };
        Ok(Build {
            release: self.name.clone(),
            release_name: helm_release.name,
            release_namespace: helm_release.namespace,
            chart_metadata: serde_json::to_value(&chart.metadata).unwrap_or(Value::Null),
            chart: loaded.info,
            values,
            crds,
            objects,
            hooks,
            hook_sources,
            steps,
            warnings,
            diagnostics,
            digests,
            timings: build_timings,
        })
    }

    /// Builds the chain in `postRenderers` order. Every plugin reference is resolved before any
    /// module is fetched, so a misnamed plugin is reported without touching the network.
    fn pipeline(&self) -> Result<(Pipeline, Vec<StepSummary>, Vec<StepDigest>)> {
        let entries = &self.release.spec.post_renderers;
        let mut modules = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            modules.push(match &entry.wasm {
                Some(w) if entry.kustomize.is_none() => Some(self.resolve_module(index, w)?),
                _ => None,
            });
        }
        let mut steps = Vec::new();
        let mut summaries = Vec::new();
        let mut digests = Vec::new();
        for (index, (entry, module)) in entries.iter().zip(modules).enumerate() {
            if let Some(k) = &entry.kustomize {
                steps.push(PostRenderer::kustomize("kustomize", k.clone()));
                summaries.push(StepSummary {
                    name: "kustomize".to_owned(),
                    detail: "kustomize".to_owned(),
                    duration: Duration::ZERO,
                });
                digests.push(StepDigest {
                    name: "kustomize".to_owned(),
                    module: None,
                    config: sha256_json(&serde_json::to_value(k).unwrap_or(Value::Null)),
                });
            } else if let (Some(w), Some(module)) = (&entry.wasm, module) {
                let (step, summary, digest) = self.wasm_step(index, w, module)?;
                steps.push(step);
                summaries.push(summary);
                digests.push(digest);
            }
        }
        Ok((Pipeline::new(steps), summaries, digests))
    }

    fn plugin_lookup_error(&self, index: usize, source: crate::LookupError) -> Error {
        Error::Lookup {
            release: self.name.clone(),
            field: format!("spec.postRenderers[{index}].wasm"),
            source,
        }
    }

    /// A ClusterWasmPlugin with a `namespaceSelector` serves only the namespaces it selects,
    /// judged by the labels of the HelmRelease's namespace (plus `kubernetes.io/metadata.name`,
    /// which the API server puts on every namespace).
    fn check_namespace_selector(&self, index: usize, plugin: &ClusterWasmPlugin) -> Result<()> {
        let Some(selector) = plugin.spec.namespace_selector.as_ref() else {
            return Ok(());
        };
        let name = plugin.metadata.name.as_deref().unwrap_or_default();
        let refused = |source| Error::ResolvePlugin { index, source };
        let expression = capstan_api::namespace_selector_expression(&self.name, name, selector)
            .map_err(refused)?;
        let parsed = capstan_sdk::Selector::parse(&expression).map_err(|e| {
            refused(PluginError::InvalidNamespaceSelector {
                release: self.name.clone(),
                name: name.to_owned(),
                reason: e.to_string(),
            })
        })?;
        let namespace = self.release.namespace_or_default();
        let mut labels = self
            .lookup
            .namespace_labels(namespace)
            .map_err(|e| self.plugin_lookup_error(index, e))?
            .unwrap_or_default();
        labels.insert(
            "kubernetes.io/metadata.name".to_owned(),
            Value::String(namespace.to_owned()),
        );
        if parsed.matches(Some(&labels)) {
            return Ok(());
        }
        Err(refused(PluginError::NamespaceNotSelected {
            release: self.name.clone(),
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            selector: expression,
        }))
    }

    /// Which plugin object (or fetcher-substituted module) a `wasm` post-renderer names.
    fn resolve_module(&self, index: usize, renderer: &WasmPostRenderer) -> Result<Module> {
        let name = renderer.plugin.as_str();
        let (plugins, cluster_plugins) = match renderer.kind.unwrap_or_default() {
            PluginKind::WasmPlugin => (
                self.lookup
                    .wasm_plugins_named(name)
                    .map_err(|e| self.plugin_lookup_error(index, e))?,
                Vec::new(),
            ),
            PluginKind::ClusterWasmPlugin => (
                Vec::new(),
                self.lookup
                    .cluster_wasm_plugin(name)
                    .map_err(|e| self.plugin_lookup_error(index, e))?
                    .into_iter()
                    .collect(),
            ),
        };
        let found = capstan_api::resolve_plugin(self.release, renderer, &plugins, &cluster_plugins)
            .map(|p| match p {
                ResolvedPlugin::Namespaced(p) => FoundPlugin::Namespaced(p.clone()),
                ResolvedPlugin::Cluster(p) => FoundPlugin::Cluster(p.clone()),
            });
        if let Ok(FoundPlugin::Cluster(plugin)) = &found {
            self.check_namespace_selector(index, plugin)?;
        }
        let local = self
            .fetcher
            .local_module(name)
            .transpose()
            .map_err(|source| Error::FetchModule {
                release: self.name.clone(),
                index,
                plugin: format!("plugin {name}"),
                location: "the local plugin directory".to_owned(),
                source: Box::new(source),
            })?;
        Ok(match (found, local) {
            (Ok(plugin), Some(module)) => Module::Local(module, Some(plugin)),
            (Ok(plugin), None) => Module::Declared(plugin),
            // A local module stands in for a plugin object that does not exist.
            (Err(PluginError::FindPlugin { .. }), Some(module)) => Module::Local(module, None),
            (Err(mut source), None) => {
                if let PluginError::FindPlugin {
                    kind,
                    namespace,
                    known,
                    ..
                } = &mut source
                {
                    let kind = match kind {
                        PluginKind::WasmPlugin => ObjectKind::WasmPlugin,
                        PluginKind::ClusterWasmPlugin => ObjectKind::ClusterWasmPlugin,
                    };
                    *known = self
                        .lookup
                        .known(kind, namespace.as_deref().unwrap_or_default());
                }
                return Err(Error::ResolvePlugin { index, source });
            }
            (Err(source), Some(_)) => return Err(Error::ResolvePlugin { index, source }),
        })
    }

    fn wasm_step(
        &self,
        index: usize,
        renderer: &WasmPostRenderer,
        module: Module,
    ) -> Result<(PostRenderer, StepSummary, StepDigest)> {
        let name = renderer.plugin.as_str();
        let (fetched, plugin) = match module {
            Module::Local(fetched, plugin) => {
                if let Some(expected) = plugin.as_ref().and_then(|p| p.as_resolved().spec().sha256)
                {
                    let display = plugin
                        .as_ref()
                        .map_or_else(String::new, |p| p.as_resolved().display_name());
                    let expected = expected.strip_prefix("sha256:").unwrap_or(expected);
                    self.verify(index, &display, &fetched.location, expected, &fetched.bytes)?;
                }
                (fetched, plugin)
            }
            Module::Declared(plugin) => (
                self.fetch_module(index, plugin.as_resolved())?,
                Some(plugin),
            ),
        };
        let resolved = plugin.as_ref().map(FoundPlugin::as_resolved);
        let display = resolved.map_or_else(|| format!("plugin {name}"), |p| p.display_name());
        let limits =
            capstan_api::effective_limits(&display, resolved.and_then(|p| p.spec().limits))
                .map_err(|source| Error::ResolvePlugin { index, source })?;
        let (limits, lowered) = self.ceilings.cap(&display, limits);
        self.warnings.borrow_mut().extend(lowered);
        let config = capstan_api::effective_config(
            resolved.and_then(|p| p.spec().config),
            renderer.config.as_ref(),
        );
        let loaded = self
            .runtime
            .load(name, &fetched.bytes, wasm_limits(limits))
            .map_err(|source| Error::LoadPlugin {
                release: self.name.clone(),
                index,
                plugin: name.to_owned(),
                source: Box::new(source),
            })?;
        let sha = loaded.id().sha256();
        let hex = sha.strip_prefix("sha256:").unwrap_or(&sha);
        let short = hex.get(..12).unwrap_or(hex).to_owned();
        let summary = StepSummary {
            name: name.to_owned(),
            detail: format!("wasm {name}@sha256:{short} ({})", fetched.location),
            duration: Duration::ZERO,
        };
        let digest = StepDigest {
            name: name.to_owned(),
            module: Some(format!("sha256:{hex}")),
            config: sha256_json(&config),
        };
        Ok((PostRenderer::wasm(loaded, config), summary, digest))
    }

    fn verify(
        &self,
        index: usize,
        plugin: &str,
        location: &str,
        expected: &str,
        bytes: &[u8],
    ) -> Result<()> {
        let actual = hex::encode(sha2::Sha256::digest(bytes));
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(Error::VerifyModule {
                release: self.name.clone(),
                index,
                plugin: plugin.to_owned(),
                location: location.to_owned(),
                expected: expected.to_ascii_lowercase().into(),
                actual: actual.into(),
            });
        }
        Ok(())
    }

    /// The Secret `namespace/name` a source or plugin names, or an error naming the field.
    fn secret(&self, field: &str, namespace: &str, name: &str) -> Result<Value> {
        self.lookup
            .secret(namespace, name)
            .map_err(|source| Error::Lookup {
                release: self.name.clone(),
                field: field.to_owned(),
                source,
            })?
            .ok_or_else(|| Error::FindSource {
                release: self.name.clone(),
                field: field.to_owned(),
                kind: ObjectKind::Secret,
                object: format!("{namespace}/{name}"),
                place: self.lookup.place(),
                known: None,
            })
    }

    /// Credentials and TLS from `secretRef` (`username`/`password`, or a
    /// `kubernetes.io/dockerconfigjson` Secret) and `certSecretRef` (`ca.crt`, `tls.crt`,
    /// `tls.key`), as Flux's source-controller reads them.
    fn auth(
        &self,
        field: &str,
        namespace: &str,
        secret_ref: Option<&LocalObjectReference>,
        cert_secret_ref: Option<&LocalObjectReference>,
        host: &str,
    ) -> Result<Auth> {
        let mut auth = Auth::default();
        if let Some(r) = secret_ref {
            let field = format!("{field}.secretRef");
            let secret = self.secret(&field, namespace, &r.name)?;
            let data = secret_data(&secret);
            let invalid = |reason: String| Error::InvalidSecret {
                release: self.name.clone(),
                field: field.clone(),
                secret: format!("{namespace}/{}", r.name),
                reason,
            };
            if let (Some(user), Some(pass)) = (data.get("username"), data.get("password")) {
                auth.credentials = Some(Credentials {
                    username: String::from_utf8_lossy(user).into_owned(),
                    password: String::from_utf8_lossy(pass).into_owned(),
                });
            } else if let Some(config) = data.get(".dockerconfigjson") {
                auth.credentials = Some(docker_config_credentials(config, host).map_err(invalid)?);
            } else if !data.contains_key("ca.crt") && !data.contains_key("tls.crt") {
                return Err(invalid(
                    "has neither username/password nor .dockerconfigjson (nor ca.crt/tls.crt)"
                        .to_owned(),
                ));
            }
            auth.tls = tls_from(&data);
        }
        if let Some(r) = cert_secret_ref {
            let field = format!("{field}.certSecretRef");
            let secret = self.secret(&field, namespace, &r.name)?;
            auth.tls = tls_from(&secret_data(&secret));
            if auth.tls.is_none() {
                return Err(Error::InvalidSecret {
                    release: self.name.clone(),
                    field,
                    secret: format!("{namespace}/{}", r.name),
                    reason: "has none of ca.crt, tls.crt, tls.key".to_owned(),
                });
            }
        }
        Ok(auth)
    }

    /// The module bytes of a plugin object, from its declared source, sha256 verified.
    fn fetch_module(&self, index: usize, plugin: ResolvedPlugin<'_>) -> Result<FetchedModule> {
        let display = plugin.display_name();
        let location = capstan_api::module_location(&display, plugin.spec())
            .map_err(|source| Error::ResolvePlugin { index, source })?;
        let expected = location
            .sha256
            .as_deref()
            .map(Digest::parse)
            .transpose()
            .ok()
            .flatten();
        let plugin_namespace = match plugin {
            ResolvedPlugin::Namespaced(p) => p
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| self.release.namespace_or_default().to_owned()),
            ResolvedPlugin::Cluster(_) => self.release.namespace_or_default().to_owned(),
        };
        let request = |location: ModuleLocation| ModuleRequest {
            location,
            expected: expected.clone(),
            auth: Auth::default(),
        };
        let request = match &location.source {
            ModuleSource::Oci { reference } => request(ModuleLocation::Oci(reference.clone())),
            ModuleSource::Url { url } => request(ModuleLocation::Url(url.clone())),
            ModuleSource::ConfigMap { name, key } => {
                return self.config_map_module(
                    index,
                    &display,
                    (&plugin_namespace, name, key),
                    expected.as_ref(),
                );
            }
        };
        self.fetcher
            .fetch_module(&request)
            .map_err(|e| self.module_error(index, &display, &request.location.to_string(), e))
    }

    fn config_map_module(
        &self,
        index: usize,
        display: &str,
        (namespace, name, key): (&str, &str, &str),
        expected: Option<&Digest>,
    ) -> Result<FetchedModule> {
        let bad = |reason: String| Error::ReadConfigMapModule {
            release: self.name.clone(),
            index,
            plugin: display.to_owned(),
            reason,
        };
        let cm = self
            .lookup
            .config_map(namespace, name)
            .map_err(|source| Error::Lookup {
                release: self.name.clone(),
                field: format!("spec.postRenderers[{index}].wasm"),
                source,
            })?
            .ok_or_else(|| {
                bad(format!(
                    "ConfigMap {namespace}/{name} not found{}",
                    self.lookup.place()
                ))
            })?;
        let encoded = cm
            .get("binaryData")
            .and_then(|b| b.get(key))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                bad(format!(
                    "ConfigMap {namespace}/{name} has no binaryData key {key:?}"
                ))
            })?;
        let cleaned: String = encoded.split_whitespace().collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(cleaned)
            .map_err(|e| {
                bad(format!(
                    "ConfigMap {namespace}/{name} binaryData.{key} is not base64: {e}"
                ))
            })?;
        let location = format!("ConfigMap {namespace}/{name} binaryData.{key}");
        if let Some(d) = expected {
            self.verify(index, display, &location, d.hex(), &bytes)?;
        }
        Ok(FetchedModule { bytes, location })
    }

    /// A digest mismatch from the source layer becomes [`Error::VerifyModule`], so it reads the
    /// same whatever the source.
    fn module_error(&self, index: usize, plugin: &str, location: &str, error: FetchError) -> Error {
        match error {
            FetchError::Source(capstan_source::Error::VerifyDigest {
                expected, actual, ..
            }) => Error::VerifyModule {
                release: self.name.clone(),
                index,
                plugin: plugin.to_owned(),
                location: location.to_owned(),
                expected: expected.hex().into(),
                actual: actual.hex().into(),
            },
            source => Error::FetchModule {
                release: self.name.clone(),
                index,
                plugin: plugin.to_owned(),
                location: location.to_owned(),
                source: Box::new(source),
            },
        }
    }

    fn fetch_chart(&self, request: ChartRequest) -> Result<FetchedChart> {
        self.fetcher
            .fetch_chart(&request)
            .map_err(|source| Error::FetchChart {
                release: self.name.clone(),
                chart: request.chart.clone(),
                location: request.location.to_string(),
                source: Box::new(source),
            })
    }

    /// Fetches and loads the chart from wherever the release says.
    fn load_chart(&self) -> Result<LoadedChart> {
        let release = self.release;
        let source = release
            .chart_source()
            .map_err(|source| Error::ChartSource {
                release: self.name.clone(),
                source,
            })?;
        let request =
            |location: ChartLocation, chart: &str, version: &str, auth: Auth| ChartRequest {
                location,
                chart: chart.to_owned(),
                version: version.to_owned(),
                auth,
            };
        let fetched = match source {
            ChartSource::HttpRepository {
                url,
                chart,
                version,
            }
            | ChartSource::OciRepository {
                url,
                chart,
                version,
            } => self.fetch_chart(request(
                ChartLocation::Repository(url.to_owned()),
                chart,
                version,
                Auth::default(),
            ))?,
            ChartSource::LocalPath { path } => {
                let chart = release
                    .spec
                    .chart
                    .as_ref()
                    .map(|c| c.spec.chart.as_str())
                    .unwrap_or("");
                let version = release
                    .spec
                    .chart
                    .as_ref()
                    .and_then(|c| c.spec.version.as_deref())
                    .unwrap_or("");
                let fetched = self.fetch_chart(request(
                    ChartLocation::Local(path.to_owned()),
                    chart,
                    version,
                    Auth::default(),
                ))?;
                if matches!(fetched.content, ChartContent::Files(_)) {
                    self.check_dir_version(&fetched)?;
                }
                fetched
            }
            ChartSource::SourceRef {
                kind,
                name,
                namespace,
                chart,
                version,
            } => {
                if kind != "HelmRepository" {
                    return Err(Error::UnsupportedSource {
                        release: self.name.clone(),
                        field: "spec.chart.spec.sourceRef",
                        reason: format!(
                            "{kind} sources are not supported (use a HelmRepository, chart.spec.repository or chartRef to an OCIRepository)"
                        ),
                    });
                }
                let repo = self.find_source(
                    "spec.chart.spec.sourceRef",
                    ObjectKind::HelmRepository,
                    (namespace, name),
                    self.lookup.helm_repository(namespace, name),
                )?;
                let url = repo.spec.url.as_str();
                let auth = Auth {
                    pass_credentials: repo.spec.pass_credentials.unwrap_or(false),
                    plain_http: repo.spec.insecure.filter(|i| *i),
                    ..self.auth(
                        &format!("HelmRepository {namespace}/{name} spec"),
                        namespace,
                        repo.spec.secret_ref.as_ref(),
                        repo.spec.cert_secret_ref.as_ref(),
                        url,
                    )?
                };
                let location = if url.starts_with("oci://")
                    || url.starts_with("http://")
                    || url.starts_with("https://")
                {
                    ChartLocation::Repository(url.to_owned())
                } else {
                    ChartLocation::Local(url.to_owned())
                };
                self.fetch_chart(request(location, chart, version, auth))?
            }
            ChartSource::ChartRef {
                kind,
                name,
                namespace,
            } => {
                if kind != "OCIRepository" {
                    return Err(Error::UnsupportedSource {
                        release: self.name.clone(),
                        field: "spec.chartRef",
                        reason: format!(
                            "{kind} chart references are not supported (use an OCIRepository)"
                        ),
                    });
                }
                let repo = self.find_source(
                    "spec.chartRef",
                    ObjectKind::OciRepository,
                    (namespace, name),
                    self.lookup.oci_repository(namespace, name),
                )?;
                let url = repo.spec.url.as_str();
                let auth = Auth {
                    plain_http: repo.spec.insecure.filter(|i| *i),
                    ..self.auth(
                        &format!("OCIRepository {namespace}/{name} spec"),
                        namespace,
                        repo.spec.secret_ref.as_ref(),
                        repo.spec.cert_secret_ref.as_ref(),
                        url,
                    )?
                };
                let (location, range) = match repo.spec.version() {
                    capstan_api::OciVersion::Digest(d) => (format!("{url}@{d}"), String::new()),
                    capstan_api::OciVersion::Semver { range, .. } => {
                        (url.to_owned(), range.to_owned())
                    }
                    capstan_api::OciVersion::Tag(t) => (format!("{url}:{t}"), String::new()),
                };
                self.fetch_chart(request(
                    ChartLocation::Repository(location),
                    "",
                    &range,
                    auth,
                ))?
            }
        };
        self.load_fetched(fetched)
    }

    /// The source object a lookup found, or the error naming the field (lookup failed, or not
    /// found with the known objects of that kind).
    fn find_source<T>(
        &self,
        field: &str,
        kind: ObjectKind,
        (namespace, name): (&str, &str),
        found: crate::lookup::Found<T>,
    ) -> Result<T> {
        found
            .map_err(|source| Error::Lookup {
                release: self.name.clone(),
                field: field.to_owned(),
                source,
            })?
            .ok_or_else(|| Error::FindSource {
                release: self.name.clone(),
                field: field.to_owned(),
                kind,
                object: format!("{namespace}/{name}"),
                place: self.lookup.place(),
                known: Some(self.lookup.known(kind, namespace)),
            })
    }

    /// A chart directory has one version: it must satisfy `chart.spec.version` like a
    /// repository's would.
    fn check_dir_version(&self, fetched: &FetchedChart) -> Result<()> {
        let range = self
            .release
            .spec
            .chart
            .as_ref()
            .and_then(|c| c.spec.version.as_deref())
            .unwrap_or("")
            .trim();
        if range.is_empty() || range == "*" {
            return Ok(());
        }
        let version = chart_yaml_version(fetched).unwrap_or_default();
        let fail = |source| Error::FetchChart {
            release: self.name.clone(),
            chart: fetched.name.clone(),
            location: fetched.location.clone(),
            source: Box::new(FetchError::Source(source)),
        };
        let picked =
            capstan_source::semver::select(range, [version.as_str()]).map_err(|source| {
                fail(capstan_source::Error::ParseRange {
                    chart: fetched.name.clone(),
                    range: range.to_owned(),
                    source,
                })
            })?;
        if picked.is_none() {
            return Err(fail(capstan_source::Error::VersionNotFound {
                repository: fetched.location.clone(),
                chart: fetched.name.clone(),
                range: range.to_owned(),
                available: vec![version],
            }));
        }
        Ok(())
    }

    fn load_fetched(&self, fetched: FetchedChart) -> Result<LoadedChart> {
        let load_error = |source: capstan_helm::LoadError| Error::LoadChart {
            release: self.name.clone(),
            location: fetched.location.clone(),
            source: source.for_helm(self.helm),
        };
        let (chart, digest) = match &fetched.content {
            ChartContent::Archive(bytes) => (
                capstan_helm::Chart::from_archive(bytes, &fetched.location).map_err(load_error)?,
                fetched.digest.clone(),
            ),
            ChartContent::Files(files) => (
                capstan_helm::Chart::from_files(files.clone()).map_err(load_error)?,
                files_digest(files),
            ),
        };
        let (name, version) = if matches!(fetched.content, ChartContent::Files(_)) {
            (chart.metadata.name.clone(), chart.metadata.version.clone())
        } else {
            (fetched.name.clone(), fetched.version.clone())
        };
        Ok(LoadedChart {
            info: ChartInfo {
                name,
                version,
                digest,
                location: fetched.location,
            },
            chart,
        })
    }

    /// `spec.chart.spec.valuesFile`/`valuesFiles`: files of the chart merged in order replace
    /// the chart's default values, as Flux's source-controller does (read with
    /// `sigs.k8s.io/yaml`, so numbers are float64 as in any Helm values file).
    fn apply_values_files(&self, chart: &mut capstan_helm::Chart) -> Result<()> {
        let Some(template) = &self.release.spec.chart else {
            return Ok(());
        };
        let spec = &template.spec;
        let files: Vec<&str> = spec
            .values_file
            .iter()
            .chain(spec.values_files.iter())
            .map(String::as_str)
            .filter(|f| !f.is_empty())
            .collect();
        if files.is_empty() {
            return Ok(());
        }
        let mut merged = Map::new();
        for file in files {
            let fail = |reason: String| Error::ReadValuesFile {
                release: self.name.clone(),
                file: file.to_owned(),
                reason,
            };
            let doc = if file == "values.yaml" {
                Value::Object(chart.values.clone())
            } else {
                let Some(f) = chart.files.iter().find(|f| f.name == file) else {
                    if spec.ignore_missing_values_files {
                        continue;
                    }
                    return Err(fail("not found in the chart".to_owned()));
                };
                capstan_yaml::parse_json_like(&String::from_utf8_lossy(&f.data))
                    .map_err(|e| fail(format!("not YAML: {e}")))?
            };
            match doc {
                Value::Object(map) => merged = capstan_api::merge_maps(&merged, &map),
                Value::Null => {}
                _ => return Err(fail("must be a YAML map".to_owned())),
            }
        }
        chart.values = merged;
        Ok(())
    }
}

/// The version in a chart directory's `Chart.yaml` (checked before loading the whole chart).
fn chart_yaml_version(fetched: &FetchedChart) -> Option<String> {
    let ChartContent::Files(files) = &fetched.content else {
        return None;
    };
    let chart_yaml = files.iter().find(|f| f.name == "Chart.yaml")?;
    let doc = capstan_yaml::parse_json_like(&String::from_utf8_lossy(&chart_yaml.data)).ok()?;
    match doc.get("version")? {
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// A Secret's `data` (base64-decoded) and `stringData`, by key.
fn secret_data(secret: &Value) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    if let Some(data) = secret.get("data").and_then(Value::as_object) {
        for (k, v) in data {
            if let Some(bytes) = v.as_str().and_then(|s| {
                let cleaned: String = s.split_whitespace().collect();
                base64::engine::general_purpose::STANDARD
                    .decode(cleaned)
                    .ok()
            }) {
                out.insert(k.clone(), bytes);
            }
        }
    }
    if let Some(data) = secret.get("stringData").and_then(Value::as_object) {
        for (k, v) in data {
            if let Some(s) = v.as_str() {
                out.insert(k.clone(), s.as_bytes().to_vec());
            }
        }
    }
    out
}

fn tls_from(data: &BTreeMap<String, Vec<u8>>) -> Option<TlsOptions> {
    let ca = data.get("ca.crt").or_else(|| data.get("caFile")).cloned();
    let cert = data
        .get("tls.crt")
        .or_else(|| data.get("certFile"))
        .cloned();
    let key = data.get("tls.key").or_else(|| data.get("keyFile")).cloned();
    (ca.is_some() || cert.is_some()).then_some(TlsOptions {
        ca_pem: ca,
        client_cert_pem: cert,
        client_key_pem: key,
        insecure_skip_verify: false,
    })
}

/// The credentials for `location`'s host in a `.dockerconfigjson`.
fn docker_config_credentials(
    config: &[u8],
    location: &str,
) -> std::result::Result<Credentials, String> {
    let doc: Value = serde_json::from_slice(config)
        .map_err(|e| format!(".dockerconfigjson is not JSON: {e}"))?;
    let host = location
        .split("://")
        .nth(1)
        .unwrap_or(location)
        .split('/')
        .next()
        .unwrap_or("");
    let auths = doc
        .get("auths")
        .and_then(Value::as_object)
        .ok_or_else(|| ".dockerconfigjson has no auths".to_owned())?;
    let entry = auths
        .iter()
        .find(|(k, _)| {
            let k = k.split("://").nth(1).unwrap_or(k);
            k.split('/').next() == Some(host)
        })
        .map(|(_, v)| v)
        .ok_or_else(|| {
            format!(
                ".dockerconfigjson has no entry for {host:?}; it has {}",
                auths.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })?;
    if let (Some(u), Some(p)) = (
        entry.get("username").and_then(Value::as_str),
        entry.get("password").and_then(Value::as_str),
    ) {
        return Ok(Credentials {
            username: u.to_owned(),
            password: p.to_owned(),
        });
    }
    let encoded = entry
        .get("auth")
        .and_then(Value::as_str)
        .ok_or_else(|| format!(".dockerconfigjson entry {host:?} has no auth"))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| format!(".dockerconfigjson entry {host:?}: auth is not base64"))?;
    let (u, p) = decoded
        .split_once(':')
        .ok_or_else(|| format!(".dockerconfigjson entry {host:?}: auth is not user:password"))?;
    Ok(Credentials {
        username: u.to_owned(),
        password: p.to_owned(),
    })
}

fn skip_crds(release: &HelmRelease) -> bool {
    release
        .spec
        .install
        .as_ref()
        .is_some_and(|i| i.skip_crds || matches!(i.crds, Some(capstan_api::CrdsPolicy::Skip)))
}

fn wasm_limits(limits: EffectiveLimits) -> Limits {
    Limits {
        memory_bytes: limits.memory_bytes,
        timeout: limits.timeout,
        max_output_bytes: limits.max_output_bytes,
        ..Limits::default()
    }
}

#[cfg(test)]
mod tests;
