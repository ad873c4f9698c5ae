//! Reading a HelmRelease document written for Capstan (`capstan.dev/v1alpha1`) or for Flux
//! (`helm.toolkit.fluxcd.io/v2`, `v2beta2`, `v2beta1`) into the typed [`HelmRelease`], with a
//! [`Warning`] for every field Capstan does not act on: unknown fields (by path), deprecated
//! fields, fields Capstan does not support yet, and Capstan extensions used in a Flux document.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::decode::decode;
use crate::{Error, HelmRelease, HelmReleaseSpec, Result, Warning};

/// The Capstan HelmRelease apiVersion.
pub const CAPSTAN_API_VERSION: &str = "capstan.dev/v1alpha1";

/// Which API a HelmRelease document was written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseApiVersion {
    /// `capstan.dev/v1alpha1`.
    CapstanV1alpha1,
    /// `helm.toolkit.fluxcd.io/v2`.
    FluxV2,
    /// `helm.toolkit.fluxcd.io/v2beta2`.
    FluxV2beta2,
    /// `helm.toolkit.fluxcd.io/v2beta1`.
    FluxV2beta1,
}

impl ReleaseApiVersion {
    /// Recognizes an apiVersion string.
    pub fn from_api_version(api_version: &str) -> Option<Self> {
        Some(match api_version {
            CAPSTAN_API_VERSION => ReleaseApiVersion::CapstanV1alpha1,
            "helm.toolkit.fluxcd.io/v2" => ReleaseApiVersion::FluxV2,
            "helm.toolkit.fluxcd.io/v2beta2" => ReleaseApiVersion::FluxV2beta2,
            "helm.toolkit.fluxcd.io/v2beta1" => ReleaseApiVersion::FluxV2beta1,
            _ => return None,
        })
    }

    /// The apiVersion string.
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseApiVersion::CapstanV1alpha1 => CAPSTAN_API_VERSION,
            ReleaseApiVersion::FluxV2 => "helm.toolkit.fluxcd.io/v2",
            ReleaseApiVersion::FluxV2beta2 => "helm.toolkit.fluxcd.io/v2beta2",
            ReleaseApiVersion::FluxV2beta1 => "helm.toolkit.fluxcd.io/v2beta1",
        }
    }

    /// True for the Flux apiVersions.
    pub fn is_flux(self) -> bool {
        self != ReleaseApiVersion::CapstanV1alpha1
    }
}

/// A HelmRelease read from a document, converted to `capstan.dev/v1alpha1`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRelease {
    /// The release (its `status` is never read from input).
    pub release: HelmRelease,
    /// The apiVersion the document was written for.
    pub api_version: ReleaseApiVersion,
    /// Everything in the document Capstan does not act on.
    pub warnings: Vec<Warning>,
}

/// Fields Capstan accepts (so Flux manifests load) but does not act on yet, with what to tell
/// the user. A field is reported when present and not at its default; `a/*/b` is field `b` of
/// any item of the list `a`.
pub const NOT_YET_SUPPORTED: &[(&str, &str)] = &[
    ("/spec/kubeConfig", "spec.kubeConfig"),
    ("/spec/persistentClient", "spec.persistentClient"),
    ("/spec/install/strategy", "spec.install.strategy"),
    ("/spec/upgrade/strategy", "spec.upgrade.strategy"),
    (
        "/spec/upgrade/preserveValues",
        "spec.upgrade.preserveValues",
    ),
    ("/spec/chart/metadata", "spec.chart.metadata"),
    ("/spec/chart/spec/verify", "spec.chart.spec.verify"),
    (
        "/spec/chart/spec/reconcileStrategy",
        "spec.chart.spec.reconcileStrategy",
    ),
];

fn is_default(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.values().all(is_default),
        Value::Number(_) => false,
    }
}

/// True when a not-yet-supported field only restates Flux's default (`persistentClient: true`,
/// `reconcileStrategy: ChartVersion`), which needs no warning.
fn is_flux_default(pointer: &str, v: &Value) -> bool {
    match pointer {
        "/spec/persistentClient" => v == &Value::Bool(true),
        "/spec/chart/spec/reconcileStrategy" => v == "ChartVersion",
        "/spec/install/serverSideApply" => v == &Value::Bool(true),
        "/spec/upgrade/serverSideApply" => v == "auto",
        _ => false,
    }
}

