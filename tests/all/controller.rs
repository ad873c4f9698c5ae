//! The reconciler end to end: the real `capstan controller` binary against a Kubernetes API —
//! the test API server, or unchanged a real cluster when `CAPSTAN_E2E_KUBECONFIG` is set — with a
//! real HTTP chart repository and module server on loopback, and the real `kubectl` and `helm`
//! binaries as observers. Each test has its own namespace and its own controller, which only
//! watches that test's HelmReleases (`--watch-label-selector`), so tests run in parallel even on
//! one real cluster.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;
use capstan_source::package_simple_chart;
use capstan_source::testing::HelmRepoServer;
use capstan_testapi::e2e::{Cluster, Namespace, wait_for};
use capstan_tests::{capstan_bin, guest, root};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// A `capstan controller` process for one test; killed on drop.
struct Controller {
    child: Child,
    _cache: tempfile::TempDir,
}

impl Controller {
    fn start(cluster: &Cluster, selector: &str, extra: &[&str]) -> anyhow::Result<Controller> {
        let cache = tempfile::tempdir()?;
        let child = Command::new(capstan_bin())
            .arg("controller")
            .args([
                "--metrics-addr",
                "0",
                "--health-addr",
                "0",
                "--concurrent",
                "2",
            ])
            .args(["--watch-label-selector", selector])
            .arg("--cache-dir")
            .arg(cache.path())
            .args(extra)
            .env("KUBECONFIG", cluster.kubeconfig())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting capstan controller")?;
        Ok(Controller {
            child,
            _cache: cache,
        })
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A chart repository and module server on loopback, serving `dir`.
struct Sources {
    dir: tempfile::TempDir,
    server: HelmRepoServer,
}

impl Sources {
    fn start() -> anyhow::Result<Sources> {
        let dir = tempfile::tempdir()?;
        std::fs::write(
            dir.path().join("index.yaml"),
            "apiVersion: v1\nentries: {}\n",
        )?;
        let server = HelmRepoServer::serve(dir.path()).context("chart repository")?;
        Ok(Sources { dir, server })
    }

    fn url(&self) -> String {
        self.server.url()
    }

    /// Publishes chart `web` at `version` with `templates`, and re-indexes.
    fn publish_chart(
        &self,
        version: &str,
        values: &str,
        templates: &[(&str, &str)],
    ) -> anyhow::Result<()> {
        let bytes = package_simple_chart("web", version, values, templates)?;
        std::fs::write(self.dir.path().join(format!("web-{version}.tgz")), bytes)?;
        let index = capstan_source::IndexFile::from_directory(self.dir.path(), None)?;
        std::fs::write(self.dir.path().join("index.yaml"), index.to_yaml())?;
        Ok(())
    }

    /// Serves `bytes` as `name`; returns its URL and sha256.
    fn publish_module(&self, name: &str, bytes: &[u8]) -> anyhow::Result<(String, String)> {
        std::fs::write(self.dir.path().join(name), bytes)?;
        Ok((
            format!("{}/{name}", self.url()),
            capstan_source::Digest::of(bytes).hex().to_owned(),
        ))
    }
}

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      containers:
        - name: web
          image: "nginx:{{ .Values.tag }}"
{{- if eq .Values.tag "broken" }}
{{ fail "tag \"broken\" is not a release" }}
{{- end }}
"#;

const CONFIG_MAP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  greeting: {{ .Values.greeting | quote }}
"#;

const VALUES: &str = "replicas: 2\ntag: \"1.27\"\ngreeting: hello\n";

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

fn capstan_hr() -> ApiResource {
    resource("capstan.dev", "v1alpha1", "HelmRelease", "helmreleases")
}

async fn apply(cluster: &Cluster, ar: &ApiResource, ns: &str, doc: Value) -> anyhow::Result<()> {
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client(), ns, ar);
    let name = doc["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    api.patch(
        &name,
        &PatchParams::apply("e2e-test").force(),
        &Patch::Apply(&doc),
    )
    .await
    .with_context(|| format!("applying {} {ns}/{name}", ar.kind))?;
    Ok(())
}

async fn get(
    cluster: &Cluster,
    ar: &ApiResource,
    ns: &str,
    name: &str,
) -> anyhow::Result<Option<Value>> {
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client(), ns, ar);
    Ok(api
        .get_opt(name)
        .await?
        .map(|o| serde_json::to_value(o).unwrap_or(Value::Null)))
}

