//! `capstan build` end to end, through the binary: the examples against their goldens (from a
//! local path, a real HTTP Helm repository and a real OCI registry alike), module sources
//! (`--plugin-dir`, OCI, URL + sha256, ConfigMap `binaryData`), hook strategies, JSON output, and
//! every user-facing error with its message asserted and nothing on stdout.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use capstan_source::testing::{HelmRepoServer, Registry};
use capstan_source::{IndexFile, OciClient};
use capstan_tests::{capstan_bin, check_golden, guest, guest_target_dir, root};
use serde_json::{Value, json};

/// `--plugin-dir` with the first-party plugins under their plugin names.
fn plugin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = guest_target_dir().join("build-plugins");
        std::fs::create_dir_all(&dir).expect("plugin dir");
        for name in [
            "set-labels",
            "inject-sidecar",
            "policy-patch",
            "image-rewrite",
        ] {
            std::fs::copy(guest(name), dir.join(format!("{name}.wasm"))).expect("copy plugin");
        }
        dir
    })
    .clone()
}

/// Runs `capstan build ARGS` from the repository root with a private chart/module cache.
fn build(args: &[&str], cache: &Path) -> Output {
    Command::new(capstan_bin())
        .arg("build")
        .args(args)
        .arg("--cache-dir")
        .arg(cache)
        .current_dir(root())
        .env("CARGO_TARGET_DIR", guest_target_dir())
        .output()
        .expect("capstan runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts success and returns stdout; shows stderr on failure.
fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "capstan build failed ({:?}):\n{}",
        out.status.code(),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Asserts the exit code, an empty stdout and that stderr contains every fragment.
fn fails(out: &Output, code: i32, fragments: &[&str]) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr:\n{stderr}");
    assert!(
        out.stdout.is_empty(),
        "stdout must be empty on failure, got:\n{}",
        text(&out.stdout)
    );
    for f in fragments {
        assert!(stderr.contains(f), "stderr lacks {f:?}:\n{stderr}");
    }
    stderr
}

fn docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("read example");
    capstan_yaml::parse_stream(&text).expect("example is YAML")
}

pub(crate) fn example(name: &str) -> PathBuf {
    root().join("examples").join(name)
}

/// The redis example's release with its chart at an absolute path (so it can be written
/// anywhere).
fn redis_release() -> Value {
    let mut hr = docs(&example("redis/release.yaml")).remove(0);
    hr["spec"]["chart"]["spec"]["repository"] = json!(example("redis/chart").display().to_string());
    hr
}

fn write_docs(dir: &Path, name: &str, docs: &[Value]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, capstan_yaml::to_stream(docs)).expect("write input");
    path.display().to_string()
}

fn files_under(dir: &Path, prefix: &str, out: &mut Vec<(String, Vec<u8>)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read chart dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = format!(
            "{prefix}/{}",
            path.file_name().expect("name").to_string_lossy()
        );
        if path.is_dir() {
            files_under(&path, &name, out);
        } else {
            out.push((name, std::fs::read(&path).expect("read chart file")));
        }
    }
}

/// Packages a chart directory with capstan-source's archive code (`name/…` inside).
pub(crate) fn package(dir: &Path, name: &str) -> Vec<u8> {
    let mut files = Vec::new();
    files_under(dir, name, &mut files);
    capstan_source::package_chart(files.iter().map(|(n, b)| (n.as_str(), b.as_slice())))
        .expect("package chart")
}

/// A directory served as a Helm repository holding the redis chart.
fn redis_repository(dir: &Path) -> HelmRepoServer {
    std::fs::write(
        dir.join("redis-0.1.2.tgz"),
        package(&example("redis/chart"), "redis"),
    )
    .expect("write archive");
    let index = IndexFile::from_directory(dir, None).expect("index");
    std::fs::write(dir.join("index.yaml"), index.to_yaml()).expect("write index");
    HelmRepoServer::serve(dir).expect("repository server starts")
}

/// A loopback registry (installed first when missing).
pub(crate) fn registry() -> Registry {
    Registry::start().expect("start docker-registry")
}

// --- the examples, from a local path ---------------------------------------------------------

#[test]
fn redis_example_matches_its_golden() {
    let cache = tempfile::tempdir().expect("tempdir");
    let plugins = plugin_dir();
    let out = build(
        &[
            "-f",
            "examples/redis/release.yaml",
            "--plugin-dir",
            &plugins.display().to_string(),
        ],
        cache.path(),
    );
    let stdout = ok(&out);
    check_golden(&example("redis/expected.yaml"), &stdout).expect("golden");
    let stderr = text(&out.stderr);
    for line in [
        "HelmRelease shop/cache: release cache in namespace shop",
        "chart redis@0.1.2 sha256:",
        "objects: 3 (ConfigMap 1, Service 1, StatefulSet 1)",
        "hooks: 1 (Pod 1)",
        "  1. wasm inject-sidecar@sha256:",
        "  2. wasm set-labels@sha256:",
    ] {
        assert!(stderr.contains(line), "summary lacks {line:?}:\n{stderr}");
    }
}

