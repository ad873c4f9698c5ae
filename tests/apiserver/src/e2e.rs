//! The end-to-end harness: one suite, two targets.
//!
//! [`Cluster::start`] gives a fresh in-process [`TestApiServer`], or — when
//! `CAPSTAN_E2E_KUBECONFIG` names a kubeconfig — a handle on that real cluster. Either way a test
//! gets a kubeconfig path, a [`kube::Client`], the real `kubectl` and `helm` binaries pointed at
//! it, and a fresh namespace per test ([`Cluster::namespace`]) that is deleted when the test ends
//! and dumped to stderr when it fails. Nothing here reaches into the test server: a test that
//! passes here must pass unchanged on a real cluster.
//!
//! | helper | what |
//! |---|---|
//! | [`Cluster::start`] | a fresh test server (own port, own threads) or the `CAPSTAN_E2E_KUBECONFIG` cluster |
//! | [`Cluster::kubeconfig`], [`Cluster::client`], [`Cluster::client_as`] | for controllers and tools; an admin client; an impersonating client (`system:serviceaccount:ns:sa`) |
//! | [`Cluster::namespace`] | a fresh `<prefix>-xxxxx` namespace, deleted on drop, dumped to stderr if the test panicked |
//! | [`Cluster::apply_yaml`] | server-side apply of a multi-document YAML stream (waits for CRD kinds to be served) |
//! | [`Cluster::kubectl`], [`Cluster::kubectl_stdin`], [`Cluster::helm`] (+ `*_command`) | the real binaries from `.tools/bin`, pointed at the cluster; non-zero exit is an error with stderr |
//! | [`wait_for`] | poll a condition until it returns `Some`, with a timeout that names what was awaited |
//! | [`helm_release_secret`] | a release Secret in Helm 3's storage format, for tests that check what `helm` reads |
//!
//! ```no_run
//! # async fn t() -> anyhow::Result<()> {
//! use capstan_testapi::e2e::{Cluster, wait_for};
//! let cluster = Cluster::start().await?;
//! let ns = cluster.namespace("demo").await?;
//! cluster.kubectl(&["-n", ns.name(), "create", "configmap", "x", "--from-literal=a=b"])?;
//! let out = cluster.kubectl(&["-n", ns.name(), "get", "configmap", "x", "-o", "json"])?;
//! # Ok(()) }
//! ```

use crate::server::TestApiServer;
use anyhow::{Context as _, bail};
use base64::Engine as _;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};
use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The environment variable naming a real cluster's kubeconfig.
pub const KUBECONFIG_ENV: &str = "CAPSTAN_E2E_KUBECONFIG";

/// A cluster to test against: the in-process test server or a real one.
pub struct Cluster {
    server: Option<TestApiServer>,
    kubeconfig: PathBuf,
    client: kube::Client,
    /// kubectl's discovery cache and helm's homes, private to this cluster handle.
    scratch: tempfile::TempDir,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("kubeconfig", &self.kubeconfig)
            .field("test_server", &self.server.is_some())
            .finish()
    }
}

async fn client_for(
    kubeconfig: &Path,
    impersonate: Option<(&str, &[&str])>,
) -> anyhow::Result<kube::Client> {
    let kc = Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading kubeconfig {}", kubeconfig.display()))?;
    let mut config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("loading kubeconfig {}", kubeconfig.display()))?;
    if let Some((user, groups)) = impersonate {
        config.auth_info.impersonate = Some(user.to_string());
        config.auth_info.impersonate_groups =
            (!groups.is_empty()).then(|| groups.iter().map(|g| g.to_string()).collect());
    }
    Ok(kube::Client::try_from(config)?)
}

impl Cluster {
    /// A fresh test server, or the real cluster named by `CAPSTAN_E2E_KUBECONFIG`.
    pub async fn start() -> anyhow::Result<Cluster> {
        let (server, kubeconfig) = match std::env::var_os(KUBECONFIG_ENV).filter(|v| !v.is_empty())
        {
            Some(path) => (None, PathBuf::from(path)),
            None => {
                let server = TestApiServer::start().context("starting the test API server")?;
                let path = server.kubeconfig().to_path_buf();
                (Some(server), path)
            }
        };
        let client = client_for(&kubeconfig, None).await?;
        Ok(Cluster {
            server,
            kubeconfig,
            client,
            scratch: tempfile::tempdir().context("creating a scratch directory")?,
        })
    }

    /// True for a real cluster (`CAPSTAN_E2E_KUBECONFIG`); for messages only — tests must not
    /// branch on it.
    pub fn is_real(&self) -> bool {
        self.server.is_none()
    }

    /// The kubeconfig for external tools and controllers.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// An administrator client.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// A client impersonating `user` (and `groups`), e.g. `system:serviceaccount:ns:sa`.
    pub async fn client_as(&self, user: &str, groups: &[&str]) -> anyhow::Result<kube::Client> {
        client_for(&self.kubeconfig, Some((user, groups))).await
    }

