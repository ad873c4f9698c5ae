//! What the desired state of a release depends on, as digests: the chart, the composed values,
//! every post-renderer's *resolved* module and config, and `commonMetadata`. A reconciler
//! compares [`Digests::desired`] with the one it recorded at the last release, so publishing a
//! new module behind the same plugin name is an upgrade even though the HelmRelease's text did
//! not change.

use serde_json::{Value, json};
use sha2::Digest as _;

/// One post-renderer's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepDigest {
    /// `kustomize` or the plugin name.
    pub name: String,
    /// `sha256:…` of the Wasm module (`None` for kustomize).
    pub module: Option<String>,
    /// `sha256:…` of the effective config (the kustomize spec, for kustomize).
    pub config: String,
}

/// The digests a build's output depends on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Digests {
    /// `sha256:…` of the chart archive (or directory files).
    pub chart: String,
    /// `sha256:…` of the composed values (canonical JSON).
    pub values: String,
    /// Each post-renderer, in order.
    pub post_renderers: Vec<StepDigest>,
    /// `sha256:…` of `commonMetadata`.
    pub common_metadata: String,
}

impl Digests {
    /// One digest over everything: equal exactly when the build's inputs are equal.
    pub fn desired(&self) -> String {
        let steps: Vec<Value> = self
            .post_renderers
            .iter()
            .map(|s| json!({"name": s.name, "module": s.module, "config": s.config}))
            .collect();
        sha256_json(&json!({
            "chart": self.chart,
            "values": self.values,
            "postRenderers": steps,
            "commonMetadata": self.common_metadata,
        }))
    }
}

/// `sha256:…` of a JSON value's canonical text (object keys sorted, as `serde_json` keeps them).
pub fn sha256_json(value: &Value) -> String {
    let text = serde_json::to_string(value).unwrap_or_default();
    format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(text.as_bytes()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk_digests(module: &str) -> Digests {
        Digests {
            chart: "sha256:c".into(),
            values: sha256_json(&json!({"a": 1})),
            post_renderers: vec![StepDigest {
                name: "labels".into(),
                module: Some(module.into()),
                config: sha256_json(&json!({})),
            }],
            common_metadata: sha256_json(&Value::Null),
        }
    }

    #[test]
    fn a_new_module_behind_the_same_name_changes_the_desired_digest() {
        assert_eq!(
            mk_digests("sha256:1").desired(),
            mk_digests("sha256:1").desired()
        );
        assert_ne!(
            mk_digests("sha256:1").desired(),
            mk_digests("sha256:2").desired()
        );
    }

    #[test]
    fn json_digests_do_not_depend_on_key_order() {
        let a: Value =
            serde_json::from_str(r#"{"b": 1, "a": {"y": 2, "x": 1}}"#).unwrap_or_default();
        let b: Value =
            serde_json::from_str(r#"{"a": {"x": 1, "y": 2}, "b": 1}"#).unwrap_or_default();
        assert_eq!(sha256_json(&a), sha256_json(&b));
    }
}
