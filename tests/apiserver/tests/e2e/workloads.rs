//! Workload readiness by convention — what the test server's simulator reports at once and a real
//! cluster's kubelet and controllers report after a while: busybox workloads become ready, an image
//! containing `does-not-exist` never does, a run-once container ending in `exit N` fails.

use capstan_testapi::e2e::{Cluster, wait_for};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use std::time::Duration;

const WORKLOADS: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: good}
spec:
  replicas: 2
  selector: {matchLabels: {app: good}}
  template:
    metadata: {labels: {app: good}}
    spec: {containers: [{name: app, image: busybox:1.36, command: [sh, -c, sleep 3600]}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: held}
spec:
  selector: {matchLabels: {app: held}}
  template:
    metadata: {labels: {app: held}}
    spec: {containers: [{name: app, image: registry.invalid/does-not-exist:1}]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: ok}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: job, image: busybox:1.36, command: [sh, -c, "echo done; exit 0"]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: broken}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: job, image: busybox:1.36, command: [sh, -c, "echo failing; exit 3"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: hook}
spec:
  restartPolicy: Never
  containers: [{name: test, image: busybox:1.36, command: [sh, -c, "exit 0"]}]
"#;

/// The status of condition `type_` in an object's `status.conditions`.
fn condition<T: serde::Serialize>(obj: &T, type_: &str) -> Option<String> {
    let v = serde_json::to_value(obj).ok()?;
    v["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .and_then(|c| c["status"].as_str().map(String::from))
}

#[tokio::test]
async fn workloads_report_status_by_convention() -> anyhow::Result<()> {
    let cluster = Cluster::start().await?;
    let ns = cluster.namespace("workloads").await?;
    let n = ns.name();
    cluster.apply_yaml(n, WORKLOADS).await?;
    let deployments: Api<Deployment> = Api::namespaced(cluster.client(), n);
    let jobs: Api<Job> = Api::namespaced(cluster.client(), n);
    let pods: Api<Pod> = Api::namespaced(cluster.client(), n);
    let timeout = Duration::from_secs(300);

    wait_for("deployment good to be available", timeout, || async {
        let d = deployments.get("good").await?;
        let available = condition(&d, "Available");
        let status = d.status.unwrap_or_default();
        let ok = status.available_replicas == Some(2)
            && status.observed_generation == d.metadata.generation
            && available.as_deref() == Some("True");
        Ok(ok.then_some(()))
    })
    .await?;
    let job_state = |name: &'static str, want: &'static str| {
        let jobs = jobs.clone();
        async move {
            wait_for(&format!("job {name} to be {want}"), timeout, || async {
                let j = jobs.get(name).await?;
                Ok((condition(&j, want).as_deref() == Some("True")).then_some(()))
            })
            .await
        }
    };
    job_state("ok", "Complete").await?;
    job_state("broken", "Failed").await?;
    wait_for("the hook pod to succeed", timeout, || async {
        let p = pods.get("hook").await?;
        Ok((p.status.and_then(|s| s.phase).as_deref() == Some("Succeeded")).then_some(()))
    })
    .await?;
    // The held deployment never becomes available.
    let held = deployments.get("held").await?.status.unwrap_or_default();
    assert_eq!(held.available_replicas.unwrap_or(0), 0);
    Ok(())
}
