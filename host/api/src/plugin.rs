//! Decisions about Wasm plugins that need no I/O: which plugin object a `wasm` post-renderer
//! names (a namespaced `WasmPlugin` is usable only from its own namespace), where its module
//! comes from and which sha256 it must have, its effective limits, and its effective config.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::Value;

use crate::merge::merge_values;
use crate::{
    ClusterWasmPlugin, HelmRelease, PluginKind, PluginLimits, PluginSpecRef, WasmPlugin,
    WasmPostRenderer, units,
};

/// Why a plugin reference or spec is unusable. Messages name the HelmRelease and the plugin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// No plugin of that kind and name.
    #[error(
        "HelmRelease {release}: {kind} {name:?} not found{}; known {kind}s: {}",
        in_namespace(namespace.as_deref()),
        list_or_none(known)
    )]
    FindPlugin {
        /// `namespace/name` of the HelmRelease.
        release: String,
        /// The plugin kind looked up.
        kind: PluginKind,
        /// The plugin name.
        name: String,
        /// The namespace searched (namespaced plugins).
        namespace: Option<String>,
        /// Names that do exist (for a namespaced plugin, in the release's namespace).
        known: Vec<String>,
    },
    /// The WasmPlugin exists, but in another namespace.
    #[error(
        "HelmRelease {release}: WasmPlugin {name:?} is in namespace {plugin_namespace:?} but the \
         HelmRelease is in {release_namespace:?}; a WasmPlugin can only be used from its own \
         namespace (use a ClusterWasmPlugin to share it)"
    )]
    PluginInOtherNamespace {
        /// `namespace/name` of the HelmRelease.
        release: String,
        /// The plugin name.
        name: String,
        /// Where the plugin is.
        plugin_namespace: String,
        /// Where the HelmRelease is.
        release_namespace: String,
    },
    /// A ClusterWasmPlugin's `namespaceSelector` does not select the HelmRelease's namespace.
    #[error(
        "HelmRelease {release}: ClusterWasmPlugin {name:?} may only be used from namespaces \
         matching its spec.namespaceSelector ({selector}); namespace {namespace:?} does not match"
    )]
    NamespaceNotSelected {
        /// `namespace/name` of the HelmRelease.
        release: String,
        /// The plugin name.
        name: String,
        /// The HelmRelease's namespace.
        namespace: String,
        /// The selector as an expression (`team=a,env in (dev)`).
        selector: String,
    },
    /// A ClusterWasmPlugin's `namespaceSelector` is malformed.
    #[error("HelmRelease {release}: ClusterWasmPlugin {name}: spec.namespaceSelector: {reason}")]
    InvalidNamespaceSelector {
        /// `namespace/name` of the HelmRelease that uses the plugin.
        release: String,
        /// The plugin name.
        name: String,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// The plugin names no module source, or several.
    #[error("{plugin}: {reason}")]
    InvalidSource {
        /// `WasmPlugin ns/name`.
        plugin: String,
        /// What is wrong.
        reason: String,
    },
    /// A limit is malformed or out of range.
    #[error("{plugin}: spec.limits.{field}: {reason}")]
    InvalidLimit {
        /// `WasmPlugin ns/name`.
        plugin: String,
        /// `memory`, `timeout` or `maxOutputSize`.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

fn in_namespace(ns: Option<&str>) -> String {
    ns.map(|n| format!(" in namespace {n:?}"))
        .unwrap_or_default()
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// The plugin object a `wasm` post-renderer resolved to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ResolvedPlugin<'a> {
    /// A namespaced plugin in the release's namespace.
    Namespaced(&'a WasmPlugin),
    /// A cluster-scoped plugin.
    Cluster(&'a ClusterWasmPlugin),
}

impl<'a> ResolvedPlugin<'a> {
    /// The plugin's name.
    pub fn name(&self) -> &'a str {
        match self {
            ResolvedPlugin::Namespaced(p) => p.metadata.name.as_deref().unwrap_or(""),
            ResolvedPlugin::Cluster(p) => p.metadata.name.as_deref().unwrap_or(""),
        }
    }

    /// The plugin's kind.
    pub fn kind(&self) -> PluginKind {
        match self {
            ResolvedPlugin::Namespaced(_) => PluginKind::WasmPlugin,
            ResolvedPlugin::Cluster(_) => PluginKind::ClusterWasmPlugin,
        }
    }

    /// The spec fields both kinds share.
    pub fn spec(&self) -> PluginSpecRef<'a> {
        match self {
            ResolvedPlugin::Namespaced(p) => p.spec.as_ref(),
            ResolvedPlugin::Cluster(p) => p.spec.as_ref(),
        }
    }

    /// `WasmPlugin ns/name` or `ClusterWasmPlugin name`, for messages.
    pub fn display_name(&self) -> String {
        match self {
            ResolvedPlugin::Namespaced(p) => format!(
                "WasmPlugin {}/{}",
                p.metadata
                    .namespace
                    .as_deref()
                    .unwrap_or(crate::DEFAULT_NAMESPACE),
                self.name()
            ),
            ResolvedPlugin::Cluster(_) => format!("ClusterWasmPlugin {}", self.name()),
        }
    }
}

/// Finds the plugin a `wasm` post-renderer names: a `WasmPlugin` in the release's namespace, or a
/// `ClusterWasmPlugin` when `kind: ClusterWasmPlugin`. A WasmPlugin without a namespace (read
/// from a file) counts as being in the release's namespace.
pub fn resolve_plugin<'a>(
    release: &HelmRelease,
    renderer: &WasmPostRenderer,
    plugins: &'a [WasmPlugin],
    cluster_plugins: &'a [ClusterWasmPlugin],
) -> Result<ResolvedPlugin<'a>, PluginError> {
    let release_ns = release.namespace_or_default();
    let name = renderer.plugin.as_str();
    match renderer.kind.unwrap_or_default() {
        PluginKind::ClusterWasmPlugin => cluster_plugins
            .iter()
            .find(|p| p.metadata.name.as_deref() == Some(name))
            .map(ResolvedPlugin::Cluster)
            .ok_or_else(|| PluginError::FindPlugin {
                release: release.full_name(),
                kind: PluginKind::ClusterWasmPlugin,
                name: name.into(),
                namespace: None,
                known: sorted(
                    cluster_plugins
                        .iter()
                        .filter_map(|p| p.metadata.name.clone()),
                ),
            }),
        PluginKind::WasmPlugin => {
            let ns_of = |p: &WasmPlugin| {
                p.metadata
                    .namespace
                    .clone()
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| release_ns.to_owned())
            };
            let same_name = |p: &&WasmPlugin| p.metadata.name.as_deref() == Some(name);
            if let Some(p) = plugins
                .iter()
                .filter(same_name)
                .find(|p| ns_of(p) == release_ns)
            {
                return Ok(ResolvedPlugin::Namespaced(p));
            }
            if let Some(p) = plugins.iter().find(same_name) {
                return Err(PluginError::PluginInOtherNamespace {
                    release: release.full_name(),
                    name: name.into(),
                    plugin_namespace: ns_of(p),
                    release_namespace: release_ns.into(),
                });
            }
            Err(PluginError::FindPlugin {
                release: release.full_name(),
                kind: PluginKind::WasmPlugin,
                name: name.into(),
                namespace: Some(release_ns.into()),
                known: sorted(
                    plugins
                        .iter()
                        .filter(|p| ns_of(p) == release_ns)
                        .filter_map(|p| p.metadata.name.clone()),
                ),
            })
        }
    }
}

