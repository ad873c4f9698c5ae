//! Helm 3's `--wait` rules (`pkg/kube/ready.go` in Helm 3.17), for `waitStrategy: legacy`:
//! charts whose objects never satisfy kstatus (a Deployment that keeps an old replica around,
//! a custom resource without conditions that never becomes Ready) install as they did under
//! Helm 3 and Flux's `UseHelm3Defaults`.
//!
//! Helm 3 judges a Deployment by its newest ReplicaSet's ready replicas; the Deployment's own
//! status carries the same counts for that ReplicaSet (`updatedReplicas`, and `readyReplicas`
//! bounded by it), so the rule is read from the Deployment alone.

use serde_json::Value;

use super::{
    Readiness, condition, int, pod as kstatus_pod, replicas_progress as progress,
    revision_rolled_out,
};

/// An `IntOrString` (`2` or `"25%"`) scaled against `total`, rounding as Kubernetes'
/// `GetScaledValueFromIntOrPercent` does (`round_up` or down); `None` when malformed.
fn scaled(v: Option<&Value>, total: i64, round_up: bool) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let percent: i64 = s.strip_suffix('%')?.parse().ok()?;
            let product = percent * total;
            Some(if round_up {
                (product + 99).div_euclid(100)
            } else {
                product.div_euclid(100)
            })
        }
        _ => None,
    }
}

fn rolling_update(v: &Value, strategy_field: &str) -> bool {
    v.pointer(&format!("/spec/{strategy_field}/type"))
        .and_then(Value::as_str)
        .is_none_or(|t| t == "RollingUpdate")
}

fn generation_matches(v: &Value) -> Result<(), Readiness> {
    let generation = int(v, "/metadata/generation");
    let observed = int(v, "/status/observedGeneration");
    if generation.is_some() && generation != observed {
        return Err(Readiness::InProgress(format!(
            "observed generation {} is not generation {}",
            observed.unwrap_or(0),
            generation.unwrap_or(0)
        )));
    }
    Ok(())
}

/// `deploymentutil.MaxUnavailable`: 0 unless rolling; surge rounds up, unavailable down, and
/// both zero means one may be unavailable.
fn deployment_max_unavailable(v: &Value, replicas: i64) -> i64 {
    if !rolling_update(v, "strategy") || replicas == 0 {
        return 0;
    }
    let ru = v.pointer("/spec/strategy/rollingUpdate");
    let default = |s: &str| Value::String(s.to_owned());
    let surge = scaled(
        Some(
            ru.and_then(|r| r.get("maxSurge"))
                .unwrap_or(&default("25%")),
        ),
        replicas,
        true,
    )
    .unwrap_or(0);
    let mut unavailable = scaled(
        Some(
            ru.and_then(|r| r.get("maxUnavailable"))
                .unwrap_or(&default("25%")),
        ),
        replicas,
        false,
    )
    .unwrap_or(0);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    unavailable.min(replicas)
}

fn deployment(v: &Value) -> Result<(), Readiness> {
    if v.pointer("/spec/paused").and_then(Value::as_bool) == Some(true) {
        return Ok(());
    }
    generation_matches(v)?;
    let replicas = int(v, "/spec/replicas").unwrap_or(1);
    let expected = replicas - deployment_max_unavailable(v, replicas);
    let updated = int(v, "/status/updatedReplicas").unwrap_or(0);
    let ready = int(v, "/status/readyReplicas").unwrap_or(0).min(updated);
    progress("ready replicas of the new ReplicaSet", ready, expected)
}

fn daemon_set(v: &Value) -> Result<(), Readiness> {
    if !rolling_update(v, "updateStrategy") {
        return Ok(());
    }
    generation_matches(v)?;
    let desired = int(v, "/status/desiredNumberScheduled").unwrap_or(0);
    let updated = int(v, "/status/updatedNumberScheduled").unwrap_or(0);
    if updated != desired {
        return Err(Readiness::InProgress(format!(
            "updated pods: {updated} of {desired}"
        )));
    }
    let max_unavailable = scaled(
        Some(
            v.pointer("/spec/updateStrategy/rollingUpdate/maxUnavailable")
                .unwrap_or(&Value::from(1)),
        ),
        desired,
        true,
    )
    .unwrap_or(desired);
    progress(
        "ready pods",
        int(v, "/status/numberReady").unwrap_or(0),
        desired - max_unavailable,
    )
}

