//! The lower-level API the HelmRelease builder uses: load a chart, render it with already-merged
//! values, and get sorted manifests, hooks, CRDs and NOTES separately.

use std::path::Path;

use capstan_helm::{Capabilities, Chart, Release, Values, render};

fn chart(name: &str) -> Chart {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/charts")
        .join(name);
    Chart::load(dir).expect("chart loads")
}

fn values(json: serde_json::Value) -> Values {
    match json {
        serde_json::Value::Object(m) => m,
        _ => Values::new(),
    }
}

#[test]
fn render_returns_sorted_manifests_and_notes() {
    let release = Release {
        name: "demo".to_owned(),
        namespace: "apps".to_owned(),
        ..Release::default()
    };
    let out = render(
        &chart("basic"),
        &values(serde_json::json!({"replicaCount": 3})),
        &release,
        &Capabilities::default(),
    )
    .expect("renders");
    let kinds: Vec<&str> = out.manifests.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["ServiceAccount", "Service", "Deployment"]);
    let deploy = &out.manifests[2];
    assert_eq!(deploy.name, "basic/templates/deployment.yaml");
    assert!(deploy.content.contains("replicas: 3"), "{}", deploy.content);
    assert!(deploy.content.contains("name: demo-basic"));
    assert!(out.notes.contains("--namespace apps"), "{}", out.notes);
    assert!(out.hooks.is_empty());
}

#[test]
fn hooks_and_crds_are_kept_apart() {
    let out = render(
        &chart("hooks"),
        &Values::new(),
        &Release::default(),
        &Capabilities::default(),
    )
    .expect("renders");
    assert_eq!(out.crds.len(), 1);
    assert_eq!(out.crds[0].name, "hooks/crds/widgets.yaml");
    let events: Vec<Vec<String>> = out.hooks.iter().map(|h| h.events.clone()).collect();
    assert!(events.contains(&vec!["test".to_owned()]));
    assert!(events.contains(&vec!["pre-install".to_owned(), "pre-upgrade".to_owned()]));
    let job = out
        .hooks
        .iter()
        .find(|h| h.kind == "Job")
        .expect("job hook");
    assert_eq!(job.weight, -5);
    assert!(!out.manifest(false).contains("CustomResourceDefinition"));
    assert!(
        out.manifest(true)
            .starts_with("---\n# Source: hooks/crds/widgets.yaml\n")
    );
}

#[test]
fn errors_are_helm_shaped_and_return_nothing() {
    let err = render(
        &chart("error-required"),
        &Values::new(),
        &Release::default(),
        &Capabilities::default(),
    )
    .expect_err("required value missing");
    assert_eq!(
        err.helm_output(),
        "Error: execution error at (error-required/templates/cm.yaml:6:8): image.tag is required\n\nUse --debug flag to render out invalid YAML\n"
    );
    let ok = render(
        &chart("error-required"),
        &values(serde_json::json!({"image": {"tag": "v1"}})),
        &Release::default(),
        &Capabilities::default(),
    )
    .expect("renders once the value is set");
    assert!(ok.manifests[0].content.contains("a: v1"));
}