fn sorted(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = names.collect();
    v.sort();
    v.dedup();
    v
}

/// A `namespaceSelector` written as a label-selector expression (`team=a,env in (dev,qa),!legacy`),
/// the form every selector matcher in Capstan reads: `matchLabels` become `key=value`, and
/// `matchExpressions` `In`/`NotIn` (with values), `Exists`/`DoesNotExist` (without) become
/// `key in (…)`, `key notin (…)`, `key`, `!key`. An empty selector is the empty expression, which
/// matches every namespace, as in Kubernetes.
pub fn namespace_selector_expression(
    release: &str,
    plugin: &str,
    selector: &LabelSelector,
) -> Result<String, PluginError> {
    let fail = |reason: String| PluginError::InvalidNamespaceSelector {
        release: release.to_owned(),
        name: plugin.to_owned(),
        reason,
    };
    let mut terms: Vec<String> = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for (i, e) in selector.match_expressions.iter().flatten().enumerate() {
        let values = e.values.as_deref().unwrap_or_default();
        let field = format!("matchExpressions[{i}]");
        let term = match e.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => {
                return Err(fail(format!(
                    "{field}: operator {} needs at least one value",
                    e.operator
                )));
            }
            "In" => format!("{} in ({})", e.key, values.join(",")),
            "NotIn" => format!("{} notin ({})", e.key, values.join(",")),
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return Err(fail(format!(
                    "{field}: operator {} takes no values, found {values:?}",
                    e.operator
                )));
            }
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            other => {
                return Err(fail(format!(
                    "{field}.operator: {other:?} is not an operator (accepted: In, NotIn, Exists, \
                     DoesNotExist)"
                )));
            }
        };
        terms.push(term);
    }
    Ok(terms.join(","))
}

