//! Transform benchmarks (issue #2, item 9). Figures go in `docs/benchmarks.md`.
//!
//! (a) the same plugin source natively vs as Wasm through the host, on a 1,000-object (~2 MB)
//!     stream, per first-party plugin and for a 3-plugin chain;
//! (b) fixed cost per call: instantiate from the `InstancePre` and call with no objects;
//! (c) first compile and precompiled-cache load of each plugin;
//! (d) one process per render (Helm 3's exec post-renderer model): `capstan transform` spawned
//!     per render, loading the plugin from the disk cache;
//! (e) 2-core scaling of concurrent post-rendering (issue #10): eight releases' 3-plugin chains
//!     on one thread vs two (the controller post-renders releases concurrently, no global lock).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use capstan::postrender::{Pipeline, PostRenderer};
use capstan_sdk::Context;
use capstan_tests::{guest, load, native, root, runtime};
use capstan_wasm::Limits;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};

/// 1,000 objects, about 2 MB of YAML: Deployments, StatefulSets, CronJobs, Services, ConfigMaps.
fn mk_stream() -> Vec<Value> {
    let filler: String = "lorem ipsum dolor sit amet ".repeat(40);
    (0..1000)
        .map(|i| {
            let pod = json!({
                "metadata": {"labels": {"app": format!("app-{i}"), "tier": "web"}},
                "spec": {"containers": [
                    {"name": "main", "image": format!("registry.example.com/team/app-{}:1.{}", i % 7, i % 13),
                     "ports": [{"containerPort": 8080, "name": "http"}],
                     "env": [{"name": "MODE", "value": "production"}, {"name": "NOTES", "value": filler}],
                     "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
                     "securityContext": {"runAsNonRoot": true}},
                    {"name": "proxy", "image": "nginx:1.25", "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}}}
                ]}
            });
            match i % 5 {
                0 => json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": format!("d-{i}"), "namespace": "apps"},
                            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": format!("app-{i}")}}, "template": pod}}),
                1 => json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": format!("s-{i}"), "namespace": "apps"},
                            "spec": {"serviceName": "s", "selector": {"matchLabels": {"app": format!("app-{i}")}}, "template": pod}}),
                2 => json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": format!("c-{i}"), "namespace": "apps"},
                            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": pod}}}}),
                3 => json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": format!("svc-{i}"), "namespace": "apps"},
                            "spec": {"selector": {"app": format!("app-{i}")}, "ports": [{"port": 80, "targetPort": 8080}]}}),
                _ => json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("cm-{i}"), "namespace": "apps"},
                            "data": {"config.yaml": filler, "extra": filler}}),
            }
        })
        .collect()
}

fn configs() -> Vec<(&'static str, Value)> {
    vec![
        (
            "set-labels",
            json!({"labels": {"team": "payments", "cost-center": "42"}, "podTemplates": true}),
        ),
        (
            "inject-sidecar",
            json!({"container": {"name": "log-shipper", "image": "ghcr.io/example/shipper:2.1",
                   "volumeMounts": [{"name": "logs", "mountPath": "/logs"}]},
                   "volumes": [{"name": "logs", "emptyDir": {}}]}),
        ),
        (
            "policy-patch",
            json!({"patches": [{"target": {"kind": "Deployment"}, "merge": {"spec": {"revisionHistoryLimit": 3}}}],
                   "checks": {"privileged": "deny", "hostPath": "deny", "resourceLimits": "warn", "latestImage": "deny", "runAsNonRoot": "off"}}),
        ),
        (
            "image-rewrite",
            json!({"images": [{"name": "nginx", "newName": "mirror.example.com/nginx", "newTag": "1.27"}]}),
        ),
    ]
}

fn mk_ctx() -> Context {
    Context {
        release_name: "bench".into(),
        release_namespace: "apps".into(),
        ..Context::default()
    }
}

fn limits() -> Limits {
    Limits {
        memory_bytes: 512 << 20,
        timeout: Duration::from_secs(30),
        ..Limits::default()
    }
}

