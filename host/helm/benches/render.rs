//! In-process rendering time of the conformance charts: `template` (load + values + render +
//! sort, what `capstan template` does) and `render` alone on a pre-loaded chart; and of the
//! real-world-size charts in `benches/charts` (issue #12): `platform` (Bitnami-style umbrella, a
//! `common` library and six subcharts), `operator` (~590 KB of CRDs, rendered with
//! `--include-crds`) and `certs` (`genCA` once and `genSignedCert` four times: five RSA-2048 keys).
//! `benches/cpu-vs-helm` compares whole-process CPU time with `helm template`.

use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};

fn charts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/charts")
}

const CHARTS: &[&str] = &[
    "basic",
    "subcharts",
    "library",
    "tpl-include",
    "toyaml",
    "sprig",
    "webapp",
];

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("helm");
    group.sample_size(20);
    group.measurement_time(std::time::Duration::from_secs(2));
    group.warm_up_time(std::time::Duration::from_millis(500));
    for name in CHARTS {
        let dir = charts_dir().join(name);
        let opts = capstan_helm::TemplateOptions {
            chart: dir.clone(),
            ..Default::default()
        };
        group.bench_function(format!("template/{name}"), |b| {
            b.iter(|| capstan_helm::template(&opts).expect("chart renders"));
        });
        let chart = capstan_helm::Chart::load(&dir).expect("chart loads");
        let values = capstan_helm::Values::new();
        let release = capstan_helm::Release::default();
        let caps = capstan_helm::Capabilities::default();
        group.bench_function(format!("render/{name}"), |b| {
            b.iter(|| {
                capstan_helm::render(&chart, &values, &release, &caps).expect("chart renders")
            });
        });
    }
    group.finish();
}

fn real_world(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/charts");
    let mut group = c.benchmark_group("real_world");
    group.sample_size(10);
    for name in ["platform", "operator", "certs"] {
        let opts = capstan_helm::TemplateOptions {
            release_name: "rel".into(),
            namespace: "prod".into(),
            chart: dir.join(name),
            include_crds: true,
            ..Default::default()
        };
        group.bench_function(format!("template/{name}"), |b| {
            b.iter(|| capstan_helm::template(&opts).expect("chart renders"));
        });
    }
    group.finish();
}

criterion_group!(benches, bench, real_world);
criterion_main!(benches);
