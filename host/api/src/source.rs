//! Flux source objects a chart can come from — `HelmRepository` (`source.toolkit.fluxcd.io/v1`,
//! `v1beta2`) and `OCIRepository` (`v1beta2`, `v1`) — as plain serde types read from files
//! (Capstan does not reconcile them), and the decision of where a HelmRelease's chart comes from.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::parse::decode_object;
use crate::{Error, HelmRelease, Result, Warning};

/// A Flux `HelmRepository`: an HTTP(S) Helm repository (`index.yaml`) or, with `type: oci`, an
/// OCI registry prefix.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HelmRepository {
    /// Name and namespace.
    pub metadata: ObjectMeta,
    /// The spec.
    pub spec: HelmRepositorySpec,
}

/// The spec of a [`HelmRepository`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmRepositorySpec {
    /// `https://…` (index) or `oci://…` (with `type: oci`).
    pub url: String,
    /// `default` (HTTP index) or `oci`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub repository_type: Option<String>,
    /// Reconcile interval (Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Timeout of index/chart downloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Secret with credentials (`username`/`password`) or TLS material.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<crate::LocalObjectReference>,
    /// Secret with TLS certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<crate::LocalObjectReference>,
    /// Send credentials to chart URLs on other hosts too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_credentials: Option<bool>,
    /// Allow plain HTTP for OCI registries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,
    /// Cloud provider for OCI authentication (`generic`, `aws`, `azure`, `gcp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Suspends reconciliation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    /// Cross-namespace access control.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_from: Option<Value>,
}

impl HelmRepositorySpec {
    /// True for `type: oci` (or an `oci://` URL).
    pub fn is_oci(&self) -> bool {
        self.repository_type.as_deref() == Some("oci") || self.url.starts_with("oci://")
    }
}

/// A Flux `OCIRepository`: an OCI artifact (here: a chart) by tag, semver range or digest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OciRepository {
    /// Name and namespace.
    pub metadata: ObjectMeta,
    /// The spec.
    pub spec: OciRepositorySpec,
}

/// The spec of an [`OciRepository`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OciRepositorySpec {
    /// `oci://registry/repository`.
    pub url: String,
    /// Which artifact version; `latest` tag when unset.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<OciRepositoryRef>,
    /// Which layer holds the content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer_selector: Option<Value>,
    /// Cloud provider for authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Secret with registry credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<crate::LocalObjectReference>,
    /// Signature verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Value>,
    /// Service account for image pull secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Secret with TLS certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<crate::LocalObjectReference>,
    /// Secret with proxy settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_secret_ref: Option<crate::LocalObjectReference>,
    /// Reconcile interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Download timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Files to exclude (gitignore syntax).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,
    /// Allow plain HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure: Option<bool>,
    /// Suspends reconciliation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
}

/// Which version of an OCI artifact; precedence digest > semver > tag, as in Flux.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OciRepositoryRef {
    /// An exact digest (`sha256:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// A semver range over the tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver: Option<String>,
    /// A regex filtering the tags before the semver range applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver_filter: Option<String>,
    /// A tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// The version selection of an [`OciRepositoryRef`] after Flux's precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OciVersion<'a> {
    /// Pinned digest.
    Digest(&'a str),
    /// Highest tag in a semver range (with an optional tag filter regex).
    Semver {
        /// The range.
        range: &'a str,
        /// The filter regex.
        filter: Option<&'a str>,
    },
    /// A tag (`latest` when nothing is set).
    Tag(&'a str),
}

impl OciRepositorySpec {
    /// Digest wins over semver, which wins over tag; `latest` by default.
    pub fn version(&self) -> OciVersion<'_> {
        let r = self.reference.as_ref();
        fn non_empty(s: Option<&String>) -> Option<&str> {
            s.map(String::as_str).filter(|s| !s.is_empty())
        }
        if let Some(d) = non_empty(r.and_then(|r| r.digest.as_ref())) {
            return OciVersion::Digest(d);
        }
        if let Some(range) = non_empty(r.and_then(|r| r.semver.as_ref())) {
            return OciVersion::Semver {
                range,
                filter: non_empty(r.and_then(|r| r.semver_filter.as_ref())),
            };
        }
        OciVersion::Tag(non_empty(r.and_then(|r| r.tag.as_ref())).unwrap_or("latest"))
    }
}

/// A source object read from a document, with the fields Capstan ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSource<T> {
    /// The object.
    pub object: T,
    /// Unknown fields and the like.
    pub warnings: Vec<Warning>,
}

fn check_kind(doc: &Value, kind: &str, versions: &[&str]) -> Result<()> {
    let api_version = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let found = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    if found == kind && versions.contains(&api_version) {
        return Ok(());
    }
    Err(Error::UnsupportedKind {
        expected: format!("a {kind} ({})", versions.join(", ")),
        api_version: api_version.into(),
        kind: found.into(),
    })
}

