//! Tenancy end to end: what one tenant's HelmRelease may make the controller do, and what it
//! may not — fetch from hosts outside the operator's allow-list.

use anyhow::Context as _;
use capstan_testapi::e2e::Cluster;
use capstan_tests::guest;
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
    let charts = Sources::start()?;
    charts.publish_chart(
        "1.0.0",
        VALUES,
        &[("templates/deployment.yaml", DEPLOYMENT)],
    )?;
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
