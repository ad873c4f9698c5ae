//! Server-side apply: managedFields, ownership, conflicts, force, removal of dropped fields,
//! associative lists, the scale subresource.

use crate::api_error;
use crate::crud::deployment;
use capstan_testapi::e2e::Cluster;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

fn cm(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owned"}, "data": data})
}

fn managers(o: &ConfigMap) -> Vec<(String, String)> {
    o.metadata
        .managed_fields
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            (
                m.manager.unwrap_or_default(),
                m.operation.unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn ownership_conflicts_and_force() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let ns = cluster.namespace("ssa").await?;
    let api: Api<ConfigMap> = Api::namespaced(cluster.client(), ns.name());
    let alice = PatchParams::apply("alice");
    let bob = PatchParams::apply("bob");

    let o = api
        .patch(
            "owned",
            &alice,
            &Patch::Apply(cm(json!({"a": "1", "b": "2"}))),
        )
        .await?;
    assert_eq!(managers(&o), [("alice".to_string(), "Apply".to_string())]);
    let fields = o.metadata.managed_fields.clone().unwrap_or_default()[0]
        .fields_v1
        .clone()
        .expect("fieldsV1")
        .0;
    assert_eq!(fields, json!({"f:data": {"f:a": {}, "f:b": {}}}));

    // Bob applies a different value for a field Alice owns: 409 naming Alice and the field.
    let e = api_error(
        api.patch("owned", &bob, &Patch::Apply(cm(json!({"b": "3"}))))
            .await,
    );
    assert_eq!(e.code, 409);
    assert_eq!(e.reason, "Conflict");
    assert_eq!(
        e.message,
        r#"Apply failed with 1 conflict: conflict with "alice": .data.b"#
    );
    // The same value is shared ownership, not a conflict.
    api.patch(
        "owned",
        &bob,
        &Patch::Apply(cm(json!({"b": "2", "c": "3"}))),
    )
    .await?;
    // Forced, Bob takes the field.
    let o = api
        .patch(
            "owned",
            &bob.clone().force(),
            &Patch::Apply(cm(json!({"b": "4", "c": "3"}))),
        )
        .await?;
    assert_eq!(
        o.data.as_ref().and_then(|d| d.get("b")).map(String::as_str),
        Some("4")
    );

    // Alice stops applying a and b: a (hers alone) goes, b (now Bob's) stays.
    let o = api
        .patch("owned", &alice, &Patch::Apply(cm(json!({"d": "5"}))))
        .await?;
    let mut keys: Vec<String> = o.data.unwrap_or_default().into_keys().collect();
    keys.sort();
    assert_eq!(keys, ["b", "c", "d"]);

    // An Update manager (kubectl edit, another controller) owns what it changed.
    api.patch(
        "owned",
        &PatchParams {
            field_manager: Some("editor".into()),
            ..Default::default()
        },
        &Patch::Merge(json!({"data": {"d": "6"}})),
    )
    .await?;
    let e = api_error(
        api.patch("owned", &alice, &Patch::Apply(cm(json!({"d": "5"}))))
            .await,
    );
    assert!(
        e.message
            .contains(r#"conflict with "editor" using v1: .data.d"#),
        "{}",
        e.message
    );

    // Two conflicts list every field under its manager.
    let e = api_error(
        api.patch(
            "owned",
            &alice,
            &Patch::Apply(cm(json!({"b": "x", "c": "y"}))),
        )
        .await,
    );
    assert_eq!(
        e.message,
        "Apply failed with 2 conflicts: conflicts with \"bob\":\n- .data.b\n- .data.c"
    );
    let causes = e.details.map(|d| d.causes).unwrap_or_default();
    assert_eq!(causes.len(), 2);
    assert_eq!(causes[0].reason, "FieldManagerConflict");
    Ok(())
}

#[tokio::test]
async fn associative_lists_and_scale() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let ns = cluster.namespace("ssa-lists").await?;
    let api: Api<Deployment> = Api::namespaced(cluster.client(), ns.name());
    let capstan = PatchParams::apply("capstan");
    let mut applied = serde_json::to_value(deployment("web", "nginx:1", 2))?;
    api.patch("web", &capstan, &Patch::Apply(&applied)).await?;

    // Another manager adds a container and an env var: merged by name, kept when capstan re-applies.
    let other = PatchParams::apply("injector");
    let inject = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "app", "env": [{"name": "INJECTED", "value": "yes"}]},
            {"name": "proxy", "image": "envoy"}]}}}});
    api.patch("web", &other, &Patch::Apply(&inject)).await?;
    applied["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    let d = api.patch("web", &capstan, &Patch::Apply(&applied)).await?;
    let spec = d.spec.template.spec.clone().expect("pod spec");
    let names: Vec<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["app", "proxy"]);
    assert_eq!(spec.containers[0].image.as_deref(), Some("nginx:2"));
    let env: Vec<&str> = spec.containers[0]
        .env
        .as_ref()
        .map(|e| e.iter().map(|v| v.name.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(env, ["A", "INJECTED"]);
    let mf = serde_json::to_value(&d.metadata.managed_fields)?;
    let capstan_fields = mf
        .as_array()
        .and_then(|a| a.iter().find(|m| m["manager"] == "capstan"))
        .map(|m| m["fieldsV1"].clone())
        .expect("capstan entry");
    assert_eq!(
        capstan_fields["f:spec"]["f:template"]["f:spec"]["f:containers"][r#"k:{"name":"app"}"#]["f:image"],
        json!({})
    );

    // Scaling through the scale subresource moves spec.replicas to the scaler: a later apply with
    // another replica count conflicts, unless forced.
    let scale = api.get_scale("web").await?;
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(2));
    api.patch_scale(
        "web",
        &PatchParams {
            field_manager: Some("hpa".into()),
            ..Default::default()
        },
        &Patch::Merge(json!({"spec": {"replicas": 4}})),
    )
    .await?;
    assert_eq!(api.get("web").await?.spec.replicas, Some(4));
    let e = api_error(api.patch("web", &capstan, &Patch::Apply(&applied)).await);
    assert!(
        e.message.contains("hpa") && e.message.contains(".spec.replicas"),
        "{}",
        e.message
    );
    let d = api
        .patch("web", &capstan.clone().force(), &Patch::Apply(&applied))
        .await?;
    assert_eq!(d.spec.replicas, Some(2));

    // (Status subresource rules are tested on a custom resource, which no controller touches.)
    let generation = d.metadata.generation;
    // A replace without a resourceVersion is unconditional; generation counts it.
    let mut current = api.get("web").await?;
    current.metadata.resource_version = None;
    current.spec.min_ready_seconds = Some(3);
    let replaced = api.replace("web", &PostParams::default(), &current).await?;
    assert_eq!(replaced.metadata.generation, generation.map(|g| g + 1));
    Ok(())
}
