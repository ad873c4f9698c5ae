//! `policy-patch`: fixes what a chart gets wrong and refuses what must not run. It first applies
//! JSON6902 and JSON merge patches to targeted objects (the Flux `patches` idea without a
//! Kustomization), then checks every pod template for risky settings — privileged containers,
//! `hostPath` volumes, missing resource limits, floating images, `runAsNonRoot` unset — each
//! configurable to deny (an error diagnostic: nothing is applied), warn, or be off. Every finding
//! names the object and the exact field.

use capstan_sdk::prelude::*;
use capstan_sdk::serde_json::Map;
use capstan_sdk::{
    ContainerKind, ContainerRef, PatchOperation, PodTemplateRef, apply_json_patch,
    apply_merge_patch, is_selected, split_image,
};

/// Config of `policy-patch`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// Patches, applied in order before the checks.
    pub patches: Vec<PatchSpec>,
    /// What each check does.
    pub checks: Checks,
}

/// One patch and the objects it applies to. Exactly one of `patch` and `merge` is set.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct PatchSpec {
    /// Which objects to patch; all objects if missing.
    pub target: Option<Target>,
    /// An RFC 6902 JSON patch (a list of operations).
    pub patch: Option<Vec<PatchOperation>>,
    /// An RFC 7386 JSON merge patch.
    pub merge: Option<Map<String, Value>>,
}

/// What a check does when it finds something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Report an error: the release is denied.
    Deny,
    /// Report a warning.
    Warn,
    /// Do not check.
    Off,
}

impl Action {
    fn severity(self) -> Option<Severity> {
        match self {
            Action::Deny => Some(Severity::Error),
            Action::Warn => Some(Severity::Warning),
            Action::Off => None,
        }
    }
}

/// The action of each check. Defaults: `privileged: deny`, everything else `warn`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Checks {
    /// A container with `securityContext.privileged: true`.
    pub privileged: Action,
    /// A pod volume of type `hostPath`.
    pub host_path: Action,
    /// A container (or init container) without `resources.limits.cpu` / `.memory`.
    pub resource_limits: Action,
    /// An image with the `latest` tag or with neither tag nor digest.
    pub latest_image: Action,
    /// A container whose effective `runAsNonRoot` (its own, else the pod's) is not `true`.
    pub run_as_non_root: Action,
    /// Which objects are checked; all objects with a pod template if missing.
    pub target: Option<Target>,
}

impl Default for Checks {
    fn default() -> Self {
        Checks {
            privileged: Action::Deny,
            host_path: Action::Warn,
            resource_limits: Action::Warn,
            latest_image: Action::Warn,
            run_as_non_root: Action::Warn,
            target: None,
        }
    }
}

/// Checks that each patch entry has exactly one of `patch` and `merge`.
pub fn check_config(config: &Config) -> Vec<Diagnostic> {
    config
        .patches
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match (&p.patch, &p.merge) {
            (Some(_), None) | (None, Some(_)) => None,
            (None, None) => Some(
                Diagnostic::error("set one of `patch` (JSON6902 operations) or `merge`")
                    .at(format!("patches[{i}]")),
            ),
            (Some(_), Some(_)) => Some(
                Diagnostic::error("set only one of `patch` and `merge`")
                    .at(format!("patches[{i}]")),
            ),
        })
        .collect()
}

/// Applies the patches, then runs the checks.
pub fn transform(ctx: &Context, config: Config, mut objects: Vec<Object>) -> Result<Output> {
    let problems = check_config(&config);
    if !problems.is_empty() {
        return Err(Error::BadConfig(problems));
    }
    for (i, spec) in config.patches.iter().enumerate() {
        for obj in objects.iter_mut() {
            if !is_selected(spec.target.as_ref(), obj, &ctx.release_namespace) {
                continue;
            }
            let result = match (&spec.patch, &spec.merge) {
                (Some(ops), _) => apply_json_patch(obj, ops),
                (None, Some(merge)) => apply_merge_patch(obj, &Value::Object(merge.clone())),
                (None, None) => Ok(()),
            };
            result.map_err(|e| {
                Error::failed(format!(
                    "patches[{i}] cannot be applied to {}: {e}",
                    obj.object_ref()
                ))
            })?;
        }
    }
    let mut diagnostics = Vec::new();
    for obj in &objects {
        if !is_selected(config.checks.target.as_ref(), obj, &ctx.release_namespace) {
            continue;
        }
        if let Some(template) = pod_template(obj) {
            check_template(&config.checks, template, &mut |d: Diagnostic| {
                diagnostics.push(d.on(obj));
            });
        }
    }
    Ok(Output::new(objects).with_diagnostics(diagnostics))
}

fn bool_at(map: &Map<String, Value>, a: &str, b: &str) -> Option<bool> {
    map.get(a)?.get(b)?.as_bool()
}