    /// A `kubectl` command with `--kubeconfig` set.
    pub fn kubectl_command(&self) -> anyhow::Result<Command> {
        let mut c = Command::new(tool("kubectl")?);
        c.arg("--kubeconfig").arg(&self.kubeconfig);
        c.arg("--cache-dir")
            .arg(self.scratch.path().join("kube-cache"));
        Ok(c)
    }

    /// Runs `kubectl` and returns stdout; a non-zero exit is an error carrying stderr.
    pub fn kubectl(&self, args: &[&str]) -> anyhow::Result<String> {
        run(self.kubectl_command()?.args(args), "kubectl", args)
    }

    /// Runs `kubectl` with `stdin` as standard input (`-f -`).
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> anyhow::Result<String> {
        let mut cmd = self.kubectl_command()?;
        cmd.args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().context("spawning kubectl")?;
        child
            .stdin
            .take()
            .context("kubectl stdin")?
            .write_all(stdin.as_bytes())?;
        let out = child.wait_with_output()?;
        finish(out, "kubectl", args)
    }

    /// A `helm` (3) command with `--kubeconfig` set.
    pub fn helm_command(&self) -> anyhow::Result<Command> {
        let mut c = Command::new(tool("helm3")?);
        c.arg("--kubeconfig").arg(&self.kubeconfig);
        // Keep helm's caches out of the user's home.
        let home = self.scratch.path().join("helm");
        c.env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"));
        Ok(c)
    }

    /// Runs `helm` and returns stdout; a non-zero exit is an error carrying stderr.
    pub fn helm(&self, args: &[&str]) -> anyhow::Result<String> {
        run(self.helm_command()?.args(args), "helm", args)
    }

    /// Server-side applies every document of a YAML stream, in order (field manager
    /// `capstan-e2e`, forced), into `namespace` unless a document names its own. A kind that is
    /// not served yet (a CRD applied earlier in the stream) is retried for up to 60 s.
    pub async fn apply_yaml(
        &self,
        namespace: &str,
        yaml: &str,
    ) -> anyhow::Result<Vec<DynamicObject>> {
        let docs = capstan_yaml::parse_stream(yaml).context("parsing the YAML to apply")?;
        let mut applied = Vec::new();
        for doc in docs.into_iter().filter(|d| d.is_object()) {
            let api_version = doc["apiVersion"].as_str().unwrap_or_default().to_string();
            let kind = doc["kind"].as_str().unwrap_or_default().to_string();
            let name = doc["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let (group, version) = api_version.split_once('/').unwrap_or(("", &api_version));
            let gvk = kube::api::GroupVersionKind::gvk(group, version, &kind);
            let client = self.client.clone();
            let (ar, caps) = wait_for(
                &format!("{api_version} {kind} to be served"),
                Duration::from_secs(60),
                || {
                    let (client, gvk) = (client.clone(), gvk.clone());
                    async move { Ok(Some(kube::discovery::pinned_kind(&client, &gvk).await?)) }
                },
            )
            .await?;
            let api: Api<DynamicObject> = if caps.scope == kube::discovery::Scope::Namespaced {
                let ns = doc["metadata"]["namespace"].as_str().unwrap_or(namespace);
                Api::namespaced_with(self.client.clone(), ns, &ar)
            } else {
                Api::all_with(self.client.clone(), &ar)
            };
            let params = kube::api::PatchParams::apply("capstan-e2e").force();
            let obj = api
                .patch(&name, &params, &kube::api::Patch::Apply(&doc))
                .await
                .with_context(|| format!("applying {kind} {name}"))?;
            applied.push(obj);
        }
        Ok(applied)
    }

    /// Creates a fresh namespace `<prefix>-<random>`, deleted when the guard drops; if the test
    /// is panicking, everything in it is printed to stderr first.
    pub async fn namespace(&self, prefix: &str) -> anyhow::Result<Namespace> {
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &namespace_resource());
        let obj: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"generateName": format!("{prefix}-"), "labels": {"capstan.dev/e2e": "true"}},
        }))?;
        let created = api
            .create(&PostParams::default(), &obj)
            .await
            .context("creating the test namespace")?;
        let name = created
            .metadata
            .name
            .context("created namespace has no name")?;
        Ok(Namespace {
            name,
            kubeconfig: self.kubeconfig.clone(),
        })
    }
}

fn namespace_resource() -> kube::discovery::ApiResource {
    kube::discovery::ApiResource::erase::<k8s_openapi::api::core::v1::Namespace>(&())
}

/// A test's namespace; deleted on drop, dumped to stderr first when the test fails.
#[derive(Debug)]
pub struct Namespace {
    name: String,
    kubeconfig: PathBuf,
}

