//! The `HelmRelease` custom resource (`capstan.dev/v1alpha1`). Its spec is the Flux
//! `helm.toolkit.fluxcd.io/v2` HelmRelease spec, field for field, so a Flux manifest works after
//! changing its apiVersion, plus Capstan's additions: the `wasm` post-renderer,
//! `postRenderStrategy` and an inline chart `repository` for clusters without Flux sources.
//! The status follows kstatus (`Ready`, `Reconciling`, `Stalled`, `observedGeneration`).
//! The spec carries the CEL rules the API server enforces (`KubeSchema`).

#![expect(
    unreachable_pub,
    reason = "kube's KubeSchema derive emits a private copy of HelmReleaseSpec to build its schema"
)]

use std::collections::BTreeMap;

use crate::kustomize::{Kustomize, Selector};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The desired state of a Helm release: where the chart comes from, its values, how Helm
/// actions behave, and the post-renderers applied to the rendered manifests.
#[expect(
    clippy::duplicated_attributes,
    reason = "each kube printcolumn repeats `type_`; they are separate columns"
)]
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[x_kube(validation = Rule::new(
    "(has(self.chart) && !has(self.chartRef)) || (!has(self.chart) && has(self.chartRef))"
).message("either chart or chartRef must be set"))]
#[kube(
    group = "capstan.dev",
    version = "v1alpha1",
    kind = "HelmRelease",
    namespaced,
    status = "HelmReleaseStatus",
    shortname = "hr",
    doc = "A Helm release reconciled by Capstan: a chart, its values and a post-renderer chain.",
    category = "capstan",
    derive = "PartialEq",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].message"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct HelmReleaseSpec {
    /// The chart: name, version range and source. Exactly one of `chart` and `chartRef` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<HelmChartTemplate>,

    /// A reference to a source object holding the chart artifact (an `OCIRepository` or a
    /// `HelmChart`), instead of `chart`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_ref: Option<CrossNamespaceSourceReference>,

    /// Reconcile interval (Go duration: `10m`, `1h30m`). Required by Flux; Capstan defaults it to
    /// `10m` so an embedded release can omit it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub interval: Option<String>,

    /// Kubeconfig for a remote cluster (Flux field; not supported by Capstan yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_config: Option<KubeConfigReference>,

    /// Suspends reconciliation (does not stop a running one).
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,

    /// The Helm release name. Defaults to `[targetNamespace-]name`, shortened with a hash when
    /// longer than 53 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 53))]
    pub release_name: Option<String>,

    /// The namespace the release is installed into. Defaults to the HelmRelease's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub target_namespace: Option<String>,

    /// The namespace of the Helm release storage. Defaults to the HelmRelease's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub storage_namespace: Option<String>,

    /// HelmReleases that must be ready first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DependencyReference>,

    /// Timeout of each Kubernetes operation of a Helm action (Go duration). Defaults to `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub timeout: Option<String>,

    /// Revisions kept by Helm; `0` is unlimited. Defaults to 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_history: Option<i64>,

    /// Service account to impersonate when reconciling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub service_account_name: Option<String>,

    /// Reuse one Kubernetes client for the whole reconciliation (Flux field). Defaults to true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_client: Option<bool>,

    /// How differences between the release and the cluster are detected and handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_detection: Option<DriftDetection>,

    /// Helm install options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<Install>,

    /// Helm upgrade options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<Upgrade>,

    /// Helm test options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Test>,

    /// Helm rollback options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Rollback>,

    /// Helm uninstall options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uninstall: Option<Uninstall>,

    /// ConfigMaps and Secrets whose values are merged, in order, before `values`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values_from: Vec<ValuesReference>,

    /// Inline values, merged last (except `valuesFrom` entries with a `targetPath`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::preserve_unknown_object")]
    pub values: Option<Value>,

    /// Post-renderers, applied in order to the rendered manifests (at most 50, which also bounds
    /// the API server's CEL cost estimate for their validation rule).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub post_renderers: Vec<PostRenderer>,

    /// Which rendered manifests go through the post-renderers: `combined` (default: hooks and
    /// templates together), `nohooks` (templates only; hooks are left as rendered) or `separate`
    /// (templates, then hooks in a second, separate pass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_render_strategy: Option<PostRenderStrategy>,

    /// Labels and annotations set on every rendered object (after the post-renderers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_metadata: Option<CommonMetadata>,

    /// How to wait for resources after Helm actions: `watcher` (default; kstatus) or `legacy`
    /// (Helm 3's rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_strategy: Option<WaitStrategy>,

    /// CEL health checks for custom resource kinds, used while waiting with the `watcher`
    /// strategy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_check_exprs: Vec<HealthCheckExpr>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The chart template: metadata for the generated `HelmChart` and its spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartTemplate {
    /// Labels and annotations of the generated `HelmChart` (Flux field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<HelmChartTemplateObjectMeta>,
    /// Which chart, which version, from where.
    pub spec: HelmChartTemplateSpec,
}