fn stateful_set(v: &Value) -> Result<(), Readiness> {
    if !rolling_update(v, "updateStrategy") {
        return Ok(());
    }
    generation_matches(v)?;
    let replicas = int(v, "/spec/replicas").unwrap_or(1);
    let partition = int(v, "/spec/updateStrategy/rollingUpdate/partition").unwrap_or(0);
    progress(
        "updated replicas",
        int(v, "/status/updatedReplicas").unwrap_or(0),
        replicas - partition,
    )?;
    let ready = int(v, "/status/readyReplicas").unwrap_or(0);
    if ready != replicas {
        return Err(Readiness::InProgress(format!(
            "ready replicas: {ready} of {replicas}"
        )));
    }
    revision_rolled_out(v, partition)
}

fn job(v: &Value) -> Result<(), Readiness> {
    let failed = int(v, "/status/failed").unwrap_or(0);
    let backoff = int(v, "/spec/backoffLimit").unwrap_or(6);
    if failed > backoff {
        return Err(Readiness::Failed(format!(
            "job failed: {failed} failed pods, backoffLimit {backoff}"
        )));
    }
    progress(
        "succeeded pods",
        int(v, "/status/succeeded").unwrap_or(0),
        int(v, "/spec/completions").unwrap_or(1),
    )
}

fn service(v: &Value) -> Result<(), Readiness> {
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("");
    if s("/spec/type") == "ExternalName" {
        return Ok(());
    }
    if s("/spec/clusterIP").is_empty() {
        return Err(Readiness::InProgress("no cluster IP assigned yet".into()));
    }
    if s("/spec/type") == "LoadBalancer" {
        let has = |p: &str| {
            v.pointer(p)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        };
        if !has("/spec/externalIPs") && !has("/status/loadBalancer/ingress") {
            return Err(Readiness::InProgress(
                "the load balancer has no ingress yet".into(),
            ));
        }
    }
    Ok(())
}

fn crd(v: &Value) -> Result<(), Readiness> {
    // Helm 3 counts a names conflict as done rather than failing the wait on it.
    match (condition(v, "Established"), condition(v, "NamesAccepted")) {
        (Some(("True", _, _)), _) | (_, Some(("False", _, _))) => Ok(()),
        _ => Err(Readiness::InProgress("not Established".into())),
    }
}

fn pod(v: &Value) -> Result<(), Readiness> {
    match condition(v, "Ready") {
        Some(("True", _, _)) => Ok(()),
        _ => match kstatus_pod(v) {
            Err(failed @ Readiness::Failed(_)) => Err(failed),
            _ => Err(Readiness::InProgress("pod is not Ready".into())),
        },
    }
}

