//! The library pieces of `capstan build` wired together, minus fetching and rendering: read the
//! input documents, pick the release, compose its values, resolve its Wasm plugin, run its
//! kustomize post-renderer over a (hand-written) rendered stream, then set commonMetadata and the
//! origin labels. This is the order the CLI follows.

use capstan_api::{
    PostRendererRef, classify_documents, effective_config, effective_limits, module_location,
    resolve_plugin,
};
use capstan_engine::{InputsLookup, compose_values};
use capstan_kustomize::{apply_common_metadata, post_render};
use serde_json::json;

const INPUTS: &str = r#"
apiVersion: capstan.dev/v1alpha1
kind: HelmRelease
metadata: {name: web, namespace: apps}
spec:
  chart:
    spec: {chart: web, version: "1.x", repository: "oci://127.0.0.1:5000/charts"}
  valuesFrom:
    - {kind: ConfigMap, name: web-values}
    - {kind: Secret, name: web-secret, valuesKey: token, targetPath: auth.token}
  values:
    replicaCount: 2
  commonMetadata:
    labels: {team: platform}
  postRenderers:
    - kustomize:
        patches:
          - target: {kind: Deployment}
            patch: |
              spec:
                template:
                  spec:
                    containers:
                    - name: web
                      env:
                      - {name: EXTRA, value: "1"}
        images:
          - {name: nginx, newTag: "1.27"}
    - wasm:
        plugin: set-labels
        config: {labels: {tier: frontend}}
---
apiVersion: capstan.dev/v1alpha1
kind: WasmPlugin
metadata: {name: set-labels, namespace: apps}
spec:
  oci: {ref: "127.0.0.1:5000/plugins/set-labels@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
  config: {labels: {managed: capstan}}
  limits: {memory: 32Mi, timeout: 2s}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-values, namespace: apps}
data:
  values.yaml: |
    replicaCount: 1
    image: {repository: nginx, tag: "1.25"}
---
apiVersion: v1
kind: Secret
metadata: {name: web-secret, namespace: apps}
stringData:
  token: s3cr3t
"#;

#[test]
fn build_pipeline_without_rendering() -> anyhow::Result<()> {
    let docs = capstan_yaml::parse_stream(INPUTS)?;
    let inputs = classify_documents(&docs)?;
    assert!(inputs.warnings.is_empty(), "{:?}", inputs.warnings);
    let parsed = &inputs.releases[0];
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let hr = &parsed.release;

    let values = compose_values(hr, &InputsLookup::new(&inputs, "apps"))?;
    // Numbers arrive as Go float64, as Flux hands them to Helm.
    assert_eq!(
        serde_json::Value::Object(values.values),
        json!({"replicaCount": 2.0, "image": {"repository": "nginx", "tag": "1.25"},
               "auth": {"token": "s3cr3t"}})
    );

    // What a renderer would produce from those values.
    let rendered = vec![json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:1.25", "env": [{"name": "A", "value": "a"}]}
        ]}}}
    })];

    let mut objects = rendered;
    let mut plugin_runs = Vec::new();
    for pr in &hr.spec.post_renderers {
        match pr.as_ref() {
            Some(PostRendererRef::Kustomize(k)) => {
                let out = post_render(k, objects)?;
                assert!(out.warnings.is_empty(), "{:?}", out.warnings);
                objects = out.objects;
            }
            Some(PostRendererRef::Wasm(w)) => {
                let plugin = resolve_plugin(hr, w, &inputs.plugins, &inputs.cluster_plugins)?;
                let name = plugin.display_name();
                let location = module_location(&name, plugin.spec())?;
                let limits = effective_limits(&name, plugin.spec().limits)?;
                let config = effective_config(plugin.spec().config, w.config.as_ref());
                plugin_runs.push((name, location, limits, config));
            }
            None => anyhow::bail!("invalid post-renderer"),
        }
    }
    let common = hr.spec.common_metadata.clone().unwrap_or_default();
    apply_common_metadata(&mut objects, &common.labels, &common.annotations);
    apply_common_metadata(&mut objects, &hr.origin_labels(), &Default::default());

    let web = &objects[0];
    let container = &web["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "nginx:1.27");
    assert_eq!(
        container["env"],
        json!([{"name": "EXTRA", "value": "1"}, {"name": "A", "value": "a"}])
    );
    assert_eq!(
        web["metadata"]["labels"],
        json!({"app": "web", "team": "platform",
               "capstan.dev/name": "web", "capstan.dev/namespace": "apps"})
    );

    let (name, location, limits, config) = &plugin_runs[0];
    assert_eq!(name, "WasmPlugin apps/set-labels");
    assert_eq!(
        location.sha256.as_deref(),
        Some("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
    );
    assert_eq!(limits.memory_bytes, 32 << 20);
    assert_eq!(
        config,
        &json!({"labels": {"managed": "capstan", "tier": "frontend"}})
    );
    Ok(())
}