/// Labels and annotations for the generated `HelmChart`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartTemplateObjectMeta {
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Which chart, which version, from where.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[x_kube(validation = Rule::new("has(self.sourceRef) != has(self.repository)")
    .message("set either sourceRef (a Flux source) or repository (inline), not both"))]
#[serde(rename_all = "camelCase")]
pub struct HelmChartTemplateSpec {
    /// The chart name in the repository (or its path in a Git/Bucket source).
    #[schemars(length(min = 1, max = 2048))]
    pub chart: String,

    /// Semver range (`16.x.x`, `>=1.2 <2`, `1.2.3`), resolved as Helm does. Defaults to `*`
    /// (the latest stable version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,

    /// The Flux source holding the chart (`HelmRepository`, `GitRepository`, `Bucket`). Required
    /// unless `repository` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<CrossNamespaceObjectReference>,

    /// Capstan extension, instead of `sourceRef`: the repository itself, for clusters without
    /// Flux sources: `https://…` (a Helm repository with `index.yaml`), `oci://…` (an OCI
    /// registry), or `file://…` / a local path (development).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,

    /// How often the source is checked (Go duration). Defaults to the release's interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"))]
    pub interval: Option<String>,

    /// What makes a new artifact: `ChartVersion` (default) or `Revision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconcile_strategy: Option<ReconcileStrategy>,

    /// Values files in the chart used instead of `values.yaml`, merged in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values_files: Vec<String>,

    /// Deprecated single values file, merged before `valuesFiles`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_file: Option<String>,

    /// Skip missing `valuesFiles` instead of failing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_missing_values_files: bool,

    /// Signature verification of OCI charts (Flux field; not supported by Capstan yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<HelmChartTemplateVerification>,
}

/// What makes a new chart artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ReconcileStrategy {
    /// A new chart version.
    ChartVersion,
    /// A new source revision.
    Revision,
}

/// Signature verification of an OCI chart.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmChartTemplateVerification {
    /// `cosign` or `notation`.
    pub provider: String,
    /// Secret with the trusted public keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
}

/// A reference to an object in the same namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalObjectReference {
    /// Name of the object.
    pub name: String,
}

/// A reference to a Flux chart source (`HelmRepository`, `GitRepository`, `Bucket`), possibly in
/// another namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceObjectReference {
    /// API version of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `HelmRepository`, `GitRepository` or `Bucket`.
    pub kind: String,
    /// Name of the source.
    pub name: String,
    /// Namespace of the source; defaults to the HelmRelease's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A `chartRef`: an `OCIRepository` or `HelmChart` holding the chart artifact.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CrossNamespaceSourceReference {
    /// API version of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `OCIRepository`, `HelmChart` or `ExternalArtifact`.
    pub kind: String,
    /// Name of the source.
    pub name: String,
    /// Namespace of the source; defaults to the HelmRelease's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A kubeconfig held in a Secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubeConfigReference {
    /// The Secret and key holding the kubeconfig.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyReference>,
    /// A ConfigMap describing a provider-based cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<LocalObjectReference>,
}