fn str_at<'a>(doc: &'a Value, pointer: &str) -> &'a str {
    doc.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The `namespace/name` of an object document, for messages.
pub(crate) fn object_name(doc: &Value) -> String {
    let ns = str_at(doc, "/metadata/namespace");
    let name = str_at(doc, "/metadata/name");
    if ns.is_empty() {
        name.to_owned()
    } else {
        format!("{ns}/{name}")
    }
}

/// True if `doc` has kind HelmRelease and one of the apiVersions [`parse_helm_release`] reads.
pub fn is_helm_release(doc: &Value) -> bool {
    str_at(doc, "/kind") == "HelmRelease"
        && ReleaseApiVersion::from_api_version(str_at(doc, "/apiVersion")).is_some()
}

/// Decodes an object document's `metadata` and `spec` (others are reported), shared by the
/// HelmRelease and source parsers.
pub(crate) fn decode_object<S: DeserializeOwned>(
    doc: &Value,
    kind: &str,
    warnings: &mut Vec<Warning>,
) -> Result<(ObjectMeta, S)> {
    let object = object_name(doc);
    let Some(map) = doc.as_object() else {
        return Err(Error::InvalidSpec {
            kind: kind.into(),
            object,
            field: String::new(),
            reason: "the document is not an object".into(),
        });
    };
    if str_at(doc, "/metadata/name").is_empty() {
        return Err(Error::MissingName { kind: kind.into() });
    }
    for key in map.keys() {
        match key.as_str() {
            "apiVersion" | "kind" | "metadata" | "spec" => {}
            "status" => warnings.push(Warning::new(
                "status",
                "ignored: status is written by the controller, not read from manifests",
            )),
            other => warnings.push(Warning::new(other, "unknown field, ignored")),
        }
    }
    let mut unknown = Vec::new();
    let fail = |(path, source)| Error::DecodeField {
        kind: kind.into(),
        object: object.clone(),
        path,
        source,
    };
    let metadata: ObjectMeta = decode(
        map.get("metadata").cloned().unwrap_or_default(),
        "metadata",
        &mut unknown,
    )
    .map_err(fail)?;
    let spec: S = decode(
        map.get("spec")
            .cloned()
            .unwrap_or(Value::Object(Default::default())),
        "spec",
        &mut unknown,
    )
    .map_err(fail)?;
    warnings.extend(
        unknown
            .into_iter()
            .map(|path| Warning::new(path, "unknown field, ignored")),
    );
    Ok((metadata, spec))
}

/// Reads a HelmRelease in any supported apiVersion. See the module docs for what is reported.
pub fn parse_helm_release(doc: &Value) -> Result<ParsedRelease> {
    let api_version = str_at(doc, "/apiVersion");
    let kind = str_at(doc, "/kind");
    let version = ReleaseApiVersion::from_api_version(api_version)
        .filter(|_| kind == "HelmRelease")
        .ok_or_else(|| Error::UnsupportedKind {
            expected: "a HelmRelease (capstan.dev/v1alpha1, helm.toolkit.fluxcd.io/v2, v2beta2 \
                       or v2beta1)"
                .into(),
            api_version: api_version.into(),
            kind: kind.into(),
        })?;
    let mut warnings = Vec::new();
    let (metadata, spec): (ObjectMeta, HelmReleaseSpec) =
        decode_object(doc, "HelmRelease", &mut warnings)?;
    let release = HelmRelease {
        metadata,
        spec,
        status: None,
    };
    check_spec(&release, doc, version, &mut warnings)?;
    Ok(ParsedRelease {
        release,
        api_version: version,
        warnings,
    })
}

