//! The reconciler end to end: the real `capstan controller` binary against a Kubernetes API —
//! the test API server, or unchanged a real cluster when `CAPSTAN_E2E_KUBECONFIG` is set — with a
//! real HTTP chart repository and module server on loopback, and the real `kubectl` and `helm`
//! binaries as observers. Each test has its own namespace and its own controller, which only
//! watches that test's HelmReleases (`--watch-label-selector`), so tests run in parallel even on
//! one real cluster.

mod lifecycle;
mod operations;
mod support;
mod tenancy;

use std::time::Duration;

use anyhow::Context as _;
use capstan_testapi::e2e::{Cluster, wait_for};
use capstan_tests::guest;
use serde_json::json;

use support::*;

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
    // Uninstalled through the finalizer while the controller still runs.
    delete_releases(&cluster, &capstan_hr(), &ns_name).await?;
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
    delete_releases(&cluster, &flux_hr, &ns_name).await?;
    drop(ns);
    Ok(())
}