/// A key in a Secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyReference {
    /// Name of the Secret.
    pub name: String,
    /// Key in the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// A reference to an object by name and optional namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespacedObjectReference {
    /// Name.
    pub name: String,
    /// Namespace; defaults to the HelmRelease's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A HelmRelease this one depends on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DependencyReference {
    /// Name.
    pub name: String,
    /// Namespace; defaults to the HelmRelease's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// CEL expression deciding readiness (`dep` and `self` are the two HelmReleases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_expr: Option<String>,
}

/// How the controller waits for resources after a Helm action.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WaitStrategy {
    /// `watcher` (kstatus rules; `poller` is Flux's other name for it) or `legacy` (Helm 3's
    /// `--wait` rules).
    pub name: WaitStrategyName,
}

/// The wait strategies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WaitStrategyName {
    /// kstatus: every object rolled out and current; custom resources by their `Ready`
    /// condition or `healthCheckExprs`.
    #[default]
    Watcher,
    /// The same as `watcher` (Flux's spelling).
    Poller,
    /// Helm 3's ready checker.
    Legacy,
}

/// A CEL health check for a custom resource kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheckExpr {
    /// API version of the custom resource.
    pub api_version: String,
    /// Kind of the custom resource.
    pub kind: String,
    /// True when the resource is ready.
    pub current: String,
    /// True while the resource is being reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress: Option<String>,
    /// True when the resource failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// Drift detection between the release manifest and the cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DriftDetection {
    /// `enabled`, `warn` or `disabled` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<DriftDetectionMode>,
    /// Changes to ignore.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<IgnoreRule>,
}

/// How drift is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DriftDetectionMode {
    /// Detect and correct.
    Enabled,
    /// Detect and warn.
    Warn,
    /// Do not detect.
    Disabled,
}

/// Paths to ignore when detecting drift.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IgnoreRule {
    /// JSON pointers to ignore.
    pub paths: Vec<String>,
    /// The objects the rule applies to; all when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Selector>,
}

/// CRD handling on install/upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CrdsPolicy {
    /// Neither install nor update CRDs.
    Skip,
    /// Create new CRDs, leave existing ones.
    Create,
    /// Create new CRDs and replace existing ones.
    CreateReplace,
}

/// Retry/remediation strategy of an install or upgrade (Flux `strategy`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionStrategy {
    /// `RemediateOnFailure` or `RetryOnFailure`.
    pub name: String,
    /// Wait between retries (Go duration), for `RetryOnFailure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_interval: Option<String>,
}

/// Helm install options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Install {
    /// Timeout of the install action (Go duration); defaults to `spec.timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// What to do when the install fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<InstallRemediation>,
    /// Retry/remediation strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<ActionStrategy>,
    /// Do not wait for resources to be ready.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait: bool,
    /// Do not wait for Jobs to complete.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait_for_jobs: bool,
    /// Do not run hooks.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_hooks: bool,
    /// Skip OpenAPI validation of the rendered manifests.
    #[serde(
        default,
        rename = "disableOpenAPIValidation",
        skip_serializing_if = "is_false"
    )]
    pub disable_open_api_validation: bool,
    /// Skip JSON schema validation of the values.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_schema_validation: bool,
    /// Do not take ownership of existing resources.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_take_ownership: bool,
    /// Reuse the name of a deleted release still in the history.
    #[serde(default, skip_serializing_if = "is_false")]
    pub replace: bool,
    /// Deprecated: use `crds: Skip`.
    #[serde(default, rename = "skipCRDs", skip_serializing_if = "is_false")]
    pub skip_crds: bool,
    /// CRD policy; defaults to `Create`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crds: Option<CrdsPolicy>,
    /// Create the target namespace if missing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub create_namespace: bool,
    /// Use server-side apply (Flux default: true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_apply: Option<bool>,
}

/// Install failure remediation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstallRemediation {
    /// Retries before giving up; negative is unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    /// Do not remediate when tests fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_test_failures: Option<bool>,
    /// Remediate the last failure when no retries remain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediate_last_failure: Option<bool>,
}

