//! Running the controller as an operator does: several replicas behind a leader election
//! Lease (only the leader reconciles; a standby takes over when it dies), and shards that
//! split releases by label.

use anyhow::Context as _;
use capstan_testapi::e2e::{Cluster, wait_for};
use kube::api::{Api, DynamicObject};
use serde_json::{Value, json};

use super::support::*;

fn leases() -> kube::core::ApiResource {
    resource("coordination.k8s.io", "v1", "Lease", "leases")
}

/// The `reportingInstance` of every event about HelmRelease `name` in `ns`.
async fn reporters(cluster: &Cluster, ns: &str, name: &str) -> anyhow::Result<Vec<String>> {
    let events: Api<DynamicObject> = Api::namespaced_with(
        cluster.client(),
        ns,
        &resource("events.k8s.io", "v1", "Event", "events"),
    );
    let list = events.list(&Default::default()).await?;
    Ok(list
        .items
        .into_iter()
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .filter(|e| e["regarding"]["kind"] == "HelmRelease" && e["regarding"]["name"] == name)
        .map(|e| e["reportingInstance"].as_str().unwrap_or("").to_owned())
        .collect())
}

async fn lease_holder(cluster: &Cluster, ns: &str, name: &str) -> anyhow::Result<Option<String>> {
    Ok(get(cluster, &leases(), ns, name)
        .await?
        .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_owned)))
}

async fn wait_holder(cluster: &Cluster, ns: &str, lease: &str, who: &str) -> anyhow::Result<()> {
    wait_for(
        &format!("Lease {ns}/{lease} held by {who}"),
        WAIT,
        || async {
            Ok((lease_holder(cluster, ns, lease).await?.as_deref() == Some(who)).then_some(()))
        },
    )
    .await
}

fn no_plugins(ns: &str, owner: &str, repo: &str, name: &str, replicas: i64) -> Value {
    let mut hr = mk_release(
        ns,
        owner,
        repo,
        json!({"postRenderers": [], "values": {"replicas": replicas}}),
    );
    hr["metadata"]["name"] = json!(name);
    hr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_never_both_reconcile_and_a_standby_takes_over() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    install_crds(&cluster)?;
    let ns = cluster.namespace("e2e-leader").await?;
    let ns_name = ns.name().to_owned();
    let (selector, owner) = selector_of(&ns);
    let charts = Sources::with_web_chart()?;
    let election = [
        "--enable-leader-election",
        "--leader-election-namespace",
        &ns_name,
        "--leader-election-id",
        "e2e-leader",
        "--leader-election-lease-duration",
        "6s",
        "--leader-election-renew-deadline",
        "4s",
        "--leader-election-retry-period",
        "1s",
    ];
    let first = Controller::start_as(&cluster, &selector, "replica-a", &election)?;
    wait_holder(&cluster, &ns_name, "e2e-leader", "replica-a").await?;
    let _second = Controller::start_as(&cluster, &selector, "replica-b", &election)?;

    apply(
        &cluster,
        &capstan_hr(),
        &ns_name,
        no_plugins(&ns_name, &owner, &charts.url(), "web", 2),
    )
    .await?;
    wait_ready(&cluster, &capstan_hr(), &ns_name, "web", "True").await?;
    let seen = reporters(&cluster, &ns_name, "web").await?;
    assert!(
        !seen.is_empty() && seen.iter().all(|r| r == "replica-a"),
        "only the leader reconciles: {seen:?}"
    );
    assert_eq!(
        lease_holder(&cluster, &ns_name, "e2e-leader")
            .await?
            .as_deref(),
        Some("replica-a")
    );

    // The leader dies without giving the Lease up: the standby waits for it to expire, then
    // leads and reconciles the next change.
    drop(first);
    wait_holder(&cluster, &ns_name, "e2e-leader", "replica-b").await?;
    apply(
        &cluster,
        &capstan_hr(),
        &ns_name,
        no_plugins(&ns_name, &owner, &charts.url(), "web", 3),
    )
    .await?;
    wait_ready(&cluster, &capstan_hr(), &ns_name, "web", "True").await?;
    let deployment = get(&cluster, &deployments(), &ns_name, "web")
        .await?
        .context("the Deployment")?;
    assert_eq!(deployment["spec"]["replicas"], 3);
    let seen = reporters(&cluster, &ns_name, "web").await?;
    assert!(
        seen.iter().any(|r| r == "replica-b"),
        "the new leader reconciled: {seen:?}"
    );
    delete_releases(&cluster, &capstan_hr(), &ns_name).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_split_releases_by_label() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    install_crds(&cluster)?;
    let ns = cluster.namespace("e2e-shards").await?;
    let ns_name = ns.name().to_owned();
    let charts = Sources::with_web_chart()?;
    let shard = |s: &str| format!("{ns_name}-{s}");
    let _a = Controller::start_as(
        &cluster,
        &format!("capstan.dev/e2e-shard={}", shard("a")),
        "shard-a",
        &[],
    )?;
    let _b = Controller::start_as(
        &cluster,
        &format!("capstan.dev/e2e-shard={}", shard("b")),
        "shard-b",
        &[],
    )?;
    for (name, s) in [("web-a", "a"), ("web-b", "b"), ("web-a2", "a")] {
        let mut hr = no_plugins(&ns_name, "", &charts.url(), name, 1);
        hr["metadata"]["labels"] = json!({"capstan.dev/e2e-shard": shard(s)});
        apply(&cluster, &capstan_hr(), &ns_name, hr).await?;
    }
    for (name, instance) in [
        ("web-a", "shard-a"),
        ("web-b", "shard-b"),
        ("web-a2", "shard-a"),
    ] {
        wait_ready(&cluster, &capstan_hr(), &ns_name, name, "True").await?;
        let seen = reporters(&cluster, &ns_name, name).await?;
        assert!(
            !seen.is_empty() && seen.iter().all(|r| r == instance),
            "{name} is reconciled by {instance} alone: {seen:?}"
        );
    }
    delete_releases(&cluster, &capstan_hr(), &ns_name).await?;
    Ok(())
}