#[test]
fn flux_example_matches_its_golden() {
    let cache = tempfile::tempdir().expect("tempdir");
    let out = build(&["-f", "examples/flux/release.yaml"], cache.path());
    let stdout = ok(&out);
    check_golden(&example("flux/expected.yaml"), &stdout).expect("golden");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("HelmRelease web/webapp: release web-prod-webapp in namespace web-prod"),
        "{stderr}"
    );
    assert!(stderr.contains("chart webapp@1.4.0 sha256:"), "{stderr}");
    assert!(stderr.contains("  1. kustomize "), "{stderr}");
}

#[test]
fn flux_repository_archive_matches_the_chart_sources() {
    // The committed archive renders exactly like the chart directory it was packaged from.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut docs = docs(&example("flux/release.yaml"));
    let spec = &mut docs[0]["spec"]["chart"]["spec"];
    spec.as_object_mut()
        .expect("chart spec")
        .remove("sourceRef");
    spec["repository"] = json!(example("flux/webapp").display().to_string());
    let file = write_docs(dir.path(), "release.yaml", &docs);
    let stdout = ok(&build(&["-f", &file], dir.path()));
    check_golden(&example("flux/expected.yaml"), &stdout).expect("same output");
}

#[test]
fn policy_denied_example_is_denied_with_its_findings() {
    let cache = tempfile::tempdir().expect("tempdir");
    let expected =
        std::fs::read_to_string(example("policy-denied/expected-error.txt")).expect("expected");
    let lines: Vec<&str> = expected.lines().filter(|l| !l.is_empty()).collect();
    let plugins = plugin_dir();
    let out = build(
        &[
            "-f",
            "examples/policy-denied/release.yaml",
            "--plugin-dir",
            &plugins.display().to_string(),
        ],
        cache.path(),
    );
    fails(&out, 3, &lines);
}

// --- the examples from a real HTTP repository and a real OCI registry ------------------------

#[test]
fn redis_from_an_http_repository_matches_the_golden() {
    let repo = tempfile::tempdir().expect("tempdir");
    let server = redis_repository(repo.path());
    let mut hr = redis_release();
    hr["spec"]["chart"]["spec"]["repository"] = json!(server.url());
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_docs(dir.path(), "release.yaml", &[hr.clone()]);
    let plugins = plugin_dir().display().to_string();
    let out = build(&["-f", &file, "--plugin-dir", &plugins], dir.path());
    check_golden(&example("redis/expected.yaml"), &ok(&out)).expect("golden");
    let requests = server.requests();
    assert!(
        requests.iter().any(|r| r.ends_with("/index.yaml")),
        "{requests:?}"
    );
    assert!(
        requests.iter().any(|r| r.ends_with("/redis-0.1.2.tgz")),
        "{requests:?}"
    );

    // A version that is not there.
    hr["spec"]["chart"]["spec"]["version"] = json!("9.x");
    let file = write_docs(dir.path(), "release.yaml", &[hr]);
    let out = build(&["-f", &file, "--plugin-dir", &plugins], dir.path());
    fails(
        &out,
        1,
        &[
            "HelmRelease shop/cache: fetching chart \"redis\" from http://127.0.0.1:",
            "version \"9.x\" not found",
        ],
    );
}

#[test]
fn flux_example_from_an_http_repository_matches_the_golden() {
    let server = HelmRepoServer::serve(example("flux/repo")).expect("server");
    let mut docs = docs(&example("flux/release.yaml"));
    docs[1]["spec"]["url"] = json!(server.url());
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_docs(dir.path(), "release.yaml", &docs);
    let out = build(&["-f", &file], dir.path());
    check_golden(&example("flux/expected.yaml"), &ok(&out)).expect("golden");
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.ends_with("/webapp-1.4.0.tgz")),
        "the semver range picks 1.4.0: {:?}",
        server.requests()
    );
}

fn wasm_plugin(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "capstan.dev/v1alpha1", "kind": "WasmPlugin",
           "metadata": {"name": name, "namespace": "shop"}, "spec": spec})
}

fn sha256_of(path: &Path) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(
        std::fs::read(path).expect("read module"),
    ))
}

