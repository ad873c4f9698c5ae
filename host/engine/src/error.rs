//! Why a build failed, and whether trying again can help.
//!
//! Every message names the HelmRelease and the source, plugin (`name@sha256:…` in the Wasm
//! runtime's errors) or field involved. A controller decides what to do from
//! [`Error::class`] — never from the text: [`ErrorClass::Transient`] failures (network,
//! registry, API lookups) are retried with backoff; [`ErrorClass::Stalled`] ones (render error,
//! bad config, denial, digest mismatch) wait until the spec or an input changes.

use crate::fetch::FetchError;
use crate::lookup::{LookupError, ObjectKind};
use crate::postrender;
use crate::values::ValuesError;

/// What a caller can do about an [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Retrying later can succeed without any change (network, registry, API server).
    Transient,
    /// Nothing changes until the HelmRelease or one of its inputs changes.
    Stalled,
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The chart source fields are contradictory.
    #[error("HelmRelease {release}: cannot decide where the chart comes from")]
    ChartSource {
        /// The HelmRelease.
        release: String,
        /// Why.
        #[source]
        source: capstan_api::Error,
    },
    /// An object the release refers to could not be looked up (the API did not answer).
    #[error("HelmRelease {release}: {field}")]
    Lookup {
        /// The HelmRelease.
        release: String,
        /// The field naming the object.
        field: String,
        /// Why.
        #[source]
        source: LookupError,
    },
    /// A source object or Secret the release names does not exist.
    #[error(
        "HelmRelease {release}: {field}: {kind} {object} not found{place}{}",
        match known {
            None => String::new(),
            Some(k) if k.is_empty() => format!("; known {kind} objects: none"),
            Some(k) => format!("; known {kind} objects: {}", k.join(", ")),
        }
    )]
    FindSource {
        /// The HelmRelease.
        release: String,
        /// The field naming it.
        field: String,
        /// Its kind.
        kind: ObjectKind,
        /// `namespace/name`.
        object: String,
        /// Where it was looked for (` in the input files`, or empty).
        place: &'static str,
        /// `namespace/name` of the objects of that kind that exist (never listed for Secrets).
        known: Option<Vec<String>>,
    },
    /// A `secretRef`/`certSecretRef` Secret has no usable credentials.
    #[error("HelmRelease {release}: {field}: Secret {secret} {reason}")]
    InvalidSecret {
        /// The HelmRelease.
        release: String,
        /// The field naming the Secret.
        field: String,
        /// `namespace/name`.
        secret: String,
        /// What is wrong.
        reason: String,
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
        source: Box<FetchError>,
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
    ComposeValues(#[source] ValuesError),
    /// A `wasm` post-renderer names a plugin that cannot be used.
    #[error("spec.postRenderers[{index}].wasm")]
    ResolvePlugin {
        /// Position in `postRenderers`.
        index: usize,
        /// Why (names the HelmRelease and plugin).
        #[source]
        source: capstan_api::PluginError,
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
        source: Box<FetchError>,
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
    /// The chart renders a cluster-scoped object, and the operator's policy restricts chart
    /// objects too (`GuardPolicy::chart_objects`) and does not allow them for this tenant.
    #[error(
        "HelmRelease {release}: the chart renders cluster-scoped {object}; the operator allows \
         cluster-scoped objects for {allowed} (--allow-cluster-scoped-namespaces), not for \
         releases in namespace {tenant}"
    )]
    ClusterScopedRefused {
        /// The HelmRelease.
        release: String,
        /// `Kind name` (group-qualified when not core).
        object: String,
        /// The release's namespace.
        tenant: String,
        /// Which tenants the policy allows.
        allowed: String,
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

impl Error {
    /// Whether retrying can help (see the module docs).
    pub fn class(&self) -> ErrorClass {
        let transient = match self {
            Error::Lookup { source, .. }
            | Error::ComposeValues(ValuesError::Lookup { source, .. }) => !source.denied,
            Error::FetchChart { source, .. } | Error::FetchModule { source, .. } => {
                source.is_transient()
            }
            _ => false,
        };
        if transient {
            ErrorClass::Transient
        } else {
            ErrorClass::Stalled
        }
    }

    /// Whether retrying later can succeed without a change.
    pub fn is_transient(&self) -> bool {
        self.class() == ErrorClass::Transient
    }

    /// The Wasm error behind a failed plugin load, config check or call, if this is one (its
    /// [`capstan_wasm::Error::plugin`] names the plugin as `name@sha256`).
    pub fn plugin_failure(&self) -> Option<&capstan_wasm::Error> {
        fn step(e: &postrender::Error) -> Option<&capstan_wasm::Error> {
            match e {
                postrender::Error::RunPostRenderer { source, .. }
                | postrender::Error::ValidateConfig { source, .. } => Some(source.as_ref()),
                _ => None,
            }
        }
        match self {
            Error::LoadPlugin { source, .. } => Some(source.as_ref()),
            Error::PostRender { source, .. } | Error::ValidateConfig { source, .. } => step(source),
            _ => None,
        }
        .filter(|e| e.plugin().is_some())
    }

    /// The plugin a failure is attributed to, as `name@sha256:…`: the one that failed to load,
    /// rejected its config, trapped, hit a limit, denied the release, or returned output the
    /// guard refused. `None` for failures that are not a plugin's (chart, values, sources).
    pub fn plugin(&self) -> Option<String> {
        if let Some(id) = self.plugin_failure().and_then(capstan_wasm::Error::plugin) {
            return Some(id.to_string().trim_matches('"').to_owned());
        }
        match self {
            Error::PostRender { source, .. } | Error::ValidateConfig { source, .. } => match source
            {
                postrender::Error::GuardOutput { plugin, .. } => plugin.clone(),
                _ => None,
            },
            _ => None,
        }
    }

    /// A post-renderer's denial, if this is one (its diagnostics).
    pub fn denial(&self) -> Option<&[capstan_sdk::Diagnostic]> {
        match self {
            Error::PostRender { source, .. } | Error::ValidateConfig { source, .. } => {
                source.denial()
            }
            _ => None,
        }
    }

    /// A short CamelCase reason for status conditions and events (`ChartFetchFailed`, …).
    pub fn reason(&self) -> &'static str {
        match self {
            Error::ChartSource { .. } | Error::UnsupportedSource { .. } => "InvalidChartSource",
            Error::Lookup { source, .. }
            | Error::ComposeValues(ValuesError::Lookup { source, .. })
                if source.denied =>
            {
                "AccessDenied"
            }
            Error::Lookup { .. } => "LookupFailed",
            Error::FindSource { .. } | Error::InvalidSecret { .. } => "SourceNotFound",
            Error::FetchChart { .. } | Error::LoadChart { .. } => "ChartFetchFailed",
            Error::ReadValuesFile { .. } | Error::ComposeValues(_) => "ValuesFailed",
            Error::ResolvePlugin {
                source:
                    capstan_api::PluginError::PluginInOtherNamespace { .. }
                    | capstan_api::PluginError::NamespaceNotSelected { .. },
                ..
            } => "PluginNotAllowed",
            Error::ResolvePlugin {
                source: capstan_api::PluginError::InvalidNamespaceSelector { .. },
                ..
            } => "PluginInvalid",
            Error::ResolvePlugin { .. } => "PluginNotFound",
            Error::FetchModule { .. }
            | Error::ReadConfigMapModule { .. }
            | Error::VerifyModule { .. }
            | Error::LoadPlugin { .. } => "PluginLoadFailed",
            Error::ValidateConfig { .. } => "PluginConfigInvalid",
            Error::Render { .. } | Error::ParseRendered { .. } => "RenderFailed",
            Error::PostRender { source, .. } if source.denial().is_some() => "PostRenderDenied",
            Error::PostRender { source, .. } if source.violation().is_some() => {
                "PostRenderOutputRefused"
            }
            Error::PostRender { .. } => "PostRenderFailed",
            Error::ClusterScopedRefused { .. } => "ClusterScopedRefused",
        }
    }
}

/// The whole chain of an error as one line (`a: b: c`), for status messages and events.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut cur = error.source();
    while let Some(e) = cur {
        let text = e.to_string();
        if !text.is_empty() && !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = e.source();
    }
    out
}
