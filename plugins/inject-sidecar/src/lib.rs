//! `inject-sidecar`: adds a container — and the volumes and init containers it needs — to the pod
//! template of every selected workload, e.g. a log shipper or a proxy the chart does not offer.
//! It is idempotent: a pod that already has a container, volume or init container of the same
//! name keeps its own, so running it twice (or on a chart that already ships the sidecar) changes
//! nothing.

use capstan_sdk::append_missing_by_name;
use capstan_sdk::prelude::*;
use capstan_sdk::serde_json::Map;

/// Config of `inject-sidecar`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// The container to add (a Kubernetes `Container`; needs `name` and `image`).
    pub container: Option<Map<String, Value>>,
    /// Volumes to add to the pod spec (each needs `name`).
    pub volumes: Vec<Map<String, Value>>,
    /// Init containers to add (each needs `name` and `image`).
    pub init_containers: Vec<Map<String, Value>>,
    /// Which workloads to change; every object with a pod template if missing.
    pub target: Option<Target>,
}

fn non_empty_str<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn check_container(c: &Map<String, Value>, field: &str, diags: &mut Vec<Diagnostic>) {
    for key in ["name", "image"] {
        if non_empty_str(c, key).is_none() {
            diags.push(
                Diagnostic::error(format!("a container needs a non-empty string `{key}`"))
                    .at(format!("{field}.{key}")),
            );
        }
    }
}

/// Checks that the container (and every init container) has a name and an image, and every
/// volume a name.
pub fn check_config(config: &Config) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    match &config.container {
        Some(c) => check_container(c, "container", &mut diags),
        None => diags.push(Diagnostic::error("`container` is required").at("container")),
    }
    for (i, c) in config.init_containers.iter().enumerate() {
        check_container(c, &format!("initContainers[{i}]"), &mut diags);
    }
    for (i, v) in config.volumes.iter().enumerate() {
        if non_empty_str(v, "name").is_none() {
            diags.push(
                Diagnostic::error("a volume needs a non-empty string `name`")
                    .at(format!("volumes[{i}].name")),
            );
        }
    }
    diags
}

/// Injects the configured container, volumes and init containers into every selected pod
/// template.
pub fn transform(ctx: &Context, config: Config, mut objects: Vec<Object>) -> Result<Output> {
    let problems = check_config(&config);
    if !problems.is_empty() {
        return Err(Error::BadConfig(problems));
    }
    let container = config.container.unwrap_or_default();
    let mut diagnostics = Vec::new();
    for obj in &mut objects {
        if !capstan_sdk::is_selected(config.target.as_ref(), obj, &ctx.release_namespace) {
            continue;
        }
        let object_ref = obj.object_ref();
        let lists = [
            ("containers", std::slice::from_ref(&container)),
            ("initContainers", &config.init_containers[..]),
            ("volumes", &config.volumes[..]),
        ];
        let Some((spec_path, added)) = append_missing_by_name(obj, &lists) else {
            continue;
        };
        if added[0] == 0 {
            diagnostics.push(
                Diagnostic::info(format!(
                    "already has a container named {:?}; left as it is",
                    non_empty_str(&container, "name").unwrap_or("")
                ))
                .on_ref(object_ref)
                .at(format!("{spec_path}.containers")),
            );
        }
    }
    Ok(Output::new(objects).with_diagnostics(diagnostics))
}

capstan_sdk::export_transform!(
    Config,
    transform,
    validate = check_config,
    per_object = true
);

#[cfg(test)]
mod tests {
    use capstan_sdk::{TransformError, serde_json};

    use super::*;

    fn mk_obj(v: Value) -> Object {
        Object::from_value(v).expect("test object is a map")
    }

