//! CRUD, errors as Status objects, optimistic concurrency, patches, selectors, pagination,
//! generation, dry-run.

use crate::{api_error, obj};
use capstan_testapi::e2e::Cluster;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

/// A ConfigMap labelled `e2e` (the selectors below include it: a real namespace also holds
/// `kube-root-ca.crt`).
fn cm(name: &str, mut labels: serde_json::Value) -> ConfigMap {
    labels["e2e"] = json!("yes");
    obj(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}),
    )
}

pub(crate) fn deployment(name: &str, image: &str, replicas: i32) -> Deployment {
    obj(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image, "env": [{"name": "A", "value": "1"}]}]},
            },
        },
    }))
}

#[tokio::test]
async fn crud_errors_and_optimistic_concurrency() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let ns = cluster.namespace("crud").await?;
    let api: Api<ConfigMap> = Api::namespaced(cluster.client(), ns.name());

    let created = api
        .create(&PostParams::default(), &cm("one", json!({"app": "a"})))
        .await?;
    let meta = &created.metadata;
    assert!(
        meta.uid.is_some() && meta.creation_timestamp.is_some() && meta.resource_version.is_some()
    );

    let e = api_error(
        api.create(&PostParams::default(), &cm("one", json!({})))
            .await,
    );
    assert_eq!(
        (e.code, e.reason.as_str(), e.message.as_str()),
        (409, "AlreadyExists", r#"configmaps "one" already exists"#)
    );
    let e = api_error(api.get("missing").await);
    assert_eq!(
        (e.code, e.reason.as_str(), e.message.as_str()),
        (404, "NotFound", r#"configmaps "missing" not found"#)
    );

    // Optimistic concurrency: a replace with the old resourceVersion loses.
    let mut first = created.clone();
    first.data = Some([("k".to_string(), "first".to_string())].into());
    let updated = api.replace("one", &PostParams::default(), &first).await?;
    assert_ne!(
        updated.metadata.resource_version,
        created.metadata.resource_version
    );
    let mut stale = created.clone();
    stale.data = Some([("k".to_string(), "stale".to_string())].into());
    let e = api_error(api.replace("one", &PostParams::default(), &stale).await);
    assert_eq!(e.code, 409);
    assert_eq!(e.reason, "Conflict");
    assert_eq!(
        e.message,
        r#"Operation cannot be fulfilled on configmaps "one": the object has been modified; please apply your changes to the latest version and try again"#
    );

    // Merge patch (JSON patch goes through kubectl, in the kubectl tests).
    let got = api
        .patch(
            "one",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"m": "1", "k": null}})),
        )
        .await?;
    assert_eq!(got.data, Some([("m".to_string(), "1".to_string())].into()));

    // Label selectors, field selectors, pagination.
    for (name, labels) in [
        ("two", json!({"app": "b", "tier": "x"})),
        ("three", json!({"app": "c"})),
        ("four", json!({})),
    ] {
        api.create(&PostParams::default(), &cm(name, labels))
            .await?;
    }
    let names = |l: kube::core::ObjectList<ConfigMap>| {
        let mut n: Vec<String> = l
            .items
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .collect();
        n.sort();
        n
    };
    assert_eq!(
        names(api.list(&ListParams::default().labels("app=a")).await?),
        ["one"]
    );
    assert_eq!(
        names(
            api.list(&ListParams::default().labels("app in (a,b)"))
                .await?
        ),
        ["one", "two"]
    );
    assert_eq!(
        names(
            api.list(&ListParams::default().labels("app,app notin (a)"))
                .await?
        ),
        ["three", "two"]
    );
    assert_eq!(
        names(api.list(&ListParams::default().labels("e2e,!app")).await?),
        ["four"]
    );
    assert_eq!(
        names(
            api.list(&ListParams::default().labels("app!=a,tier"))
                .await?
        ),
        ["two"]
    );
    assert_eq!(
        names(
            api.list(&ListParams::default().fields("metadata.name=three"))
                .await?
        ),
        ["three"]
    );
    let mut seen = Vec::new();
    let mut lp = ListParams::default().labels("e2e").limit(2);
    loop {
        let page = api.list(&lp).await?;
        assert!(page.items.len() <= 2);
        let token = page.metadata.continue_.clone().filter(|c| !c.is_empty());
        seen.extend(names(page));
        match token {
            Some(t) => lp = lp.continue_token(&t),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["four", "one", "three", "two"]);

    // A Secret's stringData is stored as data.
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(cluster.client(), ns.name());
    let secret = obj(
        json!({"metadata": {"name": "creds"}, "stringData": {"user": "admin"}, "data": {"pw": "aHVudGVyMg=="}}),
    );
    let stored = secrets.create(&PostParams::default(), &secret).await?;
    assert!(stored.string_data.is_none());
    let data = stored.data.unwrap_or_default();
    assert_eq!(
        (data["user"].0.as_slice(), data["pw"].0.as_slice()),
        (b"admin".as_slice(), b"hunter2".as_slice())
    );

    // Leases are plain stored objects.
    let leases: Api<Lease> = Api::namespaced(cluster.client(), ns.name());
    let lease: Lease = obj(
        json!({"metadata": {"name": "leader"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}}),
    );
    leases.create(&PostParams::default(), &lease).await?;
    assert_eq!(
        leases
            .get("leader")
            .await?
            .spec
            .and_then(|s| s.holder_identity)
            .as_deref(),
        Some("a")
    );
    Ok(())
}

