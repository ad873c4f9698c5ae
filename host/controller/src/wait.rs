//! Whether a release's objects are ready, decided over the live object's JSON, so the kube
//! layer only fetches objects and asks. Two rule sets, chosen by `spec.waitStrategy`:
//!
//! - `watcher` (Flux's default, also spelled `poller`): kstatus' rules, as Helm 4 and Flux wait
//!   — a Deployment is available and updated with no old replicas left, a StatefulSet or
//!   DaemonSet rolled out, a Job complete, a PVC bound, a LoadBalancer Service has an ingress,
//!   a CRD is Established, anything else with a `Ready` condition has it `True`; kinds listed
//!   in `spec.healthCheckExprs` are judged by their CEL expressions instead (`inProgress`,
//!   then `failed`, then `current`; the first that is true decides, none true is in progress).
//! - `legacy`: Helm 3's `--wait` (`pkg/kube/ready.go`) — ready replicas may fall short by
//!   `maxUnavailable`, Services need a cluster IP, custom resources are not waited for.
//!
//! ```text
//!  live objects ──readiness()──► Ready | InProgress(why) | Failed(why)
//!     all Ready ─► done      any Failed ─► the release failed      deadline ─► timed out
//! ```

use std::time::Duration;

use serde_json::Value;

use capstan_api::HelmReleaseSpec;

use crate::apply::{Applier, ApplyError, ObjectKey};
use crate::cel::{CompileError, Expr};

mod legacy;

/// `spec.waitStrategy.name`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Strategy {
    /// kstatus (`watcher`, `poller`).
    #[default]
    Watcher,
    /// Helm 3's ready checker (`legacy`).
    Legacy,
}

/// One `spec.healthCheckExprs` entry, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    /// The API group the entry's `apiVersion` names (`""` for the core group).
    pub group: String,
    /// The kind.
    pub kind: String,
    /// `inProgress`.
    pub in_progress: Option<Expr>,
    /// `failed`.
    pub failed: Option<Expr>,
    /// `current`.
    pub current: Expr,
}

/// How objects are judged: the strategy, what to skip, and the release's health checks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WaitRules {
    /// `disableWaitForJobs`: a Job counts as ready once it exists.
    pub skip_jobs: bool,
    /// `waitStrategy`.
    pub strategy: Strategy,
    /// `healthCheckExprs` (used by the `watcher` strategy only, as in Flux).
    pub health_checks: Vec<HealthCheck>,
}

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

impl WaitRules {
    /// The rules a release's spec asks for (its expressions compiled; a syntax error names
    /// the field).
    pub fn for_release(spec: &HelmReleaseSpec, skip_jobs: bool) -> Result<WaitRules, CompileError> {
        let strategy = match spec.wait_strategy.as_ref().map(|w| w.name) {
            Some(capstan_api::WaitStrategyName::Legacy) => Strategy::Legacy,
            _ => Strategy::Watcher,
        };
        let health_checks = spec
            .health_check_exprs
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let field = |f: &str| format!("spec.healthCheckExprs[{i}].{f}");
                let optional = |f: &str, e: &Option<String>| {
                    e.as_deref()
                        .filter(|s| !s.is_empty())
                        .map(|s| Expr::compile(field(f), s))
                        .transpose()
                };
                Ok(HealthCheck {
                    group: group_of(&h.api_version).to_owned(),
                    kind: h.kind.clone(),
                    in_progress: optional("inProgress", &h.in_progress)?,
                    failed: optional("failed", &h.failed)?,
                    current: Expr::compile(field("current"), &h.current)?,
                })
            })
            .collect::<Result<_, CompileError>>()?;
        Ok(WaitRules {
            skip_jobs,
            strategy,
            health_checks,
        })
    }
}

/// One object's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Current (kstatus): rolled out and healthy.
    Ready,
    /// Not yet; the reason is for messages.
    InProgress(String),
    /// It will not become ready without a change (a failed Job, an exceeded progress deadline).
    Failed(String),
}