/// Where a plugin's module comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleSource {
    /// An OCI artifact reference (`registry/repo:tag` or `…@sha256:…`).
    Oci {
        /// The reference as written.
        reference: String,
    },
    /// An `https://` (or `http://`, for tests on loopback) URL.
    Url {
        /// The URL.
        url: String,
    },
    /// A ConfigMap's `binaryData` key.
    ConfigMap {
        /// ConfigMap name.
        name: String,
        /// `binaryData` key.
        key: String,
    },
}

/// A plugin's module location and the sha256 (lowercase hex, no prefix) it must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleLocation {
    /// Where to fetch it.
    pub source: ModuleSource,
    /// The expected sha256: from `spec.sha256`, or the digest of an OCI reference by digest.
    /// `None` only for an OCI reference by tag without `sha256` (the registry's manifest digest
    /// is then trusted).
    pub sha256: Option<String>,
}

fn normalize_sha256(text: &str) -> Option<String> {
    let hex = text.strip_prefix("sha256:").unwrap_or(text);
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// Validates where a plugin's module comes from: exactly one of `oci`, `url`, `configMapRef`;
/// `url` needs `sha256`; `sha256` and an OCI digest must agree. `plugin` names it in errors
/// (`WasmPlugin ns/name`).
pub fn module_location(
    plugin: &str,
    spec: PluginSpecRef<'_>,
) -> Result<ModuleLocation, PluginError> {
    let invalid = |reason: String| PluginError::InvalidSource {
        plugin: plugin.into(),
        reason,
    };
    let sha256 = spec
        .sha256
        .map(|s| {
            normalize_sha256(s)
                .ok_or_else(|| invalid(format!("spec.sha256: {s:?} is not 64 hex digits")))
        })
        .transpose()?;
    let set = [
        spec.oci.is_some(),
        spec.url.is_some(),
        spec.config_map_ref.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if set != 1 {
        return Err(invalid(format!(
            "set exactly one module source (spec.oci, spec.url or spec.configMapRef); found {set}"
        )));
    }
    if let Some(oci) = spec.oci {
        let reference = oci.reference.trim_start_matches("oci://").to_owned();
        if reference.is_empty() {
            return Err(invalid("spec.oci.ref is empty".into()));
        }
        let digest = reference
            .rsplit_once('@')
            .map(|(_, d)| {
                normalize_sha256(d).ok_or_else(|| {
                    invalid(format!("spec.oci.ref: digest {d:?} is not sha256:<64 hex>"))
                })
            })
            .transpose()?;
        if let (Some(d), Some(s)) = (&digest, &sha256)
            && d != s
        {
            return Err(invalid(format!(
                "spec.sha256 {s} disagrees with the digest in spec.oci.ref {d}"
            )));
        }
        return Ok(ModuleLocation {
            source: ModuleSource::Oci { reference },
            sha256: sha256.or(digest),
        });
    }
    if let Some(url) = spec.url {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(invalid(format!("spec.url {url:?} must be an http(s) URL")));
        }
        let Some(sha256) = sha256 else {
            return Err(invalid(
                "spec.url needs spec.sha256 to verify the download".into(),
            ));
        };
        return Ok(ModuleLocation {
            source: ModuleSource::Url { url: url.into() },
            sha256: Some(sha256),
        });
    }
    let cm = spec
        .config_map_ref
        .ok_or_else(|| invalid("no module source".into()))?;
    if cm.name.is_empty() {
        return Err(invalid("spec.configMapRef.name is empty".into()));
    }
    Ok(ModuleLocation {
        source: ModuleSource::ConfigMap {
            name: cm.name.clone(),
            key: cm.key().to_owned(),
        },
        sha256,
    })
}

/// The limits one invocation runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectiveLimits {
    /// Linear memory cap in bytes.
    pub memory_bytes: u64,
    /// Wall-clock budget.
    pub timeout: Duration,
    /// Largest output in bytes.
    pub max_output_bytes: u64,
}