/// Reads a `HelmRepository` (`source.toolkit.fluxcd.io/v1` or `v1beta2`).
pub fn parse_helm_repository(doc: &Value) -> Result<ParsedSource<HelmRepository>> {
    check_kind(
        doc,
        "HelmRepository",
        &[
            "source.toolkit.fluxcd.io/v1",
            "source.toolkit.fluxcd.io/v1beta2",
        ],
    )?;
    let mut warnings = Vec::new();
    let (metadata, spec) = decode_object(doc, "HelmRepository", &mut warnings)?;
    Ok(ParsedSource {
        object: HelmRepository { metadata, spec },
        warnings,
    })
}

/// Reads an `OCIRepository` (`source.toolkit.fluxcd.io/v1` or `v1beta2`).
pub fn parse_oci_repository(doc: &Value) -> Result<ParsedSource<OciRepository>> {
    check_kind(
        doc,
        "OCIRepository",
        &[
            "source.toolkit.fluxcd.io/v1",
            "source.toolkit.fluxcd.io/v1beta2",
        ],
    )?;
    let mut warnings = Vec::new();
    let (metadata, spec) = decode_object(doc, "OCIRepository", &mut warnings)?;
    Ok(ParsedSource {
        object: OciRepository { metadata, spec },
        warnings,
    })
}

/// Where a HelmRelease's chart comes from, decided from its spec alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartSource<'a> {
    /// `chart.spec.sourceRef` naming a Flux source object (`HelmRepository`, …) in `namespace`.
    SourceRef {
        /// `HelmRepository`, `GitRepository` or `Bucket`.
        kind: &'a str,
        /// Its name.
        name: &'a str,
        /// Its namespace (the release's by default).
        namespace: &'a str,
        /// The chart name.
        chart: &'a str,
        /// The version range (`*` by default).
        version: &'a str,
    },
    /// `chart.spec.repository`: an `https://`/`http://` Helm repository.
    HttpRepository {
        /// Repository URL.
        url: &'a str,
        /// The chart name.
        chart: &'a str,
        /// The version range.
        version: &'a str,
    },
    /// `chart.spec.repository`: an `oci://` registry prefix; the chart is at `<url>/<chart>`.
    OciRepository {
        /// Registry URL (`oci://host/path`).
        url: &'a str,
        /// The chart name.
        chart: &'a str,
        /// The version range.
        version: &'a str,
    },
    /// `chart.spec.repository`: a local directory or packaged chart (development).
    LocalPath {
        /// The path (`file://` removed).
        path: &'a str,
    },
    /// `chartRef`: an `OCIRepository` (or `HelmChart`) object.
    ChartRef {
        /// `OCIRepository`, `HelmChart` or `ExternalArtifact`.
        kind: &'a str,
        /// Its name.
        name: &'a str,
        /// Its namespace.
        namespace: &'a str,
    },
}

impl HelmRelease {
    /// Decides where the chart comes from. Fails (naming the field) if neither or both of
    /// `chart`/`chartRef` are set, or neither/both of `sourceRef`/`repository`.
    pub fn chart_source(&self) -> Result<ChartSource<'_>> {
        let invalid = |field: &str, reason: &str| Error::InvalidSpec {
            kind: "HelmRelease".into(),
            object: self.full_name(),
            field: field.into(),
            reason: reason.into(),
        };
        let ns = self.namespace_or_default();
        match (&self.spec.chart, &self.spec.chart_ref) {
            (Some(chart), None) => {
                let spec = &chart.spec;
                let version = spec
                    .version
                    .as_deref()
                    .filter(|v| !v.is_empty())
                    .unwrap_or("*");
                match (&spec.source_ref, spec.repository.as_deref()) {
                    (Some(r), None) => Ok(ChartSource::SourceRef {
                        kind: &r.kind,
                        name: &r.name,
                        namespace: r
                            .namespace
                            .as_deref()
                            .filter(|n| !n.is_empty())
                            .unwrap_or(ns),
                        chart: &spec.chart,
                        version,
                    }),
                    (None, Some(url)) if url.starts_with("oci://") => {
                        Ok(ChartSource::OciRepository {
                            url,
                            chart: &spec.chart,
                            version,
                        })
                    }
                    (None, Some(url))
                        if url.starts_with("https://") || url.starts_with("http://") =>
                    {
                        Ok(ChartSource::HttpRepository {
                            url,
                            chart: &spec.chart,
                            version,
                        })
                    }
                    (None, Some(path)) => Ok(ChartSource::LocalPath {
                        path: path.strip_prefix("file://").unwrap_or(path),
                    }),
                    (Some(_), Some(_)) => Err(invalid(
                        "spec.chart.spec",
                        "set either sourceRef or repository, not both",
                    )),
                    (None, None) => Err(invalid(
                        "spec.chart.spec",
                        "sourceRef or repository is required",
                    )),
                }
            }
            (None, Some(r)) => Ok(ChartSource::ChartRef {
                kind: &r.kind,
                name: &r.name,
                namespace: r
                    .namespace
                    .as_deref()
                    .filter(|n| !n.is_empty())
                    .unwrap_or(ns),
            }),
            (Some(_), Some(_)) => Err(invalid(
                "spec",
                "either chart or chartRef must be set, not both",
            )),
            (None, None) => Err(invalid("spec", "either chart or chartRef must be set")),
        }
    }
}