fn int(v: &Value, pointer: &str) -> Option<i64> {
    v.pointer(pointer).and_then(Value::as_i64)
}

/// The condition `type_` of `status.conditions` as (status, reason, message).
fn condition<'a>(v: &'a Value, type_: &str) -> Option<(&'a str, &'a str, &'a str)> {
    let c = v
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))?;
    let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("");
    Some((s("status"), s("reason"), s("message")))
}

/// kstatus' first rule for every kind: the controller has seen the latest spec.
fn generation_observed(v: &Value) -> Result<(), Readiness> {
    let generation = int(v, "/metadata/generation");
    match (generation, int(v, "/status/observedGeneration")) {
        (Some(g), Some(o)) if o < g => Err(Readiness::InProgress(format!(
            "observed generation {o} is behind generation {g}"
        ))),
        _ => Ok(()),
    }
}

fn replicas_progress(what: &str, have: i64, want: i64) -> Result<(), Readiness> {
    if have < want {
        Err(Readiness::InProgress(format!("{what}: {have} of {want}")))
    } else {
        Ok(())
    }
}

fn deployment(v: &Value) -> Result<(), Readiness> {
    if v.pointer("/spec/paused").and_then(Value::as_bool) == Some(true) {
        return Ok(());
    }
    if let Some((_, "ProgressDeadlineExceeded", message)) = condition(v, "Progressing") {
        return Err(Readiness::Failed(format!(
            "progress deadline exceeded: {message}"
        )));
    }
    let want = int(v, "/spec/replicas").unwrap_or(1);
    replicas_progress(
        "updated replicas",
        int(v, "/status/updatedReplicas").unwrap_or(0),
        want,
    )?;
    replicas_progress(
        "available replicas",
        int(v, "/status/availableReplicas").unwrap_or(0),
        want,
    )?;
    let total = int(v, "/status/replicas").unwrap_or(0);
    if total > want {
        return Err(Readiness::InProgress(format!(
            "{} old replicas are pending termination",
            total - want
        )));
    }
    Ok(())
}

fn stateful_set(v: &Value) -> Result<(), Readiness> {
    if v.pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        == Some("OnDelete")
    {
        return Ok(());
    }
    let want = int(v, "/spec/replicas").unwrap_or(1);
    replicas_progress(
        "ready replicas",
        int(v, "/status/readyReplicas").unwrap_or(0),
        want,
    )?;
    let partition = int(v, "/spec/updateStrategy/rollingUpdate/partition").unwrap_or(0);
    replicas_progress(
        "updated replicas",
        int(v, "/status/updatedReplicas").unwrap_or(0),
        want - partition,
    )?;
    revision_rolled_out(v, partition)
}

/// A StatefulSet without a partition is rolled out once its current revision is the update
/// revision (kstatus and Helm 3 agree on this one).
fn revision_rolled_out(v: &Value, partition: i64) -> Result<(), Readiness> {
    let rev = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("");
    if partition == 0 && rev("/status/currentRevision") != rev("/status/updateRevision") {
        return Err(Readiness::InProgress(format!(
            "revision {} is rolling out",
            rev("/status/updateRevision")
        )));
    }
    Ok(())
}

fn daemon_set(v: &Value) -> Result<(), Readiness> {
    let want = int(v, "/status/desiredNumberScheduled").unwrap_or(0);
    replicas_progress(
        "updated pods",
        int(v, "/status/updatedNumberScheduled").unwrap_or(0),
        want,
    )?;
    replicas_progress(
        "available pods",
        int(v, "/status/numberAvailable").unwrap_or(0),
        want,
    )?;
    replicas_progress(
        "ready pods",
        int(v, "/status/numberReady").unwrap_or(0),
        want,
    )
}

