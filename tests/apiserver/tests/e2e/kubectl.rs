//! The real `kubectl` and `helm` binaries against the cluster: discovery, apply (client- and
//! server-side), get (JSON and server-side Tables with CRD printer columns), scale, patch, label
//! selectors, delete; CRD registration and the status subresource; helm reading release Secrets.

use capstan_testapi::e2e::{Cluster, HelmRelease, helm_release_secret, wait_for};
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::{Value, json};
use std::time::Duration;

const WIDGET_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.e2e.capstan.dev
spec:
  group: e2e.capstan.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type=="Ready")].status'}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              color: {type: string, default: blue}
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items: {type: object, properties: {name: {type: string}, port: {type: integer}}}
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
"#;

fn json_of(s: &str) -> anyhow::Result<Value> {
    Ok(serde_json::from_str(s)?)
}

#[tokio::test]
async fn kubectl_workflow() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let ns = cluster.namespace("kubectl").await?;
    let n = ns.name();
    let manifest = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: nginx:1.27, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, labels: {app: web, tier: config}}
data: {mode: fast}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
"#;
    let out = cluster.kubectl_stdin(
        &[
            "-n",
            n,
            "apply",
            "--server-side",
            "--field-manager=e2e",
            "-f",
            "-",
        ],
        manifest,
    )?;
    assert!(
        out.contains("deployment.apps/web serverside-applied"),
        "{out}"
    );
    assert!(
        out.contains("configmap/settings serverside-applied"),
        "{out}"
    );

    // The simulator (or a real cluster's controllers) rolls the Deployment out.
    let ready = wait_for("web to be available", Duration::from_secs(120), || async {
        let d = json_of(&cluster.kubectl(&[
            "-n",
            n,
            "get",
            "deployment",
            "web",
            "-o",
            "json",
            "--show-managed-fields",
        ])?)?;
        Ok((d["status"]["availableReplicas"] == 2).then_some(d))
    })
    .await?;
    let managers = ready["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        managers
            .iter()
            .any(|m| m["manager"] == "e2e" && m["operation"] == "Apply"),
        "{managers:?}"
    );

    // Server-side Table output.
    let table = cluster.kubectl(&["-n", n, "get", "deployments"])?;
    let header = table.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("NAME") && header.contains("READY") && header.contains("AGE"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("web") && l.contains("2/2")),
        "{table}"
    );

    // Label selectors, scale, patch (JSON patch and strategic), label, client-side apply, delete.
    let names = cluster.kubectl(&[
        "-n",
        n,
        "get",
        "configmaps",
        "-l",
        "app=web,tier in (config)",
        "-o",
        "name",
    ])?;
    assert_eq!(names.trim(), "configmap/settings");
    cluster.kubectl(&["-n", n, "scale", "deployment", "web", "--replicas=3"])?;
    let replicas = cluster.kubectl(&[
        "-n",
        n,
        "get",
        "deployment",
        "web",
        "-o",
        "jsonpath={.spec.replicas}",
    ])?;
    assert_eq!(replicas, "3");
    cluster.kubectl(&[
        "-n",
        n,
        "patch",
        "configmap",
        "settings",
        "--type=json",
        "-p",
        r#"[{"op":"add","path":"/data/extra","value":"1"}]"#,
    ])?;
    cluster.kubectl(&[
        "-n",
        n,
        "patch",
        "deployment",
        "web",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.28"}]}}}}"#,
    ])?;
    cluster.kubectl(&["-n", n, "label", "configmap", "settings", "checked=true"])?;
    let cmj =
        json_of(&cluster.kubectl(&["-n", n, "get", "configmap", "settings", "-o", "json"])?)?;
    assert_eq!(cmj["data"], json!({"mode": "fast", "extra": "1"}));
    assert_eq!(cmj["metadata"]["labels"]["checked"], "true");
    let image = cluster.kubectl(&[
        "-n",
        n,
        "get",
        "deployment",
        "web",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ])?;
    assert_eq!(image, "nginx:1.28");
    let client_side = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\ndata: {a: b}\n";
    cluster.kubectl_stdin(&["-n", n, "apply", "-f", "-"], client_side)?;
    cluster.kubectl_stdin(
        &["-n", n, "apply", "-f", "-"],
        &client_side.replace("a: b", "a: c"),
    )?;
    assert_eq!(
        cluster.kubectl(&[
            "-n",
            n,
            "get",
            "configmap",
            "plain",
            "-o",
            "jsonpath={.data.a}"
        ])?,
        "c"
    );
    // kubectl's generators send protobuf bodies.
    cluster.kubectl(&[
        "-n",
        n,
        "create",
        "configmap",
        "generated",
        "--from-literal=a=b",
    ])?;
    cluster.kubectl(&[
        "-n",
        n,
        "create",
        "secret",
        "generic",
        "token",
        "--from-literal=t=s3cret",
    ])?;
    cluster.kubectl(&["-n", n, "create", "serviceaccount", "robot"])?;
    assert_eq!(
        cluster.kubectl(&[
            "-n",
            n,
            "get",
            "configmap",
            "generated",
            "-o",
            "jsonpath={.data.a}"
        ])?,
        "b"
    );
    assert_eq!(
        cluster.kubectl(&[
            "-n",
            n,
            "get",
            "secret",
            "token",
            "-o",
            "jsonpath={.data.t}"
        ])?,
        "czNjcmV0"
    );
    cluster.kubectl(&["-n", n, "get", "serviceaccount", "robot"])?;
    cluster.kubectl(&["-n", n, "delete", "configmap", "settings", "plain"])?;
    let left = cluster.kubectl(&["-n", n, "get", "configmaps", "-l", "app=web", "-o", "name"])?;
    assert_eq!(left.trim(), "");
    Ok(())
}

