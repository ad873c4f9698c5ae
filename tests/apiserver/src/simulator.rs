//! The workload simulator: the only stand-in for kubelet and the built-in controllers.
//!
//! There is no scheduler, kubelet or controller-manager behind this server, so after every write
//! of a workload the simulator writes the status those controllers would eventually report
//! (through the status subresource, as field manager `capstan-testapi-simulator`, a separate
//! write with its own resourceVersion and watch event). Its rules are conventions that hold on a
//! real cluster too, so an end-to-end test never needs to talk to the simulator:
//!
//! | object | becomes | unless |
//! |---|---|---|
//! | Deployment | a ReplicaSet `<name>-<pod-template-hash>` for the current template (older ones scaled to 0); `observedGeneration`, `replicas` = `updatedReplicas` = `readyReplicas` = `availableReplicas` = `spec.replicas` (default 1), conditions `Available=True` (`MinimumReplicasAvailable`), `Progressing=True` (`NewReplicaSetAvailable`) | an image contains `does-not-exist`: `readyReplicas`/`availableReplicas` stay 0, `Available=False` (`MinimumReplicasUnavailable`); `spec.paused` |
//! | StatefulSet, ReplicaSet | ready and updated = `spec.replicas`, `currentRevision` = `updateRevision` | image `does-not-exist` (not ready) |
//! | DaemonSet | as if the cluster had one node: 1 desired, scheduled, ready, available, updated | image `does-not-exist` |
//! | Job | `Complete` + `SuccessCriteriaMet`, `succeeded` = `completions` (default 1) | a container's command + args end in `exit N`, N ≠ 0: `Failed` (`BackoffLimitExceeded`) + `FailureTarget`; image `does-not-exist`: stays `active: 1` |
//! | Pod | `restartPolicy: Always`: `Running` and `Ready`; `Never`/`OnFailure`: `Succeeded` | image `does-not-exist`: `Pending`; run-once pod whose command ends in `exit N`, N ≠ 0: `Failed` |
//! | PersistentVolumeClaim | `phase: Bound`, capacity = requested storage | `storageClassName` contains `does-not-exist`: `Pending` |
//! | Service `type: LoadBalancer` | `status.loadBalancer.ingress: [{ip: 127.0.0.1}]` | `loadBalancerClass` contains `does-not-exist` |
//!
//! Workloads create no Pods; nothing happens over time (an object is ready at once or never).

use crate::registry::ResourceType;
use serde_json::{Value, json};

/// The field manager of the simulator's status writes.
pub(crate) const MANAGER: &str = "capstan-testapi-simulator";

const HOLD: &str = "does-not-exist";

fn containers(pod_spec: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers"]
        .into_iter()
        .flat_map(move |k| pod_spec[k].as_array().into_iter().flatten())
}

/// The pod template (or pod) spec's containers ask for an image that never pulls.
fn held(pod_spec: &Value) -> bool {
    containers(pod_spec).any(|c| c["image"].as_str().is_some_and(|i| i.contains(HOLD)))
}

/// The exit code a Job's container asks for with a trailing `exit N`.
fn exit_code(pod_spec: &Value) -> Option<i64> {
    containers(pod_spec).find_map(|c| {
        let words: Vec<String> = ["command", "args"]
            .iter()
            .flat_map(|k| c[*k].as_array().into_iter().flatten())
            .filter_map(|w| w.as_str())
            .flat_map(|w| w.split_whitespace().map(String::from).collect::<Vec<_>>())
            .map(|w| w.trim_end_matches(';').to_string())
            .collect();
        let n = words.len();
        (n >= 2 && words[n - 2] == "exit")
            .then(|| words[n - 1].parse::<i64>().ok())
            .flatten()
            .filter(|code| *code != 0)
    })
}