fn condition<'a>(hr: &'a Value, type_: &str) -> Option<&'a Value> {
    hr["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// Waits until the HelmRelease's Ready condition is `status` for `generation` or later, and
/// returns the release.
async fn wait_ready(
    cluster: &Cluster,
    ar: &ApiResource,
    ns: &str,
    name: &str,
    status: &str,
) -> anyhow::Result<Value> {
    wait_for(
        &format!("{} {ns}/{name} Ready={status}", ar.kind),
        WAIT,
        || async {
            let Some(hr) = get(cluster, ar, ns, name).await? else {
                return Ok(None);
            };
            let generation = hr["metadata"]["generation"].as_i64().unwrap_or(0);
            let observed = hr["status"]["observedGeneration"].as_i64().unwrap_or(-1);
            let ready = condition(&hr, "Ready").map(|c| c["status"].clone());
            Ok((observed >= generation && ready == Some(json!(status))).then_some(hr))
        },
    )
    .await
}

/// Resolves once some version of HelmRelease `ns/name` shows `Reconciling=True` (kstatus: work
/// in progress), as seen by a watch started before the release exists.
fn watch_reconciling(
    cluster: &Cluster,
    ar: &ApiResource,
    ns: &str,
    name: &str,
) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    use futures::TryStreamExt as _;
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client(), ns, ar);
    let config = kube::runtime::watcher::Config::default().fields(&format!("metadata.name={name}"));
    tokio::spawn(async move {
        let mut events = std::pin::pin!(kube::runtime::watcher(api, config));
        while let Some(event) = events.try_next().await? {
            if let kube::runtime::watcher::Event::Apply(o)
            | kube::runtime::watcher::Event::InitApply(o) = event
            {
                let doc = serde_json::to_value(o)?;
                if condition(&doc, "Reconciling").is_some_and(|c| c["status"] == "True") {
                    return Ok(());
                }
            }
        }
        anyhow::bail!("the watch ended before Reconciling=True was seen")
    })
}

fn deployments() -> ApiResource {
    resource("apps", "v1", "Deployment", "deployments")
}

fn config_maps() -> ApiResource {
    resource("", "v1", "ConfigMap", "configmaps")
}

fn wasm_plugins() -> ApiResource {
    resource("capstan.dev", "v1alpha1", "WasmPlugin", "wasmplugins")
}

/// `helm history` of `release` as (revision, status) pairs, through the real helm binary.
fn helm_history(cluster: &Cluster, ns: &str, release: &str) -> anyhow::Result<Vec<(i64, String)>> {
    let out = cluster.helm(&["history", release, "-n", ns, "-o", "json"])?;
    let rows: Vec<Value> = serde_json::from_str(&out).context("helm history -o json")?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r["revision"].as_i64().unwrap_or(0),
                r["status"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect())
}

fn sidecar_config() -> Value {
    json!({"container": {"name": "metrics", "image": "prom/statsd-exporter:v0.26.0"}})
}

fn mk_release(ns: &str, selector_value: &str, repo: &str, spec_extra: Value) -> Value {
    let mut spec = json!({
        "interval": "2s",
        "chart": {"spec": {"chart": "web", "version": "*", "repository": repo}},
        "values": {"replicas": 2},
        "driftDetection": {"mode": "enabled"},
        "postRenderers": [{"wasm": {"plugin": "sidecar", "config": sidecar_config()}}],
    });
    if let (Some(s), Some(extra)) = (spec.as_object_mut(), spec_extra.as_object()) {
        for (k, v) in extra {
            s.insert(k.clone(), v.clone());
        }
    }
    json!({
        "apiVersion": "capstan.dev/v1alpha1", "kind": "HelmRelease",
        "metadata": {"name": "web", "namespace": ns, "labels": {"capstan.dev/e2e-owner": selector_value}},
        "spec": spec,
    })
}