#[tokio::test]
async fn generation_strategic_merge_and_dry_run() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let ns = cluster.namespace("gen").await?;
    let api: Api<Deployment> = Api::namespaced(cluster.client(), ns.name());
    let d = api
        .create(&PostParams::default(), &deployment("web", "nginx:1", 1))
        .await?;
    assert_eq!(d.metadata.generation, Some(1));

    // A label change is metadata: no new generation.
    let d = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await?;
    assert_eq!(d.metadata.generation, Some(1));

    // Strategic merge patch merges containers and env by name.
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "nginx:2", "env": [{"name": "B", "value": "2"}]},
        {"name": "sidecar", "image": "busybox"},
    ]}}}});
    let d = api
        .patch("web", &PatchParams::default(), &Patch::Strategic(patch))
        .await?;
    assert_eq!(d.metadata.generation, Some(2));
    let spec = d.spec.template.spec.clone().expect("pod spec");
    assert_eq!(spec.containers.len(), 2);
    assert_eq!(spec.containers[0].image.as_deref(), Some("nginx:2"));
    let env: Vec<String> = spec.containers[0]
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(env, ["A", "B"]);
    // $patch: delete removes one item.
    let d = api
        .patch("web", &PatchParams::default(), &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}})))
        .await?;
    assert_eq!(d.spec.template.spec.map(|s| s.containers.len()), Some(1));

    // Dry-run leaves nothing behind, on every verb.
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let would = api.create(&dry, &deployment("ghost", "nginx", 1)).await?;
    assert_eq!(would.metadata.name.as_deref(), Some("ghost"));
    assert!(api.get_opt("ghost").await?.is_none());
    let before = api.get("web").await?;
    let pp = PatchParams {
        dry_run: true,
        ..Default::default()
    };
    let would = api
        .patch("web", &pp, &Patch::Merge(json!({"spec": {"replicas": 5}})))
        .await?;
    assert_eq!(would.spec.replicas, Some(5));
    let apply = PatchParams::apply("dry").force().dry_run();
    let would = api
        .patch(
            "web",
            &apply,
            &Patch::Apply(
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 7}}),
            ),
        )
        .await?;
    assert_eq!(would.spec.replicas, Some(7));
    api.delete(
        "web",
        &DeleteParams {
            dry_run: true,
            ..Default::default()
        },
    )
    .await?;
    let after = api.get("web").await?;
    // (A real cluster's controllers may update status meanwhile: compare what dry-run would change.)
    assert_eq!(after.metadata.generation, before.metadata.generation);
    assert_eq!(after.spec.replicas, Some(1));
    Ok(())
}