#[test]
fn redis_from_an_oci_registry_with_oci_modules_matches_the_golden() {
    let registry = registry();
    let client = OciClient::new();
    let archive = package(&example("redis/chart"), "redis");
    client
        .push_chart(&registry.reference("charts/redis"), &archive)
        .expect("push chart");
    let sidecar = guest("inject-sidecar");
    let labels = guest("set-labels");
    let pushed = client
        .push_module(
            &registry.reference("plugins/inject-sidecar").with_tag("1.0"),
            &std::fs::read(&sidecar).expect("module"),
        )
        .expect("push module");
    client
        .push_module(
            &registry.reference("plugins/set-labels").with_tag("1.0"),
            &std::fs::read(&labels).expect("module"),
        )
        .expect("push module");
    let addr = registry.address();

    let mut hr = redis_release();
    hr["spec"]["chart"]["spec"]["repository"] = json!(format!("oci://{addr}/charts"));
    let good = vec![
        hr.clone(),
        // By tag, pinned by sha256.
        wasm_plugin(
            "inject-sidecar",
            json!({"oci": {"ref": format!("{addr}/plugins/inject-sidecar:1.0")},
                   "sha256": sha256_of(&sidecar), "limits": {"memory": "128Mi", "timeout": "5s"}}),
        ),
        // By tag, trusting the registry's digest.
        wasm_plugin(
            "set-labels",
            json!({"oci": {"ref": format!("{addr}/plugins/set-labels:1.0")}}),
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_docs(dir.path(), "release.yaml", &good);
    let out = build(&["-f", &file], dir.path());
    check_golden(&example("redis/expected.yaml"), &ok(&out)).expect("golden");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("from oci://{addr}/charts/redis")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("(oci://{addr}/plugins/inject-sidecar")),
        "{stderr}"
    );
    assert_eq!(
        pushed.layer_digest.hex(),
        sha256_of(&sidecar),
        "the layer is the module"
    );

    // The wrong sha256 for the module: refused, naming the plugin and the field.
    let mut bad = good.clone();
    bad[1]["spec"]["sha256"] = json!("0".repeat(64));
    let file = write_docs(dir.path(), "bad.yaml", &bad);
    let fresh = tempfile::tempdir().expect("tempdir");
    let out = build(&["-f", &file], fresh.path());
    fails(
        &out,
        1,
        &[
            "HelmRelease shop/cache: spec.postRenderers[0].wasm: WasmPlugin shop/inject-sidecar: spec.sha256 mismatch",
            &format!("expected sha256:{}", "0".repeat(64)),
            &format!("got sha256:{}", sha256_of(&sidecar)),
        ],
    );
}

#[test]
fn flux_example_from_an_oci_registry_matches_the_golden() {
    let registry = registry();
    let client = OciClient::new();
    for version in ["1.3.0", "1.4.0"] {
        let archive =
            std::fs::read(example(&format!("flux/repo/webapp-{version}.tgz"))).expect("archive");
        client
            .push_chart(&registry.reference("charts/webapp"), &archive)
            .expect("push chart");
    }
    let mut docs = docs(&example("flux/release.yaml"));
    docs[1]["spec"]["type"] = json!("oci");
    docs[1]["spec"]["url"] = json!(format!("oci://{}/charts", registry.address()));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_docs(dir.path(), "release.yaml", &docs);
    let out = build(&["-f", &file], dir.path());
    check_golden(&example("flux/expected.yaml"), &ok(&out)).expect("golden");
    assert!(
        text(&out.stderr).contains("chart webapp@1.4.0 "),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_chart_ref_to_an_oci_repository_resolves_by_semver_tag_and_digest() {
    let registry = registry();
    let client = OciClient::new();
    let mut pushed = Vec::new();
    for version in ["1.3.0", "1.4.0"] {
        let archive =
            std::fs::read(example(&format!("flux/repo/webapp-{version}.tgz"))).expect("archive");
        pushed.push(
            client
                .push_chart(&registry.reference("charts/webapp"), &archive)
                .expect("push chart"),
        );
    }
    let url = format!("oci://{}/charts/webapp", registry.address());
    let docs = docs(&example("flux/release.yaml"));
    let mut hr = docs[0].clone();
    let spec = hr["spec"].as_object_mut().expect("spec");
    spec.remove("chart");
    spec.insert(
        "chartRef".to_owned(),
        json!({"kind": "OCIRepository", "name": "webapp"}),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    for (reference, expected) in [
        (json!({"semver": ">=1.0.0 <2.0.0"}), "chart webapp@1.4.0 "),
        (json!({"tag": "1.3.0"}), "chart webapp@1.3.0 "),
        (
            json!({"digest": pushed[0].reference.digest.as_ref().expect("pinned").to_string()}),
            "chart webapp@1.3.0 ",
        ),
    ] {
        let source = json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
            "metadata": {"name": "webapp", "namespace": "web"},
            "spec": {"interval": "1h", "url": url, "ref": reference}});
        let file = write_docs(
            dir.path(),
            "release.yaml",
            &[hr.clone(), source, docs[2].clone()],
        );
        let out = build(&["-f", &file], dir.path());
        let stdout = ok(&out);
        let stderr = text(&out.stderr);
        assert!(stderr.contains(expected), "{reference}: {stderr}");
        if expected.contains("1.4.0") {
            check_golden(&example("flux/expected.yaml"), &stdout).expect("golden");
        }
    }
}

#[test]
fn a_repository_archive_that_does_not_match_its_index_digest_is_refused() {
    let repo = tempfile::tempdir().expect("tempdir");
    for f in ["webapp-1.3.0.tgz", "webapp-1.4.0.tgz"] {
        std::fs::copy(example("flux/repo").join(f), repo.path().join(f)).expect("copy");
    }
    let published = sha256_of(&example("flux/repo/webapp-1.4.0.tgz"));
    let index = std::fs::read_to_string(example("flux/repo/index.yaml")).expect("index");
    assert!(index.contains(&published), "the index publishes the digest");
    std::fs::write(
        repo.path().join("index.yaml"),
        // Not zeros: an unquoted all-digit digest would be read as a YAML number.
        index.replace(&published, &"f".repeat(64)),
    )
    .expect("write index");
    let mut docs = docs(&example("flux/release.yaml"));
    docs[1]["spec"]["url"] = json!(format!("file://{}", repo.path().display()));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_docs(dir.path(), "release.yaml", &docs);
    fails(
        &build(&["-f", &file], dir.path()),
        1,
        &[
            "HelmRelease web/webapp: fetching chart \"webapp\" from file://",
            &format!(
                "digest mismatch for chart \"webapp\" version \"1.4.0\" from {}",
                repo.path().join("webapp-1.4.0.tgz").display()
            ),
            &format!("expected sha256:{}, got sha256:{published}", "f".repeat(64)),
        ],
    );
}

#[test]
fn a_chart_directory_must_satisfy_the_version_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut hr = redis_release();
    hr["spec"]["chart"]["spec"]["version"] = json!("^1.0.0");
    hr["spec"]["postRenderers"] = json!([]);
    let file = write_docs(dir.path(), "release.yaml", &[hr]);
    fails(
        &build(&["-f", &file], dir.path()),
        1,
        &[
            "HelmRelease shop/cache: fetching chart \"redis\" from ",
            "version \"^1.0.0\" not found",
            "0.1.2",
        ],
    );
}