fn containers(deployment: &Value) -> Vec<String> {
    deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A custom section changes a component's bytes (and sha256) without changing what it does: a
/// new module published behind the same plugin name.
fn with_custom_section(module: &[u8], tag: &str) -> Vec<u8> {
    let mut out = module.to_vec();
    let name = b"capstan-e2e";
    let mut payload = vec![u8::try_from(name.len()).unwrap_or(0)];
    payload.extend_from_slice(name);
    payload.extend_from_slice(tag.as_bytes());
    out.push(0);
    out.push(u8::try_from(payload.len()).unwrap_or(0));
    out.extend_from_slice(&payload);
    out
}

fn selector_of(ns: &Namespace) -> (String, String) {
    (
        format!("capstan.dev/e2e-owner={}", ns.name()),
        ns.name().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_installs_upgrades_corrects_drift_prunes_and_survives_bad_input()
-> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    install_crds(&cluster)?;
    let ns = cluster.namespace("e2e-lifecycle").await?;
    let ns_name = ns.name().to_owned();
    let (selector, owner) = selector_of(&ns);
    let sources = Sources::start()?;
    sources.publish_chart(
        "1.0.0",
        VALUES,
        &[
            ("templates/deployment.yaml", DEPLOYMENT),
            ("templates/settings.yaml", CONFIG_MAP),
        ],
    )?;
    let sidecar = std::fs::read(guest("inject-sidecar"))?;
    let (url, sha) = sources.publish_module("sidecar-v1.wasm", &sidecar)?;
    apply(
        &cluster,
        &wasm_plugins(),
        &ns_name,
        json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "WasmPlugin",
            "metadata": {"name": "sidecar", "namespace": ns_name},
            "spec": {"url": url, "sha256": sha},
        }),
    )
    .await?;
    let _controller = Controller::start(&cluster, &selector, &[])?;
    let reconciling = watch_reconciling(&cluster, &capstan_hr(), &ns_name, "web");

    // Install from the HTTP repository, with the sidecar injected by the Wasm plugin.
    apply(
        &cluster,
        &capstan_hr(),
        &ns_name,
        mk_release(&ns_name, &owner, &sources.url(), json!({})),
    )
    .await?;
    let hr = wait_ready(&cluster, &capstan_hr(), &ns_name, "web", "True").await?;
    assert_eq!(
        condition(&hr, "Ready").map(|c| c["reason"].clone()),
        Some(json!("InstallSucceeded")),
        "{hr:#}"
    );
    assert!(condition(&hr, "Reconciling").is_none(), "{hr:#}");
    // While it worked, the release said so (Reconciling=True, Ready=Unknown).
    tokio::time::timeout(Duration::from_secs(10), reconciling)
        .await
        .context("no Reconciling=True was seen during the install")???;
    let deployment = get(&cluster, &deployments(), &ns_name, "web")
        .await?
        .context("deployment")?;
    assert_eq!(
        containers(&deployment),
        ["web", "metrics"],
        "{deployment:#}"
    );
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(deployment["metadata"]["labels"]["capstan.dev/name"], "web");
    assert_eq!(
        helm_history(&cluster, &ns_name, "web")?,
        [(1, "deployed".to_owned())]
    );

    // The real helm reads the release: the manifest as applied, after post-rendering.
    let manifest = cluster.helm(&["get", "manifest", "web", "-n", &ns_name])?;
    assert!(manifest.contains("name: metrics"), "{manifest}");
    let listed = cluster.helm(&["list", "-n", &ns_name, "-o", "json"])?;
    assert!(listed.contains("\"web-1.0.0\""), "{listed}");
    // kubectl shows the printer columns.
    let table = cluster.kubectl(&["get", "helmreleases.capstan.dev", "-n", &ns_name])?;
    assert!(table.contains("READY") && table.contains("True"), "{table}");

    // Editing values upgrades.
    let mut release = mk_release(
        &ns_name,
        &owner,
        &sources.url(),
        json!({"values": {"replicas": 3}}),
    );
    apply(&cluster, &capstan_hr(), &ns_name, release.clone()).await?;
    wait_for("the upgrade to 3 replicas", WAIT, || async {
        let d = get(&cluster, &deployments(), &ns_name, "web").await?;
        Ok(d.filter(|d| d["spec"]["replicas"] == 3))
    })
    .await?;
    let hr = wait_ready(&cluster, &capstan_hr(), &ns_name, "web", "True").await?;
    assert_eq!(
        condition(&hr, "Ready").map(|c| c["reason"].clone()),
        Some(json!("UpgradeSucceeded")),
        "{hr:#}"
    );
    assert_eq!(
        helm_history(&cluster, &ns_name, "web")?,
        [(1, "superseded".to_owned()), (2, "deployed".to_owned())]
    );

    // A new module behind the same plugin name upgrades, though the HelmRelease is unchanged.
    let (url2, sha2) =
        sources.publish_module("sidecar-v2.wasm", &with_custom_section(&sidecar, "v2"))?;
    apply(
        &cluster,
        &wasm_plugins(),
        &ns_name,
        json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "WasmPlugin",
            "metadata": {"name": "sidecar", "namespace": ns_name},
            "spec": {"url": url2, "sha256": sha2},
        }),
    )
    .await?;
    wait_for("revision 3 after publishing a new module", WAIT, || async {
        let h = helm_history(&cluster, &ns_name, "web")?;
        Ok((h.last() == Some(&(3, "deployed".to_owned()))).then_some(()))
    })
    .await?;
    let hr = get(&cluster, &capstan_hr(), &ns_name, "web")
        .await?
        .context("hr")?;
    let renderers = hr["status"]["history"][0]["postRenderers"].to_string();
    assert!(
        renderers.contains(&sha2),
        "history names the new module: {renderers}"
    );

    // Scaling by hand is drift: reverted on the next interval.
    cluster.kubectl(&["-n", &ns_name, "scale", "deployment/web", "--replicas=1"])?;
    wait_for(
        "the hand-scaled deployment reverted to 3 replicas",
        WAIT,
        || async {
            let d = get(&cluster, &deployments(), &ns_name, "web").await?;
            Ok(d.filter(|d| d["spec"]["replicas"] == 3))
        },
    )
    .await?;

    // A template removed from the chart prunes its object.
    sources.publish_chart(
        "2.0.0",
        VALUES,
        &[("templates/deployment.yaml", DEPLOYMENT)],
    )?;
    release["spec"]["chart"]["spec"]["version"] = json!("2.0.0");
    apply(&cluster, &capstan_hr(), &ns_name, release.clone()).await?;
    wait_for("the settings ConfigMap pruned", WAIT, || async {
        Ok(get(&cluster, &config_maps(), &ns_name, "web-settings")
            .await?
            .is_none()
            .then_some(()))
    })
    .await?;
    let history_before = helm_history(&cluster, &ns_name, "web")?;
    assert_eq!(history_before.last().map(|h| h.0), Some(4));

    // A render error: the previous release keeps running, history unchanged, Ready=False.
    release["spec"]["values"]["tag"] = json!("broken");
    apply(&cluster, &capstan_hr(), &ns_name, release.clone()).await?;
    let hr = wait_ready(&cluster, &capstan_hr(), &ns_name, "web", "False").await?;
    let ready = condition(&hr, "Ready").cloned().unwrap_or_default();
    assert_eq!(ready["reason"], "RenderFailed", "{hr:#}");
    assert!(
        ready["message"]
            .as_str()
            .unwrap_or("")
            .contains("is not a release"),
        "{ready:#}"
    );
    assert_eq!(
        condition(&hr, "Stalled").map(|c| c["status"].clone()),
        Some(json!("True"))
    );
    assert_eq!(helm_history(&cluster, &ns_name, "web")?, history_before);
    let d = get(&cluster, &deployments(), &ns_name, "web")
        .await?
        .context("deployment still there")?;
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );

    // A plugin denial: the same, and the status names the plugin with its digest.
    release["spec"]["values"]["tag"] = json!("latest");
    release["spec"]["postRenderers"] = json!([
        {"wasm": {"plugin": "sidecar", "config": sidecar_config()}},
        {"wasm": {"plugin": "policy"}},
    ]);
    let policy = std::fs::read(guest("policy-patch"))?;
    let (purl, psha) = sources.publish_module("policy.wasm", &policy)?;
    apply(&cluster, &wasm_plugins(), &ns_name, json!({
        "apiVersion": "capstan.dev/v1alpha1", "kind": "WasmPlugin",
        "metadata": {"name": "policy", "namespace": ns_name},
        "spec": {"url": purl, "sha256": psha, "config": {"checks": {"latestImage": "deny", "resourceLimits": "off"}}},
    })).await?;
    apply(&cluster, &capstan_hr(), &ns_name, release.clone()).await?;
    let hr = wait_for("Ready=False naming the denying plugin", WAIT, || async {
        let hr = get(&cluster, &capstan_hr(), &ns_name, "web")
            .await?
            .context("hr")?;
        let reason = condition(&hr, "Ready").map(|c| c["reason"].clone());
        Ok((reason == Some(json!("PostRenderDenied"))).then_some(hr))
    })
    .await?;
    let message = condition(&hr, "Ready")
        .map(|c| c["message"].to_string())
        .unwrap_or_default();
    assert!(
        message.contains(&format!("policy@sha256:{psha}")) || message.contains("policy@sha256:"),
        "{message}"
    );
    assert_eq!(helm_history(&cluster, &ns_name, "web")?, history_before);
    drop(ns);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flux_helmrelease_is_reconciled_with_flux_origin_labels() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    install_crds(&cluster)?;
    install_flux_crds_when_missing(&cluster)?;
    let ns = cluster.namespace("e2e-flux").await?;
    let ns_name = ns.name().to_owned();
    let (selector, owner) = selector_of(&ns);
    let sources = Sources::start()?;
    sources.publish_chart("1.0.0", VALUES, &[("templates/settings.yaml", CONFIG_MAP)])?;
    let _controller = Controller::start(&cluster, &selector, &["--flux-helmreleases"])?;
    apply(
        &cluster,
        &resource(
            "source.toolkit.fluxcd.io",
            "v1",
            "HelmRepository",
            "helmrepositories",
        ),
        &ns_name,
        json!({
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
            "metadata": {"name": "charts", "namespace": ns_name},
            "spec": {"url": sources.url(), "interval": "1m"},
        }),
    )
    .await?;
    let flux_hr = resource(
        "helm.toolkit.fluxcd.io",
        "v2",
        "HelmRelease",
        "helmreleases",
    );
    apply(&cluster, &flux_hr, &ns_name, json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
        "metadata": {"name": "web", "namespace": ns_name, "labels": {"capstan.dev/e2e-owner": owner}},
        "spec": {"interval": "5m", "chart": {"spec": {"chart": "web", "sourceRef": {"kind": "HelmRepository", "name": "charts"}}},
                 "values": {"greeting": "from flux"}},
    })).await?;
    wait_ready(&cluster, &flux_hr, &ns_name, "web", "True").await?;
    let cm = get(&cluster, &config_maps(), &ns_name, "web-settings")
        .await?
        .context("configmap")?;
    assert_eq!(cm["data"]["greeting"], "from flux");
    assert_eq!(
        cm["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"], "web",
        "{cm:#}"
    );
    assert_eq!(
        cm["metadata"]["labels"]["helm.toolkit.fluxcd.io/namespace"],
        ns_name.as_str()
    );
    assert_eq!(
        helm_history(&cluster, &ns_name, "web")?,
        [(1, "deployed".to_owned())]
    );
    drop(ns);
    Ok(())
}

