//! Transform benchmarks (issue #2, item 9). Figures go in `docs/benchmarks.md`.
//!
//! (a) the same plugin source natively vs as Wasm through the host, on a 1,000-object (~2 MB)
//!     stream, per first-party plugin and for a 3-plugin chain;
//! (b) fixed cost per call: instantiate from the `InstancePre` and call with no objects;
//! (c) first compile and precompiled-cache load of each plugin;
//! (d) one process per render (Helm 3's exec post-renderer model): `capstan transform` spawned
//!     per render, loading the plugin from the disk cache;
//! (e) 2-core scaling of concurrent post-rendering (issue #10): eight releases' 3-plugin chains
//!     on one thread vs two (the controller post-renders releases concurrently, no global lock);
//! (f) issue #12: the 3-plugin Wasm chain against the same stream with no plugins (YAML in,
//!     YAML out, in process), on 1,000 (~2 MB) and 10,000 (~4 MB) objects;
//! (g) issue #12: `capstan transform` with the 3-plugin chain against `kubectl kustomize` doing
//!     the same patches, labels and images, each a whole process per render;
//! (h) issue #12: the pieces of a chain call on 1,000 objects: host encode, host decode, the
//!     host's check of returned text, the guest's receive, transform and encode run natively.
//!     (The guest's share inside Wasm comes from `perf`, see `docs/benchmarks.md`.)

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use capstan::postrender::{Pipeline, PostRenderer};
use capstan_sdk::Context;
use capstan_tests::{
    filler_2kb, guest, load, mk_large_release, mk_workloads, native, plugin_configs, runtime,
};
use capstan_wasm::Limits;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;

/// 1,000 objects, about 2 MB of YAML: Deployments, StatefulSets, CronJobs, Services, ConfigMaps.
fn mk_stream() -> Vec<Value> {
    mk_workloads(1000, &filler_2kb())
}

