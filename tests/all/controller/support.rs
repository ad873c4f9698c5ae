//! What the controller's end-to-end tests share: a `capstan controller` process per test, a
//! chart repository and module server on loopback, and small helpers over the API.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;
use capstan_source::package_simple_chart;
use capstan_source::testing::HelmRepoServer;
use capstan_testapi::e2e::{Cluster, Namespace, wait_for};
use capstan_tests::{capstan_bin, root};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

pub(crate) const WAIT: Duration = Duration::from_secs(60);

/// A `capstan controller` process for one test; killed on drop.
pub(crate) struct Controller {
    child: Child,
    _cache: tempfile::TempDir,
}

impl Controller {
    pub(crate) fn start(
        cluster: &Cluster,
        selector: &str,
        extra: &[&str],
    ) -> anyhow::Result<Controller> {
        Self::spawn(cluster, selector, ("0", "0"), None, extra)
    }

    /// A controller that reports (in Events and Leases) as instance `pod` (`POD_NAME`).
    pub(crate) fn start_as(
        cluster: &Cluster,
        selector: &str,
        pod: &str,
        extra: &[&str],
    ) -> anyhow::Result<Controller> {
        Self::spawn(cluster, selector, ("0", "0"), Some(pod), extra)
    }

    /// A controller serving `/metrics` and `/healthz`+`/readyz` on loopback ports; returns
    /// their addresses too.
    pub(crate) fn start_serving(
        cluster: &Cluster,
        selector: &str,
        extra: &[&str],
    ) -> anyhow::Result<(Controller, String, String)> {
        let free = || -> anyhow::Result<String> {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            Ok(l.local_addr()?.to_string())
        };
        let (metrics, health) = (free()?, free()?);
        let c = Self::spawn(cluster, selector, (&metrics, &health), None, extra)?;
        Ok((c, metrics, health))
    }

