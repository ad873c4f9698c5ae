//! Sorting the documents given to `capstan build -f … -f …` into what a build needs: the
//! HelmRelease(s), WasmPlugins, ClusterWasmPlugins, Flux sources, and the ConfigMaps/Secrets
//! `valuesFrom` may name. Nothing is dropped silently: a document of another kind is reported.

use serde_json::Value;

use crate::parse::{decode_object, object_name};
use crate::{
    ClusterWasmPlugin, Error, HelmRepository, OciRepository, ParsedRelease, ParsedSource, Result,
    Warning, WasmPlugin, is_helm_release, parse_helm_release, parse_helm_repository,
    parse_oci_repository,
};

/// The Capstan apiVersion of `WasmPlugin` and `ClusterWasmPlugin`.
const PLUGIN_API_VERSION: &str = "capstan.dev/v1alpha1";

/// Reads a `WasmPlugin` document.
pub fn parse_wasm_plugin(doc: &Value) -> Result<ParsedSource<WasmPlugin>> {
    check(doc, "WasmPlugin")?;
    let mut warnings = Vec::new();
    let (metadata, spec) = decode_object(doc, "WasmPlugin", &mut warnings)?;
    Ok(ParsedSource {
        object: WasmPlugin { metadata, spec },
        warnings,
    })
}

/// Reads a `ClusterWasmPlugin` document.
pub fn parse_cluster_wasm_plugin(doc: &Value) -> Result<ParsedSource<ClusterWasmPlugin>> {
    check(doc, "ClusterWasmPlugin")?;
    let mut warnings = Vec::new();
    let (metadata, spec) = decode_object(doc, "ClusterWasmPlugin", &mut warnings)?;
    if let Some(ns) = doc.pointer("/metadata/namespace").and_then(Value::as_str) {
        warnings.push(Warning::new(
            "metadata.namespace",
            format!("ignored: ClusterWasmPlugin is cluster-scoped (found {ns:?})"),
        ));
    }
    Ok(ParsedSource {
        object: ClusterWasmPlugin { metadata, spec },
        warnings,
    })
}

fn check(doc: &Value, kind: &str) -> Result<()> {
    let api_version = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let found = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    if found == kind && api_version == PLUGIN_API_VERSION {
        return Ok(());
    }
    Err(Error::UnsupportedKind {
        expected: format!("a {kind} ({PLUGIN_API_VERSION})"),
        api_version: api_version.into(),
        kind: found.into(),
    })
}

/// A warning about one input document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputWarning {
    /// `Kind namespace/name` of the document (or `document N` when it has no kind).
    pub object: String,
    /// The warning.
    pub warning: Warning,
}

impl std::fmt::Display for InputWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.object, self.warning)
    }
}

/// The inputs of a build, sorted by kind, in document order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    /// HelmReleases (Capstan or Flux apiVersions), each with its own warnings.
    pub releases: Vec<ParsedRelease>,
    /// Namespaced plugins.
    pub plugins: Vec<WasmPlugin>,
    /// Cluster-scoped plugins.
    pub cluster_plugins: Vec<ClusterWasmPlugin>,
    /// Flux HelmRepositories.
    pub helm_repositories: Vec<HelmRepository>,
    /// Flux OCIRepositories.
    pub oci_repositories: Vec<OciRepository>,
    /// `v1` ConfigMaps and Secrets, as they are (for [`crate::compose_values`]).
    pub values_objects: Vec<Value>,
    /// `v1` Namespaces, as they are (their labels, for `ClusterWasmPlugin` namespace selectors).
    pub namespaces: Vec<Value>,
    /// Documents that are not inputs, unknown fields in the sources and plugins.
    pub warnings: Vec<InputWarning>,
}