#[tokio::test]
async fn crd_registration_printer_columns_and_status() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let ns = cluster.namespace("crd").await?;
    let n = ns.name();
    cluster.kubectl_stdin(
        &["apply", "--server-side", "--field-manager=e2e", "-f", "-"],
        WIDGET_CRD,
    )?;
    cluster.kubectl(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/widgets.e2e.capstan.dev",
    ])?;

    let gvk = GroupVersionKind::gvk("e2e.capstan.dev", "v1", "Widget");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "widgets");
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client(), n, &ar);
    // Discovery may lag the Established condition on a real cluster.
    let created = wait_for(
        "the widgets resource to be served",
        Duration::from_secs(60),
        || async {
            let w: DynamicObject = serde_json::from_value(json!({
                "apiVersion": "e2e.capstan.dev/v1", "kind": "Widget", "metadata": {"name": "w1"},
                "spec": {"size": 3, "ports": [{"name": "http", "port": 80}], "unknownField": true},
            }))?;
            match api.create(&PostParams::default(), &w).await {
                Ok(o) => Ok(Some(o)),
                Err(kube::Error::Api(s)) if s.is_already_exists() => Ok(Some(api.get("w1").await?)),
                Err(e) => Err(e.into()),
            }
        },
    )
    .await?;
    assert_eq!(created.metadata.generation, Some(1));
    // Pruned by the structural schema; defaulted from it.
    assert_eq!(created.data["spec"]["unknownField"], Value::Null);
    assert_eq!(created.data["spec"]["color"], "blue");

    // The status subresource: status writes do not bump generation, spec writes ignore status.
    let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Done", "message": "ok", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    let w = api
        .patch_status("w1", &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    assert_eq!(w.metadata.generation, Some(1));
    let w = api
        .patch(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 4}, "status": {"conditions": []}})),
        )
        .await?;
    assert_eq!(w.metadata.generation, Some(2));
    assert_eq!(w.data["status"]["conditions"][0]["status"], "True");
    // A controller's server-side apply of status: its own manager, no new generation.
    let ready = json!({"apiVersion": "e2e.capstan.dev/v1", "kind": "Widget", "metadata": {"name": "w1"},
        "status": {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True", "reason": "Applied", "message": "ok", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    let w = api
        .patch_status(
            "w1",
            &PatchParams::apply("controller").force(),
            &Patch::Apply(&ready),
        )
        .await?;
    assert_eq!(
        (
            w.metadata.generation,
            w.data["status"]["observedGeneration"].as_i64()
        ),
        (Some(2), Some(2))
    );
    assert_eq!(w.data["spec"]["size"], 4);
    // Custom resources take no strategic merge patch, as on a real server.
    let e = api
        .patch(
            "w1",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"size": 5}})),
        )
        .await;
    assert!(
        matches!(e, Err(kube::Error::Api(ref s)) if s.code == 415),
        "{e:?}"
    );
    // list-map-keys from the schema: two appliers share the ports list by name.
    let apply = |ports: Value| json!({"apiVersion": "e2e.capstan.dev/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"ports": ports}});
    api.patch(
        "w1",
        &PatchParams::apply("one"),
        &Patch::Apply(apply(json!([{"name": "http", "port": 80}]))),
    )
    .await?;
    let w = api
        .patch(
            "w1",
            &PatchParams::apply("two"),
            &Patch::Apply(apply(json!([{"name": "metrics", "port": 9090}]))),
        )
        .await?;
    assert_eq!(w.data["spec"]["ports"].as_array().map(Vec::len), Some(2));

    // kubectl prints the CRD's columns from the server-side Table.
    let table = cluster.kubectl(&["-n", n, "get", "widgets"])?;
    let mut lines = table.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "SIZE", "READY", "AGE"], "{table}");
    let row: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(&row[..3], ["w1", "4", "True"], "{table}");
    // kubectl validates strictly on the server: a field the schema does not declare is refused.
    let typo = "apiVersion: e2e.capstan.dev/v1\nkind: Widget\nmetadata: {name: w2}\nspec: {size: 1, sise: 2}\n";
    let e = cluster
        .kubectl_stdin(&["-n", n, "create", "-f", "-"], typo)
        .expect_err("strict validation");
    assert!(
        e.to_string().contains("unknown field \"spec.sise\""),
        "{e:#}"
    );
    let short = cluster.kubectl(&["-n", n, "get", "wd", "-o", "name"])?;
    assert_eq!(short.trim(), "widget.e2e.capstan.dev/w1");
    Ok(())
}

