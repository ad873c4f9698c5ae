//! `set-labels`: adds labels and annotations to the metadata of selected objects and, with
//! `podTemplates: true`, to their pod templates, so every pod a release creates carries e.g. the
//! team or cost-centre label. Selectors (`spec.selector`, `matchLabels`, a Service's
//! `spec.selector`) are never touched: changing them would orphan existing pods or make a
//! Deployment update fail on its immutable selector.

use std::collections::BTreeMap;

use capstan_sdk::prelude::*;
use capstan_sdk::{validate_label_key, validate_label_value};

/// Config of `set-labels`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// Labels to set (configured values win over existing ones).
    pub labels: BTreeMap<String, String>,
    /// Annotations to set (configured values win over existing ones).
    pub annotations: BTreeMap<String, String>,
    /// Also set them on pod templates (`spec.template.metadata`, …) of workloads.
    pub pod_templates: bool,
    /// Which objects to change; all objects if missing.
    pub target: Option<Target>,
}

/// Checks label keys and values and annotation keys the way the API server would.
pub fn check_config(config: &Config) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    for (key, value) in &config.labels {
        if let Err(why) = validate_label_key(key).and_then(|()| validate_label_value(value)) {
            diags.push(Diagnostic::error(format!("label {why}")).at(format!("labels.{key}")));
        }
    }
    for key in config.annotations.keys() {
        if let Err(why) = validate_label_key(key) {
            diags.push(
                Diagnostic::error(format!("annotation {why}")).at(format!("annotations.{key}")),
            );
        }
    }
    diags
}

/// Sets the configured labels and annotations on every selected object (and its pod template).
pub fn transform(ctx: &Context, config: Config, mut objects: Vec<Object>) -> Result<Output> {
    let problems = check_config(&config);
    if !problems.is_empty() {
        return Err(Error::BadConfig(problems));
    }
    for obj in &mut objects {
        if !capstan_sdk::is_selected(config.target.as_ref(), obj, &ctx.release_namespace) {
            continue;
        }
        obj.merge_labels(&config.labels);
        obj.merge_annotations(&config.annotations);
        // Only the template's metadata: the pod spec is never parsed (see
        // `pod_template_metadata_mut`).
        if config.pod_templates
            && let Some(mut metadata) = pod_template_metadata_mut(obj)
        {
            metadata.merge_labels(&config.labels);
            metadata.merge_annotations(&config.annotations);
        }
    }
    Ok(Output::new(objects))
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

    fn mk_deploy(name: &str) -> Object {
        mk_obj(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": []}}
            }
        }))
    }

    fn mk_service() -> Object {
        mk_obj(json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}}
        }))
    }

    fn run(config: Value, objects: Vec<Object>) -> Vec<Object> {
        let config: Config = serde_json::from_value(config).expect("config parses");
        transform(&Context::default(), config, objects)
            .expect("transform succeeds")
            .objects
    }

    #[test]
    fn labels_metadata_but_never_selectors() {
        let out = run(
            json!({"labels": {"team": "a", "app": "override"}, "annotations": {"note": "x"}}),
            vec![mk_deploy("web"), mk_service()],
        );
        assert_eq!(out[0].label("team"), Some("a"));
        assert_eq!(out[0].label("app"), Some("override"));
        assert_eq!(out[0].annotation("note"), Some("x"));
        assert_eq!(
            out[0].pointer("/spec/selector/matchLabels"),
            Some(&json!({"app": "web"}))
        );
        assert_eq!(
            out[0].pointer("/spec/template/metadata/labels"),
            Some(&json!({"app": "web"})),
            "pod templates untouched without podTemplates"
        );
        assert_eq!(out[1].label("team"), Some("a"));
        assert_eq!(
            out[1].pointer("/spec/selector"),
            Some(&json!({"app": "web"}))
        );
    }

    #[test]
    fn pod_templates_when_asked() {
        let out = run(
            json!({"labels": {"team": "a"}, "annotations": {"n": "1"}, "podTemplates": true}),
            vec![mk_deploy("web")],
        );
        assert_eq!(
            out[0].pointer("/spec/template/metadata/labels"),
            Some(&json!({"app": "web", "team": "a"}))
        );
        assert_eq!(
            out[0].pointer("/spec/template/metadata/annotations"),
            Some(&json!({"n": "1"}))
        );
        assert_eq!(
            out[0].pointer("/spec/selector/matchLabels"),
            Some(&json!({"app": "web"}))
        );
    }

    #[test]
    fn target_limits_the_objects() {
        let out = run(
            json!({"labels": {"team": "a"}, "target": {"kind": "Deployment", "name": "api|web"}}),
            vec![mk_deploy("web"), mk_deploy("worker"), mk_service()],
        );
        assert_eq!(out[0].label("team"), Some("a"));
        assert_eq!(out[1].label("team"), None);
        assert_eq!(out[2].label("team"), None);
    }

    #[test]
    fn objects_without_namespace_are_in_the_release_namespace() {
        let ctx = Context {
            release_namespace: "shop".into(),
            ..Context::default()
        };
        let mut other = mk_service();
        other
            .metadata_mut()
            .insert("namespace".into(), json!("other"));
        let config: Config = serde_json::from_value(
            json!({"labels": {"team": "a"}, "target": {"namespace": "shop"}}),
        )
        .expect("config parses");
        let out = transform(&ctx, config, vec![mk_deploy("web"), other])
            .expect("transform succeeds")
            .objects;
        assert_eq!(out[0].label("team"), Some("a"));
        assert_eq!(out[1].label("team"), None);
    }

    #[test]
    fn no_annotations_configured_adds_no_empty_map() {
        let out = run(json!({"labels": {"team": "a"}}), vec![mk_service()]);
        assert!(out[0].annotations().is_none());
    }

    #[test]
    fn native_entry_point_validates_config() {
        let diags = (NATIVE.validate_config)(r#"{"labels": {"bad key!": "x"}}"#);
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].field.as_deref(), Some("labels.bad key!"));
        let diags = (NATIVE.validate_config)(r#"{"target": {"name": "("}}"#);
        assert_eq!(diags[0].field.as_deref(), Some("target.name"));
        assert!((NATIVE.validate_config)(r#"{"labels": {"a": "b"}}"#).is_empty());

        let err = (NATIVE.transform)(
            &Context::default(),
            r#"{"labels": {"x": "not valid!"}}"#,
            &[r#"{"kind": "ConfigMap"}"#.to_owned()],
        )
        .expect_err("bad label value");
        assert!(matches!(err, TransformError::BadConfig(_)), "{err}");
        assert!(err.to_string().contains("config.labels.x"), "{err}");
    }

    #[test]
    fn native_entry_point_round_trips() {
        let out = (NATIVE.transform)(
            &Context::default(),
            r#"{"labels": {"team": "a"}}"#,
            &[r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}"#.to_owned()],
        )
        .expect("runs");
        let obj: Value = serde_json::from_str(&out.objects[0]).expect("json");
        assert_eq!(obj["metadata"]["labels"], json!({"team": "a"}));
    }
}