/// Upgrade failure remediation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeRemediation {
    /// Retries before giving up; negative is unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    /// Do not remediate when tests fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_test_failures: Option<bool>,
    /// Remediate the last failure when no retries remain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediate_last_failure: Option<bool>,
    /// `rollback` (default) or `uninstall`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<RemediationStrategy>,
}

/// How a failed upgrade is remediated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RemediationStrategy {
    /// Roll back to the last successful release.
    Rollback,
    /// Uninstall the release.
    Uninstall,
}

/// Helm upgrade options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Upgrade {
    /// Timeout of the upgrade action (Go duration); defaults to `spec.timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// What to do when the upgrade fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<UpgradeRemediation>,
    /// Retry/remediation strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<ActionStrategy>,
    /// Do not wait for resources to be ready.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait: bool,
    /// Do not wait for Jobs to complete.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait_for_jobs: bool,
    /// Do not run hooks.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_hooks: bool,
    /// Skip OpenAPI validation of the rendered manifests.
    #[serde(
        default,
        rename = "disableOpenAPIValidation",
        skip_serializing_if = "is_false"
    )]
    pub disable_open_api_validation: bool,
    /// Skip JSON schema validation of the values.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_schema_validation: bool,
    /// Do not take ownership of existing resources.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_take_ownership: bool,
    /// Force resource updates through replacement.
    #[serde(default, skip_serializing_if = "is_false")]
    pub force: bool,
    /// Reuse the last release's values (non-declarative).
    #[serde(default, skip_serializing_if = "is_false")]
    pub preserve_values: bool,
    /// Delete new resources when the upgrade fails.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cleanup_on_fail: bool,
    /// CRD policy; defaults to `Skip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crds: Option<CrdsPolicy>,
    /// Server-side apply: `enabled`, `disabled` or `auto` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_apply: Option<String>,
}

/// Helm test options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Test {
    /// Run Helm tests after install/upgrade.
    #[serde(default, skip_serializing_if = "is_false")]
    pub enable: bool,
    /// Timeout of the test action (Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Do not remediate when tests fail.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_failures: bool,
    /// Tests to run or exclude.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<TestFilter>,
}

/// A Helm test filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestFilter {
    /// Test name.
    pub name: String,
    /// Exclude instead of include.
    #[serde(default, skip_serializing_if = "is_false")]
    pub exclude: bool,
}

/// Helm rollback options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rollback {
    /// Timeout of the rollback action (Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Do not wait for resources to be ready.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait: bool,
    /// Do not wait for Jobs to complete.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait_for_jobs: bool,
    /// Do not run hooks.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_hooks: bool,
    /// Restart pods.
    #[serde(default, skip_serializing_if = "is_false")]
    pub recreate: bool,
    /// Force resource updates through replacement.
    #[serde(default, skip_serializing_if = "is_false")]
    pub force: bool,
    /// Delete new resources when the rollback fails.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cleanup_on_fail: bool,
    /// Server-side apply: `enabled`, `disabled` or `auto` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_side_apply: Option<String>,
}

/// Helm uninstall options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Uninstall {
    /// Timeout of the uninstall action (Go duration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Do not run hooks.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_hooks: bool,
    /// Keep the release history.
    #[serde(default, skip_serializing_if = "is_false")]
    pub keep_history: bool,
    /// Do not wait for resources to be deleted.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_wait: bool,
    /// `background` (default), `foreground` or `orphan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_propagation: Option<String>,
}

/// A ConfigMap or Secret holding values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValuesReference {
    /// `ConfigMap` or `Secret`.
    pub kind: ValuesKind,
    /// Name of the object, in the HelmRelease's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The data key holding the values; defaults to `values.yaml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_key: Option<String>,
    /// Set the key's content as the single value at this path (Helm `--set` path syntax)
    /// instead of merging it as a values document. Applied after all other values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_path: Option<String>,
    /// A missing object or key is skipped (with a warning) instead of failing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
}

impl ValuesReference {
    /// The data key, `values.yaml` by default.
    pub fn values_key(&self) -> &str {
        self.values_key
            .as_deref()
            .filter(|k| !k.is_empty())
            .unwrap_or("values.yaml")
    }
}