fn replica_set(v: &Value) -> Result<(), Readiness> {
    let want = int(v, "/spec/replicas").unwrap_or(1);
    replicas_progress(
        "available replicas",
        int(v, "/status/availableReplicas").unwrap_or(0),
        want,
    )
}

fn job(v: &Value) -> Result<(), Readiness> {
    if let Some(("True", reason, message)) = condition(v, "Failed") {
        return Err(Readiness::Failed(format!("failed ({reason}): {message}")));
    }
    match condition(v, "Complete") {
        Some(("True", _, _)) => Ok(()),
        _ => Err(Readiness::InProgress(format!(
            "not complete ({} active, {} succeeded)",
            int(v, "/status/active").unwrap_or(0),
            int(v, "/status/succeeded").unwrap_or(0)
        ))),
    }
}

fn pod(v: &Value) -> Result<(), Readiness> {
    match v.pointer("/status/phase").and_then(Value::as_str) {
        Some("Succeeded") => Ok(()),
        Some("Failed") => Err(Readiness::Failed(format!(
            "pod failed: {}",
            v.pointer("/status/message")
                .and_then(Value::as_str)
                .unwrap_or("")
        ))),
        Some("Running") if matches!(condition(v, "Ready"), Some(("True", _, _))) => Ok(()),
        phase => Err(Readiness::InProgress(format!(
            "pod is {}",
            phase.unwrap_or("Pending")
        ))),
    }
}

fn pvc(v: &Value) -> Result<(), Readiness> {
    match v.pointer("/status/phase").and_then(Value::as_str) {
        Some("Bound") => Ok(()),
        phase => Err(Readiness::InProgress(format!(
            "claim is {}",
            phase.unwrap_or("Pending")
        ))),
    }
}

fn service(v: &Value) -> Result<(), Readiness> {
    if v.pointer("/spec/type").and_then(Value::as_str) != Some("LoadBalancer") {
        return Ok(());
    }
    let has_ingress = v
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .is_some_and(|i| !i.is_empty());
    if has_ingress {
        Ok(())
    } else {
        Err(Readiness::InProgress(
            "the load balancer has no ingress yet".into(),
        ))
    }
}

fn crd(v: &Value) -> Result<(), Readiness> {
    if let Some(("False", reason, message)) = condition(v, "NamesAccepted") {
        return Err(Readiness::Failed(format!(
            "names not accepted ({reason}): {message}"
        )));
    }
    match condition(v, "Established") {
        Some(("True", _, _)) => Ok(()),
        _ => Err(Readiness::InProgress("not Established".into())),
    }
}

/// Any other kind: kstatus' generic rules — `Stalled=True` failed, `Ready` must be `True` when
/// present (`Reconciling=True` in progress), no conditions at all is ready.
fn generic(v: &Value) -> Result<(), Readiness> {
    if let Some(("True", reason, message)) = condition(v, "Stalled") {
        return Err(Readiness::Failed(format!("stalled ({reason}): {message}")));
    }
    if let Some(("True", reason, message)) = condition(v, "Reconciling") {
        return Err(Readiness::InProgress(format!(
            "reconciling ({reason}): {message}"
        )));
    }
    match condition(v, "Ready") {
        Some(("True", _, _)) | None => Ok(()),
        Some((status, reason, message)) => Err(Readiness::InProgress(format!(
            "Ready={status} ({reason}): {message}"
        ))),
    }
}

