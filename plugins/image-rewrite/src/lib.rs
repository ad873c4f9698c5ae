//! `image-rewrite`: kustomize `images` for Helm releases — point a chart's images at a mirror,
//! pin a tag or a digest — across the containers, init containers and ephemeral containers of
//! every pod template. The matching and rewriting rules live in the SDK
//! ([`capstan_sdk::ImageOverride`]) so the host's kustomize post-renderer behaves identically.

use capstan_sdk::prelude::*;
use capstan_sdk::{ImageOverride, rewrite_object_images};

/// Config of `image-rewrite`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// kustomize `images` entries, applied in order.
    pub images: Vec<ImageOverride>,
}

fn looks_like_digest(d: &str) -> bool {
    d.split_once(':').is_some_and(|(alg, hex)| {
        alg.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && alg.chars().all(|c| c.is_ascii_alphanumeric())
            && !hex.is_empty()
            && hex.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

/// Checks each entry: a `name` is required, a `digest` must look like `sha256:…`, a `newTag` must
/// not contain `:` or `@`, and an entry that changes nothing is worth a warning.
pub fn check_config(config: &Config) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    for (i, image) in config.images.iter().enumerate() {
        let at = |f: &str| format!("images[{i}].{f}");
        if image.name.is_empty() {
            diags.push(Diagnostic::error("`name` is required").at(at("name")));
        }
        if let Some(d) = image.digest.as_deref().filter(|d| !d.is_empty())
            && !looks_like_digest(d)
        {
            diags.push(
                Diagnostic::error(format!("{d:?} is not a digest like \"sha256:…\""))
                    .at(at("digest")),
            );
        }
        if let Some(t) = image.new_tag.as_deref()
            && t.contains([':', '@'])
        {
            diags.push(
                Diagnostic::error(format!(
                    "{t:?} is not a tag (put a digest in `digest`, a name in `newName`)"
                ))
                .at(at("newTag")),
            );
        }
        let empty = |s: &Option<String>| s.as_deref().is_none_or(str::is_empty);
        if empty(&image.new_name) && empty(&image.new_tag) && empty(&image.digest) {
            diags.push(
                Diagnostic::warning("sets none of `newName`, `newTag`, `digest`: changes nothing")
                    .at(format!("images[{i}]")),
            );
        }
    }
    diags
}

/// Rewrites matching images in every pod template.
pub fn transform(_ctx: &Context, config: Config, mut objects: Vec<Object>) -> Result<Output> {
    let errors: Vec<Diagnostic> = check_config(&config)
        .into_iter()
        .filter(Diagnostic::is_error)
        .collect();
    if !errors.is_empty() {
        return Err(Error::BadConfig(errors));
    }
    for obj in &mut objects {
        rewrite_object_images(obj, &config.images);
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

    fn mk_sts() -> Object {
        mk_obj(json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
            "spec": {"template": {"spec": {
                "initContainers": [{"name": "init", "image": "docker.io/library/busybox:1.35"}],
                "containers": [
                    {"name": "db", "image": "postgres:15"},
                    {"name": "exporter", "image": "quay.io/prometheuscommunity/postgres-exporter:v0.15.0"}
                ]
            }}}
        }))
    }

    fn run(config: Value, objects: Vec<Object>) -> Vec<Object> {
        let config: Config = serde_json::from_value(config).expect("config parses");
        transform(&Context::default(), config, objects)
            .expect("transform succeeds")
            .objects
    }

    #[test]
    fn rewrites_names_tags_and_digests() {
        let out = run(
            json!({"images": [
                {"name": "postgres", "newName": "mirror.local:5000/postgres", "newTag": "16.2"},
                {"name": "docker.io/library/busybox", "digest": "sha256:abcdef"},
                {"name": "quay.io/prometheuscommunity/postgres-exporter", "newName": "mirror.local:5000/postgres-exporter"}
            ]}),
            vec![mk_sts()],
        );
        let spec = out[0].pointer("/spec/template/spec").expect("spec");
        assert_eq!(
            spec["containers"][0]["image"],
            json!("mirror.local:5000/postgres:16.2")
        );
        assert_eq!(
            spec["containers"][1]["image"],
            json!("mirror.local:5000/postgres-exporter:v0.15.0")
        );
        assert_eq!(
            spec["initContainers"][0]["image"],
            json!("docker.io/library/busybox@sha256:abcdef")
        );
    }

    #[test]
    fn leaves_non_matching_and_non_workloads_alone() {
        let cm = mk_obj(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"image": "postgres:15"}}),
        );
        let out = run(
            json!({"images": [{"name": "busybox", "newTag": "2"}, {"name": "postgres", "newTag": "16"}]}),
            vec![mk_sts(), cm.clone()],
        );
        let spec = out[0].pointer("/spec/template/spec").expect("spec");
        // `busybox` does not match `docker.io/library/busybox`: names are compared whole.
        assert_eq!(
            spec["initContainers"][0]["image"],
            json!("docker.io/library/busybox:1.35")
        );
        assert_eq!(spec["containers"][0]["image"], json!("postgres:16"));
        assert_eq!(out[1], cm);
    }

    #[test]
    fn validation() {
        let diags = (NATIVE.validate_config)(
            r#"{"images": [{"name": "", "newTag": "a:b"}, {"name": "x", "digest": "abc"}, {"name": "y"}]}"#,
        );
        let got: Vec<(String, bool)> = diags
            .iter()
            .map(|d| (d.field.clone().unwrap_or_default(), d.is_error()))
            .collect();
        assert_eq!(
            got,
            [
                ("images[0].name".to_owned(), true),
                ("images[0].newTag".to_owned(), true),
                ("images[1].digest".to_owned(), true),
                ("images[2]".to_owned(), false),
            ]
        );
        let diags = (NATIVE.validate_config)(r#"{"images": [{"name": "x", "tag": "1"}]}"#);
        assert!(
            diags[0].message.contains("unknown field `tag`"),
            "{}",
            diags[0].message
        );
        let err = (NATIVE.transform)(&Context::default(), r#"{"images": [{"newTag": "1"}]}"#, &[])
            .expect_err("no name");
        assert!(matches!(err, TransformError::BadConfig(_)));
        // A warning alone does not stop the transform.
        assert!(
            (NATIVE.transform)(&Context::default(), r#"{"images": [{"name": "y"}]}"#, &[]).is_ok()
        );
    }
}