// --- module sources --------------------------------------------------------------------------

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn modules_from_a_url_and_a_configmap_are_verified_and_run() {
    let served = tempfile::tempdir().expect("tempdir");
    let sidecar = guest("inject-sidecar");
    std::fs::copy(&sidecar, served.path().join("inject-sidecar.wasm")).expect("copy");
    let server = HelmRepoServer::serve(served.path()).expect("server");
    let labels = guest("set-labels");
    let docs = vec![
        redis_release(),
        wasm_plugin(
            "inject-sidecar",
            json!({"url": format!("{}/inject-sidecar.wasm", server.url()),
                   "sha256": format!("sha256:{}", sha256_of(&sidecar))}),
        ),
        wasm_plugin(
            "set-labels",
            json!({"configMapRef": {"name": "modules", "key": "set-labels.wasm"},
                   "sha256": sha256_of(&labels)}),
        ),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "modules", "namespace": "shop"},
               "binaryData": {"set-labels.wasm": base64(&std::fs::read(&labels).expect("module"))}}),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_docs(dir.path(), "release.yaml", &docs);
    let out = build(&["-f", &file], dir.path());
    check_golden(&example("redis/expected.yaml"), &ok(&out)).expect("golden");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("(ConfigMap shop/modules binaryData.set-labels.wasm)"),
        "{stderr}"
    );
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.ends_with("/inject-sidecar.wasm")),
        "{:?}",
        server.requests()
    );

    // The same URL pinned to another sha256 is refused.
    let mut bad = docs.clone();
    bad[1]["spec"]["sha256"] = json!("f".repeat(64));
    let file = write_docs(dir.path(), "bad.yaml", &bad);
    let fresh = tempfile::tempdir().expect("tempdir");
    fails(
        &build(&["-f", &file], fresh.path()),
        1,
        &[
            "HelmRelease shop/cache: spec.postRenderers[0].wasm: WasmPlugin shop/inject-sidecar: spec.sha256 mismatch for the module from http://127.0.0.1:",
            &format!("expected sha256:{}", "f".repeat(64)),
        ],
    );
}