fn check_spec(
    release: &HelmRelease,
    doc: &Value,
    version: ReleaseApiVersion,
    warnings: &mut Vec<Warning>,
) -> Result<()> {
    let invalid = |field: &str, reason: &str| Error::InvalidSpec {
        kind: "HelmRelease".into(),
        object: release.full_name(),
        field: field.into(),
        reason: reason.into(),
    };
    let spec = &release.spec;
    match (&spec.chart, &spec.chart_ref) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "spec",
                "either chart or chartRef must be set, not both",
            ));
        }
        (None, None) => return Err(invalid("spec", "either chart or chartRef must be set")),
        _ => {}
    }
    if let Some(chart) = &spec.chart {
        if chart.spec.chart.is_empty() {
            return Err(invalid("spec.chart.spec.chart", "the chart name is empty"));
        }
        match (&chart.spec.source_ref, &chart.spec.repository) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "spec.chart.spec",
                    "set either sourceRef (a Flux source) or repository (inline), not both",
                ));
            }
            (None, None) => {
                return Err(invalid(
                    "spec.chart.spec",
                    "sourceRef (a Flux HelmRepository) or repository (https://…, oci://…, \
                     file://…) is required",
                ));
            }
            _ => {}
        }
        if chart.spec.repository.is_some() && version.is_flux() {
            warnings.push(Warning::new(
                "spec.chart.spec.repository",
                "Capstan extension: Flux does not know this field",
            ));
        }
        if chart.spec.values_file.is_some() {
            warnings.push(Warning::new(
                "spec.chart.spec.valuesFile",
                "deprecated: use valuesFiles (still honoured, merged first)",
            ));
        }
    }
    if spec.post_renderers.len() > 50 {
        return Err(invalid(
            "spec.postRenderers",
            &format!(
                "{} post-renderers; at most 50 are allowed",
                spec.post_renderers.len()
            ),
        ));
    }
    for (i, pr) in spec.post_renderers.iter().enumerate() {
        let field = format!("spec.postRenderers[{i}]");
        match (&pr.kustomize, &pr.wasm) {
            (Some(_), Some(_)) => {
                return Err(invalid(&field, "set either kustomize or wasm, not both"));
            }
            (None, None) => {
                return Err(invalid(
                    &field,
                    "empty post-renderer: set kustomize or wasm",
                ));
            }
            _ => {}
        }
        if let Some(k) = &pr.kustomize {
            if !k.patches_strategic_merge.is_empty() {
                warnings.push(Warning::new(
                    format!("{field}.kustomize.patchesStrategicMerge"),
                    "deprecated: use patches (still honoured)",
                ));
            }
            if !k.patches_json6902.is_empty() {
                warnings.push(Warning::new(
                    format!("{field}.kustomize.patchesJson6902"),
                    "deprecated: use patches (still honoured)",
                ));
            }
            for (j, p) in k.patches.iter().enumerate() {
                if p.patch.trim().is_empty() {
                    return Err(invalid(
                        &format!("{field}.kustomize.patches[{j}].patch"),
                        "empty patch",
                    ));
                }
            }
        }
        if let Some(w) = &pr.wasm {
            if w.plugin.is_empty() {
                return Err(invalid(
                    &format!("{field}.wasm.plugin"),
                    "the plugin name is empty",
                ));
            }
            if version.is_flux() {
                warnings.push(Warning::new(
                    format!("{field}.wasm"),
                    "Capstan extension: Flux does not know the wasm post-renderer",
                ));
            }
            if let Some(config) = &w.config
                && !config.is_object()
            {
                return Err(invalid(
                    &format!("{field}.wasm.config"),
                    "config must be an object",
                ));
            }
        }
    }
    if let Some(values) = &spec.values
        && !values.is_object()
        && !values.is_null()
    {
        return Err(invalid("spec.values", "values must be a map"));
    }
    if spec.install.as_ref().is_some_and(|i| i.skip_crds) {
        warnings.push(Warning::new(
            "spec.install.skipCRDs",
            "deprecated: use install.crds: Skip (still honoured)",
        ));
    }
    for (pointer, field) in NOT_YET_SUPPORTED {
        // `a/*/b`: field `b` of any item of the list at `a`.
        let mut found = match pointer.split_once("/*") {
            Some((list, rest)) => doc
                .pointer(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|item| item.pointer(rest))
                .collect(),
            None => doc.pointer(pointer).into_iter().collect::<Vec<_>>(),
        };
        found.retain(|v| !is_default(v) && !is_flux_default(pointer, v));
        if !found.is_empty() {
            warnings.push(Warning::new(
                *field,
                "not supported by Capstan yet: accepted and ignored",
            ));
        }
    }
    for (field, value) in [
        ("spec.interval", spec.interval.as_deref()),
        ("spec.timeout", spec.timeout.as_deref()),
    ] {
        if let Some(v) = value {
            crate::units::parse_duration(v).map_err(|e| invalid(field, &e.to_string()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
