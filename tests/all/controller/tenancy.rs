//! Tenancy end to end: what one tenant's HelmRelease may make the controller do, and what it
//! may not — fetch from hosts outside the operator's allow-list, act beyond its service
//! account's RBAC, use another namespace's plugin or a cluster plugin not meant for it.

use anyhow::Context as _;
use capstan_testapi::e2e::{Cluster, wait_for};
use capstan_tests::guest;
use kube::api::{Api, DynamicObject};
use serde_json::json;

use super::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_url_outside_the_allow_list_is_refused_and_nothing_is_applied()
-> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    install_crds(&cluster)?;
    let ns = cluster.namespace("e2e-allow").await?;
    let ns_name = ns.name().to_owned();
    let (selector, owner) = selector_of(&ns);
    // Charts on an allowed host; the module on another address the tenant chose.
    let charts = Sources::with_web_chart()?;
    let elsewhere = Sources::start()?;
    let sidecar = std::fs::read(guest("inject-sidecar"))?;
    let (outside_url, sha) = elsewhere.publish_module("sidecar.wasm", &sidecar)?;
    let plugin = |url: &str| {
        json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "WasmPlugin",
            "metadata": {"name": "sidecar", "namespace": ns_name},
            "spec": {"url": url, "sha256": sha},
        })
    };
    apply(&cluster, &wasm_plugins(), &ns_name, plugin(&outside_url)).await?;
    let allowed = charts
        .url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let _controller = Controller::start(&cluster, &selector, &["--allowed-hosts", &allowed])?;
    apply(
        &cluster,
        &capstan_hr(),
        &ns_name,
        mk_release(&ns_name, &owner, &charts.url(), json!({})),
    )
    .await?;

    // Refused before any byte was requested from it; the release says why and stalls.
    let hr = wait_ready(&cluster, &capstan_hr(), &ns_name, "web", "False").await?;
    let ready = condition(&hr, "Ready").cloned().unwrap_or_default();
    let message = ready["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("refused to contact {outside_url}"))
            && message.contains(&format!("allow-list of hosts ({allowed})"))
            && message.contains("WasmPlugin"),
        "{ready:#}"
    );
    assert_eq!(
        condition(&hr, "Stalled").map(|c| c["status"].clone()),
        Some(json!("True")),
        "{hr:#}"
    );
    assert!(
        get(&cluster, &deployments(), &ns_name, "web")
            .await?
            .is_none(),
        "nothing may be applied"
    );
    assert!(
        helm_history(&cluster, &ns_name, "web").is_err(),
        "no release may be recorded"
    );

    // The same module from the allowed host installs: the list restricts, it does not block.
    let (inside_url, _) = charts.publish_module("sidecar.wasm", &sidecar)?;
    apply(&cluster, &wasm_plugins(), &ns_name, plugin(&inside_url)).await?;
    let hr = wait_ready(&cluster, &capstan_hr(), &ns_name, "web", "True").await?;
    let deployment = get(&cluster, &deployments(), &ns_name, "web")
        .await?
        .with_context(|| format!("deployment after {hr:#}"))?;
    assert_eq!(containers(&deployment), ["web", "metrics"]);
    delete_releases(&cluster, &capstan_hr(), &ns_name).await?;
    Ok(())
}

