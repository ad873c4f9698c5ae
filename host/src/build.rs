//! `capstan build`: a whole HelmRelease, offline, to the manifest stream it would apply.
//!
//! ```text
//!  -f files ─► documents ─► prepare(): exactly one HelmRelease + WasmPlugins, sources,
//!                            ConfigMaps/Secrets; every ignored field is a warning
//!     │
//!     ▼
//!  Prepared::build()
//!     1. post-renderers: kustomize natively, wasm modules from --plugin-dir / OCI / URL /
//!        ConfigMap (sha256 verified), loaded with the plugin's limits, configs validated
//!     2. chart: local dir/archive, HTTP or OCI repository, Flux HelmRepository/OCIRepository,
//!        digest verified and cached by digest
//!     3. values in Flux's order (valuesFrom ← values ← targetPaths), chart valuesFiles
//!     4. render (capstan-helm), release name/namespace by Flux's rules
//!     5. post-render chain; hooks routed by postRenderStrategy
//!     6. commonMetadata + origin labels on every object
//!     ▼
//!  Build { objects, hooks, chart, steps (with durations), warnings, diagnostics }
//! ```
//!
//! The pure decisions — which labels go where ([`release_metadata`]), how hooks are routed
//! ([`HookRouting`], [`split_hooks`]), the summary text ([`Build::summary`]) — are plain
//! functions with unit tests in [`tests`](self).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use capstan_api::{
    ChartSource, EffectiveLimits, HelmRelease, Inputs, ModuleSource, ParsedRelease, PluginError,
    PostRenderStrategy, ResolvedPlugin, WasmPostRenderer,
};
use capstan_sdk::Context;
use capstan_source::{ArtifactKind, Cache, Digest, FetchOptions, FetchedChart};
use capstan_wasm::{Limits, Runtime};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;
use sha2::Digest as _;

use crate::postrender::{self, Pipeline, PostRenderer, StepDiagnostic};

/// The annotation that makes a rendered object a Helm hook.
pub const HOOK_ANNOTATION: &str = "helm.sh/hook";

