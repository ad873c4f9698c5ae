//! Parsing Capstan and Flux HelmRelease documents.

use serde_json::{Value, json};

use super::*;

fn mk_doc(api_version: &str, spec: Value) -> Value {
    json!({
        "apiVersion": api_version,
        "kind": "HelmRelease",
        "metadata": {"name": "podinfo", "namespace": "apps"},
        "spec": spec
    })
}

fn mk_chart_spec() -> Value {
    json!({"chart": {"spec": {
        "chart": "podinfo",
        "version": "6.x",
        "sourceRef": {"kind": "HelmRepository", "name": "podinfo", "namespace": "flux-system"}
    }}})
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

fn paths(p: &ParsedRelease) -> Vec<&str> {
    p.warnings.iter().map(|w| w.path.as_str()).collect()
}

#[test]
fn flux_v2_release_parses_without_warnings() {
    let spec = with(
        mk_chart_spec(),
        json!({
            "interval": "10m",
            "timeout": "5m",
            "releaseName": "podinfo",
            "install": {"crds": "CreateReplace", "createNamespace": true, "disableOpenAPIValidation": true},
            "upgrade": {"crds": "CreateReplace", "cleanupOnFail": true},
            "valuesFrom": [{"kind": "ConfigMap", "name": "vals", "valuesKey": "v.yaml"}],
            "values": {"replicaCount": 2},
            "postRenderers": [{"kustomize": {
                "patches": [{"target": {"kind": "Deployment"}, "patch": "- op: add\n  path: /x\n  value: 1\n"}],
                "images": [{"name": "podinfo", "newTag": "6.5.0"}]
            }}]
        }),
    );
    let parsed = parse_helm_release(&mk_doc("helm.toolkit.fluxcd.io/v2", spec)).expect("parses");
    assert_eq!(parsed.warnings, vec![], "no warnings");
    assert_eq!(parsed.api_version, ReleaseApiVersion::FluxV2);
    let hr = &parsed.release;
    assert_eq!(hr.full_name(), "apps/podinfo");
    assert_eq!(hr.spec.values_from[0].values_key(), "v.yaml");
    assert_eq!(hr.spec.values, Some(json!({"replicaCount": 2})));
    let kustomize = hr.spec.post_renderers[0]
        .kustomize
        .as_ref()
        .expect("kustomize");
    assert_eq!(kustomize.images[0].new_tag.as_deref(), Some("6.5.0"));
    assert_eq!(
        kustomize.patches[0]
            .target
            .as_ref()
            .and_then(|t| t.kind.as_deref()),
        Some("Deployment")
    );
}

#[test]
fn every_supported_api_version_is_accepted() {
    for v in [
        "capstan.dev/v1alpha1",
        "helm.toolkit.fluxcd.io/v2",
        "helm.toolkit.fluxcd.io/v2beta2",
        "helm.toolkit.fluxcd.io/v2beta1",
    ] {
        let doc = mk_doc(v, with(mk_chart_spec(), json!({"interval": "1m"})));
        assert!(is_helm_release(&doc));
        let parsed = parse_helm_release(&doc).expect(v);
        assert_eq!(parsed.api_version.as_str(), v);
    }
    let doc = mk_doc("helm.toolkit.fluxcd.io/v1", mk_chart_spec());
    assert!(!is_helm_release(&doc));
    let err = parse_helm_release(&doc).expect_err("v1 is not supported");
    assert!(
        err.to_string().contains("helm.toolkit.fluxcd.io/v1"),
        "{err}"
    );
}

#[test]
fn unknown_fields_are_warnings_with_their_path() {
    let spec = with(
        mk_chart_spec(),
        json!({
            "bogus": 1,
            "postRenderers": [{"kustomize": {"patches": [{"patch": "a: b", "tagret": {}}]}}]
        }),
    );
    let mut doc = mk_doc("capstan.dev/v1alpha1", spec);
    doc["spec"]["chart"]["spec"]["sourceRef"]["nmae"] = json!("x");
    doc["metadata"]["lables"] = json!({});
    doc["extra"] = json!(true);
    let parsed = parse_helm_release(&doc).expect("parses");
    let p = paths(&parsed);
    for want in [
        "extra",
        "metadata.lables",
        "spec.bogus",
        "spec.chart.spec.sourceRef.nmae",
        "spec.postRenderers[0].kustomize.patches[0].tagret",
    ] {
        assert!(p.contains(&want), "warning for {want} in {p:?}");
    }
    assert!(
        parsed
            .warnings
            .iter()
            .all(|w| w.message.contains("unknown field"))
    );
}

#[test]
fn not_yet_supported_deprecated_and_extension_fields_are_reported() {
    let spec = with(
        mk_chart_spec(),
        json!({
            "dependsOn": [{"name": "db"}, {"name": "cache", "readyExpr": "dep.status.ready"}],
            "test": {"enable": true},
            "rollback": {"timeout": "1m"},
            "healthCheckExprs": [{"apiVersion": "x/v1", "kind": "X", "current": "true"}],
            "waitStrategy": {"name": "legacy"},
            "driftDetection": {"mode": "enabled"},
            "install": {"skipCRDs": true},
            "postRenderers": [
                {"kustomize": {"patchesStrategicMerge": [{"kind": "Deployment"}]}},
                {"wasm": {"plugin": "set-labels", "config": {"a": 1}}}
            ]
        }),
    );
    let mut doc = mk_doc("helm.toolkit.fluxcd.io/v2beta1", spec);
    doc["spec"]["chart"]["spec"]["valuesFile"] = json!("prod.yaml");
    doc["status"] = json!({"observedGeneration": 3});
    let parsed = parse_helm_release(&doc).expect("parses");
    let find = |path: &str| {
        parsed
            .warnings
            .iter()
            .find(|w| w.path == path)
            .map(|w| w.message.clone())
            .unwrap_or_else(|| panic!("no warning for {path}: {:?}", parsed.warnings))
    };
    // What the controller acts on is not reported.
    for p in [
        "spec.dependsOn",
        "spec.dependsOn[].readyExpr",
        "spec.healthCheckExprs",
        "spec.waitStrategy",
        "spec.driftDetection",
        "spec.test",
        "spec.rollback",
    ] {
        assert!(
            parsed.warnings.iter().all(|w| w.path != p),
            "{p}: {:?}",
            parsed.warnings
        );
    }
    assert!(find("spec.install.skipCRDs").contains("deprecated"));
    assert!(find("spec.chart.spec.valuesFile").contains("deprecated"));
    assert!(find("spec.postRenderers[0].kustomize.patchesStrategicMerge").contains("deprecated"));
    assert!(find("spec.postRenderers[1].wasm").contains("Capstan extension"));
    assert!(find("status").contains("ignored"));
    let mut remote = mk_doc(
        "helm.toolkit.fluxcd.io/v2",
        with(mk_chart_spec(), json!({})),
    );
    remote["spec"]["kubeConfig"] = json!({"secretRef": {"name": "remote"}});
    let remote = parse_helm_release(&remote).expect("parses");
    assert!(
        remote
            .warnings
            .iter()
            .any(|w| w.path == "spec.kubeConfig"
                && w.message.contains("not supported by Capstan yet")),
        "{:?}",
        remote.warnings
    );
    // Defaults are not noise: a disabled test section, Flux's default client and drift mode say
    // nothing.
    let mut quiet = mk_doc(
        "capstan.dev/v1alpha1",
        with(
            mk_chart_spec(),
            json!({"test": {"enable": false}, "persistentClient": true,
                   "driftDetection": {"mode": "disabled"}, "waitStrategy": {"name": "watcher"}}),
        ),
    );
    quiet["spec"]["chart"]["spec"]["reconcileStrategy"] = json!("ChartVersion");
    assert_eq!(parse_helm_release(&quiet).expect("parses").warnings, vec![]);
}

#[test]
fn contradictions_are_errors_naming_release_and_field() {
    let cases = [
        (json!({}), "either chart or chartRef"),
        (
            with(
                mk_chart_spec(),
                json!({"chartRef": {"kind": "OCIRepository", "name": "x"}}),
            ),
            "not both",
        ),
        (
            json!({"chart": {"spec": {"chart": "x"}}}),
            "sourceRef (a Flux HelmRepository) or repository",
        ),
        (
            with(mk_chart_spec(), json!({"postRenderers": [{}]})),
            "spec.postRenderers[0]",
        ),
        (
            with(mk_chart_spec(), json!({"interval": "ten minutes"})),
            "spec.interval",
        ),
        (
            with(mk_chart_spec(), json!({"values": [1, 2]})),
            "spec.values",
        ),
        (
            with(
                mk_chart_spec(),
                json!({"postRenderers": vec![json!({"wasm": {"plugin": "p"}}); 51]}),
            ),
            "at most 50",
        ),
    ];
    for (spec, want) in cases {
        let err = parse_helm_release(&mk_doc("capstan.dev/v1alpha1", spec.clone()))
            .expect_err(&format!("{spec} is invalid"));
        let msg = err.to_string();
        assert!(msg.contains("HelmRelease apps/podinfo"), "{msg}");
        assert!(msg.contains(want), "{msg} should mention {want}");
    }
}

#[test]
fn type_errors_name_the_field_path() {
    let spec = with(mk_chart_spec(), json!({"maxHistory": "five"}));
    let err = parse_helm_release(&mk_doc("capstan.dev/v1alpha1", spec)).expect_err("bad type");
    match err {
        Error::DecodeField { path, object, .. } => {
            assert_eq!(path, "spec.maxHistory");
            assert_eq!(object, "apps/podinfo");
        }
        other => panic!("unexpected {other}"),
    }
    let spec = with(
        mk_chart_spec(),
        json!({"valuesFrom": [{"kind": "Secret", "name": "a"}, {"kind": "Map", "name": "b"}]}),
    );
    let err = parse_helm_release(&mk_doc("capstan.dev/v1alpha1", spec)).expect_err("bad kind");
    assert!(
        matches!(&err, Error::DecodeField { path, .. } if path == "spec.valuesFrom[1].kind"),
        "{err:?}"
    );
}

#[test]
fn inline_repository_and_chart_source() {
    let spec =
        json!({"chart": {"spec": {"chart": "app", "repository": "oci://127.0.0.1:5000/charts"}}});
    let parsed = parse_helm_release(&mk_doc("capstan.dev/v1alpha1", spec)).expect("parses");
    assert_eq!(
        parsed.release.chart_source().expect("source"),
        crate::ChartSource::OciRepository {
            url: "oci://127.0.0.1:5000/charts",
            chart: "app",
            version: "*"
        }
    );
    let flux =
        parse_helm_release(&mk_doc("helm.toolkit.fluxcd.io/v2", mk_chart_spec())).expect("ok");
    assert_eq!(
        flux.release.chart_source().expect("source"),
        crate::ChartSource::SourceRef {
            kind: "HelmRepository",
            name: "podinfo",
            namespace: "flux-system",
            chart: "podinfo",
            version: "6.x"
        }
    );
    let local = json!({"chart": {"spec": {"chart": "app", "repository": "file://./charts/app"}}});
    let local = parse_helm_release(&mk_doc("capstan.dev/v1alpha1", local)).expect("ok");
    assert_eq!(
        local.release.chart_source().expect("source"),
        crate::ChartSource::LocalPath {
            path: "./charts/app"
        }
    );
}
