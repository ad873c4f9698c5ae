//! Controller benchmarks (issue #10, item 11), a bench binary rather than criterion: one run is
//! minutes long and what it measures is a whole process.
//!
//! Against the test API server (or the cluster named by `CAPSTAN_E2E_KUBECONFIG`), with a real
//! HTTP chart repository on loopback and the inject-sidecar Wasm plugin on every release, it
//! starts a release-build `capstan controller` and measures:
//! 1. the time to reconcile `CAPSTAN_BENCH_RELEASES` (default 1,000) new HelmReleases until every
//!    one is Ready, with the controller's CPU time and peak RSS;
//! 2. a no-op reconcile (nothing changed: `requestedAt` bumped on every release, so each one
//!    runs its drift check against the stored manifest and skips rendering): CPU time per release.
//!
//! Figures go in `docs/benchmarks.md`. Run: `cargo bench -p capstan-tests --bench controller`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use capstan_source::package_simple_chart;
use capstan_source::testing::HelmRepoServer;
use capstan_testapi::e2e::{Cluster, wait_for};
use capstan_tests::guest;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

const NAMESPACES: usize = 10;
const OWNER_LABEL: &str = "capstan.dev/bench-owner";

const TEMPLATES: &[(&str, &str)] = &[
    (
        "templates/deployment.yaml",
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels: {app.kubernetes.io/name: {{ .Release.Name }}, app.kubernetes.io/instance: {{ .Release.Name }}}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app.kubernetes.io/instance: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app.kubernetes.io/instance: {{ .Release.Name }}}
    spec:
      serviceAccountName: {{ .Release.Name }}
      containers:
        - name: web
          image: "nginx:{{ .Values.tag }}"
          ports: [{containerPort: 8080, name: http}]
          resources: {limits: {cpu: 500m, memory: 256Mi}, requests: {cpu: 100m, memory: 128Mi}}
          env:
{{- range $k, $v := .Values.env }}
            - {name: {{ $k }}, value: {{ $v | quote }}}
{{- end }}
"#,
    ),
    (
        "templates/service.yaml",
        r#"apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
spec:
  selector: {app.kubernetes.io/instance: {{ .Release.Name }}}
  ports: [{port: 80, targetPort: http, name: http}]
"#,
    ),
    (
        "templates/serviceaccount.yaml",
        r#"apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .Release.Name }}
"#,
    ),
    (
        "templates/configmap.yaml",
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  app.yaml: |
{{ toYaml .Values.config | indent 4 }}
"#,
    ),
];

const VALUES: &str = r#"replicas: 2
tag: "1.27"
env: {MODE: production, LOG_LEVEL: info, REGION: eu-west-1}
config:
  server: {port: 8080, timeout: 30s}
  features: [a, b, c]
"#;

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

/// A process's CPU time (user + system) and peak RSS, from `/proc`.
fn usage(pid: u32) -> anyhow::Result<(Duration, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let hz = clock_ticks()?;
    let cpu = Duration::from_secs_f64((ticks(11) + ticks(12)) as f64 / hz as f64);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let hwm_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    Ok((cpu, hwm_kib * 1024))
}