/// The kind of a values object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ValuesKind {
    /// A ConfigMap (`data`).
    #[default]
    ConfigMap,
    /// A Secret (`data`, base64, or `stringData`).
    Secret,
}

impl std::fmt::Display for ValuesKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ValuesKind::ConfigMap => "ConfigMap",
            ValuesKind::Secret => "Secret",
        })
    }
}

/// One post-renderer; exactly one field is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[x_kube(validation = Rule::new("has(self.kustomize) != has(self.wasm)")
    .message("set exactly one of kustomize or wasm"))]
#[serde(rename_all = "camelCase")]
pub struct PostRenderer {
    /// Kustomize patches and images, with Flux's semantics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<Kustomize>,
    /// A Wasm transform (Capstan extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wasm: Option<WasmPostRenderer>,
}

/// A post-renderer entry, as the one thing it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PostRendererRef<'a> {
    /// The kustomize post-renderer.
    Kustomize(&'a Kustomize),
    /// A Wasm plugin.
    Wasm(&'a WasmPostRenderer),
}

impl PostRenderer {
    /// The post-renderer this entry holds; `None` unless exactly one field is set (the parser
    /// rejects such entries).
    pub fn as_ref(&self) -> Option<PostRendererRef<'_>> {
        match (&self.kustomize, &self.wasm) {
            (Some(k), None) => Some(PostRendererRef::Kustomize(k)),
            (None, Some(w)) => Some(PostRendererRef::Wasm(w)),
            _ => None,
        }
    }

    /// `kustomize` or `wasm:NAME`, for summaries and history.
    pub fn label(&self) -> String {
        match self.as_ref() {
            Some(PostRendererRef::Kustomize(_)) => "kustomize".into(),
            Some(PostRendererRef::Wasm(w)) => format!("wasm:{}", w.plugin),
            None => "invalid".into(),
        }
    }
}

/// A Wasm post-renderer: a `WasmPlugin` (same namespace) or `ClusterWasmPlugin`, and its config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WasmPostRenderer {
    /// Name of the plugin object.
    #[schemars(length(min = 1, max = 253))]
    pub plugin: String,
    /// `WasmPlugin` (default; in the HelmRelease's namespace) or `ClusterWasmPlugin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<PluginKind>,
    /// Plugin configuration, merged over the plugin's default config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::preserve_unknown_object")]
    pub config: Option<Value>,
}

/// Which kind of plugin object a `wasm` post-renderer names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PluginKind {
    /// A namespaced `WasmPlugin`, usable only from its own namespace.
    #[default]
    WasmPlugin,
    /// A cluster-scoped `ClusterWasmPlugin`.
    ClusterWasmPlugin,
}

impl std::fmt::Display for PluginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PluginKind::WasmPlugin => "WasmPlugin",
            PluginKind::ClusterWasmPlugin => "ClusterWasmPlugin",
        })
    }
}

/// Which rendered manifests the post-renderers see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PostRenderStrategy {
    /// Hooks and templates together, in one pass (Helm 4 and Flux default).
    #[default]
    Combined,
    /// Templates only; hooks are not post-rendered (Helm 3 behaviour).
    Nohooks,
    /// Templates in one pass, hooks in a second, separate pass.
    Separate,
}

/// Labels and annotations applied to every rendered object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommonMetadata {
    /// Labels; override existing labels with the same key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations; override existing annotations with the same key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The observed state of a HelmRelease, kstatus style.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmReleaseStatus {
    /// The last generation whose reconciliation finished (successfully or not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The last generation a reconciliation was attempted for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_generation: Option<i64>,
    /// `Ready`, `Reconciling`, `Stalled` (kstatus) and action conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Namespace of the Helm storage of the current release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_namespace: Option<String>,
    /// Releases performed, newest first, up to the last successful one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Snapshot>,
    /// `install` or `upgrade`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_release_action: Option<String>,
    /// Failed reconciliations against the current desired state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<i64>,
    /// Failed installs against the current desired state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_failures: Option<i64>,
    /// Failed upgrades against the current desired state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_failures: Option<i64>,
    /// Chart version (and digest) of the last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision: Option<String>,
    /// Digest of the values of the last attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_config_digest: Option<String>,
    /// Value of the last handled `reconcile.fluxcd.io/requestedAt` annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// Value of the last handled `reconcile.fluxcd.io/forceAt` annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_force_at: Option<String>,
    /// Value of the last handled `reconcile.fluxcd.io/resetAt` annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reset_at: Option<String>,
}