/// Why a build failed. Every message names the HelmRelease, and the source, plugin or field.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input file could not be read.
    #[error("cannot read {path}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An input file is not YAML.
    #[error("{path} is not a YAML stream")]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: capstan_yaml::Error,
    },
    /// An input document is a malformed HelmRelease, plugin or source.
    #[error("reading the inputs")]
    ClassifyInputs(#[source] capstan_api::Error),
    /// No HelmRelease among the inputs.
    #[error("no HelmRelease in the input files; found {found}")]
    FindRelease {
        /// What was found instead (`ConfigMap apps/x, …` or `no documents`).
        found: String,
    },
    /// More than one HelmRelease among the inputs.
    #[error("expected exactly one HelmRelease, found {}: {}", names.len(), names.join(", "))]
    SeveralReleases {
        /// `namespace/name` of each.
        names: Vec<String>,
    },
    /// The chart source fields are contradictory.
    #[error("HelmRelease {release}: cannot decide where the chart comes from")]
    ChartSource {
        /// The HelmRelease.
        release: String,
        /// Why.
        #[source]
        source: capstan_api::Error,
    },
    /// A source object the release names is not among the inputs.
    #[error(
        "HelmRelease {release}: {field}: {kind} {object} not found in the input files; known {kind} objects: {}",
        if known.is_empty() { "none".to_owned() } else { known.join(", ") }
    )]
    FindSource {
        /// The HelmRelease.
        release: String,
        /// The field naming it.
        field: &'static str,
        /// Its kind.
        kind: &'static str,
        /// `namespace/name`.
        object: String,
        /// `namespace/name` of the objects of that kind that exist.
        known: Vec<String>,
    },
    /// A chart source Capstan cannot build from.
    #[error("HelmRelease {release}: {field}: {reason}")]
    UnsupportedSource {
        /// The HelmRelease.
        release: String,
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The chart could not be fetched (not found, version not found, digest mismatch, …).
    #[error("HelmRelease {release}: fetching chart {chart:?} from {location}")]
    FetchChart {
        /// The HelmRelease.
        release: String,
        /// The chart name.
        chart: String,
        /// Where from.
        location: String,
        /// Why.
        #[source]
        source: Box<capstan_source::Error>,
    },
    /// The chart's archive or directory is not a valid chart.
    #[error("HelmRelease {release}: loading chart from {location}")]
    LoadChart {
        /// The HelmRelease.
        release: String,
        /// Where from.
        location: String,
        /// Why.
        #[source]
        source: capstan_helm::LoadError,
    },
    /// A chart `valuesFiles` entry is not in the chart or not a YAML map.
    #[error("HelmRelease {release}: spec.chart.spec.valuesFiles: {file:?}: {reason}")]
    ReadValuesFile {
        /// The HelmRelease.
        release: String,
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
    /// The values could not be composed.
    #[error("composing values")]
    ComposeValues(#[source] capstan_api::ValuesError),
    /// A `wasm` post-renderer names a plugin that cannot be used.
    #[error("spec.postRenderers[{index}].wasm")]
    ResolvePlugin {
        /// Position in `postRenderers`.
        index: usize,
        /// Why (names the HelmRelease and plugin).
        #[source]
        source: PluginError,
    },
    /// The plugin's module could not be read from `--plugin-dir`.
    #[error(
        "HelmRelease {release}: spec.postRenderers[{index}].wasm: plugin {plugin:?}: cannot read {path}"
    )]
    ReadModule {
        /// The HelmRelease.
        release: String,
        /// Position in `postRenderers`.
        index: usize,
        /// The plugin.
        plugin: String,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The plugin's module could not be fetched.
    #[error(
        "HelmRelease {release}: spec.postRenderers[{index}].wasm: {plugin}: fetching the module from {location}"
    )]
    FetchModule {
        /// The HelmRelease.
        release: String,
        /// Position in `postRenderers`.
        index: usize,
        /// `WasmPlugin ns/name`.
        plugin: String,
        /// Where from.
        location: String,
        /// Why.
        #[source]
        source: Box<capstan_source::Error>,
    },
    /// The module from the ConfigMap is missing or not base64.
    #[error(
        "HelmRelease {release}: spec.postRenderers[{index}].wasm: {plugin}: spec.configMapRef: {reason}"
    )]
    ReadConfigMapModule {
        /// The HelmRelease.
        release: String,
        /// Position in `postRenderers`.
        index: usize,
        /// `WasmPlugin ns/name`.
        plugin: String,
        /// What is wrong.
        reason: String,
    },
    /// The module's sha256 is not the one the plugin declares.
    #[error(
        "HelmRelease {release}: spec.postRenderers[{index}].wasm: {plugin}: spec.sha256 mismatch for the module from {location}: expected sha256:{expected}, got sha256:{actual}"
    )]
    VerifyModule {
        /// The HelmRelease.
        release: String,
        /// Position in `postRenderers`.
        index: usize,
        /// `WasmPlugin ns/name`.
        plugin: String,
        /// Where the bytes came from.
        location: String,
        /// The declared sha256 (hex).
        expected: Box<str>,
        /// The module's sha256 (hex).
        actual: Box<str>,
    },
    /// The module is not a usable Wasm component, or its limits are out of range.
    #[error("HelmRelease {release}: spec.postRenderers[{index}].wasm: loading plugin {plugin:?}")]
    LoadPlugin {
        /// The HelmRelease.
        release: String,
        /// Position in `postRenderers`.
        index: usize,
        /// The plugin.
        plugin: String,
        /// Why.
        #[source]
        source: Box<capstan_wasm::Error>,
    },
    /// A plugin rejected its config (checked before anything renders).
    #[error("HelmRelease {release}: spec.postRenderers: invalid config")]
    ValidateConfig {
        /// The HelmRelease.
        release: String,
        /// The step that refused, with its diagnostics.
        #[source]
        source: postrender::Error,
    },
    /// The chart did not render.
    #[error("HelmRelease {release}: rendering chart {chart}")]
    Render {
        /// The HelmRelease.
        release: String,
        /// `name@version`.
        chart: String,
        /// Helm's error.
        #[source]
        source: capstan_helm::Error,
    },
    /// A rendered document is not a Kubernetes object.
    #[error("HelmRelease {release}: rendered template {template}")]
    ParseRendered {
        /// The HelmRelease.
        release: String,
        /// The template path.
        template: String,
        /// Why.
        #[source]
        source: postrender::Error,
    },
    /// The post-render chain failed or denied the release.
    #[error("HelmRelease {release}: post-rendering {pass}")]
    PostRender {
        /// The HelmRelease.
        release: String,
        /// `manifests`, `hooks` or `manifests and hooks`.
        pass: &'static str,
        /// Why (a denial carries the plugin's diagnostics).
        #[source]
        source: postrender::Error,
    },
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Reads every document of every file, in order; the index of the file of each document.
pub fn read_files(files: &[PathBuf]) -> Result<Vec<(usize, Value)>> {
    let mut docs = Vec::new();
    for (i, path) in files.iter().enumerate() {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
            path: path.clone(),
            source,
        })?;
        let parsed = capstan_yaml::parse_stream(&text).map_err(|source| Error::ParseFile {
            path: path.clone(),
            source,
        })?;
        docs.extend(parsed.into_iter().map(|d| (i, d)));
    }
    Ok(docs)
}