#[test]
fn a_plugin_dir_module_is_checked_against_the_declared_sha256() {
    let docs = vec![
        redis_release(),
        wasm_plugin(
            "inject-sidecar",
            json!({"url": "http://127.0.0.1:9/inject-sidecar.wasm",
                   "sha256": "ab".repeat(32)}),
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_docs(dir.path(), "release.yaml", &docs);
    let plugins = plugin_dir().display().to_string();
    fails(
        &build(&["-f", &file, "--plugin-dir", &plugins], dir.path()),
        1,
        &[
            "HelmRelease shop/cache: spec.postRenderers[0].wasm: WasmPlugin shop/inject-sidecar: spec.sha256 mismatch for the module from ",
            "inject-sidecar.wasm: expected sha256:abab",
        ],
    );
}

// --- hooks, output formats -------------------------------------------------------------------

fn labels_of(object: &Value) -> &serde_json::Map<String, Value> {
    object["metadata"]["labels"]
        .as_object()
        .expect("object has labels")
}

#[test]
fn hooks_follow_the_post_render_strategy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugin_dir().display().to_string();
    for (strategy, hook_post_rendered) in
        [("combined", true), ("separate", true), ("nohooks", false)]
    {
        let mut hr = redis_release();
        hr["spec"]["postRenderStrategy"] = json!(strategy);
        let file = write_docs(dir.path(), &format!("{strategy}.yaml"), &[hr]);
        let out = build(
            &["-f", &file, "--plugin-dir", &plugins, "--output", "json"],
            dir.path(),
        );
        let list: Vec<Value> = serde_json::from_str(&ok(&out)).expect("a JSON list");
        let kinds: Vec<&str> = list
            .iter()
            .map(|o| o["kind"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(
            kinds,
            ["ConfigMap", "Service", "StatefulSet", "Pod"],
            "hooks come after the manifests"
        );
        let hook = &list[3];
        assert_eq!(hook["metadata"]["annotations"]["helm.sh/hook"], "test");
        assert_eq!(
            labels_of(hook).contains_key("cost-center"),
            hook_post_rendered,
            "{strategy}: set-labels on the hook"
        );
        // Origin labels and commonMetadata go on every object, hooks included.
        for object in &list {
            let labels = labels_of(object);
            assert_eq!(labels["capstan.dev/name"], "cache", "{strategy}");
            assert_eq!(labels["capstan.dev/namespace"], "shop", "{strategy}");
            assert_eq!(labels["team"], "shop", "{strategy}");
            assert!(labels.contains_key("cost-center") || object == hook);
        }
    }
}

// --- errors: each names the HelmRelease and the plugin/source/field; nothing on stdout -------

#[test]
fn inputs_without_exactly_one_helm_release_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "shop"}});
    let file = write_docs(dir.path(), "none.yaml", &[cm]);
    fails(
        &build(&["-f", &file], dir.path()),
        1,
        &["no HelmRelease in the input files; found ConfigMap shop/x"],
    );
    let one = write_docs(dir.path(), "one.yaml", &[redis_release()]);
    let mut other = redis_release();
    other["metadata"]["name"] = json!("other");
    let two = write_docs(dir.path(), "two.yaml", &[other]);
    fails(
        &build(&["-f", &one, "-f", &two], dir.path()),
        1,
        &["expected exactly one HelmRelease, found 2: shop/cache, shop/other"],
    );
}

#[test]
fn unsupported_fields_are_warned_about() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut hr = redis_release();
    hr["spec"]["kubeConfig"] = json!({"secretRef": {"name": "remote"}});
    hr["spec"]["colour"] = json!("red");
    hr["spec"]["postRenderers"] = json!([]);
    let file = write_docs(dir.path(), "release.yaml", &[hr]);
    let out = build(&["-f", &file], dir.path());
    ok(&out);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("warning: HelmRelease shop/cache: spec.colour: unknown field, ignored"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "warning: HelmRelease shop/cache: spec.kubeConfig: not supported by Capstan yet"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("post-renderers: none"), "{stderr}");
}

#[test]
fn an_unknown_plugin_is_named_with_the_known_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut hr = redis_release();
    hr["spec"]["postRenderers"][1]["wasm"]["plugin"] = json!("set-labelz");
    let other = wasm_plugin(
        "inject-sidecar",
        json!({"url": "http://127.0.0.1:9/x.wasm", "sha256": "ab".repeat(32)}),
    );
    let file = write_docs(dir.path(), "release.yaml", &[hr, other]);
    fails(
        &build(&["-f", &file], dir.path()),
        1,
        &[
            "spec.postRenderers[1].wasm: HelmRelease shop/cache: WasmPlugin \"set-labelz\" not found in namespace \"shop\"; known WasmPlugins: inject-sidecar",
        ],
    );
}

