//! Throughput correctness (issue #12): the largest release a Helm release Secret holds (10,000
//! objects, ~4 MB of YAML, generated here) goes through every first-party plugin under the
//! default memory limit, and the shortcuts that make chains fast — objects a step leaves alone
//! come back as the host's own bytes, text handed from step to step — give the same bytes as
//! the plain path. Speed itself is measured in `tests/benches/transform.rs`, never here.

use std::time::Duration;

use capstan::postrender::{Pipeline, PostRenderer};
use capstan_sdk::Context;
use capstan_tests::{filler_2kb, load, mk_large_release, mk_workloads, native, plugin_configs};
use capstan_wasm::Limits;
use serde_json::Value;

pub(crate) fn mk_ctx() -> Context {
    Context {
        release_name: "big".into(),
        release_namespace: "apps".into(),
        ..Context::default()
    }
}

/// Default limits but the timeout: the memory limit is what this test is about, and a debug-build
/// host sharing two cores with other tests must not turn it into a timing test.
pub(crate) fn default_memory() -> Limits {
    Limits {
        timeout: Duration::from_secs(60),
        ..Limits::default()
    }
}

fn pod_spec(object: &Value) -> Option<&Value> {
    match object["kind"].as_str()? {
        "CronJob" => object.pointer("/spec/jobTemplate/spec/template/spec"),
        "Deployment" | "StatefulSet" => object.pointer("/spec/template/spec"),
        _ => None,
    }
}

fn container_names(object: &Value) -> Vec<&str> {
    pod_spec(object)
        .and_then(|s| s["containers"].as_array())
        .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default()
}

fn images(object: &Value) -> Vec<&str> {
    pod_spec(object)
        .and_then(|s| s["containers"].as_array())
        .map(|cs| cs.iter().filter_map(|c| c["image"].as_str()).collect())
        .unwrap_or_default()
}

/// What each plugin's config (see `plugin_configs`) must have done to `after`.
fn check_effect(plugin: &str, before: &Value, after: &Value) {
    let what = format!("{plugin} on {}", after["metadata"]["name"]);
    let workload = pod_spec(before).is_some();
    match plugin {
        "set-labels" => {
            assert_eq!(after["metadata"]["labels"]["team"], "payments", "{what}");
            if workload {
                let template = after
                    .pointer("/spec/template/metadata/labels/team")
                    .or_else(|| {
                        after.pointer("/spec/jobTemplate/spec/template/metadata/labels/team")
                    });
                assert_eq!(template, Some(&Value::from("payments")), "{what}");
            }
        }
        "inject-sidecar" => {
            let mut expected = container_names(before);
            if workload {
                expected.push("log-shipper");
            }
            assert_eq!(container_names(after), expected, "{what}");
        }
        "policy-patch" => {
            let limit = after.pointer("/spec/revisionHistoryLimit");
            let expected = (before["kind"] == "Deployment").then(|| Value::from(3));
            assert_eq!(limit, expected.as_ref(), "{what}");
        }
        "image-rewrite" => {
            let expected: Vec<String> = images(before)
                .iter()
                .map(|i| match *i {
                    "nginx:1.25" => "mirror.example.com/nginx:1.27".to_owned(),
                    other => other.to_owned(),
                })
                .collect();
            assert_eq!(images(after), expected, "{what}");
        }
        other => panic!("no check for {other}"),
    }
    if plugin != "set-labels" && plugin != "policy-patch" && !workload {
        assert_eq!(after, before, "{what}: not a workload, must be left alone");
    }
}

#[test]
fn every_first_party_plugin_takes_10000_objects_within_the_default_memory_limit() {
    let objects = mk_large_release();
    let yaml = capstan_yaml::to_stream(&objects);
    assert!(
        objects.len() == 10_000 && yaml.len() >= 4_000_000,
        "the stream must be the ~4 MB of the issue, got {} bytes",
        yaml.len()
    );
    let texts: Vec<String> = objects.iter().map(Value::to_string).collect();
    for (name, config) in plugin_configs() {
        // In one call: the whole stream in one instance is what must fit (per-object plugins
        // would otherwise run it as parts of ~128 KiB each).
        let plugin = load(name, default_memory()).in_one_call();
        let out = plugin
            .transform_text(&mk_ctx(), &config.to_string(), &texts)
            .unwrap_or_else(|e| panic!("{name} on 10,000 objects: {e}"));
        eprintln!(
            "{name}: 10,000 objects, {} bytes of YAML, guest memory {:.1} MiB",
            yaml.len(),
            out.memory_bytes as f64 / f64::from(1 << 20)
        );
        assert!(
            out.memory_bytes <= Limits::DEFAULT_MEMORY,
            "{name}: {} bytes",
            out.memory_bytes
        );
        assert_eq!(out.objects.len(), objects.len(), "{name}");
        for ((before, text), same) in objects.iter().zip(&out.objects).zip(&out.unchanged) {
            let after: Value = serde_json::from_str(text).expect("checked JSON");
            check_effect(name, before, &after);
            assert_eq!(*same, after == *before, "{name}: unchanged flag of {text}");
        }
    }
}

#[test]
fn objects_a_plugin_leaves_alone_come_back_as_the_hosts_bytes() {
    let objects = mk_workloads(10, &filler_2kb());
    let texts: Vec<String> = objects.iter().map(Value::to_string).collect();
    let (_, config) = plugin_configs()
        .into_iter()
        .find(|(n, _)| *n == "inject-sidecar")
        .expect("configured");
    let out = load("inject-sidecar", default_memory())
        .transform_text(&mk_ctx(), &config.to_string(), &texts)
        .expect("runs");
    for (i, (text, same)) in out.objects.iter().zip(&out.unchanged).enumerate() {
        let workload = pod_spec(&objects[i]).is_some();
        assert_eq!(*same, !workload, "object #{i}");
        if !workload {
            assert_eq!(text, &texts[i], "object #{i}");
        }
    }
}

/// The chain handing text from step to step, Wasm or native, gives exactly what one step at a
/// time through parsed values gives, and the same bytes every time.
#[test]
fn a_chain_gives_the_same_bytes_as_its_steps_one_by_one() {
    let objects = mk_workloads(200, &filler_2kb());
    let configs: Vec<(&str, Value)> = plugin_configs()
        .into_iter()
        .filter(|(n, _)| *n != "policy-patch")
        .collect();
    let wasm = |name: &str, config: &Value| {
        PostRenderer::wasm(load(name, default_memory()), config.clone())
    };
    let chain = Pipeline::new(configs.iter().map(|(n, c)| wasm(n, c)).collect());
    let native_chain = Pipeline::new(
        configs
            .iter()
            .map(|(n, c)| PostRenderer::native(*n, native(n).expect("first-party"), c.clone()))
            .collect(),
    );
    let mut one_by_one = objects.clone();
    for (name, config) in &configs {
        let plugin = load(name, default_memory());
        one_by_one = plugin
            .transform(&mk_ctx(), config, &one_by_one)
            .expect("runs")
            .objects;
    }
    let expected = capstan_yaml::to_stream(&one_by_one);
    for pipeline in [&chain, &native_chain, &chain] {
        let out = pipeline.run(&mk_ctx(), objects.clone()).expect("runs");
        assert_eq!(capstan_yaml::to_stream(&out.objects), expected);
    }
}