/// The inputs of one build: exactly one HelmRelease and what it may refer to.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The HelmRelease, converted to `capstan.dev/v1alpha1`.
    pub release: ParsedRelease,
    /// Plugins, sources, ConfigMaps and Secrets from the same files.
    pub inputs: Inputs,
    /// Every field or document that is ignored, for the user (`path: message`).
    pub warnings: Vec<String>,
}

fn describe(doc: &Value) -> String {
    let kind = doc
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("document");
    let meta = |f: &str| {
        doc.pointer(&format!("/metadata/{f}"))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    match (meta("namespace"), meta("name")) {
        ("", "") => kind.to_owned(),
        ("", name) => format!("{kind} {name}"),
        (ns, name) => format!("{kind} {ns}/{name}"),
    }
}

/// Sorts the documents into a build's inputs; fails unless there is exactly one HelmRelease,
/// naming what was found.
pub fn prepare(docs: &[Value]) -> Result<Prepared> {
    let mut inputs = capstan_api::classify_documents(docs).map_err(Error::ClassifyInputs)?;
    let mut releases = std::mem::take(&mut inputs.releases);
    if releases.len() > 1 {
        return Err(Error::SeveralReleases {
            names: releases.iter().map(|r| r.release.full_name()).collect(),
        });
    }
    let Some(release) = releases.pop() else {
        let found: Vec<String> = docs.iter().filter(|d| !d.is_null()).map(describe).collect();
        return Err(Error::FindRelease {
            found: if found.is_empty() {
                "no documents".to_owned()
            } else {
                found.join(", ")
            },
        });
    };
    let name = release.release.full_name();
    let mut warnings: Vec<String> = release
        .warnings
        .iter()
        .map(|w| format!("HelmRelease {name}: {w}"))
        .collect();
    warnings.extend(inputs.warnings.iter().map(ToString::to_string));
    Ok(Prepared {
        release,
        inputs,
        warnings,
    })
}

/// Where modules and charts come from besides the input files.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// `--plugin-dir`: `DIR/<plugin name>.wasm` is used when present (and verified against the
    /// plugin's `sha256` when it declares one); a plugin with no object in the inputs is then
    /// run with default limits.
    pub plugin_dir: Option<PathBuf>,
    /// Content-addressed cache for charts and modules.
    pub cache: Option<Cache>,
    /// Relative local chart paths and `file://` repositories resolve against this directory
    /// (the directory of the file holding the HelmRelease).
    pub base_dir: PathBuf,
}

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
    /// CRDs and manifests, in install order, post-rendered and labelled.
    pub objects: Vec<Value>,
    /// Hooks, after the manifests.
    pub hooks: Vec<Value>,
    /// The chain, in order.
    pub steps: Vec<StepSummary>,
    /// Non-fatal findings of the build itself (skipped optional values, …).
    pub warnings: Vec<String>,
    /// Non-error findings of the post-renderers.
    pub diagnostics: Vec<StepDiagnostic>,
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

/// Counts objects by kind.
pub fn count_kinds<'a>(objects: impl IntoIterator<Item = &'a Value>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for o in objects {
        let kind = o.get("kind").and_then(Value::as_str).unwrap_or("<no kind>");
        *counts.entry(kind.to_owned()).or_insert(0) += 1;
    }
    counts
}

fn format_duration(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2}s", d.as_secs_f64())
    } else {
        format!("{:.1}ms", d.as_secs_f64() * 1000.0)
    }
}

impl Build {
    /// The summary printed on stderr: chart and digest, objects by kind, each post-renderer
    /// with its duration, warnings and diagnostics.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let short = self
            .chart
            .digest
            .strip_prefix("sha256:")
            .map_or(self.chart.digest.as_str(), |h| &h[..h.len().min(12)]);
        s.push_str(&format!(
            "HelmRelease {}: release {} in namespace {}\n",
            self.release, self.release_name, self.release_namespace
        ));
        s.push_str(&format!(
            "chart {}@{} sha256:{short} from {}\n",
            self.chart.name, self.chart.version, self.chart.location
        ));
        let join = |counts: BTreeMap<String, usize>| {
            counts
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        s.push_str(&format!(
            "objects: {} ({})\n",
            self.objects.len(),
            join(count_kinds(&self.objects))
        ));
        if !self.hooks.is_empty() {
            s.push_str(&format!(
                "hooks: {} ({})\n",
                self.hooks.len(),
                join(count_kinds(&self.hooks))
            ));
        }
        if self.steps.is_empty() {
            s.push_str("post-renderers: none\n");
        } else {
            s.push_str("post-renderers:\n");
            for (i, step) in self.steps.iter().enumerate() {
                s.push_str(&format!(
                    "  {}. {} {}\n",
                    i + 1,
                    step.detail,
                    format_duration(step.duration)
                ));
            }
        }
        for w in &self.warnings {
            s.push_str(&format!("warning: {w}\n"));
        }
        for d in &self.diagnostics {
            s.push_str(&format!("{} (from {})\n", d.diagnostic, d.step));
        }
        s
    }
}