#[test]
fn a_plugin_in_another_namespace_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut plugin = wasm_plugin(
        "set-labels",
        json!({"url": "http://127.0.0.1:9/x.wasm", "sha256": "ab".repeat(32)}),
    );
    plugin["metadata"]["namespace"] = json!("platform");
    let file = write_docs(dir.path(), "release.yaml", &[redis_release(), plugin]);
    let plugins = plugin_dir().display().to_string();
    // Even with the module in --plugin-dir: the namespace rule is not bypassed.
    fails(
        &build(&["-f", &file, "--plugin-dir", &plugins], dir.path()),
        1,
        &[
            "spec.postRenderers[1].wasm: HelmRelease shop/cache: WasmPlugin \"set-labels\" is in namespace \"platform\" but the HelmRelease is in \"shop\"",
        ],
    );
}

#[test]
fn a_chart_version_that_is_not_in_the_repository_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut docs = docs(&example("flux/release.yaml"));
    docs[0]["spec"]["chart"]["spec"]["version"] = json!(">=2.0.0");
    docs[1]["spec"]["url"] = json!(format!("file://{}", example("flux/repo").display()));
    let file = write_docs(dir.path(), "release.yaml", &docs);
    fails(
        &build(&["-f", &file], dir.path()),
        1,
        &[
            "HelmRelease web/webapp: fetching chart \"webapp\" from file://",
            "version \">=2.0.0\" not found",
            "1.4.0",
        ],
    );
}

#[test]
fn a_missing_source_object_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let docs = docs(&example("flux/release.yaml"));
    let file = write_docs(dir.path(), "release.yaml", &docs[..1]);
    fails(
        &build(&["-f", &file], dir.path()),
        1,
        &[
            "HelmRelease web/webapp: spec.chart.spec.sourceRef: HelmRepository web/charts not found in the input files; known HelmRepository objects: none",
        ],
    );
}

#[test]
fn bad_values_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut docs = docs(&example("flux/release.yaml"));
    docs[1]["spec"]["url"] = json!(format!("file://{}", example("flux/repo").display()));
    // The ConfigMap valuesFrom names is not among the inputs.
    let file = write_docs(dir.path(), "release.yaml", &docs[..2]);
    fails(
        &build(&["-f", &file], dir.path()),
        1,
        &[
            "composing values: HelmRelease web/webapp: spec.valuesFrom[0]: ConfigMap web/webapp-values not found",
        ],
    );
    // Values that are not a map.
    let mut hr = redis_release();
    hr["spec"]["valuesFrom"] =
        json!([{"kind": "ConfigMap", "name": "vals", "valuesKey": "values.yaml"}]);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "vals", "namespace": "shop"},
                    "data": {"values.yaml": "- a list\n"}});
    let file = write_docs(dir.path(), "list.yaml", &[hr, cm]);
    let plugins = plugin_dir().display().to_string();
    fails(
        &build(&["-f", &file, "--plugin-dir", &plugins], dir.path()),
        1,
        &["spec.valuesFrom[0]: ConfigMap shop/vals key \"values.yaml\": values must be a YAML map"],
    );
}

#[test]
fn a_patch_target_matching_nothing_is_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut hr = redis_release();
    hr["spec"]["postRenderers"] = json!([{"kustomize": {"patches": [
        {"target": {"kind": "CronJob"},
         "patch": "- op: add\n  path: /metadata/labels/x\n  value: y\n"}
    ]}}]);
    let file = write_docs(dir.path(), "release.yaml", &[hr]);
    let out = build(&["-f", &file], dir.path());
    let stdout = ok(&out);
    assert!(stdout.contains("kind: StatefulSet"), "{stdout}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("warning: patches[0]:") && stderr.contains("(from kustomize)"),
        "{stderr}"
    );
}

#[test]
fn a_denial_exits_3_with_the_findings_and_no_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut hr = redis_release();
    hr["spec"]["postRenderers"] = json!([{"wasm": {"plugin": "policy-patch", "config": {
        "checks": {"latestImage": "deny", "runAsNonRoot": "off"},
        "patches": [{"target": {"kind": "StatefulSet"}, "patch": [
            {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "redis"}
        ]}]
    }}}]);
    let file = write_docs(dir.path(), "release.yaml", &[hr]);
    let plugins = plugin_dir().display().to_string();
    fails(
        &build(&["-f", &file, "--plugin-dir", &plugins], dir.path()),
        3,
        &[
            "error: StatefulSet/cache-redis: spec.template.spec.containers[0].image:",
            "HelmRelease shop/cache: post-rendering manifests and hooks: post-renderer #0 (policy-patch)",
            "denied the release",
        ],
    );
}