/// Sorts `docs` (e.g. every document of every `-f` file) into [`Inputs`]. Empty documents are
/// skipped, `v1` `List` documents are unpacked, documents of other kinds become warnings, and a
/// malformed input is an error naming it.
pub fn classify_documents(docs: &[Value]) -> Result<Inputs> {
    let mut flat = Vec::with_capacity(docs.len());
    for doc in docs {
        match (
            doc.get("apiVersion").and_then(Value::as_str),
            doc.get("kind").and_then(Value::as_str),
            doc.get("items").and_then(Value::as_array),
        ) {
            (Some("v1"), Some("List"), Some(items)) => flat.extend(items.iter()),
            _ => flat.push(doc),
        }
    }
    let mut inputs = Inputs::default();
    for (i, doc) in flat.into_iter().enumerate() {
        if doc.is_null() {
            continue;
        }
        let api_version = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
        let object = if kind.is_empty() {
            format!("document {}", i + 1)
        } else {
            format!("{kind} {}", object_name(doc))
        };
        let mut note = |warnings: Vec<Warning>| {
            inputs
                .warnings
                .extend(warnings.into_iter().map(|warning| InputWarning {
                    object: object.clone(),
                    warning,
                }));
        };
        match (api_version, kind) {
            _ if is_helm_release(doc) => inputs.releases.push(parse_helm_release(doc)?),
            (PLUGIN_API_VERSION, "WasmPlugin") => {
                let p = parse_wasm_plugin(doc)?;
                note(p.warnings);
                inputs.plugins.push(p.object);
            }
            (PLUGIN_API_VERSION, "ClusterWasmPlugin") => {
                let p = parse_cluster_wasm_plugin(doc)?;
                note(p.warnings);
                inputs.cluster_plugins.push(p.object);
            }
            (_, "HelmRepository") if api_version.starts_with("source.toolkit.fluxcd.io/") => {
                let p = parse_helm_repository(doc)?;
                note(p.warnings);
                inputs.helm_repositories.push(p.object);
            }
            (_, "OCIRepository") if api_version.starts_with("source.toolkit.fluxcd.io/") => {
                let p = parse_oci_repository(doc)?;
                note(p.warnings);
                inputs.oci_repositories.push(p.object);
            }
            ("v1", "ConfigMap" | "Secret") => inputs.values_objects.push(doc.clone()),
            ("v1", "Namespace") => inputs.namespaces.push(doc.clone()),
            _ => note(vec![Warning::new(
                "",
                format!(
                    "apiVersion {api_version:?} kind {kind:?} is not an input of a build, ignored"
                ),
            )]),
        }
    }
    Ok(inputs)
}

/// Why the chart source a HelmRelease names is not among the inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "HelmRelease {release}: {field}: {kind} {object} not found among the inputs (known: {})",
    if known.is_empty() { "none".to_owned() } else { known.join(", ") }
)]
pub struct FindSourceError {
    /// `namespace/name` of the HelmRelease.
    pub release: String,
    /// The field naming the source (`spec.chart.spec.sourceRef`, `spec.chartRef`).
    pub field: String,
    /// `HelmRepository` or `OCIRepository`.
    pub kind: String,
    /// `namespace/name` searched.
    pub object: String,
    /// `namespace/name` of the sources of that kind that exist.
    pub known: Vec<String>,
}

fn find_by_name<'a, T>(
    items: &'a [T],
    meta: impl Fn(&T) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    namespace: &str,
    name: &str,
) -> std::result::Result<&'a T, Vec<String>> {
    let ns_of = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        m.namespace.clone().filter(|n| !n.is_empty())
    };
    let named = || {
        items
            .iter()
            .filter(|i| meta(i).name.as_deref() == Some(name))
    };
    // An exact namespace wins; an object read from a file without a namespace matches any.
    named()
        .find(|i| ns_of(meta(i)).as_deref() == Some(namespace))
        .or_else(|| named().find(|i| ns_of(meta(i)).is_none()))
        .ok_or_else(|| {
            items
                .iter()
                .map(|i| {
                    let m = meta(i);
                    format!(
                        "{}/{}",
                        ns_of(m).unwrap_or_else(|| "-".into()),
                        m.name.as_deref().unwrap_or("")
                    )
                })
                .collect()
        })
}

impl Inputs {
    /// The `HelmRepository` `namespace/name`, for a release's `chart.spec.sourceRef`.
    pub fn helm_repository(
        &self,
        release: &crate::HelmRelease,
        namespace: &str,
        name: &str,
    ) -> std::result::Result<&HelmRepository, FindSourceError> {
        find_by_name(&self.helm_repositories, |r| &r.metadata, namespace, name).map_err(|known| {
            FindSourceError {
                release: release.full_name(),
                field: "spec.chart.spec.sourceRef".into(),
                kind: "HelmRepository".into(),
                object: format!("{namespace}/{name}"),
                known,
            }
        })
    }

