//! What a kube-runtime controller leans on besides watch: metadata-only watches
//! (`as=PartialObjectMetadata`), the event Recorder (events.k8s.io/v1), and the harness's
//! `apply_yaml` for fixtures.

use capstan_testapi::e2e::Cluster;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event as KubeEvent;
use kube::Resource;
use kube::api::{Api, ListParams};
use kube::core::PartialObjectMeta;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::watcher;
use std::time::Duration;

const FIXTURES: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, labels: {fixture: "yes"}}
data: {big: "a value the metadata watch must not carry"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: nginx}]}
"#;

#[tokio::test]
async fn metadata_watch_events_and_fixtures() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let ns = cluster.namespace("runtime").await?;
    let n = ns.name();
    let applied = cluster.apply_yaml(n, FIXTURES).await?;
    let kinds: Vec<String> = applied
        .iter()
        .filter_map(|o| o.types.as_ref().map(|t| t.kind.clone()))
        .collect();
    assert_eq!(kinds, ["ConfigMap", "Deployment"]);

    let api: Api<ConfigMap> = Api::namespaced(cluster.client(), n);
    let meta = api.get_metadata("settings").await?;
    assert_eq!(meta.metadata.labels.unwrap_or_default()["fixture"], "yes");
    let metadata_api: Api<PartialObjectMeta<ConfigMap>> = Api::namespaced(cluster.client(), n);
    let mut events = watcher::watcher(
        metadata_api,
        watcher::Config::default().labels("fixture=yes"),
    )
    .boxed();
    let mut names = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(60), events.try_next()).await?? {
            Some(watcher::Event::Init) => {}
            Some(watcher::Event::InitApply(o)) => names.push(o.metadata.name.unwrap_or_default()),
            Some(watcher::Event::InitDone) => break,
            other => anyhow::bail!("unexpected {other:?}"),
        }
    }
    assert_eq!(names, ["settings"]);
    let listed = api
        .list_metadata(&ListParams::default().labels("fixture=yes"))
        .await?;
    assert_eq!(listed.items.len(), 1);

    // The recorder creates an events.k8s.io/v1 Event, then patches its series on repeats.
    let recorder = Recorder::new(cluster.client(), "capstan-e2e".into());
    let cm = api.get("settings").await?;
    let event = Event {
        type_: EventType::Normal,
        reason: "Tested".into(),
        note: Some("recorded by the e2e suite".into()),
        action: "Test".into(),
        secondary: None,
    };
    recorder.publish(&event, &cm.object_ref(&())).await?;
    recorder.publish(&event, &cm.object_ref(&())).await?;
    let recorded: Vec<KubeEvent> = Api::<KubeEvent>::namespaced(cluster.client(), n)
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("Tested"))
        .collect();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(
        recorded[0]
            .regarding
            .as_ref()
            .and_then(|r| r.name.as_deref()),
        Some("settings")
    );
    let printed = cluster.kubectl(&["-n", n, "get", "events.events.k8s.io", "-o", "name"])?;
    assert!(!printed.trim().is_empty());
    Ok(())
}

/// kube-runtime's finalizer helper (JSON patches with `test` ops on `/metadata/finalizers`), as a
/// controller's reconcile uses it: add, apply, clean up on deletion, remove.
#[tokio::test]
async fn kube_runtime_finalizer_helper() -> anyhow::Result<()> {
    use kube::runtime::controller::Action;
    use kube::runtime::finalizer::{Event as Fin, finalizer};
    use std::sync::Arc;

    let cluster = Cluster::start().await?;
    let ns = cluster.namespace("finalizer").await?;
    let api: Api<ConfigMap> = Api::namespaced(cluster.client(), ns.name());
    cluster
        .apply_yaml(
            ns.name(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: guarded}\n",
        )
        .await?;
    let name = "capstan.dev/e2e";
    let seen = std::sync::Mutex::new(Vec::new());
    let run = |obj: ConfigMap| {
        let seen = &seen;
        let api = &api;
        async move {
            finalizer(api, name, Arc::new(obj), |event| async move {
                let what = match event {
                    Fin::Apply(_) => "apply",
                    Fin::Cleanup(_) => "cleanup",
                };
                seen.lock().expect("lock").push(what);
                Ok::<_, std::io::Error>(Action::await_change())
            })
            .await
        }
    };
    run(api.get("guarded").await?).await?; // adds the finalizer
    let current = api.get("guarded").await?;
    assert_eq!(
        current.metadata.finalizers.clone().unwrap_or_default(),
        [name]
    );
    run(current).await?; // reconciles
    api.delete("guarded", &Default::default()).await?;
    let deleting = api.get("guarded").await?;
    assert!(deleting.metadata.deletion_timestamp.is_some());
    run(deleting).await?; // cleans up and removes the finalizer
    capstan_testapi::e2e::wait_for("the object to go", Duration::from_secs(60), || async {
        Ok(api.get_opt("guarded").await?.is_none().then_some(()))
    })
    .await?;
    assert_eq!(*seen.lock().expect("lock"), ["apply", "cleanup"]);
    Ok(())
}

