//! Real-shaped Flux manifests read by Capstan: field names must match the Flux API exactly, so
//! a manifest using every field yields no "unknown field" warning, only the documented
//! not-yet-supported ones.

use capstan_api::{ChartSource, NOT_YET_SUPPORTED, ReleaseApiVersion, parse_helm_release};
use serde_json::json;

const FULL: &str = include_str!("fixtures/flux-v2-full.yaml");

#[test]
fn full_flux_v2_manifest_has_no_unknown_fields() -> anyhow::Result<()> {
    let doc = capstan_yaml::parse_one(FULL)?;
    let parsed = parse_helm_release(&doc)?;
    assert_eq!(parsed.api_version, ReleaseApiVersion::FluxV2);
    let unknown: Vec<String> = parsed
        .warnings
        .iter()
        .filter(|w| w.message.contains("unknown"))
        .map(ToString::to_string)
        .collect();
    assert!(unknown.is_empty(), "unknown fields: {unknown:#?}");
    let not_yet: Vec<&str> = NOT_YET_SUPPORTED.iter().map(|(_, f)| *f).collect();
    for w in &parsed.warnings {
        assert!(not_yet.contains(&w.path.as_str()), "unexpected warning {w}");
    }
    for field in ["spec.kubeConfig", "spec.chart.spec.verify"] {
        assert!(
            parsed.warnings.iter().any(|w| w.path == field),
            "{field} is reported"
        );
    }
    let hr = &parsed.release;
    assert_eq!(
        hr.spec.wait_strategy.as_ref().map(|w| w.name),
        Some(capstan_api::WaitStrategyName::Watcher)
    );
    assert_eq!(hr.spec.health_check_exprs[0].kind, "SealedSecret");
    assert!(hr.spec.depends_on[0].ready_expr.is_some());
    assert_eq!(hr.release_name(), "podinfo");
    assert_eq!(hr.release_namespace(), "podinfo");
    assert_eq!(hr.storage_namespace(), "apps");
    assert_eq!(hr.max_history(), 3);
    assert_eq!(
        hr.chart_source()?,
        ChartSource::SourceRef {
            kind: "HelmRepository",
            name: "podinfo",
            namespace: "flux-system",
            chart: "podinfo",
            version: ">=6.0.0 <7.0.0",
        }
    );
    let k = hr.spec.post_renderers[0]
        .kustomize
        .as_ref()
        .expect("kustomize post-renderer");
    assert_eq!(k.patches.len(), 2);
    assert_eq!(k.images[0].new_tag.as_deref(), Some("6.5.0"));
    assert_eq!(
        hr.spec.values_from[1].target_path.as_deref(),
        Some("auth.token")
    );
    Ok(())
}

#[test]
fn flux_v2beta1_manifest_with_deprecated_kustomize_fields() -> anyhow::Result<()> {
    let text = r#"
apiVersion: helm.toolkit.fluxcd.io/v2beta1
kind: HelmRelease
metadata: {name: legacy, namespace: apps}
spec:
  interval: 5m
  chart:
    spec:
      chart: legacy
      valuesFile: values-legacy.yaml
      sourceRef: {kind: HelmRepository, name: charts}
  postRenderers:
    - kustomize:
        patchesStrategicMerge:
          - apiVersion: apps/v1
            kind: Deployment
            metadata: {name: legacy}
            spec: {replicas: 2}
        patchesJson6902:
          - target: {version: v1, kind: Service, name: legacy}
            patch:
              - op: replace
                path: /spec/type
                value: NodePort
"#;
    let parsed = parse_helm_release(&capstan_yaml::parse_one(text)?)?;
    let paths: Vec<&str> = parsed.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.chart.spec.valuesFile",
            "spec.postRenderers[0].kustomize.patchesStrategicMerge",
            "spec.postRenderers[0].kustomize.patchesJson6902",
        ]
    );
    let k = parsed.release.spec.post_renderers[0]
        .kustomize
        .as_ref()
        .expect("kustomize");
    assert_eq!(k.patches_json6902[0].patch[0].op, "replace");
    assert_eq!(k.patches_strategic_merge.len(), 1);
    Ok(())
}

#[test]
fn documents_from_yaml_round_trip_through_serde() {
    let text = r#"
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: web
spec:
  interval: 5m
  chart:
    spec:
      chart: web
      sourceRef: {kind: HelmRepository, name: charts}
  postRenderStrategy: nohooks
  commonMetadata:
    labels: {team: a}
  postRenderers:
    - wasm:
        plugin: policy
        kind: ClusterWasmPlugin
        config: {deny: [latest]}
"#;
    let doc = capstan_yaml::parse_one(text).expect("yaml");
    let parsed = parse_helm_release(&doc).expect("parses");
    let hr = &parsed.release;
    assert_eq!(hr.namespace_or_default(), "default");
    assert_eq!(
        hr.post_render_strategy(),
        capstan_api::PostRenderStrategy::Nohooks
    );
    assert_eq!(hr.spec.post_renderers[0].label(), "wasm:policy");
    assert!(matches!(
        hr.spec.post_renderers[0].as_ref(),
        Some(capstan_api::PostRendererRef::Wasm(_))
    ));
    let wasm = hr.spec.post_renderers[0].wasm.as_ref().expect("wasm");
    assert_eq!(wasm.kind, Some(capstan_api::PluginKind::ClusterWasmPlugin));
    let back = serde_json::to_value(hr).expect("serialize");
    assert_eq!(back["apiVersion"], "capstan.dev/v1alpha1");
    assert_eq!(back["spec"]["commonMetadata"]["labels"]["team"], "a");
    assert_eq!(
        back["spec"]["postRenderers"][0]["wasm"]["config"],
        json!({"deny": ["latest"]})
    );
}