/// Writes objects as a YAML stream (`yaml`) or a JSON list (`json`).
pub fn render_output(objects: &[Value], json: bool) -> String {
    if json {
        let mut text = serde_json::to_string_pretty(objects).unwrap_or_else(|_| "[]".to_owned());
        text.push('\n');
        text
    } else {
        let mut text = capstan_yaml::to_stream(objects);
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text
    }
}

struct LoadedChart {
    chart: capstan_helm::Chart,
    info: ChartInfo,
}

impl Prepared {
    fn release(&self) -> &HelmRelease {
        &self.release.release
    }

    fn name(&self) -> String {
        self.release().full_name()
    }

    /// Runs the build: plugins resolved and configs validated first, then the chart fetched,
    /// values composed, rendered, post-rendered and labelled.
    pub fn build(&self, runtime: &Runtime, options: &BuildOptions) -> Result<Build> {
        let release = self.release();
        let (pipeline, mut steps) = self.pipeline(runtime, options)?;
        let mut diagnostics = pipeline
            .validate()
            .map_err(|source| Error::ValidateConfig {
                release: self.name(),
                source,
            })?;
        let loaded = self.load_chart(options)?;
        let mut warnings = Vec::new();
        let composed = capstan_api::compose_values(release, &self.inputs.values_objects)
            .map_err(Error::ComposeValues)?;
        warnings.extend(
            composed
                .warnings
                .iter()
                .map(|w| format!("HelmRelease {}: {w}", self.name())),
        );
        let mut chart = loaded.chart;
        self.apply_values_files(&mut chart)?;
        let values = match composed.values {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        let helm_release = capstan_helm::Release {
            name: release.release_name(),
            namespace: release.release_namespace().to_owned(),
            ..capstan_helm::Release::default()
        };
        let rendered = capstan_helm::render(
            &chart,
            &values,
            &helm_release,
            &capstan_helm::Capabilities::default(),
        )
        .map_err(|source| Error::Render {
            release: self.name(),
            chart: format!("{}@{}", loaded.info.name, loaded.info.version),
            source,
        })?;

        let parse = |template: &str, text: &str| {
            postrender::parse_manifests(text)
                .map(|docs| {
                    docs.into_iter()
                        .filter(|d| !d.is_null())
                        .collect::<Vec<_>>()
                })
                .map_err(|source| Error::ParseRendered {
                    release: self.name(),
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
        for h in &rendered.hooks {
            hooks.extend(parse(&h.path, &h.manifest)?);
        }

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
                    release: self.name(),
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
        crds.append(&mut objects);
        let mut objects = crds;
        let (labels, annotations) = release_metadata(release);
        capstan_kustomize::apply_common_metadata(&mut objects, &labels, &annotations);
        capstan_kustomize::apply_common_metadata(&mut hooks, &labels, &annotations);
        Ok(Build {
            release: self.name(),
            release_name: helm_release.name,
            release_namespace: helm_release.namespace,
            chart: loaded.info,
            objects,
            hooks,
            steps,
            warnings,
            diagnostics,
        })
    }

    /// Builds the chain in `postRenderers` order. Every plugin reference is resolved before any
    /// module is fetched, so a misnamed plugin is reported without touching the network.
    fn pipeline(
        &self,
        runtime: &Runtime,
        options: &BuildOptions,
    ) -> Result<(Pipeline, Vec<StepSummary>)> {
        let entries = &self.release().spec.post_renderers;
        let mut modules = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            modules.push(match &entry.wasm {
                Some(w) if entry.kustomize.is_none() => {
                    Some(self.resolve_module(index, w, options)?)
                }
                _ => None,
            });
        }
        let mut steps = Vec::new();
        let mut summaries = Vec::new();
        for (index, (entry, module)) in entries.iter().zip(modules).enumerate() {
            if let Some(k) = &entry.kustomize {
                steps.push(PostRenderer::kustomize("kustomize", k.clone()));
                summaries.push(StepSummary {
                    name: "kustomize".to_owned(),
                    detail: "kustomize".to_owned(),
                    duration: Duration::ZERO,
                });
            } else if let (Some(w), Some(module)) = (&entry.wasm, module) {
                let (step, summary) = self.wasm_step(index, w, module, runtime, options)?;
                steps.push(step);
                summaries.push(summary);
            }
        }
        Ok((Pipeline::new(steps), summaries))
    }

    /// Which plugin object (and/or `--plugin-dir` file) a `wasm` post-renderer names.
    fn resolve_module<'a>(
        &'a self,
        index: usize,
        renderer: &WasmPostRenderer,
        options: &BuildOptions,
    ) -> Result<Module<'a>> {
        let local = options
            .plugin_dir
            .as_ref()
            .map(|d| d.join(format!("{}.wasm", renderer.plugin)))
            .filter(|p| p.is_file());
        let found = capstan_api::resolve_plugin(
            self.release(),
            renderer,
            &self.inputs.plugins,
            &self.inputs.cluster_plugins,
        );
        Ok(match (found, local) {
            (Ok(plugin), Some(path)) => Module::Local(path, Some(plugin)),
            (Ok(plugin), None) => Module::Declared(plugin),
            // A module in --plugin-dir stands in for a plugin object that is not in the files.
            (Err(PluginError::FindPlugin { .. }), Some(path)) => Module::Local(path, None),
            (Err(source), _) => return Err(Error::ResolvePlugin { index, source }),
        })
    }

    fn wasm_step(
        &self,
        index: usize,
        renderer: &WasmPostRenderer,
        module: Module<'_>,
        runtime: &Runtime,
        options: &BuildOptions,
    ) -> Result<(PostRenderer, StepSummary)> {
        let name = renderer.plugin.as_str();
        let resolved = module.plugin();
        let display = resolved.map_or_else(|| format!("plugin {name}"), |p| p.display_name());
        let limits =
            capstan_api::effective_limits(&display, resolved.and_then(|p| p.spec().limits))
                .map_err(|source| Error::ResolvePlugin { index, source })?;
        let config = capstan_api::effective_config(
            resolved.and_then(|p| p.spec().config),
            renderer.config.as_ref(),
        );
        let (bytes, origin) = match module {
            Module::Local(path, _) => {
                let bytes = std::fs::read(&path).map_err(|source| Error::ReadModule {
                    release: self.name(),
                    index,
                    plugin: name.to_owned(),
                    path: path.clone(),
                    source,
                })?;
                let location = path.display().to_string();
                if let Some(expected) = resolved.and_then(|p| p.spec().sha256) {
                    let expected = expected.strip_prefix("sha256:").unwrap_or(expected);
                    self.verify(index, &display, &location, expected, &bytes)?;
                }
                (bytes, location)
            }
            Module::Declared(plugin) => self.fetch_module(index, plugin, options)?,
        };
        let plugin = runtime
            .load(name, &bytes, wasm_limits(limits))
            .map_err(|source| Error::LoadPlugin {
                release: self.name(),
                index,
                plugin: name.to_owned(),
                source: Box::new(source),
            })?;
        let sha = plugin.id().sha256();
        let hex = sha.strip_prefix("sha256:").unwrap_or(&sha);
        let short = hex.get(..12).unwrap_or(hex).to_owned();
        let summary = StepSummary {
            name: name.to_owned(),
            detail: format!("wasm {name}@sha256:{short} ({origin})"),
            duration: Duration::ZERO,
        };
        Ok((PostRenderer::wasm(plugin, config), summary))
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
                release: self.name(),
                index,
                plugin: plugin.to_owned(),
                location: location.to_owned(),
                expected: expected.to_ascii_lowercase().into(),
                actual: actual.into(),
            });
        }
        Ok(())
    }

    /// The module bytes of a plugin object, from its declared source, sha256 verified.
    fn fetch_module(
        &self,
        index: usize,
        plugin: ResolvedPlugin<'_>,
        options: &BuildOptions,
    ) -> Result<(Vec<u8>, String)> {
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
        let fetch_err = |location: String, source| Error::FetchModule {
            release: self.name(),
            index,
            plugin: display.clone(),
            location,
            source,
        };
        let cache = options.cache.as_ref();
        match &location.source {
            ModuleSource::Oci { reference } => {
                let parsed = capstan_source::OciReference::parse(reference)
                    .map_err(|e| fetch_err(reference.clone(), Box::new(e)))?;
                let client = capstan_source::OciClient::new();
                let fetched = match &expected {
                    Some(d) => client.pull_module_verified(&parsed, d, cache),
                    None => client.pull_module(&parsed, cache),
                };
                let fetched =
                    fetched.map_err(|e| self.module_error(index, &display, reference, e))?;
                Ok((fetched.bytes, fetched.reference.to_string()))
            }
            ModuleSource::Url { url } => {
                let fetched = capstan_source::fetch_url(
                    url,
                    expected.as_ref(),
                    ArtifactKind::Module,
                    cache,
                    None,
                )
                .map_err(|e| self.module_error(index, &display, url, e))?;
                Ok((fetched.bytes, url.clone()))
            }
            ModuleSource::ConfigMap { name, key } => {
                let namespace = match plugin {
                    ResolvedPlugin::Namespaced(p) => p
                        .metadata
                        .namespace
                        .clone()
                        .unwrap_or_else(|| self.release().namespace_or_default().to_owned()),
                    ResolvedPlugin::Cluster(_) => self.release().namespace_or_default().to_owned(),
                };
                let bad = |reason: String| Error::ReadConfigMapModule {
                    release: self.name(),
                    index,
                    plugin: display.clone(),
                    reason,
                };
                let cm = capstan_api::find_values_object(
                    &self.inputs.values_objects,
                    capstan_api::ValuesKind::ConfigMap,
                    &namespace,
                    name,
                )
                .ok_or_else(|| {
                    bad(format!(
                        "ConfigMap {namespace}/{name} not found in the input files"
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
                let where_ = format!("ConfigMap {namespace}/{name} binaryData.{key}");
                if let Some(d) = &expected {
                    self.verify(index, &display, &where_, d.hex(), &bytes)?;
                }
                Ok((bytes, where_))
            }
        }
    }

    /// A digest mismatch from the source layer becomes [`Error::VerifyModule`], so it reads the
    /// same whatever the source.
    fn module_error(
        &self,
        index: usize,
        plugin: &str,
        location: &str,
        error: capstan_source::Error,
    ) -> Error {
        match error {
            capstan_source::Error::VerifyDigest {
                expected, actual, ..
            } => Error::VerifyModule {
                release: self.name(),
                index,
                plugin: plugin.to_owned(),
                location: location.to_owned(),
                expected: expected.hex().into(),
                actual: actual.hex().into(),
            },
            source => Error::FetchModule {
                release: self.name(),
                index,
                plugin: plugin.to_owned(),
                location: location.to_owned(),
                source: Box::new(source),
            },
        }
    }

    fn resolve_path(&self, options: &BuildOptions, path: &str) -> PathBuf {
        resolve_relative(&options.base_dir, path)
    }

    /// Fetches and loads the chart from wherever the release says.
    /// The source object `namespace/name` among `items` (objects without a namespace live in the
    /// release's), or an error naming the field and listing the known ones.
    fn find_source<'a, T>(
        &self,
        items: &'a [T],
        meta: impl Fn(&T) -> &ObjectMeta,
        (name, namespace): (&str, &str),
        (field, kind): (&'static str, &'static str),
    ) -> Result<&'a T> {
        let default_ns = self.release().namespace_or_default();
        let ns_of = |m: &ObjectMeta| namespace_or(m.namespace.as_ref(), default_ns);
        let key = |item: &T| {
            let m = meta(item);
            (ns_of(m), m.name.as_deref().unwrap_or("").to_owned())
        };
        items
            .iter()
            .find(|item| {
                let (ns, n) = key(item);
                n == name && ns == namespace
            })
            .ok_or_else(|| Error::FindSource {
                release: self.name(),
                field,
                kind,
                object: format!("{namespace}/{name}"),
                known: items
                    .iter()
                    .map(|item| {
                        let (ns, n) = key(item);
                        format!("{ns}/{n}")
                    })
                    .collect(),
            })
    }

    fn load_chart(&self, options: &BuildOptions) -> Result<LoadedChart> {
        let release = self.release();
        let source = release
            .chart_source()
            .map_err(|source| Error::ChartSource {
                release: self.name(),
                source,
            })?;
        let fetch_options = FetchOptions {
            cache: options.cache.clone(),
            ..FetchOptions::default()
        };
        let fetch = |repository: &str, chart: &str, version: &str| {
            capstan_source::fetch_chart(repository, chart, version, &fetch_options).map_err(
                |source| Error::FetchChart {
                    release: self.name(),
                    chart: chart.to_owned(),
                    location: repository.to_owned(),
                    source: Box::new(source),
                },
            )
        };
        match source {
            ChartSource::HttpRepository {
                url,
                chart,
                version,
            }
            | ChartSource::OciRepository {
                url,
                chart,
                version,
            } => self.load_archive(fetch(url, chart, version)?),
            ChartSource::LocalPath { path } => {
                let path = self.resolve_path(options, path);
                if path.is_dir() {
                    let loaded = self.load_dir(&path)?;
                    self.check_dir_version(&loaded.info)?;
                    Ok(loaded)
                } else {
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
                    self.load_archive(fetch(
                        &format!("file://{}", path.display()),
                        chart,
                        version,
                    )?)
                }
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
                        release: self.name(),
                        field: "spec.chart.spec.sourceRef",
                        reason: format!(
                            "{kind} sources are not supported by capstan build (use a HelmRepository, chart.spec.repository or chartRef to an OCIRepository)"
                        ),
                    });
                }
                let repo = self.find_source(
                    &self.inputs.helm_repositories,
                    |r| &r.metadata,
                    (name, namespace),
                    ("spec.chart.spec.sourceRef", "HelmRepository"),
                )?;
                let url = repo.spec.url.as_str();
                if url.starts_with("oci://")
                    || url.starts_with("http://")
                    || url.starts_with("https://")
                {
                    return self.load_archive(fetch(url, chart, version)?);
                }
                let dir = self.resolve_path(options, url.strip_prefix("file://").unwrap_or(url));
                self.load_archive(self.fetch_from_directory(&dir, chart, version, &fetch)?)
            }
            ChartSource::ChartRef {
                kind,
                name,
                namespace,
            } => {
                if kind != "OCIRepository" {
                    return Err(Error::UnsupportedSource {
                        release: self.name(),
                        field: "spec.chartRef",
                        reason: format!(
                            "{kind} chart references are not supported by capstan build (use an OCIRepository)"
                        ),
                    });
                }
                let repo = self.find_source(
                    &self.inputs.oci_repositories,
                    |r| &r.metadata,
                    (name, namespace),
                    ("spec.chartRef", "OCIRepository"),
                )?;
                let url = repo.spec.url.as_str();
                match repo.spec.version() {
                    capstan_api::OciVersion::Digest(d) => {
                        self.load_archive(fetch(&format!("{url}@{d}"), "", "")?)
                    }
                    capstan_api::OciVersion::Semver { range, .. } => {
                        self.load_archive(fetch(url, "", range)?)
                    }
                    capstan_api::OciVersion::Tag(t) => {
                        self.load_archive(fetch(&format!("{url}:{t}"), "", "")?)
                    }
                }
            }
        }
    }

    /// A chart directory has one version: it must satisfy `chart.spec.version` like a
    /// repository's would.
    fn check_dir_version(&self, info: &ChartInfo) -> Result<()> {
        let range = self
            .release()
            .spec
            .chart
            .as_ref()
            .and_then(|c| c.spec.version.as_deref())
            .unwrap_or("")
            .trim();
        if range.is_empty() || range == "*" {
            return Ok(());
        }
        let fail = |source| Error::FetchChart {
            release: self.name(),
            chart: info.name.clone(),
            location: info.location.clone(),
            source: Box::new(source),
        };
        let picked =
            capstan_source::semver::select(range, [info.version.as_str()]).map_err(|source| {
                fail(capstan_source::Error::ParseRange {
                    chart: info.name.clone(),
                    range: range.to_owned(),
                    source,
                })
            })?;
        if picked.is_none() {
            return Err(fail(capstan_source::Error::VersionNotFound {
                repository: info.location.clone(),
                chart: info.name.clone(),
                range: range.to_owned(),
                available: vec![info.version.clone()],
            }));
        }
        Ok(())
    }

    /// A Helm repository laid out on disk (`index.yaml` + archives), for offline builds.
    fn fetch_from_directory(
        &self,
        dir: &Path,
        chart: &str,
        version: &str,
        fetch: &dyn Fn(&str, &str, &str) -> Result<FetchedChart>,
    ) -> Result<FetchedChart> {
        let location = format!("file://{}", dir.display());
        let fail = |source| Error::FetchChart {
            release: self.name(),
            chart: chart.to_owned(),
            location: location.clone(),
            source: Box::new(source),
        };
        let index_path = dir.join("index.yaml");
        let text = std::fs::read_to_string(&index_path).map_err(|source| {
            fail(capstan_source::Error::ReadFile {
                path: index_path.display().to_string(),
                source,
            })
        })?;
        let index = capstan_source::IndexFile::parse(&text).map_err(|source| {
            fail(capstan_source::Error::ParseIndex {
                url: index_path.display().to_string(),
                source,
            })
        })?;
        let entry = index.lookup(&location, chart, version).map_err(fail)?;
        let Some(url) = entry.urls.first() else {
            return Err(fail(capstan_source::Error::FindChartUrl {
                repository: location.clone(),
                chart: chart.to_owned(),
                version: entry.version.clone(),
            }));
        };
        let archive = self.resolve_archive(dir, url);
        let fetched = fetch(
            &format!("file://{}", archive.display()),
            chart,
            &entry.version,
        )?;
        if let Some(published) = entry.digest.as_deref().and_then(|d| Digest::parse(d).ok())
            && published != fetched.digest
        {
            return Err(fail(capstan_source::Error::VerifyDigest {
                what: "chart archive".to_owned(),
                location: archive.display().to_string(),
                expected: published,
                actual: fetched.digest,
            }));
        }
        Ok(fetched)
    }

    fn resolve_archive(&self, dir: &Path, url: &str) -> PathBuf {
        resolve_relative(dir, url.strip_prefix("file://").unwrap_or(url))
    }

    fn load_archive(&self, fetched: FetchedChart) -> Result<LoadedChart> {
        let chart = capstan_helm::Chart::from_archive(&fetched.bytes, &fetched.location).map_err(
            |source| Error::LoadChart {
                release: self.name(),
                location: fetched.location.clone(),
                source,
            },
        )?;
        Ok(LoadedChart {
            info: ChartInfo {
                name: fetched.name,
                version: fetched.version,
                digest: fetched.digest.to_string(),
                location: fetched.location,
            },
            chart,
        })
    }

    fn load_dir(&self, dir: &Path) -> Result<LoadedChart> {
        let location = dir.display().to_string();
        let chart = capstan_helm::Chart::load(dir).map_err(|source| Error::LoadChart {
            release: self.name(),
            location: location.clone(),
            source,
        })?;
        let digest = directory_digest(dir).map_err(|source| Error::ReadFile {
            path: dir.to_owned(),
            source,
        })?;
        Ok(LoadedChart {
            info: ChartInfo {
                name: chart.metadata.name.clone(),
                version: chart.metadata.version.clone(),
                digest,
                location,
            },
            chart,
        })
    }

    /// `spec.chart.spec.valuesFile`/`valuesFiles`: files of the chart merged in order replace
    /// the chart's default values, as Flux's source-controller does.
    fn apply_values_files(&self, chart: &mut capstan_helm::Chart) -> Result<()> {
        let Some(template) = &self.release().spec.chart else {
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
        let mut merged = serde_json::Map::new();
        for file in files {
            let fail = |reason: String| Error::ReadValuesFile {
                release: self.name(),
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
                capstan_yaml::parse_one(&String::from_utf8_lossy(&f.data))
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

/// Where a wasm post-renderer's module comes from.
enum Module<'a> {
    /// `--plugin-dir/<name>.wasm`, with the plugin object when there is one.
    Local(PathBuf, Option<ResolvedPlugin<'a>>),
    /// The plugin object's declared source.
    Declared(ResolvedPlugin<'a>),
}

impl<'a> Module<'a> {
    fn plugin(&self) -> Option<ResolvedPlugin<'a>> {
        match self {
            Module::Local(_, p) => *p,
            Module::Declared(p) => Some(*p),
        }
    }
}

/// `path` against `base` when relative, with `.` and `..` folded lexically (for messages).
pub fn resolve_relative(base: &Path, path: &str) -> PathBuf {
    use std::path::Component;
    let p = Path::new(path);
    let joined = if p.is_absolute() {
        p.to_owned()
    } else {
        base.join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

/// `namespace` of an object, or the release's when unset (objects read from files).
fn namespace_or(ns: Option<&String>, default: &str) -> String {
    ns.filter(|n| !n.is_empty())
        .cloned()
        .unwrap_or_else(|| default.to_owned())
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

/// sha256 over a directory's files (relative path, NUL, content length, content), sorted by
/// path, so an unpacked chart has a stable identity.
pub fn directory_digest(dir: &Path) -> std::io::Result<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                walk(root, &path, out)?;
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, path));
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    files.sort();
    let mut hasher = sha2::Sha256::new();
    for (rel, path) in files {
        let data = std::fs::read(&path)?;
        hasher.update(rel.as_bytes());
        hasher.update([0]);
        hasher.update((data.len() as u64).to_le_bytes());
        hasher.update(&data);
    }
    Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
}

#[cfg(test)]
mod tests;