fn condition(type_: &str, status: &str, reason: &str, message: &str, old: &Value) -> Value {
    let same = old["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == type_ && c["status"] == status && c["reason"] == reason);
    let time = same
        .map(|c| c["lastTransitionTime"].clone())
        .unwrap_or_else(|| json!(crate::store::now()));
    json!({"type": type_, "status": status, "reason": reason, "message": message,
           "lastTransitionTime": time, "lastUpdateTime": time})
}

/// The status the controllers would report for `obj`, when it differs from the current one.
pub(crate) fn status_for(rt: &ResourceType, obj: &Value) -> Option<Value> {
    if !obj["metadata"]["deletionTimestamp"].is_null() {
        return None;
    }
    let old = &obj["status"];
    let spec = &obj["spec"];
    let generation = obj["metadata"]["generation"].clone();
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let replicas = spec["replicas"].as_i64().unwrap_or(1);
    let pod_spec = &spec["template"]["spec"];
    let desired = match (rt.group.as_str(), rt.kind.as_str()) {
        ("apps", "Deployment") => {
            if spec["paused"] == true {
                return None;
            }
            let ready = if held(pod_spec) { 0 } else { replicas };
            let mut s = json!({"observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas});
            if ready > 0 {
                s["readyReplicas"] = json!(ready);
                s["availableReplicas"] = json!(ready);
            }
            if ready < replicas {
                s["unavailableReplicas"] = json!(replicas - ready);
            }
            let available = if ready >= replicas {
                condition(
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                    old,
                )
            } else {
                condition(
                    "Available",
                    "False",
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                    old,
                )
            };
            let progressing = if ready >= replicas {
                condition(
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    &format!("ReplicaSet \"{name}\" has successfully progressed."),
                    old,
                )
            } else {
                condition(
                    "Progressing",
                    "True",
                    "ReplicaSetUpdated",
                    &format!("ReplicaSet \"{name}\" is progressing."),
                    old,
                )
            };
            s["conditions"] = json!([available, progressing]);
            s
        }
        ("apps", "StatefulSet") | ("apps", "ReplicaSet") => {
            let ready = if held(pod_spec) { 0 } else { replicas };
            let mut s = json!({"observedGeneration": generation, "replicas": replicas});
            if rt.kind == "StatefulSet" {
                let revision = format!("{name}-{}", generation);
                s["currentReplicas"] = json!(replicas);
                s["updatedReplicas"] = json!(replicas);
                s["currentRevision"] = json!(revision);
                s["updateRevision"] = json!(revision);
            } else {
                s["fullyLabeledReplicas"] = json!(replicas);
            }
            if ready > 0 {
                s["readyReplicas"] = json!(ready);
                s["availableReplicas"] = json!(ready);
            }
            s
        }
        ("apps", "DaemonSet") => {
            let ready = if held(pod_spec) { 0 } else { 1 };
            json!({"observedGeneration": generation, "desiredNumberScheduled": 1, "currentNumberScheduled": 1,
                   "updatedNumberScheduled": 1, "numberMisscheduled": 0, "numberReady": ready,
                   "numberAvailable": ready, "numberUnavailable": 1 - ready})
        }
        ("batch", "Job") => {
            if spec["suspend"] == true {
                return None;
            }
            let start = old["startTime"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(crate::store::now);
            if held(pod_spec) {
                json!({"startTime": start, "active": 1, "ready": 0})
            } else if let Some(code) = exit_code(pod_spec) {
                let msg = format!(
                    "Job has reached the specified backoff limit (container exited with code {code})"
                );
                json!({"startTime": start, "failed": spec["backoffLimit"].as_i64().unwrap_or(6) + 1,
                       "conditions": [condition("FailureTarget", "True", "BackoffLimitExceeded", &msg, old),
                                      condition("Failed", "True", "BackoffLimitExceeded", &msg, old)]})
            } else {
                let completions = spec["completions"].as_i64().unwrap_or(1);
                let done = old["completionTime"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(crate::store::now);
                json!({"startTime": start, "completionTime": done, "succeeded": completions, "ready": 0,
                       "conditions": [condition("SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods", old),
                                      condition("Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods", old)]})
            }
        }
        ("", "Pod") => {
            let spec_pod = &obj["spec"];
            let once = matches!(
                spec_pod["restartPolicy"].as_str(),
                Some("Never" | "OnFailure")
            );
            let start = old["startTime"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(crate::store::now);
            let ready = |status: &str| {
                json!([
                    condition("Initialized", "True", "", "", old),
                    condition("Ready", status, "", "", old),
                    condition("ContainersReady", status, "", "", old),
                    condition("PodScheduled", "True", "", "", old)
                ])
            };
            if held(spec_pod) {
                json!({"phase": "Pending", "startTime": start, "conditions": ready("False")})
            } else if once && exit_code(spec_pod).is_some() {
                json!({"phase": "Failed", "startTime": start, "conditions": ready("False")})
            } else if once {
                json!({"phase": "Succeeded", "startTime": start, "conditions": ready("False")})
            } else {
                json!({"phase": "Running", "startTime": start, "conditions": ready("True")})
            }
        }
        ("", "PersistentVolumeClaim") => {
            if spec["storageClassName"]
                .as_str()
                .is_some_and(|s| s.contains(HOLD))
            {
                json!({"phase": "Pending"})
            } else {
                json!({"phase": "Bound", "accessModes": spec["accessModes"],
                       "capacity": {"storage": spec["resources"]["requests"]["storage"]}})
            }
        }
        ("", "Service") => {
            if spec["type"] != "LoadBalancer"
                || spec["loadBalancerClass"]
                    .as_str()
                    .is_some_and(|s| s.contains(HOLD))
            {
                return None;
            }
            json!({"loadBalancer": {"ingress": [{"ip": "127.0.0.1", "ipMode": "VIP"}]}})
        }
        _ => return None,
    };
    (desired != *old).then_some(desired)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_convention() {
        let spec = json!({"containers": [{"image": "busybox", "command": ["sh", "-c", "echo hi; exit 3"]}]});
        assert_eq!(exit_code(&spec), Some(3));
        let spec = json!({"containers": [{"image": "busybox", "command": ["sh", "-c"], "args": ["exit 0"]}]});
        assert_eq!(exit_code(&spec), None);
        let spec = json!({"containers": [{"image": "busybox", "command": ["true"]}]});
        assert_eq!(exit_code(&spec), None);
    }
}
