//! Unit tests of `capstan build`'s own parts: input sorting, the summary, the output formats and
//! relative paths.

use std::path::{Path, PathBuf};
use std::time::Duration;

use capstan_engine::postrender::StepDiagnostic;
use capstan_engine::{Build, ChartInfo, Digests, StepSummary};
use capstan_sdk::Diagnostic;
use serde_json::{Map, Value, json};

use super::*;

fn mk_hook(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "annotations": {"helm.sh/hook": "test"}}})
}

fn mk_object(kind: &str, name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}})
}

#[test]
fn kinds_are_counted() {
    let objects = [
        mk_object("Service", "a"),
        mk_object("Service", "b"),
        mk_object("ConfigMap", "c"),
        json!({}),
    ];
    let counts = count_kinds(&objects);
    assert_eq!(counts.get("Service"), Some(&2));
    assert_eq!(counts.get("ConfigMap"), Some(&1));
    assert_eq!(counts.get("<no kind>"), Some(&1));
}

fn mk_build() -> Build {
    Build {
        timings: Default::default(),
        release: "shop/cache".to_owned(),
        release_name: "cache".to_owned(),
        release_namespace: "shop".to_owned(),
        chart: ChartInfo {
            name: "redis".to_owned(),
            version: "0.1.2".to_owned(),
            digest: format!("sha256:{}", "ab".repeat(32)),
            location: "oci://127.0.0.1:5000/charts/redis@sha256:…".to_owned(),
        },
        chart_metadata: Value::Null,
        values: Map::new(),
        crds: Vec::new(),
        objects: vec![mk_object("Service", "a"), mk_object("ConfigMap", "b")],
        hooks: vec![mk_hook("t")],
        hook_sources: Default::default(),
        steps: vec![
            StepSummary {
                name: "kustomize".to_owned(),
                detail: "kustomize".to_owned(),
                duration: Duration::from_micros(1500),
            },
            StepSummary {
                name: "set-labels".to_owned(),
                detail: "wasm set-labels@sha256:0123456789ab (target/plugins/set-labels.wasm)"
                    .to_owned(),
                duration: Duration::from_millis(2500),
            },
        ],
        warnings: vec!["HelmRelease shop/cache: spec.valuesFrom[0]: skipped".to_owned()],
        diagnostics: vec![StepDiagnostic {
            step: "kustomize".to_owned(),
            diagnostic: Diagnostic::warning("patches[0]: matched no objects"),
        }],
        digests: Digests::default(),
    }
}

#[test]
fn the_summary_names_chart_objects_steps_and_findings() {
    let summary = summary(&mk_build());
    let lines: Vec<&str> = summary.lines().collect();
    assert_eq!(
        lines,
        [
            "HelmRelease shop/cache: release cache in namespace shop",
            "chart redis@0.1.2 sha256:abababababab from oci://127.0.0.1:5000/charts/redis@sha256:…",
            "objects: 2 (ConfigMap 1, Service 1)",
            "hooks: 1 (Pod 1)",
            "post-renderers:",
            "  1. kustomize 1.5ms",
            "  2. wasm set-labels@sha256:0123456789ab (target/plugins/set-labels.wasm) 2.50s",
            "warning: HelmRelease shop/cache: spec.valuesFrom[0]: skipped",
            "warning: patches[0]: matched no objects (from kustomize)",
        ]
    );
}

#[test]
fn a_summary_without_steps_or_hooks_says_so() {
    let build = Build {
        hooks: Vec::new(),
        steps: Vec::new(),
        warnings: Vec::new(),
        diagnostics: Vec::new(),
        ..mk_build()
    };
    let summary = summary(&build);
    assert!(summary.contains("post-renderers: none\n"), "{summary}");
    assert!(!summary.contains("hooks:"), "{summary}");
}

#[test]
fn output_is_a_yaml_stream_or_a_json_list() {
    let objects = [mk_object("ConfigMap", "a")];
    let yaml = render_output(&objects, false);
    assert!(
        yaml.starts_with("---\n") && yaml.ends_with('\n'),
        "{yaml:?}"
    );
    let json: Value = serde_json::from_str(&render_output(&objects, true)).expect("JSON");
    assert_eq!(json, json!([objects[0]]));
}

#[test]
fn relative_paths_resolve_against_the_release_file() {
    let base = Path::new("examples/policy-denied");
    assert_eq!(
        resolve_relative(base, "../redis/chart"),
        PathBuf::from("examples/redis/chart")
    );
    assert_eq!(
        resolve_relative(base, "./chart"),
        PathBuf::from("examples/policy-denied/chart")
    );
    assert_eq!(resolve_relative(base, "/abs/c"), PathBuf::from("/abs/c"));
    assert_eq!(resolve_relative(Path::new(""), "."), PathBuf::from("."));
}

#[test]
fn exactly_one_release_is_required_and_the_rest_is_named() {
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "a"}});
    let err = prepare(&[cm.clone(), Value::Null]).expect_err("no release");
    assert_eq!(
        err.to_string(),
        "no HelmRelease in the input files; found ConfigMap a/x"
    );
    let hr = |name: &str| {
        json!({"apiVersion": "capstan.dev/v1alpha1", "kind": "HelmRelease",
               "metadata": {"name": name, "namespace": "a"},
               "spec": {"chart": {"spec": {"chart": "c", "repository": "./c"}}}})
    };
    let err = prepare(&[hr("one"), hr("two")]).expect_err("two releases");
    assert_eq!(
        err.to_string(),
        "expected exactly one HelmRelease, found 2: a/one, a/two"
    );
    let mut with_unknown = hr("one");
    with_unknown["spec"]["colour"] = json!("red");
    let prepared = prepare(&[with_unknown, cm]).expect("one release");
    assert_eq!(prepared.inputs.values_objects.len(), 1);
    assert!(
        prepared
            .warnings
            .iter()
            .any(|w| w == "HelmRelease a/one: spec.colour: unknown field, ignored"),
        "{:?}",
        prepared.warnings
    );
}