fn clock_ticks() -> anyhow::Result<u64> {
    let out = Command::new("getconf").arg("CLK_TCK").output()?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Counts the releases whose `status` satisfies `done`.
async fn count(
    api: &Api<DynamicObject>,
    selector: &str,
    done: impl Fn(&Value) -> bool,
) -> anyhow::Result<usize> {
    let list = api.list(&ListParams::default().labels(selector)).await?;
    Ok(list
        .items
        .iter()
        .filter(|o| done(&serde_json::to_value(o).unwrap_or(Value::Null)))
        .count())
}

fn ready(hr: &Value) -> bool {
    let generation = hr["metadata"]["generation"].as_i64().unwrap_or(0);
    hr["status"]["observedGeneration"].as_i64().unwrap_or(-1) >= generation
        && hr["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        // `cargo bench -- --list` / `cargo test --benches` probe bench binaries this way.
        println!("controller: bench");
        return Ok(());
    }
    if !std::env::args().any(|a| a == "--bench") {
        // Run by `cargo test --benches`: nothing to check without the full run.
        return Ok(());
    }
    let releases: usize = std::env::var("CAPSTAN_BENCH_RELEASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let concurrent = std::env::var("CAPSTAN_BENCH_CONCURRENT").unwrap_or_else(|_| "4".into());
    let bin = capstan_tests::release_capstan();
    let cluster = Cluster::start().await?;
    let crds = Command::new(&bin).arg("crds").output()?;
    cluster.kubectl_stdin(
        &["apply", "--server-side", "--force-conflicts", "-f", "-"],
        &String::from_utf8_lossy(&crds.stdout),
    )?;
    cluster.kubectl(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/helmreleases.capstan.dev",
        "crd/wasmplugins.capstan.dev",
    ])?;

    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("web-1.0.0.tgz"),
        package_simple_chart("web", "1.0.0", VALUES, TEMPLATES)?,
    )?;
    let sidecar = std::fs::read(guest("inject-sidecar"))?;
    std::fs::write(dir.path().join("sidecar.wasm"), &sidecar)?;
    let index = capstan_source::IndexFile::from_directory(dir.path(), None)?;
    std::fs::write(dir.path().join("index.yaml"), index.to_yaml())?;
    let server = HelmRepoServer::serve(dir.path()).context("chart repository")?;
    let sha = capstan_source::Digest::of(&sidecar).hex().to_owned();

    let owner = format!("bench-{}", std::process::id());
    let selector = format!("{OWNER_LABEL}={owner}");
    let hr = resource("capstan.dev", "v1alpha1", "HelmRelease", "helmreleases");
    let plugins = resource("capstan.dev", "v1alpha1", "WasmPlugin", "wasmplugins");
    let mut namespaces = Vec::new();
    for _ in 0..NAMESPACES {
        namespaces.push(cluster.namespace("bench").await?);
    }
    let apply = async |ar: &ApiResource, ns: &str, doc: Value| {
        let api: Api<DynamicObject> = Api::namespaced_with(cluster.client(), ns, ar);
        let name = doc["metadata"]["name"].as_str().unwrap_or("").to_owned();
        api.patch(&name, &PatchParams::apply("bench"), &Patch::Apply(&doc))
            .await
            .with_context(|| format!("applying {ns}/{name}"))
    };
    for ns in &namespaces {
        apply(
            &plugins,
            ns.name(),
            json!({"apiVersion": "capstan.dev/v1alpha1", "kind": "WasmPlugin",
                   "metadata": {"name": "sidecar", "namespace": ns.name()},
                   "spec": {"url": format!("{}/sidecar.wasm", server.url()), "sha256": sha}}),
        )
        .await?;
    }
    for i in 0..releases {
        let ns = namespaces[i % NAMESPACES].name();
        apply(
            &hr,
            ns,
            json!({"apiVersion": "capstan.dev/v1alpha1", "kind": "HelmRelease",
                   "metadata": {"name": format!("web-{i}"), "namespace": ns, "labels": {OWNER_LABEL: owner}},
                   "spec": {
                       "interval": "1h",
                       "chart": {"spec": {"chart": "web", "version": "1.0.0", "repository": server.url()}},
                       "values": {"replicas": 1 + i % 3},
                       "driftDetection": {"mode": "enabled"},
                       "postRenderers": [{"wasm": {"plugin": "sidecar", "config":
                           {"container": {"name": "metrics", "image": "prom/statsd-exporter:v0.26.0"}}}}]}}),
        )
        .await?;
    }

    let cache = tempfile::tempdir()?;
    let started = Instant::now();
    let controller = Killed(
        Command::new(&bin)
            .arg("controller")
            .args(["--metrics-addr", "0", "--health-addr", "0"])
            .args(["--concurrent", &concurrent])
            .args(["--watch-label-selector", &selector])
            .arg("--cache-dir")
            .arg(cache.path())
            .env("KUBECONFIG", cluster.kubeconfig())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting capstan controller")?,
    );
    let pid = controller.0.id();
    let all: Api<DynamicObject> = Api::all_with(cluster.client(), &hr);
    let timeout = Duration::from_secs(60 + releases as u64);
    wait_for(&format!("{releases} releases Ready"), timeout, || async {
        let n = count(&all, &selector, ready).await?;
        Ok((n == releases).then_some(()))
    })
    .await?;
    let install_time = started.elapsed();
    let (install_cpu, install_rss) = usage(pid)?;

    // No-op: every release asked to reconcile, nothing changed.
    let stamp = format!("bench-{}", started.elapsed().as_nanos());
    let before = Instant::now();
    let (cpu_before, _) = usage(pid)?;
    for i in 0..releases {
        let ns = namespaces[i % NAMESPACES].name();
        let api: Api<DynamicObject> = Api::namespaced_with(cluster.client(), ns, &hr);
        api.patch(
            &format!("web-{i}"),
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": stamp}}}),
            ),
        )
        .await?;
    }
    wait_for("every no-op reconcile", timeout, || async {
        let n = count(&all, &selector, |o| {
            o["status"]["lastHandledReconcileAt"] == stamp.as_str()
        })
        .await?;
        Ok((n == releases).then_some(()))
    })
    .await?;
    let noop_time = before.elapsed();
    let (cpu_after, rss) = usage(pid)?;
    let noop_cpu = cpu_after.saturating_sub(cpu_before);
    let revisions = count(&all, &selector, |o| {
        o["status"]["history"][0]["version"].as_i64() == Some(1)
    })
    .await?;
    anyhow::ensure!(
        revisions == releases,
        "a no-op reconcile created a new revision ({} of {releases} still at v1)",
        revisions
    );

    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "controller benchmark: {releases} HelmReleases in {NAMESPACES} namespaces, chart of 4 objects + inject-sidecar Wasm plugin, --concurrent {concurrent}, drift detection enabled"
    );
    println!(
        "install: {:.1} s wall until all Ready; controller CPU {:.1} s ({:.1} ms per release); peak RSS {:.0} MiB",
        install_time.as_secs_f64(),
        install_cpu.as_secs_f64(),
        install_cpu.as_secs_f64() * 1000.0 / releases as f64,
        mib(install_rss)
    );
    println!(
        "no-op reconcile: {:.1} s wall for all; controller CPU {:.2} s ({:.2} ms per release); peak RSS {:.0} MiB",
        noop_time.as_secs_f64(),
        noop_cpu.as_secs_f64(),
        noop_cpu.as_secs_f64() * 1000.0 / releases as f64,
        mib(rss)
    );
    drop(controller);
    Ok(())
}