fn native_vs_wasm(c: &mut Criterion) {
    let objects = mk_stream();
    let bytes = capstan_yaml::to_stream(&objects).len() as u64;
    let mut group = c.benchmark_group("a_native_vs_wasm_1000_objects");
    group.sample_size(20).throughput(Throughput::Bytes(bytes));
    let mut chain_native = Vec::new();
    let mut chain_wasm = Vec::new();
    for (name, config) in configs() {
        let native_step =
            PostRenderer::native(name, native(name).expect("first-party"), config.clone());
        let wasm_step = PostRenderer::wasm(load(name, limits()), config.clone());
        if name != "policy-patch" {
            chain_native.push(native_step.clone());
            chain_wasm.push(wasm_step.clone());
        }
        let n = Pipeline::new(vec![native_step]);
        let w = Pipeline::new(vec![wasm_step]);
        group.bench_with_input(BenchmarkId::new("native", name), &objects, |b, o| {
            b.iter(|| n.run(&mk_ctx(), o.clone()).expect("runs"))
        });
        group.bench_with_input(BenchmarkId::new("wasm", name), &objects, |b, o| {
            b.iter(|| w.run(&mk_ctx(), o.clone()).expect("runs"))
        });
    }
    let n = Pipeline::new(chain_native);
    let w = Pipeline::new(chain_wasm);
    group.bench_with_input(BenchmarkId::new("native", "chain-3"), &objects, |b, o| {
        b.iter(|| n.run(&mk_ctx(), o.clone()).expect("runs"))
    });
    group.bench_with_input(BenchmarkId::new("wasm", "chain-3"), &objects, |b, o| {
        b.iter(|| w.run(&mk_ctx(), o.clone()).expect("runs"))
    });
    group.finish();
}

fn fixed_cost(c: &mut Criterion) {
    let plugin = load("set-labels", Limits::default());
    let mut group = c.benchmark_group("b_fixed_cost_per_call");
    group.bench_function("instantiate+empty-call", |b| {
        b.iter(|| plugin.transform_json(&mk_ctx(), "null", &[]).expect("runs"))
    });
    group.finish();
}

fn compile_and_cache(c: &mut Criterion) {
    let mut group = c.benchmark_group("c_compile_and_cache_load");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    for (name, _) in configs() {
        let bytes = std::fs::read(guest(name)).expect("guest built");
        group.bench_function(BenchmarkId::new("first-compile", name), |b| {
            b.iter(|| runtime().precompile(&bytes).expect("compiles"))
        });
        assert!(runtime().is_cached(&bytes), "precompile wrote the cache");
        group.bench_function(BenchmarkId::new("cache-load", name), |b| {
            b.iter(|| assert!(runtime().is_cached(&bytes)))
        });
    }
    group.finish();
}

fn process_per_render(c: &mut Criterion) {
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(root())
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            "capstan",
            "--bin",
            "capstan",
        ])
        .status()
        .expect("cargo runs");
    assert!(status.success());
    let bin = root().join("target/release/capstan");
    let cache = tempfile::tempdir().expect("tempdir");
    let input = capstan_yaml::to_stream(&mk_stream());
    let cfg_dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg_dir.path().join("labels.json");
    std::fs::write(&cfg, configs()[0].1.to_string()).expect("config written");
    let plugin = guest("set-labels");
    let run = |stdin: &str| {
        let mut child = Command::new(&bin)
            .args(["transform", "--plugin"])
            .arg(&plugin)
            .arg("--config")
            .arg(&cfg)
            .arg("--cache-dir")
            .arg(cache.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("written");
        let out = child.wait_with_output().expect("finishes");
        assert!(out.status.success());
        out.stdout.len()
    };
    run("");
    let in_process = Pipeline::new(vec![PostRenderer::wasm(
        load("set-labels", limits()),
        configs()[0].1.clone(),
    )]);
    let mut group = c.benchmark_group("d_process_per_render_set_labels");
    group.sample_size(10);
    group.bench_function("exec-per-render/1000-objects", |b| b.iter(|| run(&input)));
    group.bench_function("exec-per-render/empty", |b| b.iter(|| run("")));
    group.bench_function("in-process/1000-objects", |b| {
        b.iter(|| in_process.run_stream(&mk_ctx(), &input).expect("runs"))
    });
    group.finish();
}

/// Eight releases of 100 objects (~200 KB each) through the 3-plugin Wasm chain, spread over 1
/// or 2 threads sharing one runtime (one `Engine` per process, a fresh `Store` per call).
fn concurrent_postrender(c: &mut Criterion) {
    const RELEASES: usize = 8;
    let objects: Vec<Value> = mk_stream().into_iter().take(100).collect();
    let chain = Pipeline::new(
        configs()
            .into_iter()
            .filter(|(name, _)| *name != "policy-patch")
            .map(|(name, config)| PostRenderer::wasm(load(name, limits()), config))
            .collect(),
    );
    let mut group = c.benchmark_group("e_concurrent_postrender_8_releases");
    group
        .sample_size(10)
        .throughput(Throughput::Elements(RELEASES as u64));
    for threads in [1, 2] {
        group.bench_with_input(BenchmarkId::new("threads", threads), &threads, |b, &t| {
            b.iter(|| {
                std::thread::scope(|s| {
                    for _ in 0..t {
                        s.spawn(|| {
                            for _ in 0..RELEASES / t {
                                chain.run(&mk_ctx(), objects.clone()).expect("runs");
                            }
                        });
                    }
                })
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    concurrent_postrender,
    fixed_cost,
    native_vs_wasm,
    compile_and_cache,
    process_per_render
);
criterion_main!(benches);
