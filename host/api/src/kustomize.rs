//! The `postRenderers[].kustomize` configuration, in exactly the shape of Flux's
//! `helm.toolkit.fluxcd.io/v2` `Kustomize` type (and `github.com/fluxcd/pkg/apis/kustomize`), so a
//! Flux HelmRelease works unchanged. The HelmRelease spec and its CRD schema embed these types;
//! `capstan-kustomize` applies them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A kustomize post-renderer: patches and image overrides applied to the rendered manifests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Kustomize {
    /// Strategic merge and JSON 6902 patches, defined as inline YAML strings, optionally
    /// targeting objects by group/version/kind/name/namespace and label/annotation selectors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<Patch>,

    /// Strategic merge patches as inline objects. Deprecated in Flux (removed from
    /// `helm.toolkit.fluxcd.io/v2`), accepted for `v2beta1`/`v2beta2` manifests: use `patches`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "crate::schema::preserve_unknown_object_list")]
    pub patches_strategic_merge: Vec<Value>,

    /// JSON 6902 patches with a mandatory target. Deprecated in Flux (removed from
    /// `helm.toolkit.fluxcd.io/v2`), accepted for `v2beta1`/`v2beta2` manifests: use `patches`.
    #[serde(
        default,
        rename = "patchesJson6902",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub patches_json6902: Vec<Json6902Patch>,

    /// Image overrides: name, new name, new tag or digest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
}

/// One entry of `patches`: a strategic merge patch or a JSON 6902 operation list, as YAML text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Patch {
    /// The patch: a (multi-document) strategic merge patch, or a YAML/JSON list of JSON 6902
    /// operations.
    pub patch: String,

    /// The objects to patch. Without it, a strategic merge patch applies to the object with its
    /// own apiVersion, kind and name (a JSON 6902 patch needs a target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Selector>,
}

/// Selects objects by regular expressions over their group/version/kind/name/namespace (anchored,
/// kustomize style) and label/annotation selector expressions. Every field set must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    /// API group regex (`apps`; the core group is empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// API version regex, without the group (`v1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Kind regex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `metadata.name` regex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `metadata.namespace` regex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Annotation selector expression (label selector syntax over annotations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation_selector: Option<String>,
    /// Label selector expression (`app=web,tier in (fe,be)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
}

/// A deprecated `patchesJson6902` entry: a target and its operations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Json6902Patch {
    /// The objects to patch.
    pub target: Selector,
    /// The JSON 6902 operations.
    pub patch: Vec<JsonPatchOperation>,
}

/// One JSON 6902 operation as written in YAML.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JsonPatchOperation {
    /// `add`, `remove`, `replace`, `move`, `copy` or `test`.
    pub op: String,
    /// JSON pointer the operation applies to.
    pub path: String,
    /// JSON pointer of the source, for `move` and `copy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The value, for `add`, `replace` and `test`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::preserve_unknown_any")]
    pub value: Option<Value>,
}

/// A kustomize image override.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// The image name to match, without tag or digest (`nginx`, `ghcr.io/org/app`).
    pub name: String,
    /// Replaces the image name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_name: Option<String>,
    /// Replaces the tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_tag: Option<String>,
    /// Replaces the tag (or digest) with this digest (`sha256:…`); wins over `newTag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}
