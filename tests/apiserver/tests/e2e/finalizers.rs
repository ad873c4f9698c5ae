//! Finalizers, deletionTimestamp, propagation policies and ownerReference garbage collection,
//! namespace deletion.

use crate::obj;
use capstan_testapi::e2e::{Cluster, wait_for};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use std::time::Duration;

fn cm(name: &str, owner: Option<&ConfigMap>) -> ConfigMap {
    let mut v = json!({"metadata": {"name": name}, "data": {"x": "y"}});
    if let Some(o) = owner {
        v["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "ConfigMap",
            "name": o.metadata.name, "uid": o.metadata.uid, "blockOwnerDeletion": true}]);
    }
    obj(v)
}

async fn gone(api: &Api<ConfigMap>, name: &str) -> anyhow::Result<()> {
    wait_for(
        &format!("{name} to be deleted"),
        Duration::from_secs(60),
        || async { Ok(api.get_opt(name).await?.is_none().then_some(())) },
    )
    .await
}

#[tokio::test]
async fn finalizers_and_garbage_collection() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let ns = cluster.namespace("fin").await?;
    let api: Api<ConfigMap> = Api::namespaced(cluster.client(), ns.name());

    // A finalizer holds the object with a deletionTimestamp until it is removed.
    let mut held = cm("held", None);
    held.metadata.finalizers = Some(vec!["e2e.capstan.dev/hold".into()]);
    api.create(&PostParams::default(), &held).await?;
    api.delete("held", &DeleteParams::default()).await?;
    let marked = api.get("held").await?;
    assert!(marked.metadata.deletion_timestamp.is_some());
    api.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await?;
    gone(&api, "held").await?;

    // Background: the owner goes, then its dependents.
    let owner = api
        .create(&PostParams::default(), &cm("owner", None))
        .await?;
    api.create(&PostParams::default(), &cm("dependent", Some(&owner)))
        .await?;
    api.delete("owner", &DeleteParams::background()).await?;
    gone(&api, "owner").await?;
    gone(&api, "dependent").await?;

    // Orphan: the dependent stays, without the owner reference.
    let owner = api
        .create(&PostParams::default(), &cm("owner2", None))
        .await?;
    api.create(&PostParams::default(), &cm("orphan", Some(&owner)))
        .await?;
    api.delete("owner2", &DeleteParams::orphan()).await?;
    gone(&api, "owner2").await?;
    let orphan = api.get("orphan").await?;
    assert!(
        orphan
            .metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
    );

    // Foreground: dependents first, then the owner.
    let owner = api
        .create(&PostParams::default(), &cm("owner3", None))
        .await?;
    let mut dep = cm("blocker", Some(&owner));
    dep.metadata.finalizers = Some(vec!["e2e.capstan.dev/hold".into()]);
    api.create(&PostParams::default(), &dep).await?;
    api.delete("owner3", &DeleteParams::foreground()).await?;
    let waiting = api.get("owner3").await?;
    assert!(
        waiting
            .metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"foregroundDeletion".to_string())
    );
    wait_for(
        "the dependent to be marked",
        Duration::from_secs(60),
        || async {
            Ok(api
                .get("blocker")
                .await?
                .metadata
                .deletion_timestamp
                .is_some()
                .then_some(()))
        },
    )
    .await?;
    api.patch(
        "blocker",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await?;
    gone(&api, "blocker").await?;
    gone(&api, "owner3").await?;
    Ok(())
}

#[tokio::test]
async fn namespace_deletion_removes_contents() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let ns = cluster.namespace("doomed").await?;
    let api: Api<ConfigMap> = Api::namespaced(cluster.client(), ns.name());
    api.create(&PostParams::default(), &cm("inside", None))
        .await?;
    let namespaces: Api<Namespace> = Api::all(cluster.client());
    namespaces
        .delete(ns.name(), &DeleteParams::default())
        .await?;
    wait_for(
        "the namespace to go away",
        Duration::from_secs(120),
        || async { Ok(namespaces.get_opt(ns.name()).await?.is_none().then_some(())) },
    )
    .await?;
    let e = api.create(&PostParams::default(), &cm("late", None)).await;
    assert!(
        matches!(e, Err(kube::Error::Api(ref s)) if s.code == 404 || s.code == 403),
        "{e:?}"
    );
    assert!(api.get_opt("inside").await?.is_none());
    Ok(())
}