/// The Role a tenant's deployer gets: Helm storage always, Deployments only when `deployments`.
fn deployer_rbac(ns: &str, deployments: bool) -> String {
    let apps = if deployments {
        "\n  - apiGroups: [apps]\n    resources: [deployments]\n    verbs: [get, list, watch, create, update, patch, delete]"
    } else {
        ""
    };
    format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: deployer, namespace: {ns}}}\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: deployer, namespace: {ns}}}\n\
         rules:\n  - apiGroups: [\"\"]\n    resources: [secrets]\n    verbs: [get, list, watch, create, update, patch, delete]{apps}\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: deployer, namespace: {ns}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: deployer}}\n\
         subjects: [{{kind: ServiceAccount, name: deployer, namespace: {ns}}}]\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_acts_as_its_service_account_and_an_rbac_denial_says_who_may_not_do_what()
-> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    install_crds(&cluster)?;
    let ns = cluster.namespace("e2e-rbac").await?;
    let ns_name = ns.name().to_owned();
    let (selector, owner) = selector_of(&ns);
    cluster
        .apply_yaml(&ns_name, &deployer_rbac(&ns_name, false))
        .await?;
    let charts = Sources::with_web_chart()?;
    let _controller = Controller::start(&cluster, &selector, &[])?;
    let release = |requested: &str| {
        let mut hr = mk_release(
            &ns_name,
            &owner,
            &charts.url(),
            json!({"serviceAccountName": "deployer", "postRenderers": []}),
        );
        // As `flux reconcile --reset`: a stalled install is retried once its counters reset.
        hr["metadata"]["annotations"] = json!({
            "reconcile.capstan.dev/requestedAt": requested,
            "reconcile.capstan.dev/resetAt": requested,
        });
        hr
    };
    apply(&cluster, &capstan_hr(), &ns_name, release("1")).await?;

    // The controller itself could apply a Deployment; the tenant's account may not.
    let hr = wait_ready(&cluster, &capstan_hr(), &ns_name, "web", "False").await?;
    let ready = condition(&hr, "Ready").cloned().unwrap_or_default();
    let message = ready["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("system:serviceaccount:{ns_name}:deployer"))
            && message.contains("cannot patch resource \"deployments\"")
            && message.contains(&format!("Deployment {ns_name}/web"))
            && !message.contains("Status {"),
        "{ready:#}"
    );
    assert!(
        get(&cluster, &deployments(), &ns_name, "web")
            .await?
            .is_none(),
        "nothing may be applied as the controller"
    );

    // Granted, the same release installs — as the service account.
    cluster
        .apply_yaml(&ns_name, &deployer_rbac(&ns_name, true))
        .await?;
    apply(&cluster, &capstan_hr(), &ns_name, release("2")).await?;
    wait_ready(&cluster, &capstan_hr(), &ns_name, "web", "True").await?;
    let deployment = get(&cluster, &deployments(), &ns_name, "web")
        .await?
        .context("the Deployment once the account may create it")?;
    assert_eq!(containers(&deployment), ["web"]);
    delete_releases(&cluster, &capstan_hr(), &ns_name).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_cannot_use_another_namespaces_plugin_or_a_cluster_plugin_not_meant_for_it()
-> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    install_crds(&cluster)?;
    let owner_ns = cluster.namespace("e2e-plugin-owner").await?;
    let tenant_ns = cluster.namespace("e2e-tenant").await?;
    let (owner_name, tenant) = (owner_ns.name().to_owned(), tenant_ns.name().to_owned());
    let (selector, owner) = selector_of(&tenant_ns);
    let sources = Sources::with_web_chart()?;
    let sidecar = std::fs::read(guest("inject-sidecar"))?;
    let (url, sha) = sources.publish_module("sidecar.wasm", &sidecar)?;
    apply(
        &cluster,
        &wasm_plugins(),
        &owner_name,
        json!({"apiVersion": "capstan.dev/v1alpha1", "kind": "WasmPlugin",
               "metadata": {"name": "sidecar", "namespace": owner_name},
               "spec": {"url": url, "sha256": sha}}),
    )
    .await?;
    // Cluster-scoped: named after the test's namespace so runs on a shared cluster never meet.
    let cluster_plugin = format!("{tenant}-sidecar");
    let label = "capstan.dev/e2e-sidecar-allowed";
    cluster
        .apply_yaml(
            "",
            &serde_json::to_string(&json!({
                "apiVersion": "capstan.dev/v1alpha1", "kind": "ClusterWasmPlugin",
                "metadata": {"name": cluster_plugin},
                "spec": {"url": url, "sha256": sha,
                         "namespaceSelector": {"matchLabels": {label: "true"}}},
            }))?,
        )
        .await?;
    let _cleanup = DeleteOnDrop(
        cluster.kubeconfig().to_owned(),
        format!("clusterwasmplugin/{cluster_plugin}"),
    );
    let (_controller, metrics, health) = Controller::start_serving(&cluster, &selector, &[])?;
    wait_for("the controller to be ready", WAIT, || async {
        Ok(http_get(&health, "/readyz")
            .ok()
            .filter(|(code, _)| *code == 200))
    })
    .await?;
    assert_eq!(http_get(&health, "/healthz")?, (200, "ok".to_owned()));

    // The owner's WasmPlugin, named from the tenant's namespace: refused, naming both.
    apply(
        &cluster,
        &capstan_hr(),
        &tenant,
        mk_release(&tenant, &owner, &sources.url(), json!({})),
    )
    .await?;
    let hr = wait_ready(&cluster, &capstan_hr(), &tenant, "web", "False").await?;
    let ready = condition(&hr, "Ready").cloned().unwrap_or_default();
    assert_eq!(ready["reason"], "PluginNotAllowed", "{ready:#}");
    let message = ready["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!(
            "WasmPlugin \"sidecar\" is in namespace \"{owner_name}\" but the HelmRelease is in \"{tenant}\""
        )),
        "{ready:#}"
    );

    // The ClusterWasmPlugin, while the tenant's namespace lacks the label its selector wants.
    let via_cluster_plugin = json!({"postRenderers": [{"wasm": {
        "plugin": cluster_plugin, "kind": "ClusterWasmPlugin", "config": sidecar_config()}}]});
    apply(
        &cluster,
        &capstan_hr(),
        &tenant,
        mk_release(&tenant, &owner, &sources.url(), via_cluster_plugin),
    )
    .await?;
    let hr = wait_ready(&cluster, &capstan_hr(), &tenant, "web", "False").await?;
    let ready = condition(&hr, "Ready").cloned().unwrap_or_default();
    let message = ready["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!(
            "ClusterWasmPlugin \"{cluster_plugin}\" may only be used from namespaces matching its \
             spec.namespaceSelector ({label}=true); namespace \"{tenant}\" does not match"
        )),
        "{ready:#}"
    );
    assert!(
        get(&cluster, &deployments(), &tenant, "web")
            .await?
            .is_none(),
        "nothing may be applied"
    );

    // Labelled, the namespace is selected: the Namespace watch re-queues the release.
    cluster.kubectl(&["label", "namespace", &tenant, &format!("{label}=true")])?;
    wait_ready(&cluster, &capstan_hr(), &tenant, "web", "True").await?;
    let deployment = get(&cluster, &deployments(), &tenant, "web")
        .await?
        .context("the Deployment")?;
    assert_eq!(containers(&deployment), ["web", "metrics"]);

    // What the operator scrapes: this release's reconciles by result, its render time, the
    // plugin's calls under its name@sha256, and the module cache.
    let (code, text) = http_get(&metrics, "/metrics")?;
    assert_eq!(code, 200, "{text}");
    let release = format!("namespace=\"{tenant}\",name=\"web\"");
    let sample = |prefix: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix)?.trim().parse().ok())
            .unwrap_or(-1.0)
    };
    assert!(
        sample(&format!(
            "capstan_reconcile_total{{{release},result=\"success\"}}"
        )) >= 1.0,
        "{text}"
    );
    assert!(
        sample(&format!(
            "capstan_render_duration_seconds_count{{{release}}}"
        )) >= 1.0,
        "{text}"
    );
    assert!(
        sample(&format!(
            "capstan_plugin_call_duration_seconds_count{{plugin=\"{cluster_plugin}@sha256:{sha}\"}}"
        )) >= 1.0,
        "{text}"
    );
    assert!(
        sample("capstan_module_cache_total{result=\"compiled\"}")
            + sample("capstan_module_cache_total{result=\"disk\"}")
            >= 1.0,
        "{text}"
    );
    delete_releases(&cluster, &capstan_hr(), &tenant).await?;
    Ok(())
}