#[test]
fn a_post_renderer_moving_an_object_out_of_the_namespace_fails_with_no_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut hr = redis_release();
    hr["spec"]["postRenderers"] = json!([{"kustomize": {"patches": [{
        "target": {"kind": "StatefulSet"},
        "patch": "[{\"op\": \"add\", \"path\": \"/metadata/namespace\", \"value\": \"kube-system\"}]"
    }]}}]);
    let file = write_docs(dir.path(), "release.yaml", &[hr]);
    fails(
        &build(&["-f", &file], dir.path()),
        1,
        &[
            "HelmRelease shop/cache: post-rendering manifests and hooks: post-renderer #0 \
             (kustomize) returned output the release may not apply: object outside the \
             release's namespace: StatefulSet.apps kube-system/cache-redis: metadata.namespace \
             is \"kube-system\"; accepted: \"shop\" or none",
        ],
    );
}

/// A chart directory whose template fails when rendered.
fn failing_chart(dir: &Path) -> PathBuf {
    let chart = dir.join("broken");
    std::fs::create_dir_all(chart.join("templates")).expect("mkdir");
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: broken\nversion: 1.0.0\n",
    )
    .expect("write");
    std::fs::write(
        chart.join("templates/cm.yaml"),
        "{{ fail \"the chart refuses to render\" }}\n",
    )
    .expect("write");
    chart
}

#[test]
fn a_render_error_exits_1_with_no_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut hr = redis_release();
    hr["spec"]["chart"]["spec"]["repository"] =
        json!(failing_chart(dir.path()).display().to_string());
    hr["spec"]["chart"]["spec"]["version"] = json!("1.x");
    hr["spec"]["postRenderers"] = json!([]);
    let file = write_docs(dir.path(), "release.yaml", &[hr]);
    fails(
        &build(&["-f", &file], dir.path()),
        1,
        &[
            "HelmRelease shop/cache: rendering chart broken@1.0.0",
            "the chart refuses to render",
        ],
    );
}

#[test]
fn a_bad_plugin_config_fails_before_rendering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut hr = redis_release();
    // The chart would fail to render; the config error must come first.
    hr["spec"]["chart"]["spec"]["repository"] =
        json!(failing_chart(dir.path()).display().to_string());
    hr["spec"]["chart"]["spec"]["version"] = json!("1.x");
    hr["spec"]["postRenderers"][0]["wasm"]["config"]["container"]
        .as_object_mut()
        .expect("container")
        .remove("image");
    let file = write_docs(dir.path(), "release.yaml", &[hr]);
    let plugins = plugin_dir().display().to_string();
    let stderr = fails(
        &build(&["-f", &file, "--plugin-dir", &plugins], dir.path()),
        1,
        &[
            "HelmRelease shop/cache: spec.postRenderers: invalid config: post-renderer #0 (inject-sidecar)",
            "container.image",
        ],
    );
    assert!(!stderr.contains("refuses to render"), "{stderr}");
}

#[test]
fn chart_archives_are_cached_by_digest() {
    let repo = tempfile::tempdir().expect("tempdir");
    let server = redis_repository(repo.path());
    let mut hr = redis_release();
    hr["spec"]["chart"]["spec"]["repository"] = json!(server.url());
    hr["spec"]["postRenderers"] = json!([]);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write_docs(dir.path(), "release.yaml", &[hr]);
    let cache = dir.path().join("cache");
    let first = ok(&build(&["-f", &file], &cache));
    let entries: Vec<_> = std::fs::read_dir(cache.join("charts/sha256"))
        .expect("chart cache dir")
        .collect();
    assert_eq!(entries.len(), 1, "one archive cached by digest");
    let archive_gets = || {
        server
            .requests()
            .iter()
            .filter(|r| r.ends_with(".tgz"))
            .count()
    };
    assert_eq!(archive_gets(), 1);
    let second = ok(&build(&["-f", &file], &cache));
    assert_eq!(first, second);
    assert_eq!(archive_gets(), 1, "the second build reads the cache");
}