    fn mk_deploy(name: &str, containers: Value) -> Object {
        mk_obj(json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"template": {"spec": {"containers": containers}}}
        }))
    }

    fn mk_config() -> Value {
        json!({
            "container": {"name": "proxy", "image": "envoy:1.30", "volumeMounts": [{"name": "cfg", "mountPath": "/etc/envoy"}]},
            "volumes": [{"name": "cfg", "configMap": {"name": "envoy"}}],
            "initContainers": [{"name": "init-net", "image": "busybox:1.36"}]
        })
    }

    fn run(config: Value, objects: Vec<Object>) -> Output {
        let config: Config = serde_json::from_value(config).expect("config parses");
        transform(&Context::default(), config, objects).expect("transform succeeds")
    }

    #[test]
    fn injects_container_volume_and_init_container() {
        let out = run(
            mk_config(),
            vec![mk_deploy("web", json!([{"name": "app", "image": "app:1"}]))],
        );
        let spec = out.objects[0]
            .pointer("/spec/template/spec")
            .expect("pod spec");
        assert_eq!(spec["containers"][1]["name"], json!("proxy"));
        assert_eq!(spec["containers"][0]["name"], json!("app"));
        assert_eq!(
            spec["volumes"],
            json!([{"name": "cfg", "configMap": {"name": "envoy"}}])
        );
        assert_eq!(spec["initContainers"][0]["name"], json!("init-net"));
        assert!(out.diagnostics.is_empty());
    }

    #[test]
    fn running_twice_changes_nothing() {
        let once = run(
            mk_config(),
            vec![mk_deploy("web", json!([{"name": "app"}]))],
        );
        let twice = run(mk_config(), once.objects.clone());
        assert_eq!(once.objects, twice.objects);
        assert_eq!(twice.diagnostics.len(), 1);
        assert_eq!(
            twice.diagnostics[0].field.as_deref(),
            Some("spec.template.spec.containers")
        );
    }

    #[test]
    fn keeps_existing_entries_of_the_same_name() {
        let mut obj = mk_deploy("web", json!([{"name": "proxy", "image": "mine:1"}]));
        obj.pointer_mut("/spec/template/spec")
            .and_then(Value::as_object_mut)
            .expect("pod spec")
            .insert("volumes".into(), json!([{"name": "cfg", "emptyDir": {}}]));
        let out = run(mk_config(), vec![obj]);
        let spec = out.objects[0]
            .pointer("/spec/template/spec")
            .expect("pod spec");
        assert_eq!(
            spec["containers"],
            json!([{"name": "proxy", "image": "mine:1"}])
        );
        assert_eq!(spec["volumes"], json!([{"name": "cfg", "emptyDir": {}}]));
        assert_eq!(spec["initContainers"][0]["name"], json!("init-net"));
    }

    #[test]
    fn only_targeted_pod_templates_and_nothing_else() {
        let cm =
            mk_obj(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}));
        let cronjob = mk_obj(json!({
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "job"}]}}}}}
        }));
        let config = json!({"container": {"name": "proxy", "image": "envoy"}, "target": {"kind": "CronJob|ConfigMap"}});
        let out = run(
            config,
            vec![cm.clone(), mk_deploy("web", json!([])), cronjob],
        );
        assert_eq!(out.objects[0], cm);
        assert_eq!(
            out.objects[1].pointer("/spec/template/spec/containers"),
            Some(&json!([]))
        );
        assert_eq!(
            out.objects[2].pointer("/spec/jobTemplate/spec/template/spec/containers/1/name"),
            Some(&json!("proxy"))
        );
        // No volumes or init containers configured: no empty lists appear.
        assert_eq!(
            out.objects[2].pointer("/spec/jobTemplate/spec/template/spec/volumes"),
            None
        );
    }

    #[test]
    fn validator_requires_name_and_image() {
        let diags = (NATIVE.validate_config)(
            r#"{"container": {"name": "x"}, "volumes": [{}], "initContainers": [{"image": "i"}]}"#,
        );
        let fields: Vec<_> = diags.iter().filter_map(|d| d.field.as_deref()).collect();
        assert_eq!(
            fields,
            [
                "container.image",
                "initContainers[0].name",
                "volumes[0].name"
            ]
        );
        let diags = (NATIVE.validate_config)("null");
        assert_eq!(diags[0].field.as_deref(), Some("container"));
        let err = (NATIVE.transform)(&Context::default(), "{}", &[]).expect_err("no container");
        assert!(matches!(err, TransformError::BadConfig(_)));
    }
}