fn configs() -> Vec<(&'static str, Value)> {
    plugin_configs()
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
    let mut chain_parts = Vec::new();
    for (name, config) in configs() {
        let native_step =
            PostRenderer::native(name, native(name).expect("first-party"), config.clone());
        // Like for like: the native twin runs the whole list on one thread, so the Wasm side
        // does too (`in_one_call`); `wasm-parts` below is what a chain really runs.
        let wasm_step = PostRenderer::wasm(load(name, limits()).in_one_call(), config.clone());
        if name != "policy-patch" {
            chain_native.push(native_step.clone());
            chain_wasm.push(wasm_step.clone());
            chain_parts.push(PostRenderer::wasm(load(name, limits()), config.clone()));
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
    // Per-object plugins' lists cut into parts, run on every core.
    let p = Pipeline::new(chain_parts);
    group.bench_with_input(
        BenchmarkId::new("wasm-parts", "chain-3"),
        &objects,
        |b, o| b.iter(|| p.run(&mk_ctx(), o.clone()).expect("runs")),
    );
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
    let bin = capstan_tests::release_capstan;
    let cache = tempfile::tempdir().expect("tempdir");
    let input = capstan_yaml::to_stream(&mk_stream());
    let cfg_dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg_dir.path().join("labels.json");
    std::fs::write(&cfg, configs()[0].1.to_string()).expect("config written");
    let plugin = guest("set-labels");
    let run = |stdin: &str| {
        let mut child = Command::new(bin())
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
    let in_process = Pipeline::new(vec![PostRenderer::wasm(
        load("set-labels", limits()),
        configs()[0].1.clone(),
    )]);
    let mut group = c.benchmark_group("d_process_per_render_set_labels");
    group.sample_size(10);
    group.bench_function("exec-per-render/1000-objects", |b| {
        run("");
        b.iter(|| run(&input))
    });
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

fn chain() -> Vec<PostRenderer> {
    configs()
        .into_iter()
        .filter(|(name, _)| *name != "policy-patch")
        .map(|(name, config)| PostRenderer::wasm(load(name, limits()), config))
        .collect()
}

fn chain_vs_no_plugins(c: &mut Criterion) {
    let mut group = c.benchmark_group("f_chain_vs_no_plugins");
    group.sample_size(10);
    for (count, objects) in [(1000, mk_stream()), (10_000, mk_large_release())] {
        let input = capstan_yaml::to_stream(&objects);
        group.throughput(Throughput::Bytes(input.len() as u64));
        let none = Pipeline::new(Vec::new());
        let three = Pipeline::new(chain());
        group.bench_with_input(BenchmarkId::new("no-plugins", count), &input, |b, i| {
            b.iter(|| none.run_stream(&mk_ctx(), i).expect("runs"))
        });
        group.bench_with_input(BenchmarkId::new("wasm-chain-3", count), &input, |b, i| {
            b.iter(|| three.run_stream(&mk_ctx(), i).expect("runs"))
        });
    }
    group.finish();
}

/// `kubectl kustomize` doing what the chain does: a log-shipper container and its volume on
/// every pod template (JSON 6902 patches per kind), the team labels on objects and templates
/// (`labels` with `includeTemplates`), nginx moved to the mirror (`images`).
const KUSTOMIZATION: &str = r#"resources: [manifests.yaml]
labels:
- pairs: {team: payments, cost-center: "42"}
  includeTemplates: true
images:
- {name: nginx, newName: mirror.example.com/nginx, newTag: "1.27"}
patches:
- target: {kind: Deployment|StatefulSet}
  patch: |-
    - {op: add, path: /spec/template/spec/containers/-, value: {name: log-shipper, image: "ghcr.io/example/shipper:2.1", volumeMounts: [{name: logs, mountPath: /logs}]}}
    - {op: add, path: /spec/template/spec/volumes, value: [{name: logs, emptyDir: {}}]}
- target: {kind: CronJob}
  patch: |-
    - {op: add, path: /spec/jobTemplate/spec/template/spec/containers/-, value: {name: log-shipper, image: "ghcr.io/example/shipper:2.1", volumeMounts: [{name: logs, mountPath: /logs}]}}
    - {op: add, path: /spec/jobTemplate/spec/template/spec/volumes, value: [{name: logs, emptyDir: {}}]}
"#;

fn versus_kustomize(c: &mut Criterion) {
    let kubectl = || capstan_tests::helm_bin("kubectl");
    let bin = capstan_tests::release_capstan;
    let input = capstan_yaml::to_stream(&mk_stream());
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("manifests.yaml"), &input).expect("written");
    std::fs::write(dir.path().join("kustomization.yaml"), KUSTOMIZATION).expect("written");
    let mut args: Vec<std::ffi::OsString> = vec!["transform".into(), "-f".into()];
    args.push(dir.path().join("manifests.yaml").into());
    for (name, config) in configs().into_iter().filter(|(n, _)| *n != "policy-patch") {
        let cfg = dir.path().join(format!("{name}.json"));
        std::fs::write(&cfg, config.to_string()).expect("written");
        args.extend([
            "--plugin".into(),
            guest(name).into(),
            "--config".into(),
            cfg.into(),
        ]);
    }
    args.extend(["--cache-dir".into(), dir.path().join("cache").into()]);
    let run = |cmd: &mut Command| {
        let out = cmd.stderr(Stdio::null()).output().expect("starts");
        assert!(out.status.success(), "{cmd:?} failed");
        out.stdout.len()
    };
    let mut group = c.benchmark_group("g_versus_kubectl_kustomize_1000_objects");
    group.sample_size(10);
    group.bench_function("kubectl-kustomize", |b| {
        let kubectl = kubectl();
        b.iter(|| run(Command::new(&kubectl).arg("kustomize").arg(dir.path())))
    });
    group.bench_function("capstan-transform-wasm-chain-3", |b| {
        let bin = bin();
        run(Command::new(&bin).args(&args));
        b.iter(|| run(Command::new(&bin).args(&args)))
    });
    // The same process reading and writing the stream with no plugins: what the chain adds.
    group.bench_function("capstan-transform-no-plugins", |b| {
        let bin = bin();
        b.iter(|| run(Command::new(&bin).args(&args[..3])))
    });
    group.finish();
}

fn breakdown(c: &mut Criterion) {
    let objects = mk_stream();
    let texts: Vec<String> = objects.iter().map(Value::to_string).collect();
    let mut group = c.benchmark_group("h_breakdown_1000_objects");
    group.sample_size(20);
    group.bench_function("host-encode", |b| {
        b.iter(|| objects.iter().map(Value::to_string).collect::<Vec<_>>())
    });
    group.bench_function("host-decode", |b| {
        b.iter(|| {
            texts
                .iter()
                .map(|t| serde_json::from_str::<Value>(t).expect("json"))
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("host-check-text", |b| {
        b.iter(|| {
            for t in &texts {
                capstan_wasm::check_json_object(t).expect("an object");
            }
        })
    });
    // What the guard pays per changed object: the check keeps the head, the identity is read
    // from it (one scan of each text where a check and a separate identity read took two).
    group.bench_function("host-check-and-identity", |b| {
        b.iter(|| {
            texts
                .iter()
                .map(|t| {
                    let head = capstan_wasm::check_json_object_head(t).expect("an object");
                    capstan_engine::guard::identity_of_head(&head)
                })
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("host-identities", |b| {
        b.iter(|| {
            texts
                .iter()
                .map(|t| capstan_engine::guard::identity_of_text(t))
                .collect::<Vec<_>>()
        })
    });
    for (name, config) in configs() {
        let plugin = native(name).expect("first-party");
        let config = config.to_string();
        group.bench_function(BenchmarkId::new("native-guest-run", name), |b| {
            b.iter(|| (plugin.transform)(&mk_ctx(), &config, &texts).expect("runs"))
        });
        let wasm = load(name, limits());
        group.bench_function(BenchmarkId::new("wasm-call", name), |b| {
            b.iter(|| {
                wasm.transform_text(&mk_ctx(), &config, &texts)
                    .expect("runs")
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    breakdown,
    chain_vs_no_plugins,
    versus_kustomize,
    concurrent_postrender,
    fixed_cost,
    native_vs_wasm,
    compile_and_cache,
    process_per_render
);
criterion_main!(benches);