/// A `spec.healthCheckExprs` entry decides: kstatus' generation rule first, then `inProgress`,
/// `failed` and `current` in that order (Flux's CEL status reader). An expression that cannot
/// be evaluated (the status is not written yet, a type error) leaves the object in progress,
/// its error in the reason, so a wait that never resolves times out saying why.
fn health_check(v: &Value, check: &HealthCheck) -> Result<(), Readiness> {
    generation_observed(v)?;
    /// What an expression being true means.
    enum Verdict {
        InProgress,
        Failed,
        Current,
    }
    let ordered = [
        (check.in_progress.as_ref(), Verdict::InProgress),
        (check.failed.as_ref(), Verdict::Failed),
        (Some(&check.current), Verdict::Current),
    ];
    for (expr, verdict) in ordered {
        let Some(expr) = expr else { continue };
        let why = || format!("{} `{}` is true", expr.field(), expr.source());
        match expr.eval_object(v) {
            Ok(true) => {
                return match verdict {
                    Verdict::InProgress => Err(Readiness::InProgress(why())),
                    Verdict::Failed => Err(Readiness::Failed(why())),
                    Verdict::Current => Ok(()),
                };
            }
            Ok(false) => {}
            Err(e) => {
                return Err(Readiness::InProgress(format!(
                    "{} `{}` cannot be evaluated: {e}",
                    expr.field(),
                    expr.source()
                )));
            }
        }
    }
    Err(Readiness::InProgress(format!(
        "{} `{}` is not true yet",
        check.current.field(),
        check.current.source()
    )))
}

/// The readiness of one live object under `rules`.
pub fn readiness(live: &Value, rules: &WaitRules) -> Readiness {
    let s = |p: &str| live.pointer(p).and_then(Value::as_str).unwrap_or("");
    let group = group_of(s("/apiVersion"));
    let kind = s("/kind");
    let result = match rules.strategy {
        Strategy::Legacy => legacy::ready(live, group, kind, rules.skip_jobs),
        Strategy::Watcher => match rules
            .health_checks
            .iter()
            .find(|h| h.group == group && h.kind == kind)
        {
            Some(check) => health_check(live, check),
            None => kstatus(live, group, kind, rules.skip_jobs),
        },
    };
    match result {
        Ok(()) => Readiness::Ready,
        Err(r) => r,
    }
}

fn kstatus(live: &Value, group: &str, kind: &str, skip_jobs: bool) -> Result<(), Readiness> {
    generation_observed(live).and_then(|()| match (group, kind) {
        ("apps", "Deployment") => deployment(live),
        ("apps", "StatefulSet") => stateful_set(live),
        ("apps", "DaemonSet") => daemon_set(live),
        ("apps", "ReplicaSet") => replica_set(live),
        ("batch", "Job") if skip_jobs => Ok(()),
        ("batch", "Job") => job(live),
        ("", "Pod") => pod(live),
        ("", "PersistentVolumeClaim") => pvc(live),
        ("", "Service") => service(live),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd(live),
        _ => generic(live),
    })
}

/// Waiting failed.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// Reading an object failed.
    #[error("reading the release's objects")]
    Read(#[source] ApplyError),
    /// An object will not become ready.
    #[error("{object} failed: {reason}")]
    ObjectFailed {
        /// `Kind namespace/name`.
        object: String,
        /// Why.
        reason: String,
    },
    /// The deadline passed.
    #[error("timed out after {timeout:?} waiting for {}", .pending.join("; "))]
    TimedOut {
        /// How long we waited.
        timeout: Duration,
        /// `Kind namespace/name: why`, for each object not ready.
        pending: Vec<String>,
    },
}

/// How often the objects are read again while waiting.
const POLL: Duration = Duration::from_millis(500);

/// Waits until every one of `objects` (manifests; namespaces default to `default_ns`) is ready
/// under `rules`,
/// one fails, or `timeout` passes. A missing object is in progress (it may be created by a
/// hook or a controller).
pub async fn wait_ready(
    applier: &Applier,
    objects: &[Value],
    default_ns: &str,
    timeout: Duration,
    rules: &WaitRules,
) -> Result<(), WaitError> {
    wait_until(applier, objects, default_ns, timeout, |live| {
        readiness(live, rules)
    })
    .await
}