fn check_template(checks: &Checks, t: PodTemplateRef<'_>, report: &mut dyn FnMut(Diagnostic)) {
    let mut emit = |action: Action, field: String, message: String| {
        if let Some(severity) = action.severity() {
            report(Diagnostic::new(severity, message).at(field));
        }
    };
    let spec_path = t.spec_path();
    let pod_non_root = t
        .spec()
        .and_then(|s| bool_at(s, "securityContext", "runAsNonRoot"));

    if let Some(volumes) = t
        .spec()
        .and_then(|s| s.get("volumes"))
        .and_then(Value::as_array)
    {
        for (i, v) in volumes.iter().enumerate() {
            if let Some(host) = v.get("hostPath") {
                let name = v.get("name").and_then(Value::as_str).unwrap_or("");
                let path = host.get("path").and_then(Value::as_str).unwrap_or("");
                emit(
                    checks.host_path,
                    format!("{spec_path}.volumes[{i}].hostPath"),
                    format!("volume {name:?} mounts the host path {path:?}"),
                );
            }
        }
    }

    for c in t.containers() {
        check_container(checks, &c, pod_non_root, &mut emit);
    }
}

fn check_container(
    checks: &Checks,
    c: &ContainerRef<'_>,
    pod_non_root: Option<bool>,
    emit: &mut impl FnMut(Action, String, String),
) {
    let path = c.path();
    let name = c.name();
    let what = match c.kind {
        ContainerKind::Container => "container",
        ContainerKind::InitContainer => "init container",
        ContainerKind::EphemeralContainer => "ephemeral container",
    };

    if bool_at(c.container, "securityContext", "privileged") == Some(true) {
        emit(
            checks.privileged,
            format!("{path}.securityContext.privileged"),
            format!("{what} {name:?} runs privileged"),
        );
    }

    // Ephemeral containers may not set resources, so only the other two kinds are checked.
    if c.kind != ContainerKind::EphemeralContainer {
        for resource in ["cpu", "memory"] {
            let set = c
                .container
                .get("resources")
                .and_then(|r| r.get("limits"))
                .and_then(|l| l.get(resource))
                .is_some_and(|v| !v.is_null());
            if !set {
                emit(
                    checks.resource_limits,
                    format!("{path}.resources.limits.{resource}"),
                    format!("{what} {name:?} has no {resource} limit"),
                );
            }
        }
    }

    if let Some(image) = c.image() {
        let r = split_image(image);
        if r.is_floating() {
            let why = if r.tag.is_some() {
                "uses the floating tag :latest"
            } else {
                "has neither a tag nor a digest"
            };
            emit(
                checks.latest_image,
                format!("{path}.image"),
                format!("{what} {name:?}: image {image:?} {why}"),
            );
        }
    }

    let effective = bool_at(c.container, "securityContext", "runAsNonRoot").or(pod_non_root);
    if effective != Some(true) {
        emit(
            checks.run_as_non_root,
            format!("{path}.securityContext.runAsNonRoot"),
            format!(
                "{what} {name:?} may run as root: runAsNonRoot is not true in its or the pod's securityContext"
            ),
        );
    }
}

capstan_sdk::export_transform!(Config, transform, validate = check_config);

#[cfg(test)]
mod tests {
    use capstan_sdk::{TransformError, serde_json};

    use super::*;

    fn mk_obj(v: Value) -> Object {
        Object::from_value(v).expect("test object is a map")
    }

