//! Impersonation authorized by stored RBAC objects, with the API server's 403 messages.

use crate::{api_error, obj};
use capstan_testapi::e2e::{Cluster, wait_for};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn impersonated_service_account_is_authorized_by_rbac() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let ns = cluster.namespace("rbac").await?;
    let n = ns.name();
    let admin = cluster.client();
    Api::<ServiceAccount>::namespaced(admin.clone(), n)
        .create(
            &PostParams::default(),
            &obj(json!({"metadata": {"name": "deployer"}})),
        )
        .await?;
    let role: Role = obj(json!({"metadata": {"name": "configmaps"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "create"]}]}));
    Api::<Role>::namespaced(admin.clone(), n)
        .create(&PostParams::default(), &role)
        .await?;
    let binding: RoleBinding = obj(json!({"metadata": {"name": "deployer"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "configmaps"},
        "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": n}]}));
    Api::<RoleBinding>::namespaced(admin.clone(), n)
        .create(&PostParams::default(), &binding)
        .await?;

    let user = format!("system:serviceaccount:{n}:deployer");
    let sa = cluster.client_as(&user, &[]).await?;
    let cms: Api<ConfigMap> = Api::namespaced(sa.clone(), n);
    // RBAC propagation is immediate here and near-immediate on a real cluster.
    wait_for(
        "the role binding to take effect",
        Duration::from_secs(30),
        || async {
            match cms
                .create(
                    &PostParams::default(),
                    &obj(json!({"metadata": {"name": "allowed"}})),
                )
                .await
            {
                Ok(_) => Ok(Some(())),
                Err(kube::Error::Api(s)) if s.is_already_exists() => Ok(Some(())),
                Err(e) => Err(e.into()),
            }
        },
    )
    .await?;
    cms.get("allowed").await?;

    let e = api_error(
        Api::<Secret>::namespaced(sa.clone(), n)
            .create(
                &PostParams::default(),
                &obj(json!({"metadata": {"name": "s"}})),
            )
            .await,
    );
    assert_eq!(e.code, 403);
    assert_eq!(e.reason, "Forbidden");
    assert_eq!(
        e.message,
        format!(
            r#"secrets is forbidden: User "{user}" cannot create resource "secrets" in API group "" in the namespace "{n}""#
        )
    );
    let e = api_error(Api::<Secret>::namespaced(sa.clone(), n).get("s").await);
    assert_eq!(
        e.message,
        format!(
            r#"secrets "s" is forbidden: User "{user}" cannot get resource "secrets" in API group "" in the namespace "{n}""#
        )
    );
    let e = api_error(
        Api::<Deployment>::all(sa.clone())
            .list(&ListParams::default())
            .await,
    );
    assert_eq!(
        e.message,
        format!(
            r#"deployments.apps is forbidden: User "{user}" cannot list resource "deployments" in API group "apps" at the cluster scope"#
        )
    );
    // The same account has no rights in another namespace.
    let other = cluster.namespace("rbac-other").await?;
    let e = api_error(
        Api::<ConfigMap>::namespaced(sa, other.name())
            .list(&ListParams::default())
            .await,
    );
    assert_eq!(e.code, 403);
    Ok(())
}

#[tokio::test]
async fn access_reviews_answer_kubectl_auth_can_i() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let ns = cluster.namespace("can-i").await?;
    let n = ns.name();
    let role: Role = obj(json!({"metadata": {"name": "reader"},
        "rules": [{"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale"], "verbs": ["get", "patch"]}]}));
    Api::<Role>::namespaced(cluster.client(), n)
        .create(&PostParams::default(), &role)
        .await?;
    let binding: RoleBinding = obj(json!({"metadata": {"name": "reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "bot", "namespace": n}]}));
    Api::<RoleBinding>::namespaced(cluster.client(), n)
        .create(&PostParams::default(), &binding)
        .await?;
    let who = format!("--as=system:serviceaccount:{n}:bot");
    let can = |args: &[&str]| -> anyhow::Result<String> {
        let mut full = vec!["-n", n, "auth", "can-i", who.as_str()];
        full.extend_from_slice(args);
        // `kubectl auth can-i` exits 1 for "no"; the answer is on stdout either way.
        let out = cluster.kubectl_command()?.args(&full).output()?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    // A real API server's RBAC cache takes a moment to see new bindings.
    wait_for(
        "the binding to take effect",
        Duration::from_secs(30),
        || async { Ok((can(&["patch", "deployments.apps/scale"])? == "yes").then_some(())) },
    )
    .await?;
    assert_eq!(can(&["get", "deployments.apps"])?, "yes");
    assert_eq!(can(&["delete", "deployments.apps"])?, "no");
    assert_eq!(can(&["get", "secrets"])?, "no");
    Ok(())
}