/// A kube-runtime `Controller` (watcher + reflector + owns + SSA) against the cluster: it keeps a
/// copy of every `role=source` ConfigMap, owned by its source; drift (the copy deleted or edited)
/// is corrected, and deleting the source garbage-collects the copy.
#[tokio::test]
async fn kube_runtime_controller_round_trip() -> anyhow::Result<()> {
    use kube::runtime::controller::{Action, Controller};
    use kube::runtime::watcher::Config;
    use std::sync::Arc;

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Failed(#[from] kube::Error);

    let cluster = Cluster::start().await?;
    let ns = cluster.namespace("controller").await?;
    let n = ns.name().to_string();
    let api: Api<ConfigMap> = Api::namespaced(cluster.client(), &n);

    async fn reconcile(src: Arc<ConfigMap>, api: Arc<Api<ConfigMap>>) -> Result<Action, Failed> {
        let name = format!("{}-copy", src.metadata.name.clone().unwrap_or_default());
        let owner = src
            .controller_owner_ref(&())
            .into_iter()
            .collect::<Vec<_>>();
        let copy = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {"role": "copy"}, "ownerReferences": owner},
            "data": src.data});
        api.patch(
            &name,
            &kube::api::PatchParams::apply("copier").force(),
            &kube::api::Patch::Apply(&copy),
        )
        .await?;
        Ok(Action::await_change())
    }
    let controller = Controller::new(api.clone(), Config::default().labels("role=source"))
        .owns(api.clone(), Config::default().labels("role=copy"))
        .run(
            reconcile,
            |_, _, _| Action::await_change(),
            Arc::new(api.clone()),
        )
        .for_each(|_| async {});
    let handle = tokio::spawn(controller);

    let data = |v: &str| {
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "src", "labels": {"role": "source"}}, "data": {"v": v}})
    };
    let copy_has = |want: &'static str| {
        let api = api.clone();
        async move {
            capstan_testapi::e2e::wait_for(
                &format!("the copy to hold {want}"),
                Duration::from_secs(60),
                || {
                    let api = api.clone();
                    async move {
                        let c = api.get_opt("src-copy").await?;
                        Ok(c.filter(|c| {
                            c.data.as_ref().and_then(|d| d.get("v")).map(String::as_str)
                                == Some(want)
                        })
                        .map(|_| ()))
                    }
                },
            )
            .await
        }
    };
    let src = kube::api::PatchParams::apply("test");
    api.patch("src", &src, &kube::api::Patch::Apply(data("1")))
        .await?;
    copy_has("1").await?;
    api.patch("src", &src, &kube::api::Patch::Apply(data("2")))
        .await?;
    copy_has("2").await?;
    // Drift: the copy edited by hand, then deleted; the controller restores it both times.
    api.patch(
        "src-copy",
        &Default::default(),
        &kube::api::Patch::Merge(serde_json::json!({"data": {"v": "hand"}})),
    )
    .await?;
    copy_has("2").await?;
    api.delete("src-copy", &Default::default()).await?;
    copy_has("2").await?;
    // The source goes: its copy is garbage-collected.
    handle.abort();
    api.delete("src", &Default::default()).await?;
    capstan_testapi::e2e::wait_for("the copy to be collected", Duration::from_secs(60), || {
        let api = api.clone();
        async move { Ok(api.get_opt("src-copy").await?.is_none().then_some(())) }
    })
    .await?;
    Ok(())
}