    /// A Deployment that passes every check.
    fn mk_clean_deploy(name: &str) -> Object {
        mk_obj(json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "prod"},
            "spec": {"replicas": 1, "template": {"spec": {
                "securityContext": {"runAsNonRoot": true},
                "containers": [{
                    "name": "app", "image": "app:1.0",
                    "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}
                }]
            }}}
        }))
    }

    fn run(config: Value, objects: Vec<Object>) -> Result<Output> {
        let config: Config = serde_json::from_value(config).expect("config parses");
        transform(&Context::default(), config, objects)
    }

    fn fields(out: &Output, severity: Severity) -> Vec<String> {
        out.diagnostics
            .iter()
            .filter(|d| d.severity == severity)
            .filter_map(|d| d.field.clone())
            .collect()
    }

    #[test]
    fn clean_workload_passes() {
        let out = run(json!({}), vec![mk_clean_deploy("web")]).expect("runs");
        assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    }

    #[test]
    fn privileged_is_denied_with_exact_field() {
        let mut obj = mk_clean_deploy("web");
        let containers = obj
            .pointer_mut("/spec/template/spec/containers")
            .and_then(Value::as_array_mut)
            .expect("containers");
        containers.push(json!({
            "name": "priv", "image": "tool@sha256:abc",
            "securityContext": {"privileged": true},
            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}
        }));
        let out = run(json!({}), vec![obj]).expect("runs");
        assert_eq!(
            fields(&out, Severity::Error),
            ["spec.template.spec.containers[1].securityContext.privileged"]
        );
        let d = &out.diagnostics[0];
        assert_eq!(
            d.object.as_ref().map(ToString::to_string).as_deref(),
            Some("Deployment/prod/web")
        );
        assert!(d.to_string().contains("runs privileged"), "{d}");
    }

    #[test]
    fn every_check_fires_on_a_bad_cronjob() {
        let cron = mk_obj(json!({
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {
                "volumes": [{"name": "logs", "hostPath": {"path": "/var/log"}}],
                "initContainers": [{"name": "init", "image": "busybox:latest",
                    "securityContext": {"runAsNonRoot": true},
                    "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}],
                "containers": [{"name": "job", "image": "job",
                    "resources": {"limits": {"memory": "1Gi"}}}]
            }}}}}
        }));
        let out = run(json!({}), vec![cron]).expect("runs");
        let p = "spec.jobTemplate.spec.template.spec";
        assert_eq!(
            fields(&out, Severity::Warning),
            [
                format!("{p}.volumes[0].hostPath"),
                format!("{p}.containers[0].resources.limits.cpu"),
                format!("{p}.containers[0].image"),
                format!("{p}.containers[0].securityContext.runAsNonRoot"),
                format!("{p}.initContainers[0].image"),
            ]
        );
        assert!(fields(&out, Severity::Error).is_empty());
    }

    #[test]
    fn actions_are_configurable() {
        let mut obj = mk_clean_deploy("web");
        obj.pointer_mut("/spec/template/spec/containers/0")
            .and_then(Value::as_object_mut)
            .expect("container")
            .insert("image".into(), json!("app:latest"));
        let out = run(
            json!({"checks": {"latestImage": "deny"}}),
            vec![obj.clone()],
        )
        .expect("runs");
        assert_eq!(
            fields(&out, Severity::Error),
            ["spec.template.spec.containers[0].image"]
        );
        let out = run(json!({"checks": {"latestImage": "off"}}), vec![obj.clone()]).expect("runs");
        assert!(out.diagnostics.is_empty());
        let out = run(json!({"checks": {"target": {"name": "other"}}}), vec![obj]).expect("runs");
        assert!(
            out.diagnostics.is_empty(),
            "untargeted objects are not checked"
        );
    }

    #[test]
    fn container_run_as_non_root_overrides_pod() {
        let mut obj = mk_clean_deploy("web");
        obj.pointer_mut("/spec/template/spec/containers/0")
            .and_then(Value::as_object_mut)
            .expect("container")
            .insert("securityContext".into(), json!({"runAsNonRoot": false}));
        let out = run(json!({}), vec![obj]).expect("runs");
        assert_eq!(
            fields(&out, Severity::Warning),
            ["spec.template.spec.containers[0].securityContext.runAsNonRoot"]
        );
    }

    #[test]
    fn patches_run_before_checks() {
        let mut obj = mk_clean_deploy("web");
        obj.pointer_mut("/spec/template/spec/containers/0")
            .and_then(Value::as_object_mut)
            .expect("container")
            .insert("securityContext".into(), json!({"privileged": true}));
        let config = json!({"patches": [
            {"target": {"kind": "Deployment"}, "patch": [
                {"op": "remove", "path": "/spec/template/spec/containers/0/securityContext/privileged"}
            ]},
            {"target": {"name": "web"}, "merge": {"spec": {"replicas": 3}, "metadata": {"labels": {"patched": "yes"}}}}
        ]});
        let cm =
            mk_obj(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}));
        let out = run(config, vec![obj, cm.clone()]).expect("runs");
        assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
        assert_eq!(out.objects[0].pointer("/spec/replicas"), Some(&json!(3)));
        assert_eq!(out.objects[0].label("patched"), Some("yes"));
        assert_eq!(out.objects[1], cm);
    }

    #[test]
    fn patch_failure_names_patch_object_and_op() {
        let config = json!({"patches": [{"target": {"kind": "Deployment"}, "patch": [
            {"op": "add", "path": "/spec/replicas", "value": 2},
            {"op": "replace", "path": "/spec/nope/x", "value": 1}
        ]}]});
        let err = run(config, vec![mk_clean_deploy("web")]).expect_err("bad path");
        let msg = err.to_string();
        assert!(msg.contains("patches[0]"), "{msg}");
        assert!(msg.contains("Deployment/prod/web"), "{msg}");
        assert!(msg.contains("#1 (replace /spec/nope/x)"), "{msg}");
    }

    #[test]
    fn config_checks() {
        let diags = (NATIVE.validate_config)(r#"{"patches": [{"target": {"kind": "X"}}]}"#);
        assert_eq!(diags[0].field.as_deref(), Some("patches[0]"));
        let diags = (NATIVE.validate_config)(r#"{"patches": [{"patch": [], "merge": {}}]}"#);
        assert!(diags[0].message.contains("only one"));
        let diags = (NATIVE.validate_config)(r#"{"checks": {"privileged": "maybe"}}"#);
        assert_eq!(diags[0].field.as_deref(), Some("checks.privileged"));
        let diags =
            (NATIVE.validate_config)(r#"{"patches": [{"patch": [{"op": "frob", "path": "/a"}]}]}"#);
        assert_eq!(diags[0].field.as_deref(), Some("patches[0].patch[0].op"));
        let err = (NATIVE.transform)(&Context::default(), r#"{"patches": [{}]}"#, &[])
            .expect_err("empty patch entry");
        assert!(matches!(err, TransformError::BadConfig(_)));
    }
}
