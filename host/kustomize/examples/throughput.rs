//! Measures the native kustomize post-renderer on a large synthetic stream:
//! `cargo run --release -p capstan-kustomize --example throughput [OBJECTS]`.

use std::time::Instant;

use capstan_kustomize::{Image, Kustomize, Patch, Selector, post_render};
use serde_json::{Value, json};

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(2000);
    let objects: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": format!("app-{i}"), "namespace": "apps",
                             "labels": {"app": format!("app-{i}"), "tier": if i % 2 == 0 { "fe" } else { "be" }}},
                "spec": {"replicas": 1, "template": {"metadata": {"labels": {"app": format!("app-{i}")}},
                    "spec": {"containers": [
                        {"name": "app", "image": "nginx:1.25", "env": [{"name": "A", "value": "1"}],
                         "ports": [{"containerPort": 80}]},
                        {"name": "sidecar", "image": "envoy:1.30"}
                    ]}}}
            })
        })
        .collect();
    let spec = Kustomize {
        patches: vec![
            Patch {
                patch: "spec:\n  template:\n    spec:\n      containers:\n      - name: app\n        env:\n        - name: B\n          value: \"2\"\n".into(),
                target: Some(Selector { kind: Some("Deployment".into()), ..Default::default() }),
            },
            Patch {
                patch: "- op: replace\n  path: /spec/replicas\n  value: 3\n".into(),
                target: Some(Selector { label_selector: Some("tier=fe".into()), ..Default::default() }),
            },
        ],
        images: vec![Image { name: "nginx".into(), new_tag: Some("1.27".into()), ..Default::default() }],
        ..Default::default()
    };
    let start = Instant::now();
    let out = post_render(&spec, objects)?;
    let elapsed = start.elapsed();
    println!(
        "{n} objects, 2 patches + 1 image: {:.1} ms ({:.1} µs/object), {} warnings",
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / n as f64,
        out.warnings.len()
    );
    Ok(())
}