/// [`wait_ready`] with another readiness rule (`check`).
pub async fn wait_until(
    applier: &Applier,
    objects: &[Value],
    default_ns: &str,
    timeout: Duration,
    check: impl Fn(&Value) -> Readiness,
) -> Result<(), WaitError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pending: Vec<ObjectKey> = objects.iter().filter_map(ObjectKey::of).collect();
    loop {
        let mut still = Vec::new();
        let mut reasons = Vec::new();
        for key in pending {
            let live = applier
                .get(&key, default_ns)
                .await
                .map_err(WaitError::Read)?;
            let state = match live {
                None => Readiness::InProgress("not found".into()),
                Some(o) => check(&serde_json::to_value(&o).unwrap_or(Value::Null)),
            };
            match state {
                Readiness::Ready => {}
                Readiness::Failed(reason) => {
                    return Err(WaitError::ObjectFailed {
                        object: key.to_string(),
                        reason,
                    });
                }
                Readiness::InProgress(reason) => {
                    reasons.push(format!("{key}: {reason}"));
                    still.push(key);
                }
            }
        }
        if still.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(WaitError::TimedOut {
                timeout,
                pending: reasons,
            });
        }
        pending = still;
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until none of `keys` exists any more (deletion is asynchronous: finalizers,
/// foreground propagation), or `timeout` passes.
pub async fn wait_deleted(
    applier: &Applier,
    keys: &[ObjectKey],
    default_ns: &str,
    timeout: Duration,
) -> Result<(), WaitError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pending = keys.to_vec();
    loop {
        let mut still = Vec::new();
        for key in pending {
            match applier.get(&key, default_ns).await {
                Ok(None) => {}
                // A kind no longer served (its CRD went first) has no objects left.
                Err(ApplyError::Discover { .. }) => {}
                Ok(Some(_)) => still.push(key),
                Err(e) => return Err(WaitError::Read(e)),
            }
        }
        if still.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(WaitError::TimedOut {
                timeout,
                pending: still
                    .iter()
                    .map(|k| format!("{k}: not deleted yet"))
                    .collect(),
            });
        }
        pending = still;
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mk(api_version: &str, kind: &str, spec: Value, status: Value) -> Value {
        json!({"apiVersion": api_version, "kind": kind,
               "metadata": {"name": "x", "namespace": "apps", "generation": 2},
               "spec": spec, "status": status})
    }

    fn mk_deployment(replicas: i64, updated: i64, available: i64) -> Value {
        mk(
            "apps/v1",
            "Deployment",
            json!({"replicas": replicas}),
            json!({"observedGeneration": 2, "replicas": replicas, "updatedReplicas": updated,
                   "availableReplicas": available, "readyReplicas": available}),
        )
    }

    fn mk_job(conditions: Value) -> Value {
        mk(
            "batch/v1",
            "Job",
            json!({}),
            json!({"conditions": conditions}),
        )
    }

    fn ready(v: &Value) -> bool {
        readiness(v, &WaitRules::default()) == Readiness::Ready
    }

    fn failed(v: &Value) -> bool {
        matches!(readiness(v, &WaitRules::default()), Readiness::Failed(_))
    }

    #[test]
    fn a_deployment_is_ready_when_updated_and_available() {
        assert!(ready(&mk_deployment(2, 2, 2)));
        assert!(!ready(&mk_deployment(2, 2, 0)), "not available");
        assert!(!ready(&mk_deployment(2, 1, 2)), "not updated");
        let mut stale = mk_deployment(2, 2, 2);
        stale["status"]["observedGeneration"] = json!(1);
        assert!(!ready(&stale), "generation not observed");
        let mut deadline = mk_deployment(2, 0, 0);
        deadline["status"]["conditions"] = json!([{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]);
        assert!(failed(&deadline));
    }

    #[test]
    fn statefulsets_and_daemonsets_must_be_rolled_out() {
        let sts = |ready_: i64, cur: &str, upd: &str| {
            mk(
                "apps/v1",
                "StatefulSet",
                json!({"replicas": 3}),
                json!({"observedGeneration": 2, "readyReplicas": ready_, "updatedReplicas": 3,
                       "currentRevision": cur, "updateRevision": upd}),
            )
        };
        assert!(ready(&sts(3, "r2", "r2")));
        assert!(!ready(&sts(2, "r2", "r2")));
        assert!(!ready(&sts(3, "r1", "r2")));
        let ds = |updated: i64| {
            mk(
                "apps/v1",
                "DaemonSet",
                json!({}),
                json!({"observedGeneration": 2, "desiredNumberScheduled": 2,
                       "updatedNumberScheduled": updated, "numberAvailable": 2, "numberReady": 2}),
            )
        };
        assert!(ready(&ds(2)));
        assert!(!ready(&ds(1)));
    }

    #[test]
    fn jobs_complete_or_fail_unless_waiting_for_jobs_is_off() {
        let complete = mk_job(json!([{"type": "Complete", "status": "True"}]));
        let running = mk_job(json!([]));
        let failed_job =
            mk_job(json!([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]));
        assert!(ready(&complete));
        assert!(!ready(&running));
        assert!(failed(&failed_job));
        assert_eq!(
            readiness(
                &running,
                &WaitRules {
                    skip_jobs: true,
                    ..WaitRules::default()
                }
            ),
            Readiness::Ready
        );
    }

    #[test]
    fn claims_load_balancers_and_crds() {
        assert!(ready(&mk(
            "v1",
            "PersistentVolumeClaim",
            json!({}),
            json!({"phase": "Bound"})
        )));
        assert!(!ready(&mk(
            "v1",
            "PersistentVolumeClaim",
            json!({}),
            json!({"phase": "Pending"})
        )));
        assert!(ready(&mk(
            "v1",
            "Service",
            json!({"type": "ClusterIP"}),
            json!({})
        )));
        assert!(!ready(&mk(
            "v1",
            "Service",
            json!({"type": "LoadBalancer"}),
            json!({"loadBalancer": {}})
        )));
        assert!(ready(&mk(
            "v1",
            "Service",
            json!({"type": "LoadBalancer"}),
            json!({"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}})
        )));
        let crd = |status: &str| {
            mk(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                json!({}),
                json!({"conditions": [{"type": "Established", "status": status}]}),
            )
        };
        assert!(ready(&crd("True")));
        assert!(!ready(&crd("False")));
    }

    #[test]
    fn pods_and_custom_resources() {
        let pod = |phase: &str, ready_: &str| {
            mk(
                "v1",
                "Pod",
                json!({}),
                json!({"phase": phase, "conditions": [{"type": "Ready", "status": ready_}]}),
            )
        };
        assert!(ready(&pod("Succeeded", "False")));
        assert!(ready(&pod("Running", "True")));
        assert!(!ready(&pod("Running", "False")));
        assert!(failed(&pod("Failed", "False")));
        let cr = |conditions: Value| {
            mk(
                "example.com/v1",
                "Widget",
                json!({}),
                json!({"observedGeneration": 2, "conditions": conditions}),
            )
        };
        assert!(ready(&cr(json!([]))), "no conditions: current");
        assert!(ready(&cr(json!([{"type": "Ready", "status": "True"}]))));
        assert!(!ready(&cr(json!([{"type": "Ready", "status": "False"}]))));
        assert!(failed(&cr(json!([{"type": "Stalled", "status": "True"}]))));
        assert!(ready(&mk("v1", "ConfigMap", json!(null), json!(null))));
    }

    fn mk_rules(spec: Value) -> WaitRules {
        let spec: HelmReleaseSpec = serde_json::from_value(spec).expect("a HelmRelease spec");
        WaitRules::for_release(&spec, false).expect("compiles")
    }

    fn mk_certificate(issuing: &str, ready_: &str) -> Value {
        mk(
            "cert-manager.io/v1",
            "Certificate",
            json!({}),
            json!({"observedGeneration": 2, "conditions": [
                {"type": "Issuing", "status": issuing},
                {"type": "Ready", "status": ready_}]}),
        )
    }

    #[test]
    fn health_check_exprs_judge_their_kind_in_order() {
        let rules = mk_rules(json!({"healthCheckExprs": [{
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "inProgress": "status.conditions.exists(e, e.type == 'Issuing' && e.status == 'True')",
            "failed": "status.conditions.exists(e, e.type == 'Ready' && e.status == 'False')",
            "current": "status.conditions.exists(e, e.type == 'Ready' && e.status == 'True')"}]}));
        // Issuing wins over Ready=False: inProgress is asked first.
        assert!(matches!(
            readiness(&mk_certificate("True", "False"), &rules),
            Readiness::InProgress(r) if r.contains("spec.healthCheckExprs[0].inProgress")
        ));
        assert!(matches!(
            readiness(&mk_certificate("False", "False"), &rules),
            Readiness::Failed(r) if r.contains("spec.healthCheckExprs[0].failed")
        ));
        assert_eq!(
            readiness(&mk_certificate("False", "True"), &rules),
            Readiness::Ready
        );
        // None true: in progress. Without the rule kstatus would call it ready (no Ready=False).
        let unknown = mk_certificate("False", "Unknown");
        assert!(matches!(
            readiness(&unknown, &rules),
            Readiness::InProgress(_)
        ));
        // Another version of the same group and kind is judged the same way.
        let mut v2 = mk_certificate("False", "True");
        v2["apiVersion"] = json!("cert-manager.io/v2");
        assert_eq!(readiness(&v2, &rules), Readiness::Ready);
        // The generation rule comes first.
        let mut stale = mk_certificate("False", "True");
        stale["status"]["observedGeneration"] = json!(1);
        assert!(matches!(
            readiness(&stale, &rules),
            Readiness::InProgress(_)
        ));
        // A status not written yet cannot be evaluated: in progress, saying why.
        let fresh = mk("cert-manager.io/v1", "Certificate", json!({}), Value::Null);
        let mut fresh = fresh;
        fresh.as_object_mut().map(|o| o.remove("status"));
        assert!(matches!(
            readiness(&fresh, &rules),
            Readiness::InProgress(r) if r.contains("cannot be evaluated")
        ));
    }

    #[test]
    fn the_legacy_strategy_ignores_health_checks_and_custom_resources() {
        let rules = mk_rules(
            json!({"waitStrategy": {"name": "legacy"}, "healthCheckExprs": [{
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate", "current": "false"}]}),
        );
        assert_eq!(rules.strategy, Strategy::Legacy);
        assert_eq!(
            readiness(&mk_certificate("True", "False"), &rules),
            Readiness::Ready
        );
        let poller = mk_rules(json!({"waitStrategy": {"name": "poller"}}));
        assert_eq!(poller.strategy, Strategy::Watcher);
        // A Deployment with an old replica still terminating: Helm 3 is done, kstatus is not.
        let mut rolling = mk_deployment(4, 4, 4);
        rolling["status"]["replicas"] = json!(5);
        assert_eq!(readiness(&rolling, &rules), Readiness::Ready);
        assert!(!ready(&rolling));
    }

    #[test]
    fn a_bad_health_check_expression_names_its_field() {
        let spec: HelmReleaseSpec = serde_json::from_value(json!({"healthCheckExprs": [
            {"apiVersion": "x.io/v1", "kind": "X", "current": "true"},
            {"apiVersion": "x.io/v1", "kind": "Y", "current": "true", "failed": "status.phase =="}]}))
        .expect("spec");
        let e = WaitRules::for_release(&spec, false).expect_err("syntax error");
        assert!(
            e.to_string().starts_with(
                "spec.healthCheckExprs[1].failed: invalid CEL expression `status.phase ==`"
            ),
            "{e}"
        );
    }
}
