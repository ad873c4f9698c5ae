//! The `WasmPlugin` (namespaced) and `ClusterWasmPlugin` (cluster-scoped) custom resources: where
//! a Wasm transform module comes from, the sha256 it must have, its default config, its resource
//! limits and a description. A namespaced `WasmPlugin` can only be used by HelmReleases in its
//! own namespace (see [`crate::resolve_plugin`]); a `ClusterWasmPlugin` can restrict its users
//! with a namespace selector (see [`crate::namespace_selector_expression`]). The specs carry the CEL rules the API server
//! enforces (`KubeSchema`): exactly one module source, and `sha256` with `url`.

#![expect(
    unreachable_pub,
    reason = "kube's KubeSchema derive emits private copies of the plugin specs to build their schema"
)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Defines a plugin spec type; both kinds share the same fields, but kube's derive needs one
/// struct per kind.
macro_rules! plugin_spec {
    ($(#[$attr:meta])* $name:ident { $($extra:tt)* }) => {
        #[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
        #[x_kube(validation = Rule::new(
            "[has(self.oci), has(self.url), has(self.configMapRef)].filter(x, x).size() == 1"
        ).message("set exactly one module source: oci, url or configMapRef"))]
        #[x_kube(validation = Rule::new("!has(self.url) || has(self.sha256)")
            .message("url needs sha256 to verify the download"))]
        $(#[$attr])*
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            /// What the plugin does, for humans.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub description: Option<String>,

            /// The module is an OCI artifact (`registry/repo:tag` or `registry/repo@sha256:…`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub oci: Option<OciModuleSource>,

            /// The module is downloaded from this `https://` URL; `sha256` is then required.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub url: Option<String>,

            /// The module is in a ConfigMap's `binaryData` (in the plugin's namespace, or the
            /// controller's namespace for a `ClusterWasmPlugin`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub config_map_ref: Option<ConfigMapModuleSource>,

            /// Expected sha256 of the module (64 hex digits, optionally prefixed `sha256:`). The
            /// module is refused when it differs.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(regex(pattern = r"^(sha256:)?[0-9a-f]{64}$"))]
            pub sha256: Option<String>,

            /// Default config; a post-renderer's `config` is merged over it.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(schema_with = "crate::schema::preserve_unknown_object")]
            pub config: Option<Value>,

            /// Resource limits of one invocation.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub limits: Option<PluginLimits>,

            $($extra)*
        }
    };
}

plugin_spec!(
    /// A Wasm transform usable by HelmReleases in the same namespace.
    #[kube(
        group = "capstan.dev",
        version = "v1alpha1",
        kind = "WasmPlugin",
        doc = "A Wasm post-render transform usable by HelmReleases in its own namespace.",
        namespaced,
        category = "capstan",
        derive = "PartialEq",
        printcolumn(name = "Description", type_ = "string", json_path = ".spec.description"),
        printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
    )]
    WasmPluginSpec {}
);

plugin_spec!(
    /// A Wasm transform usable by HelmReleases in every namespace.
    #[kube(
        group = "capstan.dev",
        version = "v1alpha1",
        kind = "ClusterWasmPlugin",
        doc = "A Wasm post-render transform usable by HelmReleases in every namespace.",
        category = "capstan",
        derive = "PartialEq",
        printcolumn(name = "Description", type_ = "string", json_path = ".spec.description"),
        printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
    )]
    ClusterWasmPluginSpec {
        /// Which namespaces' HelmReleases may use this plugin: a label selector over the labels
        /// of the HelmRelease's namespace (every namespace carries
        /// `kubernetes.io/metadata.name: <name>`). Unset: every namespace; `{}` also matches
        /// every namespace.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub namespace_selector: Option<LabelSelector>,
    }
);

/// A module stored as an OCI artifact.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OciModuleSource {
    /// `registry/repository:tag` or `registry/repository@sha256:…` (a digest pins the module).
    #[serde(rename = "ref")]
    pub reference: String,
}

/// A module stored in a ConfigMap's `binaryData`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapModuleSource {
    /// ConfigMap name.
    pub name: String,
    /// Key in `binaryData`; defaults to `plugin.wasm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl ConfigMapModuleSource {
    /// The `binaryData` key, `plugin.wasm` by default.
    pub fn key(&self) -> &str {
        self.key.as_deref().unwrap_or("plugin.wasm")
    }
}

/// Limits of one plugin invocation; unset fields take [`crate::PluginLimits::DEFAULT_MEMORY`] etc.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginLimits {
    /// Linear memory cap (Kubernetes quantity: `64Mi`, `1Gi`). Default `64Mi`, at most `1Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// Wall-clock budget (Go duration: `2s`, `500ms`). Default `1s`, at most `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Largest output accepted (quantity). Default `32Mi`, at most `1Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_size: Option<String>,
}

/// The parts both plugin kinds share, borrowed, so resolution and validation code is written
/// once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PluginSpecRef<'a> {
    /// Description.
    pub description: Option<&'a str>,
    /// OCI source.
    pub oci: Option<&'a OciModuleSource>,
    /// URL source.
    pub url: Option<&'a str>,
    /// ConfigMap source.
    pub config_map_ref: Option<&'a ConfigMapModuleSource>,
    /// Expected sha256.
    pub sha256: Option<&'a str>,
    /// Default config.
    pub config: Option<&'a Value>,
    /// Limits.
    pub limits: Option<&'a PluginLimits>,
}

impl WasmPluginSpec {
    /// The shared view of this spec.
    pub fn as_ref(&self) -> PluginSpecRef<'_> {
        PluginSpecRef {
            description: self.description.as_deref(),
            oci: self.oci.as_ref(),
            url: self.url.as_deref(),
            config_map_ref: self.config_map_ref.as_ref(),
            sha256: self.sha256.as_deref(),
            config: self.config.as_ref(),
            limits: self.limits.as_ref(),
        }
    }
}

impl ClusterWasmPluginSpec {
    /// The shared view of this spec.
    pub fn as_ref(&self) -> PluginSpecRef<'_> {
        PluginSpecRef {
            description: self.description.as_deref(),
            oci: self.oci.as_ref(),
            url: self.url.as_deref(),
            config_map_ref: self.config_map_ref.as_ref(),
            sha256: self.sha256.as_deref(),
            config: self.config.as_ref(),
            limits: self.limits.as_ref(),
        }
    }
}