#[tokio::test]
async fn helm_reads_release_secrets() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let ns = cluster.namespace("helm").await?;
    let n = ns.name();
    let api: Api<DynamicObject> = Api::namespaced_with(
        cluster.client(),
        n,
        &ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&()),
    );
    let manifest_v1 = "---\n# Source: demo/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  v: \"1\"\n";
    let manifest_v2 = manifest_v1.replace("\"1\"", "\"2\"");
    for (revision, status, manifest) in [
        (1, "superseded", manifest_v1),
        (2, "deployed", manifest_v2.as_str()),
    ] {
        let secret = helm_release_secret(&HelmRelease {
            name: "demo",
            namespace: n,
            revision,
            status,
            chart: "demo",
            chart_version: "0.1.0",
            app_version: "1.0",
            manifest,
        })?;
        api.create(&PostParams::default(), &serde_json::from_value(secret)?)
            .await?;
    }
    let list = json_of(&cluster.helm(&["list", "-n", n, "-o", "json"])?)?;
    assert_eq!(list[0]["name"], "demo", "{list}");
    assert_eq!(list[0]["revision"], "2");
    assert_eq!(list[0]["status"], "deployed");
    assert_eq!(list[0]["chart"], "demo-0.1.0");
    let history = json_of(&cluster.helm(&["history", "demo", "-n", n, "-o", "json"])?)?;
    let statuses: Vec<&str> = history
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["status"].as_str())
        .collect();
    assert_eq!(statuses, ["superseded", "deployed"]);
    let manifest = cluster.helm(&["get", "manifest", "demo", "-n", n])?;
    assert_eq!(manifest.trim(), manifest_v2.trim());
    let old = cluster.helm(&["get", "manifest", "demo", "-n", n, "--revision", "1"])?;
    assert!(old.contains("v: \"1\""), "{old}");
    Ok(())
}

#[tokio::test]
async fn helm_install_upgrade_uninstall() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let ns = cluster.namespace("helm-install").await?;
    let n = ns.name();
    let chart = concat!(env!("CARGO_MANIFEST_DIR"), "/../charts/basic");
    cluster.helm(&[
        "install",
        "web",
        chart,
        "-n",
        n,
        "--wait",
        "--timeout",
        "300s",
    ])?;
    cluster.helm(&["upgrade", "web", chart, "-n", n, "--set", "replicaCount=2"])?;
    let list = json_of(&cluster.helm(&["list", "-n", n, "-o", "json"])?)?;
    assert_eq!(
        (
            list[0]["name"].as_str(),
            list[0]["revision"].as_str(),
            list[0]["status"].as_str()
        ),
        (Some("web"), Some("2"), Some("deployed")),
        "{list}"
    );
    let replicas = cluster.kubectl(&[
        "-n",
        n,
        "get",
        "deployment",
        "web-basic",
        "-o",
        "jsonpath={.spec.replicas}",
    ])?;
    assert_eq!(replicas, "2");
    cluster.helm(&["uninstall", "web", "-n", n])?;
    let left = cluster.kubectl(&["-n", n, "get", "deployments,services,secrets", "-o", "name"])?;
    assert_eq!(left.trim(), "", "{left}");
    Ok(())
}

#[tokio::test]
async fn kubectl_get_watch_prints_changes() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let ns = cluster.namespace("kubectl-watch").await?;
    let n = ns.name();
    let child = cluster
        .kubectl_command()?
        .args([
            "-n",
            n,
            "get",
            "configmaps",
            "-l",
            "watched=yes",
            "-w",
            "--request-timeout=5s",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    // kubectl prints the (empty) initial list, then every change until the watch times out.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let cms: Api<DynamicObject> = Api::namespaced_with(
        cluster.client(),
        n,
        &ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
    );
    let cm: DynamicObject = serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "seen", "labels": {"watched": "yes"}}, "data": {"a": "1", "b": "2"}}),
    )?;
    cms.create(&PostParams::default(), &cm).await?;
    let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.split_whitespace().take(2).collect::<Vec<_>>() == ["seen", "2"]),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