impl Namespace {
    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        let name = self.name.clone();
        let kubeconfig = self.kubeconfig.clone();
        // A fresh runtime on a fresh thread: drop may run inside (or after) the test's runtime.
        let handle = std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return eprintln!("cleaning up namespace {name}: {e}"),
            };
            rt.block_on(async {
                let client = match client_for(&kubeconfig, None).await {
                    Ok(c) => c,
                    Err(e) => return eprintln!("cleaning up namespace {name}: {e:#}"),
                };
                if failed && let Err(e) = dump(&client, &name).await {
                    eprintln!("dumping namespace {name}: {e:#}");
                }
                let api: Api<DynamicObject> = Api::all_with(client, &namespace_resource());
                match api.delete(&name, &DeleteParams::background()).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.is_not_found() => {}
                    Err(e) => eprintln!("deleting namespace {name}: {e}"),
                }
            });
        });
        let _ = handle.join();
    }
}

/// Prints every object in a namespace (every namespaced, listable resource) to stderr.
pub async fn dump(client: &kube::Client, namespace: &str) -> anyhow::Result<()> {
    let discovery = kube::Discovery::new(client.clone()).run().await?;
    let mut out = format!("==== objects in namespace {namespace} ====\n");
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            if caps.scope != kube::discovery::Scope::Namespaced
                || !caps.supports_operation(kube::discovery::verbs::LIST)
            {
                continue;
            }
            if ar.kind == "Event" && ar.group == "events.k8s.io" {
                continue;
            }
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &ar);
            let Ok(list) = api.list(&ListParams::default()).await else {
                continue;
            };
            for mut o in list.items {
                o.metadata.managed_fields = None;
                out.push_str(&format!(
                    "--- {} {}\n{}\n",
                    ar.kind,
                    o.metadata.name.clone().unwrap_or_default(),
                    serde_json::to_string_pretty(&o)?
                ));
            }
        }
    }
    eprintln!("{out}");
    Ok(())
}

/// Polls `check` every 100 ms until it returns `Some`, or fails after `timeout` naming `what` and
/// the last error.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let start = Instant::now();
    loop {
        let last = match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => "condition not met".to_string(),
            Err(e) => format!("{e:#}"),
        };
        if start.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}: {last}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `.tools/bin/<name>` of the workspace (installed by `.ci/install-helm`; looked up from the
/// running test's crate directory upwards), else `<name>` on PATH.
pub fn tool(name: &str) -> anyhow::Result<PathBuf> {
    let mut starts: Vec<PathBuf> = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    starts.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    for start in &starts {
        for dir in start.ancestors() {
            let candidate = dir.join(".tools/bin").join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    bail!(
        "the real `{name}` binary is needed and was not found in .tools/bin above {} or on PATH; install it with `.ci/install-helm` (it puts helm3, helm4 and kubectl into .tools/bin)",
        starts[0].display()
    )
}

fn run(cmd: &mut Command, what: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {what}"))?;
    finish(out, what, args)
}

fn finish(out: std::process::Output, what: &str, args: &[&str]) -> anyhow::Result<String> {
    if !out.status.success() {
        bail!(
            "`{what} {}` failed ({}):\n{}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One revision of a Helm release, for [`helm_release_secret`].
#[derive(Debug, Clone)]
pub struct HelmRelease<'a> {
    /// Release name.
    pub name: &'a str,
    /// Release namespace (and storage namespace).
    pub namespace: &'a str,
    /// Revision, from 1.
    pub revision: u32,
    /// `deployed`, `superseded`, `failed`, `pending-install`, …
    pub status: &'a str,
    /// Chart name.
    pub chart: &'a str,
    /// Chart version.
    pub chart_version: &'a str,
    /// Chart appVersion.
    pub app_version: &'a str,
    /// The rendered manifest.
    pub manifest: &'a str,
}

/// A release Secret in Helm 3's storage format (`sh.helm.release.v1.<name>.v<N>`, type
/// `helm.sh/release.v1`, `data.release` = base64 of base64(gzip(release JSON)) on the wire, labels
/// `owner=helm,name,status,version`), so tests can check that `helm list/history/get` read what a
/// writer stored.
pub fn helm_release_secret(r: &HelmRelease<'_>) -> anyhow::Result<Value> {
    let time = "2026-01-01T00:00:00Z";
    let release = json!({
        "name": r.name,
        "namespace": r.namespace,
        "version": r.revision,
        "info": {"first_deployed": time, "last_deployed": time, "deleted": "", "description": "Install complete", "status": r.status},
        "chart": {"metadata": {"name": r.chart, "version": r.chart_version, "appVersion": r.app_version, "apiVersion": "v2"}, "templates": [], "values": {}},
        "config": {},
        "manifest": r.manifest,
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(release.to_string().as_bytes())?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let inner = b64.encode(gz.finish()?);
    Ok(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {
            "name": format!("sh.helm.release.v1.{}.v{}", r.name, r.revision),
            "namespace": r.namespace,
            "labels": {"owner": "helm", "name": r.name, "status": r.status, "version": r.revision.to_string()},
        },
        "data": {"release": b64.encode(inner)},
    }))
}