/// Deletes a cluster-scoped object (`kind/name`) when the test ends.
struct DeleteOnDrop(std::path::PathBuf, String);

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        if let Ok(kubectl) = capstan_testapi::e2e::tool("kubectl") {
            let _ = std::process::Command::new(kubectl)
                .args(["delete", "--ignore-not-found", &self.1])
                .env("KUBECONFIG", &self.0)
                .output();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_moving_objects_out_of_the_namespace_is_stopped_and_nothing_is_applied()
-> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    install_crds(&cluster)?;
    let ns = cluster.namespace("e2e-guard").await?;
    let ns_name = ns.name().to_owned();
    let (selector, owner) = selector_of(&ns);
    let sources = Sources::with_web_chart()?;
    let hostile = std::fs::read(guest("hostile"))?;
    let (url, sha) = sources.publish_module("hostile.wasm", &hostile)?;
    apply(
        &cluster,
        &wasm_plugins(),
        &ns_name,
        json!({"apiVersion": "capstan.dev/v1alpha1", "kind": "WasmPlugin",
               "metadata": {"name": "mover", "namespace": ns_name},
               "spec": {"url": url, "sha256": sha}}),
    )
    .await?;
    let _controller = Controller::start(&cluster, &selector, &[])?;
    apply(
        &cluster,
        &capstan_hr(),
        &ns_name,
        mk_release(
            &ns_name,
            &owner,
            &sources.url(),
            json!({"postRenderers": [{"wasm": {"plugin": "mover", "config": {"mode": "escape-namespace"}}}]}),
        ),
    )
    .await?;

    let hr = wait_ready(&cluster, &capstan_hr(), &ns_name, "web", "False").await?;
    let ready = condition(&hr, "Ready").cloned().unwrap_or_default();
    assert_eq!(ready["reason"], "PostRenderOutputRefused", "{ready:#}");
    let message = ready["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("mover@sha256:{sha}"))
            && message.contains("Deployment.apps kube-system/web")
            && message.contains("metadata.namespace"),
        "{ready:#}"
    );
    assert_eq!(
        condition(&hr, "Stalled").map(|c| c["status"].clone()),
        Some(json!("True")),
        "{hr:#}"
    );
    for namespace in [ns_name.as_str(), "kube-system"] {
        assert!(
            get(&cluster, &deployments(), namespace, "web")
                .await?
                .is_none(),
            "nothing may be applied in {namespace}"
        );
    }
    assert!(
        helm_history(&cluster, &ns_name, "web").is_err(),
        "no release may be recorded"
    );
    let events: Api<DynamicObject> = Api::namespaced_with(
        cluster.client(),
        &ns_name,
        &resource("events.k8s.io", "v1", "Event", "events"),
    );
    let refused = events
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .map(|e| serde_json::to_value(e).unwrap_or_default())
        .any(|e| e["reason"] == "PostRenderOutputRefused" && e["type"] == "Warning");
    assert!(refused, "a Warning event names the refusal");
    delete_releases(&cluster, &capstan_hr(), &ns_name).await?;
    Ok(())
}