#[test]
fn crds_come_first_unless_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chart = dir.path().join("withcrd");
    std::fs::create_dir_all(chart.join("templates")).expect("mkdir");
    std::fs::create_dir_all(chart.join("crds")).expect("mkdir");
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: withcrd\nversion: 2.0.0\n",
    )
    .expect("write");
    std::fs::write(
        chart.join("crds/widgets.yaml"),
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n",
    )
    .expect("write");
    std::fs::write(
        chart.join("templates/widget.yaml"),
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: {{ .Release.Name }}\n",
    )
    .expect("write");
    let mut hr = redis_release();
    hr["spec"]["chart"]["spec"]["repository"] = json!(chart.display().to_string());
    hr["spec"]["chart"]["spec"]["version"] = json!("2.x");
    hr["spec"]["postRenderers"] = json!([]);
    let file = write_docs(dir.path(), "release.yaml", &[hr.clone()]);
    let out = build(&["-f", &file, "-o", "json"], dir.path());
    let list: Vec<Value> = serde_json::from_str(&ok(&out)).expect("JSON list");
    let kinds: Vec<&str> = list
        .iter()
        .map(|o| o["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds, ["CustomResourceDefinition", "Widget"]);
    assert_eq!(list[0]["metadata"]["labels"]["capstan.dev/name"], "cache");

    hr["spec"]["install"] = json!({"crds": "Skip"});
    let file = write_docs(dir.path(), "skip.yaml", &[hr]);
    let out = build(&["-f", &file, "-o", "json"], dir.path());
    let list: Vec<Value> = serde_json::from_str(&ok(&out)).expect("JSON list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["kind"], "Widget");
}

#[test]
fn cluster_plugins_bring_default_config_and_limits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = plugin_dir().display().to_string();
    let mut hr = redis_release();
    hr["spec"]["postRenderers"] = json!([{"wasm": {
        "plugin": "set-labels", "kind": "ClusterWasmPlugin",
        "config": {"labels": {"from-release": "yes"}}
    }}]);
    let cluster = |limits: Value| {
        json!({"apiVersion": "capstan.dev/v1alpha1", "kind": "ClusterWasmPlugin",
               "metadata": {"name": "set-labels"},
               "spec": {"url": "http://127.0.0.1:9/set-labels.wasm",
                        "config": {"labels": {"from-plugin": "yes"}},
                        "limits": limits}})
    };
    // The module comes from --plugin-dir; config and limits from the ClusterWasmPlugin.
    let file = write_docs(
        dir.path(),
        "release.yaml",
        &[
            hr.clone(),
            cluster(json!({"memory": "32Mi", "timeout": "2s"})),
        ],
    );
    let out = build(
        &["-f", &file, "--plugin-dir", &plugins, "-o", "json"],
        dir.path(),
    );
    let list: Vec<Value> = serde_json::from_str(&ok(&out)).expect("JSON list");
    for object in &list {
        let labels = labels_of(object);
        assert_eq!(labels["from-plugin"], "yes", "plugin default config");
        assert_eq!(labels["from-release"], "yes", "merged with the release's");
    }
    // Limits out of range name the plugin and the field.
    let file = write_docs(
        dir.path(),
        "bad.yaml",
        &[hr, cluster(json!({"timeout": "10m"}))],
    );
    fails(
        &build(&["-f", &file, "--plugin-dir", &plugins], dir.path()),
        1,
        &[
            "spec.postRenderers[0].wasm: ClusterWasmPlugin set-labels: spec.limits.timeout: 10m is out of range",
        ],
    );
}

#[test]
fn chart_values_files_replace_the_defaults_in_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let chart = dir.path().join("multi");
    std::fs::create_dir_all(chart.join("templates")).expect("mkdir");
    for (name, content) in [
        (
            "Chart.yaml",
            "apiVersion: v2\nname: multi\nversion: 1.0.0\n",
        ),
        ("values.yaml", "size: small\ncolour: red\n"),
        ("values-prod.yaml", "size: large\n"),
        (
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  size: {{ .Values.size | quote }}\n  colour: {{ .Values.colour | default \"none\" | quote }}\n",
        ),
    ] {
        std::fs::write(chart.join(name), content).expect("write");
    }
    let mut hr = redis_release();
    let spec = &mut hr["spec"]["chart"]["spec"];
    spec["repository"] = json!(chart.display().to_string());
    spec["version"] = json!("1.x");
    hr["spec"]["postRenderers"] = json!([]);
    hr["spec"]["values"] = json!({});
    let data = |files: Value, ignore_missing: bool| {
        let mut hr = hr.clone();
        hr["spec"]["chart"]["spec"]["valuesFiles"] = files;
        hr["spec"]["chart"]["spec"]["ignoreMissingValuesFiles"] = json!(ignore_missing);
        let file = write_docs(dir.path(), "release.yaml", &[hr]);
        let out = build(&["-f", &file, "-o", "json"], dir.path());
        (out.status.success(), out)
    };
    let (_, out) = data(json!(["values.yaml", "values-prod.yaml"]), false);
    let list: Vec<Value> = serde_json::from_str(&ok(&out)).expect("JSON");
    assert_eq!(list[0]["data"], json!({"size": "large", "colour": "red"}));
    // Without values.yaml in the list, the chart's defaults are replaced entirely.
    let (_, out) = data(json!(["values-prod.yaml"]), false);
    let list: Vec<Value> = serde_json::from_str(&ok(&out)).expect("JSON");
    assert_eq!(list[0]["data"], json!({"size": "large", "colour": "none"}));
    let (_, out) = data(json!(["values-missing.yaml"]), false);
    fails(
        &out,
        1,
        &[
            "HelmRelease shop/cache: spec.chart.spec.valuesFiles: \"values-missing.yaml\": not found in the chart",
        ],
    );
    let (success, _) = data(json!(["values.yaml", "values-missing.yaml"]), true);
    assert!(success, "ignoreMissingValuesFiles skips it");
}