/// Helm 3's verdict for one object (`skip_jobs`: `disableWaitForJobs`). Kinds Helm 3 does not
/// know, custom resources among them, are ready once they exist.
pub(super) fn ready(v: &Value, group: &str, kind: &str, skip_jobs: bool) -> Result<(), Readiness> {
    match (group, kind) {
        ("apps" | "extensions", "Deployment") => deployment(v),
        ("apps" | "extensions", "DaemonSet") => daemon_set(v),
        ("apps", "StatefulSet") => stateful_set(v),
        ("apps" | "extensions", "ReplicaSet") | ("", "ReplicationController") => progress(
            "ready replicas",
            int(v, "/status/readyReplicas").unwrap_or(0),
            int(v, "/spec/replicas").unwrap_or(1),
        ),
        ("batch", "Job") if skip_jobs => Ok(()),
        ("batch", "Job") => job(v),
        ("", "Pod") => pod(v),
        ("", "PersistentVolumeClaim") => match v.pointer("/status/phase").and_then(Value::as_str) {
            Some("Bound") => Ok(()),
            phase => Err(Readiness::InProgress(format!(
                "claim is {}",
                phase.unwrap_or("Pending")
            ))),
        },
        ("", "Service") => service(v),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd(v),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mk_deployment(replicas: i64, updated: i64, ready_: i64, strategy: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "generation": 3},
               "spec": {"replicas": replicas, "strategy": strategy},
               "status": {"observedGeneration": 3, "replicas": replicas + 1,
                          "updatedReplicas": updated, "readyReplicas": ready_}})
    }

    fn is_ready(v: &Value) -> bool {
        let kind = v["kind"].as_str().unwrap_or("");
        let group = super::super::group_of(v["apiVersion"].as_str().unwrap_or(""));
        ready(v, group, kind, false).is_ok()
    }

    #[test]
    fn deployments_may_fall_short_by_max_unavailable() {
        // 4 replicas, default 25%: one may be unavailable, and an old replica may remain.
        assert!(is_ready(&mk_deployment(4, 4, 3, json!({}))));
        assert!(!is_ready(&mk_deployment(4, 4, 2, json!({}))));
        assert!(
            !is_ready(&mk_deployment(4, 2, 4, json!({}))),
            "not updated yet"
        );
        let strict =
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}});
        assert!(!is_ready(&mk_deployment(4, 4, 3, strict)));
        let recreate = json!({"type": "Recreate"});
        assert!(!is_ready(&mk_deployment(2, 2, 1, recreate)));
        // Both zero: one may be unavailable.
        let zeroes = json!({"rollingUpdate": {"maxUnavailable": "0%", "maxSurge": "0%"}});
        assert!(is_ready(&mk_deployment(2, 2, 1, zeroes)));
        let mut stale = mk_deployment(1, 1, 1, json!({}));
        stale["status"]["observedGeneration"] = json!(2);
        assert!(!is_ready(&stale));
    }

    #[test]
    fn custom_resources_and_services_as_helm_3_sees_them() {
        let cr = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                        "status": {"conditions": [{"type": "Ready", "status": "False"}]}});
        assert!(is_ready(&cr), "Helm 3 does not wait for custom resources");
        let svc = |spec: Value| json!({"apiVersion": "v1", "kind": "Service", "spec": spec});
        assert!(!is_ready(&svc(json!({"type": "ClusterIP"}))));
        assert!(is_ready(&svc(
            json!({"type": "ClusterIP", "clusterIP": "10.0.0.9"})
        )));
        assert!(is_ready(&svc(json!({"clusterIP": "None"}))));
        assert!(is_ready(&svc(json!({"type": "ExternalName"}))));
        assert!(!is_ready(&svc(
            json!({"type": "LoadBalancer", "clusterIP": "10.0.0.9"})
        )));
        assert!(is_ready(&svc(
            json!({"type": "LoadBalancer", "clusterIP": "10.0.0.9", "externalIPs": ["1.2.3.4"]})
        )));
    }

    #[test]
    fn jobs_daemonsets_statefulsets_and_crds() {
        let job = |succeeded: i64, failed: i64| {
            json!({"apiVersion": "batch/v1", "kind": "Job",
                   "spec": {"completions": 2, "backoffLimit": 1},
                   "status": {"succeeded": succeeded, "failed": failed}})
        };
        assert!(is_ready(&job(2, 0)));
        assert!(!is_ready(&job(1, 1)));
        assert!(matches!(
            ready(&job(0, 2), "batch", "Job", false),
            Err(Readiness::Failed(_))
        ));
        assert!(ready(&job(0, 0), "batch", "Job", true).is_ok());
        let ds = |updated: i64, ready_: i64| {
            json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "spec": {},
                   "status": {"desiredNumberScheduled": 3, "updatedNumberScheduled": updated,
                              "numberReady": ready_}})
        };
        assert!(is_ready(&ds(3, 2)), "maxUnavailable 1 by default");
        assert!(!is_ready(&ds(2, 3)));
        let sts = |ready_: i64| {
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": {"replicas": 2},
                   "status": {"updatedReplicas": 2, "readyReplicas": ready_,
                              "currentRevision": "a", "updateRevision": "a"}})
        };
        assert!(is_ready(&sts(2)));
        assert!(!is_ready(&sts(1)));
        let crd = |conditions: Value| {
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                   "status": {"conditions": conditions}})
        };
        assert!(is_ready(&crd(
            json!([{"type": "Established", "status": "True"}])
        )));
        assert!(is_ready(&crd(
            json!([{"type": "NamesAccepted", "status": "False"}])
        )));
        assert!(!is_ready(&crd(json!([]))));
    }
}