impl PluginLimits {
    /// Default memory cap: 64 MiB (the same as `capstan_wasm::Limits`).
    pub const DEFAULT_MEMORY: u64 = 64 << 20;
    /// Largest memory cap accepted: 1 GiB (the runtime's pooling-allocator slot size).
    pub const MAX_MEMORY: u64 = 1 << 30;
    /// Default timeout: 1 s.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
    /// Largest timeout accepted: 5 min.
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);
    /// Default output cap: 32 MiB.
    pub const DEFAULT_MAX_OUTPUT: u64 = 32 << 20;
    /// Largest output cap accepted: 1 GiB.
    pub const MAX_MAX_OUTPUT: u64 = 1 << 30;
}

/// Resolves a plugin's limits: defaults for unset fields, errors for malformed, zero or too
/// large values. `plugin` names it in errors.
pub fn effective_limits(
    plugin: &str,
    limits: Option<&PluginLimits>,
) -> Result<EffectiveLimits, PluginError> {
    let invalid = |field: &'static str, reason: String| PluginError::InvalidLimit {
        plugin: plugin.into(),
        field,
        reason,
    };
    let bytes = |field: &'static str, v: Option<&String>, default: u64, max: u64| {
        let Some(text) = v else { return Ok(default) };
        let n = units::parse_quantity(text).map_err(|e| invalid(field, e.to_string()))?;
        if n == 0 || n > max {
            return Err(invalid(
                field,
                format!("{text} is out of range (1 to {max} bytes)"),
            ));
        }
        Ok(n)
    };
    let limits = limits.cloned().unwrap_or_default();
    let memory_bytes = bytes(
        "memory",
        limits.memory.as_ref(),
        PluginLimits::DEFAULT_MEMORY,
        PluginLimits::MAX_MEMORY,
    )?;
    let max_output_bytes = bytes(
        "maxOutputSize",
        limits.max_output_size.as_ref(),
        PluginLimits::DEFAULT_MAX_OUTPUT,
        PluginLimits::MAX_MAX_OUTPUT,
    )?;
    let timeout = match &limits.timeout {
        None => PluginLimits::DEFAULT_TIMEOUT,
        Some(text) => {
            let d = units::parse_duration(text).map_err(|e| invalid("timeout", e.to_string()))?;
            if d.is_zero() || d > PluginLimits::MAX_TIMEOUT {
                return Err(invalid(
                    "timeout",
                    format!("{text} is out of range (above 0, at most 5m)"),
                ));
            }
            d
        }
    };
    Ok(EffectiveLimits {
        memory_bytes,
        timeout,
        max_output_bytes,
    })
}

/// The config a plugin runs with: the post-renderer's `config` deep-merged over the plugin's
/// default `config` (maps merge, everything else is replaced, as for Helm values).
pub fn effective_config(plugin_default: Option<&Value>, renderer: Option<&Value>) -> Value {
    let base = plugin_default
        .cloned()
        .unwrap_or(Value::Object(Default::default()));
    match renderer {
        None => base,
        Some(over) => merge_values(&base, over),
    }
}

#[cfg(test)]
mod tests;