    /// The `OCIRepository` `namespace/name`, for a release's `chartRef`.
    pub fn oci_repository(
        &self,
        release: &crate::HelmRelease,
        namespace: &str,
        name: &str,
    ) -> std::result::Result<&OciRepository, FindSourceError> {
        find_by_name(&self.oci_repositories, |r| &r.metadata, namespace, name).map_err(|known| {
            FindSourceError {
                release: release.full_name(),
                field: "spec.chartRef".into(),
                kind: "OCIRepository".into(),
                object: format!("{namespace}/{name}"),
                known,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sorts_documents_by_kind_and_reports_the_rest() {
        let docs = vec![
            json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                   "metadata": {"name": "web", "namespace": "apps"},
                   "spec": {"chart": {"spec": {"chart": "web", "sourceRef": {"kind": "HelmRepository", "name": "r"}}}}}),
            Value::Null,
            json!({"apiVersion": "capstan.dev/v1alpha1", "kind": "WasmPlugin",
                   "metadata": {"name": "labels", "namespace": "apps"},
                   "spec": {"url": "https://x/p.wasm", "sha256": "ab", "colour": "red"}}),
            json!({"apiVersion": "capstan.dev/v1alpha1", "kind": "ClusterWasmPlugin",
                   "metadata": {"name": "policy", "namespace": "oops"}, "spec": {}}),
            json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
                   "metadata": {"name": "r", "namespace": "apps"}, "spec": {"url": "oci://127.0.0.1:5000/charts", "type": "oci"}}),
            json!({"apiVersion": "source.toolkit.fluxcd.io/v1beta2", "kind": "OCIRepository",
                   "metadata": {"name": "o"}, "spec": {"url": "oci://x/y", "ref": {"semver": "1.x", "tag": "latest"}}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "vals"}, "data": {}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec"}, "data": {}}),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "stray", "namespace": "apps"}}),
        ];
        let inputs = classify_documents(&docs).expect("classifies");
        assert_eq!(inputs.releases.len(), 1);
        assert_eq!(inputs.plugins.len(), 1);
        assert_eq!(inputs.cluster_plugins.len(), 1);
        assert_eq!(inputs.helm_repositories.len(), 1);
        assert!(inputs.helm_repositories[0].spec.is_oci());
        assert_eq!(
            inputs.oci_repositories[0].spec.version(),
            crate::OciVersion::Semver {
                range: "1.x",
                filter: None
            }
        );
        assert_eq!(inputs.values_objects.len(), 2);
        let shown: Vec<String> = inputs.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "WasmPlugin apps/labels: spec.colour: unknown field, ignored",
                "ClusterWasmPlugin oops/policy: metadata.namespace: ignored: ClusterWasmPlugin is cluster-scoped (found \"oops\")",
                "Deployment apps/stray: apiVersion \"apps/v1\" kind \"Deployment\" is not an input of a build, ignored",
            ]
        );
    }

    #[test]
    fn lists_are_unpacked_and_sources_are_found_for_a_release() {
        let docs = vec![json!({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "capstan.dev/v1alpha1", "kind": "HelmRelease",
             "metadata": {"name": "web", "namespace": "apps"},
             "spec": {"chart": {"spec": {"chart": "web",
                "sourceRef": {"kind": "HelmRepository", "name": "charts", "namespace": "flux-system"}}}}},
            {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
             "metadata": {"name": "charts", "namespace": "flux-system"}, "spec": {"url": "https://c.test"}},
            {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
             "metadata": {"name": "local"}, "spec": {"url": "https://l.test"}}
        ]})];
        let inputs = classify_documents(&docs).expect("classifies");
        let hr = &inputs.releases[0].release;
        let Ok(crate::ChartSource::SourceRef {
            namespace, name, ..
        }) = hr.chart_source()
        else {
            panic!("sourceRef expected");
        };
        let repo = inputs.helm_repository(hr, namespace, name).expect("found");
        assert_eq!(repo.spec.url, "https://c.test");
        // A source without a namespace (from a file) matches any namespace.
        assert_eq!(
            inputs
                .helm_repository(hr, "elsewhere", "local")
                .map(|r| r.spec.url.as_str()),
            Ok("https://l.test")
        );
        let err = inputs
            .helm_repository(hr, "flux-system", "nope")
            .expect_err("missing");
        assert_eq!(
            err.to_string(),
            "HelmRelease apps/web: spec.chart.spec.sourceRef: HelmRepository flux-system/nope not \
             found among the inputs (known: flux-system/charts, -/local)"
        );
        assert!(inputs.oci_repository(hr, "apps", "x").is_err());
    }

    #[test]
    fn malformed_inputs_are_errors_naming_them() {
        let docs = vec![
            json!({"apiVersion": "capstan.dev/v1alpha1", "kind": "WasmPlugin",
            "metadata": {"name": "p", "namespace": "apps"}, "spec": {"limits": {"memory": 64}}}),
        ];
        let err = classify_documents(&docs).expect_err("memory must be a string");
        let msg = err.to_string();
        assert!(
            msg.contains("WasmPlugin apps/p") && msg.contains("spec.limits.memory"),
            "{msg}"
        );
    }
}
