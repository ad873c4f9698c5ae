//! List + watch through kube-runtime's watcher (paginated initial list, then watch from the
//! list's resourceVersion), streaming lists, raw watches with bookmarks.

use crate::obj;
use capstan_testapi::e2e::Cluster;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::watcher::{self, Event};
use serde_json::json;
use std::time::Duration;

fn cm(name: &str, watched: bool) -> ConfigMap {
    let labels = if watched {
        json!({"watched": "yes"})
    } else {
        json!({})
    };
    obj(json!({"metadata": {"name": name, "labels": labels}, "data": {"n": "0"}}))
}

#[tokio::test]
async fn kube_runtime_watcher_sees_every_change() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let ns = cluster.namespace("watch").await?;
    let api: Api<ConfigMap> = Api::namespaced(cluster.client(), ns.name());
    for i in 0..5 {
        api.create(&PostParams::default(), &cm(&format!("pre-{i}"), true))
            .await?;
    }
    api.create(&PostParams::default(), &cm("unwatched", false))
        .await?;

    // Page size 2 forces the initial list through `continue` tokens.
    let config = watcher::Config::default()
        .labels("watched=yes")
        .page_size(2);
    let mut events = watcher::watcher(api.clone(), config).boxed();
    let mut initial = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(60), events.try_next()).await?? {
            Some(Event::Init) => {}
            Some(Event::InitApply(o)) => initial.push(o.metadata.name.unwrap_or_default()),
            Some(Event::InitDone) => break,
            other => anyhow::bail!("unexpected event before InitDone: {other:?}"),
        }
    }
    initial.sort();
    assert_eq!(initial, ["pre-0", "pre-1", "pre-2", "pre-3", "pre-4"]);

    api.create(&PostParams::default(), &cm("new", true)).await?;
    api.patch(
        "pre-0",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"n": "1"}})),
    )
    .await?;
    // Leaving the selector's set is a deletion for this watch.
    api.patch(
        "pre-1",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"watched": null}}})),
    )
    .await?;
    api.delete("pre-2", &DeleteParams::default()).await?;
    api.create(&PostParams::default(), &cm("unwatched-2", false))
        .await?;

    let mut seen = Vec::new();
    while seen.len() < 4 {
        match tokio::time::timeout(Duration::from_secs(60), events.try_next()).await?? {
            Some(Event::Apply(o)) => seen.push(format!(
                "apply {} {}",
                o.metadata.name.unwrap_or_default(),
                o.data.unwrap_or_default()["n"]
            )),
            Some(Event::Delete(o)) => {
                seen.push(format!("delete {}", o.metadata.name.unwrap_or_default()))
            }
            Some(other) => anyhow::bail!("unexpected event {other:?}"),
            None => anyhow::bail!("watch ended"),
        }
    }
    assert_eq!(
        seen,
        [
            "apply new 0",
            "apply pre-0 1",
            "delete pre-1",
            "delete pre-2"
        ]
    );
    Ok(())
}

#[tokio::test]
async fn bookmarks_and_streaming_lists() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let ns = cluster.namespace("bookmarks").await?;
    let api: Api<ConfigMap> = Api::namespaced(cluster.client(), ns.name());
    api.create(&PostParams::default(), &cm("a", true)).await?;

    // A streaming list (sendInitialEvents) ends its initial events with a bookmark.
    let mut events = watcher::watcher(
        api.clone(),
        watcher::Config::default()
            .labels("watched=yes")
            .streaming_lists(),
    )
    .boxed();
    let mut initial = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(60), events.try_next()).await?? {
            Some(Event::Init) => {}
            Some(Event::InitApply(o)) => initial.push(o.metadata.name.unwrap_or_default()),
            Some(Event::InitDone) => break,
            other => anyhow::bail!("unexpected event {other:?}"),
        }
    }
    assert_eq!(initial, ["a"]);

    // A raw watch from the list's resourceVersion replays later changes, and with
    // allowWatchBookmarks gets bookmarks (a real API server sends one about every minute).
    let list = api
        .list(&ListParams::default().labels("watched=yes"))
        .await?;
    let rv = list.metadata.resource_version.unwrap_or_default();
    api.create(&PostParams::default(), &cm("b", true)).await?;
    let wp = WatchParams::default().labels("watched=yes").timeout(120);
    let mut stream = api.watch(&wp, &rv).await?.boxed();
    let mut added = None;
    let bookmark = loop {
        match tokio::time::timeout(Duration::from_secs(110), stream.try_next()).await?? {
            Some(WatchEvent::Added(o)) => added = o.metadata.name,
            Some(WatchEvent::Bookmark(b)) => break b.metadata.resource_version,
            Some(other) => anyhow::bail!("unexpected {other:?}"),
            None => anyhow::bail!("watch ended before a bookmark"),
        }
    };
    assert_eq!(added.as_deref(), Some("b"));
    assert!(!bookmark.is_empty());
    Ok(())
}