/// Capstan's CRDs, from `capstan crds` (what a user applies).
fn install_crds(cluster: &Cluster) -> anyhow::Result<()> {
    let out = Command::new(capstan_bin()).arg("crds").output()?;
    anyhow::ensure!(out.status.success(), "capstan crds failed");
    cluster.kubectl_stdin(
        &["apply", "--server-side", "--force-conflicts", "-f", "-"],
        &String::from_utf8_lossy(&out.stdout),
    )?;
    for crd in [
        "helmreleases.capstan.dev",
        "wasmplugins.capstan.dev",
        "clusterwasmplugins.capstan.dev",
    ] {
        cluster.kubectl(&[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            &format!("crd/{crd}"),
        ])?;
    }
    Ok(())
}

/// Stand-ins for Flux's CRDs, only where Flux is not installed.
fn install_flux_crds_when_missing(cluster: &Cluster) -> anyhow::Result<()> {
    let served = cluster.kubectl(&[
        "api-resources",
        "--api-group=helm.toolkit.fluxcd.io",
        "-o",
        "name",
    ])?;
    if served.contains("helmreleases") {
        return Ok(());
    }
    let path: PathBuf = root().join("tests/fixtures/flux-crds.yaml");
    cluster.kubectl(&[
        "apply",
        "--server-side",
        "-f",
        path.to_str().unwrap_or_default(),
    ])?;
    for crd in [
        "helmreleases.helm.toolkit.fluxcd.io",
        "helmrepositories.source.toolkit.fluxcd.io",
    ] {
        cluster.kubectl(&[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            &format!("crd/{crd}"),
        ])?;
    }
    Ok(())
}