    fn spawn(
        cluster: &Cluster,
        selector: &str,
        (metrics, health): (&str, &str),
        pod: Option<&str>,
        extra: &[&str],
    ) -> anyhow::Result<Controller> {
        let cache = tempfile::tempdir()?;
        let mut command = Command::new(capstan_bin());
        if let Some(pod) = pod {
            command.env("POD_NAME", pod);
        }
        let child = command
            .arg("controller")
            .args([
                "--metrics-addr",
                metrics,
                "--health-addr",
                health,
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

/// `GET http://addr/path` (the controller's endpoints speak HTTP/1.1 and close): status and
/// body.
pub(crate) fn http_get(addr: &str, path: &str) -> anyhow::Result<(u16, String)> {
    use std::io::{Read as _, Write as _};
    let mut stream =
        std::net::TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(
        format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").as_bytes(),
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .with_context(|| format!("no HTTP response from {addr}{path}: {response:?}"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("no status line from {addr}{path}: {head:?}"))?;
    Ok((status, body.to_owned()))
}

/// A chart repository and module server on loopback, serving `dir`.
pub(crate) struct Sources {
    dir: tempfile::TempDir,
    server: HelmRepoServer,
}

impl Sources {
    pub(crate) fn start() -> anyhow::Result<Sources> {
        let dir = tempfile::tempdir()?;
        std::fs::write(
            dir.path().join("index.yaml"),
            "apiVersion: v1\nentries: {}\n",
        )?;
        let server = HelmRepoServer::serve(dir.path()).context("chart repository")?;
        Ok(Sources { dir, server })
    }

    pub(crate) fn url(&self) -> String {
        self.server.url()
    }

    /// Publishes chart `web` at `version` with `templates`, and re-indexes.
    pub(crate) fn publish_chart(
        &self,
        version: &str,
        values: &str,
        templates: &[(&str, &str)],
    ) -> anyhow::Result<()> {
        self.publish_named_chart("web", version, values, templates)
    }

    /// Publishes chart `name` at `version` with `templates`, and re-indexes.
    pub(crate) fn publish_named_chart(
        &self,
        name: &str,
        version: &str,
        values: &str,
        templates: &[(&str, &str)],
    ) -> anyhow::Result<()> {
        let bytes = package_simple_chart(name, version, values, templates)?;
        std::fs::write(self.dir.path().join(format!("{name}-{version}.tgz")), bytes)?;
        let index = capstan_source::IndexFile::from_directory(self.dir.path(), None)?;
        std::fs::write(self.dir.path().join("index.yaml"), index.to_yaml())?;
        Ok(())
    }

    /// A repository serving chart `web` 1.0.0: one Deployment ([`DEPLOYMENT`], [`VALUES`]).
    pub(crate) fn with_web_chart() -> anyhow::Result<Sources> {
        let sources = Sources::start()?;
        sources.publish_chart(
            "1.0.0",
            VALUES,
            &[("templates/deployment.yaml", DEPLOYMENT)],
        )?;
        Ok(sources)
    }

    /// Serves `bytes` as `name`; returns its URL and sha256.
    pub(crate) fn publish_module(
        &self,
        name: &str,
        bytes: &[u8],
    ) -> anyhow::Result<(String, String)> {
        std::fs::write(self.dir.path().join(name), bytes)?;
        Ok((
            format!("{}/{name}", self.url()),
            capstan_source::Digest::of(bytes).hex().to_owned(),
        ))
    }
}

pub(crate) const DEPLOYMENT: &str = r#"apiVersion: apps/v1
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

pub(crate) const CONFIG_MAP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  greeting: {{ .Values.greeting | quote }}
"#;

pub(crate) const VALUES: &str = "replicas: 2\ntag: \"1.27\"\ngreeting: hello\n";

pub(crate) fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

pub(crate) fn capstan_hr() -> ApiResource {
    resource("capstan.dev", "v1alpha1", "HelmRelease", "helmreleases")
}

pub(crate) async fn apply(
    cluster: &Cluster,
    ar: &ApiResource,
    ns: &str,
    doc: Value,
) -> anyhow::Result<()> {
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

pub(crate) async fn get(
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

pub(crate) fn condition<'a>(hr: &'a Value, type_: &str) -> Option<&'a Value> {
    hr["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// Waits until the HelmRelease's Ready condition is `status` for `generation` or later, and
/// returns the release.
pub(crate) async fn wait_ready(
    cluster: &Cluster,
    ar: &ApiResource,
    ns: &str,
    name: &str,
    status: &str,
) -> anyhow::Result<Value> {
    let waited = wait_for(
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
    .await;
    match waited {
        Ok(hr) => Ok(hr),
        Err(e) => {
            // Say what the release looked like when we gave up.
            let last = get(cluster, ar, ns, name).await.ok().flatten();
            let seen = last.map_or_else(
                || "it does not exist".to_owned(),
                |hr| {
                    format!(
                        "generation {}, status {:#}",
                        hr["metadata"]["generation"], hr["status"]
                    )
                },
            );
            Err(e.context(format!("last seen: {seen}")))
        }
    }
}

/// Resolves once some version of HelmRelease `ns/name` shows `Reconciling=True` (kstatus: work
/// in progress), as seen by a watch started before the release exists.
pub(crate) fn watch_reconciling(
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

pub(crate) fn deployments() -> ApiResource {
    resource("apps", "v1", "Deployment", "deployments")
}

pub(crate) fn config_maps() -> ApiResource {
    resource("", "v1", "ConfigMap", "configmaps")
}

pub(crate) fn wasm_plugins() -> ApiResource {
    resource("capstan.dev", "v1alpha1", "WasmPlugin", "wasmplugins")
}

/// `helm history` of `release` as (revision, status) pairs, through the real helm binary.
pub(crate) fn helm_history(
    cluster: &Cluster,
    ns: &str,
    release: &str,
) -> anyhow::Result<Vec<(i64, String)>> {
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

pub(crate) fn sidecar_config() -> Value {
    json!({"container": {"name": "metrics", "image": "prom/statsd-exporter:v0.26.0"}})
}

pub(crate) fn mk_release(ns: &str, selector_value: &str, repo: &str, spec_extra: Value) -> Value {
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

pub(crate) fn containers(deployment: &Value) -> Vec<String> {
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
pub(crate) fn with_custom_section(module: &[u8], tag: &str) -> Vec<u8> {
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

pub(crate) fn selector_of(ns: &Namespace) -> (String, String) {
    (
        format!("capstan.dev/e2e-owner={}", ns.name()),
        ns.name().to_owned(),
    )
}

/// Capstan's CRDs, from `capstan crds` (what a user applies).
pub(crate) fn install_crds(cluster: &Cluster) -> anyhow::Result<()> {
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
pub(crate) fn install_flux_crds_when_missing(cluster: &Cluster) -> anyhow::Result<()> {
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

/// Deletes every HelmRelease of kind `ar` in `ns` and waits until they are gone (their
/// finalizer uninstalls them, so the test's controller must still run): call before the
/// namespace goes, or a real cluster keeps it terminating.
pub(crate) async fn delete_releases(
    cluster: &Cluster,
    ar: &ApiResource,
    ns: &str,
) -> anyhow::Result<()> {
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client(), ns, ar);
    api.delete_collection(&DeleteParams::background(), &ListParams::default())
        .await
        .with_context(|| format!("deleting the HelmReleases of {ns}"))?;
    wait_for(
        &format!("the HelmReleases of {ns} uninstalled"),
        WAIT,
        || async {
            Ok(api
                .list(&ListParams::default())
                .await?
                .items
                .is_empty()
                .then_some(()))
        },
    )
    .await
}

/// The Helm release Secrets of `release` in `ns` (what `helm` reads), by name.
pub(crate) async fn helm_secrets(
    cluster: &Cluster,
    ns: &str,
    release: &str,
) -> anyhow::Result<Vec<String>> {
    let api: Api<DynamicObject> = Api::namespaced_with(
        cluster.client(),
        ns,
        &resource("", "v1", "Secret", "secrets"),
    );
    let list = api
        .list(&ListParams::default().labels(&format!("owner=helm,name={release}")))
        .await?;
    Ok(list
        .items
        .iter()
        .filter_map(|s| s.metadata.name.clone())
        .collect())
}