/// One Helm release in the history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Release name.
    pub name: String,
    /// Release namespace.
    pub namespace: String,
    /// Helm release revision.
    pub version: i64,
    /// Helm release status (`deployed`, `failed`, `superseded`, …).
    pub status: String,
    /// Chart name.
    pub chart_name: String,
    /// Chart version.
    pub chart_version: String,
    /// Chart appVersion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// Digest of the values.
    pub config_digest: String,
    /// Digest of the release (manifest + values + chart).
    pub digest: String,
    /// Digest of the chart artifact when it came from an OCI registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci_digest: Option<String>,
    /// Post-renderers that ran, in order (`kustomize`, `wasm:NAME@sha256:…`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_renderers: Vec<String>,
    /// When the release was first deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_deployed: Option<Time>,
    /// When this revision was deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_deployed: Option<Time>,
    /// When the release was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Time>,
}

/// kstatus condition types and the HelmRelease's own.
pub mod condition {
    /// The release is reconciled and healthy.
    pub const READY: &str = "Ready";
    /// A reconciliation is in progress.
    pub const RECONCILING: &str = "Reconciling";
    /// Reconciliation cannot progress without a change to the spec or environment.
    pub const STALLED: &str = "Stalled";
    /// The last Helm release action (install/upgrade) succeeded or failed.
    pub const RELEASED: &str = "Released";
}

impl HelmReleaseStatus {
    /// The condition of `type_`, if set.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// Sets a condition, replacing the one of the same type. `lastTransitionTime` is kept when the
    /// status did not change (Kubernetes convention), so re-setting the same state is a no-op.
    pub fn set_condition(&mut self, condition: Condition) {
        match self
            .conditions
            .iter_mut()
            .find(|c| c.type_ == condition.type_)
        {
            Some(existing) => {
                let keep_time = existing.status == condition.status;
                let time = existing.last_transition_time.clone();
                *existing = condition;
                if keep_time {
                    existing.last_transition_time = time;
                }
            }
            None => self.conditions.push(condition),
        }
    }

    /// Removes the condition of `type_` (kstatus: `Reconciling`/`Stalled` are absent when false).
    pub fn remove_condition(&mut self, type_: &str) {
        self.conditions.retain(|c| c.type_ != type_);
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::jiff::Timestamp;

    use super::*;

    fn mk_condition(type_: &str, status: &str, reason: &str, at: i64) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: String::new(),
            observed_generation: Some(1),
            last_transition_time: Time(Timestamp::from_second(at).expect("valid timestamp")),
        }
    }

    #[test]
    fn set_condition_keeps_the_transition_time_while_the_status_holds() {
        let mut status = HelmReleaseStatus::default();
        status.set_condition(mk_condition(condition::READY, "False", "Progressing", 100));
        status.set_condition(mk_condition(
            condition::RECONCILING,
            "True",
            "Progressing",
            100,
        ));
        status.set_condition(mk_condition(
            condition::READY,
            "False",
            "StillProgressing",
            200,
        ));
        let ready = status.condition(condition::READY).expect("ready");
        assert_eq!(ready.reason, "StillProgressing");
        assert_eq!(ready.last_transition_time.0.as_second(), 100);
        status.set_condition(mk_condition(condition::READY, "True", "Succeeded", 300));
        let ready = status.condition(condition::READY).expect("ready");
        assert_eq!(ready.last_transition_time.0.as_second(), 300);
        status.remove_condition(condition::RECONCILING);
        assert_eq!(status.conditions.len(), 1);
    }
}
